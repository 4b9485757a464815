#include "gates/prometheus.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"

namespace promote::gates {

namespace asio = boost::asio;
using Status = Verdict::Status;
using json = nlohmann::json;

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// A plain decimal number as written in a condition ("0.01", "-3", "1e3").
std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (text.empty()) {
    return std::nullopt;
  }
  if (text.front() == '+') {
    text.remove_prefix(1);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

const char* to_string(Reduce reduce) {
  switch (reduce) {
    case Reduce::each:
      return "each";
    case Reduce::max:
      return "max";
    case Reduce::min:
      return "min";
    case Reduce::avg:
      return "avg";
    case Reduce::sum:
      return "sum";
  }
  return "each";
}

std::string format_seconds(std::chrono::seconds duration) {
  return pipeline::format_duration(duration);
}

std::string format_metric(const json& metric) {
  std::string name;
  std::string labels;
  if (metric.is_object()) {
    for (const auto& [key, value] : metric.items()) {
      const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      if (key == "__name__") {
        name = text;
        continue;
      }
      labels += (labels.empty() ? "" : ",") + key + "=\"" + text + "\"";
    }
  }
  return name + "{" + labels + "}";
}

// What one sample found.
struct Sample {
  enum class Kind { pass, fail, error, empty } kind = Kind::error;
  std::string description;  // for summaries: "0.2 breaks < 0.01", or the error message
  json record;              // for the details
};

}  // namespace

bool Condition::holds(double x) const {
  if (std::isnan(x)) {
    return false;
  }
  switch (op) {
    case Op::lt:
      return x < value;
    case Op::le:
      return x <= value;
    case Op::gt:
      return x > value;
    case Op::ge:
      return x >= value;
    case Op::eq:
      return x == value;
    case Op::ne:
      return x != value;
    case Op::between:
      return x >= value && x <= upper;
  }
  return false;
}

Result<Condition> parse_condition(std::string_view text) {
  const std::string_view trimmed = trim(text);
  auto invalid = [&](const std::string& why) {
    return make_error(ErrorKind::config,
                      "invalid condition '" + std::string(trimmed) + "': " + why);
  };
  Condition condition;
  condition.text = std::string(trimmed);
  if (trimmed.substr(0, 8) == "between ") {
    const std::string_view rest = trimmed.substr(8);
    const auto and_at = rest.find(" and ");
    if (and_at == std::string_view::npos) {
      return invalid("expected 'between LOW and HIGH'");
    }
    const auto low = parse_number(rest.substr(0, and_at));
    const auto high = parse_number(rest.substr(and_at + 5));
    if (!low || !high) {
      return invalid("expected 'between LOW and HIGH' with two numbers");
    }
    if (*low > *high) {
      return invalid("the lower bound is above the upper bound");
    }
    condition.op = Condition::Op::between;
    condition.value = *low;
    condition.upper = *high;
    return condition;
  }
  static const std::pair<std::string_view, Condition::Op> k_ops[] = {
      {"<=", Condition::Op::le}, {">=", Condition::Op::ge}, {"==", Condition::Op::eq},
      {"!=", Condition::Op::ne}, {"<", Condition::Op::lt},  {">", Condition::Op::gt},
  };
  for (const auto& [symbol, op] : k_ops) {
    if (trimmed.substr(0, symbol.size()) == symbol) {
      const auto number = parse_number(trimmed.substr(symbol.size()));
      if (!number) {
        return invalid("expected a number after '" + std::string(symbol) + "'");
      }
      condition.op = op;
      condition.value = *number;
      return condition;
    }
  }
  return invalid(
      "expected '< N', '<= N', '> N', '>= N', '== N', '!= N' or "
      "'between LOW and HIGH'");
}

std::optional<double> parse_sample_value(std::string_view text) {
  if (text == "NaN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (text == "+Inf" || text == "Inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-Inf") {
    return -std::numeric_limits<double>::infinity();
  }
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) {
    return std::nullopt;
  }
  std::string_view digits = text;
  if (digits.front() == '+') {
    digits.remove_prefix(1);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (end != digits.data() + digits.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return std::nullopt;
  }
  return value;
}

Result<QueryResult> parse_query_response(std::string_view body, const std::string& label) {
  auto bad = [&](const std::string& what) {
    return make_error(ErrorKind::http, label + ": " + what);
  };
  if (const std::size_t deep = util::json_too_deep(body); deep != std::string_view::npos) {
    return bad("the response nests more than " + std::to_string(util::k_max_json_depth) +
               " levels deep (at byte " + std::to_string(deep) + ")");
  }
  const json document = json::parse(body, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return bad("the response is not a JSON object");
  }
  const auto status = document.find("status");
  if (status == document.end() || !status->is_string()) {
    return bad("the response has no 'status'");
  }
  if (*status == "error") {
    const auto type = document.value("errorType", std::string("unknown"));
    const auto message = document.value("error", std::string("(no message)"));
    return bad("prometheus error (" + type + "): " + message);
  }
  if (*status != "success") {
    return bad("unknown status '" + status->get<std::string>() + "'");
  }
  QueryResult result;
  if (const auto warnings = document.find("warnings");
      warnings != document.end() && warnings->is_array()) {
    for (const auto& warning : *warnings) {
      result.warnings.push_back(warning.is_string() ? warning.get<std::string>() : warning.dump());
    }
  }
  const auto data = document.find("data");
  if (data == document.end() || !data->is_object()) {
    return bad("'data' is not an object with 'resultType' and 'result'");
  }
  const auto type = data->find("resultType");
  const auto items = data->find("result");
  if (type == data->end() || !type->is_string() || items == data->end()) {
    return bad("'data' is not an object with 'resultType' and 'result'");
  }
  result.result_type = type->get<std::string>();

  // A [timestamp, "value"] pair.
  auto point = [&](const json& pair, const json& metric) -> Result<Series> {
    if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
      return bad("a sample of " + format_metric(metric) + " is not a [timestamp, \"value\"] pair");
    }
    const std::string raw = pair[1].get<std::string>();
    const auto value = parse_sample_value(raw);
    if (!value) {
      return bad("a sample of " + format_metric(metric) + " has the value '" + raw +
                 "', which is not a number");
    }
    return Series{metric, raw, *value};
  };

