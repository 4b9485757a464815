// Repository's commits: commit (files on disk, on the current branch, then the index),
// commit_on_branch (contents, on another branch, without the working tree), the trees they
// write (edit_tree), their signatures (write_commit, commit_signature), reset_branch (undoes a
// commit that was not pushed), and the identity in git config.
#include <git2.h>
#include <sys/stat.h>

#include <map>
#include <optional>
#include <string_view>
#include <system_error>

#include "engine/git/libgit2.hpp"
#include "engine/git/object_batch.hpp"
#include "engine/git/repository.hpp"
#include "engine/git/signing.hpp"
#include "engine/util/files.hpp"

namespace promote::git {

namespace fs = std::filesystem;
using namespace detail;  // the helpers of libgit2.hpp

namespace {

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

/// Writes the commit object of `tree` on `parent` (null: a first commit), author and committer
/// `who`, signed by `signer` when there is one: the object as git_commit_create makes it, its
/// signature in namespace "git", and the object again with a gpgsig header holding it, as
/// `git commit -S` writes it with gpg.format=ssh. Nothing moves a ref.
Result<git_oid> write_commit(git_repository* repository, const git_signature* who,
                             const std::string& message, const git_tree* tree,
                             const git_commit* parent, const Signer* signer,
                             const std::string& doing) {
  const git_commit* parents[] = {parent};
  const std::size_t count = parent != nullptr ? 1 : 0;
  git_oid id;
  if (signer == nullptr) {
    if (git_commit_create(&id, repository, nullptr, who, who, nullptr, message.c_str(), tree, count,
                          parents) < 0) {
      return failure(doing);
    }
    return id;
  }
  git_buf buffer = GIT_BUF_INIT;
  if (git_commit_create_buffer(&buffer, repository, who, who, nullptr, message.c_str(), tree, count,
                               parents) < 0) {
    return failure(doing);
  }
  const std::string content(buffer.ptr, buffer.size);
  git_buf_dispose(&buffer);
  auto signature = signer->sign(content, k_commit_namespace);
  if (!signature) {
    return make_error(signature.error().kind, doing + ": " + signature.error().message);
  }
  // libgit2 indents each line after the first; a final line feed would add an empty one.
  std::string header = std::move(*signature);
  while (header.ends_with('\n')) {
    header.pop_back();
  }
  if (git_commit_create_with_signature(&id, repository, content.c_str(), header.c_str(), nullptr) <
      0) {
    return failure(doing);
  }
  return id;
}

/// Points refs/heads/`branch` at the commit `id` if it still points at `parent` (is unborn when
/// `parent` is null), with the reflog entry git commit writes (in HEAD's reflog too when HEAD
/// is on that branch).
Result<void> advance_branch(git_repository* repository, const std::string& branch,
                            const git_oid& id, const git_commit* parent, const std::string& doing) {
  git_commit* raw_commit = nullptr;
  if (git_commit_lookup(&raw_commit, repository, &id) < 0) {
    return failure(doing);
  }
  const CommitPtr commit(raw_commit);
  const char* summary = git_commit_summary(commit.get());
  const std::string log = std::string(parent != nullptr ? "commit: " : "commit (initial): ") +
                          (summary != nullptr ? summary : "");
  const std::string reference = "refs/heads/" + branch;
  git_reference* moved = nullptr;
  if (git_reference_create_matching(
          &moved, repository, reference.c_str(), &id, parent != nullptr ? 1 : 0,
          parent != nullptr ? git_commit_id(parent) : nullptr, log.c_str()) < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  return {};
}

}  // namespace

Result<std::string> Repository::commit(const std::vector<std::string>& paths,
                                       const std::string& message, const Signature& who,
                                       const Expected* expected, const Signer* signer) {
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
  if (expected != nullptr && expected->contents.size() != files->size()) {
    return make_error(ErrorKind::internal, doing + ": " + std::to_string(files->size()) +
                                               " files, but what " +
                                               std::to_string(expected->contents.size()) +
                                               " of them should hold");
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
  const std::string moved = "; something else wrote in the repository meanwhile";
  if (expected != nullptr && (head_code == 0 ? to_hex(&head_id) : "") != expected->parent) {
    return make_error(ErrorKind::conflict, doing + ": HEAD is no longer " +
                                               expected->parent.substr(0, 12) + moved);
  }

  // The objects are held in memory until the commit is made, then stored together.
  auto batch = ObjectBatch::begin(repository, doing);
  if (!batch) {
    return batch.error();
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
    if (expected != nullptr) {
      auto now = fs::exists(status) ? util::read_file(root / file) : Result<std::string>(std::string());
      if (!now || !fs::exists(status) || *now != expected->contents.at(edits.size())) {
        return make_error(ErrorKind::conflict,
                          doing + ": '" + file + "' does not hold what was written" + moved);
      }
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
  auto written = write_commit(repository, signature.get(), text, tree.get(), parent.get(), signer,
                              doing + " on " + *branch);
  if (!written) {
    return written.error();
  }
  const git_oid commit_id = *written;
  auto stored = batch->store(doing);
  if (!stored) {
    return stored.error();
  }
  m_packed.reset();
  if (!stored->pack.empty() && parent) {
    m_packed =
        Packed{to_hex(&commit_id), to_hex(git_commit_id(parent.get())), std::move(stored->pack)};
  }
  // The branch moves once every object is stored, if its tip is still the parent.
  if (auto moved =
          advance_branch(repository, *branch, commit_id, parent.get(), doing + " on " + *branch);
      !moved) {
    return moved.error();
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

Result<Repository::CommitOnBranch> Repository::commit_on_branch(
    const std::string& branch, const std::string& parent_id,
    const std::vector<std::pair<std::string, std::string>>& files, const std::string& message,
    const Signature& who, const std::optional<std::string>& reuse, const Signer* signer) {
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
  auto batch = ObjectBatch::begin(repository, doing);
  if (!batch) {
    return batch.error();
  }
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
  auto written =
      write_commit(repository, signature.get(), message, tree.get(), parent.get(), signer, doing);
  if (!written) {
    return written.error();
  }
  const git_oid commit_id = *written;
  if (auto stored = batch->store(doing); !stored) {
    return stored.error();
  }
  git_reference* moved = nullptr;
  if (git_reference_create(&moved, repository, reference.c_str(), &commit_id, 1,
                           "promote: commit on branch") < 0) {
    return failure(doing);
  }
  git_reference_free(moved);
  return CommitOnBranch{to_hex(&commit_id), true};
}

Result<std::optional<CommitSignature>> Repository::commit_signature(
    const std::string& commit_id) const {
  const std::string doing = "cannot read the signature of commit " + commit_id;
  auto found = commit_object(m_repository.get(), commit_id, doing);
  if (!found) {
    return found.error();
  }
  git_buf signature = GIT_BUF_INIT;
  git_buf signed_data = GIT_BUF_INIT;
  const int code = git_commit_extract_signature(&signature, &signed_data, m_repository.get(),
                                                &found->first, nullptr);
  std::optional<CommitSignature> out;
  if (code == 0) {
    out = CommitSignature{std::string(signature.ptr, signature.size),
                          std::string(signed_data.ptr, signed_data.size)};
  }
  git_buf_dispose(&signature);
  git_buf_dispose(&signed_data);
  if (code < 0 && code != GIT_ENOTFOUND) {
    return failure(doing);
  }
  return out;
}

}  // namespace promote::git
