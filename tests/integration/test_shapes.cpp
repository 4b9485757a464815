// The shapes real GitOps files have, through the real binary: Docker Hub's spellings of one
// repository, Argo CD Applications (kustomize.images entries and helm.parameters in one document
// of a multi-document file), a chart's empty tag, and one Helm value that two images share.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "engine/util/hash.hpp"
#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

namespace {

/// A GitOps repository holding `files`, with the pipeline `pipeline`, pushed to a bare remote.
struct Repo : promote::test::ScratchRepo {
  static std::map<std::string, std::string> with_pipeline(
      const std::string& pipeline, const std::vector<std::pair<std::string, std::string>>& files) {
    std::map<std::string, std::string> out(files.begin(), files.end());
    out["promote.yaml"] = pipeline;
    return out;
  }
  Repo(const std::string& pipeline, const std::vector<std::pair<std::string, std::string>>& files)
      : ScratchRepo(with_pipeline(pipeline, files)) {}
};

nlohmann::json json_of(const CommandResult& result) {
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the text");
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("Docker Hub's spellings of an image are one repository: --image, matching and the "
            "candidate id agree, and each file keeps its spelling") {
    const std::string deployment =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: cache\n          image: redis:7.0\n"
        "        - name: api\n          image: ghcr.io/acme/api:1.0.0\n";
    const std::string kustomization =
        "resources: [../../base]\nimages:\n- name: redis\n  newTag: \"6.2\"\n"
        "- name: ghcr.io/acme/api\n  newTag: 0.9.0\n";
    const std::string setters =
        "cache: index.docker.io/library/redis:6.2 # {\"$imagepolicy\": \"flux-system:cache\"}\n";
    Repo repo(R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: cache, repository: docker.io/library/redis}
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: dev
    target: {manifests: deploy/dev}
  - name: prod
    from: dev
    target:
      kustomize: overlays/prod
      setters: config/prod.yaml
)",
              {{"deploy/dev/shop.yaml", deployment},
               {"overlays/prod/kustomization.yaml", kustomization},
               {"config/prod.yaml", setters}});

    // The short spelling is the pipeline's repository; the file keeps `redis`.
    const auto dev = json_of(repo.promote({"--to", "dev", "--image", "cache=redis:7.2", "--output", "json"}));
    CHECK(dev["outcome"] == "promoted");
    CHECK(dev["candidate"]["images"]["cache"] == "redis:7.2");
    const std::string id = promote::util::sha256_hex(
        "{\"images\":{\"api\":\"ghcr.io/acme/api:1.0.0\",\"cache\":\"docker.io/library/redis:7.2\"}}");
    CHECK(dev["candidate"]["id"] == id);
    CHECK(repo.file("deploy/dev/shop.yaml") == replaced(deployment, "redis:7.0", "redis:7.2"));

    // The long spelling is the same candidate: nothing to do.
    const auto again = json_of(repo.promote(
        {"--to", "dev", "--image", "cache=docker.io/library/redis:7.2", "--output", "json"}));
    CHECK(again["outcome"] == "no-op");
    CHECK(again["candidate"]["id"] == id);

    // The next stage finds `redis` in its kustomization and its setter marker, changes only the
    // tags, and records the same candidate.
    const auto prod = json_of(repo.promote({"--to", "prod", "--output", "json"}));
    CHECK(prod["outcome"] == "promoted");
    CHECK(prod["candidate"]["id"] == id);
    CHECK(prod["previous"]["cache"] == "redis:6.2");
    CHECK(repo.file("overlays/prod/kustomization.yaml") ==
          replaced(replaced(kustomization, "\"6.2\"", "\"7.2\""), "0.9.0", "1.0.0"));
    CHECK(repo.file("config/prod.yaml") == replaced(setters, "redis:6.2", "redis:7.2"));

    // Another repository is still refused.
    const CommandResult other = repo.promote({"--to", "dev", "--image", "cache=quay.io/redis:7.2"});
    CHECK(other.exit_code == 2);
    CHECK(contains(other.err, "--image cache: 'quay.io/redis' is not the pipeline's repository "
                              "for cache ('docker.io/library/redis')"));
  }

  TEST_CASE("Argo CD Applications: kustomize.images entries and helm.parameters are promoted in "
            "the chosen Application, byte for byte") {
    const std::string staging = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop-staging
  namespace: argocd
spec:
  project: default
  sources:
    - repoURL: https://github.com/acme/deploy.git
      path: k8s/overlays/staging
      kustomize:
        images:
          - api=ghcr.io/acme/api:1.4.1  # set by CI
    - repoURL: https://charts.acme.example
      chart: web
      targetRevision: 2.0.0
      helm:
        parameters:
          - name: image.repository
            value: ghcr.io/acme/web
          - name: image.tag
            value: "2.0.0"
)";
    const std::string canary = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-canary}
spec:
  source:
    kustomize:
      images: ["api=ghcr.io/acme/api:1.3.0"]
    helm:
      parameters: [{name: image.tag, value: "1.9.0"}]
)";
    const std::string prod = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-prod}
