#include "engine/report/tables.hpp"

#include <algorithm>
#include <sstream>
#include <string_view>

#include "engine/image/reference.hpp"
#include "engine/util/json.hpp"
#include "engine/util/text.hpp"

namespace promote::report {

namespace {

std::string images_text(const nlohmann::json& images) {
  std::string out;
  if (!images.is_object()) {
    return out;
  }
  for (const auto& [name, reference] : images.items()) {
    if (!out.empty()) {
      out += ' ';
    }
    out += image_cell(name, reference.is_string() ? reference.get<std::string>() : "");
  }
  return out;
}

std::string csv_field(const std::string& given) {
  // A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): an
  // actor "=HYPERLINK(...)" would be a link in an auditor's sheet. A leading ' makes it text.
  const std::string text =
      !given.empty() && std::string_view("=+-@\t\r").find(given[0]) != std::string_view::npos
          ? "'" + given
          : given;
  if (text.find_first_of(",\"\n\r") == std::string::npos) {
    return text;
  }
  std::string out = "\"";
  for (char c : text) {
    out += c;
    if (c == '"') {
      out += '"';
    }
  }
  return out + "\"";
}

// The places of a record (history::PromotionRecord::places), what is not a string as "".
std::vector<promoter::PlaceValue> places_of(const history::PromotionRecord& record) {
  std::vector<promoter::PlaceValue> out;
  if (!record.places.is_array()) {
    return out;
  }
  const auto text = [](const nlohmann::json& place, const char* key) {
    const auto found = place.find(key);
    return found != place.end() && found->is_string() ? found->get<std::string>() : "";
  };
  for (const auto& place : record.places) {
    if (place.is_object()) {
      out.push_back({text(place, "file"), text(place, "image"), text(place, "value")});
    }
  }
  return out;
}

std::string gates_text(const history::PromotionRecord& record) {
  std::string out;
  for (const auto& gate : record.gates) {
    out += (out.empty() ? "" : " ") + gate.name + "=" + gate.status;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string short_reference(const std::string& reference) {
  const auto parsed = image::parse(reference);
  if (!parsed) {
    return reference;
  }
  return parsed->repository() + (parsed->tag.empty() ? "" : ":") + parsed->version();
}

std::string places_text(const std::vector<promoter::PlaceValue>& places,
                        const std::string& indent) {
  if (places.empty()) {
    return "";
  }
  std::string out = indent + "places that disagreed before:\n";
  for (const auto& place : places) {
    out += indent + "  " + util::one_line(place.file) + ": " + util::one_line(place.image) + " " +
           util::one_line(short_reference(place.value)) + "\n";
  }
  return out;
}

std::string image_cell(const std::string& name, const std::string& reference) {
  const auto parsed = image::parse(reference);
  if (!parsed || (parsed->tag.empty() && parsed->digest.empty())) {
    return name + "=" + reference;
  }
  return name + (parsed->tag.empty() ? "" : "=") + parsed->version();
}

std::string align_columns(const std::vector<std::vector<std::string>>& raw_rows) {
  // Every cell one line: what records and files hold cannot break a row or forge one.
  std::vector<std::vector<std::string>> rows = raw_rows;
  for (auto& row : rows) {
    for (auto& cell : row) {
      cell = util::one_line(cell);
    }
  }
  // Widths in characters, not bytes: a cut digest ends with "…", three bytes of UTF-8.
  const auto width = [](const std::string& cell) {
    return static_cast<std::size_t>(std::count_if(cell.begin(), cell.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
  };
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  }
  std::ostringstream out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - width(row[i]) + 2, ' ');
      }
    }
    out << line << "\n";
  }
  return out.str();
}

std::string history_table(const std::vector<history::PromotionRecord>& records) {
  std::vector<std::vector<std::string>> rows = {{"STARTED", "PIPELINE", "STAGE", "FROM", "OUTCOME",
                                                 "CANDIDATE", "IMAGES", "GATES", "ACTOR",
                                                 "COMMIT"}};
  for (const auto& record : records) {
    rows.push_back(
        {history::format_time(record.started).substr(0, 19) + "Z",
         record.pipeline_file.empty() ? record.pipeline
                                      : record.pipeline + " (" + record.pipeline_file + ")",
         record.stage, record.from.empty() ? "-" : record.from, record.outcome,
         // An attempt that stopped before it had a candidate shows no id.
         record.images.empty() ? "-" : record.candidate_id.substr(0, 12),
         images_text(record.images), gates_text(record), record.actor,
         record.commit.empty() ? "-" : record.commit.substr(0, 12)});
  }
  if (records.empty()) {
    return "no promotions recorded\n";
  }
  return align_columns(rows);
}

std::string history_csv(const std::vector<history::PromotionRecord>& records) {
  std::ostringstream out;
  out << "id,started_at,finished_at,pipeline,pipeline_file,stage,from,outcome,candidate_id,images,"
         "gates,actor,commit,error\n";
  for (const auto& record : records) {
    const std::vector<std::string> fields = {record.id,
                                             history::format_time(record.started),
                                             history::format_time(record.finished),
                                             record.pipeline,
                                             record.pipeline_file,
                                             record.stage,
                                             record.from,
                                             record.outcome,
                                             record.candidate_id,
                                             util::dump_json(record.images),
                                             gates_text(record),
                                             record.actor,
                                             record.commit,
                                             record.error};
    for (std::size_t i = 0; i < fields.size(); ++i) {
      out << (i == 0 ? "" : ",") << csv_field(util::one_line(fields[i]));
    }
    out << "\n";
  }
  return out.str();
}

nlohmann::json history_json(const std::vector<history::PromotionRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& record : records) {
    nlohmann::json gates = nlohmann::json::array();
    for (const auto& gate : record.gates) {
      nlohmann::json evidence = nlohmann::json::array();
      for (const auto& item : gate.evidence) {
        evidence.push_back({{"path", item.path}, {"sha256", item.sha256}});
      }
      gates.push_back({{"name", gate.name},
                       {"use", gate.use},
                       {"status", gate.status},
                       {"summary", gate.summary},
                       {"details", gate.details},
                       {"config", gate.config},
                       {"retry_after_seconds", gate.retry_after_seconds
                                                   ? nlohmann::json(*gate.retry_after_seconds)
                                                   : nlohmann::json()},
                       {"evidence", evidence}});
    }
    out.push_back({{"id", record.id},
                   {"pipeline", record.pipeline},
                   {"pipeline_file", record.pipeline_file},
                   {"stage", record.stage},
                   {"from", record.from},
                   {"candidate_id", record.candidate_id},
                   {"images", record.images},
                   {"charts", record.charts},
                   {"carried", record.carried},
                   {"outcome", record.outcome},
                   {"healthy_since", record.healthy_since
                                         ? nlohmann::json(history::format_time(*record.healthy_since))
                                         : nlohmann::json()},
                   {"actor", record.actor},
                   {"reason", record.reason},
                   {"break_glass", record.break_glass},
                   {"ci_provider", record.ci_provider},
                   {"ci_run_url", record.ci_run_url},
                   {"commit", record.commit},
                   {"pull_request", record.pull_request},
                   {"rollback_of", record.rollback_of},
                   {"gates_skipped", record.gates_skipped},
                   {"error", record.error},
                   {"started_at", history::format_time(record.started)},
                   {"finished_at", history::format_time(record.finished)},
                   {"previous", record.previous},
                   {"places", record.places},
                   {"files", record.files},
                   {"hash", record.hash},
                   {"gates", gates}});
  }
  return out;
}

