#pragma once
// Crash safety: a promotion that is about to write files, commit and push first leaves a
// journal entry (the record it will write, the files before and after, the branch's head)
// beside the history, and removes it once the history holds the attempt. A later run that
// finds the entry of a process that is gone finishes or undoes that promotion: pushed (a
// commit with its Promote-Id is on the remote branch) means it is recorded in the notes and
// the history as promoted; not pushed means its local commit and file edits are undone and
// nothing is recorded.

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/history/history.hpp"

namespace promote::git {
class Repository;
}

namespace promote::promoter {

/// One file a promotion is about to write: its path relative to the repository's root, and
/// what it will hold.
struct JournalFile {
  std::string path;
  std::string after;
};

/// The journal directory of a history database: "<history>.pending".
std::filesystem::path journal_dir(const std::filesystem::path& history);

/// Writes (atomically, replacing an earlier one of the same id) the journal entry of
/// `record`, a promotion about to change `files` on top of commit `base`, owned by this
/// process. Fails (input) when it cannot be written: then nothing may be written either.
Result<void> write_journal(const std::filesystem::path& history,
                           const history::PromotionRecord& record, const std::string& base,
                           const std::vector<JournalFile>& files);

/// Removes the journal entry of promotion `id`, if there is one.
void drop_journal(const std::filesystem::path& history, const std::string& id);

/// Removes the lock files of the repository at `git_dir` (index.lock, HEAD.lock, refs/**.lock,
/// ...) that no process has open: a writer killed while it held one leaves it behind, and git
/// refuses to write the file again while it is there. Returns their paths, relative to the
/// repository's root.
std::vector<std::string> remove_stale_locks(const std::filesystem::path& git_dir);

/// Finishes or undoes every promotion of `pipeline` whose journal entry was left by a process
/// that is gone (see the file comment), in `repository` (the working copy about to be used),
/// after a fetch of `branch` from `remote`. Returns one line per promotion saying what was
/// done. Fails when the remote cannot be reached or the repository or history cannot be
/// written; the entries it could not settle are kept for the next run. With `dry_run`, settles
/// nothing (a dry run writes nothing, and settling may push): fails (conflict) naming the first
/// entry there is to settle.
Result<std::vector<std::string>> recover_interrupted(git::Repository& repository,
                                                     const std::string& remote,
                                                     const std::string& branch,
                                                     const history::PipelineId& pipeline,
                                                     const std::filesystem::path& history,
                                                     bool dry_run = false);

}  // namespace promote::promoter
