#pragma once
// An HTTP(S) client as an Asio coroutine. Boost.Beast and OpenSSL stay behind this
// header: the rest of promote sees plain requests, responses and `Result` errors.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::http {

/// Header fields in the order given; names compare case-insensitively.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// One request. `url` is absolute, `http` or `https`; its userinfo is never sent.
struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;  ///< sent as given; Host, User-Agent and Content-Length are added
  std::string body;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  ///< for the whole exchange
  std::size_t max_body = 16 * 1024 * 1024;                       ///< larger bodies fail
  /// PEM file of the CA certificates that HTTPS servers are verified against, instead of
  /// the system store; "" takes $PROMOTE_CA_FILE, else $SSL_CERT_FILE, else the system store.
  std::string ca_file;
  /// PEM text of the CA certificates to verify the server against, instead of `ca_file`, the
  /// environment's CA file or the system store (a kubeconfig's certificate-authority-data).
  std::string ca_pem;
  /// PEM text of a client certificate (and its chain) and of its private key, for TLS client
  /// authentication; both or neither. Never part of a message.
  std::string client_certificate_pem;
  std::string client_key_pem;
  /// The DNS name sent as SNI and that the server's certificate is verified against, instead
  /// of the URL's host (a kubeconfig's tls-server-name); "" for the URL's host.
  std::string tls_server_name;
};

/// A response of any status: a 404 is a response, not an error.
struct Response {
  unsigned status = 0;
  Headers headers;
  std::string body;
  /// The first header called `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
};

/// Sends `request` and reads the whole response (no redirects, one connection per request).
/// HTTPS verifies the peer, with SNI and host name verification, against `Request::ca_pem`
/// when set, else the CA file of `Request::ca_file`, $PROMOTE_CA_FILE or $SSL_CERT_FILE (the
/// first set), else the system CA store; with `client_certificate_pem` it authenticates
/// itself with that certificate. A proxy from the environment (`proxy_for`) is used when one
/// applies: HTTPS goes through a CONNECT tunnel, HTTP is sent to the proxy in absolute form.
/// Fails (http) with "METHOD URL: what" (the URL without userinfo) when the URL is malformed
/// or not http(s), the name does not resolve, the connection, the proxy tunnel or the TLS
/// handshake fails (naming the certificate problem and the CA store used), the CA file, the
/// CA text or the client certificate cannot be loaded, the deadline passes ("timed out after
/// 2s"), the body exceeds `max_body`, or the awaiting coroutine is cancelled ("cancelled").
boost::asio::awaitable<Result<Response>> request(Request request);

/// `request` for synchronous callers: runs it on an io_context of its own and blocks the
/// calling thread until it completes; fails as `request` does.
Result<Response> request_blocking(Request request);

/// The proxy that a request to `url` goes through, from the environment, without its
/// userinfo; "" for a direct connection. https URLs take $HTTPS_PROXY (else $https_proxy),
/// http URLs $HTTP_PROXY (else $http_proxy). Direct are: loopback hosts (localhost,
/// 127.0.0.0/8, ::1) and hosts that $NO_PROXY (else $no_proxy) lists, a comma-separated
/// list of "*" (every host), host names (which match their subdomains too; a leading "."
/// or "*." is allowed), IP addresses, each optionally with ":PORT".
std::string proxy_for(std::string_view url);

/// A Retry-After value (RFC 9110 10.2.3), delay-seconds or an HTTP date, as the wait from
/// `now` (0 for a date in the past); nullopt when it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

/// Whether trying `request` again may help after it failed with `error`: false when the
/// server's certificate was not accepted (trying again meets the same certificate).
bool worth_retrying(const Error& error);

/// `url` without its userinfo (user:password@), for messages and records; the text as
/// given when it does not parse as a URL.
std::string redact_url(std::string_view url);

/// Percent-encodes everything but the RFC 3986 unreserved characters, so that the value
/// survives `application/x-www-form-urlencoded` decoding (where `+` means a space).
std::string form_encode(std::string_view value);

/// The value of an `Authorization: Basic` header for a user and a password.
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace promote::http
