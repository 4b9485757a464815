#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>

#include "engine/http/client.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

// What the test server answers; `reply` empty means: accept, read, then never answer.
struct Script {
  std::string reply;
  std::string received;  // the last request's head and as much body as arrived with it
};

asio::awaitable<void> serve(tcp::acceptor& acceptor, std::shared_ptr<Script> script) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      co_return;
    }
    std::string buffer;
    auto [read_error, n] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
    script->received = buffer;
    if (read_error) {
      continue;
    }
    if (script->reply.empty()) {
      asio::steady_timer never(socket.get_executor(), 1h);
      co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(script->reply),
                               asio::as_tuple(asio::use_awaitable));
  }
}

// Runs one request against a server on 127.0.0.1 (port 0) that answers `reply`.
struct Exchange {
  promote::Result<promote::http::Response> result =
      promote::make_error(promote::ErrorKind::internal, "not run");
  std::string received;
  unsigned short port = 0;
};

asio::awaitable<void> client(promote::http::Request request,
                             std::optional<promote::Result<promote::http::Response>>& out,
                             asio::io_context& io) {
  out.emplace(co_await promote::http::request(std::move(request)));
  io.stop();
}

Exchange run(const std::string& reply, promote::http::Request request,
             const std::string& path = "/api") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto script = std::make_shared<Script>();
  script->reply = reply;
  Exchange exchange;
  exchange.port = acceptor.local_endpoint().port();
  request.url = "http://127.0.0.1:" + std::to_string(exchange.port) + path;
  asio::co_spawn(io, serve(acceptor, script), asio::detached);
  std::optional<promote::Result<promote::http::Response>> out;
  asio::co_spawn(io, client(std::move(request), out, io), asio::detached);
  io.run();
  REQUIRE(out);
  exchange.result = std::move(*out);
  exchange.received = script->received;
  return exchange;
}

std::string url_of(const Exchange& exchange, const std::string& path = "/api") {
  return "http://127.0.0.1:" + std::to_string(exchange.port) + path;
}

}  // namespace

