#pragma once
// `promote serve` started as its users start it, for the integration tests: the real binary in
// a repository, on a port it chose and prints, asked over HTTP and stopped by a signal.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/http/client.hpp"
#include "tests/support/support.hpp"

namespace promote::test {

namespace fs = std::filesystem;

// `promote ARGS` in `cwd` (ARGS begin with "serve"), stdout and stderr read together until a
// line says where it listens; PROMOTE_HISTORY unset and `env` applied in the child (nullopt:
// unset). SIGKILLed and reaped by the destructor if the test did not stop it.
class Served {
 public:
  Served(const std::vector<std::string>& args, const fs::path& cwd,
         const std::map<std::string, std::optional<std::string>>& env = {}) {
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::vector<std::string> argv = {promote_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::unsetenv("PROMOTE_HISTORY");
      for (const auto& [name, value] : env) {
        if (value) {
          ::setenv(name.c_str(), value->c_str(), 1);
        } else {
          ::unsetenv(name.c_str());
        }
      }
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
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (m_text.find("listening on http://") == std::string::npos && read_some(deadline)) {
    }
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

  /// What it wrote so far (all of it once stopped).
  const std::string& text() const { return m_text; }
  /// The line that says where it listens: "promote serve: listening on http://127.0.0.1:PORT
  /// (1 pipeline, 0 auto stages)"; "" when there is none.
  std::string line() const {
    const auto at = m_text.find("listening on http://");
    if (at == std::string::npos) {
      return "";
    }
    const auto begin = m_text.rfind('\n', at);
    const auto start = begin == std::string::npos ? 0 : begin + 1;
    return m_text.substr(start, m_text.find('\n', at) - start);
  }
  std::string url() const {
    const auto start = m_text.find("http://", m_text.find("listening on "));
    if (m_text.find("listening on ") == std::string::npos || start == std::string::npos) {
      return "";
    }
    const auto end = m_text.find_first_of(" \"\n", start);
    return m_text.substr(start, end - start);
  }
  unsigned short port() const {
    const std::string address = url();
    return static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));
  }

  promote::http::Response send(const std::string& method, const std::string& path,
                               const promote::http::Headers& headers = {},
                               const std::string& body = {}) const {
    promote::http::Request request;
    request.method = method;
    request.url = url() + path;
    request.headers = headers;
    request.body = body;
    request.timeout = std::chrono::seconds(20);
    auto response = promote::http::request_blocking(request);
    REQUIRE(response.has_value());
    return *response;
  }
  promote::http::Response get(const std::string& path) const { return send("GET", path); }
  promote::http::Response post(const std::string& path, const std::string& body,
                               const promote::http::Headers& headers) const {
    return send("POST", path, headers, body);
  }

  /// Sends `signal` and waits up to `timeout` for the exit, reading what it writes meanwhile:
  /// its wait status, or -1.
  int stop(int signal, std::chrono::milliseconds timeout) {
    ::kill(m_pid, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      read_some(std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        while (read_some(std::chrono::steady_clock::now() + std::chrono::milliseconds(200))) {
        }
        m_pid = -1;
        return status;
      }
    }
    return -1;
  }
  /// SIGTERM: whether it ended by the signal within 20 s.
  bool stop() {
    const int status = stop(SIGTERM, std::chrono::seconds(20));
    return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
  }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd entry{m_out, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char buffer[4096];
    const ssize_t n = ::read(m_out, buffer, sizeof buffer);
    if (n <= 0) {
      return false;
    }
    m_text.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  pid_t m_pid = -1;
  int m_out = -1;
  std::string m_text;
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
