#include "engine/git/repository.hpp"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>

#include "engine/git/credentials.hpp"
#include "engine/util/files.hpp"

namespace promote::git {

namespace fs = std::filesystem;

namespace {

void ensure_init() {
  static const int k_init = [] {
    const int count = git_libgit2_init();
    // https remotes are verified against the CA file the HTTP client takes, when one is set.
    for (const char* variable : {"PROMOTE_CA_FILE", "SSL_CERT_FILE"}) {
      if (const char* file = std::getenv(variable); file != nullptr && *file != '\0') {
        git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, static_cast<const char*>(nullptr));
        break;
      }
    }
    // Trees up to 1 MiB stay in the object cache (libgit2 keeps those up to 4 KiB): a
    // directory of 500 services is a 17 KiB tree, looked up once per file below it.
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, std::size_t{1} << 20);
    return count;
  }();
  (void)k_init;
}

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

std::string last_error() {
  const git_error* error = git_error_last();
  std::string message =
      error != nullptr && error->message != nullptr ? error->message : "unknown libgit2 error";
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
    message.pop_back();
  }
  return message.empty() ? "unknown libgit2 error" : message;
}

Error failure(const std::string& doing) {
  return make_error(ErrorKind::git, redact(doing + ": " + last_error()));
}

Error problem(const std::string& doing, const std::string& what) {
  return make_error(ErrorKind::git, redact(doing + ": " + what));
}

std::string to_hex(const git_oid* id) {
  char buffer[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buffer, sizeof buffer, id);
  return buffer;
}

bool is_missing(int code) { return code == GIT_ENOTFOUND || code == GIT_EUNBORNBRANCH; }

/// A relative path made lexically normal with '/' separators, "" for the root; fails on an
/// absolute path, one that leaves the repository, or one inside .git.
Result<std::string> repository_path(const std::string& path, const std::string& doing,
                                    bool allow_root) {
  const fs::path given(path);
  if (given.is_absolute()) {
    return problem(doing, "path '" + path + "' is absolute; give it relative to the repository");
  }
  std::string normal = given.lexically_normal().generic_string();
  while (!normal.empty() && normal.back() == '/') {
    normal.pop_back();
  }
  if (normal == ".") {
    normal.clear();
  }
  if (normal == ".." || normal.starts_with("../")) {
    return problem(doing, "path '" + path + "' is outside the repository");
  }
  if (normal == ".git" || normal.starts_with(".git/")) {
    return problem(doing, "path '" + path + "' is inside .git");
  }
  if (normal.empty() && !allow_root) {
    return problem(doing, "path '" + path + "' is the repository root, not a file");
  }
  return normal;
}

Result<std::vector<std::string>> repository_paths(const std::vector<std::string>& paths,
                                                  const std::string& doing, bool allow_root) {
  std::vector<std::string> out;
  for (const auto& path : paths) {
    auto normal = repository_path(path, doing, allow_root);
    if (!normal) {
      return normal.error();
    }
    out.push_back(*normal);
  }
  return out;
}

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

using detail::RemoteContext;

int record_push_status(const char* refname, const char* status, void* payload) {
  if (status != nullptr) {
    static_cast<RemoteContext*>(payload)->rejected.emplace_back(refname, status);
  }
  return 0;
}

git_remote_callbacks remote_callbacks(RemoteContext& context) {
  git_remote_callbacks callbacks;
  git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
  callbacks.credentials = detail::acquire_credentials;
  callbacks.certificate_check = detail::check_certificate;
  callbacks.push_update_reference = record_push_status;
  callbacks.payload = &context;
  return callbacks;
}

Error remote_failure(const std::string& doing, const RemoteContext& context) {
  if (!context.failure.empty()) {
    return problem(doing, context.failure);
  }
  const std::string said = last_error();
  const std::string hint = detail::ssh_hint(context, said);
  return problem(doing, hint.empty() ? said : said + "; " + hint);
}

