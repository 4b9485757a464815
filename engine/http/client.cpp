#include "engine/http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
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
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "engine/util/secrets.hpp"

namespace promote::http {

/// How a refused server certificate is told; `worth_retrying` looks for it.
constexpr const char* k_certificate_refused = "TLS handshake failed: the certificate of ";

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

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// --- TLS ---------------------------------------------------------------------------------

// Which certificates a server is verified against: a CA file (and where it was named),
// or the system store when `file` is empty.
struct CaChoice {
  std::string file;
  std::string variable;  // "" when given in the request
  bool in_memory = false;  // Request::ca_pem
};

CaChoice choose_ca(const Request& request) {
  if (!request.ca_pem.empty()) {
    return {"", "", true};
  }
  if (!request.ca_file.empty()) {
    return {request.ca_file, ""};
  }
  for (const char* name : {"PROMOTE_CA_FILE", "SSL_CERT_FILE"}) {
    if (std::string file = env(name); !file.empty()) {
      return {std::move(file), name};
    }
  }
  return {};
}

std::string describe_ca(const CaChoice& ca) {
  if (ca.in_memory) {
    return "the CA certificates given with the request";
  }
  if (ca.file.empty()) {
    return "the system CA store";
  }
  return "the CA file " + ca.file + (ca.variable.empty() ? "" : " (from " + ca.variable + ")");
}

using ContextPtr = std::shared_ptr<ssl::context>;

// A client context verifying peers against `ca`, or why it cannot be made. Contexts are
// made once per CA file version (path, size, modification time) and shared: an SSL_CTX
// is safe to share once configured.
std::pair<ContextPtr, std::string> tls_context(const CaChoice& ca) {
  struct Cached {
    std::filesystem::file_time_type time;
    std::uintmax_t size = 0;
    ContextPtr context;
  };
  static std::mutex mutex;
  static auto* cache = new std::map<std::string, Cached>();
  static ContextPtr system;

  std::lock_guard lock(mutex);
  beast::error_code ec;
  if (ca.file.empty()) {
    if (!system) {
      auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
      context->set_default_verify_paths(ec);
      if (ec) {
        return {nullptr, "cannot load the system CA certificates: " + ec.message()};
      }
      context->set_verify_mode(ssl::verify_peer);
      system = std::move(context);
    }
    return {system, ""};
  }
  std::error_code fs_error;
  const auto time = std::filesystem::last_write_time(ca.file, fs_error);
  const auto size = fs_error ? 0 : std::filesystem::file_size(ca.file, fs_error);
  if (fs_error) {
    return {nullptr, "cannot read " + describe_ca(ca) + ": " + fs_error.message()};
  }
  if (auto found = cache->find(ca.file);
      found != cache->end() && found->second.time == time && found->second.size == size) {
    return {found->second.context, ""};
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->load_verify_file(ca.file, ec);
  if (ec) {
    return {nullptr, "cannot load a CA certificate from " + describe_ca(ca)};
  }
  context->set_verify_mode(ssl::verify_peer);
  (*cache)[ca.file] = Cached{time, size, context};
  return {context, ""};
}

// A context of its own for a request that brings its CA text or a client certificate (not
// cached: it holds a private key), or why it cannot be made. The messages never quote the
// PEM text.
std::pair<ContextPtr, std::string> own_tls_context(const Request& request, const CaChoice& ca) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  if (ca.in_memory) {
    context->add_certificate_authority(asio::buffer(request.ca_pem), ec);
    // add_certificate_authority takes the first certificate only: add the rest of a bundle.
    const std::string_view k_end = "-----END CERTIFICATE-----";
    for (auto end = request.ca_pem.find(k_end); !ec && end != std::string::npos;
         end = request.ca_pem.find(k_end, end + 1)) {
      const auto next = request.ca_pem.find("-----BEGIN CERTIFICATE-----", end);
      if (next == std::string::npos) {
        break;
      }
      context->add_certificate_authority(asio::buffer(request.ca_pem.substr(next)), ec);
    }
    if (ec) {
      return {nullptr, "cannot load a CA certificate from " + describe_ca(ca)};
    }
  } else if (ca.file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) {
      return {nullptr, "cannot load the system CA certificates: " + ec.message()};
    }
  } else {
    context->load_verify_file(ca.file, ec);
    if (ec) {
      return {nullptr, "cannot load a CA certificate from " + describe_ca(ca)};
    }
  }
  context->set_verify_mode(ssl::verify_peer);
  if (request.client_certificate_pem.empty() != request.client_key_pem.empty()) {
    return {nullptr, "a client certificate needs both the certificate and its key"};
  }
  if (!request.client_certificate_pem.empty()) {
    context->use_certificate_chain(asio::buffer(request.client_certificate_pem), ec);
    if (ec) {
      return {nullptr, "cannot load the client certificate: it is not a PEM certificate"};
    }
    context->use_private_key(asio::buffer(request.client_key_pem), ssl::context::pem, ec);
    if (ec) {
      return {nullptr, "cannot load the client key: it is not a PEM private key"};
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      return {nullptr, "the client key does not belong to the client certificate"};
    }
  }
  return {context, ""};
}

