#pragma once
// The history kept in git as well: every record is a line of the git note refs/notes/promote
// (on the commit that promoted, else on the branch's head at the time), pushed with the
// commit, so that a history lost with an ephemeral CI runner can be rebuilt from the
// repository (`promote history sync`).

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/history/history.hpp"

namespace promote::git {
class Repository;
}

namespace promote::pipeline {
struct Pipeline;
}

namespace promote::promoter {

/// Where the records live in git.
inline constexpr const char* k_notes_ref = "refs/notes/promote";

/// Adds `line` (a history::note_line) to the note of `commit_id` and pushes the notes to
/// `remote`. When the remote's notes moved on, they are fetched and ours are laid on top
/// (every line is kept), then pushed again, up to 12 times.
Result<void> publish_note(git::Repository& repository, const std::string& remote,
                          const std::string& commit_id, const std::string& line);

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

/// publish_note on the head of the pipeline's branch, for a record that made no commit (an
/// approval, a hold): opens (or clones) the pipeline's repository. Returns a warning to show,
/// or "" when the note was written and pushed.
std::string publish_on_head(const pipeline::Pipeline& pipeline, const std::string& line);

/// What `sync_history` did.
struct SyncResult {
  std::size_t notes = 0;    ///< notes read (commits with records)
  std::size_t records = 0;  ///< records in them
  history::MergeCount added;
  std::vector<std::string> problems;  ///< lines that are not records promote wrote, skipped
  bool fetched = false;               ///< the remote had notes
  std::size_t other_pipelines = 0;    ///< records of other pipelines, left out
};

/// Fetches the remote's notes and combines them with the local ones, then adds every record
/// of `pipeline` (history::belongs_to) they hold that `history` lacks (history::History::merge).
/// Fails when the remote cannot be reached or the history cannot be written.
Result<SyncResult> sync_history(git::Repository& repository, const std::string& remote,
                                history::History& history, const history::PipelineId& pipeline);

}  // namespace promote::promoter
