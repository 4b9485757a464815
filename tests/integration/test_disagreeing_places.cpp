// A target whose places disagree (issue 14, item 6): files of one stage holding different values
// of one image. A promotion makes them consistent and says so; the record keeps what each place
// held; a rollback of that promotion puts each file back as it was. The shapes follow what real
// repositories hold: a manifests directory where one workload was bumped by hand and another
// was not (as in GoogleCloudPlatform/microservices-demo's kubernetes-manifests, one file per
// service), a values file beside it, and a Kustomize overlay whose own patch sets one workload
// of its base while another keeps the base's tag (as in argoproj/argocd-example-apps).
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

using promote::test::CommandResult;
using promote::test::contains;
using promote::test::sh;
using promote::test::write_text;

namespace {

std::string workload(const std::string& kind, const std::string& name, const std::string& image) {
  return "apiVersion: apps/v1\nkind: " + kind + "\nmetadata:\n  name: " + name +
         "\nspec:\n  template:\n    spec:\n      containers:\n        - name: " + name +
         "\n          image: " + image + "  # the service\n";
}

const std::string k_manifests_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: prod
    target:
      manifests: prod/manifests
      helm:
        - file: prod/values.yaml
          images:
            api: {tag: api.image.tag}
)";

nlohmann::json json_of(const CommandResult& result) {
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

std::string warnings_of(const nlohmann::json& result) {
  std::string out;
  for (const auto& warning : result["warnings"]) {
    out += warning.get<std::string>() + "\n";
  }
  return out;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "a promotion makes places that disagree consistent and says so; a rollback puts "
      "each file back as it was") {
    const std::map<std::string, std::string> files = {
        {"promote.yaml", k_manifests_pipeline},
        {"prod/manifests/api.yaml", workload("Deployment", "api", "ghcr.io/acme/api:1.4.2")},
        {"prod/manifests/worker.yaml", workload("Deployment", "worker", "ghcr.io/acme/api:1.4.1")},
        {"prod/values.yaml", "api:\n  image:\n    tag: \"1.4.0\"   # pinned by hand\n"}};
    promote::test::ScratchRepo repo(files);

    const auto promoted = json_of(repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0", "--output", "json"}));
    CHECK(promoted["outcome"] == "promoted");
    INFO(warnings_of(promoted));
    CHECK(contains(warnings_of(promoted),
                   "stage 'prod' holds api at 3 values (ghcr.io/acme/api:1.4.0, "
                   "ghcr.io/acme/api:1.4.2, ghcr.io/acme/api:1.4.1); this promotion sets every "
                   "place to one"));
    // The record keeps what each place held, in the result, the history and explain.
    const nlohmann::json places = nlohmann::json::parse(R"([
      {"file": "prod/manifests/api.yaml", "image": "api", "value": "ghcr.io/acme/api:1.4.2"},
      {"file": "prod/manifests/worker.yaml", "image": "api", "value": "ghcr.io/acme/api:1.4.1"},
      {"file": "prod/values.yaml", "image": "api", "value": "ghcr.io/acme/api:1.4.0"}])");
    CHECK(promoted["places"] == places);
    const std::string id = promoted["promotion_id"];
    const auto history = json_of(repo.promote({"history", "show", id, "--output", "json"}));
    CHECK(history["places"] == places);
    const auto explain = repo.promote({"explain", id});
    CHECK(contains(explain.out, "places that disagreed before:\n"));
    CHECK(contains(explain.out, "prod/manifests/worker.yaml: api ghcr.io/acme/api:1.4.1\n"));
    for (const auto& path : {"prod/manifests/api.yaml", "prod/manifests/worker.yaml"}) {
      CHECK(contains(repo.file(path), "image: ghcr.io/acme/api:2.0.0  # the service"));
    }
    CHECK(repo.file("prod/values.yaml") ==
          "api:\n  image:\n    tag: \"2.0.0\"   # pinned by hand\n");

    const auto rollback =
        json_of(repo.promote({"rollback", "--stage", "prod", "--output", "json"}));
    CHECK(rollback["outcome"] == "promoted");
    CHECK(rollback["rollback_of"] == "before:" + promoted["promotion_id"].get<std::string>());
    CHECK(contains(warnings_of(rollback),
                   "before promotion " + promoted["promotion_id"].get<std::string>() +
                       ", stage 'prod' held different values at its places; this rollback puts "
                       "each back as it was (prod/manifests/api.yaml: api ghcr.io/acme/api:1.4.2, "
                       "prod/manifests/worker.yaml: api ghcr.io/acme/api:1.4.1, prod/values.yaml: "
                       "api ghcr.io/acme/api:1.4.0)"));
    for (const auto& file : files) {
      CHECK_MESSAGE(repo.file(file.first) == file.second, file.first);
    }
    // What the rollback committed is what the files hold, and status says so.
    CHECK(sh("git status --porcelain", repo.repo).empty());
    const auto status = repo.promote({"status"});
    CHECK(status.exit_code == 4);  // the stage disagrees with itself again, as it did
    CHECK(contains(status.out + status.err, "does not agree with itself on image 'api'"));
  }

  TEST_CASE(
      "a rollback puts back the places of the promotion it undoes, not an older "
      "candidate, when they disagreed before it") {
    const std::map<std::string, std::string> files = {
        {"promote.yaml", k_manifests_pipeline},
        {"prod/manifests/api.yaml", workload("Deployment", "api", "ghcr.io/acme/api:1.0.0")},
        {"prod/manifests/worker.yaml", workload("Deployment", "worker", "ghcr.io/acme/api:1.0.0")},
        {"prod/values.yaml", "api:\n  image:\n    tag: 1.0.0\n"}};
    promote::test::ScratchRepo repo(files);
    REQUIRE(repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"}).exit_code == 0);
    // Someone bumps the worker by hand; the next promotion makes the stage consistent again.
    write_text(repo.repo / "prod/manifests/worker.yaml",
               workload("Deployment", "worker", "ghcr.io/acme/api:1.2.0-hotfix"));
    sh("git commit -qam 'worker: hotfix' && git push -q", repo.repo);
    const std::string by_hand = repo.file("prod/manifests/worker.yaml");
    const auto promoted = json_of(repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0", "--output", "json"}));
    REQUIRE(promoted["outcome"] == "promoted");

    const auto rollback =
        json_of(repo.promote({"rollback", "--stage", "prod", "--output", "json"}));
    CHECK(rollback["rollback_of"] == "before:" + promoted["promotion_id"].get<std::string>());
    CHECK(contains(repo.file("prod/manifests/api.yaml"), "image: ghcr.io/acme/api:1.1.0"));
    CHECK(repo.file("prod/manifests/worker.yaml") == by_hand);
    CHECK(repo.file("prod/values.yaml") == "api:\n  image:\n    tag: 1.1.0\n");
  }

  TEST_CASE(
      "a file that itself held several values of an image is put back whole, and only "
      "while the promotion was the last to change it") {
    const std::string both = workload("Deployment", "api", "ghcr.io/acme/api:1.4.2") + "---\n" +
                             workload("StatefulSet", "report", "'ghcr.io/acme/api:1.3.0'");
    const std::map<std::string, std::string> files = {
        {"promote.yaml", k_manifests_pipeline},
        {"prod/manifests/all.yaml", both},
        {"prod/values.yaml", "api:\n  image:\n    tag: 1.4.2\n"}};
    promote::test::ScratchRepo repo(files);
    const auto promoted = json_of(repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0", "--output", "json"}));
    REQUIRE(promoted["outcome"] == "promoted");
    REQUIRE(!contains(repo.file("prod/manifests/all.yaml"), "1.3.0"));

    SUBCASE("unchanged since: put back byte for byte") {
      const auto rollback =
          json_of(repo.promote({"rollback", "--stage", "prod", "--output", "json"}));
      CHECK(rollback["outcome"] == "promoted");
      CHECK(contains(warnings_of(rollback),
                     "this rollback puts each back as it was (prod/manifests/all.yaml: api "
                     "ghcr.io/acme/api:1.4.2 and ghcr.io/acme/api:1.3.0, prod/values.yaml: api "
                     "ghcr.io/acme/api:1.4.2)"));
      CHECK(repo.file("prod/manifests/all.yaml") == both);
      CHECK(repo.file("prod/values.yaml") == files.at("prod/values.yaml"));
    }
    SUBCASE("changed since: refused, and nothing is written") {
      write_text(repo.repo / "prod/manifests/all.yaml",
                 "# owned by the api team\n" + repo.file("prod/manifests/all.yaml"));
      sh("git commit -qam 'a comment' && git push -q", repo.repo);
      const std::string head = repo.head();
      const auto rollback = repo.promote({"rollback", "--stage", "prod"});
      INFO(rollback.out << rollback.err);
      CHECK(rollback.exit_code == 4);
      CHECK(contains(rollback.out,
                     "prod/manifests/all.yaml: changed since the promotion that is rolled back, "
                     "and before it held several values of one image, which promote can put "
                     "back only by putting the file back whole; nothing was written"));
      CHECK(repo.head() == head);
      CHECK(sh("git status --porcelain", repo.repo).empty());
    }
  }

  TEST_CASE("an overlay that rendered an image at two values is put back as it was") {
    // argoproj/argocd-example-apps-like: a base with two workloads of one image; the overlay's
    // own patch pins one of them.
    const std::map<std::string, std::string> files = {
        {"promote.yaml", R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: prod
    target: {kustomize: overlays/prod}
)"},
        {"base/kustomization.yaml", "resources:\n  - api.yaml\n  - report.yaml\n"},
        {"base/api.yaml", workload("Deployment", "api", "ghcr.io/acme/api:1.0.0")},
        {"base/report.yaml", workload("StatefulSet", "report", "ghcr.io/acme/api:1.0.0")},
        {"overlays/prod/kustomization.yaml",
         "resources:\n  - ../../base\npatches:\n  - path: api-image.yaml\n"},
        {"overlays/prod/api-image.yaml",
         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n"
         "    spec:\n      containers:\n        - name: api\n          image: "
         "ghcr.io/acme/api:1.1.0\n"}};
    promote::test::ScratchRepo repo(files);
    const auto promoted = json_of(repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:2.0.0", "--output", "json"}));
    REQUIRE(promoted["outcome"] == "promoted");
    CHECK(contains(warnings_of(promoted), "stage 'prod' holds api at 2 values"));
    const auto after = repo.promote({"status"});
    CHECK(contains(after.out, "2.0.0"));

    const auto rollback =
        json_of(repo.promote({"rollback", "--stage", "prod", "--output", "json"}));
    CHECK(rollback["outcome"] == "promoted");
    for (const auto& file : files) {
      CHECK_MESSAGE(repo.file(file.first) == file.second, file.first);
    }
  }
}
