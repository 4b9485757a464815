// HTTPS against a server with a CA of its own, the CA file settings, and proxies (a small
// CONNECT proxy on 127.0.0.1 that tunnels every request to the test server).

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/http/client.hpp"
#include "engine/util/time.hpp"
#include "tests/http/kube_fixtures.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

using promote::test::CleanEnv;
using promote::test::ScopedEnv;

namespace {

constexpr auto k_use = asio::as_tuple(asio::use_awaitable);

promote::Result<promote::http::Response> get(const std::string& url,
                                             const std::string& ca_file = "") {
  promote::http::Request request;
  request.url = url;
  request.ca_file = ca_file;
  request.timeout = 10s;
  return promote::http::request_blocking(request);
}

std::string error_of(const promote::Result<promote::http::Response>& result) {
  REQUIRE(result.has_error());
  CHECK(result.error().kind == promote::ErrorKind::http);
  return result.error().message;
}

// An HTTP proxy on 127.0.0.1 (a free port) and a thread of its own. CONNECT opens a tunnel
// to 127.0.0.1:`upstream`, whatever host it names (or answers `refusal` when set); any
// other request is answered "via proxy" at once, as an origin would. Records each head.
class Proxy {
 public:
  explicit Proxy(unsigned short upstream, std::string refusal = "")
      : m_upstream(upstream), m_refusal(std::move(refusal)) {
    asio::co_spawn(m_io, serve(), asio::detached);
    m_thread = std::thread([this] { m_io.run(); });
  }
  ~Proxy() {
    m_io.stop();
    m_thread.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(m_acceptor.local_endpoint().port());
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(m_acceptor.local_endpoint().port());
  }
  int tunnels() const { return m_tunnels; }
  std::vector<std::string> heads() const {
    std::lock_guard lock(m_mutex);
    return m_heads;
  }

 private:
  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await m_acceptor.async_accept(k_use);
      if (ec) {
        co_return;
      }
      asio::co_spawn(m_io, session(std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> pipe(tcp::socket& from, tcp::socket& to) {
    std::array<char, 16384> data;
    for (;;) {
      auto [read_error, n] = co_await from.async_read_some(asio::buffer(data), k_use);
      if (read_error) {
        co_return;
      }
      auto [write_error, written] = co_await asio::async_write(to, asio::buffer(data, n), k_use);
      if (write_error) {
        co_return;
      }
    }
  }

  asio::awaitable<void> session(tcp::socket client) {
    std::string buffer;
    auto [read_error, size] =
        co_await asio::async_read_until(client, asio::dynamic_buffer(buffer), "\r\n\r\n", k_use);
    if (read_error) {
      co_return;
    }
    const std::string head = buffer.substr(0, size);
    buffer.erase(0, size);
    {
      std::lock_guard lock(m_mutex);
      m_heads.push_back(head);
    }
    std::string answer;
    if (head.rfind("CONNECT ", 0) != 0) {
      answer = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy";
    } else if (!m_refusal.empty()) {
      answer = m_refusal;
    }
    if (!answer.empty()) {
      co_await asio::async_write(client, asio::buffer(answer), k_use);
      co_return;
    }
    tcp::socket upstream(m_io);
    auto [connect_error] = co_await upstream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), m_upstream), k_use);
    if (connect_error) {
      co_return;
    }
    ++m_tunnels;
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(client, asio::buffer(established), k_use);
    if (!buffer.empty()) {
      co_await asio::async_write(upstream, asio::buffer(buffer), k_use);
    }
    co_await (pipe(client, upstream) || pipe(upstream, client));
  }

  asio::io_context m_io;
  tcp::acceptor m_acceptor{m_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  unsigned short m_upstream;
  std::string m_refusal;
  std::atomic<int> m_tunnels{0};
  mutable std::mutex m_mutex;
  std::vector<std::string> m_heads;
  std::thread m_thread;
};

promote::test::HttpsApi& hello(promote::test::HttpsApi& api) {
  api.route("GET", "/hello", [](const promote::test::ApiRequest&) {
    return promote::test::ApiReply{200, "hi", {{"Content-Type", "text/plain"}}};
  });
  return api;
}

}  // namespace

