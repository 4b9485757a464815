#pragma once
// Inside the forge module (not for other modules): the REST session every provider speaks
// through (headers, retries, redirects, paging, error messages) and the adapter that
// each provider implements over it (github.cpp, gitlab.cpp, gitea.cpp; repos_api.cpp holds
// what GitHub and Gitea share).

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/forge/forge.hpp"
#include "engine/http/client.hpp"

namespace promote::forge::detail {

using json = nlohmann::json;

/// A provider's answer to one request.
struct Reply {
  std::string method;
  std::string url;
  unsigned status = 0;
  http::Response response;
  json body;  ///< the parsed body; null when empty, discarded when not JSON
};

/// The connection to one provider's API, with the token and the headers it wants.
class Session {
 public:
  Session(const Settings& settings, Token token);

  const Settings& settings() const { return m_settings; }
  /// "github", "gitlab" or "gitea", the prefix of every message.
  const char* name() const { return to_string(m_settings.provider); }
  /// The API URL (no trailing slash) followed by `path` ("/..." with its query).
  std::string url(const std::string& path) const { return m_api + path; }

  /// Sends METHOD path with `body` as JSON (none when null), following redirects within
  /// the API's host and retrying 5xx, 429, 403 rate limits and network errors. Returns
  /// any other answer, 4xx included; fails (http) on network errors or retryable answers
  /// after the last attempt, and at once when the provider asks to wait more than 60 s.
  Result<Reply> send(const std::string& method, const std::string& path,
                     const json& body = nullptr);
  /// `send`, then an answer of 300 or more is an error (`refusal`) and a 2xx whose body is
  /// not JSON too; returns the JSON body (null when empty).
  Result<json> call(const std::string& method, const std::string& path, const json& body = nullptr);
  /// Every item of a JSON array list, following Link rel="next" from page to page.
  Result<std::vector<json>> list(const std::string& path);

  /// The error for an answer of 300 or more: a refused token (401, 403), a project or API
  /// URL not found (404), otherwise the status and the provider's message.
  Error refusal(const Reply& reply) const;
  /// The provider's message in an answer ("message", "error", GitHub's "errors"); the
  /// start of the body when it is not JSON.
  static std::string message(const Reply& reply);
  /// `text` with the token replaced by "***".
  std::string scrub(std::string text) const;
  Error fail(ErrorKind kind, const std::string& text) const;

 private:
  Result<Reply> send_url(std::string method, std::string url, json body);
  bool same_origin(const std::string& url) const;

  Settings m_settings;
  Token m_token;
  http::Headers m_headers;
  std::string m_api;     // the API URL without a trailing '/'
  std::string m_origin;  // scheme://host[:port] of the API URL
};

/// A pull request as a provider lists it.
struct Pr {
  std::uint64_t number = 0;
  std::string url;
  std::string head;
  std::string base;
  PullRequest::State state = PullRequest::State::open;
  bool same_repository = true;              ///< its head branch is in the project, not in a fork
  std::vector<std::uint64_t> reviewer_ids;  ///< GitLab
};

/// What each provider does; every call fails as `Session` does.
class Adapter {
 public:
  virtual ~Adapter() = default;
  /// The open pull requests in the project from `head` into `base`; all open ones when
  /// both are "".
  virtual Result<std::vector<Pr>> open_prs(const std::string& head, const std::string& base) = 0;
  /// Opens one; nullopt when the provider answers that one is already open for the head.
  virtual Result<std::optional<Pr>> create(const Proposal& proposal) = 0;
  /// Sets the title and the body of an open one.
  virtual Result<Pr> update(const Pr& pr, const Proposal& proposal) = 0;
  /// Adds the labels and requests the reviewers of the settings, where create and update
  /// did not already.
  virtual Result<void> decorate(const Pr& pr) = 0;
  /// Comments `note` on `pr`, then closes it.
  virtual Result<void> close(const Pr& pr, const std::string& note) = 0;
  virtual Result<Pr> get(std::uint64_t number) = 0;
  /// The standing decision of each reviewer of `pr` (see forge::reviews).
  virtual Result<std::vector<Review>> reviews(const Pr& pr) = 0;
};

/// The API GitHub and Gitea share: a project is /repos/OWNER/REPO, pull requests are
/// /pulls/N with head.ref and base.ref, labels and comments go through /issues/N, reviewers
/// are requested by login. GitHub and Gitea differ in how they list, label, answer a
/// duplicate and tell a fork.
class ReposApi : public Adapter {
 public:
  explicit ReposApi(Session& session);

  Result<std::optional<Pr>> create(const Proposal& proposal) override;
  Result<Pr> update(const Pr& pr, const Proposal& proposal) override;
  Result<void> close(const Pr& pr, const std::string& note) override;
  Result<Pr> get(std::uint64_t number) override;
  Result<std::vector<Review>> reviews(const Pr& pr) override;

 protected:
  /// Whether the answer to a create says one is already open for the head.
  virtual bool already_exists(const Reply& reply) const = 0;
  /// Whether a pull request's head branch is in the project (not in a fork).
  virtual bool same_repository(const json& item) const = 0;
  /// Requests the settings' reviewers, if any.
  Result<void> request_reviewers(const Pr& pr);
  Pr to_pr(const json& item) const;
  std::string pull(std::uint64_t number) const;
  std::string issue(std::uint64_t number) const;

  Session& m_session;
  std::string m_owner;
  std::string m_repo;  ///< "/repos/OWNER/REPO"
};

std::unique_ptr<Adapter> make_github(Session& session);
std::unique_ptr<Adapter> make_gitlab(Session& session);
std::unique_ptr<Adapter> make_gitea(Session& session);

/// Whether the message of an answer says that a pull request already exists.
bool says_already_exists(const Reply& reply);

/// object[key]; null when `object` is not an object or has no such key.
const json& member(const json& object, const char* key);
/// object[key] is the boolean true.
bool flag_of(const json& object, const char* key);
/// json[key] as a string, "" when absent or not a string.
std::string text_of(const json& object, const char* key);
/// json[key] as an unsigned number, 0 when absent or not a number.
std::uint64_t number_of(const json& object, const char* key);

}  // namespace promote::forge::detail
