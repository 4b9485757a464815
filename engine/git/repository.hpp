#pragma once
// The one wrapper around libgit2: open or clone a repository, see what changed, commit,
// push and fetch, and read its history. Only this module includes <git2.h>. Repository is
// defined by concern: repository.cpp (open, status, history), clone.cpp (clone, fetch,
// move_to), commit.cpp, push.cpp and notes.cpp.

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

class Signer;

/// The directory of a remote on this machine ("/srv/git/x.git", "file:///srv/git/x.git"),
/// or nullopt for a network remote.
std::optional<std::filesystem::path> local_path(const std::string& url);

/// Whether `file` is tracked (in the index) by the repository whose working tree holds it;
/// false when no repository holds it (or a bare one). Fails (git) when that repository cannot
/// be read.
Result<bool> tracked_by_git(const std::filesystem::path& file);

/// Who made a commit.
struct Signature {
  std::string name;
  std::string email;
};

/// The signature of a signed commit (its gpgsig header) and the bytes it signs (the commit
/// object without that header), as `git verify-commit` reads them.
struct CommitSignature {
  std::string signature;    ///< armored, as written (an SSH or OpenPGP signature)
  std::string signed_data;  ///< the commit object without its signature
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
/// Remote URLs in messages never carry a user name or password, and no message holds a token
/// or passphrase (see `redact`).
///
/// Remotes (clone, fetch, push) authenticate from the environment only, each credential
/// offered once (a refused one fails at once, naming its variable):
/// - http(s): the token in PROMOTE_GIT_TOKEN (user PROMOTE_GIT_USER, else x-access-token);
///   else, by forge (the provider, else the host: github.com, gitlab.com or gitlab.*,
///   gitea.com, gitea.* or codeberg.org): GITHUB_TOKEN (user x-access-token) for github,
///   GITLAB_TOKEN (user oauth2) then CI_JOB_TOKEN (user gitlab-ci-token) for gitlab,
///   GITEA_TOKEN (user x-access-token) for gitea. A token goes only to the host of the
///   remote's URL: over https, or over plain http only to the very host and port of an
///   http:// URL; a server elsewhere (reached by a redirect) that asks gets nothing.
/// - ssh (ssh://, or scp-like user@host:path; user "git" when the URL has none): the private
///   key file PROMOTE_SSH_KEY (public key beside it as .pub when present, passphrase in
///   PROMOTE_SSH_KEY_PASSPHRASE), else the ssh-agent at SSH_AUTH_SOCK. The host key must be
///   in ~/.ssh/known_hosts or in the file PROMOTE_SSH_KNOWN_HOSTS names, unless
///   PROMOTE_SSH_INSECURE_ACCEPT_HOST=1.
class Repository {
 public:
  /// Opens the repository containing `path` (searching upward); fails when there is none
  /// or it is bare.
  static Result<Repository> open(const std::filesystem::path& path);

  /// Clones the single branch `branch` of `url` into `dir` (absent or empty), without tags,
  /// and checks it out; the clone keeps `provider` (see set_provider). Fails when the remote
  /// cannot be read or has no such branch. (libgit2 1.5 has no shallow clone: all of the
  /// branch's history is fetched.)
  static Result<Repository> clone(const std::string& url, const std::filesystem::path& dir,
                                  const std::string& branch, const std::string& provider = {});

  Repository(Repository&&) noexcept;
  Repository& operator=(Repository&&) noexcept;
  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;
  ~Repository();

  /// The root of the working tree, absolute, without a trailing slash.
  std::filesystem::path workdir() const;

  /// The git directory shared by the working tree and any other worktree of the repository
  /// (".git" of the main one), absolute, without a trailing slash.
  std::filesystem::path git_dir() const;

  /// The forge the remotes are on ("github", "gitlab", "gitea"; "" tells it by the host),
  /// which picks the token variable when PROMOTE_GIT_TOKEN is unset; usually the pipeline's
  /// repository.provider.
  void set_provider(std::string provider) { m_provider = std::move(provider); }

  /// URL of the remote `name` as configured, or nullopt when there is no such remote. It may
  /// hold a user name or password: pass it through `redact` before showing it.
  Result<std::optional<std::string>> remote_url(const std::string& name) const;

  /// Short name of the branch HEAD points at ("main"), also before its first commit;
  /// fails when HEAD is detached.
  Result<std::string> current_branch() const;

  /// Sorted paths (relative to the workdir) under any of `paths` (relative files or
  /// directories, "." for all) that differ from HEAD in the index or the working tree,
  /// untracked files included, ignored ones not. Fails on a path outside the repository.
  /// `as_read`, when not empty, holds the contents of each of `paths` (files, in that order)
  /// as the caller read them a moment ago: a file whose contents, size and mode are those HEAD
  /// and the index both hold is clean without the walk of HEAD's trees a status takes.
  Result<std::vector<std::string>> dirty_paths(
      const std::vector<std::string>& paths,
      const std::vector<std::string_view>& as_read = {}) const;

