#include "engine/serve/dashboard.hpp"

#include "engine/git/diff.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/report/dora.hpp"
#include "engine/serve/board.hpp"
#include "engine/serve/commands.hpp"
#include "engine/serve/service.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/log.hpp"

namespace promote::serve {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

constexpr const char* k_session_cookie = "promote_session";
constexpr const char* k_csrf_cookie = "promote_csrf";
constexpr std::size_t k_max_sessions = 10'000;

// The value of cookie `name` on `request`, or "".
std::string cookie(const http::Incoming& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key.size() != 6 || strncasecmp(key.c_str(), "cookie", 6) != 0) {
      continue;
    }
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t end = std::min(rest.find(';'), rest.size());
      std::string_view pair = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      while (!pair.empty() && pair.front() == ' ') {
        pair.remove_prefix(1);
      }
      if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
          pair[name.size()] == '=') {
        return std::string(pair.substr(name.size() + 1));
      }
    }
  }
  return "";
}

// Set-Cookie for `name`: HttpOnly, SameSite=Strict, Secure behind a proxy that terminates TLS.
std::string set_cookie(const http::Incoming& request, const std::string& name,
                       const std::string& value, std::optional<std::chrono::seconds> life) {
  std::string out = name + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
  if (life) {
    out += "; Max-Age=" + std::to_string(life->count());
  }
  if (request.header("X-Forwarded-Proto") == "https") {
    out += "; Secure";
  }
  return out;
}

http::Outgoing html(unsigned status, std::string body, bool inline_style = false) {
  http::Outgoing out;
  out.status = status;
  out.headers = {
      {"Content-Type", "text/html; charset=utf-8"},
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "same-origin"},
      {"Content-Security-Policy",
       std::string("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
                   "style-src 'self'") +
           (inline_style ? " 'unsafe-inline'" : "") +
           "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}};
  out.body = std::move(body);
  return out;
}

http::Outgoing redirect(const std::string& to) {
  http::Outgoing out;
  out.status = 303;
  out.headers = {{"Location", to}, {"Cache-Control", "no-store"}};
  return out;
}

http::Outgoing asset(const char* type, const char* body) {
  http::Outgoing out;
  out.headers = {{"Content-Type", type},
                 {"Cache-Control", "public, max-age=300"},
                 {"X-Content-Type-Options", "nosniff"}};
  out.body = body;
  return out;
}

// The diff of the files `record` changed, in its commit against the commit's parent; "" when
// the repository does not hold the commit (another clone made it, or it was not pushed here).
std::string commit_diff(const Watched& watched, const json& record) {
  const std::string commit = record.value("commit", "");
  if (commit.empty() || !record.contains("files")) {
    return "";
  }
  auto repository = git::Repository::open(fs::absolute(watched.file).parent_path());
  if (!repository) {
    return "";
  }
  std::string out;
  for (const auto& file : record["files"]) {
    if (!file.is_string()) {
      continue;
    }
    auto after = repository->read_file(commit, file.get<std::string>());
    auto before = repository->read_file(commit + "^", file.get<std::string>());
    if (!after || !before) {
      return "";
    }
    out += git::unified_diff(file.get<std::string>(), before->value_or(""), after->value_or(""));
  }
  return out;
}

}  // namespace

pages::Viewer Dashboard::viewer_of(const Service& service, const http::Incoming& request,
                                   const std::string& csrf) const {
  pages::Viewer viewer;
  viewer.csrf = csrf;
  viewer.sign_in = service.access().enabled();
  if (const std::string id = cookie(request, k_session_cookie); !id.empty()) {
    std::lock_guard lock(m_mutex);
    const auto found = m_sessions.find(util::sha256_hex(id));
    if (found != m_sessions.end() && found->second.expires > Clock::now()) {
      viewer.actor = found->second.principal.actor;
      viewer.roles = found->second.principal.roles;
      return viewer;
    }
  }
  if (auto proxied = service.access().by_proxy(request)) {
    viewer.actor = proxied->actor;
    viewer.roles = proxied->roles;
    viewer.proxied = true;
  }
  return viewer;
}

