#pragma once
// A scratch copy of the demo GitOps repository of examples/, pushed to a local bare remote,
// and the real promote binary run in it: the fixture of the end-to-end tests.

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/support.hpp"

namespace promote::test {

inline const std::string k_examples = std::string(PROMOTE_SOURCE_DIR) + "/examples";

// A scratch copy of the demo GitOps repository, pushed to a local bare remote.
struct Shop {
  TempDir dir;
  std::filesystem::path remote = dir / "remote.git";
  std::filesystem::path repo = dir / "shop";

  Shop() {
    sh("git init -q --bare -b main remote.git && mkdir shop && cp -r '" + k_examples + "/k8s' '" +
           k_examples + "/reports' '" + k_examples +
           "/promote.yaml' shop/ && cd shop && git init -q -b main && "
           "git config user.name 'Shop CI' && git config user.email ci@shop.example && "
           "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
           "git remote add origin ../remote.git && git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), promote_binary().string());
    std::map<std::string, std::string> environment = {
        {"GITHUB_ACTOR", ""}, {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_ACTOR", "shop-ci"},
        {"PROMOTE_HISTORY", ""}, {"NO_COLOR", "1"}, {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}};
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    return run(args, repo, environment);
  }

  nlohmann::json promote_json(std::vector<std::string> args) const {
    args.push_back("--output");
    args.push_back("json");
    const CommandResult result = promote(args);
    INFO("stderr: " << result.err);
    return nlohmann::json::parse(result.out);
  }

  std::string remote_head() const { return sh("git --git-dir=remote.git rev-parse main", dir.path()); }
  std::string overlay(const std::string& stage) const {
    return read_text(repo / "k8s/overlays" / stage / "kustomization.yaml");
  }
  nlohmann::json history() const {
    return nlohmann::json::parse(promote({"history", "--output", "json"}).out);
  }
};

// The shop's history database.
inline std::string history_db(const Shop& shop) {
  return (shop.repo / ".promote/history.db").string();
}

// Runs SQL on the shop's history with the sqlite3 program, as someone covering their tracks
// would.
inline void tamper(const Shop& shop, const std::string& sql) {
  const CommandResult result = run({"sqlite3", history_db(shop), sql});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
}

// What sqlite3 prints for `sql` on the shop's history, without the final line feeds.
inline std::string query(const Shop& shop, const std::string& sql) {
  const CommandResult result = run({"sqlite3", history_db(shop), sql});
  REQUIRE(result.exit_code == 0);
  std::string out = result.out;
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

}  // namespace promote::test
