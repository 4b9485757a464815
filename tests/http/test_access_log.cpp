// The server's access log over real sockets on 127.0.0.1: one line per request answered or
// refused, with its method, its path without the query, status, duration, peer and bytes.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "engine/http/client.hpp"
#include "engine/http/server.hpp"
#include "engine/util/log.hpp"

namespace http = promote::http;
using namespace std::chrono_literals;
using promote::util::LogFormat;
using promote::util::Verbosity;

namespace {

// The log lines written while it lives, in `format` at `verbosity`; then stderr, text and
// normal verbosity again.
class LogLines {
 public:
  explicit LogLines(LogFormat format, Verbosity verbosity = Verbosity::normal) {
    promote::util::set_log_format(format);
    promote::util::set_verbosity(verbosity);
    promote::util::capture_log([this](std::string_view line) {
      std::lock_guard lock(m_mutex);
      m_lines.emplace_back(line);
      m_changed.notify_all();
    });
  }
  ~LogLines() {
    promote::util::capture_log(nullptr);
    promote::util::set_log_format(LogFormat::text);
    promote::util::set_verbosity(Verbosity::normal);
  }
  LogLines(const LogLines&) = delete;
  LogLines& operator=(const LogLines&) = delete;

  /// The lines so far, once there are `count` of them or 5 s have passed.
  std::vector<std::string> at_least(std::size_t count) {
    std::unique_lock lock(m_mutex);
    m_changed.wait_for(lock, 5s, [&] { return m_lines.size() >= count; });
    return m_lines;
  }
  /// Each line parsed as JSON.
  std::vector<nlohmann::json> parsed() {
    std::vector<nlohmann::json> out;
    for (const auto& line : at_least(0)) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<std::string> m_lines;
};

// A server on a thread of its own until stop() or the end of the scope.
class Running {
 public:
  explicit Running(http::Handler handler, http::ServerLimits limits = {}) {
    auto bound = http::Server::bind("127.0.0.1:0", std::move(handler), limits);
    REQUIRE(bound.has_value());
    m_server = std::move(*bound);
    m_thread = std::thread([this] { m_server->run(); });
  }
  ~Running() { stop(); }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  /// Stops the server and waits until run() returned: every line it logs is logged.
  void stop() {
    if (m_thread.joinable()) {
      m_server->stop(1s);
      m_thread.join();
    }
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(m_server->port()) + path;
  }
  unsigned short port() const { return m_server->port(); }

 private:
  std::unique_ptr<http::Server> m_server;
  std::thread m_thread;
};

// A client on a plain socket, for what the HTTP client would not do.
class Raw {
 public:
  explicit Raw(unsigned short port) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~Raw() { ::close(m_fd); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  /// Sends `text`, then reads until the server closes the connection (5 s at most).
  std::string exchange(const std::string& text) {
    REQUIRE(::send(m_fd, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
    std::string received;
    char buffer[4096];
    pollfd entry{m_fd, POLLIN, 0};
    while (::poll(&entry, 1, 5000) > 0) {
      const auto got = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        break;
      }
      received.append(buffer, static_cast<std::size_t>(got));
    }
    return received;
  }

 private:
  int m_fd = -1;
};

promote::Result<http::Response> send(const std::string& method, const std::string& url) {
  http::Request request;
  request.method = method;
  request.url = url;
  request.timeout = 10s;
  return http::request_blocking(request);
}

http::Outgoing hello(const http::Incoming&) {
  return http::Outgoing{201, {{"Content-Type", "text/plain"}}, "hello", {}};
}

}  // namespace

TEST_SUITE("http") {
  TEST_CASE(
      "one request gives one access line: method, path without its query, status, "
      "duration, peer and bytes") {
    LogLines log(LogFormat::json);
    Running running(hello);
    const auto answered = send("GET", running.url("/api/v1/pipelines?token=s3cr3t&limit=5"));
    REQUIRE(answered.has_value());
    CHECK(answered->status == 201);
    log.at_least(1);
    running.stop();
    const auto lines = log.at_least(1);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("s3cr3t") == std::string::npos);
    CHECK(lines[0].find("limit") == std::string::npos);
    const auto line = nlohmann::json::parse(lines[0]);
    CHECK(line["level"] == "info");
    CHECK(line["message"] == "GET /api/v1/pipelines 201");
    CHECK(line["method"] == "GET");
    CHECK(line["path"] == "/api/v1/pipelines");
    CHECK(line["status"] == 201);
    CHECK(line["peer"] == "127.0.0.1");
    CHECK(line["bytes"] == 5);
    REQUIRE(line["duration_ms"].is_number());
    CHECK(line["duration_ms"].get<double>() >= 0.0);
    CHECK(line["duration_ms"].get<double>() < 5000.0);
  }