std::optional<http::Outgoing> Dashboard::handle(const Service& service,
                                                const http::Incoming& request) {
  const std::string& path = request.path;
  if (path == "/static/app.css") {
    return asset("text/css; charset=utf-8", pages::k_style);
  }
  if (path == "/static/app.js") {
    return asset("text/javascript; charset=utf-8", pages::k_script);
  }
  if (path == "/static/icon.svg" || path == "/favicon.ico") {
    return asset("image/svg+xml", pages::k_icon);
  }
  const bool post = request.method == "POST";
  if (path == "/events" && !post) {
    return events(service, request);
  }
  if (path == "/login") {
    return post ? sign_in(service, request) : page(service, request);
  }
  if (path == "/logout" && post) {
    return sign_out(service, request);
  }
  const auto parts = path_segments(std::string_view(path).substr(1));
  if (post && parts.size() == 5 && parts[0] == "pipelines" && parts[2] == "stages") {
    return command(service, request, parts[1], parts[3], parts[4]);
  }
  if (!post && (path == "/" || parts[0] == "pipelines" || parts[0] == "promotions")) {
    return page(service, request);
  }
  return std::nullopt;
}

http::Outgoing Dashboard::page(const Service& service, const http::Incoming& request) {
  // A browser without the CSRF cookie gets one now; its forms carry the same value.
  std::string csrf = cookie(request, k_csrf_cookie);
  const bool fresh = csrf.size() != 64;
  if (fresh) {
    csrf = util::random_hex(32);
  }
  const pages::Viewer viewer = viewer_of(service, request, csrf);
  const auto now = Clock::now();
  const auto parts = path_segments(std::string_view(request.path).substr(1));
  Board& board = service.board();
  const auto view_of = [&](const Watched& watched, std::shared_ptr<const Snapshot>& keep) {
    keep = board.snapshot(static_cast<std::size_t>(&watched - service.pipelines().data()));
    return pages::PipelineView{watched.pipeline.name, keep->error ? nullptr : &keep->document,
                               keep->error ? keep->error->message : ""};
  };
  http::Outgoing out;
  if (request.path == "/") {
    std::vector<std::shared_ptr<const Snapshot>> kept(service.pipelines().size());
    std::vector<pages::PipelineView> views;
    for (std::size_t i = 0; i < service.pipelines().size(); ++i) {
      views.push_back(view_of(service.pipelines()[i], kept[i]));
    }
    // Everyone not signed in sees the same page: made once a second at most while the
    // documents stay the same (its countdowns are written to the second).
    const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    std::unique_lock cached(m_overview.mutex, std::defer_lock);
    if (viewer.actor.empty()) {
      cached.lock();
      if (m_overview.second == second && m_overview.snapshots == kept) {
        out = html(200, m_overview.body);
      }
    }
    if (out.body.empty()) {
      out = html(200, pages::overview(views, viewer, now));
      if (cached.owns_lock()) {
        m_overview.second = second;
        m_overview.snapshots = kept;
        m_overview.body = out.body;
      }
    }
  } else if (request.path == "/login") {
    out = html(200, pages::sign_in(viewer, ""));
  } else if (parts.size() == 2 && parts[0] == "promotions") {
    auto found = service.find_promotion(parts[1]);
    if (!found) {
      out = html(503, pages::error("History unavailable", found.error().message, viewer));
    } else if (!*found) {
      out = html(404,
                 pages::error("No such promotion",
                              "No promotion '" + parts[1] + "' in the served histories.", viewer));
    } else {
      const Watched* watched = service.find((**found).value("pipeline", ""));
      out = html(200,
                 pages::promotion(**found, watched ? commit_diff(*watched, **found) : "", viewer));
    }
  } else if (parts.size() >= 2 && parts[0] == "pipelines" && service.find(parts[1]) &&
             (parts.size() == 2 ||
              (parts.size() == 3 && (parts[2] == "history" || parts[2] == "report")))) {
    const Watched& watched = *service.find(parts[1]);
    if (parts.size() == 2) {
      std::shared_ptr<const Snapshot> kept;
      out = html(200, pages::pipeline(view_of(watched, kept), viewer, now));
    } else if (parts[2] == "history") {
      auto given = parse_parameters(request.query);
      std::map<std::string, std::string> filter;
      if (given) {
        for (auto& [key, value] : *given) {
          if (!value.empty()) {  // the form's "any"
            filter.emplace(key, value);
          }
        }
      }
      auto found =
          given ? service.history_page(watched, filter) : Result<HistoryPage>(given.error());
      if (!found) {
        out = html(found.error().kind == ErrorKind::usage ? 400 : 503,
                   pages::error("History unavailable", found.error().message, viewer));
      } else {
        out = html(200, pages::history(watched.pipeline.name, watched.pipeline.stage_names(),
                                       filter, found->records, found->next, viewer));
      }
    } else {
      // The DORA report of the last 30 days: the page `promote report --format html` writes.
      history::Query query;
      query.pipeline = promoter::pipeline_identity(watched.pipeline);
      query.with_gates = true;
      auto store = history::History::open_existing(
          promoter::history_path(watched.pipeline.file, service.history_path()));
      auto records = store && *store ? (*store)->list(query)
                                     : Result<std::vector<history::PromotionRecord>>(
                                           std::vector<history::PromotionRecord>{});
      if (!store || !records) {
        out = html(503, pages::error("History unavailable",
                                     (!store ? store.error() : records.error()).message, viewer));
      } else {
        auto report = report::dora(*records, watched.pipeline.stage_names(),
                                   now - std::chrono::days(30), now);
        report.pipeline = watched.pipeline.name;
        out = html(200, report::dora_html(report), true);
      }
    }
  } else {
    out =
        html(404, pages::error("Not found", "Nothing is served at " + request.path + ".", viewer));
  }
  if (fresh && !csrf.empty()) {
    out.headers.emplace_back("Set-Cookie", set_cookie(request, k_csrf_cookie, csrf, std::nullopt));
  }
  return out;
}

