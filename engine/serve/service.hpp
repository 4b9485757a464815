#pragma once
// `promote serve`: the pipelines a service watches, and its HTTP API over them (read-only in
// this version): health, the pipelines with what each stage holds, the history, one record,
// and metrics in the Prometheus text format. Every answer is computed by the same engine as
// the CLI's `status` and `history`, from the same repository and history database.

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/http/server.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/serve/access.hpp"
#include "engine/serve/webhooks.hpp"

namespace promote::serve {

class Loop;

struct ServiceOptions {
  std::vector<std::filesystem::path> pipeline_files;  ///< -f, in order
  std::optional<std::filesystem::path> history_path;  ///< --history (default per pipeline)
  std::optional<std::filesystem::path> tokens_file;   ///< --tokens: who may write (access.hpp)
};

/// One pipeline the service watches.
struct Watched {
  std::filesystem::path file;
  pipeline::Pipeline pipeline;
};

/// The service: its pipelines, loaded once at start, and the handler of its HTTP API.
class Service {
 public:
  /// Loads every pipeline file. Fails (config) with every problem of a file that does not load,
  /// (usage) when two files name the same pipeline (the API names pipelines by metadata.name).
  static Result<Service> load(const ServiceOptions& options);

  /// Answers a request of the API (see README "Running as a service"). Never throws.
  http::Outgoing handle(const http::Incoming& request) const;

  const std::vector<Watched>& pipelines() const { return m_pipelines; }

  /// The loop promoting the `auto` stages, whose state the API shows and which webhooks
  /// trigger (may be null: none).
  void set_loop(Loop* loop) { m_loop = loop; }

 private:
  Service() = default;
  const Watched* find(const std::string& name) const;
  http::Outgoing pipelines_json() const;
  http::Outgoing pipeline_json(const Watched& watched) const;
  http::Outgoing history_json(const Watched& watched, const std::string& query) const;
  http::Outgoing promotion_json(const std::string& id) const;
  http::Outgoing metrics() const;

  std::vector<Watched> m_pipelines;
  std::optional<std::filesystem::path> m_history_path;
  std::chrono::system_clock::time_point m_started;
  Loop* m_loop = nullptr;
  WebhookSecrets m_secrets;
  Access m_access;
  std::shared_ptr<Deliveries> m_deliveries = std::make_shared<Deliveries>();
};

/// A JSON response: `value` with Content-Type application/json.
http::Outgoing json_response(unsigned status, const nlohmann::json& value);

/// An error as JSON ({"error": {"kind", "message"}}) with `status`.
http::Outgoing error_response(unsigned status, const std::string& kind, const std::string& message);

}  // namespace promote::serve