spec:
  source:
    kustomize:
      images: ["api=ghcr.io/acme/api:1.3.0"]
    helm:
      parameters: [{name: replicaCount, value: "3"}, {name: image.tag, value: "1.9.0"}]
)";
    const std::string prod_file = canary + "---\n" + prod;
    Repo repo(R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api, match: api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: staging
    target:
      argocd: apps/shop-staging.yaml
      helm:
        file: apps/shop-staging.yaml
        images:
          web: {repository: "spec.sources[1].helm.parameters[name=image.repository].value",
                tag: "spec.sources[1].helm.parameters[name=image.tag].value"}
  - name: prod
    from: staging
    target:
      argocd: {path: apps/prod.yaml, application: shop-prod}
      helm:
        file: apps/prod.yaml
        document: {kind: Application, name: shop-prod}
        images:
          web: {tag: "spec.source.helm.parameters[name=image.tag].value"}
)",
              {{"apps/shop-staging.yaml", staging}, {"apps/prod.yaml", prod_file}});

    const auto first = json_of(repo.promote({"--to", "staging", "--image",
                                             "api=ghcr.io/acme/api:1.5.0", "--image",
                                             "web=ghcr.io/acme/web:2.1.0", "--output", "json"}));
    CHECK(first["previous"]["api"] == "ghcr.io/acme/api:1.4.1");
    CHECK(first["previous"]["web"] == "ghcr.io/acme/web:2.0.0");
    CHECK(repo.file("apps/shop-staging.yaml") ==
          replaced(replaced(staging, "api:1.4.1", "api:1.5.0"), "\"2.0.0\"\n", "\"2.1.0\"\n"));

    const auto second = json_of(repo.promote({"--to", "prod", "--output", "json"}));
    CHECK(second["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.5.0");
    CHECK(second["previous"]["web"] == "ghcr.io/acme/web:1.9.0");
    // Only shop-prod changed; shop-canary, before it in the file, is as it was.
    CHECK(repo.file("apps/prod.yaml") ==
          canary + "---\n" +
              replaced(replaced(prod, "api:1.3.0", "api:1.5.0"), "\"1.9.0\"", "\"2.1.0\""));
  }

  TEST_CASE("a chart's empty tag is named with its place and what to do, and an edit sets it in "
            "its quotes") {
    const std::string values = "image:\n  repository: ghcr.io/acme/api\n  tag: \"\"\n"
                               "web:\n  image: ghcr.io/acme/web:2.0.0\n";
    Repo repo(R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: dev
    target:
      helm:
        file: charts/values-dev.yaml
        images: {api: {repository: image.repository, tag: image.tag}, web: {image: web.image}}
  - name: prod
    from: dev
    target:
      helm:
        file: charts/values-prod.yaml
        images: {api: {repository: image.repository, tag: image.tag}, web: {image: web.image}}
)",
              {{"charts/values-dev.yaml", values}, {"charts/values-prod.yaml", values}});
    const std::string head = repo.head();

    const CommandResult without =
        repo.promote({"--to", "dev", "--image", "web=ghcr.io/acme/web:2.1.0"});
    CHECK(without.exit_code == 2);
    CHECK(contains(without.out + without.err,
                   "image 'api' is not set in the target of stage 'dev': the value at "
                   "charts/values-dev.yaml:3:8 is empty (a chart then deploys its appVersion); "
                   "give it with --image api=REFERENCE"));
    const CommandResult source = repo.promote({"--to", "prod"});
    CHECK(source.exit_code == 4);
    CHECK(contains(source.out + source.err,
                   "stage 'dev' does not set image 'api': the value at charts/values-dev.yaml:3:8 "
                   "is empty (a chart then deploys its appVersion); promote a reference into 'dev' "
                   "first, or write one there"));
    CHECK(repo.head() == head);

    json_of(repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.0.0", "--output", "json"}));
    CHECK(repo.file("charts/values-dev.yaml") ==
          "image:\n  repository: ghcr.io/acme/api\n  tag: \"1.0.0\"\nweb:\n  image: "
          "ghcr.io/acme/web:2.0.0\n");
  }

  TEST_CASE("two images that share one Helm value cannot be given two values: exit 2, nothing "
            "written") {
    const std::string values =
        "api:\n  repository: ghcr.io/acme/api\nworker:\n  repository: ghcr.io/acme/worker\n"
        "image:\n  tag: 1.0.0  # one tag for both\n";
    Repo repo(R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: worker, repository: ghcr.io/acme/worker}
stages:
  - name: dev
    target:
      helm:
        file: values.yaml
        images:
          api: {repository: api.repository, tag: image.tag}
          worker: {repository: worker.repository, tag: image.tag}
)",
              {{"values.yaml", values}});
    const std::string head = repo.head();

    const CommandResult one = repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0"});
    CHECK(one.exit_code == 2);
    CHECK(contains(one.err,
                   "values.yaml:6:8: images 'api' and 'worker' both live at image.tag and the "
                   "candidate gives them different values ('1.1.0' for api, '1.0.0' for worker); "
                   "give them the same value, or each image a place of its own"));
    CHECK(repo.file("values.yaml") == values);
    CHECK(repo.head() == head);
    CHECK(sh("git status --porcelain", repo.repo) == "");

    // The same value for both is fine.
    json_of(repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0", "--image",
                          "worker=ghcr.io/acme/worker:1.1.0", "--output", "json"}));
    CHECK(repo.file("values.yaml") == replaced(values, "tag: 1.0.0", "tag: 1.1.0"));
  }
}
