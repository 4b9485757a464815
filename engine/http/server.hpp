#pragma once
// An HTTP/1.1 server for `promote serve`, on Boost.Beast and Asio, which stay behind this header
// (server.cpp is the only translation unit that includes them for serving): the rest of promote
// sees a request, a response and a handler. It is built for what a service exposed to a network
// must bear: bounded header and body sizes, a bounded number of connections, a deadline for
// every request, and a graceful stop.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/http/client.hpp"

namespace promote::http {

/// A request as the server read it.
struct Incoming {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as sent: "/api/v1/pipelines?limit=5"
  std::string path;    ///< the target before '?', percent-decoding left to the handler
  std::string query;   ///< the target after '?' ("" when none)
  Headers headers;     ///< as sent, in order
  std::string body;
  std::string peer;    ///< the client's address without its port ("127.0.0.1", "::1")
  /// The first header called `name` (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
};

/// A response to send. Content-Length, Date and Server are added by the server; a handler may
/// set any other header (Content-Type first of all).
struct Outgoing {
  unsigned status = 200;
  Headers headers;
  std::string body;
  /// For a stream (server-sent events): called once the headers are sent, on a thread of its
  /// own, with a `send` that writes one chunk of the body and returns false once the client is
  /// gone or the server stops; the response ends when it returns. Empty: `body` is the response.
  std::function<void(const std::function<bool(std::string_view)>& send)> stream = {};
};

/// What the server bears.
struct ServerLimits {
  std::size_t max_header = 16 * 1024;    ///< request line and headers; larger: 431
  std::size_t max_body = 1024 * 1024;    ///< larger: 413 (known from Content-Length or as read)
  std::size_t max_connections = 256;     ///< more at once: 503 and closed
  /// From a connection's first byte (or the end of the previous response) to the end of the
  /// request's body: a slower client gets 408 and is closed. Also the idle time of a kept-alive
  /// connection.
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};  ///< to write a response (not a stream)
  std::size_t handler_threads = 4;  ///< handlers run on a pool of this many threads
};

/// Answers a request. Runs on the server's handler pool, never on its network thread, so that it
/// may block (read a repository, run a promotion); it must be safe to call from several threads
/// at once. An exception it throws is a 500 with no detail (the message goes to the log).
using Handler = std::function<Outgoing(const Incoming&)>;

/// A listening HTTP/1.1 server (keep-alive, no TLS: a reverse proxy or the cluster terminates
/// TLS in front of it). Malformed requests get 400, unknown transfer encodings 501; every answer
/// to a client that broke a limit closes its connection.
class Server {
 public:
  /// Binds and listens on `address`: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every address); port
  /// 0 takes a free one. Fails (usage) on an address that does not parse, (input) when it cannot
  /// be bound ("cannot listen on 127.0.0.1:80: Permission denied").
  static Result<std::unique_ptr<Server>> bind(const std::string& address, Handler handler,
                                              ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The address bound, with the port the system chose: "127.0.0.1:43117".
  std::string address() const;
  unsigned short port() const;

  /// Serves until stop() (from another thread or a signal handler's thread). Returns once every
  /// connection is closed and every handler has returned.
  void run();

  /// Stops accepting at once; requests being handled get up to `grace` to finish and be sent;
  /// then every connection is closed (streams are told to end through their `send`). Safe to
  /// call from any thread, more than once.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  struct State;
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

}  // namespace promote::http