TEST_SUITE("http") {
  TEST_CASE("a 200 response carries its status, headers and body") {
    promote::http::Request request;
    request.headers = {{"Accept", "application/json"}};
    const auto exchange =
        run("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
            "{\"ok\":true}",
            request, "/api/v1/query?query=up");
    REQUIRE(exchange.result.has_value());
    CHECK(exchange.result->status == 200);
    CHECK(exchange.result->body == "{\"ok\":true}");
    CHECK(exchange.result->header("content-type") == "application/json");
    CHECK(exchange.result->header("X-Missing") == "");
    CHECK(exchange.received.rfind("GET /api/v1/query?query=up HTTP/1.1\r\n", 0) == 0);
    CHECK(exchange.received.find("Accept: application/json\r\n") != std::string::npos);
    CHECK(exchange.received.find("Host: 127.0.0.1:" + std::to_string(exchange.port) + "\r\n") !=
          std::string::npos);
  }

  TEST_CASE("a POST sends its body with a content length") {
    promote::http::Request request;
    request.method = "POST";
    request.body = "query=up";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    const auto exchange = run("HTTP/1.1 204 No Content\r\n\r\n", request);
    REQUIRE(exchange.result.has_value());
    CHECK(exchange.result->status == 204);
    CHECK(exchange.received.rfind("POST /api HTTP/1.1\r\n", 0) == 0);
    CHECK(exchange.received.find("Content-Length: 8\r\n") != std::string::npos);
  }

  TEST_CASE("a 404 is a response, not an error") {
    const auto exchange = run("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", {});
    REQUIRE(exchange.result.has_value());
    CHECK(exchange.result->status == 404);
    CHECK(exchange.result->body == "not found");
  }

  TEST_CASE("a server that never answers times out at the deadline") {
    promote::http::Request request;
    request.timeout = 200ms;
    const auto exchange = run("", request);
    REQUIRE(exchange.result.has_error());
    CHECK(exchange.result.error().kind == promote::ErrorKind::http);
    CHECK(exchange.result.error().message == "GET " + url_of(exchange) + ": timed out after 200ms");
  }

  TEST_CASE("a body larger than the cap is refused") {
    SUBCASE("announced by its content length, with the default 16 MiB cap") {
      const auto exchange = run("HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n", {});
      REQUIRE(exchange.result.has_error());
      CHECK(exchange.result.error().message ==
            "GET " + url_of(exchange) + ": response body exceeds 16 MiB");
    }
    SUBCASE("chunked, with a small cap") {
      promote::http::Request request;
      request.max_body = 10;
      const auto exchange =
          run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n"
              "89abcdef\r\n0\r\n\r\n",
              request);
      REQUIRE(exchange.result.has_error());
      CHECK(exchange.result.error().message ==
            "GET " + url_of(exchange) + ": response body exceeds 10 bytes");
    }
  }

  TEST_CASE("a refused connection is an http error naming the address") {
    asio::io_context io;
    unsigned short port = 0;
    {
      tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      port = acceptor.local_endpoint().port();
    }
    promote::http::Request request;
    request.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
    std::optional<promote::Result<promote::http::Response>> out;
    asio::co_spawn(io, client(request, out, io), asio::detached);
    io.run();
    REQUIRE(out);
    REQUIRE(out->has_error());
    CHECK(out->error().kind == promote::ErrorKind::http);
    CHECK(out->error().message == "GET " + request.url + ": cannot connect to 127.0.0.1:" +
                                      std::to_string(port) + ": Connection refused");
  }

  TEST_CASE("a cancelled request ends promptly as cancelled") {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto script = std::make_shared<Script>();
    asio::co_spawn(io, serve(acceptor, script), asio::detached);
    promote::http::Request request;
    request.url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
    request.timeout = 1h;
    std::optional<std::size_t> winner;
    std::optional<promote::Result<promote::http::Response>> out;
    auto race = [&]() -> asio::awaitable<void> {
      asio::steady_timer timer(io, 100ms);
      auto raced = co_await (promote::http::request(request) ||
                             timer.async_wait(asio::as_tuple(asio::use_awaitable)));
      winner = raced.index();
      io.stop();
    };
    const auto started = std::chrono::steady_clock::now();
    asio::co_spawn(io, race, asio::detached);
    io.run();
    REQUIRE(winner);
    CHECK(*winner == 1);
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }

  TEST_CASE("malformed and unsupported URLs are refused before any connection") {
    asio::io_context io;
    std::optional<promote::Result<promote::http::Response>> out;
    promote::http::Request request;
    SUBCASE("not a URL") {
      request.url = "not a url";
      asio::co_spawn(io, client(request, out, io), asio::detached);
      io.run();
      REQUIRE(out->has_error());
      CHECK(out->error().message == "GET not a url: not a valid URL");
    }
    SUBCASE("another scheme, with its userinfo kept out of the message") {
      request.url = "ftp://user:secret@example.com/file";
      asio::co_spawn(io, client(request, out, io), asio::detached);
      io.run();
      REQUIRE(out->has_error());
      CHECK(out->error().message ==
            "GET ftp://example.com/file: only http and https URLs are supported");
    }
  }

  TEST_CASE("URLs lose their userinfo when shown") {
    CHECK(promote::http::redact_url("https://bob:s3cret@prom.example:9090/api?q=1") ==
          "https://prom.example:9090/api?q=1");
    CHECK(promote::http::redact_url("http://prom:9090") == "http://prom:9090");
    // Text that does not parse as a URL loses what looks like userinfo all the same.
    CHECK(promote::http::redact_url("https://bob:p a ss@prom.example/x y") ==
          "https://prom.example/x y");
    CHECK(promote::http::redact_url("bob:s3cret@prom example") == "prom example");
    CHECK(promote::http::redact_url("not a url") == "not a url");
  }

  TEST_CASE("form encoding escapes everything but unreserved characters") {
    CHECK(promote::http::form_encode("sum(rate(x{code=~\"5..\"}[5m])) + 1") ==
          "sum%28rate%28x%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29%20%2B%201");
    CHECK(promote::http::form_encode("a-b_c.d~") == "a-b_c.d~");
  }

  TEST_CASE("basic authorization encodes user and password in base64") {
    CHECK(promote::http::basic_authorization("Aladdin", "open sesame") ==
          "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(promote::http::basic_authorization("a", "") == "Basic YTo=");
    CHECK(promote::http::basic_authorization("ab", "c") == "Basic YWI6Yw==");
  }
}
