#pragma once
// An HTTP(S) client as an Asio coroutine. Boost.Beast and OpenSSL stay behind this
// header: the rest of promote sees plain requests, responses and `Result` errors.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
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
};

/// A response of any status: a 404 is a response, not an error.
struct Response {
  unsigned status = 0;
  Headers headers;
  std::string body;
  /// The first header called `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
};

/// Sends `request` and reads the whole response (no redirects, no proxies, one connection
/// per request). HTTPS verifies the peer against the system CA store, with SNI and host
/// name verification. Fails (http) with "METHOD URL: what" (the URL without userinfo)
/// when the URL is malformed or not http(s), the name does not resolve, the connection or
/// TLS handshake fails, the deadline passes ("timed out after 2s"), the body exceeds
/// `max_body`, or the awaiting coroutine is cancelled ("cancelled").
boost::asio::awaitable<Result<Response>> request(Request request);

/// `url` without its userinfo (user:password@), for messages and records; the text as
/// given when it does not parse as a URL.
std::string redact_url(std::string_view url);

/// Percent-encodes everything but the RFC 3986 unreserved characters, so that the value
/// survives `application/x-www-form-urlencoded` decoding (where `+` means a space).
std::string form_encode(std::string_view value);

/// The value of an `Authorization: Basic` header for a user and a password.
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace promote::http
