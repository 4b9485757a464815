#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "gates/prometheus.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/support.hpp"

using promote::Verdict;
using promote::gates::PrometheusConfig;
using promote::gates::QueryResult;
using Status = promote::Verdict::Status;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string k_label = "http://prom:9090/api/v1/query?query=up";

QueryResult parse_ok(const std::string& body) {
  auto result = promote::gates::parse_query_response(body, k_label);
  if (!result) {
    FAIL("unexpected error: " << result.error().message);
  }
  return *result;
}

std::string parse_error(const std::string& body) {
  auto result = promote::gates::parse_query_response(body, k_label);
  REQUIRE(result.has_error());
  CHECK(result.error().kind == promote::ErrorKind::http);
  return result.error().message;
}

std::string corpus_file(const std::string& name) {
  return promote::test::read_text(*promote::test::corpus_dir() / "prometheus" / name);
}

std::optional<PrometheusConfig> read_config(const std::string& yaml,
                                            promote::pipeline::Diagnostics& diagnostics) {
  YAML::Node node = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
  return promote::gates::read_prometheus_config(
      promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics));
}

PrometheusConfig config_of(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  auto config = read_config(yaml, diagnostics);
  if (!config) {
    FAIL("invalid config: " << diagnostics.to_error().message);
  }
  return *config;
}

std::string config_error(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  CHECK_FALSE(read_config(yaml, diagnostics));
  REQUIRE_FALSE(diagnostics.empty());
  return diagnostics.messages().front();
}

// A fake Prometheus: answers the queued replies in order and records the requests.
struct FakeServer {
  std::vector<promote::Result<promote::http::Response>> replies;
  std::vector<promote::http::Request> requests;
  std::size_t next = 0;
};

boost::asio::awaitable<promote::Result<promote::http::Response>> fake_fetch(
    std::shared_ptr<FakeServer> server, promote::http::Request request) {
  server->requests.push_back(std::move(request));
  if (server->next >= server->replies.size()) {
    co_return promote::make_error(promote::ErrorKind::http, "no more replies");
  }
  co_return server->replies[server->next++];
}

promote::http::Response ok(const std::string& body, unsigned status = 200) {
  return promote::http::Response{status, {}, body};
}

std::string vector_of(std::initializer_list<std::string> values) {
  json result = json::array();
  int i = 0;
  for (const auto& value : values) {
    result.push_back({{"metric", {{"__name__", "errors"}, {"pod", "p" + std::to_string(i++)}}},
                      {"value", {1700000000.5, value}}});
  }
  return json{{"status", "success"}, {"data", {{"resultType", "vector"}, {"result", result}}}}
      .dump();
}

struct Run {
  Verdict verdict;
  std::shared_ptr<FakeServer> server;
};

Run evaluate(const PrometheusConfig& config,
             std::vector<promote::Result<promote::http::Response>> replies) {
  auto server = std::make_shared<FakeServer>();
  server->replies = std::move(replies);
  promote::gates::PrometheusGate gate(config, [server](promote::http::Request request) {
    return fake_fetch(server, std::move(request));
  });
  promote::Candidate candidate;
  promote::test::FakeTimeline timeline;
  promote::GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, gate.evaluate(context), boost::asio::use_future);
  io.run();
  return {future.get(), server};
}

