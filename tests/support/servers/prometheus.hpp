#pragma once
// Real servers for the tests and benchmarks that need them: Debian's `prometheus`, scraping
// itself or a `prometheus-pushgateway` started beside it, on free ports of 127.0.0.1, in a
// directory of the caller's, stopped when the object goes. No test framework here, so that
// benchmarks can use it too.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace promote::test {

/// A port of 127.0.0.1 that was free a moment ago.
unsigned short free_port();

/// A child process (no shell) with stdout and stderr in a log file; terminated with SIGTERM
/// and reaped when stopped or destroyed.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return m_pid > 0; }
  void stop();
  /// What it printed so far.
  std::string log() const;

 private:
  pid_t m_pid = -1;
  std::filesystem::path m_log;
};

/// Whether GET `url` answers 200 with a body holding `part` before `timeout` has passed
/// (asking every 200 ms).
bool wait_for(const std::string& url, const std::string& part,
              std::chrono::seconds timeout = std::chrono::seconds(30));

/// Prometheus scraping every second, on a free port, with its files in `dir`.
class PrometheusStack {
 public:
  enum class Scrape { self, pushgateway };

  PrometheusStack(const std::filesystem::path& dir, Scrape scrape,
                  const std::string& program = "prometheus");
  ~PrometheusStack();

  /// "" once every server is ready (and, scraping itself, has been scraped twice);
  /// otherwise why, with the servers' logs.
  std::string wait_ready();
  /// Pushes a text exposition `body` to the pushgateway as `job`, then waits until
  /// `probe` (an instant query) returns a series. "" or why, with the logs.
  std::string push(const std::string& job, const std::string& body, const std::string& probe);
  /// Stops Prometheus (the pushgateway keeps running), for server-down cases.
  void stop_prometheus();

  const std::string& url() const { return m_url; }  ///< http://127.0.0.1:PORT
  unsigned short port() const { return m_port; }
  const std::string& gateway_url() const { return m_gateway_url; }
  std::string logs() const;

 private:
  unsigned short m_port = 0;
  std::string m_url;
  std::string m_gateway_url;
  std::unique_ptr<ChildProcess> m_gateway;
  std::unique_ptr<ChildProcess> m_prometheus;
  Scrape m_scrape;
};

}  // namespace promote::test
