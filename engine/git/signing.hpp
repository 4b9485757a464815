#pragma once
// SSH signatures, made and checked the way git does with gpg.format=ssh: by running OpenSSH's
// `ssh-keygen -Y sign` and `ssh-keygen -Y verify` (Debian's openssh-client), never by
// cryptography of our own. A signature is the armored text ssh-keygen writes
// ("-----BEGIN SSH SIGNATURE-----" ...); who may sign is an allowed_signers file, the format
// of git's gpg.ssh.allowedSignersFile (ssh-keygen(1), "ALLOWED SIGNERS").
//
// ssh-keygen runs without a shell, in a session of its own (no terminal to prompt on), with
// PATH, HOME and SSH_AUTH_SOCK only, for at most k_ssh_keygen_timeout; the files it reads are
// written to a private directory (mode 0700) that is removed afterwards.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"

namespace promote::git {

/// The namespace of commit signatures: what `git verify-commit` checks.
inline constexpr std::string_view k_commit_namespace = "git";
/// The namespace of promote's own signed records (note lines).
inline constexpr std::string_view k_record_namespace = "promote";

/// The variable that names the signing key.
inline constexpr const char* k_signing_key_variable = "PROMOTE_SIGNING_KEY";

/// How long one run of ssh-keygen may take (a hardware key may wait for a touch).
inline constexpr std::chrono::seconds k_ssh_keygen_timeout{60};

/// A key that signs: what git's user.signingKey may name.
/// - a path to a private key file (OpenSSH's format, without a passphrase: there is no
///   terminal to ask for one), or to a public key file whose private half is in the ssh-agent
///   at SSH_AUTH_SOCK (ssh-keygen takes the agent's key when the agent has it);
/// - "key::" and a public key as an authorized_keys line has it ("key::ssh-ed25519 AAAA..."),
///   whose private half must be in the agent.
class Signer {
 public:
  /// The signer of `key` (one of the forms above). Fails (input) when a file cannot be read or
  /// a literal key is not "TYPE BASE64 [COMMENT]" on one line.
  static Result<Signer> from_key(const std::string& key);

  /// The signer PROMOTE_SIGNING_KEY names, or nullopt when it is unset or empty (signing is
  /// optional). Fails as from_key, naming the variable.
  static Result<std::optional<Signer>> from_environment();

  /// The armored signature of `data` in `name_space` ("git" for commits), ending with a line
  /// feed. Fails (input) when ssh-keygen is not installed, cannot use the key (a passphrase,
  /// a key the agent does not hold), or takes longer than k_ssh_keygen_timeout.
  Result<std::string> sign(std::string_view data, std::string_view name_space) const;

  /// The key as messages show it: the file's path, or "key::TYPE" and the key's first
  /// characters.
  std::string shown() const;

 private:
  Signer(std::string key, bool literal) : m_key(std::move(key)), m_literal(literal) {}
  std::string m_key;  ///< the file's path, or the literal key without "key::"
  bool m_literal = false;
};

/// What a check of a signature found.
struct Verification {
  enum class Status {
    good,         ///< made by a key allowed_signers lists, over these bytes, in this namespace
    bad,          ///< a key allowed_signers lists, but not over these bytes or in this namespace
    unknown_key,  ///< a well-formed signature by a key allowed_signers does not list
    malformed,    ///< not an SSH signature at all
  };
  Status status = Status::malformed;
  std::string principal;    ///< good: who signed, as allowed_signers names them (printable)
  std::string fingerprint;  ///< the signing key's "SHA256:..." (empty when malformed)
  std::string reason;       ///< bad, unknown_key, malformed: why, one printable line
};

/// "good", "bad", "unknown key" or "malformed".
const char* to_string(Verification::Status status);

/// Checks that `signature` (armored) signs `data` in `name_space` by a key `allowed_signers`
/// lists, with `ssh-keygen -Y find-principals` (who may have signed) and `ssh-keygen -Y verify`
/// (the signature, for each of them until one holds; the first 32). Only ssh-keygen's exit
/// status and the principals it names are used. Fails (input) when allowed_signers cannot be read,
/// or ssh-keygen is not installed or takes longer than k_ssh_keygen_timeout.
Result<Verification> verify(std::string_view data, std::string_view signature,
                            const std::filesystem::path& allowed_signers,
                            std::string_view name_space);

}  // namespace promote::git