  if (result.result_type == "scalar") {
    auto series = point(*items, json::object());
    if (!series) {
      return series.error();
    }
    result.series.push_back(std::move(*series));
    return result;
  }
  if (result.result_type == "string") {
    return bad("the query returned a string, not a number");
  }
  if (result.result_type != "vector" && result.result_type != "matrix") {
    return bad("unknown result type '" + result.result_type + "'");
  }
  if (!items->is_array()) {
    return bad("'result' of a " + result.result_type + " is not a list");
  }
  const bool vector = result.result_type == "vector";
  for (const auto& item : *items) {
    if (!item.is_object()) {
      return bad("an element of 'result' is not an object");
    }
    const json metric = item.value("metric", json::object());
    if (item.contains(vector ? "histogram" : "histograms")) {
      return bad(format_metric(metric) + " is a native histogram, not a float sample");
    }
    const auto values = item.find(vector ? "value" : "values");
    if (values == item.end()) {
      return bad(format_metric(metric) + " has no '" + (vector ? "value" : "values") + "'");
    }
    if (!vector && (!values->is_array() || values->empty())) {
      if (values->is_array()) {
        continue;  // a series without points in range has nothing to judge
      }
      return bad("'values' of " + format_metric(metric) + " is not a list");
    }
    auto series = point(vector ? *values : values->back(), metric);
    if (!series) {
      return series.error();
    }
    result.series.push_back(std::move(*series));
  }
  return result;
}

std::string PrometheusGate::query_url() const {
  boost::urls::url url(boost::urls::parse_uri(m_config.url).value());
  std::string path(url.encoded_path());
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  url.set_encoded_path(path + "/api/v1/query");
  if (m_config.method == "GET") {
    url.set_encoded_query("query=" + http::form_encode(m_config.query));
  } else {
    url.remove_query();
  }
  url.remove_fragment();
  return std::string(url.buffer());
}

