#include "engine/http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "engine/util/log.hpp"

namespace promote::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto k_use = asio::as_tuple(asio::use_awaitable);

/// How long a connection being closed may still send what we will not read (so that the kernel
/// does not answer it with a reset, which can destroy the response before the client reads it).
constexpr std::chrono::milliseconds k_linger{1000};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// --- addresses ---------------------------------------------------------------------------

struct ListenAddress {
  asio::ip::address address;
  unsigned short port = 0;
  bool every = false;  // ":PORT"
};

// "HOST:PORT", "[IPV6]:PORT" or ":PORT" (HOST an IPv4 address or localhost); nullopt otherwise.
std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  const bool bracketed = text.starts_with('[');
  if (bracketed) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  ListenAddress out;
  const auto [end, failure] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || failure != std::errc() || end != port.data() + port.size()) {
    return std::nullopt;  // from_chars fails on a number past 65535 too
  }
  if (host.empty() && !bracketed) {
    out.every = true;
    out.address = asio::ip::address_v6::any();
    return out;
  }
  if (!bracketed && host == "localhost") {
    out.address = asio::ip::address_v4::loopback();
    return out;
  }
  boost::system::error_code ec;
  out.address = asio::ip::make_address(std::string(host), ec);
  if (ec || out.address.is_v6() != bracketed) {
    return std::nullopt;
  }
  return out;
}

// The client's address without its port, an IPv4 client of a dual-stack socket as IPv4.
std::string peer_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) {
    return {};
  }
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

// --- messages ----------------------------------------------------------------------------

using Response = bhttp::response<bhttp::string_body>;

// Now as an IMF-fixdate (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date() {
  static constexpr std::array<const char*, 7> k_days = {"Sun", "Mon", "Tue", "Wed",
                                                        "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> k_months = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", k_days[utc.tm_wday],
                utc.tm_mday, k_months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                utc.tm_sec);
  return text;
}

// Adds what the server adds to every response.
void stamp(Response& response, bool keep_alive) {
  response.set(bhttp::field::date, http_date());
  response.set(bhttp::field::server, "promote");
  response.keep_alive(keep_alive);
}

// The server's own answer: "413 Payload Too Large\n" as plain text.
Response plain(unsigned status, bool keep_alive) {
  Response response(static_cast<bhttp::status>(status), 11);
  response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  response.body() = std::to_string(status) + " " +
                    std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(status))) + "\n";
  stamp(response, keep_alive);
  response.prepare_payload();
  return response;
}

