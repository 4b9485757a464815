#pragma once
// Pull and merge requests on GitHub (and GitHub Enterprise), GitLab and Gitea (or
// Forgejo, which shares its API), through their REST APIs. Synchronous: each call runs its
// HTTP exchanges on an io_context of its own, so callers include no Asio header.
//
// The API token comes from the environment only (`token_from_environment`) and never
// appears in an error message or a returned value. Every failure is an `Error`: kind
// `config` for bad settings or a missing token (exit 2), `http` for what the provider or
// the network answered (exit 4), after retrying 5xx, 429 and network errors.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::forge {

/// Which API to speak. Gitea and Forgejo share one.
enum class Provider { github, gitlab, gitea };

/// "github", "gitlab", "gitea" or "forgejo" (as gitea); fails (config) on anything else.
Result<Provider> parse_provider(std::string_view name);

/// "github", "gitlab" or "gitea".
const char* to_string(Provider provider);

/// Where and how to open pull requests.
struct Settings {
  Provider provider = Provider::github;
  /// The API root: https://api.github.com, https://HOST/api/v3 (GitHub Enterprise),
  /// https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1.
  std::string api_url;
  /// "owner/repo" (GitHub, Gitea), or the GitLab project path "group/sub/repo" or its
  /// numeric id.
  std::string project;
  std::vector<std::string> labels;
  /// User logins; on GitLab usernames (resolved to ids) or numeric user ids.
  std::vector<std::string> reviewers;
  /// What to do with the older open pull requests of the same stage.
  enum class Supersede { close, keep } supersede = Supersede::close;
  std::chrono::milliseconds timeout{30000};  ///< per HTTP exchange
  /// Attempts per request: 5xx, 429 (and 403 rate limits) and network errors are retried,
  /// after the Retry-After the provider asks for (a longer one than 60 s fails at once), else
  /// a jittered exponential backoff from `backoff_base`, each wait at most 60 s.
  int max_attempts = 4;
  std::chrono::milliseconds backoff_base{500};
};

/// The pull request to open.
struct Proposal {
  std::string head;  ///< the branch with the change, "promote/prod/<candidate-id>"
  std::string base;  ///< the target branch, "main"
  std::string title;
  std::string body;  ///< Markdown
  /// Other open pull requests from heads starting with this prefix (in the same
  /// repository) are older candidates for the same stage; "" supersedes none.
  std::string supersede_prefix;
};

/// A pull request (GitLab: merge request) as the provider reports it.
struct PullRequest {
  std::string url;           ///< the web URL
  std::uint64_t number = 0;  ///< GitHub and Gitea number, GitLab iid
  std::string head;
  enum class State { open, merged, closed } state = State::open;
  bool created = false;  ///< opened by this call (false: an open one was updated)
  /// Web URLs of the older pull requests of the stage: closed (Supersede::close) or left
  /// open (Supersede::keep).
  std::vector<std::string> superseded;
  /// What could not be done once the pull request was open (labels, reviewers), as text.
  std::vector<std::string> warnings;
};

/// "open", "merged" or "closed".
const char* to_string(PullRequest::State state);

/// One reviewer's standing decision on a pull request.
struct Review {
  std::string login;      ///< the provider's login (GitLab: username)
  bool approved = false;  ///< false: changes requested
  /// When it was given (GitLab, whose approvals carry no time: when it was looked up).
  std::chrono::system_clock::time_point at;
};

/// An open pull request and its reviews.
struct Reviewed {
  PullRequest pr;
  std::vector<Review> reviews;
};

/// The open pull request from `head` into `base` (in the project, not a fork) and the standing
/// decision of each reviewer: GitHub and Gitea, each reviewer's newest review that approves or
/// requests changes, unless dismissed (comments and pending reviews decide nothing); GitLab,
/// the users who approved the merge request. nullopt when no such pull request is open. Fails
/// as `get` does.
Result<std::optional<Reviewed>> reviews(const Settings& settings, const std::string& head,
                                        const std::string& base);

/// Opens the pull request for proposal.head -> proposal.base, or, when one is already open
/// for that head, updates its title and body (never a second one, also when another run
/// creates it at the same moment); adds the labels and requests the reviewers; then closes
/// with a comment naming the new one (Supersede::close) or leaves open (keep) the other open
/// pull requests whose head starts with supersede_prefix. Labels or reviewers that cannot be
/// set once the pull request is open (an unknown Gitea label, a reviewer who is the author)
/// are `warnings`, not a failure. Fails (config) on incomplete settings or proposal, an
/// unknown GitLab user (checked before anything is written), or no token; (http) when the
/// provider refuses or cannot be reached.
Result<PullRequest> open_or_update(const Settings& settings, const Proposal& proposal);

/// The pull request `number` as it is now (`created` false, `superseded` empty).
Result<PullRequest> get(const Settings& settings, std::uint64_t number);

/// Polls `number` every `poll` until it is merged or closed, or `limit` has passed (then
/// returns it still open); calls `on_tick` with the time left before each wait. A `poll`
/// of 0 polls again at once.
Result<PullRequest> wait_merged(const Settings& settings, std::uint64_t number,
                                std::chrono::seconds limit, std::chrono::seconds poll,
                                const std::function<void(std::chrono::seconds)>& on_tick = {});

/// An API token and the environment variable it came from.
struct Token {
  std::string value;
  std::string variable;
};

/// The token for `provider` from the environment, the first set of: PROMOTE_FORGE_TOKEN;
/// GITHUB_TOKEN (github) / GITLAB_TOKEN then CI_JOB_TOKEN (gitlab) / GITEA_TOKEN (gitea);
/// PROMOTE_GIT_TOKEN. Both empty when none is set.
Token token_from_environment(Provider provider);

}  // namespace promote::forge
