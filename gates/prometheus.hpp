#pragma once
// The `prometheus` gate: an instant query against the Prometheus HTTP API
// (/api/v1/query), sampled one or more times, each sample judged by a condition.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/http/client.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// A comparison a value must satisfy: "< 0.01", ">= 99.5", "== 1", "!= 0",
/// "between 0.9 and 1.1" (inclusive).
struct Condition {
  enum class Op { lt, le, gt, ge, eq, ne, between };
  Op op = Op::lt;
  double value = 0;
  double upper = 0;  ///< for `between`
  std::string text;  ///< as written, trimmed

  /// Whether `x` satisfies the condition; NaN never does.
  bool holds(double x) const;
};

/// Parses a condition; fails (config) with "invalid condition 'TEXT': expected ..." .
Result<Condition> parse_condition(std::string_view text);

/// One series of a query result, reduced to one float value.
struct Series {
  nlohmann::json metric;  ///< the labels ({} for a scalar)
  std::string raw;        ///< the value as the server wrote it ("0.5", "NaN", "+Inf")
  double value = 0;
};

/// A successful query result.
struct QueryResult {
  std::string result_type;  ///< vector, scalar or matrix
  std::vector<Series> series;
  std::vector<std::string> warnings;
};

/// Parses a sample value as Prometheus writes it ("1e-3", "NaN", "+Inf", "-Inf").
std::optional<double> parse_sample_value(std::string_view text);

/// Parses a /api/v1/query response envelope. A vector gives one series per sample, a
/// scalar one series with empty labels, a matrix the last point of each series. Fails
/// (http) with "LABEL: what" for a body that is no JSON object, `status: error`
/// ("prometheus error (bad_data): ..."), a missing or unknown status, a `string` or
/// unknown result type, native histogram samples and malformed values.
Result<QueryResult> parse_query_response(std::string_view body, const std::string& label);

/// How several series become a verdict: `each` judges every series, the others one value.
enum class Reduce { each, max, min, avg, sum };

/// The validated `with:` block of a `prometheus` gate.
struct PrometheusConfig {
  std::string url;  ///< the server's base URL (no userinfo), e.g. http://prometheus:9090
  std::string query;
  std::string method = "GET";  ///< GET or POST
  Condition condition;
  Reduce reduce = Reduce::each;
  long long samples = 1;
  std::chrono::seconds interval = std::chrono::minutes(1);
  std::chrono::seconds initial_delay{0};
  long long failure_limit = 0;       ///< fail when more samples than this fail
  long long consecutive_errors = 3;  ///< error after this many errored samples in a row
  Verdict::Status on_empty = Verdict::Status::error;
  std::string bearer_env;  ///< environment variable holding a bearer token
  std::string username_env;
  std::string password_env;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  ///< per request
};

/// Sends one HTTP request; the real one is `http::request`, tests pass a fake.
using Fetch = std::function<boost::asio::awaitable<Result<http::Response>>(http::Request)>;

/// Samples a query and judges it. `pass` once enough samples satisfy the condition that
/// at most `failure_limit` can fail, `fail` once more than `failure_limit` failed,
/// `error` after `consecutive_errors` errored samples in a row or when the samples run
/// out undecided, and the `on_empty` status as soon as a sample has no series. Waits
/// `initial_delay`, then `interval` between samples, on cancellable timers.
class PrometheusGate : public Gate {
 public:
  explicit PrometheusGate(PrometheusConfig config, Fetch fetch = http::request)
      : m_config(std::move(config)), m_fetch(std::move(fetch)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override;
  /// The configuration; auth names its environment variables, never their values.
  nlohmann::json config() const override;
  /// The query URL as requested (for GET with its query string), without secrets.
  std::string query_url() const;

 private:
  PrometheusConfig m_config;
  Fetch m_fetch;
};

/// Validates a `prometheus` gate's `with:` block; reports every problem into
/// `with.diagnostics()` and returns nullopt when the block is invalid.
std::optional<PrometheusConfig> read_prometheus_config(const pipeline::ConfigNode& with);

/// Builds a `prometheus` gate from its `with:` block; reports every problem into
/// `with.diagnostics()` and returns nullptr when the block is invalid.
std::unique_ptr<Gate> make_prometheus(const pipeline::ConfigNode& with);

}  // namespace promote::gates