namespace {

// Whether the form's token matches the browser's CSRF cookie (compared in constant time).
bool same_origin_form(const http::Incoming& request,
                      const std::map<std::string, std::string>& form) {
  const std::string expected = cookie(request, k_csrf_cookie);
  const auto given = form.find("csrf");
  return expected.size() == 64 && given != form.end() && util::same_secret(expected, given->second);
}

}  // namespace

http::Outgoing Dashboard::command(const Service& service, const http::Incoming& request,
                                  const std::string& pipeline, const std::string& stage,
                                  const std::string& action) {
  const std::string csrf = cookie(request, k_csrf_cookie);
  const pages::Viewer viewer = viewer_of(service, request, csrf);
  const std::string back = "/pipelines/" + pipeline;
  auto form = parse_parameters(request.body);
  if (!form || !same_origin_form(request, *form)) {
    return html(403, pages::result("Refused",
                                   "The form is stale or came from another site: "
                                   "reload the page and try again.",
                                   false, back, "", viewer));
  }
  const Watched* watched = service.find(pipeline);
  if (watched == nullptr || !watched->pipeline.stage_named(stage)) {
    return html(404, pages::error("Not found", "No stage " + pipeline + "/" + stage + ".", viewer));
  }
  if (viewer.actor.empty()) {
    return html(401, pages::result("Sign in first", "Sign in to " + action + " " + stage + ".",
                                   false, "/login", "", viewer));
  }
  if (!allows(viewer.roles, action, pipeline, stage)) {
    return html(
        403, pages::result("Not allowed",
                           viewer.actor + " may not " + action + " " + pipeline + "/" + stage + ".",
                           false, back, "", viewer));
  }
  json body = json::object();
  if (const auto reason = form->find("reason"); reason != form->end() && !reason->second.empty()) {
    body["reason"] = reason->second;
  }
  if (const auto candidate = form->find("candidate");
      candidate != form->end() && !candidate->second.empty()) {
    body["candidate"] = candidate->second;
  }
  const http::Outgoing done = run_command(*watched, stage, action, viewer.actor, body.dump(),
                                          service.history_path(), service.loop());
  service.changed(pipeline);
  const json answer = json::parse(done.body, nullptr, false);
  std::string message;
  std::string promotion_id;
  if (done.status >= 400) {
    message = answer.is_object() && answer.contains("error")
                  ? answer["error"].value("message", "the command failed")
                  : "the command failed";
    return html(done.status, pages::result(action + " " + stage + ": refused", message, false, back,
                                           "", viewer));
  }
  if (done.status == 202) {
    message = "Still running; its record will be in the history.";
  } else if (action == "promote" || action == "rollback") {
    promotion_id = answer.value("promotion_id", "");
    message = "Outcome: " + answer.value("outcome", "unknown") + ".";
  } else if (action == "approve" || action == "reject") {
    message = std::string(action == "approve" ? "Approved" : "Rejected") + " candidate " +
              answer.value("candidate_id", "").substr(0, 12) + " for " + stage + " as " +
              viewer.actor + ".";
  } else {
    message =
        stage + (action == "hold" ? " is held" : " is released") + " by " + viewer.actor + ".";
  }
  return html(200, pages::result(action + " " + stage, message, true, back, promotion_id, viewer));
}

