// Repository in general: open, the working tree and its changed files, the current branch,
// remotes' URLs, and reading the history (resolve, walk, last change, a file or a tree at a
// revision, trailers). Clone, fetch and move_to are in clone.cpp, commits in commit.cpp,
// pushes in push.cpp, notes in notes.cpp; their shared helpers in libgit2.hpp.
#include "engine/git/repository.hpp"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

#include "engine/git/libgit2.hpp"

namespace promote::git {

namespace fs = std::filesystem;
using namespace detail;  // the helpers of libgit2.hpp

namespace {

bool is_under(std::string_view file, std::string_view prefix) {
  if (prefix.empty() || file == prefix) {
    return true;
  }
  return file.size() > prefix.size() && file.starts_with(prefix) && file[prefix.size()] == '/';
}

bool is_under_any(std::string_view file, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& prefix) { return is_under(file, prefix); });
}

CommitInfo commit_info(const git_commit* commit) {
  const char* message = git_commit_message(commit);
  return CommitInfo{
      to_hex(git_commit_id(commit)),
      message == nullptr ? std::string() : std::string(message),
      std::chrono::system_clock::from_time_t(static_cast<std::time_t>(git_commit_time(commit))),
  };
}

/// Id and mode of what `path` ("" for the root) names in `tree`, or nullopt when absent.
Result<std::optional<std::pair<git_oid, git_filemode_t>>> entry_at(const git_tree* tree,
                                                                   const std::string& path) {
  if (tree == nullptr) {
    return std::nullopt;
  }
  if (path.empty()) {
    return std::make_pair(*git_tree_id(tree), GIT_FILEMODE_TREE);
  }
  git_tree_entry* raw = nullptr;
  const int code = git_tree_entry_bypath(&raw, tree, path.c_str());
  if (code == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  if (code < 0) {
    return failure("cannot look up '" + path + "'");
  }
  const TreeEntryPtr entry(raw);
  return std::make_pair(*git_tree_entry_id(entry.get()), git_tree_entry_filemode(entry.get()));
}

/// Whether `commit` changed anything under `prefixes` compared with its first parent.
Result<bool> changes_under(const git_commit* commit, const std::vector<std::string>& prefixes) {
  const std::string id = to_hex(git_commit_id(commit));
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, commit) < 0) {
    return failure("cannot read the tree of commit " + id);
  }
  const TreePtr tree(raw_tree);
  TreePtr parent_tree;
  if (git_commit_parentcount(commit) > 0) {
    git_commit* raw_parent = nullptr;
    if (git_commit_parent(&raw_parent, commit, 0) < 0) {
      return failure("cannot read the first parent of commit " + id);
    }
    const CommitPtr parent(raw_parent);
    if (git_commit_tree(&raw_tree, parent.get()) < 0) {
      return failure("cannot read the tree of commit " + to_hex(git_commit_id(parent.get())));
    }
    parent_tree.reset(raw_tree);
  }
  for (const auto& prefix : prefixes) {
    auto now = entry_at(tree.get(), prefix);
    if (!now) {
      return now.error();
    }
    auto before = entry_at(parent_tree.get(), prefix);
    if (!before) {
      return before.error();
    }
    if (now->has_value() != before->has_value()) {
      return true;
    }
    if (now->has_value() && ((*now)->second != (*before)->second ||
                             !git_oid_equal(&(*now)->first, &(*before)->first))) {
      return true;
    }
  }
  return false;
}

}  // namespace

void Repository::Free::operator()(git_repository* repository) const {
  git_repository_free(repository);
}

Repository::Repository(git_repository* repository) : m_repository(repository) {}
Repository::Repository(Repository&&) noexcept = default;
Repository& Repository::operator=(Repository&&) noexcept = default;
Repository::~Repository() = default;

Result<Repository> Repository::open(const fs::path& path) {
  ensure_init();
  const std::string doing = "cannot open repository at " + path.string();
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, path.c_str(), 0, nullptr) < 0) {
    return failure(doing);
  }
  Repository repository(raw);
  if (git_repository_is_bare(raw) != 0) {
    return problem(doing, "it is a bare repository, and promote needs a working tree");
  }
  return repository;
}

