#include "engine/serve/service.hpp"

#include <algorithm>
#include <array>
#include <boost/url/parse_query.hpp>
#include <charconv>
#include <cstdio>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "engine/history/history.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/status.hpp"
#include "engine/report/tables.hpp"
#include "engine/serve/commands.hpp"
#include "engine/serve/dashboard.hpp"
#include "engine/serve/loop.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"
#include "gates/registry.hpp"

namespace promote::serve {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::size_t k_default_limit = 50;
constexpr std::size_t k_max_limit = 500;
constexpr const char* k_api = "/api/v1/";

// The decoded parameters of a query string ("a=1&b=x%20y"); fails (usage) on one that does not
// parse or names a parameter twice.
}  // namespace

Result<std::map<std::string, std::string>> parse_parameters(const std::string& query) {
  std::map<std::string, std::string> out;
  if (query.empty()) {
    return out;
  }
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) {
    return make_error(ErrorKind::usage, "the query string does not parse");
  }
  boost::urls::encoding_opts plus;
  plus.space_as_plus = true;
  for (const auto& param : *parsed) {
    std::string key = param.key.decode(plus);
    std::string value = param.has_value ? param.value.decode(plus) : std::string();
    if (!out.emplace(key, std::move(value)).second) {
      return make_error(ErrorKind::usage, "parameter '" + key + "' is given twice");
    }
  }
  return out;
}

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= path.size()) {
    const std::size_t end = std::min(path.find('/', at), path.size());
    out.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

namespace {

// Prometheus label values: backslash, double quote and line feed escaped.
std::string label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Seconds since the epoch, to the millisecond, as Prometheus reads them ("1793534401.000").
std::string seconds_since_epoch(std::chrono::system_clock::time_point at) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch());
  char text[32];
  std::snprintf(text, sizeof text, "%lld.%03lld", static_cast<long long>(ms.count() / 1000),
                static_cast<long long>(ms.count() % 1000));
  return text;
}

// The upper bounds of the gate duration histogram, in seconds: a file read to a long soak query.
constexpr double k_gate_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1,     2.5,  5,     10,   30,  60,   300};
constexpr std::size_t k_bucket_count = std::size(k_gate_buckets);

}  // namespace

/// The last answer of /api/v1/pipelines, and the documents it was made of.
struct Service::Listing {
  std::mutex mutex;
  std::vector<std::shared_ptr<const Snapshot>> snapshots;  ///< under mutex
  std::string body;                                        ///< under mutex
};

/// The last text of /metrics, and when it was made.
struct Service::MetricsCache {
  std::mutex mutex;
  std::optional<std::chrono::steady_clock::time_point> at;  ///< under mutex
  std::string body;                                         ///< under mutex
  bool making = false;  ///< under mutex: a request is making the next text
};