bool valid_field(std::string_view name, std::string_view value) {
  const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  return name_ok && value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The head of a handler's response, or "" and why it cannot be sent.
std::pair<Response, std::string> head_of(const Outgoing& out, bool keep_alive) {
  Response response;
  if (out.status < 200 || out.status > 599) {
    return {response, "the status " + std::to_string(out.status) + " is not a final status"};
  }
  response.result(out.status);
  response.version(11);
  const auto ours = [](std::string_view name) {
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
           iequals(name, "Connection") || iequals(name, "Date") || iequals(name, "Server");
  };
  for (const auto& [name, value] : out.headers) {
    if (!valid_field(name, value)) {
      return {response, "the header '" + name + "' is not a valid header field"};
    }
    if (!ours(name)) {
      response.insert(name, value);
    }
  }
  stamp(response, keep_alive);
  return {std::move(response), ""};
}

// Whether the request's transfer codings are the one the server reads: none, or chunked alone.
bool transfer_coding_supported(const bhttp::request<bhttp::string_body>& message) {
  const auto fields = message.count(bhttp::field::transfer_encoding);
  return fields == 0 ||
         (fields == 1 && iequals(message[bhttp::field::transfer_encoding], "chunked"));
}

Incoming to_incoming(bhttp::request<bhttp::string_body>&& message, std::string peer) {
  Incoming incoming;
  incoming.method = std::string(message.method_string());
  incoming.target = std::string(message.target());
  const auto question = incoming.target.find('?');
  incoming.path = incoming.target.substr(0, question);
  incoming.query = question == std::string::npos ? "" : incoming.target.substr(question + 1);
  for (const auto& field : message) {
    incoming.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  incoming.body = std::move(message.body());
  incoming.peer = std::move(peer);
  return incoming;
}

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// Runs the handler (on the pool); what it throws is logged and answered with a bare 500.
asio::awaitable<Outgoing> call(const Handler& handler, const Incoming& incoming) {
  std::exception_ptr failure;
  try {
    co_return handler(incoming);
  } catch (...) {
    failure = std::current_exception();
  }
  util::notice("the handler of " + incoming.method + " " + incoming.path +
               " failed: " + describe(failure));
  const Response generic = plain(500, true);
  co_return Outgoing{500, {{"Content-Type", "text/plain; charset=utf-8"}}, generic.body(), {}};
}

class Connection;

// --- the server --------------------------------------------------------------------------

// Everything of a server; members other than stop_requested are the network thread's.
struct Core {
  Core(Handler handler_in, ServerLimits limits_in)
      : handler(std::move(handler_in)),
        limits(limits_in),
        pool(std::max<std::size_t>(1, limits_in.handler_threads)) {}

  Handler handler;
  ServerLimits limits;
  asio::io_context io{1};
  asio::thread_pool pool;
  tcp::acceptor acceptor{io};
  asio::steady_timer grace_timer{io};
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  std::set<std::shared_ptr<Connection>> connections;
  std::size_t counted = 0;  // the connections that count against max_connections
  std::string address;
  unsigned short port = 0;

  asio::awaitable<void> accept();
  void start(std::shared_ptr<Connection> connection);
  void begin_stop(std::chrono::milliseconds grace);
};

// One client connection: reads requests, has the pool answer them, writes the answers.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Core& core, tcp::socket socket, bool counted)
      : m_core(core),
        m_socket(std::move(socket)),
        m_deadline(core.io),
        m_stream_signal(core.io),
        m_counted(counted),
        m_peer(peer_of(m_socket)) {}
  ~Connection() {
    if (m_stream_thread.joinable()) {
      m_stream_thread.detach();  // only when a coroutine failed: never leave a terminate behind
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool counted() const { return m_counted; }

  /// Serves requests until the client leaves, breaks a limit, or the server stops; answers 503
  /// at once on a connection past max_connections.
  asio::awaitable<void> serve();

  /// The server stops: an idle connection closes now, a stream is told to end, the rest
  /// finish their request.
  void on_stop() {
    m_stream_ended = true;
    if (m_phase == Phase::closing ||
        (m_phase == Phase::reading &&
         (!m_parser || (!m_parser->got_some() && m_buffer.size() == 0)))) {
      close();
    }
  }

  /// Closes the socket now; what is pending on it fails.
  void close() {
    if (m_closed) {
      return;
    }
    m_closed = true;
    m_stream_ended = true;
    boost::system::error_code ignored;
    m_socket.shutdown(tcp::socket::shutdown_both, ignored);
    m_socket.close(ignored);
  }

 private:
  enum class Phase { reading, handling, writing, streaming, closing };

  // Cancels what is pending on the socket once `timeout` passes, unless disarmed before.
  void arm(std::chrono::milliseconds timeout) {
    m_timed_out = false;
    const auto generation = ++m_generation;
    m_deadline.expires_after(timeout);
    m_deadline.async_wait([weak = weak_from_this(), generation](boost::system::error_code ec) {
      const auto self = weak.lock();
      if (ec || !self || self->m_generation != generation) {
        return;
      }
      self->m_timed_out = true;
      boost::system::error_code ignored;
      self->m_socket.cancel(ignored);
    });
  }
  void disarm() {
    ++m_generation;
    m_deadline.cancel();
  }

  asio::awaitable<bool> write(Response& response, bool head_only) {
    arm(m_core.limits.write_timeout);
    bhttp::response_serializer<bhttp::string_body> serializer(response);
    auto [ec, written] = head_only ? co_await bhttp::async_write_header(m_socket, serializer, k_use)
                                   : co_await bhttp::async_write(m_socket, serializer, k_use);
    disarm();
    if (ec) {
      close();
    }
    co_return !ec;
  }

  // Closes after a last answer: stops sending, reads what the client still sends for a
  // moment, then closes.
  asio::awaitable<void> linger() {
    m_phase = Phase::closing;
    if (m_closed || m_core.stopping) {
      close();
      co_return;
    }
    boost::system::error_code ignored;
    m_socket.shutdown(tcp::socket::shutdown_send, ignored);
    arm(std::min(k_linger, m_core.limits.read_timeout));
    std::array<char, 4096> scrap;
    for (;;) {
      auto [ec, read] = co_await m_socket.async_read_some(asio::buffer(scrap), k_use);
      if (ec) {
        break;
      }
    }
    disarm();
    close();
  }

  // The status that answers a request that could not be read, 0 for none (the client left,
  // or never began a request).
  unsigned read_failure_status(boost::system::error_code ec) const {
    if (m_closed) {
      return 0;
    }
    if (m_timed_out) {
      return m_parser->got_some() || m_buffer.size() > 0 ? 408 : 0;
    }
    if (ec == bhttp::error::header_limit) {
      return 431;
    }
    if (ec == bhttp::error::body_limit) {
      return 413;
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      return 0;
    }
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() ? 400 : 0;
  }

  // Answers `status` and closes.
  asio::awaitable<void> refuse(unsigned status) {
    auto response = plain(status, false);
    const bool written = co_await write(response, false);
    std::string_view method;
    std::string_view target;
    if (m_parser && !m_parser->get().target().empty()) {  // its request line was read
      method = m_parser->get().method_string();
      target = m_parser->get().target();
    }
    log_access(method, target.substr(0, target.find('?')), status, m_began,
               written ? response.body().size() : 0);
    if (written) {
      co_await linger();
    }
  }

  // The access log's line for one answer (never its query): util::access, when it is logged.
  void log_access(std::string_view method, std::string_view path, unsigned status,
                  std::chrono::steady_clock::time_point since, std::uint64_t bytes) const {
    if (util::access_logged()) {
      util::access({.method = method,
                    .path = path,
                    .status = status,
                    .duration = std::chrono::steady_clock::now() - since,
                    .peer = m_peer,
                    .bytes = bytes});
    }
  }

  asio::awaitable<std::optional<unsigned>> read_request();
  asio::awaitable<void> answer_stream(Response& response, Outgoing& out, const std::string& what,
                                      bool head, bool http10);
  bool send_chunk(std::string_view chunk);
  void write_chunk(std::shared_ptr<std::string> data, std::shared_ptr<std::promise<bool>> done);
  void watch_peer();

  Core& m_core;
  tcp::socket m_socket;
  asio::steady_timer m_deadline;
  std::uint64_t m_generation = 0;
  bool m_timed_out = false;
  bool m_closed = false;
  beast::flat_buffer m_buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> m_parser;
  Phase m_phase = Phase::reading;
  // When the request being read (for a refusal) or answered began.
  std::chrono::steady_clock::time_point m_began = std::chrono::steady_clock::now();
  // A stream: its thread, whether send must now return false, and how its end is told.
  std::thread m_stream_thread;
  std::atomic<bool> m_stream_ended{false};
  std::mutex m_send_mutex;
  asio::steady_timer m_stream_signal;
  bool m_stream_done = false;
  bool m_stream_failed = false;
  bool m_stream_raw = false;  // an HTTP/1.0 client: no chunks, the end of the body is the close
  std::uint64_t m_stream_bytes = 0;  // of the body written so far
  std::array<char, 512> m_scrap{};
  const bool m_counted;
  const std::string m_peer;
};

// Reads the next request into m_parser: nullopt once it is whole, else the status that refuses
// it, 0 for none (the client left, or never began a request).
asio::awaitable<std::optional<unsigned>> Connection::read_request() {
  arm(m_core.limits.read_timeout);
  auto [ec, read] = co_await bhttp::async_read_header(m_socket, m_buffer, *m_parser, k_use);
  std::optional<unsigned> refusal;
  const auto& message = m_parser->get();
  if (!ec && !transfer_coding_supported(message)) {
    refusal = 501;
  } else if (!ec && message.version() == 11 && message.count(bhttp::field::host) != 1) {
    refusal = 400;
  } else if (!ec && !m_parser->is_done()) {
    if (message.version() == 11 && iequals(message[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
      std::tie(ec, read) = co_await asio::async_write(m_socket, asio::buffer(k_continue), k_use);
    }
    if (!ec) {
      std::tie(ec, read) = co_await bhttp::async_read(m_socket, m_buffer, *m_parser, k_use);
    }
  }
  disarm();
  if (ec) {
    refusal = read_failure_status(ec);
  }
  co_return refusal;
}

asio::awaitable<void> Connection::serve() {
  const ServerLimits& limits = m_core.limits;
  if (!m_counted) {
    co_await refuse(503);
    co_return;
  }
  for (;;) {
    if (m_closed || m_core.stopping) {
      close();  // stopped while the previous response was being written
      co_return;
    }
    m_phase = Phase::reading;
    m_began = std::chrono::steady_clock::now();
    m_parser.emplace();
    m_parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(limits.max_header, std::numeric_limits<std::uint32_t>::max())));
    m_parser->body_limit(static_cast<std::uint64_t>(limits.max_body));
    if (const auto refusal = co_await read_request()) {
      if (*refusal == 0) {
        close();
      } else {
        co_await refuse(*refusal);
      }
      co_return;
    }

    const bool keep_alive = m_parser->get().keep_alive();
    const bool head = m_parser->get().method() == bhttp::verb::head;
    const bool http10 = m_parser->get().version() == 10;
    const Incoming incoming = to_incoming(m_parser->release(), m_peer);
    m_began = std::chrono::steady_clock::now();
    m_phase = Phase::handling;
    Outgoing out =
        co_await asio::co_spawn(m_core.pool, call(m_core.handler, incoming), asio::use_awaitable);
    if (m_closed) {
      log_access(incoming.method, incoming.path, out.status, m_began, 0);
      co_return;
    }
    m_phase = Phase::writing;
    const bool keep = keep_alive && !m_core.stopping && !out.stream;
    const std::string what = incoming.method + " " + incoming.path;
    auto [response, invalid] = head_of(out, keep);
    if (!invalid.empty()) {
      util::notice("the handler of " + what + " failed: " + invalid);
      response = plain(500, keep);
    } else if (out.stream) {
      co_await answer_stream(response, out, what, head, http10);
      log_access(incoming.method, incoming.path, response.result_int(), m_began, m_stream_bytes);
      co_return;
    } else if (out.status == 204 || out.status == 304) {
      response.body().clear();  // they have neither a body nor a Content-Length
    } else {
      response.body() = std::move(out.body);
      response.prepare_payload();
    }
    const bool written = co_await write(response, head);
    log_access(incoming.method, incoming.path, response.result_int(), m_began,
               written && !head ? response.body().size() : 0);
    if (!written) {
      co_return;
    }
    if (!keep) {
      co_await linger();
      co_return;
    }
  }
}

// A stream: the head, then the callback on a thread of its own writing chunks through
// send_chunk, then the last chunk; the connection closes after it.
asio::awaitable<void> Connection::answer_stream(Response& response, Outgoing& out,
                                                const std::string& what, bool head, bool http10) {
  m_stream_raw = http10;
  if (!http10) {
    response.chunked(true);
  }
  if (!co_await write(response, true) || head) {
    co_await linger();
    co_return;
  }
  m_phase = Phase::streaming;
  if (m_core.stopping) {
    m_stream_ended = true;
  }
  m_stream_signal.expires_at(std::chrono::steady_clock::time_point::max());
  watch_peer();
  m_stream_thread = std::thread([self = shared_from_this(), callback = std::move(out.stream),
                                 &io = m_core.io, what]() mutable {
    bool failed = false;
    try {
      const std::function<bool(std::string_view)> send = [&self](std::string_view chunk) {
        return self->send_chunk(chunk);
      };
      callback(send);
    } catch (...) {
      failed = true;
      util::notice("the stream of " + what + " failed: " + describe(std::current_exception()));
    }
    asio::post(io, [self = std::move(self), failed] {
      self->m_stream_failed = failed;
      self->m_stream_done = true;
      self->m_stream_signal.cancel();
    });
  });
  while (!m_stream_done) {
    co_await m_stream_signal.async_wait(k_use);
  }
  m_stream_thread.join();
  m_stream_ended = true;
  boost::system::error_code ignored;
  m_socket.cancel(ignored);  // the watch on the peer
  if (!m_closed && !m_stream_failed && !m_stream_raw) {
    arm(m_core.limits.write_timeout);
    co_await asio::async_write(m_socket, bhttp::make_chunk_last(), k_use);
    disarm();
  }
  if (m_stream_failed) {
    close();  // the client sees a body that did not end
  }
  co_await linger();
}

// On the stream's thread: has the network thread write one chunk and waits for it.
bool Connection::send_chunk(std::string_view chunk) {
  std::lock_guard lock(m_send_mutex);
  if (m_stream_ended) {
    return false;
  }
  if (chunk.empty()) {
    return true;  // an empty chunk would end the body
  }
  auto done = std::make_shared<std::promise<bool>>();
  auto written = done->get_future();
  asio::post(m_core.io, [self = shared_from_this(), data = std::make_shared<std::string>(chunk),
                         done]() mutable { self->write_chunk(std::move(data), std::move(done)); });
  try {
    return written.get();
  } catch (const std::future_error&) {
    return false;
  }
}

void Connection::write_chunk(std::shared_ptr<std::string> data,
                             std::shared_ptr<std::promise<bool>> done) {
  if (m_closed || m_stream_ended) {
    done->set_value(false);
    return;
  }
  arm(m_core.limits.write_timeout);
  auto finish = [self = shared_from_this(), data, done](boost::system::error_code ec, std::size_t) {
    self->disarm();
    if (ec) {
      self->m_stream_ended = true;
    } else {
      self->m_stream_bytes += data->size();
    }
    done->set_value(!ec);
  };
  if (m_stream_raw) {
    asio::async_write(m_socket, asio::buffer(*data), std::move(finish));
  } else {
    asio::async_write(m_socket, bhttp::make_chunk(asio::buffer(*data)), std::move(finish));
  }
}

// While a stream runs the client has nothing to send: the end of its input (or an error)
// means it is gone.
void Connection::watch_peer() {
  m_socket.async_read_some(asio::buffer(m_scrap),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (ec) {
                               self->m_stream_ended = true;
                               return;
                             }
                             self->watch_peer();
                           });
}

asio::awaitable<void> Core::accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(k_use);
    if (stopping) {
      co_return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      // Out of file descriptors, say: pause rather than spin, then try again.
      util::notice("accepting a connection on " + address + " failed: " + ec.message());
      asio::steady_timer pause(io, std::chrono::milliseconds(100));
      co_await pause.async_wait(k_use);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    start(std::make_shared<Connection>(*this, std::move(socket), counted < limits.max_connections));
  }
}

void Core::start(std::shared_ptr<Connection> connection) {
  connections.insert(connection);
  if (connection->counted()) {
    ++counted;
  }
  asio::co_spawn(io, connection->serve(), [this, connection](std::exception_ptr error) {
    if (error) {
      util::notice("a connection to " + address + " failed: " + describe(error));
    }
    connection->close();
    if (connection->counted()) {
      --counted;
    }
    connections.erase(connection);
    if (stopping && connections.empty()) {
      grace_timer.cancel();
    }
  });
}

void Core::begin_stop(std::chrono::milliseconds grace) {
  if (stopping) {
    return;
  }
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (const auto& connection : std::vector(connections.begin(), connections.end())) {
    connection->on_stop();
  }
  grace_timer.expires_after(grace);
  grace_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) {
      return;
    }
    for (const auto& connection : std::vector(connections.begin(), connections.end())) {
      connection->close();
    }
  });
  if (connections.empty()) {
    grace_timer.cancel();
  }
}

}  // namespace