Result<bool> tracked_by_git(const fs::path& file) {
  ensure_init();
  const std::string doing = "cannot tell whether git tracks " + file.string();
  std::error_code ec;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(file, ec), ec);
  git_repository* raw = nullptr;
  const int code = git_repository_open_ext(&raw, absolute.parent_path().c_str(), 0, nullptr);
  if (code == GIT_ENOTFOUND) {
    return false;
  }
  if (code < 0) {
    return failure(doing);
  }
  const Owned<git_repository, git_repository_free> repository(raw);
  const char* workdir = git_repository_workdir(raw);
  if (workdir == nullptr) {
    return false;  // bare
  }
  const fs::path relative =
      absolute.lexically_relative(fs::weakly_canonical(fs::path(workdir).parent_path(), ec));
  if (relative.empty() || *relative.begin() == "..") {
    return false;
  }
  auto index = current_index(raw, doing);
  if (!index) {
    return index.error();
  }
  return git_index_get_bypath(index->get(), relative.generic_string().c_str(), 0) != nullptr;
}

Result<std::optional<std::string>> Repository::remote_url(const std::string& name) const {
  git_remote* raw = nullptr;
  const int code = lookup_remote(&raw, m_repository.get(), name);
  if (code == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  if (code < 0) {
    return failure("cannot read the remote " + name + " of " + workdir().string());
  }
  const RemotePtr remote(raw);
  const char* url = git_remote_url(remote.get());
  return std::string(url == nullptr ? "" : url);
}

fs::path Repository::workdir() const {
  const char* path = git_repository_workdir(m_repository.get());
  return fs::path(path == nullptr ? "" : path).parent_path();
}

fs::path Repository::git_dir() const {
  const char* path = git_repository_commondir(m_repository.get());
  return fs::path(path == nullptr ? "" : path).parent_path();
}

namespace {

/// Of `files` (read a moment ago as `as_read`), those not known to be as HEAD has them. A file
/// is known to be when its contents hash to the blob HEAD and the index both hold, and its
/// size and mode on disk are those recorded; the rest is left to a status walk, which knows
/// filters and core.filemode.
Result<std::vector<std::string>> not_known_clean(git_repository* repository, const fs::path& root,
                                                 const std::vector<std::string>& files,
                                                 const std::vector<std::string_view>& as_read,
                                                 const std::string& doing) {
  git_object* raw_tree = nullptr;
  const int head_code = git_revparse_single(&raw_tree, repository, "HEAD^{tree}");
  if (head_code < 0) {
    return is_missing(head_code) ? Result<std::vector<std::string>>(files) : failure(doing);
  }
  const ObjectPtr tree_object(raw_tree);
  const auto* tree = reinterpret_cast<const git_tree*>(tree_object.get());
  auto index = current_index(repository, doing);
  if (!index) {
    return index.error();
  }
  std::vector<std::string> unsure;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string& file = files[i];
    auto in_head = entry_at(tree, file);
    if (!in_head) {
      return in_head.error();
    }
    const git_index_entry* staged = git_index_get_bypath(index->get(), file.c_str(), 0);
    struct stat info {};
    git_oid read_id;
    const bool clean =
        in_head->has_value() && staged != nullptr && (*in_head)->second == staged->mode &&
        git_oid_equal(&(*in_head)->first, &staged->id) &&
        ::lstat((root / file).c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        static_cast<std::size_t>(info.st_size) == as_read[i].size() &&
        staged->mode == ((info.st_mode & S_IXUSR) != 0 ? GIT_FILEMODE_BLOB_EXECUTABLE
                                                        : GIT_FILEMODE_BLOB) &&
        git_odb_hash(&read_id, as_read[i].data(), as_read[i].size(), GIT_OBJECT_BLOB) == 0 &&
        git_oid_equal(&read_id, &staged->id);
    if (!clean) {
      unsure.push_back(file);
    }
  }
  return unsure;
}

}  // namespace

Result<std::string> Repository::current_branch() const {
  return head_branch(m_repository.get(),
                     "cannot tell the current branch of " + workdir().string());
}

Result<std::vector<std::string>> Repository::dirty_paths(
    const std::vector<std::string>& paths, const std::vector<std::string_view>& as_read) const {
  const std::string doing = "cannot list the changed files in " + workdir().string();
  auto prefixes = repository_paths(paths, doing, true);
  if (!prefixes) {
    return prefixes.error();
  }
  if (!as_read.empty()) {
    if (as_read.size() != prefixes->size()) {
      return problem(doing, "the contents given are not those of the paths given");
    }
    auto unsure = not_known_clean(m_repository.get(), workdir(), *prefixes, as_read, doing);
    if (!unsure) {
      return unsure.error();
    }
    if (unsure->empty()) {
      return std::vector<std::string>{};
    }
    prefixes = std::move(*unsure);
  }
  git_status_options options;
  git_status_options_init(&options, GIT_STATUS_OPTIONS_VERSION);
  options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  options.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS;
  // Files only (what a promotion writes): name them exactly, so only they are compared.
  const fs::path root = workdir();
  std::vector<char*> specs;
  if (std::none_of(prefixes->begin(), prefixes->end(), [&](const std::string& path) {
        return path.empty() || fs::is_directory(root / path);
      })) {
    for (const auto& path : *prefixes) {
      specs.push_back(const_cast<char*>(path.c_str()));
    }
    options.pathspec = git_strarray{specs.data(), specs.size()};
    options.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH;
  }
  git_status_list* raw = nullptr;
  if (git_status_list_new(&raw, m_repository.get(), &options) < 0) {
    return failure(doing);
  }
  const StatusListPtr list(raw);
  std::set<std::string> dirty;
  const auto keep = [&](const git_diff_delta* delta) {
    if (delta == nullptr) {
      return;
    }
    for (const char* path : {delta->old_file.path, delta->new_file.path}) {
      if (path != nullptr && is_under_any(path, *prefixes)) {
        dirty.insert(path);
      }
    }
  };
  const std::size_t count = git_status_list_entrycount(list.get());
  for (std::size_t i = 0; i < count; ++i) {
    const git_status_entry* entry = git_status_byindex(list.get(), i);
    if (entry->status == GIT_STATUS_CURRENT || (entry->status & GIT_STATUS_IGNORED) != 0) {
      continue;
    }
    keep(entry->head_to_index);
    keep(entry->index_to_workdir);
  }
  return std::vector<std::string>(dirty.begin(), dirty.end());
}

Result<std::optional<std::string>> Repository::resolve(const std::string& revision) const {
  const std::string doing = "cannot resolve revision '" + revision + "'";
  git_object* raw = nullptr;
  const int code = git_revparse_single(&raw, m_repository.get(), revision.c_str());
  if (is_missing(code)) {
    return std::nullopt;
  }
  if (code < 0) {
    return failure(doing);
  }
  const ObjectPtr object(raw);
  git_object* raw_commit = nullptr;
  if (git_object_peel(&raw_commit, object.get(), GIT_OBJECT_COMMIT) < 0) {
    return failure(doing);
  }
  const ObjectPtr commit(raw_commit);
  return to_hex(git_object_id(commit.get()));
}

bool Repository::descends_from(const std::string& commit, const std::string& ancestor) const {
  git_oid of;
  git_oid from;
  if (commit.size() != 40 || ancestor.size() != 40 ||
      git_oid_fromstrn(&of, commit.data(), commit.size()) < 0 ||
      git_oid_fromstrn(&from, ancestor.data(), ancestor.size()) < 0) {
    return false;
  }
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, m_repository.get()) < 0) {
    return false;
  }
  const bool both = git_odb_exists(raw, &of) == 1 && git_odb_exists(raw, &from) == 1;
  git_odb_free(raw);
  return both && (git_oid_equal(&of, &from) ||
                  git_graph_descendant_of(m_repository.get(), &of, &from) == 1);
}

