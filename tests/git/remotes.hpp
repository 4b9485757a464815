#pragma once
// Helpers of the remote tests (HTTP, ssh, --workdir): an environment with no credential
// variable but the ones a test sets, and a bare repository beside a clone that plays
// "someone else" pushing to it.

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/support.hpp"

namespace promote::test {

/// Prefix of every `git commit` in the scripts: a fixed identity, no signing.
inline const std::string k_git_commit =
    "git -c user.name=t -c user.email=t@e -c commit.gpgsign=false commit -q ";

inline std::string trim_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

/// Every variable the git layer reads for credentials, unset for the scope, then `values`
/// set; all restored afterwards.
class CredentialEnvironment {
 public:
  explicit CredentialEnvironment(
      std::initializer_list<std::pair<std::string, std::string>> values = {}) {
    for (const char* name :
         {"PROMOTE_GIT_TOKEN", "PROMOTE_GIT_USER", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN",
          "GITEA_TOKEN", "PROMOTE_SSH_KEY", "PROMOTE_SSH_KEY_PASSPHRASE", "PROMOTE_SSH_KNOWN_HOSTS",
          "PROMOTE_SSH_INSECURE_ACCEPT_HOST", "SSH_AUTH_SOCK"}) {
      const char* old = std::getenv(name);
      m_saved.emplace_back(name, old == nullptr ? std::nullopt : std::optional<std::string>(old));
      ::unsetenv(name);
    }
    for (const auto& [name, value] : values) {
      set(name, value);
    }
  }
  ~CredentialEnvironment() {
    for (const auto& [name, value] : m_saved) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  CredentialEnvironment(const CredentialEnvironment&) = delete;
  CredentialEnvironment& operator=(const CredentialEnvironment&) = delete;

  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) { ::unsetenv(name.c_str()); }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

/// `dir`/srv/acme/deploy.git, a bare repository with one commit on main (deploy.yaml:
/// "tag: 1"), and `dir`/seed, a clone of it that pushes as "someone else".
class BareRemote {
 public:
  explicit BareRemote(std::filesystem::path dir) : m_dir(std::move(dir)) {
    std::filesystem::create_directories(m_dir);
    sh("mkdir -p srv/acme && git init -q --bare -b main srv/acme/deploy.git\n"
       "git clone -q srv/acme/deploy.git seed 2>/dev/null\ncd seed\n"
       "echo 'tag: 1' > deploy.yaml\ngit add deploy.yaml\n" +
           k_git_commit + "-m init\ngit push -q origin main\n",
       m_dir);
  }
  /// The directory holding acme/deploy.git.
  std::filesystem::path root() const { return m_dir / "srv"; }
  std::filesystem::path bare() const { return m_dir / "srv/acme/deploy.git"; }
  /// Its refs, "id ref" per line.
  std::string refs() const {
    return sh("git --git-dir=" + bare().string() +
              " for-each-ref --format='%(objectname) %(refname)'");
  }
  /// The id main points at.
  std::string head() const {
    return trim_end(sh("git --git-dir=" + bare().string() + " rev-parse main"));
  }
  /// Someone else pushes a commit that changes `file`; returns its id.
  std::string push_theirs(const std::string& file) const {
    return trim_end(
        sh("git fetch -q origin && git reset -q --hard origin/main\n"
           "git rev-parse HEAD >> " +
               file + "\ngit add " + file + "\n" + k_git_commit +
               "-m theirs\ngit push -q origin main\ngit rev-parse HEAD\n",
           m_dir / "seed"));
  }

 private:
  std::filesystem::path m_dir;
};

}  // namespace promote::test
