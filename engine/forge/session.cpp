#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "engine/forge/provider.hpp"
#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"

namespace promote::forge::detail {

namespace chr = std::chrono;

namespace {

constexpr chr::seconds k_max_wait{60};
constexpr int k_max_redirects = 5;
constexpr int k_max_pages = 100;
constexpr std::size_t k_excerpt = 200;

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

// The scheme://host[:port] part of a URL.
std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    return url;
  }
  return url.substr(0, url.find_first_of("/?#", scheme + 3));
}

// The URL of the Link header's rel="next" entry (RFC 8288), "" when none.
std::string next_link(const std::string& header) {
  std::size_t at = 0;
  while ((at = header.find('<', at)) != std::string::npos) {
    const auto close = header.find('>', at);
    if (close == std::string::npos) {
      break;
    }
    const auto following = header.find('<', close);
    const std::string params = lower(header.substr(
        close + 1, following == std::string::npos ? std::string::npos : following - close - 1));
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      return header.substr(at + 1, close - at - 1);
    }
    at = close + 1;
  }
  return {};
}

// A text excerpt fit for one line of a message.
std::string excerpt(const std::string& text) {
  std::string out = util::valid_utf8(text.substr(0, k_excerpt));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return text.size() > k_excerpt ? out + "..." : out;
}

// "429 Too many requests": the status and the provider's message, the status not twice.
std::string status_text(const Reply& reply) {
  const std::string status = std::to_string(reply.status);
  const std::string message = Session::message(reply);
  if (message.empty()) {
    return status;
  }
  if (message.rfind(status, 0) == 0) {
    return message;
  }
  return status + " " + message;
}

// The wait before attempt `attempt` + 1: base * 2^(attempt-1), jittered down by up to half,
// at most k_max_wait.
chr::milliseconds backoff(chr::milliseconds base, int attempt) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const double full =
      static_cast<double>(base.count()) * static_cast<double>(1ULL << std::min(attempt - 1, 20));
  const double capped = std::min(full, static_cast<double>(chr::milliseconds(k_max_wait).count()));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return chr::milliseconds(static_cast<long long>(capped * jitter(random)));
}

// Whether an answer is worth another attempt, and the wait the provider asked for.
struct Retry {
  bool retry = false;
  std::optional<chr::seconds> after;
};