std::string promotion_text(const history::PromotionRecord& record) {
  // A record may come from anyone's notes (history sync): every field one line.
  const auto line = [](const std::string& text) { return util::one_line(text); };
  std::ostringstream out;
  out << "promotion " << line(record.id) << "\n"
      << "  pipeline   " << line(record.pipeline)
      << (record.pipeline_file.empty() ? "" : " (" + line(record.pipeline_file) + ")") << "\n"
      << "  stage      " << (record.from.empty() ? "" : line(record.from) + " -> ")
      << line(record.stage) << "\n"
      << "  outcome    " << line(record.outcome) << "\n";
  if (record.healthy_since) {
    out << "  healthy    since " << history::format_time(*record.healthy_since) << " at commit "
        << line(record.commit.substr(0, 12)) << "\n";
  }
  out << "  candidate  " << line(record.candidate_id) << "\n";
  // The diff in short: each image from what the target held to the candidate's.
  if (record.images.is_object()) {
    for (const auto& [name, reference] : record.images.items()) {
      const std::string to = reference.is_string() ? reference.get<std::string>() : "";
      const auto before = record.previous.find(name);
      const std::string from =
          before != record.previous.end() && before->is_string() ? before->get<std::string>() : "";
      out << "    " << line(name) << "  "
          << line(from.empty() || from == to ? to : from + " -> " + to) << "\n";
    }
  }
  out << places_text(places_of(record), "  ");
  if (!record.files.empty()) {
    out << "  files      " << record.files.size() << " changed\n";
    for (const auto& file : record.files) {
      out << "    " << line(file) << "\n";
    }
  }
  out << "  actor      " << line(record.actor) << "\n";
  if (!record.reason.empty()) {
    out << "  reason     " << line(record.reason) << "\n";
  }
  if (record.break_glass) {
    out << "  override   break-glass (closed time windows let through)\n";
  }
  if (!record.ci_run_url.empty() || !record.ci_provider.empty()) {
    out << "  run        " << (record.ci_provider.empty() ? "" : line(record.ci_provider) + " ")
        << line(record.ci_run_url) << "\n";
  }
  out << "  started    " << history::format_time(record.started) << "\n"
      << "  finished   " << history::format_time(record.finished) << "\n";
  if (!record.commit.empty()) {
    out << "  commit     " << line(record.commit) << "\n";
  }
  if (!record.pull_request.empty()) {
    out << "  pull req.  " << line(record.pull_request) << "\n";
  }
  if (!record.rollback_of.empty()) {
    out << "  rollback   of " << line(record.rollback_of)
        << (record.gates_skipped ? ", gates skipped" : "") << "\n";
  }
  if (!record.error.empty()) {
    out << "  error      " << line(record.error) << "\n";
  }
  if (!record.hash.empty()) {
    out << "  hash       " << line(record.hash) << "\n";
  }
  out << "gates" << (record.gates.empty() ? ": none\n" : "\n");
  for (const auto& gate : record.gates) {
    out << "  " << line(gate.name) << " (" << line(gate.use) << "): " << line(gate.status) << ": "
        << line(gate.summary) << "\n";
    if (gate.retry_after_seconds) {
      out << "    retry after " << *gate.retry_after_seconds << "s\n";
    }
    out << "    config   " << line(util::dump_json(gate.config)) << "\n";
    if (!gate.details.empty()) {
      std::istringstream details(util::dump_json(gate.details, 2));
      std::string text;
      out << "    details\n";
      while (std::getline(details, text)) {
        out << "      " << line(text) << "\n";
      }
    }
    for (const auto& evidence : gate.evidence) {
      out << "    evidence " << line(evidence.sha256) << "  " << line(evidence.path) << "\n";
    }
  }
  return out.str();
}