/// Gate evaluation times by use, as Prometheus histograms.
struct Service::GateTimes {
  struct Histogram {
    std::array<std::uint64_t, k_bucket_count> buckets{};  ///< not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mutex;
  std::map<std::string, Histogram> by_use;  ///< under mutex
};

void Service::gate_timed(const std::string& use, double seconds) const {
  std::lock_guard lock(m_gate_times->mutex);
  auto& histogram = m_gate_times->by_use[use];
  const auto* bucket =
      std::lower_bound(std::begin(k_gate_buckets), std::end(k_gate_buckets), seconds);
  if (bucket != std::end(k_gate_buckets)) {
    ++histogram.buckets[static_cast<std::size_t>(bucket - std::begin(k_gate_buckets))];
  }
  ++histogram.count;
  histogram.sum += seconds;
}

std::string json_text(const json& value) {
  return util::dump_json(value, 2) + "\n";
}

http::Outgoing json_text_response(unsigned status, std::string text) {
  http::Outgoing out;
  out.status = status;
  out.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  out.body = std::move(text);
  return out;
}

http::Outgoing json_response(unsigned status, const json& value) {
  return json_text_response(status, json_text(value));
}

http::Outgoing error_response(unsigned status, const std::string& kind,
                              const std::string& message) {
  return json_response(status, {{"error", {{"kind", kind}, {"message", message}}}});
}

namespace {

// A repository or history that cannot be read: 503, with the engine's error.
http::Outgoing unavailable(const Error& error) {
  return error_response(503, to_string(error.kind), error.message);
}

}  // namespace

Result<Service> Service::load(const ServiceOptions& options) {
  if (options.pipeline_files.empty()) {
    return make_error(ErrorKind::usage, "serve needs at least one pipeline file (-f)");
  }
  Service service;
  service.m_history_path = options.history_path;
  service.m_started = std::chrono::system_clock::now();
  service.m_secrets = WebhookSecrets::from_environment();
  if (options.tokens_file) {
    auto access = Access::load(*options.tokens_file);
    if (!access) {
      return access.error();
    }
    service.m_access = std::move(*access);
  }
  std::string problems;
  for (const auto& file : options.pipeline_files) {
    auto loaded = pipeline::load(file, gates::Catalog::for_pipeline(file));
    if (!loaded) {
      problems += (problems.empty() ? "" : "\n") + loaded.error().message;
      continue;
    }
    if (const Watched* other = service.find(loaded->name)) {
      return make_error(ErrorKind::usage, file.string() + " and " + other->file.string() +
                                              " both name pipeline '" + loaded->name +
                                              "': the service names pipelines by metadata.name");
    }
    std::optional<fs::path> workdir;
    if (options.workdir && !loaded->repository.is_local()) {
      workdir = *options.workdir / loaded->name;
    }
    service.m_pipelines.push_back(Watched{file, std::move(*loaded), std::move(workdir)});
  }
  if (!problems.empty()) {
    return make_error(ErrorKind::config, problems);
  }
  service.m_board = std::make_shared<Board>(service.m_pipelines, service.m_history_path);
  service.m_gate_times = std::make_shared<GateTimes>();
  service.m_metrics = std::make_shared<MetricsCache>();
  service.m_listing = std::make_shared<Listing>();
  service.m_dashboard = std::make_shared<Dashboard>();
  return service;
}

const Watched* Service::find(const std::string& name) const {
  for (const auto& watched : m_pipelines) {
    if (watched.pipeline.name == name) {
      return &watched;
    }
  }
  return nullptr;
}

http::Outgoing Service::handle(const http::Incoming& request) const {
  try {
    const std::string& path = request.path;
    // 405 with the methods `path` allows, unless the request's is one of them.
    const auto refused_method = [&](bool post) -> std::optional<http::Outgoing> {
      const bool allowed =
          post ? request.method == "POST" : request.method == "GET" || request.method == "HEAD";
      if (allowed) {
        return std::nullopt;
      }
      http::Outgoing refused = error_response(
          405, "usage",
          request.method + " " + path + ": only " + (post ? "POST" : "GET") + " is allowed here");
      refused.headers.emplace_back("Allow", post ? "POST" : "GET, HEAD");
      return refused;
    };
    const auto only_get = [&](auto answer) {
      auto refused = refused_method(false);
      return refused ? std::move(*refused) : answer();
    };
    if (path == "/healthz") {
      return only_get([] {
        http::Outgoing out;
        out.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
        out.body = "ok\n";
        return out;
      });
    }
    if (path == "/readyz") {
      return only_get([&] {
        return json_response(200, {{"ready", true}, {"pipelines", m_pipelines.size()}});
      });
    }
    if (path == "/metrics") {
      return only_get([&] { return metrics(); });
    }
    if (path.starts_with("/hooks/")) {
      if (auto refused = refused_method(true)) {
        return std::move(*refused);
      }
      http::Outgoing answer = receive_webhook(path.substr(std::string("/hooks/").size()), request,
                                              m_pipelines, m_secrets, *m_deliveries, m_loop);
      if (m_on_push && answer.status == 202) {
        // A push to a pipeline's branch: its file may say something new.
        const json said = json::parse(answer.body, nullptr, false);
        if (said.is_object() && said.value("action", "") == "evaluate" &&
            (said.value("event", "") == "push" || said.value("event", "") == "Push Hook")) {
          m_on_push();
        }
      }
      return answer;
    }
    if (!path.starts_with(k_api)) {
      if (auto page = m_dashboard->handle(*this, request)) {
        return std::move(*page);
      }
      return error_response(404, "usage", "no such resource: " + path);
    }
    const auto parts = path_segments(std::string_view(path).substr(std::string_view(k_api).size()));
    if (parts.size() == 1 && parts[0] == "pipelines") {
      return only_get([&] { return pipelines_json(); });
    }
    if (parts.size() == 2 && parts[0] == "promotions") {
      return only_get([&] { return promotion_json(parts[1]); });
    }
    if (parts.size() < 2 || parts[0] != "pipelines") {
      return error_response(404, "usage", "no such resource: " + path);
    }
    const Watched* watched = find(parts[1]);
    if (watched == nullptr) {
      return error_response(404, "usage", "no pipeline '" + parts[1] + "' is served here");
    }
    if (parts.size() == 2) {
      return only_get([&] { return pipeline_json(*watched); });
    }
    if (parts.size() == 3 && parts[2] == "history") {
      return only_get([&] { return history_json(*watched, request.query); });
    }
    // POST /api/v1/pipelines/NAME/stages/STAGE/ACTION
    if (parts.size() == 5 && parts[2] == "stages") {
      const std::string& action = parts[4];
      if (action != "promote" && action != "rollback" && action != "approve" &&
          action != "reject" && action != "hold" && action != "release") {
        return error_response(
            404, "usage",
            "no command '" + action + "' (promote, rollback, approve, reject, hold, release)");
      }
      if (auto refused = refused_method(true)) {
        return std::move(*refused);
      }
      std::string actor;
      if (auto refusal =
              m_access.refuse(request, action, watched->pipeline.name, parts[3], actor)) {
        http::Outgoing refused = error_response(refusal->status, "usage", refusal->message);
        if (refusal->status == 401) {
          refused.headers.emplace_back("WWW-Authenticate", "Bearer");
        }
        return refused;
      }
      http::Outgoing done =
          run_command(*watched, parts[3], action, actor, request.body, m_history_path, m_loop);
      changed(watched->pipeline.name);  // what the API and the pages show of it moved
      return done;
    }
    return error_response(404, "usage", "no such resource: " + path);
  } catch (const std::exception& e) {
    util::notice(std::string("serve: ") + request.method + " " + request.path + ": " + e.what());
    return error_response(500, "internal", "the request could not be answered");
  }
}

http::Outgoing Service::pipelines_json() const {
  std::vector<std::shared_ptr<const Snapshot>> snapshots;
  for (const auto& watched : m_pipelines) {
    snapshots.push_back(m_board->snapshot(index_of(watched)));
  }
  // The same documents as the last answer's: the same body.
  {
    std::lock_guard lock(m_listing->mutex);
    if (m_listing->snapshots == snapshots) {
      return json_text_response(200, m_listing->body);
    }
  }
  json list = json::array();
  for (const auto& watched : m_pipelines) {
    json entry = {{"name", watched.pipeline.name}, {"file", watched.file.string()}};
    const auto& snapshot = snapshots[index_of(watched)];
    if (snapshot->error) {
      entry["stages"] = json::array();
      entry["error"] = snapshot->error->message;
    } else {
      // The stages as `promote status --json` shows them.
      json stages = json::array();
      for (const auto& stage : snapshot->document["stages"]) {
        json row = json::object();
        for (const char* key :
             {"name", "from", "target", "candidate", "problem", "entered_at", "entered_source"}) {
          if (stage.contains(key)) {
            row[key] = stage[key];
          }
        }
        stages.push_back(std::move(row));
      }
      entry["stages"] = std::move(stages);
      entry["error"] = nullptr;
    }
    list.push_back(std::move(entry));
  }
  http::Outgoing out = json_response(200, {{"pipelines", std::move(list)}});
  std::lock_guard lock(m_listing->mutex);
  m_listing->snapshots = std::move(snapshots);
  m_listing->body = out.body;
  return out;
}

http::Outgoing Service::pipeline_json(const Watched& watched) const {
  const auto snapshot = m_board->snapshot(index_of(watched));
  if (snapshot->error) {
    return unavailable(*snapshot->error);
  }
  return json_text_response(200, snapshot->body);
}

void Service::adopt(const Service& previous) {
  m_deliveries = previous.m_deliveries;
  m_dashboard = previous.m_dashboard;
  m_gate_times = previous.m_gate_times;
}

void Service::set_loop(Loop* loop) {
  m_loop = loop;
  m_board->set_loop(loop);
}

void Service::changed(const std::string& name) const {
  m_board->changed(name);
}

Result<HistoryPage> Service::history_page(const Watched& watched,
                                          const std::map<std::string, std::string>& given) const {
  history::Query filter;
  filter.pipeline = promoter::pipeline_identity(watched.pipeline);
  filter.limit = k_default_limit;
  for (const auto& [key, value] : given) {
    if (key == "stage") {
      filter.stage = value;
    } else if (key == "outcome") {
      filter.outcome = value;
    } else if (key == "candidate") {
      filter.candidate_id = value;
    } else if (key == "image") {
      filter.image = value;
    } else if (key == "actor") {
      filter.actor = value;
    } else if (key == "until") {
      auto until = history::parse_time(value);
      if (!until) {
        return make_error(ErrorKind::usage, "until: " + until.error().message);
      }
      filter.until = *until;
    } else if (key == "limit") {
      std::size_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || end != value.data() + value.size() || limit == 0 ||
          limit > k_max_limit) {
        return make_error(ErrorKind::usage, "limit must be a number from 1 to " +
                                                std::to_string(k_max_limit) + ", got '" + value +
                                                "'");
      }
      filter.limit = limit;
    } else {
      return make_error(ErrorKind::usage,
                        "unknown parameter '" + key +
                            "' (stage, outcome, candidate, image, actor, until, limit)");
    }
  }
  auto store = history::History::open_existing(
      promoter::history_path(watched.pipeline.file, m_history_path));
  if (!store) {
    return store.error();
  }
  HistoryPage page;
  page.records = json::array();
  if (*store) {
    // One more than asked: whether there is a next page, and where it starts.
    const std::size_t asked = filter.limit;
    filter.limit = asked + 1;
    auto found = (*store)->list(filter);
    if (!found) {
      return found.error();
    }
    if (found->size() > asked) {
      found->resize(asked);
      page.next = "until=" + history::format_time(found->back().started);
    }
    page.records = report::history_json(*found);
  }
  return page;
}

