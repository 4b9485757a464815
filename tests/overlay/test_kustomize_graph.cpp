// The kustomization graph: what an overlay renders for each container image, and the place that
// set it, over files held in memory. The layouts are those of public GitOps repositories (named
// at each case); tests/integration/test_kustomize_layouts.cpp checks the same shapes against the
// real `kubectl kustomize`.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/image/reference.hpp"
#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/kustomize_graph.hpp"

namespace {

using promote::overlay::ImageOrigin;
using promote::overlay::RenderedImage;
using promote::overlay::Rendering;
using promote::overlay::RepositoryFiles;

struct Tree {
  std::map<std::string, std::string> files;

  RepositoryFiles view() const {
    RepositoryFiles out;
    out.read = [this](const std::string& file) -> promote::Result<const std::string*> {
      const auto found = files.find(file);
      if (found == files.end()) {
        return promote::make_error(promote::ErrorKind::input, file + ": no such file");
      }
      return &found->second;
    };
    out.type = [this](const std::string& path) -> promote::Result<RepositoryFiles::Type> {
      if (files.contains(path)) {
        return RepositoryFiles::Type::file;
      }
      for (const auto& [file, text] : files) {
        if (path.empty() || file.starts_with(path + "/")) {
          return RepositoryFiles::Type::directory;
        }
      }
      return RepositoryFiles::Type::missing;
    };
    return out;
  }

  Rendering render(const std::string& dir) const {
    auto rendered = promote::overlay::render_images(dir, view());
    INFO((rendered ? std::string() : rendered.error().message));
    REQUIRE(rendered.has_value());
    return *rendered;
  }

