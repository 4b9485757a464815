#pragma once
// `promote serve` started as its users start it, for the integration tests: the real binary in
// a repository, on a port it chose and prints.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/http/client.hpp"
#include "tests/support/support.hpp"

namespace promote::test {

namespace fs = std::filesystem;

// `promote serve ARGS` in `cwd`, its stdout read until it says where it listens; SIGKILLed and
// reaped by the destructor if the test did not stop it.
class Served {
 public:
  Served(const std::vector<std::string>& args, const fs::path& cwd) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::vector<std::string> argv = {promote_binary().string(), "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], 1);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::unsetenv("PROMOTE_HISTORY");
      std::vector<char*> pointers;
      for (auto& arg : argv) {
        pointers.push_back(arg.data());
      }
      pointers.push_back(nullptr);
      if (::chdir(cwd.c_str()) == 0) {
        ::execv(pointers[0], pointers.data());
      }
      ::_exit(127);
    }
    ::close(out[1]);
    m_out = out[0];
    m_line = read_line(std::chrono::seconds(20));
  }
  ~Served() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    ::close(m_out);
  }
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  // The first line it printed: "promote serve: listening on http://127.0.0.1:PORT (1 pipeline)".
  const std::string& line() const { return m_line; }
  std::string url() const {
    const auto start = m_line.find("http://");
    return start == std::string::npos ? "" : m_line.substr(start, m_line.find(' ', start) - start);
  }

  promote::http::Response get(const std::string& path) const {
    promote::http::Request request;
    request.url = url() + path;
    request.timeout = std::chrono::seconds(20);
    auto response = promote::http::request_blocking(request);
    REQUIRE(response.has_value());
    return *response;
  }

  promote::http::Response post(const std::string& path, const std::string& body,
                               const promote::http::Headers& headers) const {
    promote::http::Request request;
    request.method = "POST";
    request.url = url() + path;
    request.body = body;
    request.headers = headers;
    request.timeout = std::chrono::seconds(20);
    auto response = promote::http::request_blocking(request);
    REQUIRE(response.has_value());
    return *response;
  }

  // Sends `signal` and waits up to `timeout` for the exit: its wait status, or -1.
  int stop(int signal, std::chrono::milliseconds timeout) {
    ::kill(m_pid, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;
        return status;
      }
      ::usleep(20'000);
    }
    return -1;
  }

 private:
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd entry{m_out, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
      char buffer[256];
      const ssize_t n = ::read(m_out, buffer, sizeof buffer);
      if (n <= 0) {
        break;
      }
      line.append(buffer, static_cast<std::size_t>(n));
    }
    return line.substr(0, line.find('\n'));
  }

  pid_t m_pid = -1;
  int m_out = -1;
  std::string m_line;
};

// `body` checked against `schema` (a file of schemas/) by tests/integration/validate_json.py.
inline void check_schema(const fs::path& dir, const std::string& schema, const std::string& body) {
  static int count = 0;
  const fs::path file = dir / ("body-" + std::to_string(++count) + ".json");
  write_text(file, body);
  const auto checked = run({"/usr/bin/python3",
                            std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
                            std::string(PROMOTE_SOURCE_DIR) + "/schemas/" + schema, file.string()});
  INFO(schema << ": " << checked.out << checked.err);
  CHECK(checked.exit_code == 0);
}

}  // namespace promote::test
