#include "gates/argocd.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdlib>

#include "engine/http/client.hpp"
#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"
#include "engine/util/time.hpp"

namespace promote::gates {
namespace {

namespace chr = std::chrono;
using Status = Verdict::Status;
using json = nlohmann::json;
using TimePoint = ArgoApplication::TimePoint;

constexpr chr::seconds k_retry_after{30};
constexpr std::size_t k_excerpt_bytes = 200;
constexpr const char* k_default_token_env = "ARGOCD_AUTH_TOKEN";

/// The validated `with:` block.
struct ArgoConfig {
  std::string server;  ///< without a trailing slash
  std::string token_env = k_default_token_env;
  std::vector<std::string> applications;
  std::string selector;
  std::string app_namespace;
  Status suspended = Status::pending;
  std::string ca_file;
  chr::seconds timeout{30};
};

std::string short_id(const std::string& revision) {
  return revision.size() == 40 ? revision.substr(0, 12) : revision;
}

std::string format_time(const std::optional<TimePoint>& at) {
  return at ? util::format_utc(*at) : std::string();
}

// Reads fields of a JSON object, naming them by path in messages; the first problem sticks
// (later reads return empty values) and `problem()` tells it.
class Reader {
 public:
  explicit Reader(std::string label) : m_label(std::move(label)) {}

  // The object at `key` of `parent`, or nullptr when absent, null or no object (a problem).
  const json* object(const json* parent, const char* key, const std::string& path) {
    const json* found = find(parent, key);
    if (found != nullptr && !found->is_object()) {
      note(path + " is not an object");
      return nullptr;
    }
    return found;
  }

  // The string at `key` of `parent` ("" when absent or null).
  std::string text(const json* parent, const char* key, const std::string& path) {
    const json* found = find(parent, key);
    if (found == nullptr) {
      return {};
    }
    if (!found->is_string()) {
      note(path + " is not a string");
      return {};
    }
    return found->get<std::string>();
  }

