#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>  // initialises std::cerr before the skip decorator below uses it
#include <string>
#include <vector>

#include "engine/overlay/argocd_helm.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::image::Reference;
using promote::overlay::get_argocd_helm_images;
using promote::overlay::HelmImage;
using promote::overlay::set_argocd_helm_images;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

const HelmImage k_tag_only{"", "", "", "image.tag", ""};
const HelmImage k_repository_tag{"", "", "image.repository", "image.tag", ""};
const HelmImage k_with_digest{"", "", "image.repository", "image.tag", "image.digest"};
const HelmImage k_bitnami{"", "image.registry", "image.repository", "image.tag", "image.digest"};
const HelmImage k_one_string{"image", "", "", "", ""};

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::vector<std::string> images(std::string_view text, const HelmImage& where,
                                const std::string& application = "") {
  auto found = get_argocd_helm_images(text, "app.yaml", where, application);
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  std::vector<std::string> out;
  for (const auto& reference : *found) {
    out.push_back(reference.to_string());
  }
  return out;
}

std::string get_error(std::string_view text, const HelmImage& where) {
  auto found = get_argocd_helm_images(text, "app.yaml", where);
  REQUIRE_MESSAGE(found.has_error(), "read " << found->size() << " images");
  CHECK(found.error().kind == promote::ErrorKind::input);
  return found.error().message;
}

std::pair<std::string, int> set_ok(std::string_view text, const HelmImage& where,
                                   const std::string& target, const std::string& application = "") {
  auto edited = set_argocd_helm_images(text, "app.yaml", where, reference_of(target), application);
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  // The edit is made once: made again, it changes nothing.
  auto again =
      set_argocd_helm_images(edited->first, "app.yaml", where, reference_of(target), application);
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  CHECK(*again == std::pair{edited->first, 0});
  return *edited;
}

std::string set_error(std::string_view text, const HelmImage& where, const std::string& target,
                      const std::string& application = "") {
  auto edited = set_argocd_helm_images(text, "app.yaml", where, reference_of(target), application);
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << edited->first);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

/// `text` with the first `from` after `after` replaced by `to`; the test fails when it is not
/// there.
std::string replaced(std::string text, const std::string& from, const std::string& to,
                     const std::string& after = "") {
  const std::size_t start = text.find(after);
  REQUIRE(start != std::string::npos);
  const std::size_t at = text.find(from, start);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' is not in the text");
  return text.replace(at, from.size(), to);
}

std::string crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c == '\n' ? std::string("\r\n") : std::string(1, c);
  }
  return out;
}

// argoproj/argocd-example-apps's helm-guestbook chart deployed as Argo CD's user guide
// (docs/user-guide/helm.md) shows it: image values as helm.parameters, one with forceString.
const std::string k_guestbook = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: helm-guestbook
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: helm-guestbook
    helm:
      releaseName: guestbook
      parameters:
      - name: image.repository
        value: gcr.io/heptio-images/ks-guestbook-demo
      - name: image.tag
        value: "0.1"   # bumped by CI
      - name: service.type
        value: LoadBalancer
        forceString: true
  destination:
    server: https://kubernetes.default.svc
    namespace: helm-guestbook
  syncPolicy:
    automated:
      prune: true
)";

// All three places of one source, as Argo CD's user guide describes them (parameters over
// valuesObject over values); the chart is in the shape of a Bitnami-style image block.
const std::string k_three_places = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop-prod
spec:
  project: default
  source:
    repoURL: https://charts.example.com
    chart: shop
    targetRevision: 2.3.0
    helm:
      parameters:
        - name: image.tag
          value: "1.4.2"
          forceString: true
      valuesObject:
        image:
          repository: ghcr.io/acme/shop
          tag: 1.4.1
        replicaCount: 3
      values: |
        # the defaults for prod
        image:
          repository: ghcr.io/acme/shop   # mirrored below
          tag: "1.3.0"
          pullPolicy: IfNotPresent
        ingress:
          enabled: true
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
)";