Result<std::optional<bool>> Repository::contains(const std::string& revision,
                                                 const std::string& commit) const {
  const auto is_hex = [](const std::string& id) {
    return id.size() == GIT_OID_HEXSZ &&
           id.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  };
  git_oid tip;
  if (!is_hex(revision) || git_oid_fromstrn(&tip, revision.data(), revision.size()) < 0) {
    return std::nullopt;
  }
  const std::string doing =
      "cannot tell whether commit " + commit.substr(0, 12) + " is in " + revision.substr(0, 12);
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, m_repository.get()) < 0) {
    return failure(doing);
  }
  const Owned<git_odb, git_odb_free> odb(raw);
  git_object* object = nullptr;
  const int looked = git_object_lookup(&object, m_repository.get(), &tip, GIT_OBJECT_COMMIT);
  const ObjectPtr owned(object);
  if (is_missing(looked) || looked == GIT_EINVALIDSPEC) {
    return std::nullopt;
  }
  if (looked < 0) {
    return failure(doing);
  }
  git_oid of;
  if (!is_hex(commit) || git_oid_fromstrn(&of, commit.data(), commit.size()) < 0 ||
      git_odb_exists(odb.get(), &of) != 1) {
    return std::optional<bool>(false);
  }
  if (git_oid_equal(&tip, &of)) {
    return std::optional<bool>(true);
  }
  const int descends = git_graph_descendant_of(m_repository.get(), &tip, &of);
  if (descends < 0) {
    return failure(doing);
  }
  return std::optional<bool>(descends == 1);
}