TEST_SUITE("http") {
  TEST_CASE("a server whose certificate no trusted CA signed is refused before any request") {
    CleanEnv env;
    promote::test::HttpsApi api;
    hello(api);
    const std::string url = api.url("/hello");
    const auto port = std::to_string(api.port());
    CHECK(error_of(get(url)) ==
          "GET " + url + ": TLS handshake failed: the certificate of 127.0.0.1:" + port +
              " was not accepted: unable to get local issuer certificate (verified against the "
              "system CA store)");
    CHECK(api.connections() == 1);
    CHECK(api.log().empty());

    SUBCASE("also when another CA file is given") {
      promote::test::HttpsApi other;
      CHECK(error_of(get(url, other.ca_file())) ==
            "GET " + url + ": TLS handshake failed: the certificate of 127.0.0.1:" + port +
                " was not accepted: unable to get local issuer certificate (verified against the "
                "CA file " +
                other.ca_file() + ")");
    }
    SUBCASE("also when another CA file is named by PROMOTE_CA_FILE") {
      promote::test::HttpsApi other;
      ScopedEnv ca("PROMOTE_CA_FILE", other.ca_file());
      CHECK(error_of(get(url)) ==
            "GET " + url + ": TLS handshake failed: the certificate of 127.0.0.1:" + port +
                " was not accepted: unable to get local issuer certificate (verified against the "
                "CA file " +
                other.ca_file() + " (from PROMOTE_CA_FILE))");
    }
    CHECK(api.log().empty());
  }

  TEST_CASE(
      "the server's CA is trusted when given in the request, PROMOTE_CA_FILE or SSL_CERT_FILE") {
    CleanEnv env;
    promote::test::HttpsApi api;
    hello(api);
    promote::test::HttpsApi other;
    promote::Result<promote::http::Response> result;
    SUBCASE("in the request") {
      result = get(api.url("/hello"), api.ca_file());
    }
    SUBCASE("in PROMOTE_CA_FILE") {
      ScopedEnv ca("PROMOTE_CA_FILE", api.ca_file());
      result = get(api.url("/hello"));
    }
    SUBCASE("in SSL_CERT_FILE") {
      ScopedEnv ca("SSL_CERT_FILE", api.ca_file());
      result = get(api.url("/hello"));
    }
    SUBCASE("PROMOTE_CA_FILE before SSL_CERT_FILE") {
      ScopedEnv ca("PROMOTE_CA_FILE", api.ca_file());
      ScopedEnv cert("SSL_CERT_FILE", other.ca_file());
      result = get(api.url("/hello"));
    }
    SUBCASE("the request's before PROMOTE_CA_FILE") {
      ScopedEnv ca("PROMOTE_CA_FILE", other.ca_file());
      result = get(api.url("/hello"), api.ca_file());
    }
    REQUIRE(result.has_value());
    CHECK(result->status == 200);
    CHECK(result->body == "hi");
    const auto log = api.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].method == "GET");
    CHECK(log[0].target == "/hello");
    CHECK(log[0].header("Host") == "127.0.0.1:" + std::to_string(api.port()));
  }

  TEST_CASE("a CA file that cannot be used is an error naming it and where it came from") {
    CleanEnv env;
    promote::test::HttpsApi api;
    hello(api);
    const std::string url = api.url("/hello");
    SUBCASE("missing") {
      ScopedEnv ca("PROMOTE_CA_FILE", "/nonexistent/ca.pem");
      CHECK(error_of(get(url)) == "GET " + url +
                                      ": cannot read the CA file /nonexistent/ca.pem (from "
                                      "PROMOTE_CA_FILE): No such file or directory");
    }
    SUBCASE("without a certificate") {
      promote::test::TempDir dir;
      promote::test::write_text(dir / "ca.pem", "not a certificate\n");
      const std::string file = (dir / "ca.pem").string();
      CHECK(error_of(get(url, file)) ==
            "GET " + url + ": cannot load a CA certificate from the CA file " + file);
    }
    CHECK(api.log().empty());
  }

  TEST_CASE("a CA file is read again when it changes") {
    CleanEnv env;
    promote::test::HttpsApi api;
    hello(api);
    promote::test::HttpsApi other;
    promote::test::TempDir dir;
    const std::string file = (dir / "ca.pem").string();
    promote::test::write_text(file, promote::test::read_text(other.ca_file()));
    CHECK(get(api.url("/hello"), file).has_error());
    promote::test::write_text(
        file, promote::test::read_text(other.ca_file()) + promote::test::read_text(api.ca_file()));
    const auto result = get(api.url("/hello"), file);
    REQUIRE(result.has_value());
    CHECK(result->body == "hi");
  }

  TEST_CASE("HTTPS goes through the proxy of HTTPS_PROXY in a CONNECT tunnel") {
    CleanEnv env;
    promote::test::HttpsApi api({"api.forge.test"});
    hello(api);
    Proxy proxy(api.port());
    std::string expected_authorization;
    SUBCASE("HTTPS_PROXY") {
      setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
    }
    SUBCASE("https_proxy, without a scheme, with a user and a password") {
      setenv("https_proxy", ("bob:s3cret@" + proxy.address()).c_str(), 1);
      expected_authorization = "Proxy-Authorization: Basic Ym9iOnMzY3JldA==\r\n";
    }
    SUBCASE("HTTPS_PROXY, with NO_PROXY listing other hosts") {
      setenv("HTTPS_PROXY", proxy.url().c_str(), 1);
      setenv("NO_PROXY", "example.com, .other.test,forge.test:8443", 1);
    }
    // The name is never resolved here: only the proxy knows where it goes.
    const auto result = get("https://api.forge.test/hello", api.ca_file());
    REQUIRE(result.has_value());
    CHECK(result->body == "hi");
    CHECK(proxy.tunnels() == 1);
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 1);
    CHECK(heads[0].rfind("CONNECT api.forge.test:443 HTTP/1.1\r\n", 0) == 0);
    CHECK(heads[0].find("\r\nHost: api.forge.test:443\r\n") != std::string::npos);
    if (expected_authorization.empty()) {
      CHECK(heads[0].find("Proxy-Authorization") == std::string::npos);
    } else {
      CHECK(heads[0].find(expected_authorization) != std::string::npos);
    }
    const auto log = api.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].header("Host") == "api.forge.test");
    CHECK(log[0].header("Proxy-Authorization") == "");
  }

  TEST_CASE("through a proxy the server's name is still verified") {
    CleanEnv env;
    promote::test::HttpsApi api({"api.forge.test"});
    hello(api);
    Proxy proxy(api.port());
    ScopedEnv https("HTTPS_PROXY", proxy.url());
    CHECK(error_of(get("https://other.forge.test/hello", api.ca_file())) ==
          "GET https://other.forge.test/hello: TLS handshake failed: the certificate of "
          "other.forge.test was not accepted: hostname mismatch (verified against the CA file " +
              api.ca_file() + ")");
    CHECK(proxy.tunnels() == 1);
    CHECK(api.log().empty());
  }

  TEST_CASE("plain HTTP goes to the proxy of HTTP_PROXY in absolute form") {
    CleanEnv env;
    Proxy proxy(1);
    ScopedEnv http("HTTP_PROXY", "http://carol:pw@" + proxy.address());
    ScopedEnv https("HTTPS_PROXY", "http://127.0.0.1:1");
    const auto result = get("http://api.forge.test:8080/x?y=1");
    REQUIRE(result.has_value());
    CHECK(result->body == "via proxy");
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 1);
    CHECK(heads[0].rfind("GET http://api.forge.test:8080/x?y=1 HTTP/1.1\r\n", 0) == 0);
    CHECK(heads[0].find("\r\nHost: api.forge.test:8080\r\n") != std::string::npos);
    CHECK(heads[0].find("\r\nProxy-Authorization: Basic Y2Fyb2w6cHc=\r\n") != std::string::npos);
    CHECK(proxy.tunnels() == 0);
  }

  TEST_CASE("proxy failures name the proxy and the variable, never its password") {
    CleanEnv env;
    promote::test::HttpsApi api({"api.forge.test"});
    hello(api);
    const std::string url = "https://api.forge.test/hello";
    SUBCASE("a refused tunnel") {
      Proxy proxy(api.port(),
                  "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
      ScopedEnv https("HTTPS_PROXY", "http://bob:s3cret@" + proxy.address());
      CHECK(error_of(get(url, api.ca_file())) ==
            "GET " + url + ": the proxy " + proxy.address() +
                " (from HTTPS_PROXY) refused the tunnel to api.forge.test:443: 407 Proxy "
                "Authentication Required");
    }
    SUBCASE("a proxy that does not listen") {
      unsigned short port = 0;
      {
        asio::io_context io;
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = acceptor.local_endpoint().port();
      }
      ScopedEnv https("HTTPS_PROXY", "http://bob:s3cret@127.0.0.1:" + std::to_string(port));
      CHECK(error_of(get(url, api.ca_file())) ==
            "GET " + url + ": cannot connect to the proxy 127.0.0.1:" + std::to_string(port) +
                " (from HTTPS_PROXY): Connection refused");
    }
    SUBCASE("an https:// proxy") {
      ScopedEnv https("HTTPS_PROXY", "https://bob:s3cret@proxy.example:3128");
      CHECK(error_of(get(url, api.ca_file())) ==
            "GET " + url +
                ": the proxy https://proxy.example:3128 (from HTTPS_PROXY) is not supported: "
                "only http:// proxies are");
    }
    CHECK(api.log().empty());
  }

  TEST_CASE("which requests take a proxy") {
    CleanEnv env;
    using promote::http::proxy_for;
    CHECK(proxy_for("https://api.example.com/x") == "");
    setenv("HTTPS_PROXY", "http://user:pw@proxy.corp:3128", 1);
    setenv("http_proxy", "plain.corp:8080", 1);
    CHECK(proxy_for("https://api.example.com/x") == "http://proxy.corp:3128");
    CHECK(proxy_for("http://api.example.com/x") == "http://plain.corp:8080");
    // Loopback is never proxied.
    CHECK(proxy_for("https://127.0.0.1:8443/") == "");
    CHECK(proxy_for("https://127.1.2.3/") == "");
    CHECK(proxy_for("https://localhost:8443/") == "");
    CHECK(proxy_for("https://[::1]:8443/") == "");
    CHECK(proxy_for("not a url") == "");

    SUBCASE("NO_PROXY names hosts, their subdomains and ports") {
      setenv("NO_PROXY",
             " example.com , .corp.test,*.wild.test, api.port.test:8443,10.1.2.3,[fd00::1]", 1);
      CHECK(proxy_for("https://example.com/") == "");
      CHECK(proxy_for("https://API.Example.com/") == "");
      CHECK(proxy_for("https://notexample.com/") == "http://proxy.corp:3128");
      CHECK(proxy_for("https://corp.test/") == "");
      CHECK(proxy_for("https://git.corp.test/") == "");
      CHECK(proxy_for("https://a.wild.test/") == "");
      CHECK(proxy_for("https://api.port.test:8443/") == "");
      CHECK(proxy_for("https://api.port.test/") == "http://proxy.corp:3128");
      CHECK(proxy_for("https://10.1.2.3/") == "");
      CHECK(proxy_for("https://10.1.2.4/") == "http://proxy.corp:3128");
      CHECK(proxy_for("https://[fd00::1]/") == "");
    }
    SUBCASE("no_proxy when NO_PROXY is not set, and * for every host") {
      setenv("no_proxy", "*", 1);
      CHECK(proxy_for("https://api.example.com/x") == "");
      CHECK(proxy_for("http://api.example.com/x") == "");
    }
    SUBCASE("HTTPS_PROXY before https_proxy; HTTP_PROXY is for http only") {
      setenv("https_proxy", "http://lower.corp:1", 1);
      CHECK(proxy_for("https://api.example.com/x") == "http://proxy.corp:3128");
      unsetenv("HTTPS_PROXY");
      CHECK(proxy_for("https://api.example.com/x") == "http://lower.corp:1");
      unsetenv("https_proxy");
      setenv("HTTP_PROXY", "http://upper.corp:2", 1);
      CHECK(proxy_for("https://api.example.com/x") == "");
      CHECK(proxy_for("http://api.example.com/x") == "http://upper.corp:2");
    }
  }

  TEST_CASE("Retry-After is read as seconds or as an HTTP date") {
    using promote::http::parse_retry_after;
    const auto now = std::chrono::sys_days(std::chrono::year(2026) / 11 / 23) + 18h;
    CHECK(parse_retry_after("1", now) == 1s);
    CHECK(parse_retry_after(" 120\t", now) == 120s);
    CHECK(parse_retry_after("0", now) == 0s);
    CHECK(parse_retry_after("Mon, 23 Nov 2026 18:00:30 GMT", now) == 30s);
    CHECK(parse_retry_after("Monday, 23-Nov-26 18:01:00 GMT", now) == 60s);
    CHECK(parse_retry_after("Mon Nov 23 18:00:05 2026", now) == 5s);
    CHECK(parse_retry_after("Mon, 23 Nov 2026 17:00:00 GMT", now) == 0s);
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("soon", now));
    CHECK_FALSE(parse_retry_after("-1", now));
    CHECK_FALSE(parse_retry_after("Mon, 32 Nov 2026 18:00:30 GMT", now));
  }
}