json PrometheusGate::config() const {
  json out = {{"url", m_config.url},
              {"query", m_config.query},
              {"method", m_config.method},
              {"condition", m_config.condition.text},
              {"reduce", to_string(m_config.reduce)},
              {"samples", m_config.samples},
              {"interval", format_seconds(m_config.interval)},
              {"initial_delay", format_seconds(m_config.initial_delay)},
              {"failure_limit", m_config.failure_limit},
              {"consecutive_errors", m_config.consecutive_errors},
              {"on_empty", promote::to_string(m_config.on_empty)},
              {"timeout",
               format_seconds(std::chrono::duration_cast<std::chrono::seconds>(m_config.timeout))}};
  if (!m_config.bearer_env.empty()) {
    out["auth"] = {{"bearer_env", m_config.bearer_env}};
  } else if (!m_config.username_env.empty()) {
    out["auth"] = {{"username_env", m_config.username_env},
                   {"password_env", m_config.password_env}};
  }
  return out;
}

namespace {

// Judges one successful query result against the condition.
Sample judge(const QueryResult& result, const PrometheusConfig& config) {
  Sample sample;
  json values = json::array();
  for (const auto& series : result.series) {
    values.push_back({{"metric", series.metric},
                      {"value", series.raw},
                      {"passed", config.condition.holds(series.value)}});
  }
  sample.record = {{"result_type", result.result_type}, {"values", values}};
  if (!result.warnings.empty()) {
    sample.record["warnings"] = result.warnings;
  }
  if (result.series.empty()) {
    sample.kind = Sample::Kind::empty;
    sample.description = "the query returned no data";
    sample.record["outcome"] = "empty";
    return sample;
  }
  const std::string& condition = config.condition.text;
  if (config.reduce == Reduce::each) {
    std::vector<const Series*> broken;
    for (const auto& series : result.series) {
      if (!config.condition.holds(series.value)) {
        broken.push_back(&series);
      }
    }
    if (broken.empty()) {
      sample.kind = Sample::Kind::pass;
      sample.description =
          result.series.size() == 1
              ? result.series[0].raw + " satisfies " + condition
              : "all " + std::to_string(result.series.size()) + " series satisfy " + condition;
    } else {
      sample.kind = Sample::Kind::fail;
      sample.description =
          (result.series.size() == 1 ? std::string() : format_metric(broken[0]->metric) + " = ") +
          broken[0]->raw + " breaks " + condition;
      if (broken.size() > 1) {
        sample.description += " (and " + std::to_string(broken.size() - 1) + " more series)";
      }
    }
  } else {
    double reduced = config.reduce == Reduce::max   ? -std::numeric_limits<double>::infinity()
                     : config.reduce == Reduce::min ? std::numeric_limits<double>::infinity()
                                                    : 0.0;
    bool nan = false;
    for (const auto& series : result.series) {
      nan = nan || std::isnan(series.value);
      if (config.reduce == Reduce::max) {
        reduced = std::max(reduced, series.value);
      } else if (config.reduce == Reduce::min) {
        reduced = std::min(reduced, series.value);
      } else {
        reduced += series.value;
      }
    }
    if (config.reduce == Reduce::avg) {
      reduced /= static_cast<double>(result.series.size());
    }
    if (nan) {
      reduced = std::numeric_limits<double>::quiet_NaN();
    }
    json shown = std::isfinite(reduced) ? json(reduced)
                 : std::isnan(reduced)  ? json("NaN")
                                        : json(reduced > 0 ? "+Inf" : "-Inf");
    sample.record["reduced"] = shown;
    const std::string text = shown.is_string() ? shown.get<std::string>() : shown.dump();
    const bool holds = config.condition.holds(reduced);
    sample.kind = holds ? Sample::Kind::pass : Sample::Kind::fail;
    sample.description = std::string(to_string(config.reduce)) + " " + text +
                         (holds ? " satisfies " : " breaks ") + condition;
  }
  sample.record["outcome"] = sample.kind == Sample::Kind::pass ? "pass" : "fail";
  return sample;
}

std::optional<std::string> env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

}  // namespace

