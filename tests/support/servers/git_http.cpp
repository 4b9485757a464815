#include "tests/support/servers/git_http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace promote::test {

namespace fs = std::filesystem;

namespace {

/// How long a client may stay silent in the middle of a request.
constexpr int k_read_timeout_ms = 10000;

std::string base64(const std::string& text) {
  static constexpr char k_digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (unsigned char c : text) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(k_digits[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) {
    out.push_back(k_digits[(bits << (6 - count)) & 0x3f]);
  }
  while (out.size() % 4 != 0) {
    out.push_back('=');
  }
  return out;
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string trim(const std::string& text) {
  const auto start = text.find_first_not_of(" \t");
  const auto end = text.find_last_not_of(" \t\r");
  return start == std::string::npos ? "" : text.substr(start, end - start + 1);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A connection's bytes, read as they are needed.
class Reader {
 public:
  explicit Reader(int socket) : m_socket(socket) {}

  /// Bytes up to and without `delimiter` (consumed), or nullopt when the peer went away.
  std::optional<std::string> until(const std::string& delimiter) {
    for (;;) {
      if (const auto at = m_buffer.find(delimiter); at != std::string::npos) {
        std::string out = m_buffer.substr(0, at);
        m_buffer.erase(0, at + delimiter.size());
        return out;
      }
      if (!fill()) {
        return std::nullopt;
      }
    }
  }

  std::optional<std::string> exactly(std::size_t size) {
    while (m_buffer.size() < size) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    std::string out = m_buffer.substr(0, size);
    m_buffer.erase(0, size);
    return out;
  }

 private:
  bool fill() {
    pollfd readable{m_socket, POLLIN, 0};
    if (::poll(&readable, 1, k_read_timeout_ms) <= 0) {
      return false;
    }
    char chunk[16384];
    const ssize_t got = ::read(m_socket, chunk, sizeof chunk);
    if (got <= 0) {
      return false;
    }
    m_buffer.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  int m_socket;
  std::string m_buffer;
};

struct Request {
  std::string method;
  std::string path;
  std::string query;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;                            ///< de-chunked

  std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

/// Reads one request, head and body (Content-Length or chunked); nullopt on a bad one.
std::optional<Request> read_request(Reader& reader, std::string& error) {
  const auto head = reader.until("\r\n\r\n");
  if (!head) {
    error = "the client closed the connection before a whole request head";
    return std::nullopt;
  }
  Request request;
  std::size_t line_end = head->find("\r\n");
  const std::string request_line = head->substr(0, line_end);
  const auto first_space = request_line.find(' ');
  const auto second_space = request_line.rfind(' ');
  if (first_space == std::string::npos || second_space == first_space) {
    error = "bad request line: " + request_line;
    return std::nullopt;
  }
  request.method = request_line.substr(0, first_space);
  const std::string target = request_line.substr(first_space + 1, second_space - first_space - 1);
  const auto question = target.find('?');
  request.path = target.substr(0, question);
  request.query = question == std::string::npos ? "" : target.substr(question + 1);
  while (line_end != std::string::npos) {
    const auto start = line_end + 2;
    line_end = head->find("\r\n", start);
    const std::string line =
        head->substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      request.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    }
  }
  if (lower(request.header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      const auto size_line = reader.until("\r\n");
      if (!size_line) {
        error = "the client closed the connection inside a chunked body";
        return std::nullopt;
      }
      const std::size_t size = std::stoul(*size_line, nullptr, 16);
      if (size == 0) {
        // Trailers, if any, end with an empty line.
        while (true) {
          const auto trailer = reader.until("\r\n");
          if (!trailer || trailer->empty()) {
            break;
          }
        }
        break;
      }
      const auto chunk = reader.exactly(size + 2);
      if (!chunk) {
        error = "the client closed the connection inside a chunk";
        return std::nullopt;
      }
      request.body.append(*chunk, 0, size);
    }
  } else if (const std::string length = request.header("content-length"); !length.empty()) {
    const auto body = reader.exactly(std::stoul(length));
    if (!body) {
      error = "the client closed the connection inside the body";
      return std::nullopt;
    }
    request.body = *body;
  }
  return request;
}

void send_all(int socket, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t wrote = ::send(socket, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (wrote <= 0) {
      return;
    }
    sent += static_cast<std::size_t>(wrote);
  }
}

}  // namespace

struct GitHttpServer::State {
  fs::path root;
  std::string user;
  std::string expected_authorization;
  fs::path scratch;
  int socket = -1;
  unsigned short port = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  std::atomic<int> unauthorized{0};
  mutable std::mutex mutex;
  std::string errors;
  std::thread thread;

  void note(const std::string& what) {
    const std::lock_guard lock(mutex);
    errors += what + "\n";
  }

  void serve() {
    while (!stop) {
      pollfd ready{socket, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) {
        continue;
      }
      const int client = ::accept(socket, nullptr, nullptr);
      if (client < 0) {
        continue;
      }
      try {
        answer(client);
      } catch (const std::exception& error) {
        note(std::string("bad request: ") + error.what());
      }
      ::close(client);
    }
  }

  void answer(int client) {
    Reader reader(client);
    std::string error;
    const auto request = read_request(reader, error);
    if (!request) {
      note(error);
      return;
    }
    ++requests;
    if (request->header("authorization") != expected_authorization) {
      ++unauthorized;
      send_all(client,
               "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
               "Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
               "Unauthorized\n");
      return;
    }
    send_all(client, run_backend(*request));
  }

  /// Runs git http-backend for the request; returns the whole HTTP response.
  std::string run_backend(const Request& request) {
    const fs::path input = scratch / "request";
    const fs::path output = scratch / "response";
    const fs::path log = scratch / "stderr";
    std::ofstream(input, std::ios::binary | std::ios::trunc) << request.body;
    std::vector<std::string> variables;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string(*entry).rfind("GIT_", 0) != 0) {
        variables.emplace_back(*entry);
      }
    }
    const std::vector<std::pair<std::string, std::string>> cgi = {
        {"GATEWAY_INTERFACE", "CGI/1.1"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"REQUEST_METHOD", request.method},
        {"PATH_INFO", request.path},
        {"QUERY_STRING", request.query},
        {"CONTENT_TYPE", request.header("content-type")},
        {"CONTENT_LENGTH", std::to_string(request.body.size())},
        {"HTTP_CONTENT_ENCODING", request.header("content-encoding")},
        {"HTTP_GIT_PROTOCOL", request.header("git-protocol")},
        {"REMOTE_USER", user},
        {"REMOTE_ADDR", "127.0.0.1"},
        {"GIT_PROJECT_ROOT", root.string()},
        {"GIT_HTTP_EXPORT_ALL", "1"},
        {"GIT_CONFIG_PARAMETERS", "'http.receivepack'='true'"},
    };
    for (const auto& [name, value] : cgi) {
      variables.push_back(name + "=" + value);
    }
    std::vector<char*> envp;
    for (auto& variable : variables) {
      envp.push_back(variable.data());
    }
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, input.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::string program = "git";
    std::string command = "http-backend";
    char* argv[] = {program.data(), command.data(), nullptr};
    pid_t pid = -1;
    const int spawned = posix_spawnp(&pid, "git", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      note("cannot run git http-backend");
      return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (const std::string said = read_file(log); !said.empty()) {
      note("git http-backend: " + said);
    }
    const std::string out = read_file(output);
    // CGI output: header lines, an empty line, the body.
    std::size_t split = out.find("\r\n\r\n");
    std::size_t body_start = split == std::string::npos ? std::string::npos : split + 4;
    if (const auto lf = out.find("\n\n"); lf != std::string::npos && lf < split) {
      split = lf;
      body_start = lf + 2;
    }
    if (split == std::string::npos) {
      note("git http-backend answered without headers (exit status " + std::to_string(status) +
           ")");
      return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
    std::string status_line = "200 OK";
    std::string headers;
    std::size_t start = 0;
    while (start < split) {
      auto end = out.find('\n', start);
      if (end == std::string::npos || end > split) {
        end = split;
      }
      const std::string line = trim(out.substr(start, end - start));
      start = end + 1;
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      if (lower(line.substr(0, colon)) == "status") {
        status_line = trim(line.substr(colon + 1));
      } else {
        headers += line + "\r\n";
      }
    }
    const std::string body = out.substr(body_start);
    return "HTTP/1.1 " + status_line + "\r\n" + headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
  }
};

GitHttpServer::GitHttpServer(fs::path root, std::string user, std::string password)
    : m_state(std::make_unique<State>()) {
  m_state->root = std::move(root);
  m_state->expected_authorization = "Basic " + base64(user + ":" + password);
  m_state->user = std::move(user);
  std::string pattern = (fs::temp_directory_path() / "promote-git-http-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot create a scratch directory for the git server");
  }
  m_state->scratch = pattern;
  m_state->socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (m_state->socket < 0 ||
      ::bind(m_state->socket, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(m_state->socket, 16) != 0 ||
      ::getsockname(m_state->socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1 for the git server");
  }
  m_state->port = ntohs(address.sin_port);
  m_state->thread = std::thread([state = m_state.get()] { state->serve(); });
}

GitHttpServer::~GitHttpServer() {
  m_state->stop = true;
  m_state->thread.join();
  ::close(m_state->socket);
  std::error_code ignored;
  fs::remove_all(m_state->scratch, ignored);
}

std::string GitHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_state->port) + "/" + path;
}

unsigned short GitHttpServer::port() const {
  return m_state->port;
}

int GitHttpServer::requests() const {
  return m_state->requests;
}

int GitHttpServer::unauthorized() const {
  return m_state->unauthorized;
}

std::string GitHttpServer::errors() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->errors;
}

}  // namespace promote::test
