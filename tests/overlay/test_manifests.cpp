#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <set>
#include <string>
#include <vector>

#include "engine/overlay/manifests.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::image::Reference;
using promote::overlay::get_manifest_images;
using promote::overlay::set_manifest_images;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::pair<std::string, int> set_ok(std::string_view text, const std::string& match,
                                   const std::string& target) {
  auto edited = set_manifest_images(text, "deploy.yaml", match, reference_of(target));
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  return *edited;
}

std::string set_error(std::string_view text, const std::string& match, const std::string& target) {
  auto edited = set_manifest_images(text, "deploy.yaml", match, reference_of(target));
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << edited->first);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

std::vector<std::string> images(std::string_view text, const std::string& match) {
  auto found = get_manifest_images(text, "deploy.yaml", match);
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  std::vector<std::string> out;
  for (const auto& reference : *found) {
    out.push_back(reference.to_string());
  }
  return out;
}

std::string deployment(const std::string& name, const std::string& image_line) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name +
         "\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: " +
         image_line + "\n";
}

std::vector<std::string> raw_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t newline = text.find('\n', begin);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    lines.emplace_back(text.substr(begin, end - begin));
    begin = end;
  }
  return lines;
}

/// The 0-based lines that differ; the texts must have as many lines.
std::set<int> changed_lines(std::string_view before, std::string_view after) {
  const auto old_lines = raw_lines(before);
  const auto new_lines = raw_lines(after);
  REQUIRE(old_lines.size() == new_lines.size());
  std::set<int> changed;
  for (std::size_t i = 0; i < old_lines.size(); ++i) {
    if (old_lines[i] != new_lines[i]) {
      changed.insert(static_cast<int>(i));
    }
  }
  return changed;
}

/// A container image as the test reads it with yaml-cpp alone: its text and its line.
struct Found {
  std::string image;
  int line = 0;
};

/// The container images of the workloads of a multi-document text, walked independently of the
/// code under test.
std::vector<Found> container_images(const std::string& text) {
  static const std::map<std::string, std::vector<std::string>> k_pod_spec = {
      {"Pod", {"spec"}},
      {"Deployment", {"spec", "template", "spec"}},
      {"StatefulSet", {"spec", "template", "spec"}},
      {"DaemonSet", {"spec", "template", "spec"}},
      {"ReplicaSet", {"spec", "template", "spec"}},
      {"Job", {"spec", "template", "spec"}},
      {"CronJob", {"spec", "jobTemplate", "spec", "template", "spec"}},
  };
  std::vector<Found> out;
  for (const auto& document : YAML::LoadAll(text)) {
    if (!document.IsMap() || !document["kind"] ||
        !k_pod_spec.contains(document["kind"].as<std::string>())) {
      continue;
    }
    std::vector<YAML::Node> path = {document};
    for (const auto& key : k_pod_spec.at(document["kind"].as<std::string>())) {
      const YAML::Node& parent = path.back();  // const: reading must not add keys
      if (!parent.IsMap() || !parent[key]) {
        break;
      }
      path.push_back(parent[key]);
    }
    const YAML::Node spec = path.back();
    if (path.size() != k_pod_spec.at(document["kind"].as<std::string>()).size() + 1 ||
        !spec.IsMap()) {
      continue;
    }
    for (const std::string list : {"initContainers", "containers"}) {
      for (const auto& container : spec[list]) {
        if (container["image"] && container["image"].IsScalar()) {
          out.push_back({container["image"].as<std::string>(), container["image"].Mark().line});
        }
      }
    }
  }
  return out;
}

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("get_manifest_images finds container and init container images of every workload") {
    const std::string text = R"(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
  - name: init
    image: ghcr.io/acme/api:0.9
  containers:
  - {name: a, image: "ghcr.io/acme/api:1.0"}
---
kind: StatefulSet
spec: {template: {spec: {containers: [{name: a, image: ghcr.io/acme/api:1.0}]}}}
---
kind: DaemonSet
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/acme/api@)" +
                             k_sha + R"(
---
kind: ReplicaSet
spec: {template: {spec: {containers: [{image: ghcr.io/acme/api:rs}]}}}
---
kind: Job
spec: {template: {spec: {containers: [{image: ghcr.io/acme/api:job}]}}}
---
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - image: ghcr.io/acme/api:cron
---
kind: List
items:
- kind: Deployment
  spec: {template: {spec: {containers: [{image: ghcr.io/acme/api:listed}]}}}
