#include "gates/http.hpp"

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/http/client.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/json.hpp"
#include "gates/prometheus.hpp"

namespace promote::gates {
namespace {

namespace chr = std::chrono;
using Status = Verdict::Status;
using json = nlohmann::json;
using TimePoint = chr::system_clock::time_point;

constexpr std::size_t k_excerpt_bytes = 200;
constexpr chr::seconds k_min_retry_after{1};
constexpr const char* k_hidden = "***";

// Header names whose literal values would put a secret in the pipeline file and the records.
constexpr std::array<std::string_view, 7> k_secret_words = {
    "authorization", "cookie", "token", "secret", "password", "api-key", "apikey"};
// Headers the HTTP client writes itself.
constexpr std::array<std::string_view, 4> k_reserved = {"host", "content-length",
                                                        "transfer-encoding", "connection"};

/// One header to send: a literal value, or an environment variable (with a prefix).
struct HeaderSpec {
  std::string name;
  std::string value;  ///< the literal value, when `env` is empty
  std::string env;    ///< the variable holding the value
  std::string prefix;
};

/// The validated `with:` block.
struct HttpConfig {
  std::string url;
  std::string method = "GET";
  std::vector<HeaderSpec> headers;
  chr::seconds timeout = chr::seconds(30);
  std::vector<long long> pass_status;
  std::vector<long long> fail_status;
  std::optional<std::string> json_pointer;
  std::optional<Condition> condition;
  std::optional<json> equals;
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && byte != '\t') || byte == 0x7F;
  });
}

// An RFC 9110 token: the characters a header name may have.
bool is_token(std::string_view text) {
  static constexpr std::string_view k_extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || k_extra.find(c) != std::string_view::npos;
  });
}

bool is_env_name(std::string_view text) {
  return !text.empty() && !std::isdigit(static_cast<unsigned char>(text.front())) &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
         });
}

bool looks_secret(std::string_view name) {
  const std::string folded = lower(name);
  return std::any_of(k_secret_words.begin(), k_secret_words.end(),
                     [&](std::string_view word) { return folded.find(word) != std::string::npos; });
}

bool contains(const std::vector<long long>& list, long long value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// `text` with every occurrence of every secret replaced by ***.
std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) {
      continue;
    }
    for (std::size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + std::string_view(k_hidden).size())) {
      text.replace(at, secret.size(), k_hidden);
    }
  }
  return text;
}

void scrub(json& value, const std::vector<std::string>& secrets) {
  if (value.is_string()) {
    value = scrub(value.get<std::string>(), secrets);
  } else if (value.is_structured()) {
    for (auto& item : value) {
      scrub(item, secrets);
    }
  }
}

// Text from the server made fit for a record: valid UTF-8 (each byte of a malformed
// sequence becomes '?'), control characters as spaces, cut at `max_bytes` on a character
// boundary with "..." added.
std::string printable(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80             ? 1
                         : (byte & 0xE0) == 0xC0 ? 2
                         : (byte & 0xF0) == 0xE0 ? 3
                         : (byte & 0xF8) == 0xF0 ? 4
                                                 : 0;
    char32_t code = length == 1   ? byte
                    : length == 2 ? byte & 0x1F
                    : length == 3 ? byte & 0x0F
                                  : byte & 0x07;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
      if ((next & 0xC0) != 0x80) {
        length = 0;
        break;
      }
      code = (code << 6) | (next & 0x3F);
    }
    // No overlong form, no surrogate, nothing above U+10FFFF.
    static constexpr char32_t k_least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (length > 1 &&
        (code < k_least[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)) {
      length = 0;
    }
    if (length == 0) {
      out += '?';
      ++i;
    } else if (length == 1) {
      out += byte < 0x20 || byte == 0x7F ? ' ' : static_cast<char>(byte);
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return i < text.size() ? out + "..." : out;
}

std::string excerpt(std::string_view body) {
  return printable(body, k_excerpt_bytes);
}

// A plain YAML scalar as JSON: true, false, an integer, a number, else a string;
// a quoted scalar is always a string.
json scalar_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") {
    return text;
  }
  if (text == "true" || text == "false") {
    return text == "true";
  }
  long long integer = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
      ec == std::errc() && end == text.data() + text.size()) {
    return integer;
  }
  double number = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      ec == std::errc() && end == text.data() + text.size() && std::isfinite(number)) {
    return number;
  }
  return text;
}