  TEST_CASE("a HEAD, a handler that throws, a stream and a refused body give a line each") {
    LogLines log(LogFormat::json);
    http::ServerLimits limits;
    limits.max_body = 100;
    Running running(
        [](const http::Incoming& incoming) -> http::Outgoing {
          if (incoming.path == "/boom") {
            throw std::runtime_error("broken");
          }
          if (incoming.path == "/events") {
            http::Outgoing out{200, {{"Content-Type", "text/event-stream"}}, "", {}};
            out.stream = [](const std::function<bool(std::string_view)>& send_chunk) {
              send_chunk("data: 1\n\n");
              send_chunk("data: 22\n\n");
            };
            return out;
          }
          return hello(incoming);
        },
        limits);
    Raw head(running.port());
    CHECK(head.exchange("HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
              .starts_with("HTTP/1.1 201 "));
    REQUIRE(send("GET", running.url("/boom")).has_value());
    REQUIRE(send("GET", running.url("/events")).has_value());
    Raw client(running.port());
    CHECK(
        client
            .exchange("POST /upload?key=s3cr3t HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            .starts_with("HTTP/1.1 413 "));
    log.at_least(5);  // the four requests and the 500's notice
    running.stop();

    const auto lines = log.parsed();
    REQUIRE(lines.size() == 5);
    CHECK(lines[1]["message"] == "the handler of GET /boom failed: broken");
    CHECK_FALSE(lines[1].contains("status"));
    const auto check = [](const nlohmann::json& line, const std::string& method,
                          const std::string& path, unsigned status, std::size_t bytes) {
      CHECK(line["method"] == method);
      CHECK(line["path"] == path);
      CHECK(line["status"] == status);
      CHECK(line["bytes"] == bytes);
      CHECK(line["peer"] == "127.0.0.1");
    };
    check(lines[0], "HEAD", "/head", 201, 0);
    check(lines[2], "GET", "/boom", 500, std::string("500 Internal Server Error\n").size());
    check(lines[3], "GET", "/events", 200, std::string("data: 1\n\ndata: 22\n\n").size());
    check(lines[4], "POST", "/upload", 413, std::string("413 Payload Too Large\n").size());
  }

  TEST_CASE(
      "a connection refused before its request is read is logged without method or path, "
      "one that sends nothing is not logged") {
    LogLines log(LogFormat::json);
    http::ServerLimits limits;
    limits.max_connections = 1;
    Running running(hello, limits);
    Raw idle(running.port());  // counted in first: the next one is one too many
    Raw late(running.port());
    CHECK(late.exchange("GET /late HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 503 "));
    log.at_least(1);
    running.stop();
    const auto lines = log.parsed();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0]["message"] == "- - 503");
    CHECK(lines[0]["method"] == "");
    CHECK(lines[0]["path"] == "");
    CHECK(lines[0]["status"] == 503);
    CHECK(lines[0]["bytes"] == std::string("503 Service Unavailable\n").size());
  }

  TEST_CASE("in text a request is logged under --verbose only") {
    for (const auto verbosity : {Verbosity::normal, Verbosity::verbose}) {
      LogLines log(LogFormat::text, verbosity);
      Running running(hello);
      REQUIRE(send("GET", running.url("/x?token=s3cr3t")).has_value());
      running.stop();
      const auto lines = log.at_least(0);
      if (verbosity == Verbosity::normal) {
        CHECK(lines.empty());
      } else {
        REQUIRE(lines.size() == 1);
        CHECK(
            std::regex_match(lines[0], std::regex(R"(promote \[[0-9:.]{12}\] 127\.0\.0\.1 GET /x )"
                                                  R"(201 5 B [0-9]+\.[0-9] ms)")));
        CHECK(lines[0].find("s3cr3t") == std::string::npos);
      }
    }
  }
}
