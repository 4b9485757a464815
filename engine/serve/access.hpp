#pragma once
// Who may write through `promote serve`'s API: bearer tokens, kept as their SHA-256 digests in a
// file with the actor each stands for and the roles it holds, or the user a trusted reverse
// proxy names (the oauth2-proxy convention), only from the addresses the file names. No
// anonymous write, ever: without the file, every write is refused.
//
//   tokens:
//     - actor: alice
//       sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//       roles: ["approve:prod", "reject:prod", "promote:*"]
//   proxy:
//     header: X-Forwarded-User     # default
//     from: [127.0.0.1]            # the proxy's addresses: the header counts from these only
//     users:
//       - {actor: bob, roles: ["*:staging", "hold:shop/prod"]}
//
// A role is ACTION:STAGE or ACTION:PIPELINE/STAGE; ACTION is promote, approve, reject, hold,
// release or rollback, STAGE and PIPELINE a name, and either may be `*`.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/http/server.hpp"

namespace promote::serve {

struct Principal {
  std::string actor;
  std::vector<std::string> roles;
};

class Access {
 public:
  /// No file: every write is refused.
  Access() = default;
  /// Reads the file. Fails (config) naming FILE:LINE:COL on a malformed entry, a digest that is
  /// not 64 hex, an unknown action; (input) when it cannot be read.
  static Result<Access> load(const std::filesystem::path& file);

  /// Why `request` may not `action` into `stage` of `pipeline`: 401 without a tokens file,
  /// without a credential or with an unknown one, 403 with one whose roles do not allow it; or
  /// nullopt, with `actor` set to who it comes from.
  struct Refusal {
    unsigned status;
    std::string message;
  };
  std::optional<Refusal> refuse(const http::Incoming& request, const std::string& action,
                                const std::string& pipeline, const std::string& stage,
                                std::string& actor) const;

  /// Whether a tokens file was read: without one nobody can write or sign in.
  bool enabled() const { return m_loaded; }
  /// Who bearer token `token` stands for, or nullopt when it is not one of the file's.
  std::optional<Principal> by_token(std::string_view token) const;
  /// The user a trusted proxy names on `request` (its header, from one of the proxy's
  /// addresses), with the roles the file gives that user (none when it names no such user);
  /// nullopt when the request does not come through the proxy.
  std::optional<Principal> by_proxy(const http::Incoming& request) const;

 private:
  struct Token {
    std::string sha256;
    Principal principal;
  };
  std::vector<Token> m_tokens;
  std::string m_proxy_header = "X-Forwarded-User";
  std::vector<std::string> m_proxy_from;
  std::vector<Principal> m_proxy_users;
  bool m_loaded = false;
};

/// Whether `roles` allow `action` into `stage` of `pipeline`.
bool allows(const std::vector<std::string>& roles, const std::string& action,
            const std::string& pipeline, const std::string& stage);

}  // namespace promote::serve
