#include "engine/serve/pages.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cstdio>

#include "engine/history/history.hpp"
#include "engine/report/dora.hpp"
#include "engine/report/tables.hpp"
#include "engine/serve/access.hpp"

namespace promote::serve::pages {

using nlohmann::json;

namespace {

// Text from anyone, escaped for an element or an attribute (on one line).
std::string esc(const std::string& text) {
  return report::html_escape(text);
}

std::string esc(const json& value) {
  return esc(value.is_string() ? value.get<std::string>() : value.is_null() ? "" : value.dump());
}

// A path segment or query value, percent-encoded.
std::string url_part(const std::string& text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

std::string text_of(const json& value, const char* key) {
  const auto found = value.find(key);
  return found != value.end() && found->is_string() ? found->get<std::string>() : "";
}

// A time as a person reads it, with its machine-readable value: "2026-12-07 20:31 UTC".
std::string time_element(const std::string& rfc3339, const std::string& attributes = "",
                         const std::string& shown = "") {
  if (rfc3339.empty()) {
    return "<span>never</span>";
  }
  std::string text = shown;
  if (text.empty()) {
    text = rfc3339.substr(0, 16);
    if (text.size() == 16) {
      text[10] = ' ';
    }
    text += " UTC";
  }
  return "<time datetime=\"" + esc(rfc3339) + "\"" + attributes + ">" + esc(text) + "</time>";
}

// A countdown to `rfc3339`, written out for now and kept live by the script.
std::string countdown(const std::string& rfc3339, TimePoint now) {
  auto at = history::parse_time(rfc3339);
  if (!at) {
    return esc(rfc3339);
  }
  return time_element(rfc3339, " data-countdown", relative(*at, now));
}

std::string status_badge(const std::string& status) {
  return "<span class=\"badge s-" + esc(status) + "\">" + esc(status) + "</span>";
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

// "api=1.4.2" per image of a candidate or record ({"api": "ghcr.io/acme/api:1.4.2"}).
std::string images_list(const json& images) {
  if (!images.is_object() || images.empty()) {
    return "<span class=\"muted\">no images</span>";
  }
  std::string out = "<ul class=\"plain\">";
  for (const auto& [name, reference] : images.items()) {
    const std::string value =
        reference.is_string() ? reference.get<std::string>() : reference.dump();
    out += "<li><span class=\"name\">" + esc(name) + "</span> <code title=\"" + esc(value) + "\">" +
           esc(report::short_reference(value)) + "</code></li>";
  }
  return out + "</ul>";
}

std::string name_values(const json& values, const char* empty) {
  if (!values.is_object() || values.empty()) {
    return "<span class=\"muted\">" + std::string(empty) + "</span>";
  }
  std::string out = "<ul class=\"plain\">";
  for (const auto& [name, value] : values.items()) {
    out += "<li><span class=\"name\">" + esc(name) + "</span> <code>" + esc(value) + "</code></li>";
  }
  return out + "</ul>";
}

std::string head(const std::string& title, const Viewer& viewer) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"color-scheme\" content=\"light dark\">\n<title>" +
      esc(title) +
      " · promote</title>\n<link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\">\n"
      "<link rel=\"stylesheet\" href=\"/static/app.css\">\n"
      "<script src=\"/static/app.js\" defer></script>\n</head>\n<body>\n"
      "<a class=\"skip\" href=\"#main\">Skip to the content</a>\n"
      "<header class=\"top\"><nav aria-label=\"Site\"><a class=\"brand\" href=\"/\">promote</a> "
      "<a href=\"/\">Pipelines</a></nav><div class=\"who\">";
  if (!viewer.actor.empty()) {
    out += "Signed in as <strong>" + esc(viewer.actor) + "</strong>";
    if (!viewer.proxied) {
      out +=
          " <form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" "
          "name=\"csrf\" value=\"" +
          esc(viewer.csrf) + "\"><button type=\"submit\" class=\"link\">Sign out</button></form>";
    }
  } else if (viewer.sign_in) {
    out += "<a href=\"/login\">Sign in</a>";
  } else {
    out += "<span class=\"muted\">Read only</span>";
  }
  return out + "</div></header>\n<main id=\"main\">\n";
}

std::string foot() {
  return "</main>\n<p id=\"live\" class=\"visually-hidden\" role=\"status\" "
         "aria-live=\"polite\"></p>\n</body>\n</html>\n";
}

// The verdicts a stage shows: the loop's last evaluation when it made one, else the last
// recorded attempt's; with where they come from.
std::string gates_of(const json& stage, TimePoint now) {
  const json* verdicts = nullptr;
  std::string source;  // HTML
  const json& automatic = stage.value("auto", json());
  const json& last = stage.value("last", json());
  if (automatic.is_object() && automatic.contains("gates") && !automatic["gates"].empty()) {
    verdicts = &automatic["gates"];
    source = "the service&#39;s last evaluation, " + time_element(text_of(automatic, "last"));
  } else if (last.is_object()) {
    verdicts = &last["gates"];
    source = "attempt " + esc(short_id(text_of(last, "id"))) + ", " +
             time_element(text_of(last, "finished"));
  }
  std::string out = "<h4>Gates</h4>";
  if (stage["gates"].empty()) {
    return out + "<p class=\"muted\">No gates.</p>";
  }
  out += "<ul class=\"gates\">";
  for (const auto& spec : stage["gates"]) {
    const std::string name = text_of(spec, "name");
    const json* verdict = nullptr;
    if (verdicts != nullptr) {
      for (const auto& candidate : *verdicts) {
        if (text_of(candidate, "name") == name) {
          verdict = &candidate;
        }
      }
    }
    out += "<li class=\"gate\">";
    out += verdict ? status_badge(text_of(*verdict, "status")) : status_badge("not evaluated");
    out += " <span class=\"name\">" + esc(name) + "</span>";
    if (text_of(spec, "use") != name) {
      out += " <span class=\"muted\">(" + esc(text_of(spec, "use")) + ")</span>";
    }
    if (verdict != nullptr) {
      if (const std::string summary = text_of(*verdict, "summary"); !summary.empty()) {
        out += "<div class=\"summary\">" + esc(summary) + "</div>";
      }
      if (const std::string retry = text_of(*verdict, "retry_at"); !retry.empty()) {
        out += "<div class=\"retry\">Looks again " + countdown(retry, now) + "</div>";
      }
    }
    out += "</li>";
  }
  out += "</ul>";
  if (!source.empty()) {
    out += "<p class=\"source muted\">Verdicts of " + source + "</p>";
  }
  return out;
}

// The forms of the commands `viewer` may give on `stage` of `pipeline`.
std::string commands_of(const std::string& pipeline, const json& stage, const Viewer& viewer) {
  if (viewer.actor.empty()) {
    return "";
  }
  const std::string name = text_of(stage, "name");
  bool approval = false;
  for (const auto& gate : stage["gates"]) {
    approval = approval || text_of(gate, "use") == "approval";
  }
  const bool held = stage.value("hold", json()).is_object();
  const bool has_source = stage.value("from", json()).is_string();
  struct Command {
    const char* action;
    const char* label;
    bool shown;
    bool needs_reason;
  };
  const Command commands[] = {
      {"promote", "Promote", has_source && !held, false},
      {"approve", "Approve", approval, false},
      {"reject", "Reject", approval, true},
      {"hold", "Hold", !held, true},
      {"release", "Release", held, false},
      {"rollback", "Roll back", true, true},
  };
  std::string out;
  for (const Command& command : commands) {
    if (!command.shown || !allows(viewer.roles, command.action, pipeline, name)) {
      continue;
    }
    const std::string id = "reason-" + esc(name) + "-" + command.action;
    out += "<form method=\"post\" class=\"command\" action=\"/pipelines/" +
           esc(url_part(pipeline)) + "/stages/" + esc(url_part(name)) + "/" + command.action +
           "\"><input type=\"hidden\" name=\"csrf\" value=\"" + esc(viewer.csrf) +
           "\"><label for=\"" + id + "\">Reason" + (command.needs_reason ? "" : " (optional)") +
           "</label> <input type=\"text\" id=\"" + id + "\" name=\"reason\" autocomplete=\"off\"" +
           (command.needs_reason ? " required" : "") +
           "> <button type=\"submit\" name=\"action\" value=\"" + command.action + "\">" +
           command.label + " " + esc(name) + "</button></form>";
  }
  if (out.empty()) {
    return "";
  }
  return "<details class=\"commands\"><summary>Commands</summary>" + out + "</details>";
}

// One stage's column.
std::string stage_column(const std::string& pipeline, const json& stage, const Viewer& viewer,
                         TimePoint now, bool commands) {
  const std::string name = text_of(stage, "name");
  const std::string id = "stage-" + esc(pipeline) + "-" + esc(name);
  std::string out = "<li class=\"stage\" id=\"" + id + "\" data-live aria-labelledby=\"" + id +
                    "-name\"><h3 id=\"" + id + "-name\">" + esc(name);
  const json& automatic = stage.value("auto", json());
  if (automatic.is_object()) {
    out += " <span class=\"badge s-auto\">auto</span>";
  }
  const json& hold = stage.value("hold", json());
  if (hold.is_object()) {
    out += " <span class=\"badge s-held\">held</span>";
  }
  out += "</h3>";
  if (const std::string from = text_of(stage, "from"); !from.empty()) {
    out += "<p class=\"muted\">takes from " + esc(from) + "</p>";
  }
  if (hold.is_object()) {
    out += "<p class=\"hold\">Held by " + esc(text_of(hold, "actor")) + " since " +
           time_element(text_of(hold, "at")) + ": " + esc(text_of(hold, "reason")) + "</p>";
  }
  const json& candidate = stage.value("candidate", json());
  out += "<dl>";
  if (candidate.is_object()) {
    out += "<dt>Candidate</dt><dd><code title=\"" + esc(text_of(candidate, "id")) + "\">" +
           esc(short_id(text_of(candidate, "id"))) + "</code>" + images_list(candidate["images"]);
    if (candidate.contains("charts") && !candidate["charts"].empty()) {
      out += name_values(candidate["charts"], "");
    }
    out += "</dd>";
    const std::string entered = text_of(stage, "entered_at");
    out += "<dt>Since</dt><dd>" + time_element(entered) + "</dd>";
  } else {
    out += "<dt>Candidate</dt><dd class=\"problem\">" + esc(text_of(stage, "problem")) + "</dd>";
  }
  if (automatic.is_object()) {
    const std::string next = text_of(automatic, "next");
    out += "<dt>Next evaluation</dt><dd>" +
           (next.empty() ? std::string("when an image arrives") : countdown(next, now)) + "</dd>";
  }
  const json& last = stage.value("last", json());
  if (last.is_object()) {
    out += "<dt>Last attempt</dt><dd><a href=\"/promotions/" + esc(url_part(text_of(last, "id"))) +
           "\">" + esc(text_of(last, "outcome")) + ", " + time_element(text_of(last, "finished")) +
           "</a></dd>";
  }
  out += "</dl>" + gates_of(stage, now);
  if (commands) {
    out += commands_of(pipeline, stage, viewer);
  }
  return out + "</li>";
}

std::string pipeline_board(const PipelineView& view, const Viewer& viewer, TimePoint now,
                           bool commands, const char* heading) {
  const std::string id = "pipeline-" + esc(view.name);
  std::string out = "<section class=\"pipeline\" aria-labelledby=\"" + id + "\"><" + heading +
                    " id=\"" + id + "\"><a href=\"/pipelines/" + esc(url_part(view.name)) + "\">" +
                    esc(view.name) + "</a></" + heading + ">";
  if (view.document == nullptr) {
    return out + "<p class=\"problem\" id=\"" + id + "-error\" data-live>" + esc(view.error) +
           "</p></section>";
  }
  out += "<ol class=\"stages\">";
  for (const auto& stage : (*view.document)["stages"]) {
    out += stage_column(view.name, stage, viewer, now, commands);
  }
  return out + "</ol></section>";
}

}  // namespace

std::string relative(TimePoint at, TimePoint now) {
  const bool past = at < now;
  long long seconds =
      std::chrono::duration_cast<std::chrono::seconds>(past ? now - at : at - now).count();
  if (seconds == 0) {
    return "now";
  }
  char text[48];
  const long long days = seconds / 86400, hours = seconds % 86400 / 3600,
                  minutes = seconds % 3600 / 60, rest = seconds % 60;
  if (days > 0) {
    std::snprintf(text, sizeof text, "%lldd %lldh", days, hours);
  } else if (hours > 0) {
    std::snprintf(text, sizeof text, "%lldh %02lldm %02llds", hours, minutes, rest);
  } else if (minutes > 0) {
    std::snprintf(text, sizeof text, "%lldm %02llds", minutes, rest);
  } else {
    std::snprintf(text, sizeof text, "%llds", rest);
  }
  return past ? std::string(text) + " ago" : "in " + std::string(text);
}

std::string overview(const std::vector<PipelineView>& pipelines, const Viewer& viewer,
                     TimePoint now) {
  std::string out = head("Pipelines", viewer) + "<h1>Pipelines</h1>";
  if (pipelines.empty()) {
    out += "<p>No pipelines.</p>";
  }
  for (const auto& view : pipelines) {
    out += pipeline_board(view, viewer, now, false, "h2");
  }
  return out + foot();
}

std::string pipeline(const PipelineView& view, const Viewer& viewer, TimePoint now) {
  std::string out = head(view.name, viewer) + "<h1>Pipeline " + esc(view.name) + "</h1>" +
                    "<nav aria-label=\"Pipeline\" class=\"sub\"><a href=\"/pipelines/" +
                    esc(url_part(view.name)) + "/history\">History</a> <a href=\"/pipelines/" +
                    esc(url_part(view.name)) + "/report\">DORA report</a></nav>";
  if (view.document != nullptr) {
    out += "<p class=\"muted\">From " + esc(text_of(*view.document, "file")) + "</p>";
  }
  if (viewer.actor.empty() && viewer.sign_in) {
    out += "<p><a href=\"/login\">Sign in</a> to promote, approve or hold a stage.</p>";
  }
  return out + pipeline_board(view, viewer, now, true, "h2") + foot();
}

std::string history(const std::string& pipeline, const std::vector<std::string>& stages,
                    const std::map<std::string, std::string>& filter, const json& records,
                    const std::string& next, const Viewer& viewer) {
  const auto given = [&](const char* key) {
    const auto found = filter.find(key);
    return found == filter.end() ? std::string() : found->second;
  };
  const auto select = [&](const char* key, const char* label,
                          const std::vector<std::string>& values) {
    std::string out = "<label for=\"f-" + std::string(key) + "\">" + label +
                      "</label> <select id=\"f-" + key + "\" name=\"" + key +
                      "\"><option value=\"\">any</option>";
    for (const auto& value : values) {
      out += "<option" + std::string(value == given(key) ? " selected" : "") + ">" + esc(value) +
             "</option>";
    }
    return out + "</select>";
  };
  const auto input = [&](const char* key, const char* label) {
    return "<label for=\"f-" + std::string(key) + "\">" + label +
           "</label> <input type=\"text\" id=\"f-" + key + "\" name=\"" + key + "\" value=\"" +
           esc(given(key)) + "\">";
  };
  std::string out =
      head(pipeline + " history", viewer) + "<h1>History of " + esc(pipeline) +
      "</h1><form method=\"get\" class=\"filters\" role=\"search\">" +
      select("stage", "Stage", stages) +
      select("outcome", "Outcome",
             {"promoted", "proposed", "no-op", "blocked", "pending", "error", "verified"}) +
      input("actor", "Actor") + input("image", "Image") +
      "<button type=\"submit\">Filter</button></form>";
  out +=
      "<div class=\"scroll\" id=\"history\" data-live><table><caption>Attempts, newest "
      "first</caption><thead><tr><th scope=\"col\">Started</th><th scope=\"col\">Stage</th>"
      "<th scope=\"col\">Outcome</th><th scope=\"col\">Candidate</th><th scope=\"col\">Images</th>"
      "<th scope=\"col\">Actor</th><th scope=\"col\">Reason</th></tr></thead><tbody>";
  for (const auto& record : records) {
    out += "<tr><td><a href=\"/promotions/" + esc(url_part(text_of(record, "id"))) + "\">" +
           time_element(text_of(record, "started_at")) + "</a></td><td>" +
           esc(text_of(record, "stage")) + "</td><td>" + status_badge(text_of(record, "outcome")) +
           "</td><td><code>" + esc(short_id(text_of(record, "candidate_id"))) + "</code></td><td>" +
           images_list(record["images"]) + "</td><td>" + esc(text_of(record, "actor")) +
           "</td><td>" + esc(text_of(record, "reason")) + "</td></tr>";
  }
  if (records.empty()) {
    out += "<tr><td colspan=\"7\">Nothing recorded that matches.</td></tr>";
  }
  out += "</tbody></table></div>";
  if (!next.empty()) {
    std::string query;
    for (const auto& [key, value] : filter) {
      if (key != "until" && !value.empty()) {
        query += url_part(key) + "=" + url_part(value) + "&";
      }
    }
    out += "<p><a rel=\"next\" href=\"?" + esc(query + next) + "\">Older attempts</a></p>";
  }
  return out + foot();
}

std::string promotion(const json& record, const std::string& diff, const Viewer& viewer) {
  const std::string id = text_of(record, "id");
  const std::string pipeline = text_of(record, "pipeline");
  std::string out =
      head("Promotion " + short_id(id), viewer) + "<h1>" + esc(text_of(record, "outcome")) + ": " +
      esc(pipeline) + " / " + esc(text_of(record, "stage")) + "</h1><p><a href=\"/pipelines/" +
      esc(url_part(pipeline)) + "\">Back to " + esc(pipeline) + "</a></p><dl class=\"facts\">";
  const auto fact = [&](const char* label, const std::string& html) {
    if (!html.empty()) {
      out += "<dt>" + std::string(label) + "</dt><dd>" + html + "</dd>";
    }
  };
  fact("Promotion", "<code>" + esc(id) + "</code>");
  fact("Outcome", status_badge(text_of(record, "outcome")));
  fact("From", esc(text_of(record, "from")));
  fact("Candidate", "<code>" + esc(text_of(record, "candidate_id")) + "</code>");
  fact("Actor", esc(text_of(record, "actor")));
  fact("Reason", esc(text_of(record, "reason")));
  fact("Started", time_element(text_of(record, "started_at")));
  fact("Finished", time_element(text_of(record, "finished_at")));
  if (const std::string commit = text_of(record, "commit"); !commit.empty()) {
    fact("Commit", "<code>" + esc(commit) + "</code>");
  }
  if (const std::string url = text_of(record, "pull_request"); url.starts_with("https://")) {
    fact("Pull request", "<a href=\"" + esc(url) + "\" rel=\"noreferrer\">" + esc(url) + "</a>");
  }
  if (const std::string url = text_of(record, "ci_run_url"); url.starts_with("https://")) {
    fact("CI run", "<a href=\"" + esc(url) + "\" rel=\"noreferrer\">" + esc(url) + "</a>");
  }
  if (const std::string of = text_of(record, "rollback_of"); !of.empty()) {
    fact("Rollback of", "<a href=\"/promotions/" + esc(url_part(of)) + "\">" + esc(of) + "</a>");
  }
  if (const std::string error = text_of(record, "error"); !error.empty()) {
    fact("Error", "<span class=\"problem\">" + esc(error) + "</span>");
  }
  out +=
      "</dl><h2>What changed</h2><table><caption>Images</caption><thead><tr><th "
      "scope=\"col\">Image</th><th scope=\"col\">Before</th><th scope=\"col\">After</th></tr>"
      "</thead><tbody>";
  const json& images = record.value("images", json::object());
  const json& previous = record.value("previous", json::object());
  for (const auto& [name, reference] : images.items()) {
    out += "<tr><th scope=\"row\">" + esc(name) + "</th><td><code>" +
           esc(previous.contains(name) ? previous[name] : json("")) + "</code></td><td><code>" +
           esc(reference) + "</code></td></tr>";
  }
  out += "</tbody></table>";
  if (record.contains("charts") && !record["charts"].empty()) {
    out += "<h3>Charts</h3>" + name_values(record["charts"], "");
  }
  if (record.contains("carried") && !record["carried"].empty()) {
    out += "<h3>Carried files (sha256)</h3>" + name_values(record["carried"], "");
  }
  if (!diff.empty()) {
    out += "<h3>Diff of the commit</h3><pre class=\"diff\">";
    std::size_t at = 0;
    while (at < diff.size()) {
      const std::size_t end = std::min(diff.find('\n', at), diff.size());
      const std::string line = diff.substr(at, end - at);
      const char* kind = line.starts_with("+++") || line.starts_with("---") ? "file"
                         : line.starts_with("+")                            ? "add"
                         : line.starts_with("-")                            ? "del"
                         : line.starts_with("@@")                           ? "hunk"
                                                                            : "ctx";
      out += "<span class=\"d-" + std::string(kind) + "\">" + report::html_escape_block(line) +
             "</span>\n";
      at = end + 1;
    }
    out += "</pre>";
  }
  out += "<h2>Gates</h2>";
  const json& gates = record.value("gates", json::array());
  if (gates.empty()) {
    out += "<p class=\"muted\">No gate was evaluated.</p>";
  }
  for (const auto& gate : gates) {
    out += "<section class=\"gate-detail\"><h3>" + status_badge(text_of(gate, "status")) + " " +
           esc(text_of(gate, "name")) + " <span class=\"muted\">(" + esc(text_of(gate, "use")) +
           ")</span></h3><p>" + esc(text_of(gate, "summary")) + "</p>";
    if (gate.contains("details") && gate["details"].is_object() && !gate["details"].empty()) {
      out += "<details><summary>Details</summary><pre>" +
             report::html_escape_block(gate["details"].dump(2)) + "</pre></details>";
    }
    if (gate.contains("evidence") && !gate["evidence"].empty()) {
      out += "<h4>Evidence</h4><ul class=\"plain\">";
      for (const auto& item : gate["evidence"]) {
        out += "<li><code>" + esc(text_of(item, "path")) + "</code> sha256 <code>" +
               esc(text_of(item, "sha256")) + "</code></li>";
      }
      out += "</ul>";
    }
    out += "</section>";
  }
  return out + foot();
}

std::string sign_in(const Viewer& viewer, const std::string& problem) {
  std::string out = head("Sign in", viewer) + "<h1>Sign in</h1>";
  if (!problem.empty()) {
    out += "<p class=\"problem\" role=\"alert\">" + esc(problem) + "</p>";
  }
  if (!viewer.sign_in) {
    return out +
           "<p>This service has no tokens file: nobody can sign in, and every write is "
           "refused.</p>" +
           foot();
  }
  return out +
         "<form method=\"post\" action=\"/login\" class=\"stacked\"><input type=\"hidden\" "
         "name=\"csrf\" value=\"" +
         esc(viewer.csrf) +
         "\"><label for=\"token\">Your token</label><input type=\"password\" id=\"token\" "
         "name=\"token\" autocomplete=\"current-password\" required><button "
         "type=\"submit\">Sign in</button></form>" +
         foot();
}

std::string result(const std::string& heading, const std::string& message, bool ok,
                   const std::string& back, const std::string& promotion_id, const Viewer& viewer) {
  std::string out = head(heading, viewer) + "<h1>" + esc(heading) + "</h1><p class=\"" +
                    (ok ? "done" : "problem") + "\" role=\"" + (ok ? "status" : "alert") + "\">" +
                    esc(message) + "</p>";
  if (!promotion_id.empty()) {
    out += "<p><a href=\"/promotions/" + esc(url_part(promotion_id)) + "\">The promotion " +
           esc(short_id(promotion_id)) + "</a></p>";
  }
  return out + "<p><a href=\"" + esc(back) + "\">Back</a></p>" + foot();
}

std::string error(const std::string& heading, const std::string& message, const Viewer& viewer) {
  return head(heading, viewer) + "<h1>" + esc(heading) + "</h1><p class=\"problem\">" +
         esc(message) + "</p><p><a href=\"/\">All pipelines</a></p>" + foot();
}

}  // namespace promote::serve::pages