http::Outgoing Service::history_json(const Watched& watched, const std::string& query) const {
  auto given = parse_parameters(query);
  if (!given) {
    return error_response(400, "usage", given.error().message);
  }
  auto page = history_page(watched, *given);
  if (!page) {
    return page.error().kind == ErrorKind::usage
               ? error_response(400, "usage", page.error().message)
               : unavailable(page.error());
  }
  return json_response(200, {{"promotions", std::move(page->records)},
                             {"next", page->next.empty() ? json() : json(page->next)}});
}

Result<std::optional<json>> Service::find_promotion(const std::string& id) const {
  std::set<fs::path> read;  // pipelines may share one history
  for (const auto& watched : m_pipelines) {
    const fs::path path = promoter::history_path(watched.pipeline.file, m_history_path);
    if (!read.insert(path).second) {
      continue;
    }
    auto store = history::History::open_existing(path);
    if (!store) {
      return store.error();
    }
    if (!*store) {
      continue;
    }
    history::Query query;
    query.id = id;
    auto found = (*store)->list(query);
    if (!found) {
      return found.error();
    }
    if (!found->empty()) {
      return std::optional<json>(report::history_json(*found).at(0));
    }
  }
  return std::optional<json>();
}

http::Outgoing Service::promotion_json(const std::string& id) const {
  auto found = find_promotion(id);
  if (!found) {
    return unavailable(found.error());
  }
  if (!*found) {
    return error_response(404, "usage", "no promotion '" + id + "' in the served histories");
  }
  return json_response(200, **found);
}

