// The prometheus gate against a real Prometheus scraping a real Pushgateway, both started
// here on free 127.0.0.1 ports (Debian's `prometheus` and `prometheus-pushgateway`).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>

#include "engine/http/client.hpp"
#include "gates/prometheus.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/support.hpp"

extern char** environ;

namespace asio = boost::asio;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

bool have_servers() {
  // Both checks run so that each prints why the cases are skipped.
  const bool prometheus = promote::test::has_program("prometheus");
  const bool pushgateway = promote::test::has_program("prometheus-pushgateway");
  return prometheus && pushgateway;
}

unsigned short free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

// A child process with its output in a log file; terminated and reaped when destroyed.
class Server {
 public:
  Server(const std::vector<std::string>& argv, const fs::path& log) : m_log(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& arg : argv) {
      args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    const int rc = posix_spawnp(&m_pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      m_pid = -1;
    }
  }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  bool started() const { return m_pid > 0; }
  void stop() {
    if (m_pid > 0) {
      kill(m_pid, SIGTERM);
      int status = 0;
      waitpid(m_pid, &status, 0);
      m_pid = -1;
    }
  }
  std::string log() const { return promote::test::read_text(m_log); }

 private:
  pid_t m_pid = -1;
  fs::path m_log;
};

template <class T>
T run_io(std::function<asio::awaitable<T>()> make) {
  asio::io_context io;
  auto future = asio::co_spawn(io, make(), asio::use_future);
  io.run();
  return future.get();
}

promote::Result<promote::http::Response> fetch(promote::http::Request request) {
  return run_io<promote::Result<promote::http::Response>>(
      [request]() { return promote::http::request(request); });
}

// Polls `probe` every 200 ms until it returns true or 30 s have passed.
asio::awaitable<bool> poll(std::function<asio::awaitable<bool>()> probe) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() < deadline) {
    if (co_await probe()) {
      co_return true;
    }
    timer.expires_after(200ms);
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return false;
}

asio::awaitable<bool> is_ready(std::string url) {
  promote::http::Request request;
  request.url = std::move(url);
  request.timeout = 2s;
  auto response = co_await promote::http::request(request);
  co_return response && response->status == 200;
}

asio::awaitable<bool> has_series(std::string url) {
  promote::http::Request request;
  request.url = std::move(url);
  request.timeout = 2s;
  auto response = co_await promote::http::request(request);
  if (!response || response->status != 200) {
    co_return false;
  }
  auto parsed = promote::gates::parse_query_response(response->body, "probe");
  co_return parsed && !parsed->series.empty();
}

bool wait_until(std::function<asio::awaitable<bool>()> probe) {
  return run_io<bool>([probe]() { return poll(probe); });
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
            doctest::skip(!have_servers())) {
    promote::test::TempDir dir;
    const unsigned short gateway_port = free_port();
    const unsigned short prometheus_port = free_port();
    const std::string gateway = "http://127.0.0.1:" + std::to_string(gateway_port);
    const std::string prometheus = "http://127.0.0.1:" + std::to_string(prometheus_port);
    promote::test::write_text(dir / "prometheus.yml",
                              "global:\n"
                              "  scrape_interval: 1s\n"
                              "  evaluation_interval: 1s\n"
                              "scrape_configs:\n"
                              "  - job_name: pushgateway\n"
                              "    honor_labels: true\n"
                              "    static_configs:\n"
                              "      - targets: ['127.0.0.1:" +
                                  std::to_string(gateway_port) + "']\n");
    Server pushgateway({"prometheus-pushgateway",
                        "--web.listen-address=127.0.0.1:" + std::to_string(gateway_port)},
                       dir / "pushgateway.log");
    Server server({"prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
                   "--storage.tsdb.path=" + (dir / "data").string(),
                   "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                  dir / "prometheus.log");
    REQUIRE(pushgateway.started());
    REQUIRE(server.started());
    const std::string gateway_ready = gateway + "/-/ready";
    const std::string prometheus_ready = prometheus + "/-/ready";
    if (!wait_until([gateway_ready]() { return is_ready(gateway_ready); })) {
      FAIL("the pushgateway did not become ready:\n" << pushgateway.log());
    }
    if (!wait_until([prometheus_ready]() { return is_ready(prometheus_ready); })) {
      FAIL("prometheus did not become ready:\n" << server.log());
    }

    promote::http::Request push;
    push.method = "PUT";
    push.url = gateway + "/metrics/job/promote_test";
    push.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
    push.body =
        "# TYPE promote_error_rate gauge\n"
        "promote_error_rate{pod=\"a\"} 0.004\n"
        "promote_error_rate{pod=\"b\"} 0.002\n"
        "# TYPE promote_nan gauge\n"
        "promote_nan NaN\n";
    auto pushed = fetch(push);
    REQUIRE(pushed.has_value());
    CHECK(pushed->status == 200);
    const std::string visible = prometheus + "/api/v1/query?query=promote_nan";
    if (!wait_until([visible]() { return has_series(visible); })) {
      FAIL("the pushed metrics never became visible:\n" << server.log());
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
      server.stop();
      const auto verdict = judge(base + "query: promote_error_rate\ncondition: '< 0.01'\n");
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "GET " + prometheus +
                                   "/api/v1/query?query=promote_error_rate: cannot connect to "
                                   "127.0.0.1:" +
                                   std::to_string(prometheus_port) + ": Connection refused");
    }
    pushgateway.stop();
  }
}
