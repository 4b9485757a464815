#pragma once
// A git server over smart HTTP for tests: an HTTP/1.1 server on 127.0.0.1 (a free port), on a
// thread of its own, that runs Debian's `git http-backend` as a CGI program for each request
// that carries the right basic-auth user and password, and answers 401 (WWW-Authenticate:
// Basic) to the others. Push is enabled. Request bodies may be chunked. One request per
// connection. Stops, and joins its thread, when destroyed.

#include <filesystem>
#include <memory>
#include <string>

namespace promote::test {

class GitHttpServer {
 public:
  /// Serves the repositories under `root` (bare ones: root/acme/deploy.git is
  /// url("acme/deploy.git")) to clients that authenticate as `user` with `password`.
  GitHttpServer(std::filesystem::path root, std::string user, std::string password);
  ~GitHttpServer();
  GitHttpServer(const GitHttpServer&) = delete;
  GitHttpServer& operator=(const GitHttpServer&) = delete;

  /// http://127.0.0.1:PORT/ + path
  std::string url(const std::string& path) const;
  unsigned short port() const;
  /// Requests received so far, and how many of them were answered 401.
  int requests() const;
  int unauthorized() const;
  /// What went wrong inside the server so far (bad requests, git http-backend's stderr).
  std::string errors() const;

 private:
  struct State;
  std::unique_ptr<State> m_state;
};

}  // namespace promote::test
