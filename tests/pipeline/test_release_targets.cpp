// The target keys of releases: an Argo CD entry's `helm:` (where its images live in the Helm
// values of each source) and a target.charts entry's `version:` / `app_version:`.

#include <doctest/doctest.h>

#include <string>

#include "engine/pipeline/pipeline.hpp"
#include "tests/pipeline/load_text.hpp"

namespace {

using promote::test::TempDir;

const std::string k_head = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: guestbook}
images:
  - {name: guestbook, repository: ghcr.io/acme/guestbook}
  - {name: redis, repository: docker.io/library/redis}
charts:
  - {name: helm-guestbook, repository: https://charts.acme.example}
stages:
  - name: dev
    target:
)";

promote::Result<promote::pipeline::Pipeline> load_target(const TempDir& dir,
                                                         const std::string& target) {
  return promote::test::load_text(dir, k_head + target);
}

/// Loads the pipeline with `target`, which must be invalid; its message with the directory cut.
std::string errors(const std::string& target) {
  return promote::test::load_errors(k_head + target);
}

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("an Argo CD entry names where its images live in the Applications' Helm values") {
    TempDir dir;
    auto loaded = load_target(dir, R"(      argocd:
        - path: apps/dev.yaml
          application: guestbook-dev
          helm:
            guestbook: {repository: image.repository, tag: image.tag}
            redis: {image: redis.image}
        - apps/other
)");
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
    const auto& argocd = loaded->stages[0].target.argocd;
    REQUIRE(argocd.size() == 2);
    CHECK(argocd[0].application == "guestbook-dev");
    REQUIRE(argocd[0].helm.size() == 2);
    CHECK(argocd[0].helm.at("guestbook").repository == "image.repository");
    CHECK(argocd[0].helm.at("guestbook").tag == "image.tag");
    CHECK(argocd[0].helm.at("redis").image == "redis.image");
    CHECK(argocd[0].helm.at("redis").tag.empty());
    CHECK(argocd[0].path_where.at({"guestbook", "tag"}).to_string() ==
          dir.path().string() + "/promote.yaml:16:60");
    CHECK(argocd[0].path_where.at({"redis", "image"}).line == 17);
    CHECK(argocd[1].helm.empty());
    CHECK(argocd[1].path_where.empty());
  }

  TEST_CASE("an Argo CD entry's helm: is refused as a helm target's images: are") {
    CHECK(errors("      argocd: {path: a.yaml, helm: {guestbok: {tag: image.tag}}}\n") ==
          "promote.yaml:12:37: target.argocd[].helm: the pipeline has no image 'guestbok' (did "
          "you mean 'guestbook'?)");
    CHECK(errors("      argocd: {path: a.yaml, helm: {}}\n") ==
          "promote.yaml:12:36: 'target.argocd[].helm' must name at least one image");
    CHECK(errors("      argocd: {path: a.yaml, helm: {redis: {image: a, tag: b}}}\n") ==
          "promote.yaml:12:44: image 'redis': helm image paths: 'image' (one string) cannot be "
          "combined with registry, repository, tag or digest");
    CHECK(errors("      argocd: {path: a.yaml, helm: {redis: {tag: a, version: b}}}\n") ==
          "promote.yaml:12:53: unknown field 'version' in the value paths of image 'redis'");
    CHECK(errors("      argocd: {path: a.yaml, helm: {redis: {tag: [a]}}}\n") ==
          "promote.yaml:12:50: 'target.argocd[].helm.tag' must be a string, got a list\n"
          "promote.yaml:12:44: image 'redis': helm image paths: give either image, or tag (with "
          "repository, registry, digest)");
    CHECK(errors("      argocd: {path: a.yaml, helm: [redis]}\n") ==
          "promote.yaml:12:36: 'target.argocd[].helm' must be a mapping, got a list");
  }

  TEST_CASE("a target.charts entry may pin a Chart.yaml's own version and appVersion") {
    TempDir dir;
    auto loaded = load_target(dir, R"(      charts:
        - {path: charts/guestbook/Chart.yaml, version: true, app_version: true}
        - {path: charts/other/Chart.yaml, version: true}
        - apps/dev.yaml
)");
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
    const auto& charts = loaded->stages[0].target.charts;
    REQUIRE(charts.size() == 3);
    CHECK(charts[0].chart_version);
    CHECK(charts[0].app_version);
    CHECK(charts[1].chart_version);
    CHECK_FALSE(charts[1].app_version);
    CHECK_FALSE(charts[2].chart_version);
    CHECK_FALSE(charts[2].app_version);

    CHECK(errors("      charts: {path: Chart.yaml, version: 1.2.0}\n") ==
          "promote.yaml:12:43: 'target.charts[].version' must be true or false, got '1.2.0'");
    CHECK(errors("      charts: {path: Chart.yaml, appVersion: true}\n") ==
          "promote.yaml:12:34: unknown field 'appVersion' in a target.charts entry (did you mean "
          "'app_version'?)");
  }
}