const std::string k_base = "url: http://prom:9090\nquery: errors\ninterval: 0s\n";

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("conditions parse and judge values, and NaN never satisfies one") {
    auto lt = promote::gates::parse_condition(" < 0.01 ");
    REQUIRE(lt.has_value());
    CHECK(lt->text == "< 0.01");
    CHECK(lt->holds(0.005));
    CHECK_FALSE(lt->holds(0.01));
    CHECK_FALSE(lt->holds(std::nan("")));
    CHECK(lt->holds(-INFINITY));
    auto ge = promote::gates::parse_condition(">= 99.5");
    REQUIRE(ge.has_value());
    CHECK(ge->holds(99.5));
    CHECK(ge->holds(INFINITY));
    CHECK_FALSE(ge->holds(99.4));
    auto ne = promote::gates::parse_condition("!= 0");
    REQUIRE(ne.has_value());
    CHECK_FALSE(ne->holds(std::nan("")));
    auto between = promote::gates::parse_condition("between 0.9 and 1.1");
    REQUIRE(between.has_value());
    CHECK(between->holds(0.9));
    CHECK(between->holds(1.1));
    CHECK_FALSE(between->holds(1.2));
    CHECK_FALSE(between->holds(std::nan("")));
  }

  TEST_CASE("malformed conditions are refused with the reason") {
    auto message = [](std::string_view text) {
      auto parsed = promote::gates::parse_condition(text);
      REQUIRE(parsed.has_error());
      CHECK(parsed.error().kind == promote::ErrorKind::config);
      return parsed.error().message;
    };
    CHECK(message("about 3") ==
          "invalid condition 'about 3': expected '< N', '<= N', '> N', '>= N', '== N', "
          "'!= N' or 'between LOW and HIGH'");
    CHECK(message("< lots") == "invalid condition '< lots': expected a number after '<'");
    CHECK(message("between 2 and 1") ==
          "invalid condition 'between 2 and 1': the lower bound is above the upper bound");
    CHECK(message("between 1") == "invalid condition 'between 1': expected 'between LOW and HIGH'");
    CHECK(message("< NaN") == "invalid condition '< NaN': expected a number after '<'");
  }

  TEST_CASE("sample values are read as Prometheus writes them") {
    CHECK(*promote::gates::parse_sample_value("1e-3") == doctest::Approx(0.001));
    CHECK(std::isnan(*promote::gates::parse_sample_value("NaN")));
    CHECK(*promote::gates::parse_sample_value("+Inf") == INFINITY);
    CHECK(*promote::gates::parse_sample_value("-Inf") == -INFINITY);
    CHECK(*promote::gates::parse_sample_value("-2") == -2);
    CHECK_FALSE(promote::gates::parse_sample_value("12abc"));
    CHECK_FALSE(promote::gates::parse_sample_value(""));
    CHECK_FALSE(promote::gates::parse_sample_value(" 1"));
  }

  TEST_CASE("envelopes that are not a usable result are errors naming the query") {
    CHECK(parse_error("<html>") == k_label + ": the response is not a JSON object");
    CHECK(parse_error("{}") == k_label + ": the response has no 'status'");
    CHECK(parse_error(R"({"status":"maybe"})") == k_label + ": unknown status 'maybe'");
    CHECK(parse_error(R"({"status":"error","errorType":"bad_data","error":"parse error"})") ==
          k_label + ": prometheus error (bad_data): parse error");
    CHECK(parse_error(R"({"status":"success","data":{"resultType":"vector","result":)"
                      R"([{"metric":{"job":"a"},"value":[1,"x"]}]}})") ==
          k_label + ": a sample of {job=\"a\"} has the value 'x', which is not a number");
    CHECK(parse_error(R"({"status":"success","data":{"resultType":"streams","result":[]}})") ==
          k_label + ": unknown result type 'streams'");
  }

  TEST_CASE("warnings are kept with the result") {
    auto result = parse_ok(R"({"status":"success","warnings":["partial response"],)"
                           R"("data":{"resultType":"scalar","result":[1,"2"]}})");
    REQUIRE(result.warnings.size() == 1);
    CHECK(result.warnings[0] == "partial response");
  }

  TEST_CASE("the corpus response bodies parse to their series or a clear error" *
            doctest::skip(!promote::test::has_corpus())) {
    SUBCASE("scalar") {
      auto result = parse_ok(corpus_file("cortex__scalar-result.json"));
      CHECK(result.result_type == "scalar");
      REQUIRE(result.series.size() == 1);
      CHECK(result.series[0].value == 13);
      CHECK(result.series[0].metric == json::object());
    }
    SUBCASE("string") {
      CHECK(parse_error(corpus_file("cortex__string-result.json")) ==
            k_label + ": the query returned a string, not a number");
    }
    SUBCASE("vector with an empty label set") {
      auto result = parse_ok(corpus_file("cortex__vector-empty-labelset.json"));
      REQUIRE(result.series.size() == 1);
      CHECK(result.series[0].raw == "1266464.0146205237");
      CHECK(result.series[0].value == doctest::Approx(1266464.0146205237));
    }
    SUBCASE("empty vector") {
      auto result = parse_ok(corpus_file("cortex__vector-empty-result.json"));
      CHECK(result.result_type == "vector");
      CHECK(result.series.empty());
    }
    SUBCASE("native histograms") {
      CHECK(parse_error(corpus_file("cortex__vector-native-histogram-real.json")) ==
            k_label +
                ": prometheus_http_request_duration_seconds{handler=\"/metrics\",instance="
                "\"localhost:9090\",job=\"prometheus\"} is a native histogram, not a float "
                "sample");
      CHECK(parse_error(corpus_file("prometheus-openapi__vector-native-histogram.json")) ==
            k_label +
                ": http_request_duration_seconds{instance=\"demo.prometheus.io:9090\","
                "job=\"prometheus\"} is a native histogram, not a float sample");
      CHECK(parse_error(corpus_file("prometheus-json-codec__matrix-native-histogram.json")) ==
            k_label + ": foo{} is a native histogram, not a float sample");
    }
    SUBCASE("error envelopes") {
      CHECK(parse_error(corpus_file("prometheus-api-test__error-not-acceptable.json")) ==
            k_label +
                ": prometheus error (not_acceptable): cannot encode response as "
                "application/default-format");
      CHECK(parse_error(corpus_file("prometheus-api-test__error-timeout-with-data.json")) ==
            k_label + ": prometheus error (timeout): message");
    }
    SUBCASE("the documented instant vector") {
      auto result = parse_ok(corpus_file("prometheus-docs__instant-query-vector.json"));
      REQUIRE(result.series.size() == 2);
      CHECK(result.series[0].metric["job"] == "prometheus");
      CHECK(result.series[0].value == 1);
      CHECK(result.series[1].value == 0);
    }
    SUBCASE("matrices give the last point of each series") {
      auto result = parse_ok(corpus_file("prometheus-docs__range-query-matrix.json"));
      CHECK(result.result_type == "matrix");
      REQUIRE(result.series.size() == 2);
      CHECK(result.series[0].raw == "1");
      CHECK(result.series[1].raw == "1");
      auto codec = parse_ok(corpus_file("prometheus-json-codec__matrix.json"));
      REQUIRE(codec.series.size() == 2);
      CHECK(codec.series[1].value == 2);
    }
    SUBCASE("the codec's vector") {
      auto result = parse_ok(corpus_file("prometheus-json-codec__vector.json"));
      REQUIRE(result.series.size() == 2);
      CHECK(result.series[0].metric["__name__"] == "foo");
      CHECK(result.series[1].value == 2);
    }
    SUBCASE("bodies that are not query results") {
      for (const char* name :
           {"prometheus-json-codec__point-NaN.json", "prometheus-json-codec__point-plus-Inf.json",
            "prometheus-json-codec__exemplars-plus-Inf.json"}) {
        CAPTURE(name);
        CHECK(parse_error(corpus_file(name)) ==
              k_label + ": 'data' is not an object with 'resultType' and 'result'");
      }
    }
    SUBCASE("every codec point read as a scalar keeps its value") {
      const json cases = json::parse(corpus_file("prometheus-json-codec-cases.json"))["cases"];
      const std::map<int, double> expected = {{4, 0},
                                              {5, 20},
                                              {6, 20},
                                              {7, 20},
                                              {8, 20},
                                              {9, 20},
                                              {10, 20},
                                              {11, 20},
                                              {12, 20},
                                              {13, NAN},
                                              {14, INFINITY},
                                              {15, -INFINITY},
                                              {16, 1234567.8},
                                              {17, 1.2345678e-6},
                                              {18, 1.2345678e-67}};
      int checked = 0;
      for (const auto& item : cases) {
        const int index = item["index"];
        const json body = json::parse(item["expected_body"].get<std::string>());
        if (!expected.count(index)) {
          continue;
        }
        CAPTURE(index);
        json scalar = {{"status", "success"},
                       {"data", {{"resultType", "scalar"}, {"result", body["data"]}}}};
        auto result = parse_ok(scalar.dump());
        REQUIRE(result.series.size() == 1);
        const double want = expected.at(index);
        if (std::isnan(want)) {
          CHECK(std::isnan(result.series[0].value));
        } else {
          CHECK(result.series[0].value == want);
        }
        ++checked;
      }
      CHECK(checked == 15);
    }
  }

  TEST_CASE("the with: block is validated with positions") {
    CHECK(config_error("") ==
          "promote.yaml: gate 'prometheus' needs 'with: { url: ..., query: ..., condition: ... }'");
    CHECK(config_error("url: http://p:9090\nquery: up\n") ==
          "promote.yaml:1:1: missing required field 'condition' in gate 'prometheus'");
    CHECK(config_error("url: http://p:9090\nquery: up\ncondition: about 3\n") ==
          "promote.yaml:3:12: invalid condition 'about 3': expected '< N', '<= N', '> N', "
          "'>= N', '== N', '!= N' or 'between LOW and HIGH'");
    CHECK(config_error("url: http://bob:pw@p:9090\nquery: up\ncondition: < 1\n") ==
          "promote.yaml:1:6: 'url' must not hold credentials; use 'auth' with environment "
          "variables");
    CHECK(config_error("url: ftp://p\nquery: up\ncondition: < 1\n") ==
          "promote.yaml:1:6: 'url' must be an http:// or https:// URL, got 'ftp://p'");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\nmethod: PUT\n") ==
          "promote.yaml:4:9: 'method' must be GET or POST, got 'PUT'");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\nreduce: median\n") ==
          "promote.yaml:4:9: 'reduce' must be each, max, min, avg or sum, got 'median'");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\non_empty: pass\n") ==
          "promote.yaml:4:11: 'on_empty' must be fail, pending or error, got 'pass'");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\nsamples: 0\n") ==
          "promote.yaml:4:10: 'samples' must be at least 1, got 0");
    CHECK(
        config_error("url: http://p\nquery: up\ncondition: < 1\nsamples: 2\nfailure_limit: 2\n") ==
        "promote.yaml:5:16: 'failure_limit' must be less than 'samples' (2), or the gate "
        "could never fail");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\nauth: {username_env: U}\n") ==
          "promote.yaml:4:7: 'auth' needs both 'username_env' and 'password_env'");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\ntimeout: 0s\n") ==
          "promote.yaml:4:10: 'timeout' must be longer than 0s");
    CHECK(config_error("url: http://p\nquery: up\ncondition: < 1\nsample: 3\n")
              .find("unknown field 'sample'") != std::string::npos);
  }

  TEST_CASE("config() names the auth variables, never their values") {
    setenv("PROMOTE_TEST_PROM_TOKEN", "s3cret-token", 1);
    auto gate = promote::gates::PrometheusGate(
        config_of("url: https://prom.example/\nquery: up\ncondition: '>= 1'\n"
                  "auth: {bearer_env: PROMOTE_TEST_PROM_TOKEN}\nsamples: 3\nfailure_limit: 1\n"));
    const json config = gate.config();
    CHECK(config["auth"] == json{{"bearer_env", "PROMOTE_TEST_PROM_TOKEN"}});
    CHECK(config["samples"] == 3);
    CHECK(config["interval"] == "1m");
    CHECK(config["on_empty"] == "error");
    CHECK(config["condition"] == ">= 1");
    CHECK(config.dump().find("s3cret") == std::string::npos);
    CHECK(gate.query_url() == "https://prom.example/api/v1/query?query=up");
  }

  TEST_CASE("one sample that satisfies the condition passes with its evidence") {
    auto run = evaluate(config_of(k_base + "condition: '< 0.01'"), {ok(vector_of({"0.004"}))});
    CHECK(run.verdict.status == Status::pass);
    CHECK(run.verdict.summary == "0.004 satisfies < 0.01");
    const json& details = run.verdict.details;
    CHECK(details["url"] == "http://prom:9090/api/v1/query?query=errors");
    CHECK(details["condition"] == "< 0.01");
    REQUIRE(details["samples"].size() == 1);
    CHECK(details["samples"][0]["outcome"] == "pass");
    CHECK(details["samples"][0]["values"][0]["value"] == "0.004");
    CHECK(details["samples"][0]["values"][0]["passed"] == true);
    REQUIRE(run.server->requests.size() == 1);
    CHECK(run.server->requests[0].method == "GET");
    CHECK(run.server->requests[0].url == "http://prom:9090/api/v1/query?query=errors");
  }

  TEST_CASE("each series must satisfy the condition unless a reduction is asked for") {
    SUBCASE("each") {
      auto run =
          evaluate(config_of(k_base + "condition: '< 1'"), {ok(vector_of({"0.5", "3", "NaN"}))});
      CHECK(run.verdict.status == Status::fail);
      CHECK(run.verdict.summary == "errors{pod=\"p1\"} = 3 breaks < 1 (and 1 more series)");
    }
    SUBCASE("all series pass") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'"), {ok(vector_of({"0.5", "0.2"}))});
      CHECK(run.verdict.status == Status::pass);
      CHECK(run.verdict.summary == "all 2 series satisfy < 1");
    }
    SUBCASE("max") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'\nreduce: max"),
                          {ok(vector_of({"0.5", "0.9"}))});
      CHECK(run.verdict.status == Status::pass);
      CHECK(run.verdict.summary == "max 0.9 satisfies < 1");
      CHECK(run.verdict.details["samples"][0]["reduced"] == 0.9);
    }
    SUBCASE("sum") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'\nreduce: sum"),
                          {ok(vector_of({"0.5", "0.75"}))});
      CHECK(run.verdict.status == Status::fail);
      CHECK(run.verdict.summary == "sum 1.25 breaks < 1");
    }
    SUBCASE("avg") {
      auto run = evaluate(config_of(k_base + "condition: 'between 0.5 and 1'\nreduce: avg"),
                          {ok(vector_of({"0.5", "1.0"}))});
      CHECK(run.verdict.status == Status::pass);
      CHECK(run.verdict.summary == "avg 0.75 satisfies between 0.5 and 1");
    }
    SUBCASE("min with a NaN") {
      auto run = evaluate(config_of(k_base + "condition: '>= 0'\nreduce: min"),
                          {ok(vector_of({"0.5", "NaN"}))});
      CHECK(run.verdict.status == Status::fail);
      CHECK(run.verdict.summary == "min NaN breaks >= 0");
      CHECK(run.verdict.details["samples"][0]["reduced"] == "NaN");
    }
  }

  TEST_CASE("a single NaN or infinite value is judged, never passed by default") {
    auto nan = evaluate(config_of(k_base + "condition: '!= 0'"), {ok(vector_of({"NaN"}))});
    CHECK(nan.verdict.status == Status::fail);
    CHECK(nan.verdict.summary == "NaN breaks != 0");
    auto inf = evaluate(config_of(k_base + "condition: '< 100'"), {ok(vector_of({"+Inf"}))});
    CHECK(inf.verdict.status == Status::fail);
    CHECK(inf.verdict.summary == "+Inf breaks < 100");
  }

  TEST_CASE("an empty result takes the on_empty status") {
    const std::string empty = vector_of({});
    auto by_default = evaluate(config_of(k_base + "condition: '< 1'"), {ok(empty)});
    CHECK(by_default.verdict.status == Status::error);
    CHECK(by_default.verdict.summary == "the query returned no data (on_empty: error)");
    auto fail = evaluate(config_of(k_base + "condition: '< 1'\non_empty: fail"), {ok(empty)});
    CHECK(fail.verdict.status == Status::fail);
    auto pending = evaluate(config_of("url: http://p\nquery: q\ncondition: '< 1'\n"
                                      "on_empty: pending\ninterval: 0s"),
                            {ok(empty)});
    CHECK(pending.verdict.status == Status::pending);
    REQUIRE(pending.verdict.retry_after);
  }

  TEST_CASE("errors from the server or the network are error verdicts") {
    SUBCASE("an error envelope with its HTTP status") {
      auto run = evaluate(
          config_of(k_base + "condition: '< 1'"),
          {ok(R"({"status":"error","errorType":"bad_data","error":"invalid parameter"})", 400)});
      CHECK(run.verdict.status == Status::error);
      CHECK(run.verdict.summary ==
            "http://prom:9090/api/v1/query?query=errors: prometheus error (bad_data): invalid "
            "parameter");
      CHECK(run.verdict.details["samples"][0]["outcome"] == "error");
    }
    SUBCASE("an HTTP error without an envelope") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'"), {ok("Bad Gateway", 502)});
      CHECK(run.verdict.status == Status::error);
      CHECK(run.verdict.summary ==
            "http://prom:9090/api/v1/query?query=errors: HTTP 502: Bad Gateway");
    }
    SUBCASE("a string result") {
      auto run =
          evaluate(config_of(k_base + "condition: '< 1'"),
                   {ok(R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})")});
      CHECK(run.verdict.status == Status::error);
    }
    SUBCASE("the network") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'"),
                          {promote::make_error(promote::ErrorKind::http, "GET x: refused")});
      CHECK(run.verdict.status == Status::error);
      CHECK(run.verdict.summary == "GET x: refused");
    }
  }

  TEST_CASE("sampling stops once the outcome is decided") {
    SUBCASE("enough passes") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'\nsamples: 5\nfailure_limit: 2"),
                          {ok(vector_of({"2"})), ok(vector_of({"0"})), ok(vector_of({"0"})),
                           ok(vector_of({"0"})), ok(vector_of({"0"}))});
      CHECK(run.verdict.status == Status::pass);
      CHECK(run.verdict.summary == "3 of 4 samples satisfy < 1");
      CHECK(run.server->requests.size() == 4);
    }
    SUBCASE("too many failures") {
      auto run = evaluate(config_of(k_base + "condition: '< 1'\nsamples: 5\nfailure_limit: 1"),
                          {ok(vector_of({"2"})), ok(vector_of({"0"})), ok(vector_of({"3"})),
                           ok(vector_of({"0"})), ok(vector_of({"0"}))});
      CHECK(run.verdict.status == Status::fail);
      CHECK(run.verdict.summary ==
            "2 of 3 samples broke < 1 (failure_limit 1); last: 3 breaks < 1");
      CHECK(run.server->requests.size() == 3);
      CHECK(run.verdict.details["samples"].size() == 3);
    }
    SUBCASE("consecutive errors") {
      auto down = promote::make_error(promote::ErrorKind::http, "GET x: refused");
      auto run = evaluate(
          config_of(k_base + "condition: '< 1'\nsamples: 5\nconsecutive_errors: 2"),
          {ok(vector_of({"0"})), down, ok(vector_of({"0"})), down, down, ok(vector_of({"0"}))});
      CHECK(run.verdict.status == Status::error);
      CHECK(run.verdict.summary == "2 samples in a row errored; last: GET x: refused");
      CHECK(run.server->requests.size() == 5);
    }
    SUBCASE("errors that leave the outcome undecided") {
      auto down = promote::make_error(promote::ErrorKind::http, "GET x: refused");
      auto run = evaluate(config_of(k_base + "condition: '< 1'\nsamples: 3"),
                          {ok(vector_of({"0"})), down, ok(vector_of({"0"}))});
      CHECK(run.verdict.status == Status::error);
      CHECK(
          run.verdict.summary ==
          "undecided after 3 samples (2 passed, 0 failed, 1 errored); last error: GET x: refused");
    }
  }

  TEST_CASE("POST sends the query form-encoded and auth comes from the environment") {
    setenv("PROMOTE_TEST_PROM_USER", "alice", 1);
    setenv("PROMOTE_TEST_PROM_PASS", "wonder land", 1);
    auto run = evaluate(
        config_of("url: https://prom.example/prefix/\nquery: 'sum(x) + 1'\ncondition: '< 1'\n"
                  "method: POST\nauth: {username_env: PROMOTE_TEST_PROM_USER, password_env: "
                  "PROMOTE_TEST_PROM_PASS}"),
        {ok(vector_of({"0"}))});
    CHECK(run.verdict.status == Status::pass);
    REQUIRE(run.server->requests.size() == 1);
    const auto& request = run.server->requests[0];
    CHECK(request.method == "POST");
    CHECK(request.url == "https://prom.example/prefix/api/v1/query");
    CHECK(request.body == "query=sum%28x%29%20%2B%201");
    CHECK(request.headers.back().second == "Basic YWxpY2U6d29uZGVyIGxhbmQ=");
    CHECK(run.verdict.details.dump().find("wonder") == std::string::npos);
    CHECK(run.verdict.details["url"] == "https://prom.example/prefix/api/v1/query");
  }

  TEST_CASE("a missing token variable is an error naming the variable") {
    unsetenv("PROMOTE_TEST_PROM_ABSENT");
    auto run = evaluate(
        config_of(k_base + "condition: '< 1'\nauth: {bearer_env: PROMOTE_TEST_PROM_ABSENT}"),
        {ok(vector_of({"0"}))});
    CHECK(run.verdict.status == Status::error);
    CHECK(run.verdict.summary ==
          "environment variable PROMOTE_TEST_PROM_ABSENT (auth.bearer_env) is not set");
    CHECK(run.server->requests.empty());
  }

  TEST_CASE("the wait between samples is cancellable") {
    auto server = std::make_shared<FakeServer>();
    server->replies = {ok(vector_of({"0"})), ok(vector_of({"0"}))};
    promote::gates::PrometheusGate gate(
        config_of("url: http://p\nquery: q\ncondition: '< 1'\nsamples: 2\ninterval: 1h"),
        [server](promote::http::Request request) {
          return fake_fetch(server, std::move(request));
        });
    promote::Candidate candidate;
    promote::test::FakeTimeline timeline;
    promote::GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
    boost::asio::io_context io;
    std::optional<std::size_t> winner;
    auto race = [&]() -> boost::asio::awaitable<void> {
      using namespace boost::asio::experimental::awaitable_operators;
      boost::asio::steady_timer timer(io, 50ms);
      auto raced = co_await (gate.evaluate(context) ||
                             timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
      winner = raced.index();
    };
    const auto started = std::chrono::steady_clock::now();
    boost::asio::co_spawn(io, race, boost::asio::detached);
    io.run();
    REQUIRE(winner);
    CHECK(*winner == 1);
    CHECK(server->requests.size() == 1);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }
}