namespace {

/// Walks the commits reachable from HEAD, newest first, until `visit` returns false or fails.
Result<void> walk_commits(git_repository* repository,
                          const std::function<Result<bool>(const git_commit*)>& visit,
                          const git_oid* from = nullptr) {
  const std::string doing = "cannot walk the history";
  git_revwalk* raw = nullptr;
  if (git_revwalk_new(&raw, repository) < 0) {
    return failure(doing);
  }
  const RevwalkPtr walker(raw);
  if (git_revwalk_sorting(walker.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) < 0) {
    return failure(doing);
  }
  if (from != nullptr) {
    if (git_revwalk_push(walker.get(), from) < 0) {
      return failure(doing);
    }
  } else {
    const int unborn = git_repository_head_unborn(repository);
    if (unborn < 0) {
      return failure(doing);
    }
    if (unborn == 1) {
      return {};
    }
    if (git_revwalk_push_head(walker.get()) < 0) {
      return failure(doing);
    }
  }
  git_oid id;
  int code = 0;
  while ((code = git_revwalk_next(&id, walker.get())) == 0) {
    git_commit* raw_commit = nullptr;
    if (git_commit_lookup(&raw_commit, repository, &id) < 0) {
      return failure(doing + ": cannot read commit " + to_hex(&id));
    }
    const CommitPtr commit(raw_commit);
    auto more = visit(commit.get());
    if (!more) {
      return more.error();
    }
    if (!*more) {
      return {};
    }
  }
  if (code != GIT_ITEROVER) {
    return failure(doing);
  }
  return {};
}

}  // namespace

Result<void> Repository::walk(const std::function<bool(const CommitInfo&)>& visit) const {
  return walk_commits(m_repository.get(), [&](const git_commit* commit) -> Result<bool> {
    return visit(commit_info(commit));
  });
}

Result<void> Repository::walk_from(const std::string& commit_id,
                                   const std::function<bool(const CommitInfo&)>& visit) const {
  git_oid from;
  if (git_oid_fromstrn(&from, commit_id.data(), commit_id.size()) < 0 || commit_id.size() != 40) {
    return make_error(ErrorKind::git, "cannot walk the history from '" + commit_id +
                                          "': not a commit id");
  }
  return walk_commits(
      m_repository.get(),
      [&](const git_commit* commit) -> Result<bool> { return visit(commit_info(commit)); }, &from);
}