// --- proxies -----------------------------------------------------------------------------

// The proxy a request goes through.
struct Proxy {
  std::string variable;  // where it was named
  std::string host;      // no brackets
  std::string port;
  std::string host_and_port;  // for messages
  bool host_is_address = false;
  std::string authorization;  // Proxy-Authorization, from the proxy URL's userinfo
};

bool is_loopback(const std::string& host) {
  const std::string name = lower(host);
  if (name == "localhost" || (name.size() > 10 && name.ends_with(".localhost"))) {
    return true;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

// Whether NO_PROXY's `list` names `host` (lowercase, no brackets) on `port`.
bool bypassed(std::string_view list, const std::string& host, const std::string& port) {
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    std::string entry = lower(list.substr(start, end - start));
    start = end + 1;
    entry.erase(0, entry.find_first_not_of(" \t"));
    entry.erase(entry.find_last_not_of(" \t") + 1);
    if (entry == "*") {
      return true;
    }
    std::string entry_port;
    if (!entry.empty() && entry.front() == '[') {
      const auto close = entry.find(']');
      if (close == std::string::npos) {
        continue;
      }
      if (close + 1 < entry.size() && entry[close + 1] == ':') {
        entry_port = entry.substr(close + 2);
      }
      entry = entry.substr(1, close - 1);
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      entry_port = entry.substr(entry.find(':') + 1);
      entry.erase(entry.find(':'));
    }
    if (entry.starts_with("*.")) {
      entry.erase(0, 1);
    }
    if (!entry.empty() && entry.front() == '.') {
      entry.erase(0, 1);
    }
    if (entry.empty() || (!entry_port.empty() && entry_port != port)) {
      continue;
    }
    if (host == entry || (host.size() > entry.size() && host.ends_with("." + entry))) {
      return true;
    }
  }
  return false;
}

// The variable naming the proxy for a target and its value, or two empty strings.
std::pair<std::string, std::string> proxy_setting(const Target& target) {
  if (is_loopback(target.host)) {
    return {};
  }
  const auto names = target.tls ? std::array<const char*, 2>{"HTTPS_PROXY", "https_proxy"}
                                : std::array<const char*, 2>{"HTTP_PROXY", "http_proxy"};
  std::pair<std::string, std::string> found;
  for (const char* name : names) {
    if (std::string value = env(name); !value.empty()) {
      found = {name, std::move(value)};
      break;
    }
  }
  if (found.second.empty()) {
    return {};
  }
  std::string no_proxy = env("NO_PROXY");
  if (no_proxy.empty()) {
    no_proxy = env("no_proxy");
  }
  if (bypassed(no_proxy, lower(target.host), target.port)) {
    return {};
  }
  return found;
}

// The proxy for `target`: nullopt for a direct connection; an error when the proxy URL
// is not one we can use.
Result<std::optional<Proxy>> find_proxy(const Target& target, const std::string& what) {
  auto [variable, value] = proxy_setting(target);
  if (value.empty()) {
    return std::optional<Proxy>();
  }
  if (value.find("://") == std::string::npos) {
    value = "http://" + value;
  }
  // Named captures: clang 14 cannot capture a structured binding.
  auto fail = [&what, &value = value, &variable = variable](const std::string& why) {
    return make_error(ErrorKind::http, what + ": the proxy " + redact_url(value) + " (from " +
                                           variable + ") " + why);
  };
  auto parsed = boost::urls::parse_uri(value);
  if (!parsed || parsed->host_address().empty()) {
    return fail("is not a valid URL");
  }
  if (parsed->scheme_id() != boost::urls::scheme::http) {
    return fail("is not supported: only http:// proxies are");
  }
  Proxy proxy;
  proxy.variable = variable;
  proxy.host = parsed->host_address();
  proxy.host_is_address = parsed->host_type() == boost::urls::host_type::ipv4 ||
                          parsed->host_type() == boost::urls::host_type::ipv6;
  proxy.port = parsed->has_port() && !parsed->port().empty() ? std::string(parsed->port()) : "80";
  proxy.host_and_port = std::string(parsed->encoded_host_and_port());
  if (!parsed->has_port()) {
    proxy.host_and_port += ":80";
  }
  if (parsed->has_userinfo()) {
    proxy.authorization = basic_authorization(parsed->user(), parsed->password());
  }
  return std::optional<Proxy>(std::move(proxy));
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

bhttp::request<bhttp::string_body> make_message(const Request& request, const Target& target,
                                                const std::optional<Proxy>& proxy) {
  bhttp::request<bhttp::string_body> message;
  message.method_string(request.method);
  // Through a proxy, plain HTTP names the whole URL (absolute form, RFC 9112 3.2.2).
  message.target(proxy && !target.tls ? "http://" + target.host_header + target.path : target.path);
  message.version(11);
  message.set(bhttp::field::host, target.host_header);
  message.set(bhttp::field::user_agent, "promote");
  message.set(bhttp::field::connection, "close");
  if (proxy && !target.tls && !proxy->authorization.empty()) {
    message.set(bhttp::field::proxy_authorization, proxy->authorization);
  }
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

// Asks the proxy on `stream` for a tunnel to the target (CONNECT, RFC 9110 9.3.6); "" when
// it is open, otherwise what failed.
asio::awaitable<std::string> open_tunnel(beast::tcp_stream& stream, const Request& request,
                                         const Target& target, const Proxy& proxy,
                                         const std::string& hop,
                                         std::chrono::steady_clock::time_point deadline) {
  const std::string authority =
      (target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host) + ":" +
      target.port;
  bhttp::request<bhttp::empty_body> connect;
  connect.method(bhttp::verb::connect);
  connect.target(authority);
  connect.version(11);
  connect.set(bhttp::field::host, authority);
  connect.set(bhttp::field::user_agent, "promote");
  if (!proxy.authorization.empty()) {
    connect.set(bhttp::field::proxy_authorization, proxy.authorization);
  }
  stream.expires_at(deadline);
  auto [write_error, written] = co_await bhttp::async_write(stream, connect, k_use);
  if (write_error) {
    co_return describe(write_error, request, "sending CONNECT to " + hop + " failed");
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.skip(true);  // a CONNECT response has no body: the tunnel follows the head
  stream.expires_at(deadline);
  auto [read_error, read] = co_await bhttp::async_read_header(stream, buffer, parser, k_use);
  if (read_error) {
    co_return describe(read_error, request, "reading the CONNECT response of " + hop + " failed");
  }
  const auto& response = parser.get();
  if (response.result_int() / 100 != 2) {
    co_return hop + " refused the tunnel to " + authority + ": " +
        std::to_string(response.result_int()) + " " + std::string(response.reason());
  }
  co_return std::string();
}

// --- Retry-After -------------------------------------------------------------------------

std::optional<unsigned> month_number(std::string_view name) {
  static constexpr std::array<std::string_view, 12> k_months = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < k_months.size(); ++i) {
    if (k_months[i] == name) {
      return i + 1;
    }
  }
  return std::nullopt;
}

using TimePoint = std::chrono::system_clock::time_point;

std::optional<TimePoint> make_time(int year, std::string_view month_name, int day, int hour,
                                   int minute, int second) {
  namespace chr = std::chrono;
  const auto month = month_number(month_name);
  if (!month || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  const chr::year_month_day date{chr::year(year), chr::month(*month),
                                 chr::day(static_cast<unsigned>(std::max(day, 0)))};
  if (day < 1 || !date.ok()) {
    return std::nullopt;
  }
  return chr::sys_days(date) + chr::hours(hour) + chr::minutes(minute) + chr::seconds(second);
}

// An HTTP date (RFC 9110 5.6.7): IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") or the
// obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
// ("Sun Nov  6 08:49:37 1994") forms.
std::optional<TimePoint> parse_http_date(const std::string& text) {
  char weekday[16] = {};
  char month[4] = {};
  char zone[4] = {};
  int day = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int used = -1;
  const int size = static_cast<int>(text.size());
  if (std::sscanf(text.c_str(), "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", weekday,
                  &day, month, &year, &hour, &minute, &second, zone, &used) == 8 &&
      used == size && std::string_view(zone) == "GMT") {
    return make_time(year, month, day, hour, minute, second);
  }
  used = -1;
  if (std::sscanf(text.c_str(), "%15[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d %3[A-Z]%n", weekday,
                  &day, month, &year, &hour, &minute, &second, zone, &used) == 8 &&
      used == size && std::string_view(zone) == "GMT") {
    return make_time(year < 70 ? 2000 + year : 1900 + year, month, day, hour, minute, second);
  }
  used = -1;
  if (std::sscanf(text.c_str(), "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", weekday, month, &day,
                  &hour, &minute, &second, &year, &used) == 7 &&
      used == size) {
    return make_time(year, month, day, hour, minute, second);
  }
  return std::nullopt;
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

bool worth_retrying(const Error& error) {
  return error.message.find(k_certificate_refused) == std::string::npos;
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

std::string form_encode(std::string_view value) { return util::percent_encode(value); }

std::string basic_authorization(std::string_view user, std::string_view password) {
  return "Basic " + util::base64(std::string(user) + ":" + std::string(password));
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
  auto proxy = find_proxy(*target, what);
  if (!proxy) {
    co_return proxy.error();
  }
  const auto deadline = std::chrono::steady_clock::now() + request.timeout;
  auto executor = co_await asio::this_coro::executor;

  // The first hop: the proxy, or the server itself.
  const std::string& host = *proxy ? (*proxy)->host : target->host;
  const std::string& port = *proxy ? (*proxy)->port : target->port;
  const bool host_is_address = *proxy ? (*proxy)->host_is_address : target->host_is_address;
  const std::string hop =
      *proxy ? "the proxy " + (*proxy)->host_and_port + " (from " + (*proxy)->variable + ")"
             : target->host_header;
  std::vector<tcp::endpoint> endpoints;
  if (host_is_address) {
    endpoints.emplace_back(asio::ip::make_address(host),
                           static_cast<unsigned short>(std::stoul(port)));
  } else {
    tcp::resolver resolver(executor);
    auto [ec, results] = co_await resolver.async_resolve(host, port, k_use);
    if (ec) {
      co_return fail(ec == asio::error::operation_aborted
                         ? std::string("cancelled")
                         : "cannot resolve host '" + host + "'" +
                               (*proxy ? " of the proxy (from " + (*proxy)->variable + ")" : "") +
                               ": " + ec.message());
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
      co_return fail(describe(ec, request, "cannot connect to " + hop));
    }
  }

  auto message = make_message(request, *target, *proxy);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(request.max_body);
  std::string failure;
  if (!target->tls) {
    failure = co_await exchange(tcp_stream, request, message, parser, deadline);
  } else {
    if (*proxy) {
      failure = co_await open_tunnel(tcp_stream, request, *target, **proxy, hop, deadline);
      if (!failure.empty()) {
        co_return fail(failure);
      }
    }
    const CaChoice ca = choose_ca(request);
    const bool own_context =
        ca.in_memory || !request.client_certificate_pem.empty() || !request.client_key_pem.empty();
    auto [context, context_failure] = own_context ? own_tls_context(request, ca) : tls_context(ca);
    if (!context) {
      co_return fail(context_failure);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), *context);
    SSL* ssl_handle = stream.native_handle();
    const bool named = !request.tls_server_name.empty();
    const bool by_address = !named && target->host_is_address;
    const std::string& server_name = named ? request.tls_server_name : target->host;
    if (!by_address && !SSL_set_tlsext_host_name(ssl_handle, server_name.c_str())) {
      co_return fail("cannot set the TLS server name");
    }
    // OpenSSL checks the name during verification and reports a mismatch as such.
    const int name_set =
        by_address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), server_name.c_str())
                   : SSL_set1_host(ssl_handle, server_name.c_str());
    if (name_set != 1) {
      co_return fail("cannot set the name to verify the TLS certificate against");
    }
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, k_use);
    if (ec) {
      const long verified = SSL_get_verify_result(ssl_handle);
      if (verified != X509_V_OK && ec != beast::error::timeout &&
          ec != asio::error::operation_aborted) {
        co_return fail(std::string(k_certificate_refused) + target->host_header +
                       (named ? " (as " + server_name + ")" : "") +
                       " was not accepted: " + X509_verify_cert_error_string(verified) +
                       " (verified against " + describe_ca(ca) + ")");
      }
      co_return fail(describe(ec, request, "TLS handshake failed"));
    }
    failure = co_await exchange(stream, request, message, parser, deadline);
  }
  if (!failure.empty()) {
    co_return fail(failure);
  }
  co_return to_response(parser.release());
}

Result<Response> request_blocking(Request request) {
  asio::io_context io;
  std::optional<Result<Response>> out;
  asio::co_spawn(io, http::request(std::move(request)),
                 [&out](std::exception_ptr error, Result<Response> result) {
                   if (error) {
                     try {
                       std::rethrow_exception(error);
                     } catch (const std::exception& e) {
                       out.emplace(make_error(ErrorKind::internal, e.what()));
                     } catch (...) {
                       out.emplace(make_error(ErrorKind::internal, "unknown exception"));
                     }
                     return;
                   }
                   out.emplace(std::move(result));
                 });
  io.run();
  if (!out) {
    return make_error(ErrorKind::internal, "the HTTP request did not complete");
  }
  return std::move(*out);
}

std::string proxy_for(std::string_view url) {
  auto target = parse_target(url, "");
  if (!target) {
    return {};
  }
  auto [variable, value] = proxy_setting(*target);
  if (value.empty()) {
    return {};
  }
  return redact_url(value.find("://") == std::string::npos ? "http://" + value : value);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view text,
                                                      std::chrono::system_clock::time_point now) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  if (text.empty()) {
    return std::nullopt;
  }
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec == std::errc::result_out_of_range || seconds > 1'000'000'000LL) {
      seconds = 1'000'000'000LL;
    }
    return std::chrono::seconds(seconds);
  }
  const auto at = parse_http_date(std::string(text));
  if (!at) {
    return std::nullopt;
  }
  return std::max(std::chrono::seconds(0), std::chrono::ceil<std::chrono::seconds>(*at - now));
}

}  // namespace promote::http