  std::string error(const std::string& dir) const {
    auto rendered = promote::overlay::render_images(dir, view());
    REQUIRE_FALSE(rendered.has_value());
    return rendered.error().message;
  }
};

const RenderedImage& image_of(const Rendering& rendering, const std::string& resource,
                              const std::string& container) {
  for (const auto& image : rendering.images) {
    if (image.resource == resource && image.container == container) {
      return image;
    }
  }
  FAIL("no image of " << resource << " " << container);
  throw std::logic_error("unreachable");
}

const char* const k_deployment = R"(---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: simple-deployment
spec:
  template:
    spec:
      containers:
      - name: webserver-simple
        imagePullPolicy: Always
        image: docker.io/kostiscodefresh/simple-env-app:1.0
)";

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("an overlay with no images: renders the image its base sets") {
    // stefanprodan/podinfo deploy/overlays/dev: a base per service, no images: in the overlay.
    Tree tree{
        {{"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
         {"base/deployment.yaml", k_deployment},
         {"overlays/dev/kustomization.yaml", "namespace: dev\nresources:\n  - ../../base\n"}}};
    const Rendering rendering = tree.render("overlays/dev");
    REQUIRE(rendering.images.size() == 1);
    const RenderedImage& image = rendering.images.front();
    CHECK(image.resource == "Deployment/simple-deployment");
    CHECK(image.container == "containers[webserver-simple]");
    CHECK(image.value == "docker.io/kostiscodefresh/simple-env-app:1.0");
    CHECK(image.origin.kind == ImageOrigin::Kind::resource);
    CHECK(image.origin.where() == "base/deployment.yaml:12:16");
    CHECK(rendering.kustomization == "overlays/dev/kustomization.yaml");
  }

  TEST_CASE(
      "an overlay's own strategic-merge patch sets the image after its base and "
      "components") {
    // kostis-codefresh/gitops-environment-promotion: envs/<env>/version.yml carries the image;
    // other patches of the same container and a Component do not.
    Tree tree{
        {{"base/kustomization.yml",
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: "
          "Kustomization\n\nresources:\n- deployment.yml"},
         {"base/deployment.yml", k_deployment},
         {"variants/prod/kustomization.yml",
          "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n\n"
          "patchesStrategicMerge:\n- prod.yml\n"},
         {"variants/prod/prod.yml",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\n"
          "spec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n"
          "        env:\n        - name: ENV_TYPE\n          value: \"production\"\n"},
         {"envs/prod-eu/kustomization.yml",
          "namespace: prod\nnamePrefix: prod-eu-\n\nresources:\n- ../../base\n\ncomponents:\n"
          "  - ../../variants/prod\n\npatchesStrategicMerge:\n- version.yml\n- settings.yml\n\n"},
         {"envs/prod-eu/version.yml",
          "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\n"
          "spec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n"
          "        image: docker.io/kostiscodefresh/simple-env-app:3.0\n"},
         {"envs/prod-eu/settings.yml",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: simple-deployment\n"
          "spec:\n  template:\n    spec:\n      containers:\n      - name: webserver-simple\n"
          "        env:\n        - name: UI_THEME\n          value: \"dark\"    \n"}}};
    const Rendering rendering = tree.render("envs/prod-eu");
    REQUIRE(rendering.images.size() == 1);
    const RenderedImage& image = rendering.images.front();
    CHECK(image.resource == "Deployment/prod-eu-simple-deployment");
    CHECK(image.value == "docker.io/kostiscodefresh/simple-env-app:3.0");
    CHECK(image.origin.kind == ImageOrigin::Kind::strategic_merge);
    CHECK(image.origin.where() == "envs/prod-eu/version.yml:11:16");
    CHECK(image.origin.editable);
    REQUIRE(image.patched_by.size() == 1);

    SUBCASE("set_values changes only that value") {
      const std::string& text = tree.files.at("envs/prod-eu/version.yml");
      auto edited = promote::overlay::set_values(
          text, "envs/prod-eu/version.yml",
          {{image.origin, "docker.io/kostiscodefresh/simple-env-app:3.1"}});
      REQUIRE(edited.has_value());
      std::string expected = text;
      expected.replace(expected.find(":3.0"), 4, ":3.1");
      CHECK(*edited == expected);
    }
  }

  TEST_CASE("an images: entry of the overlay wins over its patches, and names the name it met") {
    Tree tree{{{"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
               {"base/deployment.yaml", k_deployment},
               {"overlay/kustomization.yaml",
                "resources: [../base]\npatches:\n  - path: version.yaml\nimages:\n"
                "  - name: docker.io/kostiscodefresh/simple-env-app\n    newTag: \"4.0\"\n"},
               {"overlay/version.yaml",
                "kind: Deployment\nmetadata: {name: simple-deployment}\nspec:\n  template:\n"
                "    spec:\n      containers:\n      - name: webserver-simple\n"
                "        image: docker.io/kostiscodefresh/simple-env-app:3.0\n"}}};
    const Rendering rendering = tree.render("overlay");
    REQUIRE(rendering.images.size() == 1);
    const RenderedImage& image = rendering.images.front();
    CHECK(image.value == "docker.io/kostiscodefresh/simple-env-app:4.0");
    CHECK(image.origin.kind == ImageOrigin::Kind::images_entry);
    CHECK(image.origin.entry == "docker.io/kostiscodefresh/simple-env-app");
    CHECK(image.origin.where() == "overlay/kustomization.yaml:5:5");
    CHECK(image.origin.describe() ==
          "the images: entry 'docker.io/kostiscodefresh/simple-env-app' at "
          "overlay/kustomization.yaml:5:5");
    REQUIRE(image.patched_by.size() == 1);
    CHECK(image.patched_by.front().file == "overlay/version.yaml");
  }

  TEST_CASE(
      "an inline JSON6902 replace of a Rollout's image, under bases:, is found in the "
      "literal block") {
    // christianh814/gitops-examples argo-rollouts/bg/overlays/aks.
    const std::string overlay =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: bluegreen\n\n"
        "bases:\n- ../../base\n\nresources:\n- ingress.yaml\n- github.com/acme/hooks/pricelist\n\n"
        "patchesJson6902:\n  - target:\n      version: v1alpha1\n      group: argoproj.io\n"
        "      kind: Rollout\n      name: gobg\n    patch: |-\n      - op: replace\n"
        "        path: /spec/template/spec/containers/0/image\n        value: "
        "christianh814/gobg:blue\n";
    Tree tree{
        {{"base/kustomization.yaml", "resources:\n- rollout.yaml\n"},
         {"base/rollout.yaml",
          "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: gobg\nspec:\n"
          "  template:\n    spec:\n      containers:\n      - image: christianh814/gobg:green\n"
          "        name: gobg\n"},
         {"overlays/aks/ingress.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"},
         {"overlays/aks/kustomization.yaml", overlay}}};
    const Rendering rendering = tree.render("overlays/aks");
    REQUIRE(rendering.images.size() == 1);
    const RenderedImage& image = rendering.images.front();
    CHECK(image.value == "christianh814/gobg:blue");
    CHECK(image.origin.kind == ImageOrigin::Kind::json6902);
    CHECK(image.origin.where() == "overlays/aks/kustomization.yaml:21:16");
    REQUIRE(image.origin.editable);
    CHECK(overlay.substr(image.origin.begin, image.origin.end - image.origin.begin) ==
          "christianh814/gobg:blue");
    REQUIRE(rendering.warnings.size() == 1);
    CHECK(rendering.warnings.front() ==
          "overlays/aks/kustomization.yaml:10:3: remote resource "
          "'github.com/acme/hooks/pricelist' is not fetched; images it holds are not seen");
  }

  TEST_CASE("a JSON6902 add of a whole container brings its own image") {
    // stefanprodan/gitops-istio: a sidecar added by an op list in a file.
    Tree tree{{{"app/kustomization.yaml",
                "resources: [deployment.yaml]\npatchesJson6902:\n- target: {group: apps, version: "
                "v1, kind: Deployment, name: simple-deployment}\n  path: sidecar.yaml\n"},
               {"app/deployment.yaml", k_deployment},
               {"app/sidecar.yaml",
                "- op: add\n  path: /spec/template/spec/containers/-\n  value:\n    name: proxy\n"
                "    image: docker.io/istio/proxyv2:1.20.0\n"}}};
    const Rendering rendering = tree.render("app");
    REQUIRE(rendering.images.size() == 2);
    const RenderedImage& sidecar =
        image_of(rendering, "Deployment/simple-deployment", "containers[proxy]");
    CHECK(sidecar.value == "docker.io/istio/proxyv2:1.20.0");
    CHECK(sidecar.origin.where() == "app/sidecar.yaml:5:12");
    CHECK(
        image_of(rendering, "Deployment/simple-deployment", "containers[webserver-simple]").value ==
        "docker.io/kostiscodefresh/simple-env-app:1.0");
  }

  TEST_CASE("patches: selects targets by kind, name pattern and labels, in the base's names") {
    Tree tree{
        {{"base/kustomization.yaml",
          "namePrefix: shop-\ncommonLabels: {tier: web}\nresources: [deployment.yaml]\n"},
         {"base/deployment.yaml", k_deployment},
         {"overlay/kustomization.yaml",
          "resources: [../base]\npatches:\n- target:\n    kind: Deploy.*\n    labelSelector: "
          "\"tier in (web,api),!legacy\"\n  patch: |\n    - op: replace\n      path: "
          "/spec/template/spec/containers/0/image\n      value: 'acme/app:2'\n"
          "- patch: |-\n    kind: Deployment\n    metadata: {name: simple-deployment}\n"
          "    spec: {template: {spec: {containers: [{name: sidecar, image: acme/side:1}]}}}\n"}}};
    const Rendering rendering = tree.render("overlay");
    REQUIRE(rendering.images.size() == 2);
    const RenderedImage& app =
        image_of(rendering, "Deployment/shop-simple-deployment", "containers[webserver-simple]");
    CHECK(app.value == "acme/app:2");
    CHECK(app.origin.quote == '\'');
    CHECK(image_of(rendering, "Deployment/shop-simple-deployment", "containers[sidecar]").value ==
          "acme/side:1");

    SUBCASE("a selector promote cannot read is an error that names it") {
      tree.files["overlay/kustomization.yaml"] =
          "resources: [../base]\npatches:\n- target:\n    labelSelector: \"tier in web\"\n"
          "  patch: |\n    - op: replace\n      path: /spec/template/spec/containers/0/image\n"
          "      value: acme/app:2\n";
      CHECK(tree.error("overlay") ==
            "overlay/kustomization.yaml:4:5: promote cannot read the labelSelector 'tier in web' "
            "of this patch's target");
    }
    SUBCASE("so is a name pattern of a syntax it does not read") {
      tree.files["overlay/kustomization.yaml"] =
          "resources: [../base]\npatches:\n- target:\n    name: (simple|other)-deployment\n"
          "  patch: |\n    - op: replace\n      path: /spec/template/spec/containers/0/image\n"
          "      value: acme/app:2\n";
      CHECK(tree.error("overlay") ==
            "overlay/kustomization.yaml:4:5: promote cannot read the name pattern "
            "'(simple|other)-deployment' of this patch's target");
    }
  }

  TEST_CASE("images: entries of each layer apply in order: base, component, overlay") {
    // GoogleCloudPlatform/microservices-demo: registry and tag components over one base.
    Tree tree{{{"base/kustomization.yaml",
                "resources: [a.yaml]\nimages:\n- name: adservice\n"
                "  newName: registry.example/boutique/adservice\n"},
               {"base/a.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: adservice}\nspec:\n"
                "  template:\n    spec:\n      initContainers:\n      - name: wait\n"
                "        image: busybox:1.38.0@sha256:" +
                    std::string(64, 'f') +
                    "\n"
                    "      containers:\n      - name: server\n        image: adservice\n"},
               {"components/tag/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n"
                "- name: registry.example/boutique/adservice\n  newTag: v0.10.6\n"},
               {"overlay/kustomization.yaml",
                "resources:\n- ../base\ncomponents:\n- ../components/tag\n"}}};
    const Rendering rendering = tree.render("overlay");
    const RenderedImage& server = image_of(rendering, "Deployment/adservice", "containers[server]");
    CHECK(server.value == "registry.example/boutique/adservice:v0.10.6");
    CHECK(server.origin.file == "components/tag/kustomization.yaml");
    CHECK(image_of(rendering, "Deployment/adservice", "initContainers[wait]").value ==
          "busybox:1.38.0@sha256:" + std::string(64, 'f'));
  }

  TEST_CASE("strategic-merge directives delete a container or replace the list") {
    Tree tree{{{"app/kustomization.yaml",
                "resources: [deployment.yaml]\npatchesStrategicMerge:\n- |-\n  kind: Deployment\n"
                "  metadata: {name: simple-deployment}\n  spec:\n    template:\n      spec:\n"
                "        containers:\n        - $patch: replace\n        - name: only\n"
                "          image: acme/only:1\n"},
               {"app/deployment.yaml", k_deployment}}};
    Rendering rendering = tree.render("app");
    REQUIRE(rendering.images.size() == 1);
    CHECK(rendering.images.front().value == "acme/only:1");
    CHECK(rendering.images.front().origin.where() == "app/kustomization.yaml:12:18");

    tree.files["app/kustomization.yaml"] =
        "resources: [deployment.yaml]\npatches:\n- patch: |-\n    kind: Deployment\n"
        "    metadata: {name: simple-deployment}\n    $patch: delete\n";
    rendering = tree.render("app");
    CHECK(rendering.images.empty());
  }

  TEST_CASE("a kustomization graph that is wrong is an error naming FILE:LINE:COL") {
    SUBCASE("a cycle") {
      Tree tree{{{"a/kustomization.yaml", "resources: [../b]\n"},
                 {"b/kustomization.yaml", "resources:\n  - ../a\n"}}};
      CHECK(tree.error("a") ==
            "b/kustomization.yaml:2:5: the kustomization in 'a' includes itself");
    }
    SUBCASE("a path out of the repository") {
      Tree tree{{{"a/kustomization.yaml", "resources: [../../elsewhere]\n"}}};
      CHECK(tree.error("a") ==
            "a/kustomization.yaml:1:13: '../../elsewhere' leads out of the repository");
    }
    SUBCASE("a Component listed as a resource") {
      Tree tree{{{"a/kustomization.yaml", "resources: [../c]\n"},
                 {"c/kustomization.yaml", "kind: Component\n"}}};
      CHECK(tree.error("a") ==
            "a/kustomization.yaml:1:13: 'c' is a Component: list it in components:");
    }
    SUBCASE("a JSON6902 index past the containers") {
      Tree tree{{{"a/kustomization.yaml",
                  "resources: [d.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n"
                  "    - op: replace\n      path: /spec/template/spec/containers/3/image\n"
                  "      value: x:1\n"},
                 {"a/d.yaml", k_deployment}}};
      CHECK(tree.error("a") ==
            "a/kustomization.yaml:5:7: JSON6902 path /spec/template/spec/containers/3/image names "
            "container 3 of Deployment 'simple-deployment', which has 1");
    }
    SUBCASE("a JSON6902 move of containers") {
      Tree tree{{{"a/kustomization.yaml",
                  "resources: [d.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n"
                  "    - op: move\n      from: /spec/template/spec/containers/0\n"
                  "      path: /spec/template/spec/initContainers/0\n"},
                 {"a/d.yaml", k_deployment}}};
      CHECK(tree.error("a") ==
            "a/kustomization.yaml:5:7: promote cannot follow this JSON6902 'move' of "
            "/spec/template/spec/initContainers/0 on Deployment 'simple-deployment': it moves or "
            "copies containers");
    }
    SUBCASE("a missing resource is a warning; a missing patch file an error") {
      Tree tree{
          {{"a/kustomization.yaml", "resources: [../base]\nimages:\n- name: x\n  newTag: '1'\n"}}};
      const Rendering rendering = tree.render("a");
      CHECK(rendering.images.empty());
      REQUIRE(rendering.warnings.size() == 1);
      CHECK(rendering.warnings.front() ==
            "a/kustomization.yaml:1:13: resource '../base' does not exist; images it would hold "
            "are not seen");
      tree.files["a/kustomization.yaml"] = "patchesStrategicMerge:\n- version.yaml\n";
      CHECK(tree.error("a") ==
            "a/kustomization.yaml:2:3: patch file 'version.yaml' does not exist");
    }
  }

  TEST_CASE(
      "a render cache is used only while the files hold what they held, and parses a text once") {
    Tree tree{{{"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
               {"base/deployment.yaml", k_deployment},
               {"overlays/dev/kustomization.yaml", "resources:\n  - ../../base\n"},
               {"overlays/prod/kustomization.yaml", "resources:\n  - ../../base\n"}}};
    promote::overlay::RenderCache cache;
    const auto render = [&](const std::string& dir) {
      auto rendered = promote::overlay::render_images(dir, tree.view(), &cache);
      REQUIRE(rendered.has_value());
      REQUIRE(rendered->images.size() == 1);
      return rendered->images.front().value;
    };
    CHECK(render("overlays/dev") == "docker.io/kostiscodefresh/simple-env-app:1.0");
    CHECK(cache.parse_count() == 3);
    // The base the two overlays share is rendered once, and the overlay's text, dev's word for
    // word, is not parsed again.
    CHECK(render("overlays/prod") == "docker.io/kostiscodefresh/simple-env-app:1.0");
    CHECK(cache.parse_count() == 3);
    tree.files["overlays/dev/kustomization.yaml"] +=
        "images:\n  - name: docker.io/kostiscodefresh/simple-env-app\n    newTag: \"2.0\"\n";
    CHECK(render("overlays/dev") == "docker.io/kostiscodefresh/simple-env-app:2.0");
    CHECK(cache.parse_count() == 4);
    CHECK(render("overlays/prod") == "docker.io/kostiscodefresh/simple-env-app:1.0");
    CHECK(cache.parse_count() == 4);
    // An edit of the shared base reaches both overlays; the text it had before is still known.
    const std::string before = tree.files["base/deployment.yaml"];
    tree.files["base/deployment.yaml"].replace(before.find(":1.0"), 4, ":1.1");
    CHECK(render("overlays/prod") == "docker.io/kostiscodefresh/simple-env-app:1.1");
    CHECK(render("overlays/dev") == "docker.io/kostiscodefresh/simple-env-app:2.0");
    CHECK(cache.parse_count() == 5);
    tree.files["base/deployment.yaml"] = before;
    CHECK(render("overlays/prod") == "docker.io/kostiscodefresh/simple-env-app:1.0");
    CHECK(cache.parse_count() == 5);
    // A text that does not parse is an error naming its file each time, and is not kept.
    tree.files["overlays/prod/kustomization.yaml"] = "resources: [";
    for (int i = 0; i < 2; ++i) {
      auto rendered = promote::overlay::render_images("overlays/prod", tree.view(), &cache);
      REQUIRE_FALSE(rendered.has_value());
      CHECK(rendered.error().message.starts_with("overlays/prod/kustomization.yaml:1:"));
    }
    CHECK(cache.parse_count() == 5);
  }

  TEST_CASE("set_image through a render cache parses only the text it makes, once") {
    Tree tree{{{"base/kustomization.yaml", "resources: [deployment.yaml]\n"},
               {"base/deployment.yaml", k_deployment},
               {"overlays/dev/kustomization.yaml",
                "resources:\n  - ../../base\nimages:\n  - name: "
                "docker.io/kostiscodefresh/simple-env-app\n    newTag: \"2.0\"\n"}}};
    promote::overlay::RenderCache cache;
    REQUIRE(promote::overlay::render_images("overlays/dev", tree.view(), &cache).has_value());
    CHECK(cache.parse_count() == 3);
    const std::string file = "overlays/dev/kustomization.yaml";
    auto edited = promote::overlay::set_image(
        tree.files[file], file, "docker.io/kostiscodefresh/simple-env-app",
        promote::image::parse("docker.io/kostiscodefresh/simple-env-app:3.0").value(), &cache);
    REQUIRE(edited.has_value());
    CHECK(*edited ==
          "resources:\n  - ../../base\nimages:\n  - name: "
          "docker.io/kostiscodefresh/simple-env-app\n    newTag: \"3.0\"\n");
    CHECK(cache.parse_count() == 4);  // the edit, read back by set_image's own check
    tree.files[file] = *edited;
    auto rendered = promote::overlay::render_images("overlays/dev", tree.view(), &cache);
    REQUIRE(rendered.has_value());
    REQUIRE(rendered->images.size() == 1);
    CHECK(rendered->images.front().value == "docker.io/kostiscodefresh/simple-env-app:3.0");
    CHECK(cache.parse_count() == 4);
  }

  TEST_CASE("prefetch parses ahead, on several threads, what rendering the overlays reads") {
    Tree tree{
        {{"base/kustomization.yaml", "resources: [deployment.yaml, service.yaml]\n"},
         {"base/deployment.yaml", k_deployment},
         {"base/service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"},
         {"component/kustomization.yaml", "kind: Component\npatchesStrategicMerge: [patch.yaml]\n"},
         {"component/patch.yaml",
          "kind: Deployment\nmetadata:\n  name: simple-deployment\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: webserver-simple\n"
          "        image: component:1\n"}}};
    std::vector<std::string> dirs;
    for (int i = 0; i < 40; ++i) {
      const std::string dir = "overlays/o" + std::to_string(i);
      dirs.push_back(dir);
      tree.files[dir + "/kustomization.yaml"] =
          "resources: [../../base]\n" +
          std::string(i % 2 == 0 ? "components: [../../component]\n" : "") +
          "patches:\n  - path: tag.yaml\nnamespace: n" + std::to_string(i) + "\n";
      tree.files[dir + "/tag.yaml"] =
          "kind: Deployment\nmetadata:\n  name: simple-deployment\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: webserver-simple\n        image: app:" +
          std::to_string(i) + "\n";
    }
    tree.files["overlays/broken/kustomization.yaml"] = "resources: [../../base\n";
    dirs.push_back("overlays/broken");
    dirs.push_back("overlays/missing");
    promote::overlay::RenderCache cache;
    promote::overlay::prefetch(dirs, tree.view(), cache);
    // 40 kustomizations and their patches, base's kustomization and deployment (the service
    // names no container), the component's two files.
    CHECK(cache.parse_count() == 84);
    for (int i = 0; i < 40; ++i) {
      auto rendered =
          promote::overlay::render_images(dirs[static_cast<std::size_t>(i)], tree.view(), &cache);
      REQUIRE(rendered.has_value());
      REQUIRE(rendered->images.size() == 1);
      CHECK(rendered->images.front().value == "app:" + std::to_string(i));
      CHECK(rendered->images.front().value ==
            tree.render(dirs[static_cast<std::size_t>(i)]).images.front().value);
    }
    CHECK(cache.parse_count() == 84);
    auto broken = promote::overlay::render_images("overlays/broken", tree.view(), &cache);
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().message.starts_with("overlays/broken/kustomization.yaml:2:"));
    // Read ahead again, nothing is parsed again: the overlays are rendered from the same files.
    promote::overlay::prefetch(dirs, tree.view(), cache);
    CHECK(cache.parse_count() == 84);
  }

  TEST_CASE("split_image splits as kustomize does") {
    using promote::overlay::split_image;
    const auto parts = [](const std::string& image) {
      const auto split = split_image(image);
      return split.name + "|" + split.tag + "|" + split.digest;
    };
    CHECK(parts("nginx") == "nginx||");
    CHECK(parts("nginx:1.25") == "nginx|1.25|");
    CHECK(parts("localhost:5000/api:2") == "localhost:5000/api|2|");
    CHECK(parts("ghcr.io/a/b@sha256:00") == "ghcr.io/a/b||sha256:00");
    CHECK(parts("ghcr.io/a/b:1@sha256:00") == "ghcr.io/a/b|1|sha256:00");
  }
}
