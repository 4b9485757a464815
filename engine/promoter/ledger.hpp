#pragma once
// The history kept in git as well: every record is a line of the git note refs/notes/promote
// (on the commit that promoted, else on the branch's head at the time), pushed with the
// commit, so that a history lost with an ephemeral CI runner can be rebuilt from the
// repository (`promote history sync`).

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/trust.hpp"
#include "engine/promoter/workspace.hpp"

namespace promote::promoter {

/// Where the records live in git.
inline constexpr const char* k_notes_ref = "refs/notes/promote";

/// The records of one pipeline in a history database: a publish makes sure that the remote's
/// notes hold every one of them, so that a record whose note an earlier run could not write or
/// push (it failed, or was killed) is carried by the next one. The notes are read for that only
/// when they may lack one: what a publish pushed is remembered in "<history>.noted" (the notes
/// commit, and how many records of the pipeline the history held), and while the notes descend
/// from that commit and the history holds no other record, none is missing.
struct Backlog {
  const history::History& history;
  history::PipelineId pipeline;
  /// The record of the publish's `line` is in the history already (an approval, a hold); else
  /// it is recorded after the publish (a promotion).
  bool line_recorded = false;
  /// Read the notes whatever "<history>.noted" says (history sync).
  bool scan = false;
  /// The promotion of the publish's `line`, recorded after the publish: the anchor the
  /// publish writes is the history's once it is in (History::anchor_after).
  const history::PromotionRecord* pending = nullptr;
};

/// Adds `line` (a history::note_line; none when "") to the note of `commit_id` and pushes the
/// notes to `remote`. With a `backlog`, adds as well every record of it that the notes lack
/// once the remote's are fetched (a promotion on its commit when the repository has it, the
/// others on `commit_id`), each once, and, after them on `commit_id`, the anchor of the
/// backlog's history once they are all in it (history/anchor.hpp), when anything was added. When
/// the remote's notes moved on, they are fetched and ours are laid on top (every line is kept),
/// then pushed again, up to 12 times. Returns how many records of the backlog were added. With
/// `signer`, every line it adds is signed (trust.hpp). Run it under the WriteLock of the
/// repository.
Result<std::size_t> publish_note(git::Repository& repository, const std::string& remote,
                                 const std::string& commit_id, const std::string& line,
                                 const Backlog* backlog = nullptr,
                                 const git::Signer* signer = nullptr);

/// A promotion's record as a line of the git note on the commit that promoted (`commit`; "" for
/// the branch's head), pushed to `remote` with every record of `pipeline` in `history` (may be
/// null) that the notes lack (an earlier run could not push it). Returns a warning to show when
/// it could not be written or pushed ("" when it was): the history has the record, and the next
/// writer pushes it. Run it under the WriteLock of the repository.
std::string publish_record(git::Repository& repository, const std::string& remote,
                           std::string commit, const history::PromotionRecord& record,
                           const history::History* history, const history::PipelineId& pipeline,
                           const git::Signer* signer);

/// Fetches the remote's notes, lays the local ones on top, and returns the line of the note
/// of `commit_id` that records promotion `promotion_id`, or nullopt when there is none.
/// Fails when the remote cannot be reached.
Result<std::optional<std::string>> noted_promotion(git::Repository& repository,
                                                   const std::string& remote,
                                                   const std::string& commit_id,
                                                   const std::string& promotion_id);

/// A usage error when the actor or the reason of a record is not valid UTF-8, which a note
/// could not carry as it is (and a sync would read back as another record); else nullopt.
std::optional<Error> unrecordable(const std::string& actor, const std::string& reason);

/// For a record that makes no commit (an approval, a hold): opens (or clones) the pipeline's
/// repository, takes the WriteLock of it and of the history at `history_path`, calls `write`
/// with the history (to check and record) and the repository as opened (or why it could not
/// be), and then publishes on the head of the pipeline's branch every record of the pipeline
/// that the remote's notes lack, the new one among them, signed by `trust`'s signer. `write`
/// returns the note line (history::note_line) of the record it wrote. Fails with `write`'s failure,
/// or when the lock cannot be taken (nothing is written then). Returns a warning to show when the
/// notes could not be written or pushed, else "".
Result<std::string> record_on_head(
    const pipeline::Pipeline& pipeline, const RecordTrust& trust,
    const std::filesystem::path& history_path,
    const std::function<Result<std::string>(history::History&, const Result<Workspace>&)>& write);

/// The anchors of history databases the repository holds, for `audit verify`: the anchor lines
/// of the notes (refs/notes/promote and the copy of the remote's that promote fetched last,
/// fetched again first from `fetch_from` when it is given: a workspace's clone), then the
/// Promote-History trailers of the commits reachable from HEAD. A line or trailer that is not
/// an anchor promote wrote is named in `problems`, and so is one that does not count by
/// `trust` (unsigned, badly signed), left out. Fails when the repository cannot be read, or the
/// remote's notes cannot be fetched.
struct FoundAnchors {
  std::vector<history::PlacedAnchor> anchors;
  std::vector<std::string> problems;
};
Result<FoundAnchors> find_anchors(git::Repository& repository, const RecordTrust& trust,
                                  const std::optional<std::string>& fetch_from = std::nullopt);

/// What `check_signatures` found.
struct SignatureCheck {
  std::size_t checked = 0;       ///< note lines and promote commits of the pipeline
  std::vector<std::string> bad;  ///< each that does not count, with where and why
};

/// For `audit verify` where signed records count: checks the signature of every note line
/// (refs/notes/promote) and every promote commit reachable from HEAD (a Promote-Id trailer) of
/// `pipeline`. Fails when the repository cannot be read or ssh-keygen cannot run.
Result<SignatureCheck> check_signatures(const git::Repository& repository, const RecordTrust& trust,
                                        const history::PipelineId& pipeline);

/// What `sync_history` did.
struct SyncResult {
  std::size_t notes = 0;    ///< notes read (commits with records)
  std::size_t records = 0;  ///< records in them
  history::MergeCount added;
  std::vector<std::string> problems;  ///< lines that are not records promote wrote, skipped
  bool fetched = false;               ///< the remote had notes
  std::size_t other_pipelines = 0;    ///< records of other pipelines, left out
  std::size_t published = 0;          ///< records of the history the notes lacked, pushed
  std::string warning;                ///< why they could not be pushed, or ""
};

/// Fetches the remote's notes and combines them with the local ones, then adds every record
/// of `pipeline` (history::belongs_to) they hold that `history` lacks (history::History::merge),
/// and pushes to the notes (on the branch's head) every record of it they lack. Fails when the
/// remote cannot be reached or the history cannot be written; a failed push is `warning`.
/// A line that does not count by `trust` (unsigned or badly signed; an approval signed by
/// someone other than its actor) is left out and named in `problems`; the lines pushed are
/// signed by its signer. Run it under the WriteLock of the repository and the history.
Result<SyncResult> sync_history(git::Repository& repository, const std::string& remote,
                                history::History& history, const history::PipelineId& pipeline,
                                const RecordTrust& trust);

}  // namespace promote::promoter
