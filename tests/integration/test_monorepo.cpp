// Monorepo ergonomics: one --tag for every image of a stage (or of an image group), the images a
// build wrote (--images-from), and a stage that promotes only a group. The layout is that of a
// monorepo of several services with one overlay per environment and a manifests directory per
// service (in the shape of GoogleCloudPlatform/microservices-demo's kustomize/ and release/
// directories, cut down to three images).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/scratch_repo.hpp"

namespace {

using promote::test::ScratchRepo;

const char* const k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: shop
images:
  - name: api
    repository: ghcr.io/acme/api
    group: backend
  - name: cart
    repository: ghcr.io/acme/cart
    group: backend
  - name: web
    repository: ghcr.io/acme/web
    group: frontend
stages:
  - name: dev
    target:
      kustomize: envs/dev
  - name: staging
    from: dev
    target:
      kustomize: envs/staging
  - name: backend-canary
    from: dev
    group: backend
    target:
      kustomize: envs/canary
)";

std::string overlay(const std::string& tag) {
  return "apiVersion: kustomize.config.k8s.io/v1beta1\n"
         "kind: Kustomization\n"
         "resources:\n"
         "  - ../../base\n"
         "images:\n"
         "  - name: ghcr.io/acme/api\n"
         "    newTag: \"" +
         tag +
         "\"\n"
         "  - name: ghcr.io/acme/cart\n"
         "    newTag: \"" +
         tag +
         "\"\n"
         "  - name: ghcr.io/acme/web\n"
         "    newTag: \"" +
         tag + "\"\n";
}

const char* const k_base = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:0.1.0
        - name: cart
          image: ghcr.io/acme/cart:0.1.0
        - name: web
          image: ghcr.io/acme/web:0.1.0
)";

ScratchRepo monorepo() {
  return ScratchRepo({{"promote.yaml", k_pipeline},
                      {"base/kustomization.yaml", "resources:\n  - deployment.yaml\n"},
                      {"base/deployment.yaml", k_base},
                      {"envs/dev/kustomization.yaml", overlay("1.0.0")},
                      {"envs/staging/kustomization.yaml", overlay("1.0.0")},
                      {"envs/canary/kustomization.yaml", overlay("1.0.0")}});
}

