// `promote validate` checks the stages' targets on disk, through the real binary: a path that
// is not there or not what its kind needs, a Helm value path that is not in its values file, a
// setter marker that names no image of the pipeline, and a gate that cannot apply to its stage.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::write_text;

namespace {

// A repository whose two stages name every kind of target, each as it should be.
struct Targets {
  promote::test::TempDir dir;

  static constexpr const char* k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: dev
    target:
      kustomize: overlays/dev
      helm:
        file: charts/values-dev.yaml
        images:
          api: {repository: api.image.repository, tag: api.image.tag, digest: api.image.digest}
          web: {image: web.image}
      manifests: manifests/dev
      setters: flux/dev
      argocd: apps/dev.yaml
  - name: prod
    from: dev
    target:
      kustomize: [overlays/prod]
      helm:
        - file: apps/prod.yaml
          document: {kind: Application, name: shop-prod}
          images:
            api: {tag: "spec.source.helm.parameters[name=api.image.tag].value"}
            web: {image: "spec.source.helm.parameters[1].value"}
    gates:
      - use: soak
        with: {min: 1h}
)";

  Targets() {
    write_text(dir / "promote.yaml", k_pipeline);
    for (const char* stage : {"dev", "prod"}) {
      write_text(dir / "overlays" / stage / "kustomization.yaml",
                 "images:\n  - {name: ghcr.io/acme/api, newTag: 1.0.0}\n");
    }
    // No digest key: an edit adds it beside the tag, so it is not missing.
    write_text(dir / "charts/values-dev.yaml",
               "api:\n  image:\n    repository: ghcr.io/acme/api\n    tag: \"1.0.0\"\n"
               "web:\n  image: ghcr.io/acme/web:2.0.0\n");
    write_text(dir / "manifests/dev/web.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - {name: web, image: ghcr.io/acme/web:2.0.0}
)");
    write_text(dir / "flux/dev/release.yaml", R"(spec:
  values:
    image: ghcr.io/acme/api:1.0.0 # {"$imagepolicy": "flux-system:api"}
    webTag: 2.0.0 # {"$imagepolicy": "flux-system:web:tag"}
)");
    write_text(dir / "apps/dev.yaml", R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-dev}
spec:
  source:
    kustomize:
      images: ["ghcr.io/acme/api:1.0.0"]
)");
    write_text(dir / "apps/prod.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: shop-prod}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-prod}
spec:
  source:
    helm:
      parameters:
        - {name: api.image.tag, value: 1.0.0}
        - {name: web.image, value: "ghcr.io/acme/web:2.0.0"}
)");
  }

  CommandResult validate(std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {promote::test::promote_binary().string(), "validate"});
    return promote::test::run(args, dir.path(), {{"NO_COLOR", "1"}});
  }

  // Replaces the first `from` in the pipeline file with `to`.
  void edit_pipeline(const std::string& from, const std::string& to) const {
    std::string text = read_text(dir / "promote.yaml");
    const std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    write_text(dir / "promote.yaml", text);
  }
};

