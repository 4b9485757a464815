#pragma once
// A GitOps repository of the test's own files, pushed to a local bare remote, and the real
// promote binary run in it (a plain environment: no CI, a fixed actor, no colour).

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/support.hpp"

namespace promote::test {

struct ScratchRepo {
  TempDir dir;
  std::filesystem::path repo = dir / "deploy";

  /// Writes `files` (path relative to the repository -> contents), commits them with a
  /// .gitignore of `.promote/`, and pushes to `remote.git` beside the repository.
  explicit ScratchRepo(const std::map<std::string, std::string>& files) {
    for (const auto& [path, text] : files) {
      std::filesystem::create_directories((repo / path).parent_path());
      write_text(repo / path, text);
    }
    sh("git init -q --bare -b main remote.git && cd deploy && git init -q -b main && "
       "git config user.name 'Deploy CI' && git config user.email ci@deploy.example && "
       "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
       "git remote add origin ../remote.git && git push -q -u origin main",
       dir.path());
  }

  /// Runs promote in the checkout as `actor`.
  CommandResult promote(std::vector<std::string> args,
                        const std::string& actor = "deploy-ci") const {
    args.insert(args.begin(), promote_binary().string());
    return run(args, repo,
               {{"GITHUB_ACTOR", ""},
                {"GITLAB_USER_LOGIN", ""},
                {"PROMOTE_ACTOR", actor},
                {"PROMOTE_HISTORY", ""},
                {"NO_COLOR", "1"},
                {"GITHUB_ACTIONS", ""},
                {"GITLAB_CI", ""}});
  }
  std::string file(const std::string& path) const { return read_text(repo / path); }
  std::string head() const { return sh("git rev-parse HEAD", repo); }
  /// What `kubectl kustomize` renders of `overlay` (a directory of the repository); it must
  /// succeed.
  std::string render(const std::string& overlay) const {
    const CommandResult built = run({"kubectl", "kustomize", (repo / overlay).string()});
    INFO(built.err);
    REQUIRE(built.exit_code == 0);
    return built.out;
  }
};

/// The files of examples/NAME as a user starts from them (its demo script left out), for a
/// ScratchRepo.
inline std::map<std::string, std::string> example_files(const std::string& name) {
  const std::filesystem::path example =
      std::filesystem::path(PROMOTE_SOURCE_DIR) / "examples" / name;
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(example)) {
    if (entry.is_regular_file() && entry.path().filename() != "demo.sh") {
      files[entry.path().lexically_relative(example).generic_string()] = read_text(entry.path());
    }
  }
  return files;
}

}  // namespace promote::test