asio::awaitable<Verdict> PrometheusGate::evaluate(const GateContext& context) {
  const PrometheusConfig& config = m_config;
  const std::string url = query_url();
  json details = {{"url", url},
                  {"method", config.method},
                  {"query", config.query},
                  {"condition", config.condition.text},
                  {"reduce", to_string(config.reduce)},
                  {"failure_limit", config.failure_limit},
                  {"samples_planned", config.samples},
                  {"samples", json::array()}};
  auto verdict = [&details](Status status, std::string summary) {
    return Verdict::make(status, std::move(summary), details);
  };

  http::Request request;
  request.method = config.method;
  request.url = url;
  request.timeout = config.timeout;
  request.headers = {{"Accept", "application/json"}};
  if (config.method == "POST") {
    request.body = "query=" + http::form_encode(config.query);
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  }
  if (!config.bearer_env.empty()) {
    const auto token = env(config.bearer_env);
    if (!token) {
      co_return verdict(Status::error, "environment variable " + config.bearer_env +
                                           " (auth.bearer_env) is not set");
    }
    request.headers.emplace_back("Authorization", "Bearer " + *token);
  } else if (!config.username_env.empty()) {
    const auto user = env(config.username_env);
    const auto password = env(config.password_env);
    if (!user || !password) {
      const std::string& missing = !user ? config.username_env : config.password_env;
      co_return verdict(Status::error, "environment variable " + missing + " (auth." +
                                           (!user ? "username_env" : "password_env") +
                                           ") is not set");
    }
    request.headers.emplace_back("Authorization", http::basic_authorization(*user, *password));
  }
  // A server (or a proxy before it) may quote what it was sent: none of it gets out.
  std::vector<std::string> secrets = util::secret_values({config.bearer_env, config.password_env});
  if (const auto user = env(config.username_env), password = env(config.password_env);
      !config.username_env.empty() && user && password) {
    secrets.insert(secrets.begin(), util::base64(*user + ":" + *password));
  }

  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  long long passes = 0;
  long long failures = 0;
  long long errors = 0;
  long long errors_in_a_row = 0;
  std::string last_failure;
  std::string last_error;
  for (long long index = 1; index <= config.samples; ++index) {
    const auto wait = index == 1 ? config.initial_delay : config.interval;
    if (wait.count() > 0) {
      timer.expires_after(wait);
      co_await timer.async_wait(asio::use_awaitable);
    }
    Sample sample;
    auto response = co_await m_fetch(request);
    if (!response) {
      sample.description = util::scrub(response.error().message, secrets);
    } else {
      const std::string label = http::redact_url(url);
      const std::string body = util::scrub(std::move(response->body), secrets);
      auto parsed = parse_query_response(body, label);
      const bool ok_status = response->status >= 200 && response->status < 300;
      if (!ok_status && (parsed || body.find("\"error\"") == std::string::npos)) {
        sample.description = label + ": HTTP " + std::to_string(response->status) + ": " +
                             body.substr(0, 200);
      } else if (!parsed) {
        sample.description = parsed.error().message;
      } else {
        sample = judge(*parsed, config);
      }
    }
    if (sample.kind == Sample::Kind::error) {
      sample.record = {{"outcome", "error"}, {"error", sample.description}};
    }
    sample.record["index"] = index;
    details["samples"].push_back(sample.record);
    if (context.progress && config.samples > 1) {
      context.progress("prometheus: sample " + std::to_string(index) + " of " +
                       std::to_string(config.samples) + ": " + sample.description +
                       (index < config.samples
                            ? "; next in " + format_seconds(config.interval)
                            : std::string()));
    }

    switch (sample.kind) {
      case Sample::Kind::empty: {
        Verdict out =
            verdict(config.on_empty, "the query returned no data (on_empty: " +
                                         std::string(promote::to_string(config.on_empty)) + ")");
        if (config.on_empty == Status::pending) {
          out.retry_after = config.interval;
        }
        co_return out;
      }
      case Sample::Kind::error:
        ++errors;
        ++errors_in_a_row;
        last_error = sample.description;
        if (errors_in_a_row >= config.consecutive_errors) {
          co_return verdict(Status::error,
                            errors_in_a_row == 1
                                ? last_error
                                : std::to_string(errors_in_a_row) +
                                      " samples in a row errored; last: " + last_error);
        }
        continue;
      case Sample::Kind::pass:
        ++passes;
        break;
      case Sample::Kind::fail:
        ++failures;
        last_failure = sample.description;
        break;
    }
    errors_in_a_row = 0;
    if (failures > config.failure_limit) {
      co_return verdict(Status::fail, config.samples == 1
                                          ? last_failure
                                          : std::to_string(failures) + " of " +
                                                std::to_string(index) + " samples broke " +
                                                config.condition.text + " (failure_limit " +
                                                std::to_string(config.failure_limit) +
                                                "); last: " + last_failure);
    }
    if (passes >= config.samples - config.failure_limit) {
      co_return verdict(Status::pass, config.samples == 1
                                          ? sample.description
                                          : std::to_string(passes) + " of " +
                                                std::to_string(index) + " samples satisfy " +
                                                config.condition.text);
    }
  }
  if (config.samples == 1 && errors == 1) {
    co_return verdict(Status::error, last_error);
  }
  co_return verdict(Status::error, "undecided after " + std::to_string(config.samples) +
                                       " samples (" + std::to_string(passes) + " passed, " +
                                       std::to_string(failures) + " failed, " +
                                       std::to_string(errors) +
                                       " errored); last error: " + last_error);
}

