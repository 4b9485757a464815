#include "engine/promoter/workspace.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/promoter/recovery.hpp"
#include "engine/promoter/write_lock.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/log.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

/// A remote URL without trailing slashes and ".git", so that the spellings of one repository
/// compare equal.
std::string repository_key(std::string url) {
  while (url.size() > 1 && url.back() == '/') {
    url.pop_back();
  }
  if (url.ends_with(".git")) {
    url.resize(url.size() - 4);
  }
  return url;
}

/// The kept clone in `dir` (--workdir): cloned when `dir` is absent or empty; otherwise it must
/// be a clone of the pipeline's repository on its branch, which is fetched and moved to the
/// remote branch's head. Anything else in `dir` is refused and left as it is.
Result<git::Repository> open_workdir(
    const pipeline::RepositorySpec& spec, const fs::path& given,
    const std::function<Result<void>(git::Repository&)>& settle) {
  const fs::path dir = fs::absolute(given).lexically_normal();
  const std::string shown = "--workdir " + given.string();
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec)) {
    return make_error(ErrorKind::usage, shown +
                                            " is a file; give a directory, absent or empty "
                                            "for the first run");
  }
  if (!exists || fs::is_empty(dir, ec)) {
    // Cloned beside the directory, then renamed into place: a run killed during the clone
    // leaves no half-made clone there (and the next run removes what it left beside it).
    const std::string staging_prefix = util::hidden_name(dir) + ".promote-clone-";
    fs::create_directories(dir.parent_path(), ec);
    for (const auto& item : fs::directory_iterator(dir.parent_path(), ec)) {
      const std::string name = item.path().filename().string();
      if (name.starts_with(staging_prefix)) {
        const long pid = std::atol(name.c_str() + staging_prefix.size());
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH &&
            util::is_own(item.path())) {
          fs::remove_all(item.path(), ec);
        }
      }
    }
    const fs::path staging = dir.parent_path() / (staging_prefix + std::to_string(::getpid()));
    fs::remove_all(staging, ec);
    {
      auto made = git::Repository::clone(spec.url, staging, spec.branch, spec.provider);
      if (!made) {
        fs::remove_all(staging, ec);
        return made.error();
      }
    }
    if (exists) {
      fs::remove(dir, ec);
    }
    if (::rename(staging.c_str(), dir.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      fs::remove_all(staging, ec);
      return make_error(ErrorKind::input, shown + ": cannot move the clone into place: " + why);
    }
    auto cloned = git::Repository::open(dir);
    if (cloned) {
      cloned->set_provider(spec.provider);
    }
    if (cloned && settle) {
      if (auto settled = settle(*cloned); !settled) {
        return settled.error();
      }
    }
    return cloned;
  }
  const std::string other =
      shown + " holds something other than a clone of " + git::redact(spec.url) + " (";
  const std::string advice = "); give an absent or empty directory, or that clone";
  auto repository = git::Repository::open(dir);
  if (!repository ||
      fs::weakly_canonical(repository->workdir(), ec) != fs::weakly_canonical(dir, ec)) {
    return make_error(ErrorKind::usage, other + "it is not the root of a git repository" + advice);
  }
  auto origin = repository->remote_url("origin");
  if (!origin) {
    return origin.error();
  }
  if (!*origin) {
    return make_error(ErrorKind::usage, other + "it has no remote 'origin'" + advice);
  }
  if (repository_key(**origin) != repository_key(spec.url)) {
    return make_error(ErrorKind::usage, other + "its origin is " + git::redact(**origin) + advice);
  }
  auto branch = repository->current_branch();
  if (!branch) {
    return make_error(ErrorKind::usage, shown + ": " + branch.error().message);
  }
  if (*branch != spec.branch) {
    return make_error(ErrorKind::usage, shown + " is on branch '" + *branch +
                                            "', but the pipeline promotes on '" + spec.branch +
                                            "'; give another --workdir");
  }
  repository->set_provider(spec.provider);
  // A run killed while its fetch moved a ref left that ref's lock: the fetch could never take it
  // again. The workdir's lock is held; a lock no process has open is stale.
  for (const auto& stale : remove_stale_locks(repository->git_dir())) {
    util::notice("removed " + stale + " in " + shown + ", left by a git writer that is gone");
  }
  if (auto fetched = repository->fetch("origin", spec.branch); !fetched) {
    return fetched.error();
  }
  auto head = repository->resolve("refs/remotes/origin/" + spec.branch);
  if (!head) {
    return head.error();
  }
  if (!*head) {
    return make_error(ErrorKind::git, "the remote branch " + spec.branch +
                                          " is missing after a fetch into " + dir.string());
  }
  if (settle) {
    if (auto settled = settle(*repository); !settled) {
      return settled.error();
    }
  }
  if (auto moved = repository->move_to(**head); !moved) {
    return make_error(moved.error().kind,
                      shown + " cannot take origin/" + spec.branch + ": " + moved.error().message +
                          " (or remove the directory, and the next run clones afresh)");
  }
  return std::move(*repository);
}

