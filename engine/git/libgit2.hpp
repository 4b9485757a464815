#pragma once
// Internal to engine/git, included only by engine/git/*.cpp (it includes <git2.h>): the
// helpers the parts of Repository share (repository.cpp, clone.cpp, commit.cpp, push.cpp,
// notes.cpp): libgit2 set-up, owners of libgit2 objects, the error helpers, paths in the
// repository, the callbacks of a remote operation, and a few lookups. Defined in libgit2.cpp.

#include <git2.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/git/credentials.hpp"

namespace promote::git::detail {

/// Initialises libgit2 once per process (the object cache).
void ensure_init();

/// Owners of libgit2 objects: a unique_ptr that frees its object with libgit2's `F`.
template <class T, void (*F)(T*)>
struct Releaser {
  void operator()(T* object) const { F(object); }
};
template <class T, void (*F)(T*)>
using Owned = std::unique_ptr<T, Releaser<T, F>>;

using BlobPtr = Owned<git_blob, git_blob_free>;
using CommitPtr = Owned<git_commit, git_commit_free>;
using IndexPtr = Owned<git_index, git_index_free>;
using ObjectPtr = Owned<git_object, git_object_free>;
using ReferencePtr = Owned<git_reference, git_reference_free>;
using RemotePtr = Owned<git_remote, git_remote_free>;
using RevwalkPtr = Owned<git_revwalk, git_revwalk_free>;
using SignaturePtr = Owned<git_signature, git_signature_free>;
using StatusListPtr = Owned<git_status_list, git_status_list_free>;
using TreeEntryPtr = Owned<git_tree_entry, git_tree_entry_free>;
using TreePtr = Owned<git_tree, git_tree_free>;
using TreeBuilderPtr = Owned<git_treebuilder, git_treebuilder_free>;

/// libgit2's last error message, without trailing whitespace.
std::string last_error();

/// A git error: "`doing`: libgit2's last error", redacted.
Error failure(const std::string& doing);

/// A git error: "`doing`: `what`", redacted.
Error problem(const std::string& doing, const std::string& what);

/// The 40 hex digits of `id`.
std::string to_hex(const git_oid* id);

/// Whether a libgit2 code says "not there" (no such object or ref, or an unborn branch).
bool is_missing(int code);

/// A relative path made lexically normal with '/' separators, "" for the root; fails on an
/// absolute path, one that leaves the repository, or one inside .git.
Result<std::string> repository_path(const std::string& path, const std::string& doing,
                                    bool allow_root);

/// `repository_path` of each of `paths`, in order.
Result<std::vector<std::string>> repository_paths(const std::vector<std::string>& paths,
                                                  const std::string& doing, bool allow_root);

/// Remote `name` of `repository` as git_remote_lookup finds it (its url, its pushurl, each
/// rewritten by the longest matching url.BASE.insteadOf, or pushInsteadOf for a push without a
/// pushurl), made without the regular expressions libgit2 1.5 leaks in: git_remote_lookup leaks
/// a match block per configuration entry (fixed in libgit2 after 1.5), which grew a service by
/// a megabyte per evaluation. The remote is anonymous (explicit refspecs only). Returns
/// libgit2's code: GIT_ENOTFOUND, with its error set, when there is no such remote.
int lookup_remote(git_remote** out, git_repository* repository, const std::string& name);

/// The callbacks of a clone, fetch or push: credentials, certificate check, and the push
/// statuses the remote sends (kept in `context.rejected`). For a remote across the network, the
/// CA file of https remotes is set first (PROMOTE_CA_FILE, else SSL_CERT_FILE), once.
git_remote_callbacks remote_callbacks(RemoteContext& context);

/// The error of a failed remote operation: `context.failure` when set, else libgit2's last
/// error with a hint for ssh remotes.
Error remote_failure(const std::string& doing, const RemoteContext& context);

/// Stores the pack `bytes` (a whole pack, not a thin one) in `odb`, with its index, as one
/// piece: libgit2's indexer maps and unmaps the pack file once per piece it is given. Returns
/// libgit2's code: negative on failure, with its error set.
int index_pack(git_odb* odb, std::string_view bytes);

/// The repository's index, read again from disk if it changed there.
Result<IndexPtr> current_index(git_repository* repository, const std::string& doing);

/// The short name of the branch HEAD points at, or an explanation without a prefix.
Result<std::string> head_branch(git_repository* repository, const std::string& doing);

/// The id and object of the commit `commit_id` (40 hex) names.
Result<std::pair<git_oid, ObjectPtr>> commit_object(git_repository* repository,
                                                    const std::string& commit_id,
                                                    const std::string& doing);

}  // namespace promote::git::detail