---
kind: ConfigMap
data:
  image: ghcr.io/acme/api:configmap
---
kind: MyKind
spec: {containers: [{image: ghcr.io/acme/api:custom}]}
---
kind: Deployment
spec: {template: {spec: {containers: [{image: ghcr.io/acme/api-worker:1.0}, {image: api:1.0}, {name: no-image}]}}}
---
kind: Deployment
metadata: {name: patch-without-containers}
spec: {replicas: 2}
)";
    CHECK(images(text, "ghcr.io/acme/api") ==
          std::vector<std::string>{"ghcr.io/acme/api:0.9", "ghcr.io/acme/api:1.0",
                                   "ghcr.io/acme/api@" + k_sha, "ghcr.io/acme/api:rs",
                                   "ghcr.io/acme/api:job", "ghcr.io/acme/api:cron",
                                   "ghcr.io/acme/api:listed"});
    CHECK(images(text, "ghcr.io/acme/api-worker") ==
          std::vector<std::string>{"ghcr.io/acme/api-worker:1.0"});
    CHECK(images(text, "api") == std::vector<std::string>{"api:1.0"});
    // Docker Hub's spellings of one repository are one repository; the value is as written.
    CHECK(images(text, "docker.io/library/api") == std::vector<std::string>{"api:1.0"});
    CHECK(images(text, "library/api") == std::vector<std::string>{"api:1.0"});
    CHECK(images(text, "ghcr.io/api").empty());
    CHECK(images("", "api").empty());
    CHECK(images("just a scalar", "api").empty());
  }

  TEST_CASE("set_manifest_images keeps the spelling of a Docker Hub repository a value has") {
    const std::string text =
        "kind: Pod\nspec:\n  containers:\n  - image: redis:7.0 # cache\n"
        "  - image: \"docker.io/library/redis:7.0\"\n  - image: index.docker.io/redis\n"
        "  - image: ghcr.io/acme/redis:7.0\n";
    const auto [edited, count] =
        set_ok(text, "docker.io/library/redis", "docker.io/library/redis:7.2");
    CHECK(edited ==
          "kind: Pod\nspec:\n  containers:\n  - image: redis:7.2 # cache\n"
          "  - image: \"docker.io/library/redis:7.2\"\n  - image: index.docker.io/redis:7.2\n"
          "  - image: ghcr.io/acme/redis:7.0\n");
    CHECK(count == 3);
    // The pipeline may spell it short, too: the long spellings in the file stay long.
    CHECK(set_ok(text, "redis", "redis:7.2").first == edited);
  }

  TEST_CASE("set_manifest_images edits only the bytes it must") {
    struct Case {
      std::string name;
      std::string input;
      std::string match;
      std::string target;
      std::string expected;
      int edits;
    };
    const std::string other =
        "---\n# not ours\napiVersion: v1\nkind: Service\nmetadata:\n"
        "  name: api\nspec:\n  ports: [{port: 80}]\n";
    const std::vector<Case> cases = {
        {"updates the tag", deployment("api", "ghcr.io/acme/api:1.0"), "ghcr.io/acme/api",
         "ghcr.io/acme/api:1.1", deployment("api", "ghcr.io/acme/api:1.1"), 1},
        {"keeps an inline comment",
         deployment("api", "ghcr.io/acme/api:1.0 # the comment must stay!"), "ghcr.io/acme/api",
         "ghcr.io/acme/api:1.1", deployment("api", "ghcr.io/acme/api:1.1 # the comment must stay!"),
         1},
        {"keeps double quotes", deployment("api", "\"ghcr.io/acme/api:1.0\""), "ghcr.io/acme/api",
         "ghcr.io/acme/api:1.1@" + k_sha,
         deployment("api", "\"ghcr.io/acme/api:1.1@" + k_sha + "\""), 1},
        {"keeps single quotes", deployment("api", "'ghcr.io/acme/api:1.0'  # q"),
         "ghcr.io/acme/api", "mirror.example.com/acme/api:1.1",
         deployment("api", "'mirror.example.com/acme/api:1.1'  # q"), 1},
        {"edits every document, leaving the ones in between alone",
         deployment("a", "ghcr.io/acme/api:1.0") + other + "---\n" +
             deployment("b", "ghcr.io/acme/api:0.9") + "...\n",
         "ghcr.io/acme/api", "ghcr.io/acme/api:1.1",
         deployment("a", "ghcr.io/acme/api:1.1") + other + "---\n" +
             deployment("b", "ghcr.io/acme/api:1.1") + "...\n",
         2},
        {"leaves other repositories alone, even with a shared prefix",
         deployment("a", "ghcr.io/acme/api-worker:1.0") + "---\n" + deployment("b", "api:1.0"),
         "ghcr.io/acme/api", "ghcr.io/acme/api:1.1",
         deployment("a", "ghcr.io/acme/api-worker:1.0") + "---\n" + deployment("b", "api:1.0"), 0},
        {"edits init containers and containers of a CronJob",
         "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
         "          initContainers:\n            - image: ghcr.io/acme/api:1.0\n"
         "          containers:\n            - image: ghcr.io/acme/api:1.0\n"
         "            - image: busybox:1.36\n",
         "ghcr.io/acme/api", "ghcr.io/acme/api:1.1",
         "kind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
         "          initContainers:\n            - image: ghcr.io/acme/api:1.1\n"
         "          containers:\n            - image: ghcr.io/acme/api:1.1\n"
         "            - image: busybox:1.36\n",
         2},
        {"keeps CRLF line endings and a missing final newline",
         "kind: Pod\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: nginx:1.25", "nginx",
         "nginx:1.27",
         "kind: Pod\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: nginx:1.27", 1},
        {"edits a flow container list in place",
         "kind: Job\nspec: {template: {spec: {containers: [{name: a, image: nginx:1.25}, {image: "
         "nginx}]}}}\n",
         "nginx", "nginx:1.27",
         "kind: Job\nspec: {template: {spec: {containers: [{name: a, image: nginx:1.27}, {image: "
         "nginx:1.27}]}}}\n",
         2},
        {"keeps anchors and aliases elsewhere",
         "kind: Pod\nmetadata:\n  labels: &l {app: a}\n  annotations: *l\nspec:\n  containers:\n"
         "  - image: nginx:1.25\n",
         "nginx", "nginx:1.27",
         "kind: Pod\nmetadata:\n  labels: &l {app: a}\n  annotations: *l\nspec:\n  containers:\n"
         "  - image: nginx:1.27\n",
         1},
        {"quotes nothing a plain reference does not need", deployment("api", "api"), "api",
         "api:1.10", deployment("api", "api:1.10"), 1},
    };
    for (const auto& c : cases) {
      SUBCASE(c.name.c_str()) {
        const auto [edited, count] = set_ok(c.input, c.match, c.target);
        CHECK(edited == c.expected);
        CHECK(count == c.edits);
        const Reference target = reference_of(c.target);
        if (c.edits > 0) {
          CHECK(images(edited, target.repository()).front() == target.to_string());
        }
        const auto again = set_ok(edited, target.repository(), c.target);
        CHECK(again.first == edited);
        CHECK(again.second == 0);
      }
    }
  }

  TEST_CASE("set_manifest_images returns the text byte for byte when every image is right") {
    const std::string text =
        "# header\r\n" + deployment("api", "\"ghcr.io/acme/api:1.1\"  # ok") + "---\n";
    const auto [edited, count] = set_ok(text, "ghcr.io/acme/api", "ghcr.io/acme/api:1.1");
    CHECK(edited == text);
    CHECK(count == 0);
  }

  TEST_CASE(
      "set_manifest_images refuses edits it cannot make safely, naming file, line and column") {
    CHECK(
        set_error("kind: Pod\nimg: &i nginx:1.25\nspec:\n  containers:\n  - image: *i\n", "nginx",
                  "nginx:1.27") ==
        "deploy.yaml:5:5: cannot edit Pod spec.containers[0].image in place: its value is an alias "
        "(*name) of a value anchored elsewhere, and promote does not edit through aliases (the "
        "anchor is at line 2, column 6)");
    CHECK(
        set_error("kind: Pod\nspec:\n  containers:\n  - image: &i nginx:1.25\n  - image: *i\n",
                  "nginx", "nginx:1.27") ==
        "deploy.yaml:4:5: cannot edit Pod spec.containers[0].image in place: its value carries an "
        "anchor (&name) that aliases elsewhere may share");
    CHECK(set_error("kind: Deployment\nmetadata: {name: a}\nx: &tpl\n  spec:\n    containers:\n"
                    "    - image: nginx:1.25\nspec:\n  template: *tpl\n",
                    "nginx", "nginx:1.27") ==
          "deploy.yaml:8:3: cannot edit Deployment 'a' spec.template.spec.containers[0].image in "
          "place: spec.template is an alias (*name) of a node anchored elsewhere, and promote does "
          "not edit through aliases");
    CHECK(set_error("kind: Pod\nc: &c {image: nginx:1.25}\nspec:\n  containers:\n  - *c\n", "nginx",
                    "nginx:1.27") ==
          "deploy.yaml:4:3: cannot edit Pod spec.containers[0].image in place: "
          "spec.containers[0] is an alias (*name) of a node anchored elsewhere, and promote does "
          "not edit through aliases");
    CHECK(
        set_error("kind: Pod\nspec:\n  containers:\n  - image: >-\n      nginx:1.25\n", "nginx",
                  "nginx:1.27") ==
        "deploy.yaml:4:5: cannot edit Pod spec.containers[0].image in place: its value is a block "
        "scalar (| or >)");
    CHECK(set_error("kind: Pod\nspec:\n  containers:\n  - image: nginx:1.25\n    image: nginx\n",
                    "nginx", "nginx:1.27") ==
          "deploy.yaml:5:5: Pod spec.containers[0] has the key 'image' twice");
    CHECK(set_error("kind: Pod\nspec:\n  containers: {image: nginx}\n", "nginx", "nginx:1.27") ==
          "deploy.yaml:3:15: Pod spec.containers must be a list (it is a map)");
    CHECK(set_error("kind: Pod\nspec:\n  containers:\n  - nginx\n", "nginx", "nginx:1.27") ==
          "deploy.yaml:4:5: Pod spec.containers[0] must be a map (it is a string)");
    CHECK(
        set_error("kind: Pod\nspec:\n  containers:\n  - image: [nginx]\n", "nginx", "nginx:1.27") ==
        "deploy.yaml:4:12: Pod spec.containers[0].image must be a string (it is a list)");
    CHECK(set_error("kind: CronJob\nspec:\n  jobTemplate: []\n", "nginx", "nginx:1.27") ==
          "deploy.yaml:3:16: CronJob spec.jobTemplate must be a map (it is a list)");
    CHECK(
        set_error("kind: Pod\nspec:\n  containers:\n  - image: nginx:1+2\n", "nginx",
                  "nginx:1.27") ==
        "deploy.yaml:4:12: Pod spec.containers[0].image: invalid image reference 'nginx:1+2': tag "
        "'1+2' is invalid (it must start with a letter, digit or '_' and contain only letters, "
        "digits, '_', '.' and '-')");
    CHECK(set_error("kind: Pod\nspec:\n  containers:\n  - image: [nginx\n", "nginx",
                    "nginx:1.27") == "deploy.yaml:5:1: end of sequence flow not found");
    CHECK(set_error("kind: Pod\n--- ,\n", "nginx", "nginx:1.27") ==
          "deploy.yaml:2:5: unexpected character");
    CHECK(set_error("", "nginx:1.25", "nginx:1.27") ==
          "deploy.yaml: cannot match images by 'nginx:1.25': it must be a repository without tag "
          "or digest");
    CHECK(set_error("", "Nginx", "nginx:1.27") ==
          "deploy.yaml: cannot match images by 'Nginx': it must be a repository without tag or "
          "digest (invalid image reference 'Nginx': repository name must be lower-case)");
    auto no_repository = set_manifest_images("", "deploy.yaml", "nginx", Reference{});
    REQUIRE(no_repository.has_error());
    CHECK(no_repository.error().message ==
          "deploy.yaml: cannot set the images of 'nginx': the target reference has no repository");
  }

  TEST_CASE("set_manifest_images changes only the image bytes: a diff of before and after") {
    const std::string before = deployment("a", "ghcr.io/acme/api:1.0 # keep") + "---\n" +
                               "kind: ConfigMap\ndata:\n  image: ghcr.io/acme/api:1.0\n---\n" +
                               deployment("b", "'ghcr.io/acme/api:0.9'");
    const auto [after, count] = set_ok(before, "ghcr.io/acme/api", "ghcr.io/acme/api:1.10");
    CHECK(count == 2);
    CHECK(changed_lines(before, after) == std::set<int>{9, 24});
    std::string expected = before;
    expected.replace(expected.find("api:1.0 # keep"), 7, "api:1.10");
    expected.replace(expected.find("api:0.9'"), 7, "api:1.10");
    CHECK(after == expected);
    CHECK(YAML::LoadAll(after)[1]["data"]["image"].as<std::string>() == "ghcr.io/acme/api:1.0");
  }

  TEST_CASE("set_manifest_images gives the image Flux's replace cases expect" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() /
                         "overlays/fluxcd__image-automation-controller/internal/update/testdata";
    for (const std::string name : {"deployment.yaml", "cronjob.yaml"}) {
      CAPTURE(name);
      const auto [edited, count] =
          set_ok(promote::test::read_text(dir / "replace/original" / name), "used", "used:v1.1.0");
      CHECK(edited == promote::test::read_text(dir / "replace/expected" / name));
      CHECK(count == 1);
    }
    // Flux's expected file re-indents the list; promote keeps the original bytes.
    const std::string commented =
        promote::test::read_text(dir / "replace/commented/deployment.yaml");
    std::string expected = commented;
    expected.replace(expected.find("v1.0.0"), 6, "v1.1.0");
    CHECK(set_ok(commented, "used", "used:v1.1.0").first == expected);
    CHECK(expected != promote::test::read_text(dir / "replace/commented-expected/deployment.yaml"));
    // The policy does not cover the images of the leave cases.
    for (const std::string name : {"deployment.yaml", "cronjob.yaml"}) {
      const std::string original = promote::test::read_text(dir / "leave/original" / name);
      CHECK(set_ok(original, "used", "used:v1.1.0") == std::pair{original, 0});
    }
  }

  TEST_CASE("set_manifest_images on every corpus manifest changes only the image lines" *
            doctest::skip(!promote::test::has_corpus())) {
    std::vector<fs::path> files;
    for (const auto& item :
         fs::recursive_directory_iterator(*promote::test::corpus_dir() / "overlays")) {
      if (item.is_regular_file()) {
        files.push_back(item.path());
      }
    }
    std::sort(files.begin(), files.end());
    int with_images = 0;
    int repositories = 0;
    int edited_images = 0;
    const Reference target = reference_of("registry.example.com:5000/team/app:1.10@" + k_sha);
    for (const auto& file : files) {
      CAPTURE(file);
      const std::string text = promote::test::read_text(file);
      const auto found = container_images(text);
      std::vector<std::string> matches;
      for (const auto& image : found) {
        const std::string repository = reference_of(image.image).repository();
        if (std::find(matches.begin(), matches.end(), repository) == matches.end()) {
          matches.push_back(repository);
        }
      }
      if (found.empty()) {
        // Nothing to edit: the text comes back as it was.
        auto edited = set_manifest_images(text, file.string(), "nginx", target);
        REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
        CHECK(edited->first == text);
        CHECK(edited->second == 0);
        continue;
      }
      ++with_images;
      for (const auto& match : matches) {
        CAPTURE(match);
        ++repositories;
        auto listed = get_manifest_images(text, file.string(), match);
        REQUIRE_MESSAGE(listed.has_value(), listed.error().message);
        CHECK(!listed->empty());
        auto edited = set_manifest_images(text, file.string(), match, target);
        REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
        std::set<int> lines;
        std::vector<std::string> expected;
        for (const auto& image : found) {
          const bool ours = reference_of(image.image).repository() == match;
          if (ours) {
            lines.insert(image.line);
          }
          expected.push_back(ours ? target.to_string() : image.image);
        }
        CHECK(edited->second == static_cast<int>(lines.size()));
        edited_images += edited->second;
        CHECK(changed_lines(text, edited->first) == lines);
        std::vector<std::string> actual;
        for (const auto& image : container_images(edited->first)) {
          actual.push_back(image.image);
        }
        CHECK(actual == expected);
        CHECK(YAML::LoadAll(edited->first).size() == YAML::LoadAll(text).size());
        CHECK(text.ends_with('\n') == edited->first.ends_with('\n'));
        const auto again =
            set_manifest_images(edited->first, file.string(), target.repository(), target);
        REQUIRE(again.has_value());
        CHECK(again->second == 0);
        CHECK(again->first == edited->first);
      }
    }
    CHECK(with_images == 28);
    CHECK(repositories == 31);
    CHECK(edited_images == 34);
  }
}
