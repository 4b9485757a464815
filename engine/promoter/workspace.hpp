#pragma once
// The working copy a pipeline acts on: the repository holding the pipeline file
// (repository.url "."), or a temporary clone of a remote repository.

#include <filesystem>
#include <functional>
#include <optional>

#include "engine/error.hpp"
#include "engine/git/repository.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

class Workspace {
 public:
  /// Opens the pipeline's repository (checking it is on the pipeline's branch) or
  /// clones a remote one into a temporary directory, removed with the Workspace; with a
  /// `workdir` (--workdir) a remote one is cloned there once and kept, and later runs fetch
  /// into it and move it to the remote branch's head. The repository's provider picks the
  /// token for the remote. Two runs with one `workdir` take turns: the second waits for the
  /// first (a lock on a file in the temporary directory named after the workdir's path), saying
  /// so, up to the bound of write_lock.hpp; then fails (conflict).
  /// Fails (usage) on a `workdir`
  /// for a local pipeline, and on one
  /// that holds anything but a clone of the pipeline's URL on its branch (left untouched);
  /// fails with a conflict when local commits or changes in it block the move.
  /// `settle`, when given, runs on the repository once it is open (for a kept workdir: after
  /// the fetch, before the move), to undo what an interrupted run left there; its failure is
  /// the open's.
  static Result<Workspace> open(
      const pipeline::Pipeline& pipeline, const std::optional<std::filesystem::path>& workdir = {},
      const std::function<Result<void>(git::Repository&)>& settle = {});

  Workspace(Workspace&& other) noexcept;
  Workspace& operator=(Workspace&&) = delete;
  ~Workspace();

  git::Repository& repository() { return *m_repository; }
  const git::Repository& repository() const { return *m_repository; }
  /// The working directory, canonical.
  const std::filesystem::path& root() const { return m_root; }

 private:
  Workspace() = default;
  std::optional<git::Repository> m_repository;
  std::optional<std::filesystem::path> m_clone_dir;
  std::filesystem::path m_root;
  int m_lock = -1;  ///< --workdir: the lock held on it while the workspace lives, or -1
};

}  // namespace promote::promoter