bool same_value(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    return a.get<double>() == b.get<double>();
  }
  return a == b;
}

std::string type_name(const json& value) {
  if (value.is_string()) {
    return "a string";
  }
  if (value.is_boolean()) {
    return "a boolean";
  }
  if (value.is_null()) {
    return "null";
  }
  return value.is_array() ? "an array" : "an object";
}

// --- the gate ----------------------------------------------------------------------------

class HttpGate : public Gate {
 public:
  explicit HttpGate(HttpConfig config) : m_config(std::move(config)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    const HttpConfig& config = m_config;
    json details = {{"method", config.method}, {"url", http::redact_url(config.url)}};
    http::Request request;
    request.method = config.method;
    request.url = config.url;
    request.timeout = config.timeout;
    std::vector<std::string> secrets;
    bool has_accept = false;
    bool has_content_type = false;
    for (const HeaderSpec& header : config.headers) {
      has_accept = has_accept || lower(header.name) == "accept";
      has_content_type = has_content_type || lower(header.name) == "content-type";
      if (header.env.empty()) {
        request.headers.emplace_back(header.name, header.value);
        continue;
      }
      const char* value = std::getenv(header.env.c_str());
      const std::string where = " (headers." + header.name + ")";
      if (value == nullptr || *value == '\0') {
        const std::string message = "environment variable " + header.env + where + " is not set";
        details["error"] = message;
        co_return Verdict::make(Status::error, message, std::move(details));
      }
      if (has_control(value)) {
        const std::string message = "environment variable " + header.env + where +
                                    " holds a line break or another control character";
        details["error"] = message;
        co_return Verdict::make(Status::error, message, std::move(details));
      }
      secrets.emplace_back(value);
      request.headers.emplace_back(header.name, header.prefix + value);
    }
    if (config.json_pointer && !has_accept) {
      request.headers.emplace_back("Accept", "application/json");
    }
    if (config.method == "POST") {
      json images = json::object();
      for (const auto& [name, reference] : context.candidate.images) {
        images[name] = reference.to_string();
      }
      const json body = {
          {"candidate", {{"id", context.candidate.id()}, {"images", std::move(images)}}},
          {"stage", context.stage},
          {"from", context.from ? json(*context.from) : json(nullptr)},
          {"pipeline", context.pipeline.empty() ? json(nullptr) : json(context.pipeline)}};
      request.body = body.dump();
      if (!has_content_type) {
        request.headers.emplace_back("Content-Type", "application/json");
      }
    }

    auto response = co_await http::request(std::move(request));
    Verdict verdict;
    if (!response) {
      details["error"] = response.error().message;
      verdict = Verdict::make(Status::error, response.error().message, std::move(details));
    } else {
      verdict = judge(*response, context.timeline.now(), std::move(details), secrets);
    }
    verdict.summary = scrub(std::move(verdict.summary), secrets);
    scrub(verdict.details, secrets);
    co_return verdict;
  }

  nlohmann::json config() const override {
    json out = {{"url", http::redact_url(m_config.url)},
                {"method", m_config.method},
                {"timeout", pipeline::format_duration(m_config.timeout)}};
    if (!m_config.headers.empty()) {
      json headers = json::object();
      for (const HeaderSpec& header : m_config.headers) {
        if (header.env.empty()) {
          headers[header.name] = header.value;
        } else {
          headers[header.name] = {{"env", header.env}};
          if (!header.prefix.empty()) {
            headers[header.name]["prefix"] = header.prefix;
          }
        }
      }
      out["headers"] = std::move(headers);
    }
    if (!m_config.pass_status.empty()) {
      out["pass_status"] = m_config.pass_status;
    }
    if (!m_config.fail_status.empty()) {
      out["fail_status"] = m_config.fail_status;
    }
    if (m_config.json_pointer) {
      out["json_pointer"] = *m_config.json_pointer;
    }
    if (m_config.condition) {
      out["condition"] = m_config.condition->text;
    }
    if (m_config.equals) {
      out["equals"] = *m_config.equals;
    }
    return out;
  }