Result<std::optional<CommitInfo>> Repository::last_change(
    const std::vector<std::string>& paths) const {
  auto prefixes = repository_paths(paths, "cannot find the last change", true);
  if (!prefixes) {
    return prefixes.error();
  }
  std::optional<CommitInfo> found;
  if (prefixes->empty()) {
    return found;
  }
  auto walked = walk_commits(m_repository.get(), [&](const git_commit* commit) -> Result<bool> {
    auto changed = changes_under(commit, *prefixes);
    if (!changed) {
      return changed.error();
    }
    if (*changed) {
      found = commit_info(commit);
      return false;
    }
    return true;
  });
  if (!walked) {
    return walked.error();
  }
  return found;
}

namespace {

/// The tree of a revision (a commit, a tag, a tree); `doing` starts the error messages.
Result<ObjectPtr> tree_of(git_repository* repository, const std::string& revision,
                          const std::string& doing) {
  git_object* raw = nullptr;
  const int code = git_revparse_single(&raw, repository, revision.c_str());
  if (is_missing(code)) {
    return problem(doing, "no such revision");
  }
  if (code < 0) {
    return failure(doing);
  }
  const ObjectPtr object(raw);
  git_object* raw_tree = nullptr;
  if (git_object_peel(&raw_tree, object.get(), GIT_OBJECT_TREE) < 0) {
    return failure(doing);
  }
  return ObjectPtr(raw_tree);
}

}  // namespace

Result<void> Repository::export_tree(const std::string& revision,
                                     const std::filesystem::path& dir) const {
  const std::string doing = "cannot write the files of " + revision;
  auto tree = tree_of(m_repository.get(), revision, doing);
  if (!tree) {
    return tree.error();
  }
  git_checkout_options options;
  git_checkout_options_init(&options, GIT_CHECKOUT_OPTIONS_VERSION);
  options.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
  const std::string target = dir.string();
  options.target_directory = target.c_str();
  if (git_checkout_tree(m_repository.get(), tree->get(), &options) < 0) {
    return failure(doing);
  }
  return {};
}

Result<std::optional<std::string>> Repository::read_file(const std::string& revision,
                                                         const std::string& path) const {
  const std::string doing = "cannot read " + path + " at " + revision;
  auto file = repository_path(path, doing, false);
  if (!file) {
    return file.error();
  }
  auto tree = tree_of(m_repository.get(), revision, doing);
  if (!tree) {
    return tree.error();
  }
  git_tree_entry* raw_entry = nullptr;
  const int found = git_tree_entry_bypath(
      &raw_entry, reinterpret_cast<const git_tree*>(tree->get()), file->c_str());
  if (found == GIT_ENOTFOUND) {
    return std::nullopt;
  }
  if (found < 0) {
    return failure(doing);
  }
  const TreeEntryPtr entry(raw_entry);
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) {
    return problem(doing, "it is not a file");
  }
  git_blob* raw_blob = nullptr;
  if (git_blob_lookup(&raw_blob, m_repository.get(), git_tree_entry_id(entry.get())) < 0) {
    return failure(doing);
  }
  const BlobPtr blob(raw_blob);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

std::vector<std::pair<std::string, std::string>> trailers(std::string_view message) {
  ensure_init();
  const std::string text(message);
  git_message_trailer_array array{};
  std::vector<std::pair<std::string, std::string>> out;
  if (git_message_trailers(&array, text.c_str()) < 0) {
    throw Exception(make_error(ErrorKind::internal,
                               "cannot parse the trailers of a commit message: " + last_error()));
  }
  for (std::size_t i = 0; i < array.count; ++i) {
    std::string value;
    for (const char* c = array.trailers[i].value; *c != '\0'; ++c) {
      if (*c != '\n') {
        value += *c;
        continue;
      }
      while (c[1] == ' ' || c[1] == '\t') {
        ++c;
      }
      value += ' ';
    }
    out.emplace_back(array.trailers[i].key, std::move(value));
  }
  git_message_trailer_array_free(&array);
  return out;
}

std::string trailer(std::string_view message, std::string_view key) {
  const auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (auto& [name, value] : trailers(message)) {
    if (same(name, key)) {
      return value;
    }
  }
  return {};
}

}  // namespace promote::git