std::string release_text(const Candidate& candidate, const std::string& between) {
  std::string out;
  for (const auto& [name, reference] : candidate.images) {
    out += out.empty() ? "" : between;
    out += image_cell(name, reference.to_string());
  }
  for (const auto& [name, version] : candidate.charts) {
    out += ", chart ";
    out += util::one_line(name) + "@" + util::one_line(version);
  }
  for (const auto& [name, digest] : candidate.files) {
    out += ", file ";
    out += util::one_line(name) + "@sha256:" + util::one_line(digest.substr(0, 12));
  }
  return out;
}

std::string status_table(const std::vector<promoter::StageStatus>& stages) {
  std::vector<std::vector<std::string>> rows = {
      {"STAGE", "FROM", "CANDIDATE", "IMAGES", "SINCE", "SOURCE"}};
  for (const auto& stage : stages) {
    if (!stage.candidate) {
      rows.push_back({stage.name, stage.from.empty() ? "-" : stage.from, "-",
                      "(" + stage.problem + ")", "-", "-"});
      continue;
    }
    rows.push_back(
        {stage.name, stage.from.empty() ? "-" : stage.from, stage.candidate->short_id(),
         release_text(*stage.candidate),
         stage.entered ? history::format_time(stage.entered->at).substr(0, 19) + "Z" : "-",
         stage.entered ? stage.entered->source : "-"});
  }
  return align_columns(rows);
}

nlohmann::json status_json(const std::string& pipeline,
                           const std::vector<promoter::StageStatus>& stages) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& stage : stages) {
    nlohmann::json row = {{"name", stage.name},
                          {"from", stage.from.empty() ? nlohmann::json() : nlohmann::json(stage.from)},
                          {"target", stage.target}};
    if (stage.candidate) {
      row["candidate"] = {{"id", stage.candidate->id()},
                          {"images", stage.candidate->to_json()["images"]},
                          {"charts", stage.candidate->charts},
                          {"files", stage.candidate->files}};
    } else {
      row["candidate"] = nullptr;
      row["problem"] = stage.problem;
    }
    row["entered_at"] =
        stage.entered ? nlohmann::json(history::format_time(stage.entered->at)) : nlohmann::json();
    row["entered_source"] =
        stage.entered ? nlohmann::json(stage.entered->source) : nlohmann::json();
    rows.push_back(std::move(row));
  }
  return {{"pipeline", pipeline}, {"stages", rows}};
}

}  // namespace promote::report