// Argo CD's multiple_sources.md: a chart from a Helm repository with its values file from a git
// repository (`ref: values`, `$values/...`); the image tag as a parameter.
const std::string k_multi_source = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: prometheus
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: monitoring
  sources:
  - repoURL: https://prometheus-community.github.io/helm-charts
    chart: prometheus
    targetRevision: 15.7.1
    helm:
      valueFiles:
      - $values/charts/prometheus/values.yaml
      parameters:
      - name: server.image.tag
        value: v2.45.0
  - repoURL: https://git.example.com/org/value-files.git
    targetRevision: dev
    ref: values
)";

// argoproj/argocd-example-apps's app-of-apps (apps/templates), rendered: several Applications
// in one file, one with a valuesObject in flow style, one with `values: |-`, one that is not a
// helm source, and a document that is not an Application.
const std::string k_app_of_apps = R"(---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: helm-guestbook-staging
  namespace: argocd
spec:
  destination: {namespace: staging, server: https://kubernetes.default.svc}
  project: default
  source:
    path: helm-guestbook
    repoURL: https://github.com/argoproj/argocd-example-apps
    targetRevision: HEAD
    helm:
      valuesObject:
        image: {repository: gcr.io/heptio-images/ks-guestbook-demo, tag: "0.2"}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: helm-guestbook-prod
  namespace: argocd
spec:
  destination:
    namespace: prod
    server: https://kubernetes.default.svc
  project: default
  source:
    path: helm-guestbook
    repoURL: https://github.com/argoproj/argocd-example-apps
    targetRevision: HEAD
    helm:
      values: |-
        image:
          repository: gcr.io/heptio-images/ks-guestbook-demo
          tag: '0.1'
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: kustomize-guestbook
spec:
  source:
    path: kustomize-guestbook
    repoURL: https://github.com/argoproj/argocd-example-apps
    kustomize:
      images: [gcr.io/heptio-images/ks-guestbook-demo:0.1]
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
spec:
  sourceRepos: ['*']
)";

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE(
      "get_argocd_helm_images reads what Helm gets: parameters over valuesObject over "
      "values") {
    CHECK(images(k_guestbook, k_repository_tag) ==
          std::vector<std::string>{"gcr.io/heptio-images/ks-guestbook-demo:0.1"});
    // The tag of the parameter, the repository of valuesObject.
    CHECK(images(k_three_places, k_repository_tag) ==
          std::vector<std::string>{"ghcr.io/acme/shop:1.4.2"});
    // Without parameters, valuesObject's tag; without both, the values string's.
    const std::string no_parameters =
        replaced(k_three_places,
                 "        - name: image.tag\n          value: \"1.4.2\"\n"
                 "          forceString: true\n",
                 "        - name: replicas\n"
                 "          value: \"2\"\n");
    CHECK(images(no_parameters, k_repository_tag) ==
          std::vector<std::string>{"ghcr.io/acme/shop:1.4.1"});
    const std::string values_only = replaced(no_parameters, "          tag: 1.4.1\n", "");
    CHECK(images(values_only, k_repository_tag) ==
          std::vector<std::string>{"ghcr.io/acme/shop:1.3.0"});
    // Two parameters of one name: Helm applies them in order, the last wins.
    const std::string twice =
        replaced(k_guestbook, "      - name: service.type\n",
                 "      - name: image.tag\n        value: \"0.3\"\n      - name: service.type\n");
    CHECK(images(twice, k_repository_tag) ==
          std::vector<std::string>{"gcr.io/heptio-images/ks-guestbook-demo:0.3"});
    // A tag alone reads without a repository, which the pipeline gives.
    auto tag_only = get_argocd_helm_images(
        k_multi_source, "app.yaml", {"", "", "server.image.repository", "server.image.tag", ""});
    REQUIRE(tag_only.has_value());
    CHECK(*tag_only == std::vector<Reference>{Reference{"", "", "v2.45.0", ""}});
    CHECK(images(k_guestbook, {"", "", "", "other.tag", ""}).empty());
    CHECK(images(k_guestbook, k_repository_tag, "helm-guestbook-dev").empty());
  }

  TEST_CASE("get_argocd_helm_images returns each Application's image once, in file order") {
    CHECK(images(k_app_of_apps, k_repository_tag) ==
          std::vector<std::string>{"gcr.io/heptio-images/ks-guestbook-demo:0.2",
                                   "gcr.io/heptio-images/ks-guestbook-demo:0.1"});
    CHECK(images(k_app_of_apps, k_repository_tag, "helm-guestbook-prod") ==
          std::vector<std::string>{"gcr.io/heptio-images/ks-guestbook-demo:0.1"});
    const std::string same = replaced(k_app_of_apps, "tag: '0.1'", "tag: '0.2'");
    CHECK(images(same, k_repository_tag) ==
          std::vector<std::string>{"gcr.io/heptio-images/ks-guestbook-demo:0.2"});
  }

  TEST_CASE("set_argocd_helm_images edits a parameter's value and nothing else") {
    const auto [edited, count] =
        set_ok(k_guestbook, k_repository_tag, "gcr.io/heptio-images/ks-guestbook-demo:0.2");
    CHECK(count == 1);
    CHECK(edited == replaced(k_guestbook, "\"0.1\"", "\"0.2\""));
    // Already right: byte for byte, nothing counted.
    CHECK(set_ok(k_guestbook, k_repository_tag, "gcr.io/heptio-images/ks-guestbook-demo:0.1") ==
          std::pair{k_guestbook, 0});
    // Another repository is written where the Application holds one.
    CHECK(set_ok(k_guestbook, k_repository_tag, "ghcr.io/acme/guestbook:1.10").first ==
          replaced(replaced(k_guestbook, "gcr.io/heptio-images/ks-guestbook-demo",
                            "ghcr.io/acme/guestbook"),
                   "\"0.1\"", "\"1.10\""));
  }

  TEST_CASE("set_argocd_helm_images writes every place that holds a part, so none disagree") {
    const auto [edited, count] =
        set_ok(k_three_places, k_repository_tag, "ghcr.io/acme/shop:1.5.0");
    CHECK(count == 3);
    std::string expected = replaced(k_three_places, "\"1.4.2\"", "\"1.5.0\"");
    expected = replaced(expected, "tag: 1.4.1", "tag: 1.5.0");
    expected = replaced(expected, "tag: \"1.3.0\"", "tag: \"1.5.0\"");
    CHECK(edited == expected);
    CHECK(images(edited, k_repository_tag) == std::vector<std::string>{"ghcr.io/acme/shop:1.5.0"});
    // A plain tag YAML would read as a number is quoted; a repository in every place it is.
    std::string moved = replaced(k_three_places, "\"1.4.2\"", "\"1.10\"");
    moved = replaced(moved, "tag: 1.4.1", "tag: \"1.10\"");
    moved = replaced(moved, "tag: \"1.3.0\"", "tag: \"1.10\"");
    moved = replaced(moved, "ghcr.io/acme/shop", "quay.io/acme/shop");
    moved = replaced(moved, "ghcr.io/acme/shop", "quay.io/acme/shop");
    CHECK(set_ok(k_three_places, k_repository_tag, "quay.io/acme/shop:1.10") ==
          std::pair{moved, 5});
  }

  TEST_CASE("set_argocd_helm_images edits values in place, keeping comments and indicators") {
    const std::string literal = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
spec:
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    path: helm-guestbook
    helm:
      values: |  # the chart's values, as Argo CD's helm.md writes them
        ingress:
          enabled: true

        # the image CI promotes
        image:
          repository: gcr.io/heptio-images/ks-guestbook-demo   # the demo
          tag: 0.1
      releaseName: guestbook
)";
    const auto [edited, count] =
        set_ok(literal, k_repository_tag, "gcr.io/heptio-images/ks-guestbook-demo:0.2");
    CHECK(count == 1);
    CHECK(edited == replaced(literal, "tag: 0.1", "tag: \"0.2\""));

    // |- at the end of the file without a final line break; a digest added beside the tag.
    const std::string strip =
        "kind: Application\nspec:\n  source:\n    helm:\n      values: |-\n"
        "        image:\n          repository: ghcr.io/acme/api\n"
        "          tag: v1";
    CHECK(set_ok(strip, k_with_digest, "ghcr.io/acme/api:v2@" + k_sha) ==
          std::pair{replaced(strip, "tag: v1", "tag: v2\n          digest: " + k_sha), 2});
    CHECK(set_ok(strip + "\n  destination: {}\n", k_with_digest, "ghcr.io/acme/api:v2@" + k_sha)
              .first == replaced(strip, "tag: v1", "tag: v2\n          digest: " + k_sha) +
                            "\n  destination: {}\n");

    // |2: the lines keep two more spaces than the indicator says; they are part of the YAML.
    const std::string indicated =
        "kind: Application\nspec:\n  source:\n    helm:\n"
        "      values: |2\n"
        "          image:\n"
        "            tag: v1 # pinned\n"
        "    path: chart\n";
    CHECK(images(indicated, k_tag_only) == std::vector<std::string>{":v1"});
    CHECK(set_ok(indicated, k_tag_only, "ghcr.io/acme/api:v2") ==
          std::pair{replaced(indicated, "tag: v1", "tag: v2"), 1});
  }

  TEST_CASE("set_argocd_helm_images keeps CRLF line endings, inside values too") {
    const std::string text = crlf(k_three_places);
    const auto [edited, count] = set_ok(text, k_with_digest, "ghcr.io/acme/shop:1.5.0@" + k_sha);
    CHECK(count == 5);
    std::string expected = replaced(text, "\"1.4.2\"", "\"1.5.0\"");
    expected =
        replaced(expected, "tag: 1.4.1\r\n", "tag: 1.5.0\r\n          digest: " + k_sha + "\r\n");
    expected = replaced(expected, "tag: \"1.3.0\"\r\n",
                        "tag: \"1.5.0\"\r\n          digest: " + k_sha + "\r\n");
    CHECK(edited == expected);
    CHECK(images(edited, k_with_digest) ==
          std::vector<std::string>{"ghcr.io/acme/shop:1.5.0@" + k_sha});
  }

  TEST_CASE("set_argocd_helm_images edits a multi-source Application's helm source only") {
    const HelmImage server{"", "", "server.image.repository", "server.image.tag", ""};
    CHECK(set_ok(k_multi_source, server, "quay.io/prometheus/prometheus:v2.46.0") ==
          std::pair{replaced(k_multi_source, "v2.45.0", "v2.46.0"), 1});
  }

  TEST_CASE("set_argocd_helm_images edits every Application of an app-of-apps, or the one named") {
    const std::string target = "gcr.io/heptio-images/ks-guestbook-demo:0.3";
    std::string both = replaced(k_app_of_apps, "tag: \"0.2\"", "tag: \"0.3\"");
    both = replaced(both, "tag: '0.1'", "tag: '0.3'");
    CHECK(set_ok(k_app_of_apps, k_repository_tag, target) == std::pair{both, 2});
    CHECK(set_ok(k_app_of_apps, k_repository_tag, target, "helm-guestbook-prod") ==
          std::pair{replaced(k_app_of_apps, "tag: '0.1'", "tag: '0.3'"), 1});
    // Docker Hub's spellings are one repository: `nginx` stays `nginx`.
    const std::string hub =
        "kind: Application\nspec:\n  source:\n    helm:\n"
        "      valuesObject:\n        image: {image: \"nginx:1.25\"}\n";
    CHECK(set_ok(hub, {"image.image", "", "", "", ""}, "docker.io/library/nginx:1.27").first ==
          replaced(hub, "nginx:1.25", "nginx:1.27"));
  }

  TEST_CASE("set_argocd_helm_images fills an empty value and keeps Docker Hub's registry") {
    const std::string head = "kind: Application\nspec:\n  source:\n    helm:\n";
    // An empty parameter value is what Helm gets: no image, until the value is set.
    const std::string empty = head +
                              "      parameters:\n      - name: image.tag\n        value:\n"
                              "      valuesObject: {image: {tag: v1}}\n";
    CHECK(images(empty, k_tag_only).empty());
    CHECK(set_ok(empty, k_tag_only, "ghcr.io/acme/api:v2") ==
          std::pair{replaced(replaced(empty, "value:\n", "value: v2\n"), "tag: v1", "tag: v2"), 2});
    // A target without a registry is right where the Application says docker.io.
    const std::string hub = head +
                            "      valuesObject:\n        image:\n"
                            "          registry: docker.io\n"
                            "          repository: bitnami/nginx\n"
                            "          tag: 1.25.3-debian-11-r1\n";
    CHECK(images(hub, k_bitnami) ==
          std::vector<std::string>{"docker.io/bitnami/nginx:1.25.3-debian-11-r1"});
    CHECK(set_ok(hub, k_bitnami, "bitnami/nginx:1.25.4-debian-11-r0") ==
          std::pair{replaced(hub, "1.25.3-debian-11-r1", "1.25.4-debian-11-r0"), 1});
  }

  TEST_CASE("set_argocd_helm_images refuses what it cannot find, naming file, line and column") {
    CHECK(set_error(k_app_of_apps, {"", "", "", "controller.image.tag", ""}, "ghcr.io/a/b:1") ==
          "app.yaml:14:5: controller.image.tag is not in the helm parameters, valuesObject or "
          "values of any of the 3 Applications; promote does not add values, add it to the file "
          "first");
    CHECK(set_error(k_multi_source, k_tag_only, "ghcr.io/a/b:1") ==
          "app.yaml:14:5: image.tag is not in the helm parameters, valuesObject or values of the "
          "Application 'prometheus'; promote does not add values, add it to the file first");
    CHECK(set_error(k_guestbook, k_tag_only, "ghcr.io/a/b:1", "helm-guestbook-dev") ==
          "app.yaml:1:1: the file has no Application named 'helm-guestbook-dev'");
    CHECK(set_error("kind: AppProject\n", k_tag_only, "ghcr.io/a/b:1") ==
          "app.yaml:1:1: the file has no Application");
    // A digest for a tag held only by parameters has no place: promote adds no parameter.
    CHECK(set_error(k_guestbook, k_with_digest,
                    "gcr.io/heptio-images/ks-guestbook-demo:0.2@" + k_sha) ==
          "app.yaml:20:16: cannot set spec.source's image to "
          "'gcr.io/heptio-images/ks-guestbook-demo:0.2@" +
              k_sha +
              "': no place holds image.digest and promote adds one only beside image.tag in "
              "valuesObject or values; add a parameter named image.digest by hand");
    CHECK(set_error(k_app_of_apps, k_with_digest,
                    "gcr.io/heptio-images/ks-guestbook-demo:0.2@" + k_sha) ==
          "app.yaml:16:69: spec.source.helm.valuesObject.image.digest is not there and promote "
          "cannot add it (spec.source.helm.valuesObject.image.tag is in a flow map); add "
          "'digest: \"\"' beside the tag by hand");
    auto no_repository =
        set_argocd_helm_images(k_guestbook, "app.yaml", k_tag_only, Reference{"", "", "1.0", ""});
    REQUIRE(no_repository.has_error());
    CHECK(no_repository.error().message ==
          "app.yaml: cannot set a helm image: the target reference has no repository");
    CHECK(set_error(k_guestbook, k_tag_only, "ghcr.io/a/b:1@" + k_sha) ==
          "app.yaml: cannot set image.tag to 'ghcr.io/a/b:1@" + k_sha +
              "': the target has a digest and the helm image has no digest path");
    auto bad_paths = set_argocd_helm_images(k_guestbook, "app.yaml", {"", "", "", "image..tag", ""},
                                            reference_of("ghcr.io/a/b:1"));
    REQUIRE(bad_paths.has_error());
    CHECK(bad_paths.error().kind == promote::ErrorKind::config);
    CHECK(bad_paths.error().message ==
          "app.yaml: helm image paths: 'image..tag' has an empty key (keys that contain a dot "
          "cannot be named)");
  }

  TEST_CASE("set_argocd_helm_images refuses values it cannot edit in place") {
    const std::string head = "kind: Application\nspec:\n  source:\n    helm:\n";
    // A one-line string with \n escapes is read, not edited.
    const std::string quoted = head + "      values: \"image:\\n  tag: v1\\n\"\n";
    CHECK(images(quoted, k_tag_only) == std::vector<std::string>{":v1"});
    CHECK(set_error(quoted, k_tag_only, "ghcr.io/a/b:v2") ==
          "app.yaml:5:15: cannot edit image.tag in spec.source.helm.values in place: "
          "spec.source.helm.values is a quoted string, not a literal block scalar (values: |)");
    CHECK(set_ok(quoted, k_tag_only, "ghcr.io/a/b:v1").second == 0);
    const std::string folded = head + "      values: >\n        image: {tag: v1}\n";
    CHECK(set_error(folded, k_tag_only, "ghcr.io/a/b:v2") ==
          "app.yaml:5:15: cannot edit image.tag in spec.source.helm.values in place: "
          "spec.source.helm.values is a folded block scalar (>), not a literal one (|)");
    CHECK(set_error(head + "      parameters:\n      - name: image.tag\n", k_tag_only,
                    "ghcr.io/a/b:v2") ==
          "app.yaml:6:9: cannot edit spec.source.helm.parameters[name=image.tag].value in place: "
          "the parameter has no 'value' key, and promote does not add keys");
    CHECK(set_error(head + "      parameters:\n      - name: image.tag\n        value: |-\n"
                           "          v1\n",
                    k_tag_only, "ghcr.io/a/b:v2") ==
          "app.yaml:7:9: cannot edit spec.source.helm.parameters[name=image.tag].value in place: "
          "its value is a block scalar (| or >)");
    CHECK(set_error(head + "      values: |\n        base: &b\n          tag: v1\n"
                           "        image: *b\n",
                    k_tag_only, "ghcr.io/a/b:v2") ==
          "app.yaml:8:9: cannot edit image.tag in spec.source.helm.values in place: 'image in "
          "spec.source.helm.values' is an alias (*name) of a value anchored elsewhere, and promote "
          "does not edit through aliases");
    CHECK(set_error("kind: Application\nx: &h\n  valuesObject: {image: {tag: v1}}\nspec:\n"
                    "  source:\n    helm: *h\n",
                    k_tag_only, "ghcr.io/a/b:v2") ==
          "app.yaml:6:5: cannot edit spec.source.helm.valuesObject.image.tag in place: "
          "'spec.source.helm' is an alias (*name) of a value anchored elsewhere, and promote does "
          "not edit through aliases");
    CHECK(set_error(head + "      valuesObject:\n        image: {registry: quay.io, repository: "
                           "acme/api, tag: v1}\n",
                    k_bitnami, "acme/api:v2") ==
          "app.yaml:6:27: cannot set spec.source.helm.valuesObject.image.registry for "
          "'acme/api:v2': the target names no registry and the Application says 'quay.io'; give "
          "the target with its registry");
  }

  TEST_CASE(
      "get_argocd_helm_images reports malformed Applications and values at their place in "
      "the file") {
    const std::string head = "kind: Application\nspec:\n  source:\n    helm:\n";
    CHECK(get_error("kind: Application\nspec:\n  source:\n    helm: [a]\n", k_tag_only) ==
          "app.yaml:4:11: spec.source.helm must be a map (it is a list)");
    CHECK(get_error(head + "      valuesObject: [a]\n", k_tag_only) ==
          "app.yaml:5:21: spec.source.helm.valuesObject must be a map (it is a list)");
    CHECK(get_error(head + "      values: {image: {tag: v1}}\n", k_tag_only) ==
          "app.yaml:5:15: spec.source.helm.values must be a string (it is a map)");
    CHECK(get_error(head + "      parameters: [image.tag=v1]\n", k_tag_only) ==
          "app.yaml:5:20: spec.source.helm.parameters[0] must be a map (it is a string)");
    CHECK(get_error(head + "      parameters: [{name: image.tag, value: [v1]}]\n", k_tag_only) ==
          "app.yaml:5:45: spec.source.helm.parameters[name=image.tag].value must be a string (it "
          "is a list)");
    // Inside values, the position is the file's: line of the block plus the line in it, column
    // plus the block's indentation.
    CHECK(get_error(head + "      values: |\n        image:\n          tag: [v1\n", k_tag_only) ==
          "app.yaml:8:1: spec.source.helm.values: end of sequence flow not found");
    CHECK(get_error(head + "      values: |\n        # comment\n        image:\n"
                           "          tag: {a: 1}\n",
                    k_tag_only) ==
          "app.yaml:8:16: image.tag in spec.source.helm.values must be a string (it is a map)");
    CHECK(get_error(head + "      values: |\n        image: nginx\n", k_tag_only) ==
          "app.yaml:6:16: image in spec.source.helm.values must be a map to hold 'tag' (it is a "
          "string)");
    // `|-` gives the string without its final line break, where a quote left open is an error
    // (yaml-cpp accepts it before a line break).
    CHECK(get_error(head + "      values: |-\n        image: {tag: v1}\n        note: \"open\n",
                    k_tag_only) == "app.yaml:7:20: spec.source.helm.values: illegal EOF in scalar");
    CHECK(get_error(head + "      values: \"image: {tag: [v1}\"\n", k_tag_only) ==
          "app.yaml:5:15: spec.source.helm.values: illegal flow end");
    CHECK(get_error(head + "      valuesObject:\n        image:\n          repository: Acme/API\n"
                           "          tag: v1\n",
                    k_repository_tag) ==
          "app.yaml:7:23: spec.source.helm.valuesObject.image.repository: invalid image reference "
          "'Acme/API:v1': repository name must be lower-case");
    CHECK(get_error(head + "      parameters:\n      - {name: image.tag, value: 1+2}\n",
                    k_tag_only) ==
          "app.yaml:6:34: spec.source.helm.parameters[name=image.tag].value: tag '1+2' is invalid "
          "(it must start with a letter, digit or '_' and contain only letters, digits, '_', '.' "
          "and '-')");
    CHECK(get_error("kind: Application\nspec:\n  sources: {a: 1}\n", k_tag_only) ==
          "app.yaml:3:12: spec.sources must be a list (it is a map)");
  }

  TEST_CASE("get_argocd_helm_images reads the real Argo CD Applications of the corpus" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path root = *promote::test::corpus_dir() / "argocd";
    std::vector<fs::path> files;
    for (const auto& item : fs::directory_iterator(root)) {
      if (item.path().extension() == ".yaml") {
        files.push_back(item.path());
      }
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 5);
    int with_helm = 0;
    for (const auto& path : files) {
      CAPTURE(path);
      const std::string text = promote::test::read_text(path);
      // No Application there sets an image through helm: each reads as none, and an edit finds
      // nothing to change and says so.
      auto found = get_argocd_helm_images(text, path.filename().string(), k_repository_tag);
      REQUIRE_MESSAGE(found.has_value(), found.error().message);
      CHECK(found->empty());
      auto edited = set_argocd_helm_images(text, path.filename().string(), k_repository_tag,
                                           reference_of("ghcr.io/acme/api:1"));
      REQUIRE(edited.has_error());
      const std::string name = path.filename().string();
      const std::string& message = edited.error().message;
      CHECK((message == name + ":1:1: the file has no Application" ||
             message.ends_with("; promote does not add values, add it to the file first")));
      if (name.starts_with("argo-cd-appcontroller-test__multi-source")) {
        CHECK(message == name +
                             ":14:5: image.tag is not in the helm parameters, valuesObject or "
                             "values of the Application 'my-app'; promote does not add values, "
                             "add it to the file first");
      }
      with_helm += text.find("    helm:") != std::string::npos ? 1 : 0;
    }
    CHECK(with_helm >= 1);  // a multi-source Application with a helm source and valueFiles
  }
}
