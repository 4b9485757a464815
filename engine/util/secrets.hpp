#pragma once
// The environment variables promote reads whose values are secrets.

#include <array>

namespace promote::util {

/// Tokens and passphrases promote itself reads (the git credentials, the forge API): no log
/// line, message, file or record may hold their values.
inline constexpr std::array k_secret_variables = {
    "PROMOTE_GIT_TOKEN", "PROMOTE_FORGE_TOKEN", "GITHUB_TOKEN",
    "GITLAB_TOKEN",      "CI_JOB_TOKEN",        "GITEA_TOKEN",
    "PROMOTE_SSH_KEY_PASSPHRASE"};

}  // namespace promote::util
