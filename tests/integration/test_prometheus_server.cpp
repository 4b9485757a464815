// The prometheus gate against a real Prometheus scraping a real Pushgateway, both started
// here on free 127.0.0.1 ports (Debian's `prometheus` and `prometheus-pushgateway`).

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>

#include "gates/prometheus.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/servers/prometheus.hpp"
#include "tests/support/support.hpp"

namespace asio = boost::asio;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

template <class T>
T run_io(std::function<asio::awaitable<T>()> make) {
  asio::io_context io;
  auto future = asio::co_spawn(io, make(), asio::use_future);
  io.run();
  return future.get();
}

promote::Verdict judge(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  auto gate = promote::gates::make_prometheus(
      promote::pipeline::ConfigNode(YAML::Load(yaml), "promote.yaml", diagnostics));
  if (!gate) {
    FAIL("invalid config: " << diagnostics.to_error().message);
  }
  promote::Candidate candidate;
  promote::test::FakeTimeline timeline;
  promote::GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
  promote::Gate* raw = gate.get();
  return run_io<promote::Verdict>([raw, &context]() { return raw->evaluate(context); });
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("the prometheus gate judges metrics scraped by a real Prometheus" *
            doctest::skip(!promote::test::has_prometheus())) {
    promote::test::TempDir dir;
    promote::test::PrometheusStack servers(dir.path(), promote::test::PrometheusStack::Scrape::pushgateway);
    const std::string prometheus = servers.url();
    if (const std::string why = servers.wait_ready(); !why.empty()) {
      FAIL(why);
    }
    const std::string pushed = servers.push("promote_test",
                                            "# TYPE promote_error_rate gauge\n"
                                            "promote_error_rate{pod=\"a\"} 0.004\n"
                                            "promote_error_rate{pod=\"b\"} 0.002\n"
                                            "# TYPE promote_nan gauge\n"
                                            "promote_nan NaN\n",
                                            "promote_nan");
    if (!pushed.empty()) {
      FAIL(pushed);
    }

    // One pair of servers for every case below (SUBCASEs would restart them); the server
    // goes down last.
    const std::string base = "url: " + prometheus + "\ninterval: 0s\ntimeout: 5s\n";
    {  // pass, with GET and POST
      for (const char* method : {"GET", "POST"}) {
        CAPTURE(method);
        const auto verdict = judge(base + "query: promote_error_rate\ncondition: '< 0.01'\n" +
                                   "method: " + method + "\nsamples: 2\n");
        CHECK(verdict.status == Status::pass);
        CHECK(verdict.summary == "2 of 2 samples satisfy < 0.01");
        CHECK(verdict.details["samples"][0]["values"].size() == 2);
      }
    }
    {  // fail
      const auto verdict = judge(base + "query: promote_error_rate\ncondition: '< 0.003'\n");
      CHECK(verdict.status == Status::fail);
      CHECK(verdict.summary ==
            "promote_error_rate{job=\"promote_test\",pod=\"a\"} = 0.004 breaks "
            "< 0.003");
    }
    {  // a reduction
      const auto verdict =
          judge(base + "query: promote_error_rate\ncondition: '< 0.01'\nreduce: sum\n");
      CHECK(verdict.status == Status::pass);
      CHECK(verdict.summary == "sum 0.006 satisfies < 0.01");
    }
    {  // empty
      const auto by_default = judge(base + "query: promote_absent_metric\ncondition: '< 1'\n");
      CHECK(by_default.status == Status::error);
      CHECK(by_default.summary == "the query returned no data (on_empty: error)");
      const auto as_fail =
          judge(base + "query: promote_absent_metric\ncondition: '< 1'\non_empty: fail\n");
      CHECK(as_fail.status == Status::fail);
    }
    {  // NaN
      const auto verdict = judge(base + "query: promote_nan\ncondition: '>= 0'\n");
      CHECK(verdict.status == Status::fail);
      CHECK(verdict.summary == "NaN breaks >= 0");
    }
    {  // a query Prometheus refuses
      const auto verdict = judge(base + "query: 'sum(('\ncondition: '< 1'\n");
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary.find(": prometheus error (bad_data): ") != std::string::npos);
    }
    {  // server down
      servers.stop_prometheus();
      const auto verdict = judge(base + "query: promote_error_rate\ncondition: '< 0.01'\n");
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "GET " + prometheus +
                                   "/api/v1/query?query=promote_error_rate: cannot connect to "
                                   "127.0.0.1:" +
                                   std::to_string(servers.port()) + ": Connection refused");
    }
  }
}