http::Outgoing Dashboard::sign_in(const Service& service, const http::Incoming& request) {
  const std::string csrf = cookie(request, k_csrf_cookie);
  pages::Viewer viewer = viewer_of(service, request, csrf);
  auto form = parse_parameters(request.body);
  if (!form || !same_origin_form(request, *form)) {
    return html(403, pages::sign_in(viewer,
                                    "The form is stale or came from another site: "
                                    "reload the page and try again."));
  }
  const auto token = form->find("token");
  auto principal = token == form->end() ? std::nullopt : service.access().by_token(token->second);
  if (!principal) {
    util::notice("serve: a sign-in with an unknown token from " + request.peer);
    return html(401, pages::sign_in(viewer, "That token is not one of this service's."));
  }
  const std::string id = util::random_hex(32);
  if (id.empty()) {
    return html(503, pages::sign_in(viewer, "No session could be made; try again."));
  }
  {
    std::lock_guard lock(m_mutex);
    const auto now = Clock::now();
    std::erase_if(m_sessions, [&](const auto& entry) { return entry.second.expires <= now; });
    if (m_sessions.size() >= k_max_sessions) {
      m_sessions.erase(std::min_element(
          m_sessions.begin(), m_sessions.end(),
          [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; }));
    }
    m_sessions[util::sha256_hex(id)] = Session{std::move(*principal), now + k_session_life};
  }
  http::Outgoing out = redirect("/");
  out.headers.emplace_back(
      "Set-Cookie", set_cookie(request, k_session_cookie, id,
                               std::chrono::duration_cast<std::chrono::seconds>(k_session_life)));
  return out;
}

http::Outgoing Dashboard::sign_out(const Service& service, const http::Incoming& request) {
  auto form = parse_parameters(request.body);
  if (!form || !same_origin_form(request, *form)) {
    return html(403, pages::error("Refused", "The form is stale or came from another site.",
                                  viewer_of(service, request, cookie(request, k_csrf_cookie))));
  }
  if (const std::string id = cookie(request, k_session_cookie); !id.empty()) {
    std::lock_guard lock(m_mutex);
    m_sessions.erase(util::sha256_hex(id));
  }
  http::Outgoing out = redirect("/");
  out.headers.emplace_back("Set-Cookie",
                           set_cookie(request, k_session_cookie, "", std::chrono::seconds(0)));
  return out;
}

http::Outgoing Dashboard::events(const Service& service, const http::Incoming& request) {
  if (m_streams->load() >= k_max_streams) {
    return error_response(503, "unavailable", "too many event streams; try again later");
  }
  http::Outgoing out;
  out.headers = {{"Content-Type", "text/event-stream"},
                 {"Cache-Control", "no-store"},
                 {"X-Accel-Buffering", "no"}};
  // The board is refreshed once a second while a page listens: a change of a file it reads
  // (a CLI run, a push) or a word from the loop moves its version, and the page is told.
  // Each event's id names the board and its version: a page that reconnects (the service read
  // its pipeline files again, or restarted) and saw another is told at once.
  out.stream = [board = service.shared_board(), streams = m_streams,
                last = request.header("Last-Event-ID")](const auto& send) {
    ++*streams;
    struct Leave {
      std::atomic<std::size_t>& count;
      ~Leave() { --count; }
    } leave{*streams};
    if (!send("retry: 3000\n\n")) {
      return;
    }
    std::uint64_t seen = board->refresh();
    const auto id = [&](std::uint64_t version) {
      return std::to_string(board->instance()) + "-" + std::to_string(version);
    };
    if (!last.empty() && last != id(seen) &&
        !send("id: " + id(seen) + "\nevent: changed\ndata: " + std::to_string(seen) + "\n\n")) {
      return;
    }
    auto beat = std::chrono::steady_clock::now();
    // "" writes nothing: false once the server stops; a board replaced ends its streams (the
    // page reconnects to the new one).
    while (send("") && !board->stopped()) {
      board->wait(seen, std::chrono::seconds(1));
      const std::uint64_t now = board->refresh();
      if (now != seen) {
        seen = now;
        if (!send("id: " + id(now) + "\nevent: changed\ndata: " + std::to_string(now) + "\n\n")) {
          return;
        }
        beat = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - beat > std::chrono::seconds(15)) {
        if (!send(": still here\n\n")) {  // finds a client that went away
          return;
        }
        beat = std::chrono::steady_clock::now();
      }
    }
  };
  return out;
}

}  // namespace promote::serve