 private:
  // The verdict on a response; `details` already hold the method and the URL. No secret
  // (nor the start of one) gets into the body's excerpt.
  Verdict judge(const http::Response& response, TimePoint now, json details,
                const std::vector<std::string>& secrets) const {
    const HttpConfig& config = m_config;
    const long long status = response.status;
    details["status"] = status;
    details["body_sha256"] = util::sha256_hex(response.body);
    details["body_bytes"] = response.body.size();
    const std::string answered = "HTTP " + std::to_string(status) + " from " + config.method + " " +
                                 http::redact_url(config.url);
    auto make = [&](Status out, std::string rule, std::string summary) {
      details["rule"] = std::move(rule);
      if (out != Status::pass) {
        details["body_excerpt"] = excerpt(scrub(response.body, secrets));
      }
      return Verdict::make(out, std::move(summary), details);
    };

    if (contains(config.fail_status, status)) {
      return make(Status::fail, "fail_status", answered + " (fail_status)");
    }
    const bool listed_pass = contains(config.pass_status, status);
    if (!listed_pass && (status == 429 || status == 503 || status == 202)) {
      const std::string header = printable(response.header("Retry-After"), 100);
      if (auto asked = http::parse_retry_after(header, now)) {
        const chr::seconds wait = std::max(k_min_retry_after, *asked);
        details["retry_after"] = header;
        details["retry_after_seconds"] = wait.count();
        Verdict verdict = make(Status::pending, std::to_string(status) + " with Retry-After",
                               answered + ": retry after " + pipeline::format_duration(wait));
        verdict.retry_after = wait;
        return verdict;
      }
      if (!header.empty()) {
        details["retry_after"] = header;
      }
    }
    if (!listed_pass && (status < 200 || status > 299)) {
      if (status == 429) {
        return make(Status::error, "429 without Retry-After",
                    answered + ": too many requests, and no valid Retry-After");
      }
      if (status >= 400 && status <= 499) {
        return make(Status::fail, "4xx", answered);
      }
      if (status >= 300 && status <= 399) {
        const std::string location = printable(response.header("Location"), 500);
        return make(
            Status::error, "3xx",
            answered + ": redirects are not followed" +
                (location.empty() ? "" : " (Location: " + http::redact_url(location) + ")"));
      }
      return make(Status::error, status >= 500 ? "5xx" : "not a final answer", answered);
    }
    const std::string status_rule = listed_pass ? "pass_status" : "2xx";
    if (!config.json_pointer) {
      return make(Status::pass, status_rule, answered + (listed_pass ? " (pass_status)" : ""));
    }

    // The answer's JSON decides.
    const std::string& pointer = *config.json_pointer;
    details["json_pointer"] = pointer;
    const std::string of =
        " in the response of " + config.method + " " + http::redact_url(config.url);
    if (const std::size_t deep = util::json_too_deep(response.body); deep != std::string::npos) {
      return make(Status::error, "json_pointer",
                  "the response of " + config.method + " " + http::redact_url(config.url) +
                      " nests more than " + std::to_string(util::k_max_json_depth) +
                      " levels deep (at byte " + std::to_string(deep) + ")");
    }
    const json document = json::parse(response.body, nullptr, false);
    if (document.is_discarded()) {
      const std::string type = printable(response.header("Content-Type"), 100);
      return make(Status::error, "json_pointer",
                  "the response of " + config.method + " " + http::redact_url(config.url) +
                      " (HTTP " + std::to_string(status) + ") is not JSON" +
                      (type.empty() ? "" : " (Content-Type: " + type + ")"));
    }
    const json::json_pointer where(pointer);
    const json* found = nullptr;
    try {
      if (document.contains(where)) {
        found = &document.at(where);
      }
    } catch (const json::exception&) {
      found = nullptr;  // an array index that is no number: no such value
    }
    if (found == nullptr) {
      return make(Status::error, "json_pointer", "no value at " + pointer + of);
    }
    const json& value = *found;
    if (value.is_primitive()) {
      details["value"] = value;
    } else {
      details["value_type"] = value.is_array() ? "array" : "object";
    }
    const std::string shown = value.is_primitive() ? value.dump() : type_name(value);
    if (config.condition) {
      details["condition"] = config.condition->text;
      const std::string rule = pointer + " " + config.condition->text;
      if (!value.is_number()) {
        return make(Status::error, rule,
                    pointer + " is " + type_name(value) + ", not a number," + of);
      }
      const bool holds = config.condition->holds(value.get<double>());
      return make(
          holds ? Status::pass : Status::fail, rule,
          pointer + " " + shown + (holds ? " satisfies " : " breaks ") + config.condition->text);
    }
    details["equals"] = *config.equals;
    const bool equal = same_value(value, *config.equals);
    return make(
        equal ? Status::pass : Status::fail, pointer + " equals " + config.equals->dump(),
        pointer + " " + shown + (equal ? " equals " : " does not equal ") + config.equals->dump());
  }

