#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "engine/util/hash.hpp"
#include "gates/http.hpp"
#include "gates/registry.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/servers/http_script.hpp"

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;
using promote::Verdict;
using promote::test::http_response;
using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;

namespace {

// Sets an environment variable for the life of the object.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : m_name(name) { ::setenv(name, value, 1); }
  ~EnvVar() { ::unsetenv(m_name); }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* m_name;
};

const char* const k_token_env = "PROMOTE_TEST_HOOK_TOKEN";
const std::string k_token = "hook-s3cret-9f2c71";

// A webhook on 127.0.0.1 (a free port) and the gates that ask it.
class Webhook {
 public:
  explicit Webhook(std::string reply) : m_server(std::move(reply)) {
    m_candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.2").value();
  }

  std::string url(const std::string& path = "/hook") const { return m_server.url(path); }

  // The gate built from `yaml`, where URL stands for url(); fails the test when invalid.
  std::unique_ptr<promote::Gate> build(std::string yaml) const {
    if (const auto at = yaml.find("URL"); at != std::string::npos) {
      yaml.replace(at, 3, url());
    }
    Diagnostics diagnostics;
    auto gate =
        promote::gates::make_http(ConfigNode(YAML::Load(yaml), "promote.yaml", diagnostics));
    REQUIRE_MESSAGE(gate != nullptr, diagnostics.to_error().message);
    return gate;
  }

  // Evaluates a gate against this webhook, for the stage prod from staging.
  Verdict evaluate(promote::Gate& gate) {
    const promote::GateContext context{m_candidate, "prod",     std::string("staging"),
                                       ".",         m_timeline, "shop"};
    asio::io_context io;
    auto future = asio::co_spawn(io, gate.evaluate(context), asio::use_future);
    io.run();
    return future.get();
  }

  Verdict ask(const std::string& yaml) { return evaluate(*build(yaml)); }

  std::string received() const { return m_server.received(); }
  int requests() const { return m_server.requests(); }
  const promote::Candidate& candidate() const { return m_candidate; }
  /// The request body the webhook received.
  std::string received_body() const { return m_server.received_body(); }

 private:
  promote::test::HttpScript m_server;
  promote::Candidate m_candidate;
  promote::test::FakeTimeline m_timeline;  // now: 2027-01-15T08:00:00Z
};

std::string status(const Verdict& verdict) {
  return promote::to_string(verdict.status);
}

// The problems a `with:` block is reported with, one per line.
std::string problems(const std::string& yaml) {
  Diagnostics diagnostics;
  const ConfigNode with(YAML::Load(yaml), "promote.yaml", diagnostics);
  CHECK(promote::gates::make_http(with) == nullptr);
  return diagnostics.to_error().message;
}

}  // namespace

