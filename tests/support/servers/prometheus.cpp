#include "tests/support/servers/prometheus.hpp"

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

#include <fstream>
#include <iterator>

#include "engine/http/client.hpp"

extern char** environ;

namespace promote::test {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

template <class T, class Make>
T run_io(Make make) {
  asio::io_context io;
  auto future = asio::co_spawn(io, make(), asio::use_future);
  io.run();
  return future.get();
}

}  // namespace

unsigned short free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const fs::path& log)
    : m_log(log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  if (posix_spawnp(&m_pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    m_pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::stop() {
  if (m_pid > 0) {
    kill(m_pid, SIGTERM);
    int status = 0;
    waitpid(m_pid, &status, 0);
    m_pid = -1;
  }
}

std::string ChildProcess::log() const { return read_all(m_log); }

bool wait_for(const std::string& url, const std::string& part, std::chrono::seconds timeout) {
  return run_io<bool>([&]() -> asio::awaitable<bool> {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (std::chrono::steady_clock::now() < deadline) {
      http::Request request;
      request.url = url;
      request.timeout = 2s;
      auto response = co_await http::request(request);
      if (response && response->status == 200 && response->body.find(part) != std::string::npos) {
        co_return true;
      }
      timer.expires_after(200ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return false;
  });
}

PrometheusStack::PrometheusStack(const fs::path& dir, Scrape scrape, const std::string& program)
    : m_port(free_port()), m_url("http://127.0.0.1:" + std::to_string(m_port)), m_scrape(scrape) {
  std::string target = std::to_string(m_port);
  std::string job = "self";
  if (scrape == Scrape::pushgateway) {
    const unsigned short gateway_port = free_port();
    target = std::to_string(gateway_port);
    job = "pushgateway";
    m_gateway_url = "http://127.0.0.1:" + target;
    m_gateway = std::make_unique<ChildProcess>(
        std::vector<std::string>{"prometheus-pushgateway",
                                 "--web.listen-address=127.0.0.1:" + target},
        dir / "pushgateway.log");
  }
  write_all(dir / "prometheus.yml",
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: " + job + "\n    honor_labels: true\n"
            "    static_configs:\n      - targets: ['127.0.0.1:" + target + "']\n");
  m_prometheus = std::make_unique<ChildProcess>(
      std::vector<std::string>{program, "--config.file=" + (dir / "prometheus.yml").string(),
                               "--storage.tsdb.path=" + (dir / "data").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(m_port)},
      dir / "prometheus.log");
}

PrometheusStack::~PrometheusStack() {
  // Prometheus first, so that it does not log the pushgateway's going.
  m_prometheus->stop();
  if (m_gateway) {
    m_gateway->stop();
  }
}

std::string PrometheusStack::logs() const {
  std::string out = "prometheus:\n" + m_prometheus->log();
  if (m_gateway) {
    out += "\npushgateway:\n" + m_gateway->log();
  }
  return out;
}

std::string PrometheusStack::wait_ready() {
  if (!m_prometheus->started() || (m_gateway && !m_gateway->started())) {
    return "cannot start the servers";
  }
  if (m_gateway && !wait_for(m_gateway_url + "/-/ready", "")) {
    return "the pushgateway did not become ready:\n" + logs();
  }
  if (!wait_for(m_url + "/-/ready", "")) {
    return "prometheus did not become ready:\n" + logs();
  }
  // Scraped at least twice, so that rate() has two points.
  if (m_scrape == Scrape::self &&
      !wait_for(m_url + "/api/v1/query?query=count_over_time(up%7Bjob%3D%22self%22%7D%5B1m%5D)%3E1",
                "\"job\":\"self\"")) {
    return "prometheus never scraped itself:\n" + logs();
  }
  return "";
}

std::string PrometheusStack::push(const std::string& job, const std::string& body,
                                  const std::string& probe) {
  http::Request request;
  request.method = "PUT";
  request.url = m_gateway_url + "/metrics/job/" + job;
  request.headers = {{"Content-Type", "text/plain; version=0.0.4"}};
  request.body = body;
  auto pushed = run_io<Result<http::Response>>([&]() { return http::request(request); });
  if (!pushed) {
    return "cannot push: " + pushed.error().message;
  }
  if (pushed->status != 200) {
    return "the pushgateway answered " + std::to_string(pushed->status) + ": " + pushed->body;
  }
  if (!wait_for(m_url + "/api/v1/query?query=" + http::form_encode(probe), "\"metric\"")) {
    return "the pushed metrics never became visible:\n" + logs();
  }
  return "";
}

void PrometheusStack::stop_prometheus() { m_prometheus->stop(); }

}  // namespace promote::test