Retry retry_of(const Reply& reply) {
  const http::Response& response = reply.response;
  const auto now = chr::system_clock::now();
  const auto retry_after = http::parse_retry_after(response.header("Retry-After"), now);
  if (reply.status >= 500 || reply.status == 429) {
    return {true, retry_after};
  }
  if (reply.status == 403) {
    // GitHub's rate limits answer 403 with Retry-After (secondary) or with no requests
    // left until x-ratelimit-reset (primary, epoch seconds).
    if (retry_after) {
      return {true, retry_after};
    }
    if (response.header("x-ratelimit-remaining") == "0") {
      const std::string reset = response.header("x-ratelimit-reset");
      long long epoch = 0;
      const auto [end, ec] = std::from_chars(reset.data(), reset.data() + reset.size(), epoch);
      if (ec == std::errc() && end == reset.data() + reset.size()) {
        const auto at = chr::system_clock::time_point(chr::seconds(epoch));
        return {true, std::max(chr::seconds(0), chr::ceil<chr::seconds>(at - now))};
      }
      return {true, std::nullopt};
    }
  }
  return {};
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

const json& member(const json& object, const char* key) {
  static const json k_null;
  if (!object.is_object()) {
    return k_null;
  }
  const auto found = object.find(key);
  return found == object.end() ? k_null : *found;
}

bool flag_of(const json& object, const char* key) {
  const json& value = member(object, key);
  return value.is_boolean() && value.get<bool>();
}

std::string text_of(const json& object, const char* key) {
  if (!object.is_object()) {
    return {};
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::uint64_t number_of(const json& object, const char* key) {
  if (!object.is_object()) {
    return 0;
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
}

Session::Session(const Settings& settings, Token token)
    : m_settings(settings), m_token(std::move(token)) {
  m_api = settings.api_url;
  while (!m_api.empty() && m_api.back() == '/') {
    m_api.pop_back();
  }
  m_origin = origin_of(m_api);
  switch (settings.provider) {
    case Provider::github:
      m_headers = {{"Authorization", "Bearer " + m_token.value},
                   {"Accept", "application/vnd.github+json"},
                   {"X-GitHub-Api-Version", "2022-11-28"}};
      break;
    case Provider::gitlab:
      m_headers = {
          {m_token.variable == "CI_JOB_TOKEN" ? "JOB-TOKEN" : "PRIVATE-TOKEN", m_token.value},
          {"Accept", "application/json"}};
      break;
    case Provider::gitea:
      m_headers = {{"Authorization", "token " + m_token.value}, {"Accept", "application/json"}};
      break;
  }
}

std::string Session::scrub(std::string text) const {
  std::vector<std::string> secrets = util::secret_values();
  if (!m_token.value.empty()) {
    secrets.insert(secrets.begin(), m_token.value);
  }
  return util::scrub(std::move(text), secrets);
}

Error Session::fail(ErrorKind kind, const std::string& text) const {
  return make_error(kind, scrub(std::string(name()) + ": " + text));
}

bool Session::same_origin(const std::string& url) const {
  return url.size() > m_origin.size() && url.compare(0, m_origin.size(), m_origin) == 0 &&
         url[m_origin.size()] == '/';
}

std::string Session::message(const Reply& reply) {
  const json& body = reply.body;
  if (!body.is_object()) {
    const std::string& text = reply.response.body;
    if (body.is_discarded() && !text.empty()) {
      return excerpt(text);
    }
    return {};
  }
  std::string out;
  auto add = [&out](const std::string& part) {
    if (!part.empty() && out.find(part) == std::string::npos) {
      out += (out.empty() ? "" : ": ") + part;
    }
  };
  for (const char* key : {"message", "error"}) {
    const auto found = body.find(key);
    if (found == body.end()) {
      continue;
    }
    if (found->is_string()) {
      add(found->get<std::string>());
    } else if (found->is_array()) {
      for (const auto& item : *found) {
        if (item.is_string()) {
          add(item.get<std::string>());
        }
      }
    } else if (found->is_object()) {
      // GitLab's validation errors: {"field": ["is invalid"]}
      for (const auto& [field, problems] : found->items()) {
        for (const auto& problem : problems.is_array() ? problems : json::array({problems})) {
          if (problem.is_string()) {
            add(field + " " + problem.get<std::string>());
          }
        }
      }
    }
  }
  // GitHub's validation errors: [{"resource", "field", "code", "message"}]
  if (const auto errors = body.find("errors"); errors != body.end() && errors->is_array()) {
    for (const auto& error : *errors) {
      if (const std::string text = text_of(error, "message"); !text.empty()) {
        add(text);
      } else if (!text_of(error, "code").empty()) {
        add(text_of(error, "field") + " " + text_of(error, "code"));
      } else if (error.is_string()) {
        add(error.get<std::string>());
      }
    }
  }
  return excerpt(out);
}

bool says_already_exists(const Reply& reply) {
  return lower(Session::message(reply)).find("already exist") != std::string::npos;
}

Error Session::refusal(const Reply& reply) const {
  const std::string what = reply.method + " " + reply.url;
  if (reply.status == 401 || reply.status == 403) {
    return fail(ErrorKind::http,
                "the token in " + m_token.variable + " was refused (" + status_text(reply) + ")");
  }
  if (reply.status == 404) {
    return fail(ErrorKind::http, what + ": " + status_text(reply) + ": the project '" +
                                     m_settings.project + "' or the API URL " + m_api +
                                     " was not found, or the token in " + m_token.variable +
                                     " may not see it");
  }
  if (is_redirect(reply.status)) {
    return fail(ErrorKind::http, what + ": " + std::to_string(reply.status) + " redirected to " +
                                     http::redact_url(reply.response.header("Location")) +
                                     ", outside the API URL " + m_api);
  }
  return fail(ErrorKind::http, what + ": " + status_text(reply));
}

Result<Reply> Session::send(const std::string& method, const std::string& path, const json& body) {
  return send_url(method, url(path), body);
}

Result<Reply> Session::send_url(std::string method, std::string url, json body) {
  int redirects = 0;
  for (int attempt = 1;; ++attempt) {
    http::Request request;
    request.method = method;
    request.url = url;
    request.headers = m_headers;
    request.timeout = m_settings.timeout;
    if (!body.is_null()) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = util::dump_json(body);
    }
    auto response = http::request_blocking(std::move(request));
    const bool last = attempt >= m_settings.max_attempts;
    const std::string attempts = " (after " + std::to_string(attempt) + " attempts)";
    std::optional<chr::seconds> asked;
    if (!response) {
      if (last || !http::worth_retrying(response.error())) {
        return fail(ErrorKind::http, response.error().message + (attempt > 1 ? attempts : ""));
      }
    } else {
      Reply reply{method, url, response->status, std::move(*response), nullptr};
      if (!reply.response.body.empty()) {
        reply.body = json::parse(reply.response.body, nullptr, false);
      }
      const Retry retry = retry_of(reply);
      if (!retry.retry) {
        const std::string location = reply.response.header("Location");
        if (is_redirect(reply.status) && redirects < k_max_redirects && !location.empty()) {
          const std::string next = location.front() == '/' ? m_origin + location : location;
          if (same_origin(next)) {
            ++redirects;
            --attempt;  // a redirect is not a failed attempt
            url = next;
            if (reply.status == 303) {
              method = "GET";
              body = nullptr;
            }
            continue;
          }
        }
        return reply;
      }
      if (retry.after && *retry.after > k_max_wait) {
        return fail(ErrorKind::http, reply.method + " " + reply.url + ": " + status_text(reply) +
                                         ": the provider asks to wait " +
                                         std::to_string(retry.after->count()) +
                                         "s before trying again");
      }
      if (last) {
        if (reply.status == 401 || reply.status == 403) {
          return refusal(reply);
        }
        return fail(ErrorKind::http, reply.method + " " + reply.url + ": " + status_text(reply) +
                                         (attempt > 1 ? attempts : ""));
      }
      asked = retry.after;
    }
    const chr::milliseconds wait =
        asked ? chr::milliseconds(*asked) : backoff(m_settings.backoff_base, attempt);
    std::this_thread::sleep_for(std::min<chr::milliseconds>(wait, k_max_wait));
  }
}

Result<json> Session::call(const std::string& method, const std::string& path, const json& body) {
  auto reply = send(method, path, body);
  if (!reply) {
    return reply.error();
  }
  if (reply->status >= 300) {
    return refusal(*reply);
  }
  if (reply->body.is_discarded()) {
    return fail(ErrorKind::http,
                reply->method + " " + reply->url + ": " + std::to_string(reply->status) +
                    " with a body that is not JSON; is " + m_api + " the API URL?");
  }
  // nlohmann::json converts to anything, Error included: name the alternative.
  return Result<json>(boost::system::in_place_value, std::move(reply->body));
}

Result<std::vector<json>> Session::list(const std::string& path) {
  std::vector<json> items;
  std::string next = url(path);
  for (int page = 1; !next.empty(); ++page) {
    if (page > k_max_pages) {
      return fail(ErrorKind::http,
                  "GET " + url(path) + ": more than " + std::to_string(k_max_pages) + " pages");
    }
    auto reply = send_url("GET", next, nullptr);
    if (!reply) {
      return reply.error();
    }
    if (reply->status >= 300) {
      return refusal(*reply);
    }
    if (!reply->body.is_array()) {
      return fail(ErrorKind::http, "GET " + next + ": " + std::to_string(reply->status) +
                                       " without a JSON list; is " + m_api + " the API URL?");
    }
    for (auto& item : reply->body) {
      items.push_back(std::move(item));
    }
    next = next_link(reply->response.header("Link"));
    if (!next.empty() && !same_origin(next)) {
      return fail(ErrorKind::http, "GET " + reply->url + ": the next page " +
                                       http::redact_url(next) + " is outside the API URL " + m_api);
    }
  }
  return items;
}

}  // namespace promote::forge::detail
