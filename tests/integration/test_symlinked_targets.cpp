// Target files that are symlinks (issue 15, defect 8): an edit goes to the file the link leads
// to, inside the repository, and the link stays a link in the working tree and in the commit.
// A link that leads out of the repository is refused, and nothing is written.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>

#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::contains;
using promote::test::sh;

namespace {

const std::string k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: prod
    target: {kustomize: overlays/prod}
)";

const std::string k_deployment =
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:1.0.0\n";

/// The mode git records for `path` at HEAD ("120000" for a symlink).
std::string mode_at_head(const promote::test::ScratchRepo& repo, const std::string& path) {
  return sh("git ls-tree HEAD -- " + path + " | cut -d' ' -f1", repo.repo);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a symlinked kustomization and patch are edited where they lead; the links stay") {
    promote::test::ScratchRepo repo(
        {{"promote.yaml", k_pipeline},
         {"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
         {"base/deployment.yaml", k_deployment},
         {"shared/prod-kustomization.yaml",
          "resources: [../../base]\npatches:\n  - path: api-image.yaml\n"},
         {"shared/api-image.yaml",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
          "    spec:\n      containers:\n        - name: api\n          image: "
          "ghcr.io/acme/api:1.1.0\n"}});
    fs::create_directories(repo.repo / "overlays/prod");
    fs::create_symlink("../../shared/prod-kustomization.yaml",
                       repo.repo / "overlays/prod/kustomization.yaml");
    fs::create_symlink("../../shared/api-image.yaml", repo.repo / "overlays/prod/api-image.yaml");
    sh("git add -A && git commit -qm links && git push -q", repo.repo);

    const auto result = repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0"});
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    for (const auto& link : {"overlays/prod/kustomization.yaml", "overlays/prod/api-image.yaml"}) {
      CHECK_MESSAGE(fs::is_symlink(repo.repo / link), link);
      CHECK_MESSAGE(mode_at_head(repo, link) == "120000\n", link);
    }
    CHECK(contains(repo.file("shared/api-image.yaml"), "image: ghcr.io/acme/api:2.0.0"));
    CHECK(repo.file("shared/prod-kustomization.yaml") ==
          "resources: [../../base]\npatches:\n  - path: api-image.yaml\n");
    CHECK(sh("git show --name-only --format= HEAD", repo.repo) == "shared/api-image.yaml\n");
    CHECK(sh("git status --porcelain", repo.repo).empty());
    const auto status = repo.promote({"status"});
    CHECK(status.exit_code == 0);
    CHECK(contains(status.out, "2.0.0"));
  }

  TEST_CASE("a kustomization linked to one outside the repository is refused, nothing written") {
    promote::test::ScratchRepo repo({{"promote.yaml", k_pipeline},
                                     {"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
                                     {"base/deployment.yaml", k_deployment}});
    promote::test::write_text(repo.dir / "outside.yaml",
                              "resources: [../../base]\nimages:\n- name: ghcr.io/acme/api\n"
                              "  newTag: 1.0.0\n");
    fs::create_directories(repo.repo / "overlays/prod");
    fs::create_symlink(repo.dir / "outside.yaml", repo.repo / "overlays/prod/kustomization.yaml");
    sh("git add -A && git commit -qm link && git push -q", repo.repo);
    const std::string head = repo.head();

    const auto result = repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err,
                   "overlays/prod/kustomization.yaml: leads out of the repository "
                   "through a symlink"));
    CHECK(contains(promote::test::read_text(repo.dir / "outside.yaml"), "newTag: 1.0.0"));
    CHECK(repo.head() == head);
  }
}