void Service::stage_metrics(const Watched& watched, const history::History& store,
                            std::ostream& pending, std::ostream& lead) const {
  const auto snapshot = m_board->snapshot(index_of(watched));
  if (snapshot->error || watched.pipeline.stages.empty()) {
    return;
  }
  const history::PipelineId id = promoter::pipeline_identity(watched.pipeline);
  const std::string first = watched.pipeline.stages.front().name;
  for (const auto& stage : snapshot->document["stages"]) {
    const std::string name = stage.value("name", "");
    const std::string labels =
        "{pipeline=\"" + label(watched.pipeline.name) + "\",stage=\"" + label(name) + "\"}";
    const json& automatic = stage["auto"];
    const json& recorded = stage["last"];
    std::string outcome;
    if (automatic.is_object() && automatic["outcome"].is_string()) {
      outcome = automatic["outcome"];
    } else if (recorded.is_object()) {
      outcome = recorded.value("outcome", "");
    }
    pending << "promote_stage_pending" << labels << " " << (outcome == "pending" ? 1 : 0) << "\n";
    if (name == first || !stage["candidate"].is_object() || !stage["entered_at"].is_string()) {
      continue;
    }
    history::Query query;
    query.pipeline = id;
    query.stage = first;
    query.candidate_id = stage["candidate"].value("id", "");
    query.outcome = "promoted";
    query.with_gates = false;
    auto found = store.list(query);
    auto entered = history::parse_time(stage["entered_at"].get<std::string>());
    if (found && !found->empty() && entered && found->back().finished <= *entered) {
      const auto seconds =
          std::chrono::duration_cast<std::chrono::milliseconds>(*entered - found->back().finished);
      lead << "promote_lead_time_seconds" << labels << " " << seconds.count() / 1000 << "."
           << std::setw(3) << std::setfill('0') << seconds.count() % 1000 << "\n";
    }
  }
}

