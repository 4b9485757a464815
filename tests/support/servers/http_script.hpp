#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1 (a free port), on a thread of its own, for tests
// of clients in this process or in a child process: it reads each request whole (head
// and Content-Length body), answers one fixed reply and closes the connection. Stops,
// and joins its thread, when destroyed.

#include <memory>
#include <string>

namespace promote::test {

class HttpScript {
 public:
  /// `reply`: the raw response bytes; empty means read the request, then never answer.
  explicit HttpScript(std::string reply);
  ~HttpScript();
  HttpScript(const HttpScript&) = delete;
  HttpScript& operator=(const HttpScript&) = delete;

  /// http://127.0.0.1:PORT + path
  std::string url(const std::string& path = "/") const;
  unsigned short port() const;
  /// The last request, head and body, as received.
  std::string received() const;
  /// Its body alone.
  std::string received_body() const;
  int requests() const;

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

/// An HTTP/1.1 response with a body and extra header lines ("Name: value\r\n").
std::string http_response(const std::string& status_line, const std::string& body,
                          const std::string& headers = "");

}  // namespace promote::test