/// Takes the lock of a kept workdir, waiting while another run holds it (write_lock.hpp: with a
/// message and a bound); returns its descriptor. The lock is a file in the temporary directory
/// named after the workdir's absolute path, so nothing is written beside or into the workdir.
Result<int> lock_workdir(const fs::path& given) {
  const fs::path dir = fs::weakly_canonical(fs::absolute(given));
  const fs::path lock = fs::temp_directory_path() /
                        ("promote-workdir-" + util::sha256_hex(dir.string()).substr(0, 16) + ".lock");
  return lock_file(lock, "in --workdir " + given.string());
}

/// Removes the temporary clones of runs that are gone (killed before their Workspace could
/// remove its own): "promote-clone-PID-XXXXXX" whose PID no longer exists.
void sweep_dead_clones() {
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(fs::temp_directory_path(ec), ec)) {
    const std::string name = item.path().filename().string();
    const std::string prefix = "promote-clone-";
    if (!name.starts_with(prefix)) {
      continue;
    }
    const long pid = std::atol(name.c_str() + prefix.size());
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH &&
        util::is_own(item.path())) {
      fs::remove_all(item.path(), ec);
    }
  }
}

}  // namespace

Result<Workspace> Workspace::open(const pipeline::Pipeline& pipeline,
                                  const std::optional<fs::path>& workdir,
                                  const std::function<Result<void>(git::Repository&)>& settle) {
  Workspace workspace;
  if (workdir) {
    if (pipeline.repository.is_local()) {
      return make_error(ErrorKind::usage,
                        "--workdir is for remote repositories; the pipeline's repository.url "
                        "is '.', the repository holding " +
                            pipeline.file.string());
    }
    auto lock = lock_workdir(*workdir);
    if (!lock) {
      return lock.error();
    }
    workspace.m_lock = *lock;  // released by the destructor, also on the failures below
    auto repository = open_workdir(pipeline.repository, *workdir, settle);
    if (!repository) {
      return repository.error();
    }
    workspace.m_repository.emplace(std::move(*repository));
  } else if (pipeline.repository.is_local()) {
    auto repository = git::Repository::open(pipeline.base_dir);
    if (!repository) {
      return make_error(ErrorKind::config,
                        pipeline.file.string() +
                            ": repository.url is '.', but the pipeline file is not in a git "
                            "repository (" +
                            repository.error().message + ")");
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
    repository->set_provider(pipeline.repository.provider);
    workspace.m_repository.emplace(std::move(*repository));
    if (settle) {
      if (auto settled = settle(*workspace.m_repository); !settled) {
        return settled.error();
      }
    }
  } else {
    sweep_dead_clones();
    std::string pattern = (fs::temp_directory_path() /
                           ("promote-clone-" + std::to_string(::getpid()) + "-XXXXXX"))
                              .string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return make_error(ErrorKind::internal, "cannot create a temporary directory for the clone");
    }
    workspace.m_clone_dir = pattern;
    auto repository =
        git::Repository::clone(pipeline.repository.url, fs::path(pattern) / "repo",
                               pipeline.repository.branch, pipeline.repository.provider);
    if (!repository) {
      return repository.error();
    }
    workspace.m_repository.emplace(std::move(*repository));
    if (settle) {
      if (auto settled = settle(*workspace.m_repository); !settled) {
        return settled.error();
      }
    }
  }
  workspace.m_root = fs::weakly_canonical(workspace.m_repository->workdir());
  return workspace;
}

Workspace::Workspace(Workspace&& other) noexcept
    : m_repository(std::move(other.m_repository)),
      m_clone_dir(std::exchange(other.m_clone_dir, std::nullopt)),
      m_root(std::move(other.m_root)),
      m_lock(std::exchange(other.m_lock, -1)) {}

Workspace::~Workspace() {
  m_repository.reset();
  if (m_lock >= 0) {
    ::close(m_lock);  // releases the lock
  }
  if (m_clone_dir) {
    std::error_code ignored;
    fs::remove_all(*m_clone_dir, ignored);
  }
}

}  // namespace promote::promoter