http::Outgoing Service::metrics() const {
  // Scrapes come every few seconds; a burst of them is answered from the last second's text.
  http::Outgoing response;
  response.headers = {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
  {
    // Fresh, or another request is making the next: the last text. One request makes it.
    std::lock_guard lock(m_metrics->mutex);
    const bool fresh = m_metrics->at &&
                       std::chrono::steady_clock::now() - *m_metrics->at < std::chrono::seconds(1);
    if (fresh || (m_metrics->making && m_metrics->at)) {
      response.body = m_metrics->body;
      return response;
    }
    m_metrics->making = true;
  }
  struct Made {  // the next request makes it, whatever happens to this one
    MetricsCache& cache;
    ~Made() {
      std::lock_guard lock(cache.mutex);
      cache.making = false;
    }
  } made{*m_metrics};
  std::ostringstream out;
  out << "# HELP promote_up Whether the service answers.\n# TYPE promote_up gauge\npromote_up 1\n"
      << "# HELP promote_start_time_seconds When the service started, since the epoch.\n"
      << "# TYPE promote_start_time_seconds gauge\n"
      << "promote_start_time_seconds " << seconds_since_epoch(m_started) << "\n"
      << "# HELP promote_pipelines The pipelines the service watches.\n"
      << "# TYPE promote_pipelines gauge\npromote_pipelines " << m_pipelines.size() << "\n";
  std::ostringstream counts;
  std::ostringstream last;
  std::ostringstream failures;
  std::ostringstream pending;
  std::ostringstream lead;
  // Pipelines may share a history: each database is opened once per scrape.
  std::map<fs::path, Result<std::optional<history::History>>> opened;
  for (const auto& watched : m_pipelines) {
    const std::string name = label(watched.pipeline.name);
    const fs::path path = promoter::history_path(watched.pipeline.file, m_history_path);
    auto found = opened.find(path);
    if (found == opened.end()) {
      found = opened.emplace(path, history::History::open_existing(path)).first;
    }
    auto& store = found->second;
    if (store && !*store) {
      continue;  // nothing recorded yet
    }
    auto rows = store ? (*store)->outcomes(promoter::pipeline_identity(watched.pipeline))
                      : Result<std::vector<history::History::StageOutcomes>>(store.error());
    if (!rows) {
      failures << "promote_history_errors{pipeline=\"" << name << "\"} 1\n";
      continue;
    }
    for (const auto& row : *rows) {
      counts << "promote_promotions_total{pipeline=\"" << name << "\",stage=\"" << label(row.stage)
             << "\",outcome=\"" << label(row.outcome) << "\"} " << row.count << "\n";
      if (row.outcome == "promoted" && row.last_finished) {
        last << "promote_last_promotion_timestamp_seconds{pipeline=\"" << name << "\",stage=\""
             << label(row.stage) << "\"} " << seconds_since_epoch(*row.last_finished) << "\n";
      }
    }
    stage_metrics(watched, **store, pending, lead);
  }
  std::ostringstream evaluations;
  std::ostringstream next;
  if (m_loop != nullptr) {
    for (const StageRun& run : m_loop->runs()) {
      const std::string labels =
          "{pipeline=\"" + label(run.pipeline) + "\",stage=\"" + label(run.stage) + "\"}";
      evaluations << "promote_auto_evaluations_total" << labels << " " << run.evaluations << "\n";
      if (run.next != std::chrono::system_clock::time_point::max()) {
        next << "promote_auto_next_evaluation_timestamp_seconds" << labels << " "
             << seconds_since_epoch(run.next) << "\n";
      }
    }
  }
  out << "# HELP promote_auto_evaluations_total Evaluations of each auto stage by the service.\n"
      << "# TYPE promote_auto_evaluations_total counter\n"
      << evaluations.str()
      << "# HELP promote_auto_next_evaluation_timestamp_seconds When each auto stage is "
         "evaluated next.\n"
      << "# TYPE promote_auto_next_evaluation_timestamp_seconds gauge\n"
      << next.str();
  out << "# HELP promote_stage_pending Whether a stage's latest attempt (the service's, else the "
         "history's) is pending.\n"
      << "# TYPE promote_stage_pending gauge\n"
      << pending.str()
      << "# HELP promote_lead_time_seconds From the entry of the release a stage runs into the "
         "first stage to its entry into this one.\n"
      << "# TYPE promote_lead_time_seconds gauge\n"
      << lead.str();
  out << "# HELP promote_gate_duration_seconds How long the service's evaluations of each kind "
         "of gate took, retries included.\n"
      << "# TYPE promote_gate_duration_seconds histogram\n";
  {
    std::lock_guard lock(m_gate_times->mutex);
    for (const auto& [use, histogram] : m_gate_times->by_use) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < k_bucket_count; ++i) {
        cumulative += histogram.buckets[i];
        char bound[32];
        std::snprintf(bound, sizeof bound, "%g", k_gate_buckets[i]);
        out << "promote_gate_duration_seconds_bucket{use=\"" << label(use) << "\",le=\"" << bound
            << "\"} " << cumulative << "\n";
      }
      out << "promote_gate_duration_seconds_bucket{use=\"" << label(use) << "\",le=\"+Inf\"} "
          << histogram.count << "\n"
          << "promote_gate_duration_seconds_sum{use=\"" << label(use) << "\"} " << histogram.sum
          << "\n"
          << "promote_gate_duration_seconds_count{use=\"" << label(use) << "\"} " << histogram.count
          << "\n";
    }
  }
  out << "# HELP promote_promotions_total Recorded attempts by pipeline, stage and outcome.\n"
      << "# TYPE promote_promotions_total counter\n"
      << counts.str()
      << "# HELP promote_last_promotion_timestamp_seconds When each stage last took a release.\n"
      << "# TYPE promote_last_promotion_timestamp_seconds gauge\n"
      << last.str() << "# HELP promote_history_errors Pipelines whose history could not be read.\n"
      << "# TYPE promote_history_errors gauge\n"
      << failures.str();
  response.body = out.str();
  std::lock_guard lock(m_metrics->mutex);
  m_metrics->at = std::chrono::steady_clock::now();
  m_metrics->body = response.body;
  return response;
}

}  // namespace promote::serve
