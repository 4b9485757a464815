// Kustomize layouts of real public GitOps repositories, rebuilt here as fixtures of our own in
// the same shapes (no file of theirs is copied), promoted through the real binary and rendered
// with the real `kubectl kustomize` before and after: the rendered documents must differ only
// in the promoted images. The repositories each fixture follows are named at the fixture.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

namespace {

bool has_kubectl() {
  return promote::test::has_program("kubectl");
}

// A scratch repository of the layout's files, and what the tests ask of it.
struct Layout : promote::test::ScratchRepo {
  std::map<std::string, std::string> files;

  explicit Layout(std::map<std::string, std::string> contents)
      : ScratchRepo(contents), files(std::move(contents)) {}

  nlohmann::json promote_json(std::vector<std::string> args, int exit_code = 0) const {
    args.push_back("--output");
    args.push_back("json");
    const CommandResult result = promote(args);
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == exit_code);
    return nlohmann::json::parse(result.out);
  }

  std::string status_candidate(const std::string& stage) const {
    const CommandResult status = promote({"status", "--output", "json"});
    INFO(status.out << status.err);
    const auto doc = nlohmann::json::parse(status.out);
    for (const auto& row : doc["stages"]) {
      if (row["name"] == stage) {
        return row["candidate"]["id"].get<std::string>();
      }
    }
    FAIL("no stage " << stage << " in " << status.out);
    return "";
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// The image changes between two renderings of one overlay, as "old -> new" (each once), after
// checking that every other line is the same.
std::set<std::string> image_changes(const std::string& before, const std::string& after) {
  const auto old_lines = lines_of(before);
  const auto new_lines = lines_of(after);
  REQUIRE(old_lines.size() == new_lines.size());
  static const std::regex k_image(R"(^(\s*(?:- )?)image: (\S+)$)");
  std::set<std::string> out;
  for (std::size_t i = 0; i < old_lines.size(); ++i) {
    if (old_lines[i] == new_lines[i]) {
      continue;
    }
    std::smatch was;
    std::smatch now;
    INFO("line " << i + 1 << ": " << old_lines[i] << " -> " << new_lines[i]);
    REQUIRE(std::regex_match(old_lines[i], was, k_image));
    REQUIRE(std::regex_match(new_lines[i], now, k_image));
    CHECK(was[1] == now[1]);
    out.insert(was[2].str() + " -> " + now[2].str());
  }
  return out;
}

std::string changed_paths(const nlohmann::json& result) {
  std::string out;
  for (const auto& change : result["changes"]) {
    out += (out.empty() ? "" : " ") + change["path"].get<std::string>();
  }
  return out;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// kostis-codefresh/gitops-environment-promotion: .yml files, a base without a final newline,
// Components per variant, and each environment's image in its own strategic-merge patch
// (version.yml) next to other patches of the same container.
std::string codefresh_patch(const std::string& name, const std::string& body) {
  return "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
         "\nspec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n" +
         body;
}

std::map<std::string, std::string> codefresh_files() {
  std::map<std::string, std::string> files = {
      {"promote.yaml",
       "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: simple-env}\nimages:\n"
       "  - {name: app, repository: docker.io/kostiscodefresh/simple-env-app}\nstages:\n"
       "  - {name: qa, target: {kustomize: envs/qa}}\n"
       "  - {name: staging, from: qa, target: {kustomize: envs/staging}}\n"
       "  - {name: prod, from: staging, target: {kustomize: envs/prod}}\n"},
      {"base/kustomization.yml",
       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\nresources:\n"
       "- deployment.yml\n- service.yml"},
      {"base/deployment.yml",
       "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\nspec:\n"
       "  replicas: 1\n  selector:\n    matchLabels:\n      app: trivial-go-web-app\n  template:\n"
       "    metadata:\n      labels:\n        app: trivial-go-web-app\n    spec:\n      "
       "containers:\n"
       "      - name: webserver-simple\n        imagePullPolicy: Always\n"
       "        image: docker.io/kostiscodefresh/simple-env-app:1.0\n        ports:\n"
       "        - containerPort: 8080\n"},
      {"base/service.yml",
       "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: simple-service\nspec:\n  selector:\n"
       "    app: trivial-go-web-app\n  ports:\n  - port: 80\n    targetPort: 8080\n"},
      {"variants/prod/kustomization.yml",
       "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n\npatchesStrategicMerge:\n"
       "- prod.yml\n"},
      {"variants/prod/prod.yml",
       codefresh_patch(
           "simple-deployment",
           "        env:\n        - name: ENV_TYPE\n          value: \"production\"\n")},
      {"variants/non-prod/kustomization.yml",
       "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n\npatchesStrategicMerge:\n"
       "- non-prod.yml\n"},
      {"variants/non-prod/non-prod.yml",
       codefresh_patch("simple-deployment",
                       "        env:\n        - name: ENV_TYPE\n          value: \"non-prod\"\n")},
  };
  for (const auto& [env, tag, variant] :
       {std::tuple{"qa", "3.0", "non-prod"}, std::tuple{"staging", "2.0", "non-prod"},
        std::tuple{"prod", "2.0", "prod"}}) {
    const std::string at = std::string("envs/") + env + "/";
    files[at + "kustomization.yml"] =
        std::string("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\n") +
        "namespace: " + env + "\nnamePrefix: " + env +
        "-\n\nresources:\n- ../../base\n\n"
        "components:\n  - ../../variants/" +
        variant + "\n\npatchesStrategicMerge:\n- version.yml\n- settings.yml\n\n";
    files[at + "version.yml"] = codefresh_patch(
        "simple-deployment",
        std::string("        image: docker.io/kostiscodefresh/simple-env-app:") + tag + "\n");
    files[at + "settings.yml"] =
        codefresh_patch("simple-deployment",
                        "        env:\n        - name: UI_THEME\n          value: \"dark\"    \n");
  }
  return files;
}

// stefanprodan/podinfo deploy/: overlays with no images: over one base per service; the image
// in a Deployment and in a CronJob's init and main containers; redis from Docker Hub in another
// base.
std::map<std::string, std::string> podinfo_files() {
  const std::string image = "ghcr.io/stefanprodan/podinfo:6.14.1";
  std::map<std::string, std::string> files = {
      {"promote.yaml",
       "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: podinfo}\nimages:\n"
       "  - {name: podinfo, repository: ghcr.io/stefanprodan/podinfo}\n"
       "  - {name: redis, repository: docker.io/redis}\nstages:\n"
       "  - {name: dev, target: {kustomize: deploy/overlays/dev}}\n"
       "  - {name: staging, from: dev, target: {kustomize: deploy/overlays/staging}}\n"},
      {"deploy/bases/backend/kustomization.yaml",
       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
       "  - deployment.yaml\n  - cronjob.yaml\n\n"},
      {"deploy/bases/backend/deployment.yaml",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: backend\nspec:\n  selector:\n"
       "    matchLabels:\n      app: backend\n  template:\n    metadata:\n      labels:\n"
       "        app: backend\n    spec:\n      containers:\n      - name: backend\n"
       "        image: " +
           image + "\n        command:\n        - ./podinfo\n"},
      {"deploy/bases/backend/cronjob.yaml",
       "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: warm-cache\nspec:\n"
       "  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
       "          initContainers:\n          - name: wait\n            image: " +
           image + "\n          containers:\n          - name: warm\n            image: " + image +
           "\n          restartPolicy: OnFailure\n"},
      {"deploy/bases/cache/kustomization.yaml",
       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
       "  - redis.yaml\n"},
      {"deploy/bases/cache/redis.yaml",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: redis\nspec:\n  template:\n"
       "    spec:\n      containers:\n        - name: redis\n          image: "
       "docker.io/redis:8.8.0\n"},
  };
  for (const std::string env : {"dev", "staging"}) {
    files["deploy/overlays/" + env + "/kustomization.yaml"] =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + env +
        "\nresources:\n  - ../../bases/backend\n  - ../../bases/cache\n  - namespace.yaml\n";
    files["deploy/overlays/" + env + "/namespace.yaml"] =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + env + "\n";
  }
  return files;
}

// christianh814/gitops-examples argo-rollouts/bg: an Argo Rollout base (no apiVersion/kind in its
// kustomization, `- image:` first in the container), overlays over it with the legacy bases:,
// file resources, and an inline patchesJson6902 that replaces the image.
std::map<std::string, std::string> rollouts_files() {
  std::map<std::string, std::string> files = {
      {"promote.yaml",
       "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: gobg}\nimages:\n"
       "  - {name: gobg, repository: christianh814/gobg}\nstages:\n"
       "  - {name: localhost, target: {kustomize: argo-rollouts/bg/overlays/localhost}}\n"
       "  - {name: aks, from: localhost, target: {kustomize: argo-rollouts/bg/overlays/aks}}\n"},
      {"argo-rollouts/bg/base/kustomization.yaml", "resources:\n- rollout.yaml\n"},
      {"argo-rollouts/bg/base/rollout.yaml",
       "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: gobg\nspec:\n"
       "  replicas: 2\n  strategy:\n    blueGreen:\n      activeService: gobg\n  template:\n"
       "    spec:\n      containers:\n      - image: christianh814/gobg:green\n        name: "
       "gobg\n"},
  };
  for (const auto& [env, colour] : {std::pair{"localhost", "green"}, std::pair{"aks", "blue"}}) {
    const std::string at = std::string("argo-rollouts/bg/overlays/") + env + "/";
    files[at + "kustomization.yaml"] =
        std::string("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n") +
        "namespace: bluegreen\n\nbases:\n- ../../base\n\nresources:\n- namespace.yaml\n\n"
        "patchesJson6902:\n  - target:\n      version: v1alpha1\n      group: argoproj.io\n"
        "      kind: Rollout\n      name: gobg\n    patch: |-\n      - op: replace\n"
        "        path: /spec/template/spec/containers/0/image\n        value: christianh814/gobg:" +
        colour + "\n";
    files[at + "namespace.yaml"] =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bluegreen\n";
  }
  return files;
}

// argoproj/argocd-example-apps kustomize-guestbook, pre-post-sync and kustomized-helm: a base
// whose kustomization puts apiVersion and kind last, under a namePrefix; an overlay with the
// legacy bases:, a Job resource with an image of its own, and a patch file that sets the image
// single-quoted (that repository lists it as a bare string under patches:, which the
// kustomize of kubectl 1.32 no longer reads; promote reads both).
std::map<std::string, std::string> guestbook_files() {
  return {
      {"promote.yaml",
       "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: guestbook}\nimages:\n"
       "  - {name: frontend, repository: gcr.io/google-samples/gb-frontend}\nstages:\n"
       "  - {name: dev, target: {kustomize: envs/dev}}\n"
       "  - {name: prod, from: dev, target: {kustomize: envs/prod}}\n"},
      {"kustomize-guestbook/kustomization.yaml",
       "namePrefix: kustomize-\n\nresources:\n- guestbook-ui-deployment.yaml\n\n"
       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"},
      {"kustomize-guestbook/guestbook-ui-deployment.yaml",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: guestbook-ui\nspec:\n"
       "  template:\n    spec:\n      containers:\n      - image: "
       "gcr.io/google-samples/gb-frontend:v5\n"
       "        name: guestbook-ui\n"},
      {"envs/dev/kustomization.yaml", "resources:\n- ../../kustomize-guestbook\n"},
      {"envs/prod/kustomization.yaml",
       "namePrefix: prod-\n\nbases:\n- ../../kustomize-guestbook\n\nresources:\n"
       "- pre-sync-job.yaml\n\npatches:\n- path: overlays/guestbook-deployment.yaml\n"},
      {"envs/prod/pre-sync-job.yaml",
       "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: before\nspec:\n  template:\n    spec:\n"
       "      containers:\n      - name: sleep\n        image: alpine:latest\n"
       "      restartPolicy: Never\n"},
      {"envs/prod/overlays/guestbook-deployment.yaml",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kustomize-guestbook-ui\nspec:\n"
       "  template:\n    spec:\n      containers:\n      - name: guestbook-ui\n"
       "        image: 'gcr.io/google-samples/gb-frontend:v4'\n"},
  };
}

// GoogleCloudPlatform/microservices-demo kustomize/: eleven services in multi-document files
// (Deployment, Service, ServiceAccount; cartservice's file also holds redis-cart), a digest-pinned
// init container, a Component that sets every tag, and overlays over base and Component; prod
// also replaces the frontend's image by a JSON6902 patch file and has an images: entry whose
// newName is its name (stefanprodan/gitops-istio).
const std::vector<std::string> k_services = {"adservice",
                                             "cartservice",
                                             "checkoutservice",
                                             "currencyservice",
                                             "emailservice",
                                             "frontend",
                                             "loadgenerator",
                                             "paymentservice",
                                             "productcatalogservice",
                                             "recommendationservice",
                                             "shippingservice"};
const std::string k_registry = "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/";

std::map<std::string, std::string> boutique_files() {
  std::string pipeline =
      "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: boutique}\nimages:\n";
  std::string base =
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n";
  std::string component =
      "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n";
  std::map<std::string, std::string> files;
  for (const auto& service : k_services) {
    pipeline += "  - {name: " + service + ", repository: " + k_registry + service + "}\n";
    base += "- " + service + ".yaml\n";
    component += "- name: " + k_registry + service + "\n  newTag: v0.10.6\n";
    std::string text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + service +
                       "\nspec:\n  template:\n    spec:\n      serviceAccountName: " + service +
                       "\n";
    if (service == "loadgenerator") {
      text +=
          "      initContainers:\n      - command: [/bin/sh]\n        name: frontend-check\n"
          "        securityContext:\n          runAsUser: 1000\n        image: "
          "busybox:1.38.0@sha256:" +
          std::string(64, 'f') + "\n";
    }
    text +=
        "      containers:\n      - name: server\n        securityContext:\n"
        "          privileged: false\n        image: " +
        service +
        "\n---\napiVersion: v1\n"
        "kind: Service\nmetadata:\n  name: " +
        service +
        "\nspec:\n  ports:\n  - port: 80\n"
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: " +
        service + "\n";
    if (service == "cartservice") {
      text +=
          "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: redis-cart\nspec:\n"
          "  template:\n    spec:\n      containers:\n      - name: redis\n"
          "        image: redis:alpine\n";
    }
    files["kustomize/base/" + service + ".yaml"] = text;
  }
  base += "images:\n";
  for (const auto& service : k_services) {
    base += "- name: " + service + "\n  newName: " + k_registry + service + "\n";
  }
  pipeline +=
      "stages:\n  - {name: staging, target: {kustomize: kustomize/overlays/staging}}\n"
      "  - {name: prod, from: staging, target: {kustomize: kustomize/overlays/prod}}\n";
  files["promote.yaml"] = pipeline;
  files["kustomize/base/kustomization.yaml"] = base;
  files["kustomize/components/container-images-tag/kustomization.yaml"] = component;
  files["kustomize/overlays/staging/kustomization.yaml"] =
      "resources:\n- ../../base\ncomponents:\n- ../../components/container-images-tag\n";
  files["kustomize/overlays/prod/kustomization.yaml"] =
      "resources:\n- ../../base\ncomponents:\n- ../../components/container-images-tag\n"
      "patches:\n- path: frontend-image.yaml\n  target:\n    kind: Deployment\n    name: frontend\n"
      "images:\n- name: " +
      k_registry + "adservice\n  newName: " + k_registry + "adservice\n  newTag: v0.10.5\n";
  files["kustomize/overlays/prod/frontend-image.yaml"] =
      "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: " + k_registry +
      "frontend:v0.10.5\n";
  return files;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "an image set by an environment's own strategic-merge patch is promoted in that "
      "patch, and the first promotion into a stage rolls back" *
      doctest::skip(!has_kubectl())) {
    Layout layout(codefresh_files());
    const std::string before = layout.render("envs/staging");
    CHECK(contains(before, "image: docker.io/kostiscodefresh/simple-env-app:2.0"));

    const auto result = layout.promote_json({"--to", "staging"});
    CHECK(result["outcome"] == "promoted");
    CHECK(result["candidate"]["images"]["app"] == "docker.io/kostiscodefresh/simple-env-app:3.0");
    CHECK(result["previous"]["app"] == "docker.io/kostiscodefresh/simple-env-app:2.0");
    CHECK(changed_paths(result) == "envs/staging/version.yml");
    CHECK(layout.file("envs/staging/version.yml") ==
          replaced(layout.files.at("envs/staging/version.yml"), "simple-env-app:2.0",
                   "simple-env-app:3.0"));
    CHECK(image_changes(before, layout.render("envs/staging")) ==
          std::set<std::string>{"docker.io/kostiscodefresh/simple-env-app:2.0 -> "
                                "docker.io/kostiscodefresh/simple-env-app:3.0"});
    CHECK(layout.status_candidate("staging") == result["candidate"]["id"]);

    SUBCASE("rollback puts back what the files held before the first promotion") {
      const auto rollback = layout.promote_json({"rollback", "--stage", "staging"});
      CHECK(rollback["outcome"] == "promoted");
      CHECK(rollback["candidate"]["images"]["app"] ==
            "docker.io/kostiscodefresh/simple-env-app:2.0");
      CHECK(rollback["rollback_of"].get<std::string>().starts_with("before:"));
      CHECK(rollback["rollback_of"] == "before:" + result["promotion_id"].get<std::string>());
      CHECK(layout.file("envs/staging/version.yml") == layout.files.at("envs/staging/version.yml"));
      CHECK(layout.render("envs/staging") == before);
    }
  }

  TEST_CASE(
      "an overlay with no images: reads its images from its bases, and a promotion adds "
      "an entry to the overlay, never to the shared base" *
      doctest::skip(!has_kubectl())) {
    Layout layout(podinfo_files());
    const std::string before = layout.render("deploy/overlays/dev");
    const CommandResult status = layout.promote({"status", "--output", "json"});
    INFO(status.out << status.err);
    REQUIRE(status.exit_code == 0);
    CHECK(nlohmann::json::parse(status.out)["stages"][0]["candidate"]["images"] ==
          nlohmann::json({{"podinfo", "ghcr.io/stefanprodan/podinfo:6.14.1"},
                          {"redis", "docker.io/redis:8.8.0"}}));

    const auto result = layout.promote_json(
        {"--to", "dev", "--image", "podinfo=ghcr.io/stefanprodan/podinfo:6.15.0"});
    CHECK(result["outcome"] == "promoted");
    CHECK(result["candidate"]["images"]["redis"] == "docker.io/redis:8.8.0");
    CHECK(changed_paths(result) == "deploy/overlays/dev/kustomization.yaml");
    CHECK(layout.file("deploy/overlays/dev/kustomization.yaml") ==
          layout.files.at("deploy/overlays/dev/kustomization.yaml") +
              "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.15.0\n");
    CHECK(image_changes(before, layout.render("deploy/overlays/dev")) ==
          std::set<std::string>{
              "ghcr.io/stefanprodan/podinfo:6.14.1 -> ghcr.io/stefanprodan/podinfo:6.15.0"});
    CHECK(layout.status_candidate("dev") == result["candidate"]["id"]);

    SUBCASE("the next stage takes what dev renders, and only the changed image gets an entry") {
      const std::string staging_before = layout.render("deploy/overlays/staging");
      const auto next = layout.promote_json({"--to", "staging"});
      CHECK(next["candidate"]["id"] == result["candidate"]["id"]);
      CHECK(changed_paths(next) == "deploy/overlays/staging/kustomization.yaml");
      CHECK(image_changes(staging_before, layout.render("deploy/overlays/staging")) ==
            std::set<std::string>{
                "ghcr.io/stefanprodan/podinfo:6.14.1 -> ghcr.io/stefanprodan/podinfo:6.15.0"});
      CHECK(layout.file("deploy/bases/backend/deployment.yaml") ==
            layout.files.at("deploy/bases/backend/deployment.yaml"));
    }
  }

  TEST_CASE("an inline JSON6902 replace under bases: is promoted in its literal block" *
            doctest::skip(!has_kubectl())) {
    Layout layout(rollouts_files());
    const std::string before = layout.render("argo-rollouts/bg/overlays/aks");
    const auto result = layout.promote_json({"--to", "aks"});
    CHECK(result["candidate"]["images"]["gobg"] == "christianh814/gobg:green");
    CHECK(changed_paths(result) == "argo-rollouts/bg/overlays/aks/kustomization.yaml");
    CHECK(layout.file("argo-rollouts/bg/overlays/aks/kustomization.yaml") ==
          replaced(layout.files.at("argo-rollouts/bg/overlays/aks/kustomization.yaml"),
                   "value: christianh814/gobg:blue", "value: christianh814/gobg:green"));
    CHECK(image_changes(before, layout.render("argo-rollouts/bg/overlays/aks")) ==
          std::set<std::string>{"christianh814/gobg:blue -> christianh814/gobg:green"});
    CHECK(layout.status_candidate("aks") == result["candidate"]["id"]);
  }

  TEST_CASE(
      "a patch file under patches: is promoted in place, keeping its quotes, "
      "and a Job's own image is left alone" *
      doctest::skip(!has_kubectl())) {
    Layout layout(guestbook_files());
    const std::string before = layout.render("envs/prod");
    const auto result = layout.promote_json({"--to", "prod"});
    CHECK(result["candidate"]["images"]["frontend"] == "gcr.io/google-samples/gb-frontend:v5");
    CHECK(changed_paths(result) == "envs/prod/overlays/guestbook-deployment.yaml");
    CHECK(contains(layout.file("envs/prod/overlays/guestbook-deployment.yaml"),
                   "        image: 'gcr.io/google-samples/gb-frontend:v5'\n"));
    CHECK(image_changes(before, layout.render("envs/prod")) ==
          std::set<std::string>{
              "gcr.io/google-samples/gb-frontend:v4 -> gcr.io/google-samples/gb-frontend:v5"});
  }

  TEST_CASE(
      "eleven images over a base and a Component: only the promoted ones change, each "
      "where it is set" *
      doctest::skip(!has_kubectl())) {
    Layout layout(boutique_files());
    const std::string staging_before = layout.render("kustomize/overlays/staging");
    const auto result = layout.promote_json(
        {"--to", "staging", "--image", "cartservice=" + k_registry + "cartservice:v0.10.7",
         "--image", "frontend=" + k_registry + "frontend:v0.10.7"});
    CHECK(result["candidate"]["images"].size() == 11);
    CHECK(result["candidate"]["images"]["adservice"] == k_registry + "adservice:v0.10.6");
    CHECK(changed_paths(result) == "kustomize/overlays/staging/kustomization.yaml");
    CHECK(image_changes(staging_before, layout.render("kustomize/overlays/staging")) ==
          std::set<std::string>{
              k_registry + "cartservice:v0.10.6 -> " + k_registry + "cartservice:v0.10.7",
              k_registry + "frontend:v0.10.6 -> " + k_registry + "frontend:v0.10.7"});
    CHECK(layout.status_candidate("staging") == result["candidate"]["id"]);

    SUBCASE("prod changes its JSON6902 patch file, its images: entry and adds one entry") {
      const std::string prod_before = layout.render("kustomize/overlays/prod");
      const auto prod = layout.promote_json({"--to", "prod"});
      CHECK(
          changed_paths(prod) ==
          "kustomize/overlays/prod/frontend-image.yaml kustomize/overlays/prod/kustomization.yaml");
      CHECK(layout.file("kustomize/overlays/prod/frontend-image.yaml") ==
            replaced(layout.files.at("kustomize/overlays/prod/frontend-image.yaml"),
                     "frontend:v0.10.5", "frontend:v0.10.7"));
      CHECK(image_changes(prod_before, layout.render("kustomize/overlays/prod")) ==
            std::set<std::string>{
                k_registry + "adservice:v0.10.5 -> " + k_registry + "adservice:v0.10.6",
                k_registry + "cartservice:v0.10.6 -> " + k_registry + "cartservice:v0.10.7",
                k_registry + "frontend:v0.10.5 -> " + k_registry + "frontend:v0.10.7"});
      CHECK(layout.status_candidate("prod") == result["candidate"]["id"]);
    }
  }

  TEST_CASE("what promote cannot decide or must not touch is refused, and nothing is written") {
    SUBCASE("two patches of the overlay set the same container's image") {
      auto files = codefresh_files();
      files["envs/staging/settings.yml"] = codefresh_patch(
          "simple-deployment", "        image: docker.io/kostiscodefresh/simple-env-app:2.1\n");
      Layout layout(files);
      const CommandResult result = layout.promote({"--to", "staging"});
      INFO(result.out << result.err);
      CHECK(result.exit_code == 4);
      CHECK(contains(result.out,
                     "error: stage 'staging': the image of Deployment/staging-simple-deployment "
                     "containers[webserver-simple] is set by the strategic-merge patch at "
                     "envs/staging/version.yml:11:16 and by the strategic-merge patch at "
                     "envs/staging/settings.yml:11:16; promote cannot tell which one to change: "
                     "keep one"));
      CHECK(sh("git status --porcelain", layout.repo) == "");
    }
    SUBCASE("a stage whose overlay is another stage's base") {
      auto files = guestbook_files();
      files["promote.yaml"] =
          "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: guestbook}\nimages:\n"
          "  - {name: frontend, repository: gcr.io/google-samples/gb-frontend}\nstages:\n"
          "  - {name: dev, target: {kustomize: kustomize-guestbook}}\n"
          "  - {name: prod, from: dev, target: {kustomize: envs/prod}}\n";
      Layout layout(files);
      const CommandResult result = layout.promote(
          {"--to", "dev", "--image", "frontend=gcr.io/google-samples/gb-frontend:v6"});
      CHECK(result.exit_code == 2);
      CHECK(contains(result.err,
                     "the overlay of stage 'dev' (kustomize-guestbook) is also read by stage "
                     "'prod': promote does not edit a base that stages share"));
      CHECK(sh("git status --porcelain", layout.repo) == "");
    }
    SUBCASE("an image whose base names it otherwise is not recorded as promoted") {
      // microservices-demo's kubernetes-manifests name their images bare (`image: adservice`):
      // an images: entry for the full repository would match nothing.
      auto files = boutique_files();
      files["promote.yaml"] =
          "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: boutique}\nimages:\n"
          "  - {name: adservice, repository: " +
          k_registry +
          "adservice}\nstages:\n"
          "  - {name: staging, target: {kustomize: kustomize/overlays/staging}}\n";
      files["kustomize/base/kustomization.yaml"] =
          "resources:\n- adservice.yaml\n- frontend.yaml\n";
      files["kustomize/overlays/staging/kustomization.yaml"] = "resources:\n- ../../base\n";
      Layout layout(files);
      const CommandResult result = layout.promote(
          {"--to", "staging", "--image", "adservice=" + k_registry + "adservice:v1"});
      INFO(result.out << result.err);
      CHECK(result.exit_code == 4);
      CHECK(contains(result.out,
                     "error: stage 'staging': after its edits the target would hold adservice "
                     "as nothing (no container it renders has the image " +
                         k_registry +
                         "adservice; where a base names it otherwise, "
                         "give the image that name as match:)"));
      CHECK(sh("git status --porcelain", layout.repo) == "");
    }
  }

  TEST_CASE("a remote resource is named in a warning and its images are not seen") {
    auto files = rollouts_files();
    files["argo-rollouts/bg/overlays/aks/kustomization.yaml"] =
        "resources:\n- github.com/christianh814/gitops-examples/pricelist\n"
        "images:\n- name: christianh814/gobg\n  newTag: blue\n";
    Layout layout(files);
    const auto result = layout.promote_json({"--to", "aks"});
    CHECK(result["outcome"] == "promoted");
    CHECK(result["warnings"] ==
          nlohmann::json::array({"argo-rollouts/bg/overlays/aks/kustomization.yaml:2:3: remote "
                                 "resource 'github.com/christianh814/gitops-examples/pricelist' is "
                                 "not fetched; images it holds are not seen"}));
    CHECK(layout.file("argo-rollouts/bg/overlays/aks/kustomization.yaml") ==
          replaced(files.at("argo-rollouts/bg/overlays/aks/kustomization.yaml"), "newTag: blue",
                   "newTag: green"));
  }
}

TEST_SUITE("integration") {
  TEST_CASE("an image not found in an overlay with remote resources names what was not read") {
    // christianh814/gitops-examples hooks/: a remote kustomize directory beside local Jobs.
    promote::test::ScratchRepo repo(
        {{"promote.yaml",
          "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: pricelist}\nimages:\n"
          "  - {name: pricelist, repository: quay.io/redhatworkshops/pricelist}\nstages:\n"
          "  - {name: hooks, target: {kustomize: hooks}}\n"},
         {"hooks/kustomization.yaml",
          "resources:\n- github.com/christianh814/gitops-examples/pricelist\n- job.yaml\n"},
         {"hooks/job.yaml",
          "apiVersion: batch/v1\nkind: Job\nmetadata: {name: presync}\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: hook\n        image: alpine:3.20\n"}});
    const CommandResult status = repo.promote({"status", "--output", "json"});
    INFO(status.out << status.err);
    const auto doc = nlohmann::json::parse(status.out);
    CHECK(doc["stages"][0]["candidate"].is_null());
    CHECK(doc["stages"][0]["problem"] ==
          "stage 'hooks' does not set image 'pricelist' (quay.io/redhatworkshops/pricelist) "
          "anywhere in its target; hooks/kustomization.yaml:2:3: remote resource "
          "'github.com/christianh814/gitops-examples/pricelist' is not fetched; images it holds "
          "are not seen");
  }
}
