// Repository's clone, fetch and fetch_ref, and move_to (the branch to a fetched head, as a
// fast-forward).
#include <git2.h>

#include <algorithm>

#include "engine/git/libgit2.hpp"
#include "engine/git/repository.hpp"

namespace promote::git {

namespace fs = std::filesystem;
using namespace detail;  // the helpers of libgit2.hpp

namespace {

int create_single_branch_remote(git_remote** out, git_repository* repository, const char* name,
                                const char* url, void* payload) {
  const auto& branch = *static_cast<const std::string*>(payload);
  const std::string refspec =
      "+refs/heads/" + branch + ":refs/remotes/" + std::string(name) + "/" + branch;
  return git_remote_create_with_fetchspec(out, repository, name, url, refspec.c_str());
}

}  // namespace

Result<Repository> Repository::clone(const std::string& url, const fs::path& dir,
                                     const std::string& branch, const std::string& provider) {
  ensure_init();
  const std::string doing = "cannot clone " + url + " (branch " + branch + ") into " + dir.string();
  if (const std::string why = detail::unsupported(url); !why.empty()) {
    return problem(doing, why);
  }
  RemoteContext context{url, provider, {}, 0, 0, {}};
  git_clone_options options;
  git_clone_options_init(&options, GIT_CLONE_OPTIONS_VERSION);
  options.checkout_branch = branch.c_str();
  options.remote_cb = create_single_branch_remote;
  options.remote_cb_payload = const_cast<std::string*>(&branch);
  options.fetch_opts.callbacks = remote_callbacks(context);
  options.fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  // A file:// URL names a repository on this machine: its objects are copied, as libgit2 does
  // for a path, instead of going through its local transport, which walks the whole history
  // and packs it again in this process (over a minute for 100,000 commits, where the copy
  // takes a second: tests/bench/bench_remote.sh). Copied, not linked, as git does for file://
  // URLs.
  // Not with alternates: the copy would carry them, and the clone would go on borrowing
  // another repository's objects (or, by a relative path, lead nowhere).
  if (const auto path = url.starts_with("file://") ? local_path(url) : std::nullopt) {
    std::error_code ec;
    if (!fs::exists(*path / "objects/info/alternates", ec) &&
        !fs::exists(*path / ".git/objects/info/alternates", ec)) {
      options.local = GIT_CLONE_LOCAL_NO_LINKS;
    }
  }
  git_repository* raw = nullptr;
  const int code = git_clone(&raw, url.c_str(), dir.c_str(), &options);
  if (code == GIT_ENOTFOUND && context.failure.empty() &&
      last_error() == "reference 'refs/remotes/origin/" + branch + "' not found") {
    return problem(doing, "the remote has no branch " + branch);
  }
  if (code < 0) {
    return remote_failure(doing, context);
  }
  Repository repository(raw);
  repository.set_provider(provider);
  return repository;
}

Result<void> Repository::fetch(const std::string& remote_name, const std::string& branch) {
  auto fetched = fetch_ref(remote_name, "refs/heads/" + branch,
                           "refs/remotes/" + remote_name + "/" + branch);
  if (!fetched) {
    return fetched.error();
  }
  if (!*fetched) {
    auto url = remote_url(remote_name);
    const std::string shown = url && *url ? " (" + redact(**url) + ")" : std::string();
    return problem("cannot fetch " + branch + " from " + remote_name + shown,
                   "the remote has no branch " + branch);
  }
  return {};
}

Result<bool> Repository::fetch_ref(const std::string& remote_name, const std::string& source,
                                   const std::string& destination) {
  const std::string shown =
      source.starts_with("refs/heads/") ? source.substr(std::string("refs/heads/").size()) : source;
  std::string doing = "cannot fetch " + shown + " from " + remote_name;
  git_remote* raw = nullptr;
  if (lookup_remote(&raw, m_repository.get(), remote_name) < 0) {
    return failure(doing);
  }
  const RemotePtr remote(raw);
  const char* url = git_remote_url(remote.get());
  RemoteContext context{url == nullptr ? "" : url, m_provider, {}, 0, 0, {}};
  doing += " (" + redact(context.url) + ")";
  if (const std::string why = detail::unsupported(context.url); !why.empty()) {
    return problem(doing, why);
  }

  git_remote_connect_options connect;
  git_remote_connect_options_init(&connect, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
  connect.callbacks = remote_callbacks(context);
  if (git_remote_connect_ext(remote.get(), GIT_DIRECTION_FETCH, &connect) < 0) {
    return remote_failure(doing, context);
  }
  const git_remote_head** heads = nullptr;
  std::size_t count = 0;
  if (git_remote_ls(&heads, &count, remote.get()) < 0) {
    return remote_failure(doing, context);
  }
  const bool present = std::any_of(heads, heads + count, [&](const git_remote_head* head) {
    return source == head->name;
  });
  if (!present) {
    git_remote_disconnect(remote.get());
    return false;
  }

  std::string refspec = "+" + source + ":" + destination;
  char* specs[] = {refspec.data()};
  const git_strarray refspecs{specs, 1};
  git_fetch_options options;
  git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION);
  options.callbacks = connect.callbacks;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  if (git_remote_download(remote.get(), &refspecs, &options) < 0) {
    return remote_failure(doing, context);
  }
  if (git_remote_update_tips(remote.get(), &options.callbacks, 1, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
                             nullptr) < 0) {
    return remote_failure(doing, context);
  }
  if (git_remote_disconnect(remote.get()) < 0) {
    return remote_failure(doing, context);
  }
  return true;
}

Result<void> Repository::move_to(const std::string& commit_id) {
  const std::string doing = "cannot move to " + commit_id.substr(0, 12);
  auto branch = head_branch(m_repository.get(), doing);
  if (!branch) {
    return branch.error();
  }
  auto found = commit_object(m_repository.get(), commit_id, doing);
  if (!found) {
    return found.error();
  }
  const ObjectPtr target = std::move(found->second);
  const git_oid id = found->first;
  git_oid head;
  if (const int code = git_reference_name_to_id(&head, m_repository.get(), "HEAD"); code == 0) {
    if (git_oid_equal(&head, &id)) {
      // Already there (the fetch brought nothing new): no file differs between HEAD and the
      // commit, and a checkout would walk the whole working tree only to find that out.
      return {};
    }
    if (git_graph_descendant_of(m_repository.get(), &id, &head) != 1) {
      return make_error(ErrorKind::conflict,
                        redact(doing + ": the branch has commits that " + commit_id.substr(0, 12) +
                               " does not contain; push or drop them first"));
    }
  } else if (!is_missing(code)) {
    return failure(doing);
  }
  git_checkout_options options;
  git_checkout_options_init(&options, GIT_CHECKOUT_OPTIONS_VERSION);
  options.checkout_strategy = GIT_CHECKOUT_SAFE;
  const int code = git_checkout_tree(m_repository.get(), target.get(), &options);
  if (code == GIT_ECONFLICT) {
    return make_error(ErrorKind::conflict,
                      redact(doing + ": local changes would be overwritten: " + last_error()));
  }
  if (code < 0) {
    return failure(doing);
  }
  git_reference* moved = nullptr;
  const std::string reference = "refs/heads/" + *branch;
  if (git_reference_create(&moved, m_repository.get(), reference.c_str(), &id, 1,
                           "promote: move to the remote's head") < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  return {};
}

}  // namespace promote::git