int create_single_branch_remote(git_remote** out, git_repository* repository, const char* name,
                                const char* url, void* payload) {
  const auto& branch = *static_cast<const std::string*>(payload);
  const std::string refspec =
      "+refs/heads/" + branch + ":refs/remotes/" + std::string(name) + "/" + branch;
  return git_remote_create_with_fetchspec(out, repository, name, url, refspec.c_str());
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

/// One file of a new tree: the blob `id` with `mode` (0: the mode it has in the base tree, a
/// regular file when it is new), or removed when `id` is nullopt.
struct TreeEdit {
  std::string path;  ///< normal, relative, '/'-separated (see repository_path)
  std::optional<git_oid> id;
  git_filemode_t mode = static_cast<git_filemode_t>(0);
};

/// The directories of a set of edits, as a tree of names.
struct EditNode {
  std::map<std::string, EditNode, std::less<>> directories;
  std::map<std::string, const TreeEdit*, std::less<>> files;
};

/// Writes `tree` (null: none) with the edits of `node` made; nullopt when nothing is left in
/// it, since git keeps no empty directory (the root is written empty: `is_root`).
Result<std::optional<git_oid>> write_edited(git_repository* repository, const git_tree* tree,
                                            const EditNode& node, const std::string& doing,
                                            bool is_root) {
  git_treebuilder* raw_builder = nullptr;
  if (git_treebuilder_new(&raw_builder, repository, tree) < 0) {
    return failure(doing);
  }
  const TreeBuilderPtr builder(raw_builder);
  const auto existing = [&](const std::string& name) -> const git_tree_entry* {
    return tree == nullptr ? nullptr : git_tree_entry_byname(tree, name.c_str());
  };
  const auto remove = [&](const std::string& name) {
    const int code = git_treebuilder_remove(builder.get(), name.c_str());
    return code == 0 || code == GIT_ENOTFOUND;
  };
  for (const auto& [name, edit] : node.files) {
    if (!edit->id) {
      if (!remove(name)) {
        return failure(doing + ": cannot remove '" + edit->path + "'");
      }
      continue;
    }
    git_filemode_t mode = edit->mode;
    if (mode == 0) {
      const git_tree_entry* entry = existing(name);
      mode = entry != nullptr && git_tree_entry_type(entry) == GIT_OBJECT_BLOB
                 ? git_tree_entry_filemode(entry)
                 : GIT_FILEMODE_BLOB;
    }
    if (git_treebuilder_insert(nullptr, builder.get(), name.c_str(), &*edit->id, mode) < 0) {
      return failure(doing + ": cannot stage '" + edit->path + "'");
    }
  }
  for (const auto& [name, child] : node.directories) {
    TreePtr subtree;
    if (const git_tree_entry* entry = existing(name);
        entry != nullptr && git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
      git_tree* raw_tree = nullptr;
      if (git_tree_lookup(&raw_tree, repository, git_tree_entry_id(entry)) < 0) {
        return failure(doing);
      }
      subtree.reset(raw_tree);
    }
    auto written = write_edited(repository, subtree.get(), child, doing, false);
    if (!written) {
      return written.error();
    }
    if (!*written) {
      if (!remove(name)) {
        return failure(doing);
      }
    } else if (git_treebuilder_insert(nullptr, builder.get(), name.c_str(), &**written,
                                      GIT_FILEMODE_TREE) < 0) {
      return failure(doing);
    }
  }
  if (!is_root && git_treebuilder_entrycount(builder.get()) == 0) {
    return std::nullopt;
  }
  git_oid id;
  if (git_treebuilder_write(&id, builder.get()) < 0) {
    return failure(doing);
  }
  return id;
}

/// The id of the tree `base` (null: the empty tree) with `edits` made. Only the trees on the
/// edited paths are read and written, where an index made from `base` would read all of them
/// (and write them again to rebuild its cache of trees): a promotion into 500 overlays of a
/// 20,000-file repository reads 1,500 trees instead of 4,000.
Result<git_oid> edit_tree(git_repository* repository, const git_tree* base,
                          const std::vector<TreeEdit>& edits, const std::string& doing) {
  EditNode root;
  for (const auto& edit : edits) {
    EditNode* node = &root;
    std::string_view rest = edit.path;
    for (auto slash = rest.find('/'); slash != std::string_view::npos; slash = rest.find('/')) {
      node = &node->directories[std::string(rest.substr(0, slash))];
      rest.remove_prefix(slash + 1);
    }
    node->files[std::string(rest)] = &edit;
  }
  auto written = write_edited(repository, base, root, doing, true);
  if (!written) {
    return written.error();
  }
  return **written;
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

Result<std::optional<std::string>> Repository::remote_url(const std::string& name) const {
  git_remote* raw = nullptr;
  const int code = git_remote_lookup(&raw, m_repository.get(), name.c_str());
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

namespace {

/// The repository's index, read again from disk if it changed there.
Result<IndexPtr> current_index(git_repository* repository, const std::string& doing) {
  git_index* raw_index = nullptr;
  if (git_repository_index(&raw_index, repository) < 0) {
    return failure(doing);
  }
  IndexPtr index(raw_index);
  if (git_index_read(index.get(), 0) < 0) {
    return failure(doing);
  }
  return index;
}

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

/// The short name of the branch HEAD points at, or an explanation without a prefix.
Result<std::string> head_branch(git_repository* repository, const std::string& doing) {
  git_reference* raw = nullptr;
  if (git_reference_lookup(&raw, repository, "HEAD") < 0) {
    return failure(doing);
  }
  const ReferencePtr head(raw);
  if (git_reference_type(head.get()) != GIT_REFERENCE_SYMBOLIC) {
    return problem(doing, "HEAD is detached at " +
                              to_hex(git_reference_target(head.get())).substr(0, 12) +
                              "; check out a branch first");
  }
  const std::string target = git_reference_symbolic_target(head.get());
  constexpr std::string_view k_heads = "refs/heads/";
  if (!target.starts_with(k_heads)) {
    return problem(doing, "HEAD points at " + target + ", which is not a branch");
  }
  return target.substr(k_heads.size());
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

Result<std::string> Repository::commit(const std::vector<std::string>& paths,
                                       const std::string& message, const Signature& who) {
  git_repository* repository = m_repository.get();
  const fs::path root = workdir();
  const std::string doing = "cannot commit in " + root.string();
  auto branch = head_branch(repository, doing);
  if (!branch) {
    return branch.error();
  }
  auto files = repository_paths(paths, doing, false);
  if (!files) {
    return files.error();
  }
  if (files->empty()) {
    return problem(doing, "no files given");
  }
  if (message.find_first_not_of(" \t\r\n") == std::string::npos) {
    return problem(doing, "the commit message is empty");
  }

  CommitPtr parent;
  TreePtr parent_tree;
  git_oid head_id;
  const int head_code = git_reference_name_to_id(&head_id, repository, "HEAD");
  if (head_code < 0 && !is_missing(head_code)) {
    return failure(doing);
  }
  if (head_code == 0) {
    git_commit* raw_commit = nullptr;
    git_tree* raw_tree = nullptr;
    if (git_commit_lookup(&raw_commit, repository, &head_id) < 0) {
      return failure(doing);
    }
    parent.reset(raw_commit);
    if (git_commit_tree(&raw_tree, parent.get()) < 0) {
      return failure(doing);
    }
    parent_tree.reset(raw_tree);
  }

  // The tree of HEAD with these files only, so that whatever else is staged stays out.
  std::vector<TreeEdit> edits;
  edits.reserve(files->size());
  const util::Within within(root);
  for (const auto& file : *files) {
    if (!within(fs::path(file).parent_path())) {
      return problem(doing, "path '" + file + "' leads out of the repository through a symlink");
    }
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(root / file, ec);
    if (ec && status.type() != fs::file_type::not_found) {
      return problem(doing, "cannot read '" + file + "': " + ec.message());
    }
    if (status.type() == fs::file_type::directory) {
      return problem(doing, "'" + file + "' is a directory; list the files in it");
    }
    TreeEdit& edit = edits.emplace_back(TreeEdit{file, std::nullopt});
    if (!fs::exists(status)) {
      continue;
    }
    git_oid id;
    if (git_blob_create_from_workdir(&id, repository, file.c_str()) < 0) {
      return failure(doing + ": cannot store '" + file + "'");
    }
    edit.id = id;
    if (status.type() == fs::file_type::symlink) {
      edit.mode = GIT_FILEMODE_LINK;
    } else if ((status.permissions() & fs::perms::owner_exec) != fs::perms::none) {
      edit.mode = GIT_FILEMODE_BLOB_EXECUTABLE;
    } else {
      edit.mode = GIT_FILEMODE_BLOB;
    }
  }
  auto tree_id = edit_tree(repository, parent_tree.get(), edits, doing);
  if (!tree_id) {
    return tree_id.error();
  }
  if (parent_tree && git_oid_equal(&*tree_id, git_tree_id(parent_tree.get()))) {
    return problem(doing, "nothing to commit; the files are as in HEAD");
  }
  git_tree* raw_tree = nullptr;
  if (git_tree_lookup(&raw_tree, repository, &*tree_id) < 0) {
    return failure(doing);
  }
  const TreePtr tree(raw_tree);

  git_signature* raw_signature = nullptr;
  if (git_signature_now(&raw_signature, who.name.c_str(), who.email.c_str()) < 0) {
    return failure(doing + ": bad signature '" + who.name + " <" + who.email + ">'");
  }
  const SignaturePtr signature(raw_signature);
  const std::string text = message.ends_with('\n') ? message : message + '\n';
  const git_commit* parents[] = {parent.get()};
  git_oid commit_id;
  if (git_commit_create(&commit_id, repository, "HEAD", signature.get(), signature.get(),
                        nullptr, text.c_str(), tree.get(), parent ? 1 : 0, parents) < 0) {
    return failure(doing + " on " + *branch);
  }
  const std::string id = to_hex(&commit_id);

  const std::string staging = "committed " + id + " but cannot stage it in the index of " +
                              root.string();
  auto index = current_index(repository, staging);
  if (!index) {
    return index.error();
  }
  git_index* real_index = index->get();
  // The blobs stored above, with the files' stat data (as git add records them), so the
  // files are neither read nor hashed again.
  for (const TreeEdit& edit : edits) {
    const char* file = edit.path.c_str();
    struct stat info {};
    int code = 0;
    if (!edit.id) {
      code = git_index_remove_bypath(real_index, file);
    } else if (::lstat((root / file).c_str(), &info) != 0) {
      code = git_index_add_bypath(real_index, file);
    } else {
      git_index_entry entry{};
      entry.id = *edit.id;
      entry.mode = edit.mode;
      entry.ctime = {static_cast<int32_t>(info.st_ctim.tv_sec),
                     static_cast<uint32_t>(info.st_ctim.tv_nsec)};
      entry.mtime = {static_cast<int32_t>(info.st_mtim.tv_sec),
                     static_cast<uint32_t>(info.st_mtim.tv_nsec)};
      entry.dev = static_cast<uint32_t>(info.st_dev);
      entry.ino = static_cast<uint32_t>(info.st_ino);
      entry.uid = info.st_uid;
      entry.gid = info.st_gid;
      entry.file_size = static_cast<uint32_t>(info.st_size);
      entry.path = file;
      code = git_index_add(real_index, &entry);
      if (code == 0) {
        code = git_index_conflict_remove(real_index, file);
        code = code == GIT_ENOTFOUND ? 0 : code;
      }
    }
    if (code < 0) {
      return failure(staging);
    }
  }
  if (git_index_write(real_index) < 0) {
    return failure(staging);
  }
  return id;
}

std::optional<Signature> Repository::default_signature() const {
  git_signature* raw = nullptr;
  if (git_signature_default(&raw, m_repository.get()) < 0) {
    return std::nullopt;
  }
  const SignaturePtr signature(raw);
  return Signature{signature->name, signature->email};
}

namespace {

}  // namespace

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

/// Pushes `id` to `ref` of the repository at `path` on this machine: writes a pack of what
/// it lacks into its object store, then moves `ref` to `id` if it still is an ancestor of `id`
/// (or absent), atomically, by git's ref lock. No ref is created on the way: a temporary ref
/// would show in another push's listing and could vanish under it.
Result<void> push_local(git_repository* local, const fs::path& path, const std::string& ref,
                        const git_oid& id, const std::string& doing,
                        const std::string& moved_on) {
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

  git_reference* moved = nullptr;
  int swapped = 0;
  if (!exists) {
    swapped = git_reference_create(&moved, remote.get(), ref.c_str(), &id, 0, "push");
  } else if (git_graph_descendant_of(local, &id, &current) != 1) {
    return make_error(ErrorKind::conflict, redact(doing + ": " + moved_on));
  } else {
    swapped = git_reference_create_matching(&moved, remote.get(), ref.c_str(), &id, 1, &current,
                                            "push");
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
  if (git_remote_lookup(&raw, m_repository.get(), remote_name.c_str()) < 0) {
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
    if (auto pushed = push_local(m_repository.get(), *local_remote, local, local_id, doing, moved_on);
        !pushed) {
      return pushed;
    }
    if (!is_branch) {
      return {};
    }
    // What a push to the branch itself would have done: the remote-tracking ref follows.
    const std::string tracking = "refs/remotes/" + remote_name + "/" + branch;
    git_reference* updated = nullptr;
    if (git_reference_create(&updated, m_repository.get(), tracking.c_str(), &local_id, 1,
                             "update by push") < 0) {
      return failure(doing);
    }
    git_reference_free(updated);
    return {};
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
  return {};
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
  if (git_remote_lookup(&raw, m_repository.get(), remote_name.c_str()) < 0) {
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

Result<void> Repository::export_tree(const std::string& revision,
                                     const std::filesystem::path& dir) const {
  const std::string doing = "cannot write the files of " + revision;
  git_object* raw = nullptr;
  const int code = git_revparse_single(&raw, m_repository.get(), revision.c_str());
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
  const ObjectPtr tree(raw_tree);
  git_checkout_options options;
  git_checkout_options_init(&options, GIT_CHECKOUT_OPTIONS_VERSION);
  options.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
  const std::string target = dir.string();
  options.target_directory = target.c_str();
  if (git_checkout_tree(m_repository.get(), tree.get(), &options) < 0) {
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
  git_object* raw = nullptr;
  const int code = git_revparse_single(&raw, m_repository.get(), revision.c_str());
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
  const ObjectPtr tree(raw_tree);
  git_tree_entry* raw_entry = nullptr;
  const int found = git_tree_entry_bypath(
      &raw_entry, reinterpret_cast<const git_tree*>(tree.get()), file->c_str());
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

namespace {

/// The id and object of the commit `commit_id` (40 hex) names.
Result<std::pair<git_oid, ObjectPtr>> commit_object(git_repository* repository,
                                                    const std::string& commit_id,
                                                    const std::string& doing) {
  git_oid id;
  if (git_oid_fromstr(&id, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  git_object* raw = nullptr;
  if (git_object_lookup(&raw, repository, &id, GIT_OBJECT_COMMIT) < 0) {
    return failure(doing);
  }
  return std::pair<git_oid, ObjectPtr>{id, ObjectPtr(raw)};
}

}  // namespace

Result<void> Repository::reset_branch(const std::string& commit_id,
                                      const std::vector<std::string>& paths) {
  const std::string doing = "cannot move the branch back to " + commit_id.substr(0, 12);
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
  git_reference* moved = nullptr;
  const std::string reference = "refs/heads/" + *branch;
  if (git_reference_create(&moved, m_repository.get(), reference.c_str(), &id, 1,
                           "promote: undo a commit that was not pushed") < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  std::vector<char*> specs;
  for (const auto& path : paths) {
    specs.push_back(const_cast<char*>(path.c_str()));
  }
  const git_strarray pathspec{specs.data(), specs.size()};
  if (!specs.empty() && git_reset_default(m_repository.get(), target.get(), &pathspec) < 0) {
    return failure(doing);
  }
  return {};
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
  if (const int code = git_reference_name_to_id(&head, m_repository.get(), "HEAD");
      code == 0 && !git_oid_equal(&head, &id)) {
    if (git_graph_descendant_of(m_repository.get(), &id, &head) != 1) {
      return make_error(ErrorKind::conflict,
                        redact(doing + ": the branch has commits that " + commit_id.substr(0, 12) +
                               " does not contain; push or drop them first"));
    }
  } else if (code < 0 && !is_missing(code)) {
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

Result<Repository::CommitOnBranch> Repository::commit_on_branch(
    const std::string& branch, const std::string& parent_id,
    const std::vector<std::pair<std::string, std::string>>& files, const std::string& message,
    const Signature& who, const std::optional<std::string>& reuse) {
  git_repository* repository = m_repository.get();
  const std::string doing = "cannot commit on branch " + branch;
  git_oid parent_oid;
  git_commit* raw_parent = nullptr;
  if (git_oid_fromstr(&parent_oid, parent_id.c_str()) < 0 ||
      git_commit_lookup(&raw_parent, repository, &parent_oid) < 0) {
    return failure(doing);
  }
  const CommitPtr parent(raw_parent);
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, parent.get()) < 0) {
    return failure(doing);
  }
  const TreePtr parent_tree(raw_tree);
  std::vector<TreeEdit> edits;
  for (const auto& [path, contents] : files) {
    auto normal = repository_path(path, doing, false);
    if (!normal) {
      return normal.error();
    }
    git_oid id;
    if (git_blob_create_from_buffer(&id, repository, contents.data(), contents.size()) < 0) {
      return failure(doing);
    }
    edits.push_back(TreeEdit{std::move(*normal), id});  // keeps the file's mode
  }
  auto edited = edit_tree(repository, parent_tree.get(), edits, doing);
  if (!edited) {
    return edited.error();
  }
  const git_oid tree_id = *edited;
  if (reuse) {
    // The same change on the same parent already exists: keep that commit.
    git_oid reuse_id;
    git_commit* raw_reuse = nullptr;
    if (git_oid_fromstr(&reuse_id, reuse->c_str()) == 0 &&
        git_commit_lookup(&raw_reuse, repository, &reuse_id) == 0) {
      const CommitPtr existing(raw_reuse);
      if (git_oid_equal(git_commit_tree_id(existing.get()), &tree_id) &&
          git_commit_parentcount(existing.get()) == 1 &&
          git_oid_equal(git_commit_parent_id(existing.get(), 0), &parent_oid)) {
        git_reference* kept = nullptr;
        const std::string reference = "refs/heads/" + branch;
        if (git_reference_create(&kept, repository, reference.c_str(), &reuse_id, 1,
                                 "promote: the same change") < 0) {
          return failure(doing);
        }
        git_reference_free(kept);
        return CommitOnBranch{*reuse, false};
      }
    }
  }
  git_tree* raw_new_tree = nullptr;
  if (git_tree_lookup(&raw_new_tree, repository, &tree_id) < 0) {
    return failure(doing);
  }
  const TreePtr tree(raw_new_tree);
  git_signature* raw_signature = nullptr;
  if (git_signature_now(&raw_signature, who.name.c_str(), who.email.c_str()) < 0) {
    return failure(doing);
  }
  const SignaturePtr signature(raw_signature);
  const std::string reference = "refs/heads/" + branch;
  const git_commit* parents[] = {parent.get()};
  git_oid commit_id;
  if (git_commit_create(&commit_id, repository, nullptr, signature.get(), signature.get(),
                        nullptr, message.c_str(), tree.get(), 1, parents) < 0) {
    return failure(doing);
  }
  git_reference* moved = nullptr;
  if (git_reference_create(&moved, repository, reference.c_str(), &commit_id, 1,
                           "promote: commit on branch") < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  return CommitOnBranch{to_hex(&commit_id), true};
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

namespace {

/// The commit `ref` points at, or null when the ref does not exist.
Result<CommitPtr> ref_commit(git_repository* repository, const std::string& ref,
                             const std::string& doing) {
  git_oid id;
  const int code = git_reference_name_to_id(&id, repository, ref.c_str());
  if (code == GIT_ENOTFOUND) {
    return CommitPtr(nullptr);
  }
  git_commit* raw = nullptr;
  if (code < 0 || git_commit_lookup(&raw, repository, &id) < 0) {
    return failure(doing);
  }
  return CommitPtr(raw);
}

/// The note of `annotated` in the notes commit `notes` ("" when it has none).
Result<std::string> note_text(git_repository* repository, git_commit* notes,
                              const git_oid& annotated, const std::string& doing) {
  if (notes == nullptr) {
    return std::string();
  }
  git_note* raw = nullptr;
  const int code = git_note_commit_read(&raw, repository, notes, &annotated);
  if (code == GIT_ENOTFOUND) {
    return std::string();
  }
  if (code < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_note, void (*)(git_note*)> note(raw, git_note_free);
  const char* text = git_note_message(note.get());
  return std::string(text == nullptr ? "" : text);
}

/// Calls `visit` with each commit annotated in the notes commit `notes`, until it fails.
Result<void> each_note(git_commit* notes, const std::string& doing,
                       const std::function<Result<void>(const git_oid&)>& visit) {
  git_note_iterator* raw_iterator = nullptr;
  if (git_note_commit_iterator_new(&raw_iterator, notes) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_note_iterator, void (*)(git_note_iterator*)> iterator(
      raw_iterator, git_note_iterator_free);
  git_oid blob;
  git_oid annotated;
  int code = 0;
  while ((code = git_note_next(&blob, &annotated, iterator.get())) == 0) {
    if (auto visited = visit(annotated); !visited) {
      return visited;
    }
  }
  if (code != GIT_ITEROVER) {
    return failure(doing);
  }
  return {};
}

std::vector<std::string> note_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) {
      lines.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return lines;
}

/// `existing` with each of `lines` it lacks appended, one per line; "" when nothing is new.
std::string with_lines(const std::string& existing, const std::vector<std::string>& lines) {
  const std::vector<std::string> have = note_lines(existing);
  std::string text;
  for (const std::string& line : have) {
    text += line + "\n";
  }
  bool added = false;
  for (const std::string& line : lines) {
    if (std::find(have.begin(), have.end(), line) == have.end() &&
        text.find(line + "\n") == std::string::npos) {
      text += line + "\n";
      added = true;
    }
  }
  return added ? text : std::string();
}

/// Writes notes commits on top of `parent` (may be null), one per note, and returns the last
/// (`parent`'s id when `notes` is empty).
Result<std::optional<git_oid>> write_notes(git_repository* repository, git_commit* parent,
                                           const std::vector<std::pair<git_oid, std::string>>& notes,
                                           const Signature& who, const std::string& doing) {
  std::optional<git_oid> tip;
  if (parent != nullptr) {
    tip = *git_commit_id(parent);
  }
  git_signature* raw_signature = nullptr;
  if (git_signature_now(&raw_signature, who.name.c_str(), who.email.c_str()) < 0) {
    return failure(doing);
  }
  const SignaturePtr signature(raw_signature);
  CommitPtr current(nullptr);
  for (const auto& [annotated, text] : notes) {
    git_oid commit_id;
    git_oid blob_id;
    git_commit* base = current ? current.get() : parent;
    if (git_note_commit_create(&commit_id, &blob_id, repository, base, signature.get(),
                               signature.get(), &annotated, text.c_str(), 1) < 0) {
      return failure(doing);
    }
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repository, &commit_id) < 0) {
      return failure(doing);
    }
    current.reset(raw);
    tip = commit_id;
  }
  return tip;
}

/// Points `ref` at `id` if it still points at `expected` (or, with no `expected`, does not
/// exist); false when someone moved it meanwhile.
Result<bool> swap_ref(git_repository* repository, const std::string& ref, const git_oid& id,
                      const git_commit* expected, const std::string& doing) {
  git_reference* moved = nullptr;
  const int code =
      expected == nullptr
          ? git_reference_create(&moved, repository, ref.c_str(), &id, 0, "promote: notes")
          : git_reference_create_matching(&moved, repository, ref.c_str(), &id, 1,
                                          git_commit_id(expected), "promote: notes");
  git_reference_free(moved);
  if (code == GIT_EMODIFIED || code == GIT_EEXISTS || code == GIT_ELOCKED) {
    return false;
  }
  if (code < 0) {
    return failure(doing);
  }
  return true;
}

}  // namespace

Result<std::optional<std::string>> Repository::note(const std::string& notes_ref,
                                                    const std::string& commit_id) const {
  const std::string doing = "cannot read the note of " + commit_id + " in " + notes_ref;
  auto notes = ref_commit(m_repository.get(), notes_ref, doing);
  if (!notes) {
    return notes.error();
  }
  git_oid annotated;
  if (git_oid_fromstr(&annotated, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  auto text = note_text(m_repository.get(), notes->get(), annotated, doing);
  if (!text) {
    return text.error();
  }
  if (text->empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(*text));
}

Result<void> Repository::append_note(const std::string& notes_ref, const std::string& commit_id,
                                     const std::vector<std::string>& lines,
                                     const Signature& who) {
  const std::string doing = "cannot add a note to " + commit_id + " in " + notes_ref;
  git_oid annotated;
  if (git_oid_fromstr(&annotated, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  // Another writer may move the ref between the read and the swap: then read again.
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto notes = ref_commit(m_repository.get(), notes_ref, doing);
    if (!notes) {
      return notes.error();
    }
    auto existing = note_text(m_repository.get(), notes->get(), annotated, doing);
    if (!existing) {
      return existing.error();
    }
    const std::string text = with_lines(*existing, lines);
    if (text.empty()) {
      return {};
    }
    auto tip = write_notes(m_repository.get(), notes->get(), {{annotated, text}}, who, doing);
    if (!tip) {
      return tip.error();
    }
    auto swapped = swap_ref(m_repository.get(), notes_ref, **tip, notes->get(), doing);
    if (!swapped) {
      return swapped.error();
    }
    if (*swapped) {
      return {};
    }
  }
  return problem(doing, "the notes kept changing under this write");
}

Result<void> Repository::rebase_notes(const std::string& notes_ref, const std::string& other_ref,
                                      const Signature& who) {
  const std::string doing = "cannot combine the notes of " + other_ref + " with " + notes_ref;
  auto other = ref_commit(m_repository.get(), other_ref, doing);
  if (!other) {
    return other.error();
  }
  if (!*other) {
    return {};
  }
  auto ours = ref_commit(m_repository.get(), notes_ref, doing);
  if (!ours) {
    return ours.error();
  }
  // The lines only ours holds, note by note.
  std::vector<std::pair<git_oid, std::string>> missing;
  if (*ours) {
    auto walked = each_note(ours->get(), doing, [&](const git_oid& annotated) -> Result<void> {
      auto mine = note_text(m_repository.get(), ours->get(), annotated, doing);
      auto theirs = note_text(m_repository.get(), other->get(), annotated, doing);
      if (!mine || !theirs) {
        return !mine ? mine.error() : theirs.error();
      }
      if (std::string text = with_lines(*theirs, note_lines(*mine)); !text.empty()) {
        missing.emplace_back(annotated, std::move(text));
      }
      return {};
    });
    if (!walked) {
      return walked;
    }
  }
  auto tip = write_notes(m_repository.get(), other->get(), missing, who, doing);
  if (!tip) {
    return tip.error();
  }
  git_reference* moved = nullptr;
  if (git_reference_create(&moved, m_repository.get(), notes_ref.c_str(), &**tip, 1,
                           "promote: notes rebased") < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  return {};
}

Result<void> Repository::for_each_note(
    const std::string& notes_ref,
    const std::function<void(const std::string&, const std::string&)>& visit) const {
  const std::string doing = "cannot read the notes in " + notes_ref;
  auto notes = ref_commit(m_repository.get(), notes_ref, doing);
  if (!notes) {
    return notes.error();
  }
  if (!*notes) {
    return {};
  }
  return each_note(notes->get(), doing, [&](const git_oid& annotated) -> Result<void> {
    auto text = note_text(m_repository.get(), notes->get(), annotated, doing);
    if (!text) {
      return text.error();
    }
    visit(to_hex(&annotated), *text);
    return {};
  });
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