std::optional<PrometheusConfig> read_prometheus_config(const pipeline::ConfigNode& with) {
  static const std::string k_what = "gate 'prometheus'";
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (with.is_null()) {
    with.error("gate 'prometheus' needs 'with: { url: ..., query: ..., condition: ... }'");
    return std::nullopt;
  }
  if (!with.expect_map(k_what, {"url", "query", "method", "condition", "reduce", "samples",
                                "interval", "initial_delay", "failure_limit", "consecutive_errors",
                                "on_empty", "auth", "timeout"})) {
    return std::nullopt;
  }
  bool ok = true;
  PrometheusConfig config;
  auto text = [&](std::string_view key,
                  bool required) -> std::optional<std::pair<std::string, pipeline::ConfigNode>> {
    auto node = required ? with.require(key, k_what) : with.get(key);
    if (!node) {
      ok = ok && !required;
      return std::nullopt;
    }
    auto value = node->as_string(key);
    if (!value) {
      ok = false;
      return std::nullopt;
    }
    return std::make_pair(*value, *node);
  };
  if (auto url = text("url", true)) {
    auto parsed = boost::urls::parse_uri(url->first);
    if (!parsed ||
        (parsed->scheme_id() != boost::urls::scheme::http &&
         parsed->scheme_id() != boost::urls::scheme::https) ||
        parsed->host_address().empty()) {
      url->second.error("'url' must be an http:// or https:// URL, got '" +
                        http::redact_url(url->first) + "'");
      ok = false;
    } else if (parsed->has_userinfo()) {
      url->second.error("'url' must not hold credentials; use 'auth' with environment variables");
      ok = false;
    } else {
      config.url = url->first;
    }
  }
  if (auto query = text("query", true)) {
    if (trim(query->first).empty()) {
      query->second.error("'query' must not be empty");
      ok = false;
    }
    config.query = query->first;
  }
  if (auto method = text("method", false)) {
    if (method->first != "GET" && method->first != "POST") {
      method->second.error("'method' must be GET or POST, got '" + method->first + "'");
      ok = false;
    }
    config.method = method->first;
  }
  if (auto condition = text("condition", true)) {
    auto parsed = parse_condition(condition->first);
    if (!parsed) {
      condition->second.error(parsed.error().message);
      ok = false;
    } else {
      config.condition = *parsed;
    }
  }
  if (auto reduce = text("reduce", false)) {
    static const std::pair<std::string_view, Reduce> k_reduce[] = {{"each", Reduce::each},
                                                                   {"max", Reduce::max},
                                                                   {"min", Reduce::min},
                                                                   {"avg", Reduce::avg},
                                                                   {"sum", Reduce::sum}};
    bool known = false;
    for (const auto& [name, value] : k_reduce) {
      if (reduce->first == name) {
        config.reduce = value;
        known = true;
      }
    }
    if (!known) {
      reduce->second.error("'reduce' must be each, max, min, avg or sum, got '" + reduce->first +
                           "'");
      ok = false;
    }
  }
  if (auto on_empty = text("on_empty", false)) {
    if (on_empty->first == "fail") {
      config.on_empty = Status::fail;
    } else if (on_empty->first == "pending") {
      config.on_empty = Status::pending;
    } else if (on_empty->first == "error") {
      config.on_empty = Status::error;
    } else {
      on_empty->second.error("'on_empty' must be fail, pending or error, got '" + on_empty->first +
                             "'");
      ok = false;
    }
  }
  auto integer = [&](std::string_view key, long long minimum, long long& out) {
    if (auto node = with.get(key)) {
      auto value = node->as_integer(key);
      if (!value) {
        ok = false;
      } else if (*value < minimum) {
        node->error("'" + std::string(key) + "' must be at least " + std::to_string(minimum) +
                    ", got " + std::to_string(*value));
        ok = false;
      } else {
        out = *value;
      }
    }
  };
  integer("samples", 1, config.samples);
  integer("failure_limit", 0, config.failure_limit);
  integer("consecutive_errors", 1, config.consecutive_errors);
  if (ok && config.failure_limit >= config.samples) {
    with.get("failure_limit")
        ->error("'failure_limit' must be less than 'samples' (" + std::to_string(config.samples) +
                "), or the gate could never fail");
    ok = false;
  }
  auto duration = [&](std::string_view key, bool positive, std::chrono::seconds& out) {
    if (auto node = with.get(key)) {
      auto value = node->as_duration(key);
      if (!value) {
        ok = false;
      } else if (positive && value->count() <= 0) {
        node->error("'" + std::string(key) + "' must be longer than 0s");
        ok = false;
      } else {
        out = *value;
      }
    }
  };
  duration("interval", false, config.interval);
  duration("initial_delay", false, config.initial_delay);
  std::chrono::seconds timeout = std::chrono::duration_cast<std::chrono::seconds>(config.timeout);
  duration("timeout", true, timeout);
  config.timeout = timeout;
  if (auto auth = with.get("auth")) {
    if (!auth->expect_map("'auth'", {"bearer_env", "username_env", "password_env"})) {
      ok = false;
    } else {
      auto name = [&](std::string_view key) -> std::string {
        auto node = auth->get(key);
        if (!node) {
          return {};
        }
        auto value = node->as_string(key);
        if (!value || value->empty()) {
          if (value) {
            node->error("'" + std::string(key) + "' must name an environment variable");
          }
          ok = false;
          return {};
        }
        return *value;
      };
      config.bearer_env = name("bearer_env");
      config.username_env = name("username_env");
      config.password_env = name("password_env");
      const bool basic = !config.username_env.empty() || !config.password_env.empty();
      if (!config.bearer_env.empty() && basic) {
        auth->error("'auth' takes either 'bearer_env' or 'username_env' and 'password_env'");
        ok = false;
      } else if (basic && (config.username_env.empty() || config.password_env.empty())) {
        auth->error("'auth' needs both 'username_env' and 'password_env'");
        ok = false;
      } else if (ok && !basic && config.bearer_env.empty()) {
        auth->error("'auth' needs 'bearer_env', or 'username_env' and 'password_env'");
        ok = false;
      }
    }
  }
  if (!ok || with.diagnostics().messages().size() != problems_before) {
    return std::nullopt;
  }
  return config;
}

std::unique_ptr<Gate> make_prometheus(const pipeline::ConfigNode& with) {
  auto config = read_prometheus_config(with);
  if (!config) {
    return nullptr;
  }
  return std::make_unique<PrometheusGate>(std::move(*config));
}

}  // namespace promote::gates