nlohmann::json images_of(const promote::test::CommandResult& result) {
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  return nlohmann::json::parse(result.out)["candidate"]["images"];
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("--tag sets every image of the stage, and with --group only the group's") {
    const ScratchRepo repo = monorepo();
    auto all = repo.promote({"--to", "dev", "--tag", "1.4.3", "--output", "json"});
    CHECK(all.exit_code == 0);
    CHECK(images_of(all) == nlohmann::json{{"api", "ghcr.io/acme/api:1.4.3"},
                                           {"cart", "ghcr.io/acme/cart:1.4.3"},
                                           {"web", "ghcr.io/acme/web:1.4.3"}});
    CHECK(repo.file("envs/dev/kustomization.yaml") == overlay("1.4.3"));

    auto backend =
        repo.promote({"--to", "dev", "--tag", "1.5.0", "--group", "backend", "--output", "json"});
    CHECK(backend.exit_code == 0);
    CHECK(images_of(backend) == nlohmann::json{{"api", "ghcr.io/acme/api:1.5.0"},
                                               {"cart", "ghcr.io/acme/cart:1.5.0"},
                                               {"web", "ghcr.io/acme/web:1.4.3"}});

    // --image wins over --tag for its image.
    auto mixed = repo.promote({"--to", "dev", "--tag", "1.6.0", "--image",
                               "web=ghcr.io/acme/web:1.5.9", "--output", "json"});
    CHECK(mixed.exit_code == 0);
    CHECK(images_of(mixed)["web"] == "ghcr.io/acme/web:1.5.9");
    CHECK(images_of(mixed)["api"] == "ghcr.io/acme/api:1.6.0");

    const auto lonely = repo.promote({"--to", "dev", "--group", "backend"});
    CHECK(lonely.exit_code == 2);
    CHECK(lonely.err.find("--group chooses the images --tag sets: give --tag TAG") !=
          std::string::npos);
    const auto later = repo.promote({"--to", "staging", "--tag", "2.0.0"});
    CHECK(later.exit_code == 2);
    CHECK(later.err.find("stage 'staging' takes its candidate from 'dev'; --image, --chart, --tag "
                         "and --images-from are for stages without 'from'") != std::string::npos);
  }

  TEST_CASE("--images-from takes the images a build wrote, as a dotenv file or JSON") {
    const ScratchRepo repo = monorepo();
    promote::test::write_text(repo.dir / "build.env",
                              "# written by the build job\n"
                              "export API_IMAGE=ghcr.io/acme/api:2.0.0\n"
                              "CART_IMAGE=\"ghcr.io/acme/cart:2.0.1\"\n"
                              "GIT_SHA=3f9a1c2b\n");
    auto from_env = repo.promote(
        {"--to", "dev", "--images-from", (repo.dir / "build.env").string(), "--output", "json"});
    CHECK(from_env.exit_code == 0);
    CHECK(images_of(from_env) == nlohmann::json{{"api", "ghcr.io/acme/api:2.0.0"},
                                                {"cart", "ghcr.io/acme/cart:2.0.1"},
                                                {"web", "ghcr.io/acme/web:1.0.0"}});
    const auto warnings = nlohmann::json::parse(from_env.out)["warnings"];
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] == "--images-from: " + (repo.dir / "build.env").string() +
                             ":4: GIT_SHA names no image of the pipeline");

    promote::test::write_text(repo.dir / "images.json", R"({"web": "ghcr.io/acme/api:9.9.9"})");
    const auto wrong =
        repo.promote({"--to", "dev", "--images-from", (repo.dir / "images.json").string()});
    CHECK(wrong.exit_code == 2);
    CHECK(wrong.err.find(": \"web\": 'ghcr.io/acme/api' is not the pipeline's repository for web "
                         "('ghcr.io/acme/web')") != std::string::npos);
    CHECK(repo.file("envs/dev/kustomization.yaml").find("2.0.1") != std::string::npos);
  }

  TEST_CASE("a stage with a group promotes only the group's images and leaves the others") {
    const ScratchRepo repo = monorepo();
    REQUIRE(repo.promote({"--to", "dev", "--tag", "3.0.0"}).exit_code == 0);
    auto canary = repo.promote({"--to", "backend-canary", "--output", "json"});
    CHECK(canary.exit_code == 0);
    CHECK(images_of(canary) ==
          nlohmann::json{{"api", "ghcr.io/acme/api:3.0.0"}, {"cart", "ghcr.io/acme/cart:3.0.0"}});
    const std::string canary_overlay = repo.file("envs/canary/kustomization.yaml");
    CHECK(canary_overlay.find("newTag: \"3.0.0\"\n  - name: ghcr.io/acme/web\n    newTag: "
                              "\"1.0.0\"") != std::string::npos);

    // status shows the recorded candidate: the group's images, the same id.
    const auto status = repo.promote({"status", "--output", "json"});
    INFO(status.out << status.err);
    const auto stages = nlohmann::json::parse(status.out)["stages"];
    for (const auto& stage : stages) {
      if (stage["name"] == "backend-canary") {
        CHECK(stage["candidate"]["id"] == nlohmann::json::parse(canary.out)["candidate"]["id"]);
      }
    }
    const auto outside =
        repo.promote({"--to", "backend-canary", "--image", "web=ghcr.io/acme/web:9.0.0"});
    CHECK(outside.exit_code == 2);
  }

  TEST_CASE("an approval of a group stage counts for the release the stage gets") {
    // The approval names the candidate the stage would get: its group's images, not every image
    // of the source stage (which once made it count for no promotion at all).
    std::string pipeline = k_pipeline;
    pipeline += "    gates:\n      - use: approval\n        with: { min: 1 }\n";
    ScratchRepo repo({{"promote.yaml", pipeline},
                      {"base/kustomization.yaml", "resources:\n  - deployment.yaml\n"},
                      {"base/deployment.yaml", k_base},
                      {"envs/dev/kustomization.yaml", overlay("1.0.0")},
                      {"envs/staging/kustomization.yaml", overlay("1.0.0")},
                      {"envs/canary/kustomization.yaml", overlay("1.0.0")}});
    REQUIRE(repo.promote({"--to", "dev", "--tag", "3.0.0"}).exit_code == 0);
    CHECK(repo.promote({"--to", "backend-canary"}).exit_code == 3);
    const auto approved = repo.promote({"approve", "--stage", "backend-canary"}, "alice");
    INFO(approved.out << approved.err);
    REQUIRE(approved.exit_code == 0);
    const auto canary = repo.promote({"--to", "backend-canary", "--output", "json"});
    INFO(canary.out << canary.err);
    CHECK(canary.exit_code == 0);
    CHECK(nlohmann::json::parse(canary.out)["outcome"] == "promoted");
  }
}