  // The strings at `key` of `parent` (none when absent or null).
  std::vector<std::string> texts(const json* parent, const char* key, const std::string& path) {
    std::vector<std::string> out;
    const json* found = find(parent, key);
    if (found == nullptr) {
      return out;
    }
    if (!found->is_array()) {
      note(path + " is not a list");
      return out;
    }
    for (const auto& item : *found) {
      if (!item.is_string()) {
        note(path + " holds something that is not a string");
        return {};
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // The time at `key` of `parent` (nullopt when absent, null or "").
  std::optional<TimePoint> time(const json* parent, const char* key, const std::string& path) {
    const std::string value = text(parent, key, path);
    if (value.empty()) {
      return std::nullopt;
    }
    const auto at = util::parse_rfc3339(value);
    if (!at) {
      note(path + " '" + util::valid_utf8(value.substr(0, 40)) + "' is not an RFC 3339 time");
    }
    return at;
  }

  Error bad(const std::string& what) const {
    return make_error(ErrorKind::http, m_label + ": " + what);
  }
  void note(const std::string& what) {
    if (!m_problem) {
      m_problem = bad(what);
    }
  }
  const std::optional<Error>& problem() const { return m_problem; }

 private:
  // The value at `key` of the object `parent`, or nullptr when there is none (or null).
  const json* find(const json* parent, const char* key) const {
    if (m_problem || parent == nullptr) {
      return nullptr;
    }
    const auto found = parent->find(key);
    return found == parent->end() || found->is_null() ? nullptr : &*found;
  }

  std::string m_label;
  std::optional<Error> m_problem;
};

}  // namespace

Result<ArgoApplication> parse_application(const json& document, const std::string& label) {
  Reader read(label);
  if (!document.is_object()) {
    return read.bad("an application is not a JSON object");
  }
  ArgoApplication app;
  const json* metadata = read.object(&document, "metadata", "metadata");
  const json* spec = read.object(&document, "spec", "spec");
  const json* status = read.object(&document, "status", "status");
  app.name = read.text(metadata, "name", "metadata.name");
  app.app_namespace = read.text(metadata, "namespace", "metadata.namespace");
  app.deleting = !read.text(metadata, "deletionTimestamp", "metadata.deletionTimestamp").empty();
  const auto operation = document.find("operation");
  app.operation_requested = operation != document.end() && !operation->is_null();

  if (const json* source = read.object(spec, "source", "spec.source")) {
    app.repo_urls.push_back(read.text(source, "repoURL", "spec.source.repoURL"));
  }
  if (spec != nullptr) {
    if (const auto sources = spec->find("sources"); sources != spec->end() && !sources->is_null()) {
      if (!sources->is_array()) {
        return read.bad("spec.sources is not a list");
      }
      app.multi_source = !sources->empty();
      if (app.multi_source) {
        app.repo_urls.clear();
      }
      for (const auto& item : *sources) {
        if (!item.is_object()) {
          return read.bad("spec.sources holds something that is not an object");
        }
        app.repo_urls.push_back(read.text(&item, "repoURL", "spec.sources[].repoURL"));
      }
    }
  }
  const json* sync = read.object(status, "sync", "status.sync");
  const json* health = read.object(status, "health", "status.health");
  const json* state = read.object(status, "operationState", "status.operationState");
  app.sync_status = read.text(sync, "status", "status.sync.status");
  const std::string revision = read.text(sync, "revision", "status.sync.revision");
  std::vector<std::string> revisions = read.texts(sync, "revisions", "status.sync.revisions");
  if (!revisions.empty()) {
    app.revisions = std::move(revisions);
    app.multi_source = true;
  } else if (!revision.empty()) {
    app.revisions.push_back(revision);
  }
  app.health = read.text(health, "status", "status.health.status");
  app.health_message = read.text(health, "message", "status.health.message");
  app.reconciled_at = read.time(status, "reconciledAt", "status.reconciledAt");
  app.phase = read.text(state, "phase", "status.operationState.phase");
  app.operation_message = read.text(state, "message", "status.operationState.message");
  app.started_at = read.time(state, "startedAt", "status.operationState.startedAt");
  app.finished_at = read.time(state, "finishedAt", "status.operationState.finishedAt");
  const json* result = read.object(state, "syncResult", "status.operationState.syncResult");
  const std::string synced =
      read.text(result, "revision", "status.operationState.syncResult.revision");
  app.synced_revisions =
      read.texts(result, "revisions", "status.operationState.syncResult.revisions");
  if (app.synced_revisions.empty() && !synced.empty()) {
    app.synced_revisions.push_back(synced);
  }
  if (read.problem()) {
    return *read.problem();
  }
  return app;
}

Result<std::vector<ArgoApplication>> parse_applications(std::string_view body, bool list,
                                                        const std::string& label) {
  const Reader read(label);
  if (const std::size_t deep = util::json_too_deep(body); deep != std::string_view::npos) {
    return read.bad("the response nests more than " + std::to_string(util::k_max_json_depth) +
                    " levels deep (at byte " + std::to_string(deep) + ")");
  }
  const json document = json::parse(body, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return read.bad("the response is not a JSON object");
  }
  std::vector<ArgoApplication> out;
  if (!list) {
    auto app = parse_application(document, label);
    if (!app) {
      return app.error();
    }
    out.push_back(std::move(*app));
    return out;
  }
  const auto items = document.find("items");
  if (items == document.end() || items->is_null()) {
    return out;
  }
  if (!items->is_array()) {
    return read.bad("'items' is not a list");
  }
  for (const auto& item : *items) {
    auto app = parse_application(item, label);
    if (!app) {
      return app.error();
    }
    out.push_back(std::move(*app));
  }
  return out;
}

Result<ApplicationJudgement> judge_application(const ArgoApplication& app,
                                               const std::string& commit,
                                               const CommitGraph& commits, Status suspended) {
  using J = ApplicationJudgement;
  const std::string candidate_commit = "commit " + short_id(commit);
  if (app.deleting) {
    return J{Status::fail, "the application is being deleted"};
  }
  if (app.operation_requested) {
    return J{Status::pending, "a sync operation is requested and has not started"};
  }
  if (app.phase == "Running" || app.phase == "Terminating") {
    return J{Status::pending,
             "syncing: the operation is " + app.phase +
                 (app.started_at ? " since " + format_time(app.started_at) : std::string())};
  }
  const std::string message =
      app.operation_message.empty() ? std::string() : ": " + app.operation_message;
  if (app.phase == "Failed" || app.phase == "Error") {
    return J{Status::fail,
             "the sync operation ended " + app.phase +
                 (app.finished_at ? " at " + format_time(app.finished_at) : std::string()) +
                 message};
  }
  // The health assessment counts only when made after the last operation finished.
  const bool assessed_after =
      !app.finished_at || (app.reconciled_at && *app.reconciled_at >= *app.finished_at);
  const std::string stale =
      "the health was not assessed since the sync finished at " + format_time(app.finished_at) +
      (app.reconciled_at ? " (reconciledAt " + format_time(app.reconciled_at) + ")"
                         : " (no reconciledAt)");
  const std::string health_message =
      app.health_message.empty() ? std::string() : ": " + app.health_message;
  if (app.health == "Degraded") {
    if (!assessed_after) {
      return J{Status::pending, "Degraded, but " + stale};
    }
    return J{Status::fail, "Degraded" + health_message};
  }

  // The revision: of the sources whose revision this clone knows, one must hold the commit.
  if (app.revisions.empty()) {
    return J{Status::pending, "no revision is synced yet (sync status " +
                                  (app.sync_status.empty() ? "unknown" : app.sync_status) + ")"};
  }
  std::vector<std::string> known;
  std::string containing;
  std::vector<std::string> older;
  for (const std::string& revision : app.revisions) {
    auto holds = commits.contains(revision, commit);
    if (!holds) {
      return holds.error();
    }
    if (!holds->has_value()) {
      continue;
    }
    known.push_back(revision);
    if (**holds) {
      containing = revision;
      break;
    }
    auto behind = commits.contains(commit, revision);
    if (!behind) {
      return behind.error();
    }
    if (behind->value_or(false)) {
      older.push_back(revision);
    }
  }
  if (known.empty()) {
    std::string shown;
    for (const std::string& revision : app.revisions) {
      shown += (shown.empty() ? "" : ", ") + short_id(revision);
    }
    return J{Status::pending, std::string(app.revisions.size() == 1 ? "revision " : "revisions ") +
                                  shown + (app.revisions.size() == 1 ? " is" : " are") +
                                  " not in this clone yet; fetch"};
  }
  if (containing.empty()) {
    const std::string& at = older.empty() ? known.front() : older.front();
    const std::string state =
        (app.sync_status.empty() ? "Unknown" : app.sync_status) + " at " + short_id(at);
    if (!older.empty()) {
      return J{Status::pending, state + ", older than " + candidate_commit};
    }
    if (app.sync_status == "Synced") {
      return J{Status::fail, "Synced to " + short_id(at) + ", which can never contain " +
                                 candidate_commit + " (it is not an ancestor)"};
    }
    return J{Status::pending, state + ", which does not contain " + candidate_commit};
  }
  const std::string at = short_id(containing);
  if (app.sync_status != "Synced") {
    return J{Status::pending, (app.sync_status.empty() ? "Unknown" : app.sync_status) + " at " +
                                  at + "; waiting for a sync"};
  }
  if (app.phase != "Succeeded" || !app.finished_at) {
    return J{Status::pending,
             "Synced to " + at + ", but no sync operation has finished and Succeeded" +
                 (app.phase.empty() ? std::string() : " (phase " + app.phase + ")")};
  }
  const std::string synced =
      "Synced to " + at + ", sync Succeeded at " + format_time(app.finished_at);
  if (app.health == "Suspended") {
    if (suspended != Status::pass) {
      return J{suspended, synced + ", but Suspended" + health_message +
                              " (suspended: " + promote::to_string(suspended) + ")"};
    }
  } else if (app.health != "Healthy") {
    return J{Status::pending,
             synced + ", health " + (app.health.empty() ? "unknown" : app.health) + health_message};
  }
  if (!assessed_after) {
    return J{Status::pending, synced + ", but " + stale};
  }
  return J{Status::pass,
           synced + ", " + app.health + " (assessed at " + format_time(app.reconciled_at) + ")"};
}

namespace {

// The worse of two statuses for the gate: fail, error, pending, pass.
int rank(Status status) {
  switch (status) {
    case Status::fail:
      return 4;
    case Status::error:
      return 3;
    case Status::pending:
      return 2;
    case Status::warn:
      return 1;
    case Status::pass:
      return 0;
  }
  return 3;
}

std::string excerpt(std::string_view body) {
  std::string out = util::valid_utf8(std::string(body.substr(0, k_excerpt_bytes)));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return body.size() > k_excerpt_bytes ? out + "..." : out;
}

// The message of an Argo CD API error body ({"error": ..., "code": 7, "message": ...}), else
// an excerpt of the body.
std::string api_message(const std::string& body) {
  const json document = util::json_too_deep(body) == std::string::npos
                            ? json::parse(body, nullptr, false)
                            : json(nullptr);
  if (document.is_object()) {
    for (const char* key : {"message", "error"}) {
      if (const auto found = document.find(key); found != document.end() && found->is_string()) {
        return excerpt(found->get<std::string>());
      }
    }
  }
  return excerpt(body);
}

class ArgoCdGate : public Gate {
 public:
  explicit ArgoCdGate(ArgoConfig config) : m_config(std::move(config)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    const std::vector<std::string> secrets = util::secret_values({m_config.token_env});
    Verdict verdict = co_await judge(context);
    verdict.summary = util::scrub(std::move(verdict.summary), secrets);
    util::scrub_json(verdict.details, secrets);
    co_return verdict;
  }

  json config() const override {
    json out = {{"server", http::redact_url(m_config.server)},
                {"token_env", m_config.token_env},
                {"suspended", promote::to_string(m_config.suspended)},
                {"timeout", pipeline::format_duration(m_config.timeout)}};
    if (!m_config.applications.empty()) {
      out["applications"] = m_config.applications;
    }
    if (!m_config.selector.empty()) {
      out["selector"] = m_config.selector;
    }
    if (!m_config.app_namespace.empty()) {
      out["app_namespace"] = m_config.app_namespace;
    }
    if (!m_config.ca_file.empty()) {
      out["ca_file"] = m_config.ca_file;
    }
    return out;
  }

  bool needs_source() const override { return true; }
  bool verifies() const override { return true; }

 private:
  // One GET of the API: the applications it answers, or the verdict that ends the judgement.
  struct Fetched {
    std::vector<ArgoApplication> applications;
    std::optional<Verdict> verdict;
  };

  boost::asio::awaitable<Fetched> fetch(const std::string& what, const std::string& url, bool list,
                                        const std::string& token,
                                        const std::filesystem::path& base_dir,
                                        const json& details) const {
    http::Request request;
    request.url = url;
    request.timeout = m_config.timeout;
    request.headers.emplace_back("Authorization", "Bearer " + token);
    request.headers.emplace_back("Accept", "application/json");
    if (!m_config.ca_file.empty()) {
      request.ca_file = (base_dir / m_config.ca_file).string();
    }
    const std::string server = http::redact_url(m_config.server);
    auto ended = [&](Status status, const std::string& summary) {
      json out = details;
      out["error"] = summary;
      return Fetched{{}, Verdict::make(status, summary, std::move(out))};
    };
    auto response = co_await http::request(std::move(request));
    if (!response) {
      co_return ended(Status::error, response.error().message + " (" + what + ")");
    }
    const unsigned status = response->status;
    if (status == 401 || status == 403) {
      co_return ended(Status::error,
                      "Argo CD server " + server + " refused the token for " + what + " (HTTP " +
                          std::to_string(status) + ": " + api_message(response->body) +
                          (status == 403 ? "; Argo CD says so for an application that does "
                                           "not exist too"
                                         : "") +
                          ")");
    }
    if (status == 404) {
      co_return ended(Status::fail, "no " + what + " on Argo CD server " + server +
                                        " (HTTP 404: " + api_message(response->body) + ")");
    }
    if (status < 200 || status > 299) {
      co_return ended(Status::error, "GET " + http::redact_url(url) + ": HTTP " +
                                         std::to_string(status) + ": " +
                                         api_message(response->body) + " (" + what + ")");
    }
    auto parsed = parse_applications(response->body, list, "GET " + http::redact_url(url));
    if (!parsed) {
      co_return ended(Status::error, parsed.error().message);
    }
    co_return Fetched{std::move(*parsed), std::nullopt};
  }

  std::string api_url(const std::string& path, const std::string& query) const {
    std::string query_string = query;
    if (!m_config.app_namespace.empty()) {
      query_string += (query_string.empty() ? "" : "&") + std::string("appNamespace=") +
                      util::percent_encode(m_config.app_namespace);
    }
    return m_config.server + path + (query_string.empty() ? "" : "?" + query_string);
  }

  boost::asio::awaitable<Verdict> judge(const GateContext& context) const {
    json details = {{"server", http::redact_url(m_config.server)}};
    auto stop = [&](Status status, const std::string& summary) {
      details["error"] = summary;
      return Verdict::make(status, summary, details);
    };
    if (!context.from) {
      co_return stop(Status::error, "stage '" + context.stage +
                                        "' has no source stage (from:) whose Argo CD "
                                        "applications to judge");
    }
    const std::string& from = *context.from;
    details["stage"] = from;
    auto entry = context.timeline.entered(from, context.candidate);
    if (!entry) {
      co_return stop(Status::error, "cannot tell which commit brought the candidate into " + from +
                                        ": " + entry.error().message);
    }
    if (!entry->has_value() || (*entry)->commit.empty()) {
      co_return stop(Status::error, "no record names the commit that brought candidate " +
                                        context.candidate.short_id() + " into " + from);
    }
    const std::string commit = (*entry)->commit;
    details["commit"] = commit;
    details["entered_source"] = (*entry)->source;
    if (context.commits == nullptr) {
      co_return stop(Status::error,
                     "the repository's commits cannot be read to compare "
                     "revisions with commit " +
                         short_id(commit));
    }
    const char* set = std::getenv(m_config.token_env.c_str());
    const std::string token = set == nullptr ? std::string() : std::string(set);
    if (token.find_first_not_of(" \t") == std::string::npos) {
      co_return stop(Status::error,
                     "environment variable " + m_config.token_env + " (token_env) is not set");
    }
    if (token.find_first_of("\r\n") != std::string::npos) {
      co_return stop(Status::error, "environment variable " + m_config.token_env +
                                        " (token_env) holds a line break");
    }

    std::vector<ArgoApplication> applications;
    if (!m_config.selector.empty()) {
      const std::string what = "the applications with selector '" + m_config.selector + "'";
      auto fetched = co_await fetch(
          what,
          api_url("/api/v1/applications", "selector=" + util::percent_encode(m_config.selector)),
          true, token, context.base_dir, details);
      if (fetched.verdict) {
        co_return std::move(*fetched.verdict);
      }
      if (fetched.applications.empty()) {
        co_return stop(Status::fail, "no application on Argo CD server " +
                                         http::redact_url(m_config.server) + " matches selector '" +
                                         m_config.selector + "'");
      }
      applications = std::move(fetched.applications);
    } else {
      for (const std::string& name : m_config.applications) {
        auto fetched =
            co_await fetch("application " + name,
                           api_url("/api/v1/applications/" + util::percent_encode(name), ""), false,
                           token, context.base_dir, details);
        if (fetched.verdict) {
          co_return std::move(*fetched.verdict);
        }
        for (auto& app : fetched.applications) {
          if (app.name.empty()) {
            app.name = name;
          }
          applications.push_back(std::move(app));
        }
      }
    }

    Status overall = Status::pass;
    std::string worst;
    std::size_t ready = 0;
    json records = json::array();
    for (const ArgoApplication& app : applications) {
      auto judged = judge_application(app, commit, *context.commits, m_config.suspended);
      if (!judged) {
        co_return stop(Status::error, "application " + app.name + ": " + judged.error().message);
      }
      json record = {{"name", app.name},
                     {"sync_status", app.sync_status},
                     {"health", app.health},
                     {"operation_phase", app.phase},
                     {"finished_at", format_time(app.finished_at)},
                     {"reconciled_at", format_time(app.reconciled_at)},
                     {"verdict", promote::to_string(judged->status)},
                     {"why", judged->why}};
      if (!app.app_namespace.empty()) {
        record["namespace"] = app.app_namespace;
      }
      if (app.multi_source) {
        record["revisions"] = app.revisions;
      } else {
        record["revision"] = app.revisions.empty() ? std::string() : app.revisions.front();
      }
      if (!app.synced_revisions.empty()) {
        record["operation_revisions"] = app.synced_revisions;
      }
      if (!app.health_message.empty()) {
        record["health_message"] = app.health_message;
      }
      if (!app.operation_message.empty()) {
        record["operation_message"] = app.operation_message;
      }
      records.push_back(std::move(record));
      if (judged->status == Status::pass) {
        ++ready;
      }
      if (worst.empty() || rank(judged->status) > rank(overall)) {
        worst = app.name + ": " + judged->why;
        overall = judged->status;
      }
    }
    details["applications"] = std::move(records);
    std::string summary = worst;
    if (applications.size() > 1) {
      summary = std::to_string(ready) + " of " + std::to_string(applications.size()) +
                " applications ready" +
                (overall == Status::pass ? " at commit " + short_id(commit) : "; " + worst);
    }
    Verdict verdict = Verdict::make(overall, std::move(summary), std::move(details));
    if (overall == Status::pending) {
      verdict.retry_after = k_retry_after;
    }
    if (passes(overall)) {
      // Healthy since the last of the syncs that brought the commit finished.
      for (const ArgoApplication& app : applications) {
        if (app.finished_at &&
            (!verdict.healthy_since || *app.finished_at > *verdict.healthy_since)) {
          verdict.healthy_since = app.finished_at;
        }
      }
    }
    co_return verdict;
  }

  ArgoConfig m_config;
};

bool is_env_name(std::string_view text) {
  return !text.empty() && !std::isdigit(static_cast<unsigned char>(text.front())) &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
}

}  // namespace

std::unique_ptr<Gate> make_argocd(const pipeline::ConfigNode& with) {
  static const std::string k_what = "gate 'argocd'";
  if (with.is_null()) {
    with.error("gate 'argocd' needs 'with: { server: <URL>, applications: [...] }'");
    return nullptr;
  }
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (!with.expect_map(k_what, {"server", "token_env", "applications", "selector", "app_namespace",
                                "suspended", "ca_file", "timeout"})) {
    return nullptr;
  }
  ArgoConfig config;
  if (auto node = with.require("server", k_what)) {
    if (auto url = node->as_string("server")) {
      auto parsed = boost::urls::parse_uri(*url);
      if (!parsed ||
          (parsed->scheme_id() != boost::urls::scheme::http &&
           parsed->scheme_id() != boost::urls::scheme::https) ||
          parsed->host_address().empty()) {
        node->error("'server' must be an http:// or https:// URL" +
                    (parsed || url->find('@') == std::string::npos
                         ? ", got '" + http::redact_url(*url) + "'"
                         : std::string()));
      } else if (parsed->has_userinfo()) {
        node->error("'server' must not hold credentials; the token comes from 'token_env'");
      } else if (parsed->has_query() || parsed->has_fragment()) {
        node->error(
            "'server' must be the Argo CD server's base URL, without a query or "
            "fragment");
      } else {
        config.server = *url;
        while (!config.server.empty() && config.server.back() == '/') {
          config.server.pop_back();
        }
      }
    }
  }
  if (auto node = with.get("token_env")) {
    if (auto name = node->as_string("token_env")) {
      if (!is_env_name(*name)) {
        node->error(
            "'token_env' must name an environment variable (letters, digits and _), "
            "got '" +
            *name + "'");
      }
      config.token_env = *name;
    }
  }
  const auto applications = with.get("applications");
  const auto selector = with.get("selector");
  if (applications) {
    if (auto names = applications->as_string_list("applications")) {
      if (names->empty()) {
        applications->error("'applications' must name at least one application");
      }
      for (const std::string& name : *names) {
        if (name.empty()) {
          applications->error("'applications' must not hold an empty name");
        } else if (std::find(config.applications.begin(), config.applications.end(), name) !=
                   config.applications.end()) {
          applications->error("application '" + name + "' is named twice in 'applications'");
        } else {
          config.applications.push_back(name);
        }
      }
    }
  }
  if (selector) {
    if (auto text = selector->as_string("selector")) {
      if (text->find_first_not_of(" \t") == std::string::npos) {
        selector->error("'selector' must not be empty");
      }
      config.selector = *text;
    }
    if (applications) {
      selector->error("'selector' and 'applications' exclude each other: give one");
    }
  }
  if (!applications && !selector) {
    with.error("gate 'argocd' needs 'applications' (names) or 'selector' (a label selector)");
  }
  if (auto node = with.get("app_namespace")) {
    if (auto text = node->as_string("app_namespace")) {
      if (text->empty()) {
        node->error("'app_namespace' must not be empty");
      }
      config.app_namespace = *text;
    }
  }
  if (auto node = with.get("suspended")) {
    if (auto text = node->as_string("suspended")) {
      if (*text == "fail") {
        config.suspended = Status::fail;
      } else if (*text == "pending") {
        config.suspended = Status::pending;
      } else if (*text == "pass") {
        config.suspended = Status::pass;
      } else {
        node->error("'suspended' must be fail, pending or pass, got '" + *text + "'");
      }
    }
  }
  if (auto node = with.get("ca_file")) {
    if (auto text = node->as_string("ca_file")) {
      if (text->empty()) {
        node->error("'ca_file' must not be empty");
      }
      config.ca_file = *text;
    }
  }
  if (auto node = with.get("timeout")) {
    if (auto timeout = node->as_duration("timeout")) {
      if (timeout->count() <= 0) {
        node->error("'timeout' must be longer than 0s");
      }
      config.timeout = *timeout;
    }
  }
  if (with.diagnostics().messages().size() != problems_before) {
    return nullptr;
  }
  return std::make_unique<ArgoCdGate>(std::move(config));
}

}  // namespace promote::gates