const std::string k_ok = "promote.yaml: ok (pipeline shop, 2 images, 2 stages, 1 gates)\n";

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("validate passes a pipeline whose targets are all there and hold every value path") {
    const Targets repo;
    const CommandResult text = repo.validate();
    CHECK(text.exit_code == 0);
    CHECK(text.out == k_ok);
    CHECK(text.err == "");
    const CommandResult json = repo.validate({"--output", "json"});
    CHECK(json.exit_code == 0);
    const auto doc = nlohmann::json::parse(json.out);
    CHECK(doc["ok"] == true);
    CHECK(doc["notes"] == nlohmann::json::array());
  }

  TEST_CASE("validate reports every target path that is not there or not what its kind needs") {
    const Targets repo;
    fs::remove_all(repo.dir / "overlays/prod/kustomization.yaml");
    fs::remove(repo.dir / "charts/values-dev.yaml");
    fs::create_directories(repo.dir / "charts/values-dev.yaml");
    fs::remove_all(repo.dir / "manifests");
    fs::remove(repo.dir / "apps/dev.yaml");
    repo.edit_pipeline("kustomize: overlays/dev", "kustomize: overlays/dev/kustomization.yaml");
    repo.edit_pipeline("setters: flux/dev", "setters: [flux/dev, flux/gone.yaml]");
    const std::string expected =
        "promote.yaml:10:18: target.kustomize 'overlays/dev/kustomization.yaml' is a file, not "
        "an overlay directory; name the directory that holds the kustomization\n"
        "promote.yaml:12:15: target.helm file 'charts/values-dev.yaml' is a directory, not a "
        "values file\n"
        "promote.yaml:16:18: target.manifests 'manifests/dev' does not exist\n"
        "promote.yaml:17:27: target.setters 'flux/gone.yaml' does not exist\n"
        "promote.yaml:18:15: target.argocd 'apps/dev.yaml' does not exist\n"
        "promote.yaml:22:19: target.kustomize: no kustomization file (kustomization.yaml, "
        "kustomization.yml or Kustomization) in 'overlays/prod'";
    const CommandResult text = repo.validate();
    CHECK(text.exit_code == 2);
    CHECK(text.out == "");
    CHECK(text.err == "promote: " + expected + "\n");

    SUBCASE("in JSON, as the error document") {
      const CommandResult json = repo.validate({"--output", "json"});
      CHECK(json.exit_code == 2);
      const auto doc = nlohmann::json::parse(json.out);
      CHECK(doc["outcome"] == "error");
      CHECK(doc["error"]["kind"] == "config");
      CHECK(doc["error"]["message"] == expected);
    }
    SUBCASE("an overlay directory that is not there") {
      repo.edit_pipeline("kustomize: overlays/dev/kustomization.yaml", "kustomize: overlays/qa");
      const CommandResult again = repo.validate();
      CHECK(again.exit_code == 2);
      CHECK(again.err.starts_with(
          "promote: promote.yaml:10:18: target.kustomize 'overlays/qa' does not exist\n"
          "promote.yaml:12:15: "));
    }
  }

  TEST_CASE(
      "validate reports a kustomization that leads out of the repository through a "
      "symlink") {
    const Targets repo;
    const promote::test::TempDir outside;
    fs::copy_file(repo.dir / "overlays/prod/kustomization.yaml", outside / "kustomization.yaml");
    fs::remove(repo.dir / "overlays/prod/kustomization.yaml");
    fs::create_symlink(outside / "kustomization.yaml",
                       repo.dir / "overlays/prod/kustomization.yaml");
    const CommandResult text = repo.validate();
    CHECK(text.exit_code == 2);
    CHECK(text.err ==
          "promote: promote.yaml:22:19: target.kustomize 'overlays/prod': its kustomization "
          "kustomization.yaml leads out of the repository through a symlink\n");
  }

  TEST_CASE("validate reports a Helm value path that is not in its values file") {
    const Targets repo;
    write_text(repo.dir / "charts/values-dev.yaml",
               "api:\n  image:\n    repository: ghcr.io/acme/api\n"
               "web:\n  images: ghcr.io/acme/web:2.0.0\n");

    SUBCASE("a key, an item chosen by a key's value, an item by its index") {
      write_text(repo.dir / "apps/prod.yaml",
                 "kind: Application\nmetadata: {name: shop-prod}\nspec:\n  source:\n    helm:\n"
                 "      parameters:\n        - {name: api.tag, value: 1.0.0}\n");
      const CommandResult result = repo.validate();
      CHECK(result.exit_code == 2);
      CHECK(result.out == "");
      CHECK(result.err ==
            "promote: promote.yaml:14:56: target.helm image 'api': tag path 'api.image.tag' is "
            "not in charts/values-dev.yaml: 'api.image' has no key 'tag' "
            "(charts/values-dev.yaml:2:3)\n"
            "promote.yaml:15:24: target.helm image 'web': image path 'web.image' is not in "
            "charts/values-dev.yaml: 'web' has no key 'image' (charts/values-dev.yaml:4:1)\n"
            "promote.yaml:27:24: target.helm image 'api': tag path "
            "'spec.source.helm.parameters[name=api.image.tag].value' is not in apps/prod.yaml: "
            "'spec.source.helm.parameters' has no item with name=api.image.tag "
            "(apps/prod.yaml:6:7)\n"
            "promote.yaml:28:26: target.helm image 'web': image path "
            "'spec.source.helm.parameters[1].value' is not in apps/prod.yaml: "
            "'spec.source.helm.parameters' has no item [1] (apps/prod.yaml:6:7)\n");
    }
    SUBCASE("a document that no document of the file is") {
      repo.edit_pipeline("name: shop-prod}", "name: shop-prd}");
      const CommandResult result = repo.validate();
      CHECK(result.exit_code == 2);
      CHECK(result.err.ends_with(
          "(charts/values-dev.yaml:4:1)\n"
          "promote.yaml:24:17: apps/prod.yaml: no document has kind 'Application' and "
          "metadata.name 'shop-prd' (it has 2 documents)\n"));
    }
  }

  TEST_CASE("validate reports a setter marker that names no image of the pipeline, in its file") {
    const Targets repo;
    write_text(repo.dir / "flux/dev/release.yaml", R"(spec:
  values:
    image: ghcr.io/acme/api:1.0.0 # {"$imagepolicy": "flux-system:api"}
    webTag: 2.0.0 # {"$imagepolicy": "flux-system:wep:tag"}
    worker: ghcr.io/acme/worker:1.0.0 # {"$imagepolicy": "flux-system:worker"}
)");
    const CommandResult result = repo.validate();
    CHECK(result.exit_code == 2);
    CHECK(result.out == "");
    CHECK(result.err ==
          "promote: flux/dev/release.yaml:4:19: $imagepolicy marker names 'wep', which is no "
          "image of pipeline 'shop' (did you mean 'web'?); a target.setters file of stage 'dev' "
          "(promote.yaml:17:16)\n"
          "flux/dev/release.yaml:5:39: $imagepolicy marker names 'worker', which is no image of "
          "pipeline 'shop'; a target.setters file of stage 'dev' (promote.yaml:17:16)\n");
  }

  TEST_CASE("validate refuses a soak gate in a stage that has no source stage") {
    const Targets repo;
    repo.edit_pipeline("      argocd: apps/dev.yaml\n",
                       "      argocd: apps/dev.yaml\n    gates:\n      - name: bake\n"
                       "        use: soak\n        with: {min: 2h}\n");
    const std::string expected =
        "promote: promote.yaml:20:9: gate 'bake' (soak) cannot apply to stage 'dev': it judges "
        "the stage the candidate comes from, and the stage has no 'from'\n";
    const CommandResult result = repo.validate();
    CHECK(result.exit_code == 2);
    CHECK(result.out == "");
    CHECK(result.err == expected);
    // The pipeline does not load for a promotion either: nothing is judged or written.
    const CommandResult promote =
        promote::test::run({promote::test::promote_binary().string(), "--to", "dev", "--image",
                            "api=ghcr.io/acme/api:1.0.1"},
                           repo.dir.path(), {{"NO_COLOR", "1"}});
    CHECK(promote.exit_code == 2);
    CHECK(promote.err == expected);
  }

  TEST_CASE("validate of a remote repository says its targets were not checked") {
    const Targets repo;
    repo.edit_pipeline(
        "metadata: {name: shop}\n",
        "metadata: {name: shop}\nrepository: {url: \"https://git.example.com/shop.git\"}\n");
    fs::remove_all(repo.dir / "overlays");
    const std::string note =
        "promote: note: the repository is remote (repository.url): the stages' targets were not "
        "checked on disk\n";
    const CommandResult text = repo.validate();
    CHECK(text.exit_code == 0);
    CHECK(text.out == k_ok);
    CHECK(text.err == note);
    const CommandResult json = repo.validate({"--output", "json"});
    CHECK(json.exit_code == 0);
    CHECK(json.err == note);
    const auto doc = nlohmann::json::parse(json.out);
    CHECK(doc["notes"] == nlohmann::json::array({"the repository is remote (repository.url): the "
                                                 "stages' targets were not checked on disk"}));
  }
}
