#pragma once
// `promote serve`: the pipelines a service watches, and its HTTP API over them (read-only in
// this version): health, the pipelines with what each stage holds, the history, one record,
// and metrics in the Prometheus text format. Every answer is computed by the same engine as
// the CLI's `status` and `history`, from the same repository and history database.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/history/history.hpp"
#include "engine/http/server.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/serve/access.hpp"
#include "engine/serve/board.hpp"
#include "engine/serve/webhooks.hpp"

namespace promote::serve {

class Loop;

struct ServiceOptions {
  std::vector<std::filesystem::path> pipeline_files;  ///< -f, in order
  std::optional<std::filesystem::path> history_path;  ///< --history (default per pipeline)
  std::optional<std::filesystem::path> tokens_file;   ///< --tokens: who may write (access.hpp)
  /// --workdir: where the remote repositories of the pipelines are kept, each in a directory
  /// named after its pipeline (none: a clone of their own for every run, as the CLI does).
  std::optional<std::filesystem::path> workdir;
};

/// One pipeline the service watches.
struct Watched {
  std::filesystem::path file;
  pipeline::Pipeline pipeline;
  /// Where its remote repository is kept (ServiceOptions::workdir / NAME); none for a
  /// pipeline on the repository that holds its file.
  std::optional<std::filesystem::path> workdir = std::nullopt;
};

/// One page of a pipeline's history: its records (report::history_json), newest first, and the
/// query that gives the next page ("until=..."; "" when this is the last).
struct HistoryPage {
  nlohmann::json records;
  std::string next;
};

/// The decoded parameters of a query string or a form body ("a=1&b=x+y"); fails (usage) on one
/// that does not parse or names a parameter twice.
Result<std::map<std::string, std::string>> parse_parameters(const std::string& query);

class Dashboard;

/// The service: its pipelines, loaded once at start, and the handler of its HTTP API.
class Service {
 public:
  /// Loads every pipeline file. Fails (config) with every problem of a file that does not load,
  /// (usage) when two files name the same pipeline (the API names pipelines by metadata.name).
  static Result<Service> load(const ServiceOptions& options);

  /// Answers a request of the API (see README "Running as a service"). Never throws.
  http::Outgoing handle(const http::Incoming& request) const;

  const std::vector<Watched>& pipelines() const { return m_pipelines; }
  /// The pipeline called `name`, or null.
  const Watched* find(const std::string& name) const;
  const Access& access() const { return m_access; }
  const std::optional<std::filesystem::path>& history_path() const { return m_history_path; }
  Loop* loop() const { return m_loop; }

  /// A page of `watched`'s history filtered by `given` (stage, outcome, candidate, image, actor,
  /// until, limit). Fails (usage) on an unknown or malformed parameter, (input) when the
  /// history cannot be read.
  Result<HistoryPage> history_page(const Watched& watched,
                                   const std::map<std::string, std::string>& given) const;
  /// The record of promotion `id` (report::history_json) in the served histories, or nullopt.
  Result<std::optional<nlohmann::json>> find_promotion(const std::string& id) const;

  /// The loop promoting the `auto` stages, whose state the API shows and which webhooks
  /// trigger (may be null: none).
  void set_loop(Loop* loop);

  /// Takes over what `previous` (the service this one replaces, runtime.hpp) remembers beyond
  /// its pipelines: the webhook deliveries seen, the dashboard's sessions, the gate timings.
  void adopt(const Service& previous);
  /// Called when a push webhook arrives for one of the pipelines (the runtime reads the
  /// pipeline files again); may be empty.
  void set_on_push(std::function<void()> on_push) { m_on_push = std::move(on_push); }

  /// Says that pipeline `name` may show something new (the loop evaluated it).
  void changed(const std::string& name) const;

  /// Counts one gate evaluation of `seconds` (its use: "soak") in the gate duration histogram of
  /// /metrics.
  void gate_timed(const std::string& use, double seconds) const;

  /// What the service shows of its pipelines (board.hpp).
  Board& board() const { return *m_board; }
  /// The same, shared: for what outlives a request (an event stream).
  std::shared_ptr<Board> shared_board() const { return m_board; }

 private:
  Service() = default;
  std::size_t index_of(const Watched& watched) const {
    return static_cast<std::size_t>(&watched - m_pipelines.data());
  }
  http::Outgoing pipelines_json() const;
  http::Outgoing pipeline_json(const Watched& watched) const;
  http::Outgoing history_json(const Watched& watched, const std::string& query) const;
  http::Outgoing promotion_json(const std::string& id) const;
  http::Outgoing metrics() const;
  void stage_metrics(const Watched& watched, const history::History& store, std::ostream& pending,
                     std::ostream& lead) const;

  std::vector<Watched> m_pipelines;
  std::optional<std::filesystem::path> m_history_path;
  std::chrono::system_clock::time_point m_started;
  Loop* m_loop = nullptr;
  std::shared_ptr<Board> m_board;
  std::shared_ptr<Dashboard> m_dashboard;
  struct GateTimes;
  std::shared_ptr<GateTimes> m_gate_times;
  struct MetricsCache;
  std::shared_ptr<MetricsCache> m_metrics;
  struct Listing;
  std::shared_ptr<Listing> m_listing;
  WebhookSecrets m_secrets;
  Access m_access;
  std::shared_ptr<Deliveries> m_deliveries = std::make_shared<Deliveries>();
  std::function<void()> m_on_push;
};

/// "pipelines/shop/history" split at each '/': {"pipelines", "shop", "history"}; empty segments
/// are kept, so that a trailing slash is a path of its own (and unknown).
std::vector<std::string> path_segments(std::string_view path);

/// `value` as the API sends it: indented by 2, with a final newline.
std::string json_text(const nlohmann::json& value);

/// A JSON response of `text` (json_text) with Content-Type application/json.
http::Outgoing json_text_response(unsigned status, std::string text);

/// A JSON response: `value` with Content-Type application/json.
http::Outgoing json_response(unsigned status, const nlohmann::json& value);

/// An error as JSON ({"error": {"kind", "message"}}) with `status`.
http::Outgoing error_response(unsigned status, const std::string& kind, const std::string& message);

}  // namespace promote::serve