  /// Commits exactly these files as they are on disk (a missing file is deleted) on the
  /// current branch, author and committer `who` at the current time, and stages them in
  /// the index; whatever else is staged stays staged and out of the commit. Returns the
  /// new commit id (40 hex). Fails when HEAD is detached, a path is a directory or lies
  /// outside the repository, or nothing would change. With `expected`, fails (conflict) and
  /// commits nothing when HEAD is not `expected->parent` or a file does not hold what
  /// `expected->contents` says (one per path, in order): something else wrote meanwhile.
  /// With `signer`, the commit is signed as `git commit -S` with gpg.format=ssh signs it (a
  /// gpgsig header, namespace "git"); fails (input), committing nothing, when it cannot sign.
  struct Expected {
    std::string parent;  ///< "" for the first commit
    std::vector<std::string_view> contents;
  };
  Result<std::string> commit(const std::vector<std::string>& paths, const std::string& message,
                             const Signature& who, const Expected* expected = nullptr,
                             const Signer* signer = nullptr);

  /// The identity in git config (user.name and user.email), or nullopt when either is unset.
  std::optional<Signature> default_signature() const;

  /// Pushes refs/heads/<branch> to refs/heads/<branch> of `remote` ("origin"); `force`
  /// replaces the remote branch whatever it holds (for promote's own PR branches). Fails with
  /// `ErrorKind::conflict` when the remote has commits that are not present locally, and
  /// with `ErrorKind::git` when it rejects the update for another reason or cannot be
  /// reached, or when it refuses the credentials (see the class comment).
  Result<void> push(const std::string& remote, const std::string& branch, bool force = false);

  /// Pushes the local ref `ref` ("refs/notes/promote") to the same ref of `remote`, as `push`
  /// does a branch (a compare-and-swap unless `force`; `ErrorKind::conflict` when the remote
  /// holds commits that are not present locally).
  Result<void> push_ref(const std::string& remote, const std::string& ref, bool force = false);

  /// Fetches the ref `remote_ref` of `remote` into the local ref `local_ref` (replacing what
  /// it held). Returns false, changing nothing, when the remote has no such ref; fails when
  /// the remote cannot be reached.
  Result<bool> fetch_ref(const std::string& remote, const std::string& remote_ref,
                         const std::string& local_ref);

  /// The git note of `commit_id` under `notes_ref` ("refs/notes/promote"), or nullopt when it
  /// has none (or there are no notes yet).
  Result<std::optional<std::string>> note(const std::string& notes_ref,
                                          const std::string& commit_id) const;

  /// Adds `lines` (each without a newline) to the note of `commit_id` under `notes_ref`,
  /// after those it holds, leaving out any line it holds already; one notes commit by `who`
  /// (none when nothing is new). The ref moves by compare-and-swap, so two writers on this
  /// repository at once both land.
  Result<void> append_note(const std::string& notes_ref, const std::string& commit_id,
                           const std::vector<std::string>& lines, const Signature& who);

  /// Makes `notes_ref` hold every note line of `other_ref` and its own: the notes commit of
  /// `other_ref` plus one notes commit with the lines only `notes_ref` had, so that a push of
  /// `notes_ref` over `other_ref` fast-forwards. `notes_ref` simply takes `other_ref` when it
  /// has no lines of its own. Nothing changes when `other_ref` does not exist.
  Result<void> rebase_notes(const std::string& notes_ref, const std::string& other_ref,
                            const Signature& who);

  /// Visits every note under `notes_ref` (annotated commit id, text); none when the ref does
  /// not exist.
  Result<void> for_each_note(
      const std::string& notes_ref,
      const std::function<void(const std::string& commit_id, const std::string& text)>& visit) const;

  /// Fetches `branch` of `remote` into refs/remotes/<remote>/<branch>; fails when the
  /// remote cannot be reached or has no such branch.
  Result<void> fetch(const std::string& remote, const std::string& branch);

  /// Commit id of a revision ("HEAD", "origin/main", an id), or nullopt when it does not
  /// exist; fails when it is malformed or names something that is not a commit.
  Result<std::optional<std::string>> resolve(const std::string& revision) const;

  /// Whether commit `ancestor` is `commit` or one of its ancestors; false when either is not
  /// a commit id this repository has.
  bool descends_from(const std::string& commit, const std::string& ancestor) const;

