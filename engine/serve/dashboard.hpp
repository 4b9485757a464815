#pragma once
// The dashboard of `promote serve`: its pages (pages.hpp) at /, /pipelines/NAME[/history|
// /report] and /promotions/ID, their style sheet and script under /static/, live updates as
// server-sent events at /events, and the commands of its forms. A browser signs in with a token
// of the tokens file (POST /login: a session cookie, HttpOnly and SameSite=Strict) or comes
// through the trusted proxy; every form carries a token that must match the browser's CSRF
// cookie, and every command needs the role the API would need.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/http/server.hpp"
#include "engine/serve/access.hpp"
#include "engine/serve/pages.hpp"

namespace promote::serve {

class Service;
struct Snapshot;

class Dashboard {
 public:
  /// Answers `request` to `service` when its path is the dashboard's; nullopt otherwise (the
  /// API's).
  std::optional<http::Outgoing> handle(const Service& service, const http::Incoming& request);

  /// Sessions live this long from sign-in.
  static constexpr std::chrono::hours k_session_life{12};
  /// At most this many event streams at once; more get 503.
  static constexpr std::size_t k_max_streams = 64;

 private:
  struct Session {
    Principal principal;
    std::chrono::system_clock::time_point expires;
  };
  pages::Viewer viewer_of(const Service& service, const http::Incoming& request,
                          const std::string& csrf) const;
  http::Outgoing page(const Service& service, const http::Incoming& request);
  http::Outgoing command(const Service& service, const http::Incoming& request,
                         const std::string& pipeline, const std::string& stage,
                         const std::string& action);
  http::Outgoing sign_in(const Service& service, const http::Incoming& request);
  http::Outgoing sign_out(const Service& service, const http::Incoming& request);
  http::Outgoing events(const Service& service, const http::Incoming& request);

  mutable std::mutex m_mutex;
  std::map<std::string, Session> m_sessions;  ///< under m_mutex, by the sha256 of the cookie
  /// The overview as the last visitor not signed in saw it.
  struct Overview {
    std::mutex mutex;
    std::chrono::seconds second{0};
    std::vector<std::shared_ptr<const Snapshot>> snapshots;
    std::string body;
  } m_overview;
  std::shared_ptr<std::atomic<std::size_t>> m_streams =
      std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace promote::serve
