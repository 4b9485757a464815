// Repository's push and push_ref: to a remote on this machine by writing the pack and moving
// the ref by compare-and-swap (push_local, write_pack), elsewhere through libgit2's push;
// and local_path, which tells the two apart.
#include <git2.h>

#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/git/libgit2.hpp"
#include "engine/git/repository.hpp"

namespace promote::git {

namespace fs = std::filesystem;
using namespace detail;  // the helpers of libgit2.hpp

std::optional<fs::path> local_path(const std::string& url) {
  if (url.starts_with("file://")) {
    return fs::path(url.substr(7));
  }
  if (url.find("://") != std::string::npos || url.empty()) {
    return std::nullopt;
  }
  // scp-like "host:path" is a network remote; a path has no ':' before its first '/'.
  const auto colon = url.find(':');
  if (colon != std::string::npos && colon < url.find('/')) {
    return std::nullopt;
  }
  return fs::path(url);
}

namespace {

/// Writes the pack `builder` makes into `pack_dir` (with its index), as git_packbuilder_write
/// does, but hands the pack to the indexer in large pieces: libgit2's indexer maps and unmaps
/// the pack file once per piece it is given, and git_packbuilder_write gives it one object at
/// a time (2,000 maps of a growing file for a promotion into 500 overlays).
/// Returns libgit2's code: negative on failure, with its error set.
int write_pack(git_packbuilder* builder, const std::string& pack_dir, git_odb* odb) {
  git_indexer_options options;
  git_indexer_options_init(&options, GIT_INDEXER_OPTIONS_VERSION);
  git_indexer* raw = nullptr;
  if (const int code = git_indexer_new(&raw, pack_dir.c_str(), 0, odb, &options); code < 0) {
    return code;
  }
  const std::unique_ptr<git_indexer, void (*)(git_indexer*)> indexer(raw, git_indexer_free);
  struct Pending {
    git_indexer* indexer = nullptr;
    git_indexer_progress progress{};
    std::string buffer{};
    int flush() {
      const int code = git_indexer_append(indexer, buffer.data(), buffer.size(), &progress);
      buffer.clear();
      return code;
    }
  } pending{indexer.get()};
  constexpr std::size_t k_piece = 8u << 20;
  pending.buffer.reserve(64u << 10);
  const auto collect = [](void* data, std::size_t size, void* payload) -> int {
    auto& into = *static_cast<Pending*>(payload);
    into.buffer.append(static_cast<const char*>(data), size);
    return into.buffer.size() >= k_piece ? into.flush() : 0;
  };
  int code = git_packbuilder_foreach(builder, collect, &pending);
  if (code == 0 && !pending.buffer.empty()) {
    code = pending.flush();
  }
  return code < 0 ? code : git_indexer_commit(indexer.get(), &pending.progress);
}

/// Moves `ref` of `remote` (whose object store has what `id` needs) from `current` (null: absent)
/// to `id`, if `current` still is an ancestor of `id`, by compare-and-swap.
Result<void> move_ref(git_repository* local, git_repository* remote, const std::string& ref,
                      const git_oid& id, const git_oid* current, const std::string& doing,
                      const std::string& moved_on) {
  git_reference* moved = nullptr;
  int swapped = 0;
  if (current == nullptr) {
    swapped = git_reference_create(&moved, remote, ref.c_str(), &id, 0, "push");
  } else if (git_graph_descendant_of(local, &id, current) != 1) {
    return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
  } else {
    swapped = git_reference_create_matching(&moved, remote, ref.c_str(), &id, 1, current, "push");
  }
  git_reference_free(moved);
  if (swapped == GIT_EMODIFIED || swapped == GIT_EEXISTS || swapped == GIT_ELOCKED) {
    return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
  }
  if (swapped < 0) {
    return failure(doing);
  }
  return {};
}

/// Pushes `id` to `ref` of the repository at `path` on this machine: writes a pack of what
/// it lacks into its object store, then moves `ref` to `id` if it still is an ancestor of `id`
/// (or absent), atomically, by git's ref lock. No ref is created on the way: a temporary ref
/// would show in another push's listing and could vanish under it. `packed`, when it is the
/// pack of `id` over the commit `ref` is at, is sent as it is instead of a pack made anew.
Result<void> push_local(git_repository* local, const fs::path& path, const std::string& ref,
                        const git_oid& id, const std::string& doing, const std::string& moved_on,
                        const std::optional<std::pair<std::string, std::string_view>>& packed) {
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, path.c_str()) < 0 &&
      git_repository_open(&raw, path.c_str()) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_repository, void (*)(git_repository*)> remote(raw, git_repository_free);
  git_odb* raw_remote_odb = nullptr;
  git_odb* raw_local_odb = nullptr;
  if (git_repository_odb(&raw_remote_odb, remote.get()) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_odb, void (*)(git_odb*)> remote_odb(raw_remote_odb, git_odb_free);
  if (git_repository_odb(&raw_local_odb, local) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_odb, void (*)(git_odb*)> local_odb(raw_local_odb, git_odb_free);

  git_oid current;
  const int code = git_reference_name_to_id(&current, remote.get(), ref.c_str());
  if (code < 0 && code != GIT_ENOTFOUND) {
    return failure(doing);
  }
  const bool exists = code == 0;
  if (exists && git_oid_equal(&current, &id)) {
    return {};
  }
  // A head this repository does not have cannot be an ancestor of `id`.
  if (exists && git_odb_exists(local_odb.get(), &current) == 0) {
    return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
  }

  if (packed && exists && packed->first == to_hex(&current)) {
    // The commit was stored as one pack over the remote's head: what the remote lacks.
    if (index_pack(remote_odb.get(), packed->second) < 0) {
      return failure(doing);
    }
    return move_ref(local, remote.get(), ref, id, &current, doing, moved_on);
  }
  // What the remote lacks: everything reachable from `id` but not from its head.
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, local) < 0) {
    return failure(doing);
  }
  const RevwalkPtr walk(raw_walk);
  if (git_revwalk_push(walk.get(), &id) < 0 ||
      (exists && git_revwalk_hide(walk.get(), &current) < 0)) {
    return failure(doing);
  }
  git_packbuilder* raw_pack = nullptr;
  if (git_packbuilder_new(&raw_pack, local) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_packbuilder, void (*)(git_packbuilder*)> pack(raw_pack,
                                                                          git_packbuilder_free);
  if (git_packbuilder_insert_walk(pack.get(), walk.get()) < 0) {
    return failure(doing);
  }
  if (git_packbuilder_object_count(pack.get()) > 0) {
    git_buf objects{};
    if (git_repository_item_path(&objects, remote.get(), GIT_REPOSITORY_ITEM_OBJECTS) < 0) {
      return failure(doing);
    }
    const std::string pack_dir = std::string(objects.ptr) + "pack";
    git_buf_dispose(&objects);
    if (write_pack(pack.get(), pack_dir, remote_odb.get()) < 0) {
      return failure(doing);
    }
    if (git_odb_refresh(remote_odb.get()) < 0) {
      return failure(doing);
    }
  }

  return move_ref(local, remote.get(), ref, id, exists ? &current : nullptr, doing, moved_on);
}

// What a push to `branch` itself does besides: its remote-tracking ref follows (nothing for a
// push that is not of a branch: `branch` "").
Result<void> follow_tracking(git_repository* repository, const std::string& remote_name,
                             const std::string& branch, const git_oid& pushed,
                             const std::string& doing) {
  if (branch.empty()) {
    return {};
  }
  const std::string tracking = "refs/remotes/" + remote_name + "/" + branch;
  git_reference* updated = nullptr;
  if (git_reference_create(&updated, repository, tracking.c_str(), &pushed, 1, "update by push") <
      0) {
    return failure(doing);
  }
  git_reference_free(updated);
  return {};
}

}  // namespace

Result<void> Repository::push(const std::string& remote_name, const std::string& branch,
                              bool force) {
  return push_ref(remote_name, "refs/heads/" + branch, force);
}

Result<void> Repository::push_ref(const std::string& remote_name, const std::string& local,
                                  bool force) {
  const bool is_branch = local.starts_with("refs/heads/");
  const std::string branch = is_branch ? local.substr(std::string("refs/heads/").size()) : local;
  std::string doing = "cannot push " + branch + " to " + remote_name;
  git_remote* raw = nullptr;
  if (lookup_remote(&raw, m_repository.get(), remote_name) < 0) {
    return failure(doing);
  }
  const RemotePtr remote(raw);
  const char* url = git_remote_pushurl(remote.get());
  if (url == nullptr) {
    url = git_remote_url(remote.get());
  }
  RemoteContext context{url == nullptr ? "" : url, m_provider, {}, 0, 0, {}};
  doing += " (" + redact(context.url) + ")";
  if (const std::string why = detail::unsupported(context.url); !why.empty()) {
    return problem(doing, why);
  }

  git_oid local_id;
  const int code = git_reference_name_to_id(&local_id, m_repository.get(), local.c_str());
  if (code == GIT_ENOTFOUND) {
    return problem(doing, is_branch ? "there is no local branch " + branch : "there is no " + local);
  }
  if (code < 0) {
    return failure(doing);
  }

  const std::string moved_on =
      "the remote has changes not present locally; fetch them and try again";
  // libgit2 writes the refs of a remote on this machine without looking at what they hold
  // at that instant, so two pushes at once could both fast-forward from the same commit and
  // one update would be lost. There promote writes the objects itself and moves the branch by
  // compare-and-swap (git's own ref lock), as a git server does.
  if (const std::optional<fs::path> local_remote = force ? std::nullopt : local_path(context.url)) {
    std::optional<std::pair<std::string, std::string_view>> packed;
    if (m_packed && m_packed->commit == to_hex(&local_id)) {
      packed.emplace(m_packed->parent, m_packed->pack);
    }
    if (auto pushed =
            push_local(m_repository.get(), *local_remote, local, local_id, doing, moved_on, packed);
        !pushed) {
      return pushed;
    }
    return follow_tracking(m_repository.get(), remote_name, is_branch ? branch : "", local_id,
                           doing);
  }
  std::string refspec = (force ? "+" : "") + local + ":" + local;
  char* specs[] = {refspec.data()};
  const git_strarray refspecs{specs, 1};
  git_push_options options;
  git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION);
  options.callbacks = remote_callbacks(context);
  const int pushed = git_remote_push(remote.get(), &refspecs, &options);
  if (pushed == GIT_ENONFASTFORWARD) {
    return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
  }
  if (pushed < 0) {
    return remote_failure(doing, context);
  }
  for (const auto& [ref, status] : context.rejected) {
    if (status.find("non-fast-forward") != std::string::npos ||
        status.find("fetch first") != std::string::npos ||
        status.find("stale") != std::string::npos) {
      return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
    }
    return problem(doing, "the remote rejected " + ref + ": " + status);
  }
  // The remote is anonymous (lookup_remote): libgit2 moves no remote-tracking ref itself.
  return follow_tracking(m_repository.get(), remote_name, is_branch ? branch : "", local_id, doing);
}

}  // namespace promote::git