std::string Incoming::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return {};
}

struct Server::State {
  State(Handler handler, ServerLimits limits) : core(std::move(handler), limits) {}
  Core core;
};

Server::Server(std::unique_ptr<State> state) : m_state(std::move(state)) {}

Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::bind(const std::string& address, Handler handler,
                                             ServerLimits limits) {
  const auto listen = parse_listen_address(address);
  if (!listen) {
    return make_error(ErrorKind::usage, "'" + address +
                                            "' is not an address to listen on: give HOST:PORT, "
                                            "[IPV6]:PORT or :PORT");
  }
  auto state = std::make_unique<State>(std::move(handler), limits);
  tcp::acceptor& acceptor = state->core.acceptor;
  boost::system::error_code ec;
  auto open = [&](const tcp::endpoint& endpoint, bool dual_stack) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    if (!acceptor.open(endpoint.protocol(), ec) &&
        !acceptor.set_option(tcp::acceptor::reuse_address(true), ec) &&
        (!dual_stack || !acceptor.set_option(asio::ip::v6_only(false), ec)) &&
        !acceptor.bind(endpoint, ec)) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
  };
  open(tcp::endpoint(listen->address, listen->port), listen->every);
  if (ec && listen->every &&
      (ec == boost::system::errc::address_family_not_supported ||
       ec == boost::system::errc::address_not_available ||
       ec == boost::system::errc::invalid_argument)) {
    ec.clear();  // no IPv6 here: every IPv4 address then
    open(tcp::endpoint(asio::ip::address_v4::any(), listen->port), false);
  }
  if (ec) {
    return make_error(ErrorKind::input, "cannot listen on " + address + ": " + ec.message());
  }
  const auto bound = acceptor.local_endpoint();
  const std::string host = bound.address().to_string();
  state->core.port = bound.port();
  state->core.address =
      (bound.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(bound.port());
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

std::string Server::address() const {
  return m_state->core.address;
}

unsigned short Server::port() const {
  return m_state->core.port;
}

void Server::run() {
  Core& core = m_state->core;
  asio::co_spawn(core.io, core.accept(), [&core](std::exception_ptr error) {
    if (error) {
      util::notice("the server on " + core.address + " stopped accepting: " + describe(error));
    }
  });
  core.io.run();
}

void Server::stop(std::chrono::milliseconds grace) {
  Core& core = m_state->core;
  if (core.stop_requested.exchange(true)) {
    return;
  }
  asio::post(core.io, [&core, grace] { core.begin_stop(grace); });
}

}  // namespace promote::http