TEST_SUITE("gates") {
  // --- the status code ---------------------------------------------------------------------

  TEST_CASE("http: a 200 passes and the details record the exchange") {
    const std::string body = "{\"ok\":true}";
    Webhook hook(http_response("200 OK", body));
    const Verdict verdict = hook.ask("url: URL");
    CHECK(status(verdict) == "pass");
    CHECK(verdict.summary == "HTTP 200 from GET " + hook.url());
    CHECK(verdict.details == json{{"method", "GET"},
                                  {"url", hook.url()},
                                  {"status", 200},
                                  {"body_sha256", promote::util::sha256_hex(body)},
                                  {"body_bytes", body.size()},
                                  {"rule", "2xx"}});
    CHECK_FALSE(verdict.retry_after.has_value());
    CHECK(verdict.evidence.empty());
    CHECK(hook.received().rfind("GET /hook HTTP/1.1\r\n", 0) == 0);
  }

  TEST_CASE("http: a 5xx is an error, another 4xx a failure, a redirect an error") {
    SUBCASE("500") {
      Webhook hook(http_response("500 Internal Server Error", "database down"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "HTTP 500 from GET " + hook.url());
      CHECK(verdict.details["rule"] == "5xx");
      CHECK(verdict.details["body_excerpt"] == "database down");
    }
    SUBCASE("404") {
      Webhook hook(http_response("404 Not Found", "no such check"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "HTTP 404 from GET " + hook.url());
      CHECK(verdict.details["rule"] == "4xx");
      CHECK(verdict.details["status"] == 404);
    }
    SUBCASE("302, with the userinfo of its Location hidden") {
      Webhook hook(http_response("302 Found", "", "Location: https://u:pw@elsewhere.example/x\r\n"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "HTTP 302 from GET " + hook.url() +
                                   ": redirects are not followed (Location: "
                                   "https://elsewhere.example/x)");
    }
  }

  TEST_CASE("http: pass_status and fail_status override the default mapping") {
    SUBCASE("a 404 that passes") {
      Webhook hook(http_response("404 Not Found", ""));
      const Verdict verdict = hook.ask("url: URL\npass_status: [404]");
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "HTTP 404 from GET " + hook.url() + " (pass_status)");
      CHECK(verdict.details["rule"] == "pass_status");
    }
    SUBCASE("a 200 that fails") {
      Webhook hook(http_response("200 OK", "frozen"));
      const Verdict verdict = hook.ask("url: URL\nfail_status: [200, 409]");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "HTTP 200 from GET " + hook.url() + " (fail_status)");
    }
    SUBCASE("a 503 listed in fail_status fails even with Retry-After") {
      Webhook hook(http_response("503 Service Unavailable", "", "Retry-After: 60\r\n"));
      const Verdict verdict = hook.ask("url: URL\nfail_status: [503]");
      CHECK(status(verdict) == "fail");
      CHECK_FALSE(verdict.retry_after.has_value());
    }
  }

  TEST_CASE("http: a failed connection is an error naming the request") {
    std::string url;
    {
      Webhook closed("");
      url = closed.url();
    }
    Webhook hook("");
    const Verdict verdict = hook.ask("url: " + url);
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary.rfind("GET " + url + ": cannot connect to 127.0.0.1:", 0) == 0);
    CHECK(verdict.details["error"] == verdict.summary);
  }

  TEST_CASE("http: the timeout is the request's deadline") {
    Webhook hook("");
    const Verdict verdict = hook.ask("url: URL\ntimeout: 1s");
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary == "GET " + hook.url() + ": timed out after 1s");
  }

  // --- Retry-After -------------------------------------------------------------------------

  TEST_CASE("http: 429, 503 and 202 with Retry-After are pending until then") {
    SUBCASE("429 with seconds") {
      Webhook hook(http_response("429 Too Many Requests", "slow down", "Retry-After: 120\r\n"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "pending");
      REQUIRE(verdict.retry_after.has_value());
      CHECK(*verdict.retry_after == 120s);
      CHECK(verdict.summary == "HTTP 429 from GET " + hook.url() + ": retry after 2m");
      CHECK(verdict.details["retry_after"] == "120");
      CHECK(verdict.details["retry_after_seconds"] == 120);
      CHECK(verdict.details["rule"] == "429 with Retry-After");
    }
    SUBCASE("503 with an HTTP date, 90 seconds after the clock's now") {
      for (const char* date : {"Fri, 15 Jan 2027 08:01:30 GMT", "Friday, 15-Jan-27 08:01:30 GMT",
                               "Fri Jan 15 08:01:30 2027"}) {
        CAPTURE(date);
        Webhook hook(
            http_response("503 Service Unavailable", "", "Retry-After: " + std::string(date) + "\r\n"));
        const Verdict verdict = hook.ask("url: URL");
        CHECK(status(verdict) == "pending");
        REQUIRE(verdict.retry_after.has_value());
        CHECK(*verdict.retry_after == 90s);
      }
    }
    SUBCASE("a date in the past asks again after one second") {
      Webhook hook(http_response("503 Service Unavailable", "",
                            "Retry-After: Thu, 01 Jan 2026 00:00:00 GMT\r\n"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "pending");
      CHECK(verdict.retry_after == std::optional(std::chrono::seconds(1)));
    }
    SUBCASE("202 Accepted: the answer is not ready") {
      Webhook hook(http_response("202 Accepted", "", "Retry-After: 30\r\n"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /state\nequals: approved");
      CHECK(status(verdict) == "pending");
      CHECK(verdict.retry_after == std::optional(std::chrono::seconds(30)));
    }
    SUBCASE("without a valid Retry-After, 429 and 503 are errors") {
      Webhook hook(http_response("429 Too Many Requests", "", "Retry-After: soon\r\n"));
      const Verdict verdict = hook.ask("url: URL");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary ==
            "HTTP 429 from GET " + hook.url() + ": too many requests, and no valid Retry-After");
      CHECK(verdict.details["retry_after"] == "soon");
      CHECK_FALSE(verdict.retry_after.has_value());
      Webhook unavailable(http_response("503 Service Unavailable", ""));
      CHECK(status(unavailable.ask("url: URL")) == "error");
    }
  }

  // --- the JSON answer ---------------------------------------------------------------------

  TEST_CASE("http: a number found by json_pointer is judged by the condition") {
    const std::string body = R"({"checks": [{"name": "errors", "rate": 0.002}]})";
    SUBCASE("satisfied") {
      Webhook hook(http_response("200 OK", body, "Content-Type: application/json\r\n"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /checks/0/rate\ncondition: < 0.01");
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "/checks/0/rate 0.002 satisfies < 0.01");
      CHECK(verdict.details["value"] == 0.002);
      CHECK(verdict.details["json_pointer"] == "/checks/0/rate");
      CHECK(verdict.details["condition"] == "< 0.01");
      CHECK(verdict.details["rule"] == "/checks/0/rate < 0.01");
      CHECK(verdict.details["body_sha256"] == promote::util::sha256_hex(body));
      CHECK(hook.received().find("Accept: application/json\r\n") != std::string::npos);
    }
    SUBCASE("broken") {
      Webhook hook(http_response("200 OK", body));
      const Verdict verdict =
          hook.ask("url: URL\njson_pointer: /checks/0/rate\ncondition: between 0.01 and 0.1");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "/checks/0/rate 0.002 breaks between 0.01 and 0.1");
    }
    SUBCASE("a value that is no number cannot be judged") {
      Webhook hook(http_response("200 OK", R"({"checks": [{"rate": "low"}]})"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /checks/0/rate\ncondition: < 1");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary ==
            "/checks/0/rate is a string, not a number, in the response of GET " + hook.url());
    }
  }

  TEST_CASE("http: a value found by json_pointer is compared with equals") {
    SUBCASE("a string, equal") {
      Webhook hook(http_response("200 OK", R"({"state": "approved"})"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /state\nequals: approved");
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "/state \"approved\" equals \"approved\"");
      CHECK(verdict.details["value"] == "approved");
      CHECK(verdict.details["equals"] == "approved");
    }
    SUBCASE("a string, different") {
      Webhook hook(http_response("200 OK", R"({"state": "rejected"})"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /state\nequals: approved");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "/state \"rejected\" does not equal \"approved\"");
    }
    SUBCASE("a boolean, and a quoted 'true' that stays a string") {
      Webhook hook(http_response("200 OK", R"({"ready": true})"));
      CHECK(status(hook.ask("url: URL\njson_pointer: /ready\nequals: true")) == "pass");
      Webhook quoted(http_response("200 OK", R"({"ready": true})"));
      CHECK(status(quoted.ask("url: URL\njson_pointer: /ready\nequals: 'true'")) == "fail");
    }
    SUBCASE("numbers compare by value") {
      Webhook hook(http_response("200 OK", R"({"approvals": 2.0})"));
      CHECK(status(hook.ask("url: URL\njson_pointer: /approvals\nequals: 2")) == "pass");
    }
  }

  TEST_CASE("http: a missing value or a body that is no JSON cannot be judged") {
    SUBCASE("no value at the pointer") {
      Webhook hook(http_response("200 OK", R"({"status": "approved"})"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /state\nequals: approved");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no value at /state in the response of GET " + hook.url());
    }
    SUBCASE("an array index that is no number") {
      Webhook hook(http_response("200 OK", R"({"checks": []})"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /checks/first\ncondition: < 1");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no value at /checks/first in the response of GET " + hook.url());
    }
    SUBCASE("not JSON") {
      Webhook hook(http_response("200 OK", "<html>ok</html>", "Content-Type: text/html\r\n"));
      const Verdict verdict = hook.ask("url: URL\njson_pointer: /state\nequals: approved");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "the response of GET " + hook.url() +
                                   " (HTTP 200) is not JSON (Content-Type: text/html)");
      CHECK(verdict.details["body_excerpt"] == "<html>ok</html>");
    }
    SUBCASE("the status decides before the body") {
      Webhook hook(http_response("404 Not Found", R"({"state": "approved"})"));
      CHECK(status(hook.ask("url: URL\njson_pointer: /state\nequals: approved")) == "fail");
    }
  }

  // --- the request -------------------------------------------------------------------------

  TEST_CASE("http: POST sends the candidate and the stage as JSON") {
    Webhook hook(http_response("200 OK", ""));
    const Verdict verdict = hook.ask("url: URL\nmethod: POST");
    CHECK(status(verdict) == "pass");
    CHECK(hook.received().rfind("POST /hook HTTP/1.1\r\n", 0) == 0);
    CHECK(hook.received().find("Content-Type: application/json\r\n") != std::string::npos);
    const json sent = json::parse(hook.received_body());
    CHECK(sent ==
          json{{"candidate",
                {{"id", hook.candidate().id()}, {"images", {{"api", "ghcr.io/acme/api:1.4.2"}}}}},
               {"stage", "prod"},
               {"from", "staging"},
               {"pipeline", "shop"}});
    CHECK(verdict.details["method"] == "POST");
  }

  TEST_CASE("http: a header from the environment is sent and never recorded") {
    const EnvVar token(k_token_env, k_token.c_str());
    // A webhook that echoes the token back in its body, as some debugging endpoints do.
    Webhook hook(http_response("500 Internal Server Error", "got Authorization: Bearer " + k_token,
                          "Content-Type: text/plain\r\n"));
    const auto gate = hook.build(
        "url: URL\nheaders:\n  Authorization: {env: PROMOTE_TEST_HOOK_TOKEN, prefix: 'Bearer '}\n"
        "  X-Team: shop\n");
    const Verdict verdict = hook.evaluate(*gate);
    CHECK(hook.received().find("Authorization: Bearer " + k_token + "\r\n") != std::string::npos);
    CHECK(hook.received().find("X-Team: shop\r\n") != std::string::npos);
    CHECK(status(verdict) == "error");
    CHECK(verdict.details["body_excerpt"] == "got Authorization: Bearer ***");
    CHECK(verdict.summary.find(k_token) == std::string::npos);
    CHECK(verdict.details.dump().find(k_token) == std::string::npos);
    CHECK(gate->config().dump().find(k_token) == std::string::npos);
    CHECK(gate->config()["headers"] ==
          json{{"Authorization", {{"env", "PROMOTE_TEST_HOOK_TOKEN"}, {"prefix", "Bearer "}}},
               {"X-Team", "shop"}});
  }

  TEST_CASE("http: a secret cut by the end of the body's excerpt is hidden whole") {
    const EnvVar token(k_token_env, k_token.c_str());
    Webhook hook(http_response("403 Forbidden", std::string(195, 'x') + k_token + " is not allowed"));
    const Verdict verdict =
        hook.ask("url: URL\nheaders:\n  X-Hook-Token: {env: PROMOTE_TEST_HOOK_TOKEN}\n");
    CHECK(status(verdict) == "fail");
    CHECK(verdict.details["body_excerpt"] == std::string(195, 'x') + "*** i...");
  }

  TEST_CASE("http: what the server sends is recorded as valid UTF-8") {
    Webhook hook(http_response("500 Internal Server Error", "caf\xC3\xA9 \xFF\xED\xA0\x80 ok\r\n"));
    const Verdict verdict = hook.ask("url: URL");
    CHECK(verdict.details["body_excerpt"] == "caf\xC3\xA9 ???? ok  ");
    CHECK_NOTHROW((void)verdict.details.dump());
  }

  TEST_CASE("http: a header's variable that is not set is an error naming it, not sent") {
    ::unsetenv(k_token_env);
    Webhook hook(http_response("200 OK", ""));
    const Verdict verdict =
        hook.ask("url: URL\nheaders:\n  X-Hook-Token: {env: PROMOTE_TEST_HOOK_TOKEN}\n");
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary ==
          "environment variable PROMOTE_TEST_HOOK_TOKEN (headers.X-Hook-Token) is not set");
    CHECK(verdict.details["error"] == verdict.summary);
    CHECK(hook.requests() == 0);
  }

  TEST_CASE("http: a variable holding a line break is refused, without showing it") {
    const EnvVar token(k_token_env, (k_token + "\r\nX-Injected: 1").c_str());
    Webhook hook(http_response("200 OK", ""));
    const Verdict verdict =
        hook.ask("url: URL\nheaders:\n  X-Hook-Token: {env: PROMOTE_TEST_HOOK_TOKEN}\n");
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary ==
          "environment variable PROMOTE_TEST_HOOK_TOKEN (headers.X-Hook-Token) "
          "holds a line break or another control character");
    CHECK(hook.requests() == 0);
  }

  // --- the configuration -------------------------------------------------------------------

  TEST_CASE("http: config() is the validated configuration, with defaults") {
    Webhook hook("");
    CHECK(hook.build("url: URL")->config() ==
          json{{"url", hook.url()}, {"method", "GET"}, {"timeout", "30s"}});
    CHECK(hook.build("url: URL\nmethod: POST\ntimeout: 5s\npass_status: [404]\n"
                     "fail_status: [409, 423]\njson_pointer: /rate\ncondition: '>= 99.5'")
              ->config() == json{{"url", hook.url()},
                                 {"method", "POST"},
                                 {"timeout", "5s"},
                                 {"pass_status", {404}},
                                 {"fail_status", {409, 423}},
                                 {"json_pointer", "/rate"},
                                 {"condition", ">= 99.5"}});
    CHECK(hook.build("url: URL\njson_pointer: /ok\nequals: true")->config()["equals"] == true);
  }

  TEST_CASE("http: the factory reports bad configuration as FILE:LINE:COL") {
    SUBCASE("an absent with: block and a missing url") {
      Diagnostics diagnostics;
      const ConfigNode gate_node(YAML::Load("\n  use: http"), "promote.yaml", diagnostics);
      CHECK(promote::gates::make_http(ConfigNode::absent(gate_node)) == nullptr);
      CHECK(diagnostics.to_error().message ==
            "promote.yaml:2:3: gate 'http' needs 'with: { url: <http or https URL> }'");
      CHECK(problems("method: GET") ==
            "promote.yaml:1:1: missing required field 'url' in gate 'http'");
    }
    SUBCASE("unknown keys, with a suggestion") {
      CHECK(problems("url: http://hook\njson_ponter: /a\nfoo: 1") ==
            "promote.yaml:2:1: unknown field 'json_ponter' in gate 'http' (did you mean "
            "'json_pointer'?)\npromote.yaml:3:1: unknown field 'foo' in gate 'http'");
    }
    SUBCASE("bad urls") {
      CHECK(problems("url: ftp://hook/x") ==
            "promote.yaml:1:6: 'url' must be an http:// or https:// URL, got 'ftp://hook/x'");
      CHECK(problems("url: not a url") ==
            "promote.yaml:1:6: 'url' must be an http:// or https:// URL, got 'not a url'");
      CHECK(problems("url: 'http://user:pa ss@hook'") ==
            "promote.yaml:1:6: 'url' must be an http:// or https:// URL");
      const std::string credentials = problems("url: https://bob:s3cret@hook.example/x");
      CHECK(credentials ==
            "promote.yaml:1:6: 'url' must not hold credentials; send them in 'headers' from "
            "environment variables");
      CHECK(credentials.find("s3cret") == std::string::npos);
    }
    SUBCASE("bad method and timeout") {
      CHECK(problems("url: http://hook\nmethod: get\ntimeout: 0s") ==
            "promote.yaml:2:9: 'method' must be GET or POST, got 'get'\n"
            "promote.yaml:3:10: 'timeout' must be longer than 0s");
    }
    SUBCASE("bad condition, and a condition without json_pointer") {
      CHECK(problems("url: http://hook\njson_pointer: /a\ncondition: about 3") ==
            "promote.yaml:3:12: invalid condition 'about 3': expected '< N', '<= N', '> N', "
            "'>= N', '== N', '!= N' or 'between LOW and HIGH'");
      CHECK(problems("url: http://hook\ncondition: < 3") ==
            "promote.yaml:2:12: 'condition' needs 'json_pointer' to find the value it judges");
    }
    SUBCASE("json_pointer, equals and condition must go together") {
      CHECK(problems("url: http://hook\njson_pointer: state") ==
            "promote.yaml:2:15: 'json_pointer' must be a JSON pointer such as /status or "
            "/checks/0/state, got 'state'\n"
            "promote.yaml:2:15: 'json_pointer' needs 'condition' or 'equals' to judge the value");
      CHECK(problems("url: http://hook\njson_pointer: /a\ncondition: < 1\nequals: x") ==
            "promote.yaml:4:9: 'equals' and 'condition' exclude each other: give one");
      CHECK(problems("url: http://hook\njson_pointer: /a\nequals: [a, b]") ==
            "promote.yaml:3:9: 'equals' must be a string, a number, true or false, got a list");
    }
    SUBCASE("status lists") {
      CHECK(problems("url: http://hook\npass_status: [200, 700]\nfail_status: 404") ==
            "promote.yaml:2:20: 'pass_status' holds HTTP status codes (100 to 599), got 700\n"
            "promote.yaml:3:14: 'fail_status' must be a list, got '404'");
      CHECK(problems("url: http://hook\npass_status: [404]\nfail_status: [404]") ==
            "promote.yaml:3:14: status 404 is in both 'pass_status' and 'fail_status'");
    }
    SUBCASE("headers") {
      CHECK(problems("url: http://hook\nheaders:\n  Authorization: Bearer abc123\n") ==
            "promote.yaml:3:18: header 'Authorization' looks like a secret: take its value from "
            "the environment with { env: NAME }");
      CHECK(problems("url: http://hook\nheaders:\n  Bad Name: x\n  Host: h\n"
                     "  X-A: {env: 1TOKEN}\n  X-B: {env: T, prefx: p}\n  X-C: [a]\n") ==
            "promote.yaml:3:3: 'Bad Name' is not a valid header name\n"
            "promote.yaml:4:3: header 'Host' is set by promote and cannot be configured\n"
            "promote.yaml:5:14: 'env' must name an environment variable (letters, digits and _), "
            "got '1TOKEN'\n"
            "promote.yaml:6:17: unknown field 'prefx' in header 'X-B' (did you mean 'prefix'?)\n"
            "promote.yaml:7:8: header 'X-C' must be a string or { env: NAME, prefix: ... }, got "
            "a list");
      CHECK(problems("url: http://hook\nheaders: [a]") ==
            "promote.yaml:2:10: 'headers' must be a mapping, got a list");
    }
  }

  TEST_CASE("http: the gate is in the built-in table") {
    const promote::gates::GateType* type = promote::gates::find("http");
    REQUIRE(type != nullptr);
    const bool made_by_make_http = type->make == &promote::gates::make_http;
    CHECK(made_by_make_http);
  }
}
