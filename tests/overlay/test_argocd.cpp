#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/overlay/argocd.hpp"
#include "engine/overlay/splice.hpp"

namespace {

using promote::image::Reference;
using promote::overlay::get_argocd_images;
using promote::overlay::set_argocd_images;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::vector<std::string> images(std::string_view text, const std::string& match,
                                const std::string& application = "") {
  auto found = get_argocd_images(text, "app.yaml", match, application);
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  std::vector<std::string> out;
  for (const auto& reference : *found) {
    out.push_back(reference.to_string());
  }
  return out;
}

std::pair<std::string, int> set_ok(std::string_view text, const std::string& match,
                                   const std::string& target, const std::string& application = "") {
  auto edited = set_argocd_images(text, "app.yaml", match, reference_of(target), application);
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  return *edited;
}

std::string error_of(std::string_view text, const std::string& match) {
  auto edited = set_argocd_images(text, "app.yaml", match, reference_of("ghcr.io/acme/api:2"));
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << edited->first);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

// The shapes of argoproj/argo-cd's user guide (kustomize.md) and of `kustomize edit set image`.
const std::string k_application = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop-prod
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/acme/deploy.git
    path: k8s/overlays/prod
    kustomize:
      namePrefix: prod-
      images:
        - api=ghcr.io/acme/api:1.4.1   # bumped by CI
        - "web:2.0.0"
        - redis:7.0
        - 'worker=ghcr.io/acme/worker@)" +
                                  k_sha + R"('
  destination:
    server: https://kubernetes.default.svc
)";

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("get_argocd_images reads each form of a kustomize.images entry") {
    CHECK(images(k_application, "api") == std::vector<std::string>{"ghcr.io/acme/api:1.4.1"});
    CHECK(images(k_application, "web") == std::vector<std::string>{"web:2.0.0"});
    CHECK(images(k_application, "docker.io/library/redis") ==
          std::vector<std::string>{"redis:7.0"});
    CHECK(images(k_application, "worker") ==
          std::vector<std::string>{"ghcr.io/acme/worker@" + k_sha});
    CHECK(images(k_application, "ghcr.io/acme/api").empty());  // the entry's name is 'api'
    CHECK(images(k_application, "api", "shop-staging").empty());
    CHECK(images(k_application, "api", "shop-prod").size() == 1);
    CHECK(images("kind: Deployment\nspec: {source: {kustomize: {images: [api:1]}}}\n", "api")
              .empty());
  }

  TEST_CASE("set_argocd_images keeps each entry's form, quotes and spelling") {
    const auto [edited, count] = set_ok(k_application, "api", "ghcr.io/acme/api:1.4.2");
    CHECK(count == 1);
    std::string expected = k_application;
    expected.replace(expected.find("api:1.4.1"), 9, "api:1.4.2");
    CHECK(edited == expected);

    std::string web = k_application;
    web.replace(web.find("\"web:2.0.0\""), 11, "\"web:2.1.0\"");
    CHECK(set_ok(k_application, "web", "web:2.1.0").first == web);
    // Another repository for an entry without '=' is written name=repository:tag.
    std::string renamed = k_application;
    renamed.replace(renamed.find("\"web:2.0.0\""), 11, "\"web=ghcr.io/acme/web:2.1.0\"");
    CHECK(set_ok(k_application, "web", "ghcr.io/acme/web:2.1.0").first == renamed);
    // Docker Hub: `redis` stays `redis`.
    std::string redis = k_application;
    redis.replace(redis.find("redis:7.0"), 9, "redis:7.2");
    CHECK(set_ok(k_application, "redis", "docker.io/library/redis:7.2").first == redis);
    std::string worker = k_application;
    worker.replace(worker.find("@" + k_sha), 1 + k_sha.size(), ":3.0.0");
    CHECK(set_ok(k_application, "worker", "ghcr.io/acme/worker:3.0.0").first == worker);
    // Already right: byte for byte, no change counted.
    CHECK(set_ok(k_application, "api", "ghcr.io/acme/api:1.4.1") == std::pair{k_application, 0});
  }

  TEST_CASE("set_argocd_images edits spec.sources[] of a multi-source Application") {
    const std::string text =
        "kind: Application\nmetadata: {name: shop}\nspec:\n  sources:\n"
        "  - repoURL: https://github.com/acme/deploy.git\n"
        "    kustomize: {images: [api=ghcr.io/acme/api:1]}\n"
        "  - ref: values\n"
        "---\nkind: Application\nmetadata: {name: other}\nspec:\n  source:\n"
        "    kustomize:\n      images: [api=ghcr.io/acme/api:1]\n";
    const auto [edited, count] = set_ok(text, "api", "ghcr.io/acme/api:2", "shop");
    CHECK(count == 1);
    CHECK(edited ==
          "kind: Application\nmetadata: {name: shop}\nspec:\n  sources:\n"
          "  - repoURL: https://github.com/acme/deploy.git\n"
          "    kustomize: {images: [api=ghcr.io/acme/api:2]}\n"
          "  - ref: values\n"
          "---\nkind: Application\nmetadata: {name: other}\nspec:\n  source:\n"
          "    kustomize:\n      images: [api=ghcr.io/acme/api:1]\n");
    CHECK(set_ok(text, "api", "ghcr.io/acme/api:2").second == 2);
  }

  TEST_CASE("set_argocd_images refuses what it cannot read or edit, naming file, line and column") {
    CHECK(error_of("kind: Application\nspec:\n  source:\n    kustomize:\n      images: api:1\n",
                   "api") ==
          "app.yaml:5:15: spec.source.kustomize.images must be a list (it is a string)");
    CHECK(error_of("kind: Application\nspec:\n  sources: {a: 1}\n", "api") ==
          "app.yaml:3:12: spec.sources must be a list (it is a map)");
    CHECK(error_of("kind: Application\nspec:\n  source:\n    kustomize:\n      images:\n"
                   "        - {name: api}\n",
                   "api") ==
          "app.yaml:6:11: spec.source.kustomize.images[0] must be a string (it is a map)");
    CHECK(error_of("kind: Application\nspec:\n  source:\n    kustomize:\n      images:\n"
                   "        - api=Acme/API:1\n",
                   "api") ==
          "app.yaml:6:11: spec.source.kustomize.images[0]: invalid image reference 'Acme/API:1': "
          "repository name must be lower-case");
    CHECK(error_of("x: &a api=ghcr.io/acme/api:1\nkind: Application\nspec:\n  source:\n"
                   "    kustomize:\n      images:\n        - *a\n",
                   "api") ==
          "app.yaml:1:4: cannot edit spec.source.kustomize.images[0] in place: " +
              promote::overlay::splice::describe(promote::overlay::splice::Shape::alias));
    CHECK(error_of("kind: Application\nspec:\n  source:\n    kustomize:\n      images:\n"
                   "        - |-\n          api:1\n",
                   "api") ==
          "app.yaml:6:11: cannot edit spec.source.kustomize.images[0] in place: " +
              promote::overlay::splice::describe(promote::overlay::splice::Shape::block));
  }
}
