#pragma once
// The one wrapper around libgit2: open or clone a repository, see what changed, commit,
// push and fetch, and read its history. Only this module includes <git2.h>.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

struct git_repository;

namespace promote::git {

/// Who made a commit.
struct Signature {
  std::string name;
  std::string email;
};

/// One commit as the history walk sees it.
struct CommitInfo {
  std::string id;       ///< 40 hex
  std::string message;  ///< the full message
  std::chrono::system_clock::time_point time;  ///< committer time
};

/// A non-bare repository with a working tree; movable, not copyable. Every failure is an
/// `ErrorKind::git` error whose message says what was being done and what libgit2 said,
/// except a push the remote refuses because it moved on, which is `ErrorKind::conflict`.
/// Remote URLs in messages never carry a user name or password.
class Repository {
 public:
  /// Opens the repository containing `path` (searching upward); fails when there is none
  /// or it is bare.
  static Result<Repository> open(const std::filesystem::path& path);

  /// Clones the single branch `branch` of `url` into `dir` (absent or empty) and checks it
  /// out; fails when the remote cannot be read or has no such branch.
  static Result<Repository> clone(const std::string& url, const std::filesystem::path& dir,
                                  const std::string& branch);

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;
  ~Repository();

  /// The root of the working tree, absolute, without a trailing slash.
  std::filesystem::path workdir() const;

  /// Short name of the branch HEAD points at ("main"), also before its first commit;
  /// fails when HEAD is detached.
  Result<std::string> current_branch() const;

  /// Sorted paths (relative to the workdir) under any of `paths` (relative files or
  /// directories, "." for all) that differ from HEAD in the index or the working tree,
  /// untracked files included, ignored ones not. Fails on a path outside the repository.
  Result<std::vector<std::string>> dirty_paths(const std::vector<std::string>& paths) const;

  /// Commits exactly these files as they are on disk (a missing file is deleted) on the
  /// current branch, author and committer `who` at the current time, and stages them in
  /// the index; whatever else is staged stays staged and out of the commit. Returns the
  /// new commit id (40 hex). Fails when HEAD is detached, a path is a directory or lies
  /// outside the repository, or nothing would change.
  Result<std::string> commit(const std::vector<std::string>& paths, const std::string& message,
                             const Signature& who);

  /// The identity in git config (user.name and user.email), or nullopt when either is unset.
  std::optional<Signature> default_signature() const;

  /// Pushes refs/heads/<branch> to refs/heads/<branch> of `remote` ("origin"). Fails with
  /// `ErrorKind::conflict` when the remote has commits that are not present locally, and
  /// with `ErrorKind::git` when it rejects the update for another reason or cannot be
  /// reached. An https remote that asks for credentials gets PROMOTE_GIT_TOKEN.
  Result<void> push(const std::string& remote, const std::string& branch);

  /// Fetches `branch` of `remote` into refs/remotes/<remote>/<branch>; fails when the
  /// remote cannot be reached or has no such branch.
  Result<void> fetch(const std::string& remote, const std::string& branch);

  /// Commit id of a revision ("HEAD", "origin/main", an id), or nullopt when it does not
  /// exist; fails when it is malformed or names something that is not a commit.
  Result<std::optional<std::string>> resolve(const std::string& revision) const;

  /// Visits the commits reachable from HEAD, newest committer time first, until `visit`
  /// returns false; visits nothing before the first commit.
  Result<void> walk(const std::function<bool(const CommitInfo&)>& visit) const;

  /// The newest commit reachable from HEAD that changed anything under `paths` (compared
  /// with its first parent; a root commit changes all it contains), or nullopt.
  Result<std::optional<CommitInfo>> last_change(const std::vector<std::string>& paths) const;

  /// Contents of the file `path` at `revision`, or nullopt when it does not exist there;
  /// fails when the revision does not exist or `path` is a directory.
  Result<std::optional<std::string>> read_file(const std::string& revision,
                                               const std::string& path) const;

  /// Moves the current branch back to `commit_id` and resets the index entries of
  /// `paths` to that commit (the working tree is left as it is): undoes a local commit
  /// that could not be pushed.
  Result<void> reset_branch(const std::string& commit_id, const std::vector<std::string>& paths);

 private:
  struct Free {
    void operator()(git_repository* repository) const;
  };
  explicit Repository(git_repository* repository);

  std::unique_ptr<git_repository, Free> m_repository;
};

/// Git trailers of a commit message ("Key: value" lines of its final paragraph, which is
/// not the subject), in order, keys as written; empty when there are none.
std::vector<std::pair<std::string, std::string>> trailers(std::string_view message);

/// Value of the first trailer whose key matches `key` ignoring case, or "".
std::string trailer(std::string_view message, std::string_view key);

}  // namespace promote::git