  HttpConfig m_config;
};

// --- configuration -----------------------------------------------------------------------

void read_headers(const pipeline::ConfigNode& node, HttpConfig& config) {
  std::vector<std::string> seen;
  for (const auto& [key, value] : node.entries("headers")) {
    const auto name = key.as_string("a header name");
    if (!name) {
      continue;
    }
    if (!is_token(*name)) {
      key.error("'" + *name + "' is not a valid header name");
      continue;
    }
    const std::string folded = lower(*name);
    if (std::find(k_reserved.begin(), k_reserved.end(), folded) != k_reserved.end()) {
      key.error("header '" + *name + "' is set by promote and cannot be configured");
      continue;
    }
    if (std::find(seen.begin(), seen.end(), folded) != seen.end()) {
      key.error("duplicate header '" + *name + "' in 'headers'");
      continue;
    }
    seen.push_back(folded);
    HeaderSpec header;
    header.name = *name;
    const std::string what = "header '" + *name + "'";
    if (value.is_map()) {
      if (!value.expect_map(what, {"env", "prefix"})) {
        continue;
      }
      if (auto env = value.require("env", what)) {
        if (auto text = env->as_string("env")) {
          if (!is_env_name(*text)) {
            env->error("'env' must name an environment variable (letters, digits and _), got '" +
                       *text + "'");
          }
          header.env = *text;
        }
      }
      if (auto prefix = value.get("prefix")) {
        if (auto text = prefix->as_string("prefix")) {
          if (has_control(*text)) {
            prefix->error("'prefix' must not hold a line break or another control character");
          }
          header.prefix = *text;
        }
      }
    } else if (value.is_scalar()) {
      header.value = value.yaml().Scalar();
      if (looks_secret(*name)) {
        value.error(what + " looks like a secret: take its value from the environment with " +
                    "{ env: NAME }");
      } else if (has_control(header.value)) {
        value.error(what + " must not hold a line break or another control character");
      }
    } else {
      value.error(what + " must be a string or { env: NAME, prefix: ... }, got " +
                  (value.is_sequence() ? "a list" : "nothing"));
    }
    config.headers.push_back(std::move(header));
  }
}