  /// Whether commit `commit` is `revision` or one of its ancestors (both 40 hex): nullopt when
  /// this repository has no commit `revision` (or it is no commit id), false when it has no
  /// commit `commit`. Fails (git) when the object database or the graph cannot be read.
  Result<std::optional<bool>> contains(const std::string& revision,
                                       const std::string& commit) const;

  /// Visits the commits reachable from HEAD, newest committer time first, until `visit`
  /// returns false; visits nothing before the first commit.
  Result<void> walk(const std::function<bool(const CommitInfo&)>& visit) const;

  /// `walk` from the commit `commit_id` (40 hex) instead of HEAD; fails when it is not a
  /// commit of this repository.
  Result<void> walk_from(const std::string& commit_id,
                         const std::function<bool(const CommitInfo&)>& visit) const;

  /// The newest commit reachable from HEAD that changed anything under `paths` (compared
  /// with its first parent; a root commit changes all it contains), or nullopt.
  Result<std::optional<CommitInfo>> last_change(const std::vector<std::string>& paths) const;

  /// Writes the files of `revision`'s tree into `dir` (an empty directory outside the working
  /// tree), leaving the working tree, the index and HEAD alone: a stage's files as they were
  /// at a commit, for the readers that take a directory. Fails (git) when the revision is
  /// unknown or the files cannot be written.
  Result<void> export_tree(const std::string& revision, const std::filesystem::path& dir) const;

  /// Contents of the file `path` at `revision`, or nullopt when it does not exist there;
  /// fails when the revision does not exist or `path` is a directory.
  Result<std::optional<std::string>> read_file(const std::string& revision,
                                               const std::string& path) const;

  /// Moves the current branch to `commit_id` (usually the remote's new head after a fetch)
  /// and checks it out like a fast-forward: files that differ between HEAD and the commit
  /// are updated in the index and the working tree, other local changes stay. Fails with
  /// `ErrorKind::conflict` when a local change would be overwritten, or when the branch has
  /// commits the target does not contain (they would be lost).
  Result<void> move_to(const std::string& commit_id);

  /// What `commit_on_branch` did.
  struct CommitOnBranch {
    std::string id;  ///< the commit the branch points at
    bool created;    ///< false: `reuse` already was this change on this parent
  };

  /// Writes a commit whose parent is `parent_id` and whose tree is the parent's with each
  /// of `files` (path relative to the root, contents) replaced, and points
  /// refs/heads/<branch> at it (created or moved). HEAD, the index and the working tree are
  /// not touched. When `reuse` names a commit with that same tree and that one parent, the
  /// branch points at it and no commit is made (signed or not). Fails on a path outside the
  /// repository or when the parent does not exist. `signer` signs the commit as `commit` does.
  Result<CommitOnBranch> commit_on_branch(
      const std::string& branch, const std::string& parent_id,
      const std::vector<std::pair<std::string, std::string>>& files, const std::string& message,
      const Signature& who, const std::optional<std::string>& reuse = std::nullopt,
      const Signer* signer = nullptr);

  /// The signature of the commit `commit_id` (40 hex) and what it signs, or nullopt when the
  /// commit is not signed. Says nothing of whether the signature holds: pass both to `verify`
  /// (signing.hpp) with namespace "git". Fails (git) when there is no such commit.
  Result<std::optional<CommitSignature>> commit_signature(const std::string& commit_id) const;

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
  std::string m_provider;
  /// The last commit `commit` stored as one pack (every object it has beyond its parent): a
  /// push onto a remote whose branch is at that parent sends the same pack.
  struct Packed {
    std::string commit;  ///< 40 hex
    std::string parent;  ///< 40 hex
    std::string pack;
  };
  std::optional<Packed> m_packed;
};

/// Whether this build of libgit2 reaches ssh remotes (it was built with SSH support).
bool supports_ssh();

/// The environment variable whose credential a clone, fetch or push of `url` would offer
/// (see the Repository class comment) with `provider` as the forge hint: "PROMOTE_GIT_TOKEN",
/// "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN" or "GITEA_TOKEN" for http(s),
/// "PROMOTE_SSH_KEY" or "SSH_AUTH_SOCK" for ssh; "" when none is set.
std::string credential_variable(std::string_view url, std::string_view provider = {});

/// `text` with every secret promote reads (the tokens and the SSH key passphrase in the
/// environment) replaced by "***" and the user name and password of every scheme://URL
/// removed; for any message that may hold a remote URL or what a remote said.
std::string redact(std::string text);

/// Git trailers of a commit message ("Key: value" lines of its final paragraph, which is
/// not the subject), in order, keys as written; empty when there are none.
std::vector<std::pair<std::string, std::string>> trailers(std::string_view message);

/// Value of the first trailer whose key matches `key` ignoring case, or "".
std::string trailer(std::string_view message, std::string_view key);

}  // namespace promote::git
