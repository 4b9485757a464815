#pragma once
// One writer at a time per checkout and per history database: every command that writes
// (promote, rollback, approve, reject, hold, release, history sync) holds a WriteLock for its
// write phase. The compare-and-swap pushes order writers on different machines; this orders
// the writers that share a working copy or a history file, which a push cannot.

#include <chrono>
#include <filesystem>
#include <string>

#include "engine/error.hpp"

namespace promote::promoter {

class WriteLock {
 public:
  /// Takes the lock of the repository whose git directory (the common one, shared by its
  /// worktrees) is `git_dir`, the file promote.lck in it (skipped when `git_dir` is empty),
  /// then that of the history database `history`, the file "<history>.lck" beside it, always in
  /// that order. While another process holds one, says so once on stderr ("promote: waiting
  /// for another promote writing in this checkout (pid N), at most 5m") and waits, up to
  /// lock_timeout(). Fails (conflict) when the wait ends, naming the holder's pid and the lock
  /// file; (usage) on a bad PROMOTE_LOCK_TIMEOUT; (input) when a lock file cannot be created.
  /// The locks are POSIX record locks (fcntl) on the whole file, which the kernel releases when
  /// the process ends, however it ends, so a killed writer never blocks the next one; it also
  /// tells a waiter the holder's pid, so nothing is written into the files. They belong to the
  /// process: it must not take one twice, nor open and close a lock file otherwise. The files
  /// stay; they are not named *.lock, so that nothing that sweeps stale git locks
  /// (remove_stale_locks, `find .git -name '*.lock' -delete`) removes one while it is held.
  /// A run that only reads (a dry run) passes `writing` false: it takes the locks it can, and
  /// creates nothing where there is no history yet, nor where it may not write.
  static Result<WriteLock> acquire(const std::filesystem::path& git_dir,
                                   const std::filesystem::path& history, bool writing = true);

  /// Whether it was taken with `writing`: then it holds the history's lock too.
  bool for_writing() const { return m_writing; }

  WriteLock(WriteLock&& other) noexcept;
  WriteLock& operator=(WriteLock&& other) noexcept;
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;
  ~WriteLock();

 private:
  WriteLock() = default;
  void release();
  int m_checkout = -1;
  int m_history = -1;
  bool m_writing = false;
};

/// Takes the lock of the file `path` (created when missing) as WriteLock::acquire does, for
/// another promote writing `what` ("in this checkout"); returns its descriptor, which holds the
/// lock until it is closed.
Result<int> lock_file(const std::filesystem::path& path, const std::string& what);

/// How long a writer waits for a lock: $PROMOTE_LOCK_TIMEOUT (a duration, "90s", "5m", or
/// seconds), default 5 minutes. Fails (usage) on a value that is neither.
Result<std::chrono::seconds> lock_timeout();

}  // namespace promote::promoter
