#pragma once
// What promote trusts of the records kept in git (README "Trust and threats"). Anyone who can
// push to the repository can append a line to refs/notes/promote (branch protection does not
// cover notes) or push a commit with Promote-* trailers and a back-dated date. So records can
// be signed with an SSH key (git/signing.hpp): promote signs every record it writes when
// PROMOTE_SIGNING_KEY names a key, and a pipeline with `trust: {signed: true,
// allowed_signers: FILE}` counts only records signed by a key of that file.
//
// A signed note line is the record's line with one more member, "signature": the armored
// signature (namespace "promote") of the line without it, which is the canonical line the
// history would write (compact JSON, sorted keys). A signed commit carries a gpgsig header
// (namespace "git"), as `git commit -S` with gpg.format=ssh writes it.

#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/git/repository.hpp"
#include "engine/git/signing.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

/// A note line split into the record's line and its signature.
struct NoteLine {
  std::string record;                    ///< the line without "signature"
  std::optional<std::string> signature;  ///< armored, when the line carries one
};

/// Splits a note line: a JSON object of two members, one of them a string "signature", is a
/// signed line; anything else is returned whole, unsigned.
NoteLine split_note_line(std::string_view line);

/// `line` (a note line, {"KIND": {...}}) signed by `signer`: {"KIND": {...}, "signature": "..."}.
Result<std::string> sign_note_line(const git::Signer& signer, const std::string& line);

class RecordTrust {
 public:
  /// The trust of `pipeline` and the signer PROMOTE_SIGNING_KEY names. Fails (usage) when the
  /// key cannot be used, and when the pipeline requires signatures, `writing` is true and no
  /// key is set: its records would not count.
  static Result<RecordTrust> for_pipeline(const pipeline::Pipeline& pipeline, bool writing);

  /// Whether the pipeline counts signed records only.
  bool required() const { return !m_allowed_signers.empty(); }

  /// The key promote signs with, or null.
  const git::Signer* signer() const { return m_signer ? &*m_signer : nullptr; }

  /// Who signed `line` (its principal in allowed_signers), or nullopt with `why` set when it
  /// does not count: unsigned, or a signature that does not hold. Without required(), nullopt
  /// and `why` empty. Fails only when ssh-keygen cannot run.
  Result<std::optional<std::string>> line_signer(const NoteLine& line, std::string& why) const;

  /// Who signed commit `commit_id`, as line_signer says of a line.
  Result<std::optional<std::string>> commit_signer(const git::Repository& repository,
                                                   const std::string& commit_id,
                                                   std::string& why) const;

  /// Who the signing key is in allowed_signers (a probe signed and checked), for judging
  /// approvals by who signs; "" when there is no signer or signatures are not required.
  /// Fails (usage) when the key is not in allowed_signers.
  Result<std::string> own_principal() const;

 private:
  /// Who signed `data` with `signature` in `name_space`, as line_signer says.
  Result<std::optional<std::string>> signer_of(std::string_view data,
                                               const std::optional<std::string>& signature,
                                               std::string_view name_space, std::string& why) const;

  std::filesystem::path m_allowed_signers;  ///< empty: signatures not required
  std::optional<git::Signer> m_signer;
  /// own_principal once found: it runs ssh-keygen twice, and a promotion that waits asks at
  /// each evaluation of its gates.
  mutable std::optional<std::string> m_principal;
};

}  // namespace promote::promoter
