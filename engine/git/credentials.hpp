#pragma once
// Internal to engine/git (it includes <git2.h>): what a clone, fetch or push sends when the
// remote asks who it is (an access token over http(s), an SSH key over ssh), how the host
// key of an ssh remote is checked, and the callbacks that tell libgit2 so.

#include <git2.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promote::git::detail {

/// What a remote operation's callbacks know and learn.
struct RemoteContext {
  std::string url;       ///< the remote's URL as configured; may hold userinfo, never shown
  std::string provider;  ///< "github", "gitlab", "gitea" or "": picks the token variable
  /// When set, explains the failure better than libgit2's last error; never holds a secret.
  std::string failure;
  int token_offers = 0;  ///< tokens given so far; a second request means it was refused
  int key_offers = 0;    ///< SSH keys (or the agent) given so far
  std::vector<std::pair<std::string, std::string>> rejected;  ///< ref, remote's status
};

/// The credential callback: a token for http(s), an SSH key for ssh, each offered once.
int acquire_credentials(git_credential** out, const char* url, const char* username_from_url,
                        unsigned int allowed, void* payload);

/// The certificate callback: an ssh host key passes when a known_hosts file has it (or
/// PROMOTE_SSH_INSECURE_ACCEPT_HOST=1); TLS certificates are left to libgit2's own check.
int check_certificate(git_cert* cert, int valid, const char* host, void* payload);

/// Whether `url` names an ssh remote: ssh://, ssh+git://, git+ssh:// or scp-like user@host:path.
bool is_ssh_url(std::string_view url);

/// Why this libgit2 cannot reach `url` (an ssh remote without SSH support), or "".
std::string unsupported(std::string_view url);

/// What to add to libgit2's message about an ssh remote for the user to act on, or "".
std::string ssh_hint(const RemoteContext& context, const std::string& libgit2_message);

}  // namespace promote::git::detail
