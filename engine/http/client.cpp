#include "engine/http/client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cctype>
#include <optional>

namespace promote::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto k_use = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string format_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) {
    return std::to_string(timeout.count() / 1000) + "s";
  }
  return std::to_string(timeout.count()) + "ms";
}

std::string format_size(std::size_t bytes) {
  constexpr std::size_t k_mib = 1024 * 1024;
  if (bytes >= k_mib && bytes % k_mib == 0) {
    return std::to_string(bytes / k_mib) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

// Where a request goes, taken apart once.
struct Target {
  bool tls = false;
  std::string host;         // for resolving, SNI and verification (no brackets)
  std::string port;         // numeric
  std::string host_header;  // host[:port] as written in the URL
  std::string path;         // origin-form request target
  bool host_is_address = false;
};

Result<Target> parse_target(std::string_view text, const std::string& what) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return make_error(ErrorKind::http, what + ": not a valid URL");
  }
  const boost::urls::url_view& url = *parsed;
  Target target;
  if (url.scheme_id() == boost::urls::scheme::https) {
    target.tls = true;
  } else if (url.scheme_id() != boost::urls::scheme::http) {
    return make_error(ErrorKind::http, what + ": only http and https URLs are supported");
  }
  if (url.host_address().empty()) {
    return make_error(ErrorKind::http, what + ": the URL has no host");
  }
  target.host = url.host_address();
  target.host_is_address = url.host_type() == boost::urls::host_type::ipv4 ||
                           url.host_type() == boost::urls::host_type::ipv6;
  target.port =
      url.has_port() && !url.port().empty() ? std::string(url.port()) : (target.tls ? "443" : "80");
  target.host_header = url.encoded_host_and_port();
  target.path = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
  if (url.has_query()) {
    target.path += "?" + std::string(url.encoded_query());
  }
  return target;
}

// The client TLS settings, shared by all connections (an SSL_CTX is safe to share once
// configured); nullopt with the reason when the system CA store cannot be loaded.
struct TlsContext {
  ssl::context context{ssl::context::tls_client};
  std::string failure;
  TlsContext() {
    beast::error_code ec;
    context.set_default_verify_paths(ec);
    if (ec) {
      failure = "cannot load the system CA certificates: " + ec.message();
      return;
    }
    context.set_verify_mode(ssl::verify_peer, ec);
  }
};

TlsContext& tls_context() {
  static auto* context = new TlsContext();
  return *context;
}

std::string describe(const beast::error_code& ec, const Request& request, std::string_view step) {
  if (ec == beast::error::timeout) {
    return "timed out after " + format_timeout(request.timeout);
  }
  if (ec == asio::error::operation_aborted) {
    return "cancelled";
  }
  if (ec == bhttp::error::body_limit) {
    return "response body exceeds " + format_size(request.max_body);
  }
  return std::string(step) + ": " + ec.message();
}

bhttp::request<bhttp::string_body> make_message(const Request& request, const Target& target) {
  bhttp::request<bhttp::string_body> message;
  message.method_string(request.method);
  message.target(target.path);
  message.version(11);
  message.set(bhttp::field::host, target.host_header);
  message.set(bhttp::field::user_agent, "promote");
  message.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : request.headers) {
    message.insert(name, value);
  }
  message.body() = request.body;
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    message.prepare_payload();
  }
  return message;
}

Response to_response(bhttp::response<bhttp::string_body>&& message) {
  Response response;
  response.status = message.result_int();
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

// Writes the request and reads the response on a connected stream; "" or what failed.
template <class Stream>
asio::awaitable<std::string> exchange(Stream& stream, const Request& request,
                                      bhttp::request<bhttp::string_body>& message,
                                      bhttp::response_parser<bhttp::string_body>& parser,
                                      std::chrono::steady_clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [write_error, written] = co_await bhttp::async_write(stream, message, k_use);
  if (write_error) {
    co_return describe(write_error, request, "sending the request failed");
  }
  beast::flat_buffer buffer;
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [read_error, read] = co_await bhttp::async_read(stream, buffer, parser, k_use);
  if (read_error) {
    co_return describe(read_error, request, "reading the response failed");
  }
  co_return std::string();
}

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return {};
}

std::string redact_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) {
    // Not a URL, but it may still carry "user:password@": cut everything of the
    // authority up to its last '@' (a password may hold '@', '/' or '?').
    std::string text(url);
    const auto scheme = text.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    if (const auto at = text.rfind('@'); at != std::string::npos && at >= start) {
      text.erase(start, at + 1 - start);
    }
    return text;
  }
  boost::urls::url copy(*parsed);
  copy.remove_userinfo();
  return std::string(copy.buffer());
}

std::string form_encode(std::string_view value) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[byte >> 4];
      out += k_hex[byte & 0x0F];
    }
  }
  return out;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string plain = std::string(user) + ":" + std::string(password);
  std::string out = "Basic ";
  for (std::size_t i = 0; i < plain.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, plain.size() - i);
    unsigned chunk = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      chunk <<= 8;
      if (j < n) {
        chunk |= static_cast<unsigned char>(plain[i + j]);
      }
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? k_alphabet[(chunk >> (18 - 6 * j)) & 0x3F] : '=';
    }
  }
  return out;
}

asio::awaitable<Result<Response>> request(Request request) {
  const std::string what = request.method + " " + redact_url(request.url);
  auto fail = [&what](const std::string& message) {
    return make_error(ErrorKind::http, what + ": " + message);
  };
  auto target = parse_target(request.url, what);
  if (!target) {
    co_return target.error();
  }
  for (const auto& [name, value] : request.headers) {
    if (name.find_first_of("\r\n:") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      co_return fail("header '" + name + "' contains a line break or a colon in its name");
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  auto executor = co_await asio::this_coro::executor;

  std::vector<tcp::endpoint> endpoints;
  if (target->host_is_address) {
    endpoints.emplace_back(asio::ip::make_address(target->host),
                           static_cast<unsigned short>(std::stoul(target->port)));
  } else {
    tcp::resolver resolver(executor);
    auto [ec, results] = co_await resolver.async_resolve(target->host, target->port, k_use);
    if (ec) {
      co_return fail(ec == asio::error::operation_aborted
                         ? std::string("cancelled")
                         : "cannot resolve host '" + target->host + "': " + ec.message());
    }
    for (const auto& entry : results) {
      endpoints.push_back(entry.endpoint());
    }
  }

  beast::tcp_stream tcp_stream(executor);
  tcp_stream.expires_at(deadline);
  {
    auto [ec, endpoint] = co_await tcp_stream.async_connect(endpoints, k_use);
    if (ec) {
      co_return fail(describe(ec, request, "cannot connect to " + target->host_header));
    }
  }

  auto message = make_message(request, *target);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(request.max_body);
  std::string failure;
  if (!target->tls) {
    failure = co_await exchange(tcp_stream, request, message, parser, deadline);
  } else {
    TlsContext& tls = tls_context();
    if (!tls.failure.empty()) {
      co_return fail(tls.failure);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls.context);
    if (!target->host_is_address &&
        !SSL_set_tlsext_host_name(stream.native_handle(), target->host.c_str())) {
      co_return fail("cannot set the TLS server name");
    }
    stream.set_verify_callback(ssl::host_name_verification(target->host));
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, k_use);
    if (ec) {
      co_return fail(describe(ec, request, "TLS handshake failed"));
    }
    failure = co_await exchange(stream, request, message, parser, deadline);
  }
  if (!failure.empty()) {
    co_return fail(failure);
  }
  co_return to_response(parser.release());
}

}  // namespace promote::http
