#include "engine/promoter/workspace.hpp"

#include <stdlib.h>

namespace promote::promoter {

namespace fs = std::filesystem;

Result<Workspace> Workspace::open(const pipeline::Pipeline& pipeline,
                                  const std::optional<fs::path>& workdir) {
  Workspace workspace;
  if (workdir) {
    return make_error(ErrorKind::usage, "--workdir is not supported yet");
  }
  if (pipeline.repository.is_local()) {
    auto repository = git::Repository::open(pipeline.base_dir);
    if (!repository) {
      return make_error(ErrorKind::config,
                        pipeline.file.string() +
                            ": repository.url is '.', but the pipeline file is not in a git "
                            "repository (" + repository.error().message + ")");
    }
    auto branch = repository->current_branch();
    if (!branch) {
      return branch.error();
    }
    if (*branch != pipeline.repository.branch) {
      return make_error(ErrorKind::usage, "the repository is on branch '" + *branch +
                                              "', but the pipeline promotes on '" +
                                              pipeline.repository.branch + "'");
    }
    workspace.m_repository.emplace(std::move(*repository));
  } else {
    std::string pattern = (fs::temp_directory_path() / "promote-clone-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return make_error(ErrorKind::internal, "cannot create a temporary directory for the clone");
    }
    workspace.m_clone_dir = pattern;
    auto repository = git::Repository::clone(pipeline.repository.url, fs::path(pattern) / "repo",
                                              pipeline.repository.branch);
    if (!repository) {
      return repository.error();
    }
    workspace.m_repository.emplace(std::move(*repository));
  }
  workspace.m_root = fs::weakly_canonical(workspace.m_repository->workdir());
  return workspace;
}

Workspace::Workspace(Workspace&& other) noexcept
    : m_repository(std::move(other.m_repository)),
      m_clone_dir(std::exchange(other.m_clone_dir, std::nullopt)),
      m_root(std::move(other.m_root)) {}

Workspace::~Workspace() {
  m_repository.reset();
  if (m_clone_dir) {
    std::error_code ignored;
    fs::remove_all(*m_clone_dir, ignored);
  }
}

}  // namespace promote::promoter
