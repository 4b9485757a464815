// The HTTP server over real sockets on 127.0.0.1: well-behaved requests through the client of
// engine/http/client.hpp, and what a hostile or broken client does (oversized, slow, malformed,
// pipelined) through raw sockets.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "engine/http/client.hpp"
#include "engine/http/server.hpp"
#include "tests/support/support.hpp"

namespace http = promote::http;
using promote::test::contains;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A server running on a thread of its own for the length of a test; stopped at its end.
class Running {
 public:
  explicit Running(http::Handler handler, http::ServerLimits limits = {},
                   const std::string& address = "127.0.0.1:0") {
    auto bound = http::Server::bind(address, std::move(handler), limits);
    REQUIRE_MESSAGE(bound.has_value(), (bound ? "" : bound.error().message));
    m_server = std::move(*bound);
    m_returned = m_done.get_future();
    m_thread = std::thread([this] {
      m_server->run();
      m_done.set_value();
    });
  }
  ~Running() {
    m_server->stop(0ms);
    m_thread.join();
  }
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  http::Server& server() { return *m_server; }
  unsigned short port() const { return m_server->port(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::thread::id network_thread() const { return m_thread.get_id(); }
  void stop(std::chrono::milliseconds grace) { m_server->stop(grace); }
  /// Whether run() returns within `limit`.
  bool returns_within(std::chrono::milliseconds limit) {
    return m_returned.wait_for(limit) == std::future_status::ready;
  }

 private:
  std::unique_ptr<http::Server> m_server;
  std::promise<void> m_done;
  std::future<void> m_returned;
  std::thread m_thread;
};

// A client on a plain socket, for what the HTTP client would never send.
class RawClient {
 public:
  explicit RawClient(unsigned short port, int receive_buffer = 0) {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    if (receive_buffer > 0) {
      ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m_connected = ::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return m_connected; }
  void close() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }
  /// Sends all of `text`; false when the connection refuses it.
  bool send(std::string_view text) {
    while (!text.empty()) {
      const auto sent = ::send(m_fd, text.data(), text.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }
  /// Whether something (or the end) can be read within `limit`.
  bool readable(std::chrono::milliseconds limit) {
    pollfd entry{m_fd, POLLIN, 0};
    return !m_pending.empty() || ::poll(&entry, 1, static_cast<int>(limit.count())) > 0;
  }
  /// Everything until the server closes the connection (or `limit` passes: then ended() is
  /// false).
  std::string read_to_end(std::chrono::milliseconds limit = 5s) {
    while (fill(limit)) {
    }
    return std::exchange(m_pending, {});
  }
  /// One response (its head, and a body of its Content-Length), "" if none came in `limit`.
  std::string read_response(std::chrono::milliseconds limit = 5s) {
    std::size_t head_end = 0;
    while ((head_end = m_pending.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(limit)) {
        return {};
      }
    }
    const std::string head = m_pending.substr(0, head_end + 4);
    std::string length;
    std::regex pattern("\r\nContent-Length: *([0-9]+)", std::regex::icase);
    if (std::smatch found; std::regex_search(head, found, pattern)) {
      length = found[1];
    }
    const std::size_t total = head.size() + (length.empty() ? 0 : std::stoul(length));
    while (m_pending.size() < total) {
      if (!fill(limit)) {
        return {};
      }
    }
    std::string response = m_pending.substr(0, total);
    m_pending.erase(0, total);
    return response;
  }
  /// What comes up to the end of `marker`, leaving what follows it to be read; "" when it does
  /// not come within `limit`.
  std::string read_through(std::string_view marker, std::chrono::milliseconds limit = 5s) {
    std::size_t at = 0;
    while ((at = m_pending.find(marker)) == std::string::npos) {
      if (!fill(limit)) {
        return {};
      }
    }
    std::string text = m_pending.substr(0, at + marker.size());
    m_pending.erase(0, at + marker.size());
    return text;
  }
  /// The head of a response, leaving what follows it to be read.
  std::string read_head(std::chrono::milliseconds limit = 5s) {
    return read_through("\r\n\r\n", limit);
  }
  /// Whether the server ended the connection (an orderly close or a reset).
  bool ended() const { return m_ended; }

 private:
  // Reads once more; false at the end of the connection or when nothing came in `limit`.
  bool fill(std::chrono::milliseconds limit) {
    pollfd entry{m_fd, POLLIN, 0};
    if (m_ended || ::poll(&entry, 1, static_cast<int>(limit.count())) <= 0) {
      return false;
    }
    char buffer[65536];
    const auto got = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (got <= 0) {
      m_ended = true;
      return false;
    }
    m_pending.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  int m_fd = -1;
  bool m_connected = false;
  bool m_ended = false;
  std::string m_pending;
};

// The value of header `name` in a raw response, "" when absent.
std::string raw_header(const std::string& response, const std::string& name) {
  std::smatch found;
  if (std::regex_search(response, found,
                        std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) {
    return found[1];
  }
  return {};
}

std::string raw_body(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

http::Outgoing text(std::string body, unsigned status = 200) {
  return http::Outgoing{status, {{"Content-Type", "text/plain"}}, std::move(body), {}};
}

// Answers with the path of the request.
http::Outgoing echo_path(const http::Incoming& incoming) {
  return text(incoming.path);
}

http::Request get(const std::string& url) {
  http::Request request;
  request.url = url;
  request.timeout = 10s;
  return request;
}

// Whatever the code under test writes on stderr meanwhile, kept in a file.
class CapturedStderr {
 public:
  CapturedStderr() {
    std::fflush(stderr);
    m_saved = ::dup(2);
    std::FILE* file = std::fopen((m_dir / "stderr").c_str(), "w");
    REQUIRE(file != nullptr);
    ::dup2(::fileno(file), 2);
    std::fclose(file);
  }
  ~CapturedStderr() { restore(); }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;
  std::string text() {
    restore();
    return promote::test::read_text(m_dir / "stderr");
  }

 private:
  void restore() {
    if (m_saved >= 0) {
      std::fflush(stderr);
      ::dup2(m_saved, 2);
      ::close(m_saved);
      m_saved = -1;
    }
  }
  promote::test::TempDir m_dir;
  int m_saved = -1;
};

}  // namespace

TEST_SUITE("http") {
  TEST_CASE("the server listens on HOST:PORT, [IPV6]:PORT and :PORT, port 0 taking a free one") {
    auto v4 = http::Server::bind("127.0.0.1:0", echo_path);
    REQUIRE(v4.has_value());
    CHECK((*v4)->port() != 0);
    CHECK((*v4)->address() == "127.0.0.1:" + std::to_string((*v4)->port()));

    auto local = http::Server::bind("localhost:0", echo_path);
    REQUIRE(local.has_value());
    CHECK((*local)->address() == "127.0.0.1:" + std::to_string((*local)->port()));

    auto every = http::Server::bind(":0", echo_path);
    REQUIRE(every.has_value());
    const std::string port = std::to_string((*every)->port());
    CHECK(((*every)->address() == "[::]:" + port || (*every)->address() == "0.0.0.0:" + port));

    auto v6 = http::Server::bind("[::1]:0", echo_path);
    if (!v6) {
      MESSAGE("no IPv6 loopback here: " << v6.error().message);
      return;
    }
    CHECK((*v6)->address() == "[::1]:" + std::to_string((*v6)->port()));
  }

  TEST_CASE("a client on IPv6 is told to the handler by its address without its port") {
    std::string peer;
    auto probe = http::Server::bind("[::1]:0", echo_path);
    if (!probe) {
      MESSAGE("no IPv6 loopback here: " << probe.error().message);
      return;
    }
    probe->reset();
    Running running(
        [&peer](const http::Incoming& incoming) {
          peer = incoming.peer;
          return text("ok");
        },
        {}, "[::1]:0");
    auto response =
        http::request_blocking(get("http://[::1]:" + std::to_string(running.port()) + "/"));
    REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().message));
    CHECK(response->status == 200);
    CHECK(peer == "::1");
  }

  TEST_CASE("an address that does not parse is a usage error that names it") {
    for (const std::string address :
         {"localhost", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "::1:8080",
          "[::1]8080", "[::1]", "[127.0.0.1]:80", "example.com:80", "[::1:80", ""}) {
      CAPTURE(address);
      auto bound = http::Server::bind(address, echo_path);
      REQUIRE(!bound.has_value());
      CHECK(bound.error().kind == promote::ErrorKind::usage);
      CHECK(bound.error().message == "'" + address +
                                         "' is not an address to listen on: give HOST:PORT, "
                                         "[IPV6]:PORT or :PORT");
    }
  }

  TEST_CASE("an address already in use is an input error") {
    auto first = http::Server::bind("127.0.0.1:0", echo_path);
    REQUIRE(first.has_value());
    const std::string address = "127.0.0.1:" + std::to_string((*first)->port());
    auto second = http::Server::bind(address, echo_path);
    REQUIRE(!second.has_value());
    CHECK(second.error().kind == promote::ErrorKind::input);
    CHECK(second.error().message == "cannot listen on " + address + ": Address already in use");
  }

  TEST_CASE(
      "a request reaches the handler taken apart, and its answer comes back with "
      "Content-Length, Date and Server") {
    std::mutex mutex;
    http::Incoming seen;
    std::thread::id handler_thread;
    Running running([&](const http::Incoming& incoming) {
      std::lock_guard lock(mutex);
      seen = incoming;
      handler_thread = std::this_thread::get_id();
      return http::Outgoing{201,
                            {{"Content-Type", "text/plain"},
                             {"X-Made", "yes"},
                             {"Content-Length", "999"},
                             {"Server", "nginx"}},
                            "made\n",
                            {}};
    });
    http::Request request = get(running.url("/api/v1/things?limit=5&name=a%20b"));
    request.method = "POST";
    request.headers = {{"X-Token", "abc"}, {"Content-Type", "application/json"}};
    request.body = R"({"a":1})";
    auto response = http::request_blocking(request);
    REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().message));

    CHECK(response->status == 201);
    CHECK(response->body == "made\n");
    CHECK(response->header("Content-Type") == "text/plain");
    CHECK(response->header("X-Made") == "yes");
    CHECK(response->header("Content-Length") == "5");
    CHECK(response->header("Server") == "promote");
    CHECK(std::count_if(response->headers.begin(), response->headers.end(), [](const auto& h) {
            return h.first == "Content-Length" || h.first == "Server";
          }) == 2);
    const std::string date = response->header("Date");
    CHECK(std::regex_match(date, std::regex("(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
                                            "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                                            "[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT")));
    // The date is now: seen from a minute ago, it is a minute ahead.
    const auto ahead = http::parse_retry_after(date, std::chrono::system_clock::now() - 60s);
    REQUIRE(ahead);
    CHECK(*ahead >= 58s);
    CHECK(*ahead <= 62s);

    std::lock_guard lock(mutex);
    CHECK(seen.method == "POST");
    CHECK(seen.target == "/api/v1/things?limit=5&name=a%20b");
    CHECK(seen.path == "/api/v1/things");
    CHECK(seen.query == "limit=5&name=a%20b");
    CHECK(seen.header("x-token") == "abc");
    CHECK(seen.header("HOST") == "127.0.0.1:" + std::to_string(running.port()));
    CHECK(seen.header("X-Absent") == "");
    CHECK(seen.body == R"({"a":1})");
    CHECK(seen.peer == "127.0.0.1");
    CHECK(handler_thread != running.network_thread());
  }

  TEST_CASE("a chunked request body is read whole, and a HEAD gets the head alone") {
    Running running(
        [](const http::Incoming& incoming) { return text(incoming.method + " " + incoming.body); });
    RawClient client(running.port());
    REQUIRE(
        client.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    const std::string posted = client.read_response();
    CHECK(status_line(posted) == "HTTP/1.1 200 OK");
    CHECK(raw_body(posted) == "POST hello world");

    REQUIRE(client.send("HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string head = client.read_to_end();
    CHECK(client.ended());
    CHECK(status_line(head) == "HTTP/1.1 200 OK");
    CHECK(raw_header(head, "Content-Length") == "5");  // of "HEAD "
    CHECK(raw_body(head) == "");
  }

  TEST_CASE(
      "two requests sent at once on one connection are answered in order, and "
      "Connection: close ends it") {
    Running running(echo_path);
    RawClient client(running.port());
    REQUIRE(
        client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string one = client.read_response();
    const std::string two = client.read_response();
    CHECK(status_line(one) == "HTTP/1.1 200 OK");
    CHECK(raw_body(one) == "/one");
    CHECK(raw_header(one, "Connection") == "");
    CHECK(raw_body(two) == "/two");
    CHECK(raw_header(two, "Connection") == "");

    REQUIRE(client.send("GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string three = client.read_to_end();
    CHECK(client.ended());
    CHECK(raw_header(three, "Connection") == "close");
    CHECK(raw_body(three) == "/three");
  }

  TEST_CASE("an Expect: 100-continue request is told to continue before it sends its body") {
    Running running([](const http::Incoming& incoming) { return text(incoming.body); });
    RawClient client(running.port());
    REQUIRE(client.send(
        "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    CHECK(client.read_response() == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(client.send("hello"));
    CHECK(raw_body(client.read_response()) == "hello");
  }

  TEST_CASE("handlers run at the same time on the pool, never on the network thread") {
    // Each handler waits for the other to arrive: only handlers running in parallel meet.
    const auto meet = [](std::chrono::milliseconds patience, std::set<std::thread::id>& threads) {
      auto mutex = std::make_shared<std::mutex>();
      auto arrived = std::make_shared<std::condition_variable>();
      auto count = std::make_shared<int>(0);
      return [=, &threads](const http::Incoming&) {
        std::unique_lock lock(*mutex);
        threads.insert(std::this_thread::get_id());
        ++*count;
        arrived->notify_all();
        const bool met = arrived->wait_for(lock, patience, [&] { return *count >= 2; });
        return text(met ? "met" : "alone");
      };
    };
    const auto two_at_once = [](const Running& running) {
      auto first = std::async(std::launch::async,
                              [&] { return http::request_blocking(get(running.url("/a"))); });
      auto second = http::request_blocking(get(running.url("/b")));
      auto one = first.get();
      REQUIRE(one.has_value());
      REQUIRE(second.has_value());
      return std::vector<std::string>{one->body, second->body};
    };

    SUBCASE("with two threads they meet") {
      std::set<std::thread::id> threads;
      http::ServerLimits limits;
      limits.handler_threads = 2;
      Running running(meet(10s, threads), limits);
      CHECK(two_at_once(running) == std::vector<std::string>{"met", "met"});
      CHECK(threads.size() == 2);
      CHECK(threads.count(running.network_thread()) == 0);
    }
    SUBCASE("with one thread they cannot") {
      std::set<std::thread::id> threads;
      http::ServerLimits limits;
      limits.handler_threads = 1;
      Running running(meet(300ms, threads), limits);
      auto bodies = two_at_once(running);
      std::sort(bodies.begin(), bodies.end());
      CHECK(bodies == std::vector<std::string>{"alone", "met"});
      CHECK(threads.size() == 1);
    }
  }

  TEST_CASE("a head larger than max_header is answered 431 and the connection closed") {
    http::ServerLimits limits;
    limits.max_header = 1024;
    Running running(echo_path, limits);
    RawClient client(running.port());
    REQUIRE(
        client.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n"));
    const std::string response = client.read_to_end();
    CHECK(client.ended());
    CHECK(status_line(response) == "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(raw_header(response, "Connection") == "close");
    CHECK(raw_header(response, "Server") == "promote");
    CHECK(raw_body(response) == "431 Request Header Fields Too Large\n");
  }

  TEST_CASE("a body larger than max_body is answered 413 and the connection closed") {
    std::atomic<int> handled{0};
    int expected = 0;  // requests that reach the handler
    http::ServerLimits limits;
    limits.max_body = 1000;
    Running running(
        [&handled](const http::Incoming&) {
          ++handled;
          return text("ok");
        },
        limits);

    SUBCASE("from its Content-Length, before it is sent") {
      RawClient client(running.port());
      REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
      const std::string response = client.read_to_end();
      CHECK(client.ended());
      CHECK(status_line(response) == "HTTP/1.1 413 Payload Too Large");
      CHECK(raw_header(response, "Connection") == "close");
      CHECK(raw_body(response) == "413 Payload Too Large\n");
    }
    SUBCASE("as its chunks arrive") {
      RawClient client(running.port());
      const std::string chunk = "258\r\n" + std::string(600, 'a') + "\r\n";
      REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          chunk + chunk));
      const std::string response = client.read_to_end();
      CHECK(client.ended());
      CHECK(status_line(response) == "HTTP/1.1 413 Payload Too Large");
    }
    SUBCASE("sent whole by a client that reads the answer after") {
      http::Request request = get(running.url("/"));
      request.method = "POST";
      request.body = std::string(200'000, 'a');
      auto response = http::request_blocking(request);
      REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().message));
      CHECK(response->status == 413);
      CHECK(response->body == "413 Payload Too Large\n");
    }
    SUBCASE("at the limit, it is read") {
      http::Request request = get(running.url("/"));
      request.method = "POST";
      request.body = std::string(1000, 'a');
      auto response = http::request_blocking(request);
      REQUIRE(response.has_value());
      CHECK(response->status == 200);
      expected = 1;
    }
    CHECK(handled == expected);
  }

  TEST_CASE("a connection past max_connections is answered 503 and closed") {
    http::ServerLimits limits;
    limits.max_connections = 2;
    Running running(echo_path, limits);
    RawClient first(running.port());
    RawClient second(running.port());
    for (RawClient* client : {&first, &second}) {
      REQUIRE(client->send("GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"));
      CHECK(raw_body(client->read_response()) == "/kept");
    }
    RawClient third(running.port());
    const std::string refused = third.read_to_end();
    CHECK(third.ended());
    CHECK(status_line(refused) == "HTTP/1.1 503 Service Unavailable");
    CHECK(raw_header(refused, "Connection") == "close");
    CHECK(raw_body(refused) == "503 Service Unavailable\n");

    // Once one leaves, a newcomer is served (as soon as the server has seen it leave).
    first.close();
    std::string served;
    for (int attempt = 0; attempt < 200 && raw_body(served) != "/new"; ++attempt) {
      RawClient next(running.port());
      REQUIRE(next.send("GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
      served = next.read_to_end();
      if (raw_body(served) != "/new") {
        std::this_thread::sleep_for(10ms);
      }
    }
    CHECK(raw_body(served) == "/new");
  }

  TEST_CASE(
      "a client that does not finish its request within read_timeout gets 408 and is "
      "closed") {
    http::ServerLimits limits;
    limits.read_timeout = 300ms;
    Running running(echo_path, limits);
    const auto start = Clock::now();
    RawClient client(running.port());

    SUBCASE("half a head") {
      REQUIRE(client.send("GET / HTTP/1.1\r\nHost: x\r\n"));
    }
    SUBCASE("a head that comes a byte at a time (slowloris)") {
      // A byte every 50 ms: no single read waits long, the request as a whole does.
      const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'a');
      for (char c : head) {
        if (!client.send(std::string(1, c)) || client.readable(50ms)) {
          break;
        }
      }
    }
    SUBCASE("a body that stops halfway") {
      REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
    }
    const std::string response = client.read_to_end();
    CHECK(client.ended());
    CHECK(status_line(response) == "HTTP/1.1 408 Request Timeout");
    CHECK(raw_header(response, "Connection") == "close");
    CHECK(raw_body(response) == "408 Request Timeout\n");
    CHECK(Clock::now() - start < 3s);
  }

  TEST_CASE("a connection that sends nothing within read_timeout is closed without an answer") {
    http::ServerLimits limits;
    limits.read_timeout = 200ms;
    Running running(echo_path, limits);
    RawClient client(running.port());
    CHECK(client.read_to_end() == "");
    CHECK(client.ended());
  }

  TEST_CASE("a response its client does not read is given up after write_timeout") {
    constexpr std::size_t k_size = 64 * 1024 * 1024;  // more than the sockets' buffers hold
    std::promise<void> answered;
    http::ServerLimits limits;
    limits.write_timeout = 300ms;
    Running running(
        [&answered](const http::Incoming&) {
          answered.set_value();
          return text(std::string(k_size, 'a'));
        },
        limits);
    RawClient client(running.port(), 4096);
    REQUIRE(client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(answered.get_future().wait_for(10s) == std::future_status::ready);
    // With a grace far longer than the test, run() returns early only if the write gave up.
    running.stop(60s);
    CHECK(running.returns_within(10s));
    const std::string received = client.read_to_end();
    CHECK(client.ended());
    CHECK(status_line(received) == "HTTP/1.1 200 OK");
    CHECK(received.size() < k_size);
  }

  TEST_CASE("a malformed request is answered 400, an unknown transfer coding 501") {
    std::atomic<int> handled{0};
    Running running([&handled](const http::Incoming&) {
      ++handled;
      return text("ok");
    });
    std::string request;
    std::string status = "HTTP/1.1 400 Bad Request";
    std::string body = "400 Bad Request\n";
    SUBCASE("not HTTP") {
      request = "GARBAGE\r\n\r\n";
    }
    SUBCASE("no Host") {
      request = "GET / HTTP/1.1\r\n\r\n";
    }
    SUBCASE("two Hosts") {
      request = "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    }
    SUBCASE("a header without a colon") {
      request = "GET / HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n";
    }
    SUBCASE("a Content-Length that is not a number") {
      request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n";
    }
    SUBCASE("a bad chunk size") {
      request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    }
    SUBCASE("gzip") {
      request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n";
      status = "HTTP/1.1 501 Not Implemented";
      body = "501 Not Implemented\n";
    }
    SUBCASE("gzip then chunked") {
      request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
      status = "HTTP/1.1 501 Not Implemented";
      body = "501 Not Implemented\n";
    }
    CAPTURE(request);
    RawClient client(running.port());
    REQUIRE(client.send(request));
    const std::string response = client.read_to_end();
    CHECK(client.ended());
    CHECK(status_line(response) == status);
    CHECK(raw_header(response, "Connection") == "close");
    CHECK(raw_body(response) == body);
    CHECK(handled == 0);
  }

  TEST_CASE("a handler that throws is answered 500, its message only logged") {
    Running running([](const http::Incoming& incoming) -> http::Outgoing {
      if (incoming.path == "/odd") {
        return text("odd", 42);
      }
      throw std::runtime_error("the database password hunter2 was refused");
    });
    CapturedStderr captured;
    auto thrown = http::request_blocking(get(running.url("/boom?x=1")));
    auto odd = http::request_blocking(get(running.url("/odd")));
    const std::string log = captured.text();
    REQUIRE(thrown.has_value());
    CHECK(thrown->status == 500);
    CHECK(thrown->body == "500 Internal Server Error\n");
    CHECK(thrown->header("Content-Type") == "text/plain; charset=utf-8");
    REQUIRE(odd.has_value());
    CHECK(odd->status == 500);
    CHECK(odd->body == "500 Internal Server Error\n");
    CHECK(log ==
          "promote: the handler of GET /boom failed: the database password hunter2 was refused\n"
          "promote: the handler of GET /odd failed: the status 42 is not a final status\n");
  }

  TEST_CASE(
      "a stream sends its head first, then each chunk, and ends when its callback "
      "returns") {
    std::promise<void> head_read;
    std::shared_future<void> go = head_read.get_future().share();
    std::mutex mutex;
    std::set<std::thread::id> stream_threads;
    std::vector<bool> sent;
    Running running([&](const http::Incoming&) {
      http::Outgoing out{200, {{"Content-Type", "text/event-stream"}}, "ignored", {}};
      out.stream = [&, go](const std::function<bool(std::string_view)>& send) {
        go.wait();
        std::lock_guard lock(mutex);
        stream_threads.insert(std::this_thread::get_id());
        sent.push_back(send("data: 1\n\n"));
        sent.push_back(send(""));
        sent.push_back(send("data: 2\n\n"));
      };
      return out;
    });
    RawClient client(running.port());
    REQUIRE(client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string head = client.read_head();
    CHECK(status_line(head) == "HTTP/1.1 200 OK");
    CHECK(raw_header(head, "Content-Type") == "text/event-stream");
    CHECK(raw_header(head, "Transfer-Encoding") == "chunked");
    CHECK(raw_header(head, "Content-Length") == "");
    CHECK(raw_header(head, "Connection") == "close");
    CHECK(raw_header(head, "Server") == "promote");
    head_read.set_value();
    CHECK(client.read_to_end() == "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
    CHECK(client.ended());

    // Through the client, which reads the chunks as one body.
    auto whole = http::request_blocking(get(running.url("/events")));
    REQUIRE(whole.has_value());
    CHECK(whole->body == "data: 1\n\ndata: 2\n\n");
    std::lock_guard lock(mutex);
    CHECK(sent == std::vector<bool>{true, true, true, true, true, true});
    CHECK(stream_threads.count(running.network_thread()) == 0);
  }

  TEST_CASE("a stream to an HTTP/1.0 client is sent unchunked and ended by the close") {
    Running running([](const http::Incoming&) {
      http::Outgoing out;
      out.stream = [](const std::function<bool(std::string_view)>& send) {
        send("data: 1\n\n");
        send("data: 2\n\n");
      };
      return out;
    });
    RawClient client(running.port());
    REQUIRE(client.send("GET /events HTTP/1.0\r\n\r\n"));
    const std::string response = client.read_to_end();
    CHECK(client.ended());
    CHECK(raw_header(response, "Transfer-Encoding") == "");
    CHECK(raw_header(response, "Content-Length") == "");
    CHECK(raw_body(response) == "data: 1\n\ndata: 2\n\n");
  }

  TEST_CASE("a stream whose callback throws is cut short, its message only logged") {
    Running running([](const http::Incoming&) {
      http::Outgoing out;
      out.stream = [](const std::function<bool(std::string_view)>& send) {
        send("data: 1\n\n");
        throw std::runtime_error("the feed broke");
      };
      return out;
    });
    CapturedStderr captured;
    RawClient client(running.port());
    REQUIRE(client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
    client.read_head();
    const std::string body = client.read_to_end();
    CHECK(client.ended());
    CHECK(body == "9\r\ndata: 1\n\n\r\n");  // no last chunk: the client knows it was cut
    CHECK(captured.text() == "promote: the stream of GET /events failed: the feed broke\n");
  }

  TEST_CASE("a 204 is sent without a body or a Content-Length") {
    Running running([](const http::Incoming&) { return text("dropped", 204); });
    RawClient client(running.port());
    REQUIRE(client.send("DELETE /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    const std::string response = client.read_to_end();
    CHECK(status_line(response) == "HTTP/1.1 204 No Content");
    CHECK(raw_header(response, "Content-Length") == "");
    CHECK(raw_body(response) == "");
  }

  TEST_CASE("a stream's send returns false once its client has gone") {
    std::promise<int> ended;
    Running running([&ended](const http::Incoming&) {
      http::Outgoing out;
      out.stream = [&ended](const std::function<bool(std::string_view)>& send) {
        int sent = 0;
        const auto give_up = Clock::now() + 20s;
        while (Clock::now() < give_up && send("data: tick\n\n")) {
          ++sent;
          std::this_thread::sleep_for(5ms);
        }
        ended.set_value(Clock::now() < give_up ? sent : -1);
      };
      return out;
    });
    RawClient client(running.port());
    REQUIRE(client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(status_line(client.read_head()) == "HTTP/1.1 200 OK");
    client.close();
    auto result = ended.get_future();
    REQUIRE(result.wait_for(10s) == std::future_status::ready);
    CHECK(result.get() >= 0);
  }

  TEST_CASE(
      "stop lets a handler in flight finish within the grace, and run returns promptly "
      "after") {
    std::promise<void> started;
    Running running([&started](const http::Incoming&) {
      started.set_value();
      std::this_thread::sleep_for(200ms);
      return text("done");
    });
    auto response = std::async(std::launch::async,
                               [&] { return http::request_blocking(get(running.url("/slow"))); });
    REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
    const auto stopped_at = Clock::now();
    running.stop(2s);
    auto answer = response.get();
    REQUIRE_MESSAGE(answer.has_value(), (answer ? "" : answer.error().message));
    CHECK(answer->status == 200);
    CHECK(answer->body == "done");
    CHECK(running.returns_within(5s));
    CHECK(Clock::now() - stopped_at < 1500ms);
    // Nothing is accepted any more.
    CHECK(!http::request_blocking(get(running.url("/late"))).has_value());
  }

  TEST_CASE(
      "stop closes a connection whose handler outlasts the grace, and run waits for the "
      "handler") {
    std::promise<void> started;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> returned{false};
    Running running([&, released](const http::Incoming&) {
      started.set_value();
      released.wait();
      returned = true;
      return text("late");
    });
    auto response = std::async(std::launch::async,
                               [&] { return http::request_blocking(get(running.url("/stuck"))); });
    REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
    running.stop(100ms);
    auto answer = response.get();  // the connection closes once the grace is over
    CHECK(!answer.has_value());
    CHECK(!running.returns_within(0ms));
    release.set_value();
    CHECK(running.returns_within(5s));
    CHECK(returned);
  }

  TEST_CASE("stop with an idle kept-alive client returns promptly and closes it") {
    Running running(echo_path);
    RawClient client(running.port());
    REQUIRE(client.send("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(raw_body(client.read_response()) == "/idle");
    running.stop(10s);
    CHECK(running.returns_within(2s));
    CHECK(client.read_to_end() == "");
    CHECK(client.ended());
  }

  TEST_CASE("stop tells a stream to end through its send, and the stream ends its body") {
    std::promise<bool> told;
    Running running([&told](const http::Incoming&) {
      http::Outgoing out;
      out.stream = [&told](const std::function<bool(std::string_view)>& send) {
        const auto give_up = Clock::now() + 20s;
        while (Clock::now() < give_up && send("data: tick\n\n")) {
          std::this_thread::sleep_for(5ms);
        }
        told.set_value(Clock::now() < give_up);
      };
      return out;
    });
    RawClient client(running.port());
    REQUIRE(client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK(status_line(client.read_head()) == "HTTP/1.1 200 OK");
    CHECK(client.read_through("data: tick\n\n\r\n") == "c\r\ndata: tick\n\n\r\n");
    running.stop(10s);
    CHECK(running.returns_within(5s));
    auto result = told.get_future();
    REQUIRE(result.wait_for(0ms) == std::future_status::ready);
    CHECK(result.get());
    const std::string body = client.read_to_end();
    CHECK(client.ended());
    CHECK((body == "0\r\n\r\n" || body.ends_with("\r\ndata: tick\n\n\r\n0\r\n\r\n")));
  }

  TEST_CASE("stop is safe from any thread and more than once, and before run makes it return") {
    auto bound = http::Server::bind("127.0.0.1:0", echo_path);
    REQUIRE(bound.has_value());
    http::Server& server = **bound;
    std::thread other([&server] { server.stop(); });
    server.stop();
    other.join();
    const auto start = Clock::now();
    server.run();
    CHECK(Clock::now() - start < 2s);
    server.stop();
    CHECK(!http::request_blocking(get("http://127.0.0.1:" + std::to_string(server.port()) + "/"))
               .has_value());
  }
}