std::vector<long long> read_statuses(const pipeline::ConfigNode& node, const std::string& key) {
  std::vector<long long> out;
  for (const auto& item : node.items(key)) {
    if (auto code = item.as_integer(key)) {
      if (*code < 100 || *code > 599) {
        item.error("'" + key + "' holds HTTP status codes (100 to 599), got " +
                   std::to_string(*code));
      } else if (!contains(out, *code)) {
        out.push_back(*code);
      }
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Gate> make_http(const pipeline::ConfigNode& with) {
  static const std::string k_what = "gate 'http'";
  if (with.is_null()) {
    with.error("gate 'http' needs 'with: { url: <http or https URL> }'");
    return nullptr;
  }
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (!with.expect_map(k_what, {"url", "method", "headers", "timeout", "pass_status", "fail_status",
                                "json_pointer", "condition", "equals"})) {
    return nullptr;
  }
  HttpConfig config;
  if (auto node = with.require("url", k_what)) {
    if (auto url = node->as_string("url")) {
      auto parsed = boost::urls::parse_uri(*url);
      if (!parsed ||
          (parsed->scheme_id() != boost::urls::scheme::http &&
           parsed->scheme_id() != boost::urls::scheme::https) ||
          parsed->host_address().empty()) {
        // An unparsable URL may still hold credentials: show it only when it cannot.
        node->error("'url' must be an http:// or https:// URL" +
                    (parsed || url->find('@') == std::string::npos
                         ? ", got '" + http::redact_url(*url) + "'"
                         : std::string()));
      } else if (parsed->has_userinfo()) {
        node->error(
            "'url' must not hold credentials; send them in 'headers' from environment "
            "variables");
      } else {
        config.url = *url;
      }
    }
  }
  if (auto node = with.get("method")) {
    if (auto method = node->as_string("method")) {
      if (*method != "GET" && *method != "POST") {
        node->error("'method' must be GET or POST, got '" + *method + "'");
      }
      config.method = *method;
    }
  }
  if (auto node = with.get("headers")) {
    read_headers(*node, config);
  }
  if (auto node = with.get("timeout")) {
    if (auto timeout = node->as_duration("timeout")) {
      if (timeout->count() <= 0) {
        node->error("'timeout' must be longer than 0s");
      }
      config.timeout = *timeout;
    }
  }
  if (auto node = with.get("pass_status")) {
    config.pass_status = read_statuses(*node, "pass_status");
  }
  if (auto node = with.get("fail_status")) {
    config.fail_status = read_statuses(*node, "fail_status");
    for (long long code : config.fail_status) {
      if (contains(config.pass_status, code)) {
        node->error("status " + std::to_string(code) +
                    " is in both 'pass_status' and 'fail_status'");
      }
    }
  }
  const auto pointer = with.get("json_pointer");
  const auto condition = with.get("condition");
  const auto equals = with.get("equals");
  if (pointer) {
    if (auto text = pointer->as_string("json_pointer")) {
      try {
        (void)json::json_pointer(*text);
        config.json_pointer = *text;
      } catch (const json::exception&) {
        pointer->error(
            "'json_pointer' must be a JSON pointer such as /status or /checks/0/state, "
            "got '" +
            *text + "'");
      }
    }
    if (!condition && !equals) {
      pointer->error("'json_pointer' needs 'condition' or 'equals' to judge the value");
    }
  }
  if (condition) {
    if (auto text = condition->as_string("condition")) {
      if (auto parsed = parse_condition(*text)) {
        config.condition = *parsed;
      } else {
        condition->error(parsed.error().message);
      }
    }
    if (!pointer) {
      condition->error("'condition' needs 'json_pointer' to find the value it judges");
    }
  }
  if (equals) {
    if (!equals->is_scalar()) {
      equals->error("'equals' must be a string, a number, true or false, got " +
                    std::string(equals->is_sequence() ? "a list"
                                : equals->is_map()    ? "a mapping"
                                                      : "nothing"));
    } else {
      config.equals = scalar_json(equals->yaml());
    }
    if (condition) {
      equals->error("'equals' and 'condition' exclude each other: give one");
    } else if (!pointer) {
      equals->error("'equals' needs 'json_pointer' to find the value it compares");
    }
  }
  if (with.diagnostics().messages().size() != problems_before) {
    return nullptr;
  }
  return std::make_unique<HttpGate>(std::move(config));
}

}  // namespace promote::gates
