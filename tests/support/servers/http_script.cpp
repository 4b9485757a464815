#include "tests/support/servers/http_script.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cctype>
#include <mutex>
#include <thread>

namespace promote::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// The value of the Content-Length header in a request head, 0 when absent.
std::size_t content_length(const std::string& head) {
  std::string folded = head;
  for (char& c : folded) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const auto at = folded.find("\r\ncontent-length:");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 17));
}

}  // namespace

struct HttpScript::State {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::string reply;
  mutable std::mutex mutex;
  std::string received;
  int requests = 0;
  std::thread thread;

  asio::awaitable<void> serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      asio::co_spawn(io, answer(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> answer(tcp::socket socket) {
    std::string buffer;
    auto [read_error, head_size] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
    if (read_error) {
      co_return;
    }
    const std::size_t total = head_size + content_length(buffer.substr(0, head_size));
    if (buffer.size() < total) {
      co_await asio::async_read(socket, asio::dynamic_buffer(buffer),
                                asio::transfer_exactly(total - buffer.size()),
                                asio::as_tuple(asio::use_awaitable));
    }
    {
      std::lock_guard lock(mutex);
      received = buffer;
      ++requests;
    }
    if (reply.empty()) {
      asio::steady_timer never(socket.get_executor(), 1h);
      co_await never.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
  }
};

HttpScript::HttpScript(std::string reply) : m_state(std::make_unique<State>()) {
  m_state->reply = std::move(reply);
  asio::co_spawn(m_state->io, m_state->serve(), asio::detached);
  m_state->thread = std::thread([state = m_state.get()] { state->io.run(); });
}

HttpScript::~HttpScript() {
  m_state->io.stop();
  m_state->thread.join();
}

unsigned short HttpScript::port() const { return m_state->acceptor.local_endpoint().port(); }

std::string HttpScript::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::string HttpScript::received() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->received;
}

std::string HttpScript::received_body() const {
  const std::string all = received();
  const auto at = all.find("\r\n\r\n");
  return at == std::string::npos ? "" : all.substr(at + 4);
}

int HttpScript::requests() const {
  std::lock_guard lock(m_state->mutex);
  return m_state->requests;
}

std::string http_response(const std::string& status_line, const std::string& body,
                          const std::string& headers) {
  return "HTTP/1.1 " + status_line + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + headers + "\r\n" + body;
}

}  // namespace promote::test
