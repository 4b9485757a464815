#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/overlay/helm.hpp"
#include "engine/overlay/splice.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::image::Reference;
using promote::overlay::get_helm_image;
using promote::overlay::HelmImage;
using promote::overlay::set_helm_image;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const std::string k_sha2 =
    "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";

const HelmImage k_tag_only{"", "", "", "image.tag", ""};
const HelmImage k_repository_tag{"", "", "image.repository", "image.tag", ""};
const HelmImage k_one_string{"image", "", "", "", ""};
const HelmImage k_bitnami{"", "image.registry", "image.repository", "image.tag", "image.digest"};

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::string set_ok(std::string_view text, const HelmImage& where, const std::string& target) {
  auto edited = set_helm_image(text, "values.yaml", where, reference_of(target));
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  return *edited;
}

std::string set_error(std::string_view text, const HelmImage& where, const std::string& target) {
  auto edited = set_helm_image(text, "values.yaml", where, reference_of(target));
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << *edited);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

std::optional<std::string> read(std::string_view text, const HelmImage& where) {
  auto image = get_helm_image(text, "values.yaml", where);
  REQUIRE_MESSAGE(image.has_value(), image.error().message);
  if (!*image) {
    return std::nullopt;
  }
  return (*image)->to_string();
}

std::string get_error(std::string_view text, const HelmImage& where) {
  auto image = get_helm_image(text, "values.yaml", where);
  REQUIRE(image.has_error());
  return image.error().message;
}

/// A line of a text with its line ending.
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

/// What an edit changed: for each changed line, the bytes that differ (after the common prefix
/// and before the common suffix) before and after; an inserted line is {"", line}. The texts
/// must have the same lines but for changed or inserted ones.
std::vector<std::pair<std::string, std::string>> changed_bytes(std::string_view before,
                                                               std::string_view after) {
  const auto old_lines = raw_lines(before);
  const auto new_lines = raw_lines(after);
  std::vector<std::pair<std::string, std::string>> changes;
  std::size_t j = 0;
  for (std::size_t i = 0; i < old_lines.size(); ++i, ++j) {
    REQUIRE(j < new_lines.size());
    if (old_lines[i] == new_lines[j]) {
      continue;
    }
    if (j + 1 < new_lines.size() && old_lines[i] == new_lines[j + 1]) {
      changes.emplace_back("", new_lines[j]);
      ++j;
      continue;
    }
    const std::string& a = old_lines[i];
    const std::string& b = new_lines[j];
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
      ++prefix;
    }
    std::size_t suffix = 0;
    while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
           a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
      ++suffix;
    }
    changes.emplace_back(a.substr(prefix, a.size() - prefix - suffix),
                         b.substr(prefix, b.size() - prefix - suffix));
  }
  for (; j < new_lines.size(); ++j) {
    changes.emplace_back("", new_lines[j]);
  }
  return changes;
}

/// The 0-based lines an edit changed or inserted (an inserted line counts as the one it is
/// inserted before, shifted by the lines inserted so far).
std::vector<std::size_t> changed_lines(std::string_view before, std::string_view after) {
  const auto old_lines = raw_lines(before);
  const auto new_lines = raw_lines(after);
  std::vector<std::size_t> changed;
  std::size_t j = 0;
  for (std::size_t i = 0; i < old_lines.size(); ++i, ++j) {
    REQUIRE(j < new_lines.size());
    if (old_lines[i] == new_lines[j]) {
      continue;
    }
    if (j + 1 < new_lines.size() && old_lines[i] == new_lines[j + 1]) {
      ++j;
    }
    changed.push_back(i);
  }
  CHECK(j == new_lines.size());
  return changed;
}

/// The node at a dotted path, read with yaml-cpp.
YAML::Node at_path(const YAML::Node& node, const std::string& path) {
  const std::size_t dot = path.find('.');
  const YAML::Node child = node[path.substr(0, dot)];
  return dot == std::string::npos ? child : at_path(child, path.substr(dot + 1));
}

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("get_helm_image reads each shape of image values") {
    const std::string text =
        "image:\n"
        "  registry: docker.io\n"
        "  repository: bitnami/nginx # the app\n"
        "  tag: \"1.10\"\n"
        "  digest: \"\"\n"
        "api:\n"
        "  image: ghcr.io/acme/api:1.4.2@" +
        k_sha +
        "\n"
        "worker:\n"
        "  repository: ghcr.io/acme/worker\n"
        "  tag: 1.10\n"
        "  digest: null\n"
        "tagged:\n"
        "  tag: v3\n";
    CHECK(read(text, k_bitnami) == "docker.io/bitnami/nginx:1.10");
    CHECK(read(text, k_repository_tag) == "bitnami/nginx:1.10");
    CHECK(read(text, {"api.image", "", "", "", ""}) == "ghcr.io/acme/api:1.4.2@" + k_sha);
    // A plain 1.10 reads as written (Helm itself would see the number 1.1).
    CHECK(read(text, {"", "", "worker.repository", "worker.tag", "worker.digest"}) ==
          "ghcr.io/acme/worker:1.10");
    auto tag_only = get_helm_image(text, "values.yaml", {"", "", "", "tagged.tag", ""});
    REQUIRE(tag_only.has_value());
    REQUIRE(tag_only->has_value());
    CHECK(**tag_only == Reference{"", "", "v3", ""});
    CHECK(read(text, {"", "", "", "missing.tag", ""}) == std::nullopt);
    CHECK(read("", k_bitnami) == std::nullopt);
    CHECK(read("# nothing\n", k_one_string) == std::nullopt);
    CHECK(read("image:\n  tag: \"\"\n", k_tag_only) == std::nullopt);
    CHECK(read("base: &b\n  tag: v1\nimage: *b\n", k_tag_only) == ":v1");
  }

  TEST_CASE("get_helm_image reports malformed files and values with file, line and column") {
    CHECK(get_error("image:\n  tag: [v1\n", k_tag_only) ==
          "values.yaml:3:1: end of sequence flow not found");
    CHECK(get_error(",a: 1\n", k_tag_only) == "values.yaml:1:1: unexpected character");
    CHECK(get_error("- a\n", k_tag_only) == "values.yaml:1:1: a values file must be a map");
    CHECK(get_error("image: nginx:1.0\n", k_tag_only) ==
          "values.yaml:1:8: image must be a map to hold 'tag' (it is a string)");
    CHECK(get_error("image:\n  tag:\n    a: 1\n", k_tag_only) ==
          "values.yaml:3:5: image.tag must be a string (it is a map)");
    CHECK(get_error("image:\n  tag: v1\n  tag: v2\n", k_tag_only) ==
          "values.yaml:3:3: 'image' has the key 'tag' twice");
    CHECK(get_error("image:\n  tag: 1+2\n", k_tag_only) ==
          "values.yaml:2:8: image.tag: tag '1+2' is invalid (it must start with a letter, digit "
          "or '_' and contain only letters, digits, '_', '.' and '-')");
    CHECK(get_error("image:\n  repository: Acme/API\n  tag: v1\n", k_repository_tag) ==
          "values.yaml:2:15: image.repository: invalid image reference 'Acme/API:v1': "
          "repository name must be lower-case");
    CHECK(get_error("image:\n  registry: docker.io\n  repository: a\n  tag: v1\n  digest: x\n",
                    k_bitnami) ==
          "values.yaml:5:11: image.digest: invalid image reference 'docker.io/a:v1@x': digest 'x' "
          "is invalid (expected algorithm:hex, e.g. sha256: and 64 hex digits)");
    CHECK(get_error("image: nginx:1.0@sha256:00\n", k_one_string) ==
          "values.yaml:1:8: image: invalid image reference 'nginx:1.0@sha256:00': digest "
          "'sha256:00' is invalid (sha256 needs exactly 64 lower-case hex digits)");
  }

  TEST_CASE("check_helm_image accepts the four shapes and refuses the rest") {
    using promote::overlay::check_helm_image;
    CHECK(check_helm_image(k_tag_only).has_value());
    CHECK(check_helm_image(k_repository_tag).has_value());
    CHECK(check_helm_image(k_one_string).has_value());
    CHECK(check_helm_image(k_bitnami).has_value());
    CHECK(check_helm_image({"", "", "image.repository", "image.tag", "image.digest"}).has_value());
    const std::vector<std::pair<HelmImage, std::string>> refused = {
        {{}, "helm image paths: give either image, or tag (with repository, registry, digest)"},
        {{"image", "", "", "image.tag", ""},
         "helm image paths: 'image' (one string) cannot be combined with registry, repository, "
         "tag or digest"},
        {{"", "", "image.repository", "", ""},
         "helm image paths: a tag path is needed unless the image is one string (image)"},
        {{"", "image.registry", "", "image.tag", ""},
         "helm image paths: a registry path needs a repository path"},
        {{"", "", "", "image..tag", ""},
         "helm image paths: 'image..tag' has an empty key (keys that contain a dot cannot be "
         "named)"},
        {{"", "", "image.tag", "image.tag", ""},
         "helm image paths: two parts of the image are at 'image.tag'"},
    };
    for (const auto& [where, message] : refused) {
      auto checked = check_helm_image(where);
      REQUIRE(checked.has_error());
      CHECK(checked.error().kind == promote::ErrorKind::config);
      CHECK(checked.error().message == message);
    }
    auto through_get = get_helm_image("", "values.yaml", {});
    REQUIRE(through_get.has_error());
    CHECK(through_get.error().message ==
          "values.yaml: helm image paths: give either image, or tag (with repository, registry, "
          "digest)");
  }

  TEST_CASE("a helm path steps into lists by index and by the value of a key") {
    const std::string text =
        "spec:\n"
        "  source:\n"
        "    helm:\n"
        "      parameters:\n"
        "        - name: replicaCount\n"
        "          value: \"3\"\n"
        "        - name: image.tag   # dotted, as Argo CD writes it\n"
        "          value: \"1.2.3\"\n"
        "        - {name: image.repository, value: ghcr.io/acme/shop}\n";
    const HelmImage by_name{"", "", "spec.source.helm.parameters[name=image.repository].value",
                            "spec.source.helm.parameters[name=image.tag].value", ""};
    const HelmImage by_index{"", "", "spec.source.helm.parameters[2].value",
                             "spec.source.helm.parameters[1].value", ""};
    CHECK(read(text, by_name) == "ghcr.io/acme/shop:1.2.3");
    CHECK(read(text, by_index) == "ghcr.io/acme/shop:1.2.3");
    const std::string edited = set_ok(text, by_name, "ghcr.io/acme/shop:1.10");
    CHECK(edited ==
          "spec:\n"
          "  source:\n"
          "    helm:\n"
          "      parameters:\n"
          "        - name: replicaCount\n"
          "          value: \"3\"\n"
          "        - name: image.tag   # dotted, as Argo CD writes it\n"
          "          value: \"1.10\"\n"
          "        - {name: image.repository, value: ghcr.io/acme/shop}\n");
    CHECK(set_ok(text, by_index, "ghcr.io/acme/shop:1.10") == edited);
    // What is not there, and what is not a list, is named.
    const HelmImage absent{"", "", "", "spec.source.helm.parameters[name=tag].value", ""};
    CHECK(set_error(text, absent, "ghcr.io/acme/shop:1.10") ==
          "values.yaml:4:7: spec.source.helm.parameters[name=tag].value is not in the file: "
          "'spec.source.helm.parameters' has no item with name=tag; promote does not add keys, add "
          "it to the file first");
    CHECK(read(text, {"", "", "", "spec.source.helm.parameters[7].value", ""}) == std::nullopt);
    CHECK(get_error(text, {"", "", "", "spec.source.helm[0].value", ""}) ==
          "values.yaml:4:7: 'spec.source.helm' must be a list to hold item [0] (it is a map)");
    CHECK(get_error("p:\n- {name: a, value: v1}\n- {name: a, value: v2}\n",
                    {"", "", "", "p[name=a].value", ""}) ==
          "values.yaml:3:3: 'p' has two items with name=a");
  }

  TEST_CASE("check_helm_image refuses list steps it cannot read") {
    using promote::overlay::check_helm_image;
    CHECK(check_helm_image({"", "", "", "p[0][1].value", ""}).has_value());
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"p[0]", "'p[0]' ends with a list item: it must end with a key"},
        {"p[x].value",
         "'p[x].value' selects a list item with '[x]': write an index [N] or "
         "[KEY=VALUE]"},
        {"p[=a].value", "'p[=a].value' selects a list item with '[=a]': write [KEY=VALUE]"},
        {"p[name=a.value", "'p[name=a.value' has a '[' without its ']'"},
        {"p[0]x.value", "'p[0]x.value' has 'x' where a '.' or '[' must be"},
        {"[0].value", "'[0].value' has an empty key (keys that contain a dot cannot be named)"},
    };
    for (const auto& entry : refused) {
      const std::string& path = entry.first;
      const std::string& message = entry.second;
      CAPTURE(path);
      auto checked = check_helm_image({"", "", "", path, ""});
      REQUIRE(checked.has_error());
      CHECK(checked.error().message == "helm image paths: " + message);
    }
  }

  TEST_CASE("a helm document is chosen by kind and metadata.name in a multi-document file") {
    using promote::overlay::HelmDocument;
    const std::string text =
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop-staging}\n"
        "spec: {source: {helm: {parameters: [{name: image.tag, value: \"1.0.0\"}]}}}\n"
        "---\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop-prod}\n"
        "spec: {source: {helm: {parameters: [{name: image.tag, value: \"0.9.0\"}]}}}\n";
    const HelmImage tag{"", "", "", "spec.source.helm.parameters[name=image.tag].value", ""};
    const HelmDocument prod{"Application", "shop-prod"};
    auto image = get_helm_image(text, "apps.yaml", tag, prod);
    REQUIRE_MESSAGE(image.has_value(), image.error().message);
    CHECK((*image)->tag == "0.9.0");
    auto edited =
        set_helm_image(text, "apps.yaml", tag, reference_of("ghcr.io/acme/shop:1.0.0"), prod);
    REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
    CHECK(*edited == std::string(text).replace(text.rfind("0.9.0"), 5, "1.0.0"));
    // Without a choice, the first document.
    CHECK(read(text, tag) == ":1.0.0");
    auto none = get_helm_image(text, "apps.yaml", tag, HelmDocument{"Application", "shop-dev"});
    REQUIRE(none.has_error());
    CHECK(none.error().message ==
          "apps.yaml: no document has kind 'Application' and metadata.name 'shop-dev' (it has 2 "
          "documents)");
    auto two = get_helm_image(text, "apps.yaml", tag, HelmDocument{"Application", ""});
    REQUIRE(two.has_error());
    CHECK(two.error().message ==
          "apps.yaml:6:1: a second document has kind 'Application'; name one document");
  }

  TEST_CASE("an empty tag reads as no image and says where it is; an edit sets it in its quotes") {
    using promote::overlay::read_helm_image;
    const std::string text = "image:\n  repository: ghcr.io/acme/api\n  tag: \"\"\n";
    auto reading = read_helm_image(text, "values.yaml", k_repository_tag);
    REQUIRE_MESSAGE(reading.has_value(), reading.error().message);
    CHECK(reading->reference == std::nullopt);
    CHECK(reading->empty == "values.yaml:3:8");
    auto null_tag = read_helm_image("image:\n  tag:\n", "values.yaml", k_tag_only);
    REQUIRE(null_tag.has_value());
    CHECK(null_tag->empty == "values.yaml:2:3");
    auto absent = read_helm_image("image:\n  repository: a\n", "values.yaml", k_repository_tag);
    REQUIRE(absent.has_value());
    CHECK(absent->reference == std::nullopt);
    CHECK(absent->empty.empty());
    CHECK(set_ok(text, k_repository_tag, "ghcr.io/acme/api:1.4.2") ==
          "image:\n  repository: ghcr.io/acme/api\n  tag: \"1.4.2\"\n");
    CHECK(set_ok("image:\n  tag: ''\n", k_tag_only, "ghcr.io/acme/api:1.4.2") ==
          "image:\n  tag: '1.4.2'\n");
  }

  TEST_CASE("set_helm_image keeps the spelling of a Docker Hub repository the file has") {
    CHECK(set_ok("image:\n  repository: redis\n  tag: \"7.0\"\n", k_repository_tag,
                 "docker.io/library/redis:7.2") == "image:\n  repository: redis\n  tag: \"7.2\"\n");
    CHECK(set_ok("image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.0.1\n  "
                 "digest: \"\"\n",
                 k_bitnami, "bitnami/redis:7.2.0") ==
          "image:\n  registry: docker.io\n  repository: bitnami/redis\n  tag: 7.2.0\n  digest: "
          "\"\"\n");
    CHECK(set_ok("image: library/redis:7.0\n", k_one_string, "redis:7.2") ==
          "image: library/redis:7.2\n");
  }

  TEST_CASE("helm_values says what each path of an image must hold, and where it is") {
    using promote::overlay::helm_values;
    auto values = helm_values("image:\n  repository: redis\n  tag: \"7.0\"\n", "values.yaml",
                              {"", "", "image.repository", "image.tag", "image.digest"},
                              reference_of("docker.io/library/redis:7.2"));
    REQUIRE_MESSAGE(values.has_value(), values.error().message);
    REQUIRE(values->size() == 3);
    CHECK((*values)[0].path == "image.repository");
    CHECK((*values)[0].value == "redis");
    CHECK((*values)[0].where == "values.yaml:2:15");
    CHECK((*values)[1].path == "image.tag");
    CHECK((*values)[1].value == "7.2");
    CHECK((*values)[1].where == "values.yaml:3:8");
    CHECK((*values)[2].path == "image.digest");
    CHECK((*values)[2].value.empty());
    CHECK((*values)[2].where.empty());
  }

  TEST_CASE("set_helm_image edits only the bytes it must") {
    struct Case {
      std::string name;
      std::string input;
      HelmImage where;
      std::string target;
      std::string expected;
    };
    const std::string bitnami =
        "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.29.1-debian-12-r0\n"
        "  digest: \"\"\n  pullPolicy: IfNotPresent\n";
    const std::vector<Case> cases = {
        {"updates a tag only", "image:\n  tag: 1.0.0\n", k_tag_only, "x.io/app:1.1.0",
         "image:\n  tag: 1.1.0\n"},
        {"updates repository and tag", "image:\n  repository: ghcr.io/acme/api\n  tag: v1\n",
         k_repository_tag, "registry.example.com:5000/team/api:v2",
         "image:\n  repository: registry.example.com:5000/team/api\n  tag: v2\n"},
        {"keeps an inline comment after the value",
         "image:\n  repository: a/b # where\n  tag: v1 # {\"$imagepolicy\": \"ns:p:tag\"}\n",
         k_repository_tag, "a/b:v2",
         "image:\n  repository: a/b # where\n  tag: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
        {"keeps double quotes", "image:\n  tag: \"1.0\"\n", k_tag_only, "a/b:1.10",
         "image:\n  tag: \"1.10\"\n"},
        {"keeps single quotes", "image:\n  tag: 'v1' # q\n", k_tag_only, "a/b:v2",
         "image:\n  tag: 'v2' # q\n"},
        {"quotes a tag YAML would read as a number", "image:\n  tag: v1\n", k_tag_only, "a/b:1.10",
         "image:\n  tag: \"1.10\"\n"},
        {"quotes a numeric tag that was plain", "image:\n  tag: 1.9\n", k_tag_only, "a/b:1.10",
         "image:\n  tag: \"1.10\"\n"},
        {"quotes a tag YAML would read as a boolean or an octal number",
         "a:\n  tag: v1\nb:\n  tag: v1\n",
         {"", "", "", "b.tag", ""},
         "a/b:0123",
         "a:\n  tag: v1\nb:\n  tag: \"0123\"\n"},
        {"writes one string", "image: nginx:1.0 # pinned\n", k_one_string,
         "ghcr.io/acme/nginx:2.0@" + k_sha,
         "image: ghcr.io/acme/nginx:2.0@" + k_sha + " # pinned\n"},
        {"writes one quoted string",
         "app:\n  image: \"nginx:1.0\"\n",
         {"app.image", "", "", "", ""},
         "nginx@" + k_sha,
         "app:\n  image: \"nginx@" + k_sha + "\"\n"},
        {"sets a Bitnami tag and digest, keeping the digest's quotes", bitnami, k_bitnami,
         "docker.io/bitnami/nginx:1.29.2-debian-12-r0@" + k_sha,
         "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.29.2-debian-12-r0\n"
         "  digest: \"" +
             k_sha + "\"\n  pullPolicy: IfNotPresent\n"},
        {"takes a target without a registry for Docker Hub", bitnami, k_bitnami,
         "bitnami/nginx:1.29.2-debian-12-r0",
         "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: 1.29.2-debian-12-r0\n"
         "  digest: \"\"\n  pullPolicy: IfNotPresent\n"},
        {"moves a Bitnami image to another registry", bitnami, k_bitnami,
         "registry.example.com/mirror/nginx:1.29.1-debian-12-r0",
         "image:\n  registry: registry.example.com\n  repository: mirror/nginx\n"
         "  tag: 1.29.1-debian-12-r0\n  digest: \"\"\n  pullPolicy: IfNotPresent\n"},
        {"empties a digest the target does not have",
         "image:\n  registry: docker.io\n  repository: a/b\n  tag: v1\n  digest: " + k_sha + "\n",
         k_bitnami, "docker.io/a/b:v2",
         "image:\n  registry: docker.io\n  repository: a/b\n  tag: v2\n  digest: \"\"\n"},
        {"fills a null digest",
         "image:\n  repository: a/b\n  tag: v1\n  digest: null # none\n",
         {"", "", "image.repository", "image.tag", "image.digest"},
         "a/b:v1@" + k_sha,
         "image:\n  repository: a/b\n  tag: v1\n  digest: " + k_sha + " # none\n"},
        {"fills an empty tag", "image:\n  tag: # later\n  other: 1\n", k_tag_only, "a/b:v2",
         "image:\n  tag: v2 # later\n  other: 1\n"},
        {"fills a tilde tag", "image:\n  tag: ~\n", k_tag_only, "a/b:v2", "image:\n  tag: v2\n"},
        {"adds a missing Bitnami digest after the tag",
         "image:\n  registry: docker.io\n  repository: a/b\n  tag: v1 # t\n  pullPolicy: Always\n",
         k_bitnami, "docker.io/a/b:v1@" + k_sha,
         "image:\n  registry: docker.io\n  repository: a/b\n  tag: v1 # t\n  digest: " + k_sha +
             "\n  pullPolicy: Always\n"},
        {"adds a missing digest in a file without a final newline",
         "image:\n    repository: a/b\n    tag: v1",
         {"", "", "image.repository", "image.tag", "image.digest"},
         "a/b:v1@" + k_sha,
         "image:\n    repository: a/b\n    tag: v1\n    digest: " + k_sha},
        {"adds a missing digest with CRLF line endings",
         "image:\r\n  repository: a/b\r\n  tag: v1\r\n",
         {"", "", "image.repository", "image.tag", "image.digest"},
         "a/b:v1@" + k_sha,
         "image:\r\n  repository: a/b\r\n  tag: v1\r\n  digest: " + k_sha + "\r\n"},
        {"keeps CRLF line endings", "image:\r\n  tag: v1\r\n  pullPolicy: Always\r\n", k_tag_only,
         "a/b:v2", "image:\r\n  tag: v2\r\n  pullPolicy: Always\r\n"},
        {"keeps a missing final newline", "image:\n  tag: v1", k_tag_only, "a/b:v2",
         "image:\n  tag: v2"},
        {"keeps anchors, aliases and merge keys around the value",
         "common: &common\n  pullPolicy: Always\nimage:\n  <<: *common\n  tag: v1\nother: "
         "*common\n",
         k_tag_only, "a/b:v2",
         "common: &common\n  pullPolicy: Always\nimage:\n  <<: *common\n  tag: v2\nother: "
         "*common\n"},
        {"edits the second of two images only",
         "image:\n  repository: a/api\n  tag: v1\n\nworker:\n  image:\n    repository: a/worker\n"
         "    tag: v1\n",
         {"", "", "worker.image.repository", "worker.image.tag", ""},
         "a/worker:v2",
         "image:\n  repository: a/api\n  tag: v1\n\nworker:\n  image:\n    repository: a/worker\n"
         "    tag: v2\n"},
        {"edits a flow map in place", "image: {repository: a/b, tag: v1} # flow\n",
         k_repository_tag, "c/d:v2", "image: {repository: c/d, tag: v2} # flow\n"},
        {"keeps key order, blank lines, comments and odd indentation",
         "# values\nimage:\n\n    # the tag\n    tag: v1   # old\n\n    repository: a/b\n"
         "replicas: 1\n",
         k_repository_tag, "a/b:v2",
         "# values\nimage:\n\n    # the tag\n    tag: v2   # old\n\n    repository: a/b\n"
         "replicas: 1\n"},
        {"keeps a byte-order mark", "\xEF\xBB\xBFimage:\n  tag: v1\n", k_tag_only, "a/b:v2",
         "\xEF\xBB\xBFimage:\n  tag: v2\n"},
        {"leaves a second YAML document alone", "image:\n  tag: v1\n---\nimage:\n  tag: v1\n",
         k_tag_only, "a/b:v2", "image:\n  tag: v2\n---\nimage:\n  tag: v1\n"},
        {"sets ingress-nginx's global registry, image, tag and digest",
         "global:\n  image:\n    registry: registry.k8s.io\ncontroller:\n  image:\n"
         "    image: ingress-nginx/controller\n    tag: \"v1.15.1\"\n    digest: " +
             k_sha + "\n",
         {"", "global.image.registry", "controller.image.image", "controller.image.tag",
          "controller.image.digest"},
         "registry.k8s.io/ingress-nginx/controller:v1.16.0@" + k_sha2,
         "global:\n  image:\n    registry: registry.k8s.io\ncontroller:\n  image:\n"
         "    image: ingress-nginx/controller\n    tag: \"v1.16.0\"\n    digest: " +
             k_sha2 + "\n"},
    };
    for (const auto& c : cases) {
      SUBCASE(c.name.c_str()) {
        const std::string edited = set_ok(c.input, c.where, c.target);
        CHECK(edited == c.expected);
        auto read_back = get_helm_image(edited, "values.yaml", c.where);
        REQUIRE(read_back.has_value());
        REQUIRE(read_back->has_value());
        const Reference target = reference_of(c.target);
        if (c.where.repository.empty() && c.where.image.empty()) {
          CHECK((*read_back)->tag == target.tag);
        } else if (target.registry.empty() && !c.where.registry.empty()) {
          CHECK((*read_back)->path == target.path);
          CHECK((*read_back)->tag == target.tag);
        } else {
          CHECK((*read_back)->to_string() == target.to_string());
        }
        CHECK(set_ok(edited, c.where, c.target) == edited);
      }
    }
  }

  TEST_CASE("set_helm_image returns the text byte for byte when the image is already right") {
    const std::vector<std::tuple<std::string, HelmImage, std::string>> cases = {
        {"image:\n  tag: v1\n", k_tag_only, "a/b:v1"},
        {"image:\r\n  repository:   'a/b'  # x\r\n  tag: \"1.0\"", k_repository_tag, "a/b:1.0"},
        {"image:\n  registry: docker.io\n  repository: a/b\n  tag: v1\n  digest: null\n", k_bitnami,
         "docker.io/a/b:v1"},
        {"image:\n  registry: docker.io\n  repository: a/b\n  tag: v1\n", k_bitnami, "a/b:v1"},
        {"image:\n  tag: 1.10\n", k_tag_only, "a/b:1.10"},
        {"image: &i a/b:v1\nalso: *i\n", k_one_string, "a/b:v1"},
    };
    for (const auto& [text, where, target] : cases) {
      const auto& case_text = text;  // clang 14 cannot capture a structured binding
      CAPTURE(case_text);
      CHECK(set_ok(text, where, target) == text);
    }
  }

  TEST_CASE("set_helm_image refuses edits it cannot make safely, naming file, line and column") {
    CHECK(set_error("defaults: &v v1\nimage:\n  tag: *v\n", k_tag_only, "a/b:v2") ==
          "values.yaml:3:3: cannot edit image.tag in place: its value is an alias (*name) of a "
          "value anchored elsewhere, and promote does not edit through aliases (the anchor is at "
          "line 1, column 11)");
    CHECK(set_error("image:\n  tag: &t v1\nother: *t\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:3: cannot edit image.tag in place: its value carries an anchor (&name) "
          "that aliases elsewhere may share");
    CHECK(set_error("base: &b\n  tag: v1\nimage: *b\n", k_tag_only, "a/b:v2") ==
          "values.yaml:3:1: cannot edit image.tag in place: 'image' is an alias (*name) of a map "
          "anchored elsewhere, and promote does not edit through aliases");
    CHECK(set_error("image:\n  tag: |\n    v1\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:3: cannot edit image.tag in place: its value is a block scalar (| or >)");
    CHECK(set_error("image:\n  tag: !!str 1.0\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:3: cannot edit image.tag in place: its value has an explicit tag (such "
          "as !!str)");
    CHECK(set_error("image:\n  tag: \"v1\n    more\"\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:3: cannot edit image.tag in place: its value is not a single-line plain "
          "or quoted scalar");
    // A lone carriage return breaks the line for YAML, though yaml-cpp keeps it in the value:
    // replacing the value would take the line break with it.
    CHECK(set_error("image:\n  tag: v1\r\r\nother: 1\r\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:3: cannot edit image.tag in place: its value is not a single-line plain "
          "or quoted scalar");
    CHECK(set_error("image:\n  repository: a/b\n", k_repository_tag, "a/b:v2") ==
          "values.yaml:1:1: image.tag is not in the file: 'image' has no key 'tag'; promote does "
          "not add keys, add it to the file first");
    CHECK(set_error("", k_tag_only, "a/b:v2") ==
          "values.yaml:1:1: image.tag is not in the file: the values file has no key 'image'; "
          "promote does not add keys, add it to the file first");
    CHECK(set_error("replicas: 1\napp:\n  image:\n", {"", "", "", "app.image.tag", ""}, "a/b:v2") ==
          "values.yaml:3:3: app.image.tag is not in the file: 'app.image' has no key 'tag'; "
          "promote does not add keys, add it to the file first");
    CHECK(set_error("base: &b {tag: v1}\nimage:\n  <<: *b\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:1: image.tag is not in the file: 'image' has no key 'tag' (keys that come "
          "from a '<<' merge key are not followed); promote does not add keys, add it to the file "
          "first");
    CHECK(
        set_error("image:\n  repository: a/b\n  tag: v1\n", k_repository_tag, "a/b:v2@" + k_sha) ==
        "values.yaml: cannot set image.tag to 'a/b:v2@" + k_sha +
            "': the target has a digest and the helm image has no digest path");
    CHECK(set_error("image:\n  tag: v1\npin:\n  x: 1\n", {"", "", "", "image.tag", "pin.digest"},
                    "a/b:v2@" + k_sha) ==
          "values.yaml:3:1: pin.digest is not in the file and promote cannot add it here (it is "
          "not a sibling of image.tag); add 'digest: \"\"' by hand");
    CHECK(set_error("image: {repository: a/b, tag: v1}\n",
                    {"", "", "image.repository", "image.tag", "image.digest"}, "a/b:v2@" + k_sha) ==
          "values.yaml:1:1: image.digest is not in the file and promote cannot add it here "
          "(image.tag is in a flow map); add 'digest: \"\"' by hand");
    CHECK(set_error("image:\n  registry: quay.io\n  repository: a/b\n  tag: v1\n", k_bitnami,
                    "a/b:v2") ==
          "values.yaml:2:13: cannot set image.registry for 'a/b:v2': the target names no registry "
          "and the file says 'quay.io'; give the target with its registry");
    CHECK(set_error("image:\n  tag: {a: 1}\n", k_tag_only, "a/b:v2") ==
          "values.yaml:2:8: image.tag must be a string (it is a map)");
    CHECK(set_error("image:\n  tag: [v1\n", k_tag_only, "a/b:v2") ==
          "values.yaml:3:1: end of sequence flow not found");
    auto no_repository = set_helm_image("image:\n  tag: v1\n", "values.yaml", k_tag_only, {});
    REQUIRE(no_repository.has_error());
    CHECK(no_repository.error().message ==
          "values.yaml: cannot set a helm image: the target reference has no repository");
  }

  TEST_CASE("set_helm_image changes only the value bytes: a diff of before and after") {
    const std::string before =
        "# Default values for api.\r\n"
        "replicaCount: 2\r\n"
        "\r\n"
        "image:\r\n"
        "  registry: docker.io   # the registry\r\n"
        "  repository: 'acme/api'\r\n"
        "  tag: \"1.9\" # {\"$imagepolicy\": \"flux-system:api:tag\"}\r\n"
        "  digest: \"\"\r\n"
        "  pullPolicy: IfNotPresent\r\n"
        "\r\n"
        "sidecar: &sidecar\r\n"
        "  image:\r\n"
        "    repository: acme/proxy\r\n"
        "    tag: v1\r\n"
        "other: *sidecar";
    const std::string after =
        set_ok(before, k_bitnami, "registry.example.com/acme/api:1.10@" + k_sha);
    using Changes = std::vector<std::pair<std::string, std::string>>;
    CHECK(changed_bytes(before, after) ==
          Changes{{"docker.io", "registry.example.com"}, {"9", "10"}, {"", k_sha}});
    CHECK(after.ends_with("other: *sidecar"));
    CHECK(YAML::Load(after)["image"]["tag"].as<std::string>() == "1.10");
    CHECK(YAML::Load(after)["other"]["image"]["tag"].as<std::string>() == "v1");
  }

  TEST_CASE("the byte guard refuses any change outside the declared values") {
    using promote::overlay::splice::Edit;
    using promote::overlay::splice::only_values_changed;
    const std::string before = "image:\r\n  tag: v1 # t\r\n  pullPolicy: Always";
    const std::size_t at = before.find("v1");
    const std::vector<Edit> edits = {{at, at + 2, "v2"}};
    CHECK(only_values_changed(before, "image:\r\n  tag: v2 # t\r\n  pullPolicy: Always", edits,
                              "v.yaml")
              .has_value());
    CHECK(only_values_changed(before, "image:\r\n  tag: \"1.10\" # t\r\n  pullPolicy: Always",
                              edits, "v.yaml")
              .has_value());
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"image:\r\n  tag: v2\r\n  pullPolicy: Always", "line 2 changed outside its values"},
        {"image:\r\n  tag: v2 # t\n  pullPolicy: Always", "the line ending of line 2 changed"},
        {"image:\r\n  tag: v2 # t\r\n  pullPolicy: Always\r\n",
         "the line ending of line 3 changed"},
        {"image:\r\n  tag: v2 # t\r\n  pullPolicy: Never", "line 3 changed outside any value"},
        {"image:\r\n  tag: v2 #x # t\r\n  pullPolicy: Always",
         "a value on line 2 holds a character no image value has"},
        {"image:\r\n  tag: v2, b # t\r\n  pullPolicy: Always",
         "a value on line 2 holds a character no image value has"},
        {"image:\r\n  tag: v2 # t\r\n", "lines were removed"},
        {"image:\r\n  tag: v2 # t\r\n  pullPolicy: Always\r\nx: 1",
         "the line ending of line 3 changed"},
        {"Image:\r\n  tag: v2 # t\r\n  pullPolicy: Always", "line 1 changed outside any value"},
    };
    for (const auto& [after, why] : refused) {
      const auto& case_after = after;  // clang 14 cannot capture a structured binding
      CAPTURE(case_after);
      auto guarded = only_values_changed(before, after, edits, "v.yaml");
      REQUIRE(guarded.has_error());
      CHECK(guarded.error().kind == promote::ErrorKind::internal);
      CHECK(guarded.error().message ==
            "v.yaml: refusing to write an edit that changes more than values (" + why + ")");
    }
    auto added = only_values_changed(before + "\r\n",
                                     "image:\r\n  tag: v2 # t\r\n  pullPolicy: Always\r\nx: 1",
                                     edits, "v.yaml");
    REQUIRE(added.has_error());
    CHECK(added.error().message ==
          "v.yaml: refusing to write an edit that changes more than values (lines were added)");
    auto spanning = only_values_changed(before, before, {{at, at + 20, "v2"}}, "v.yaml");
    REQUIRE(spanning.has_error());
    CHECK(spanning.error().message ==
          "v.yaml: refusing to write an edit that changes more than values (an edit spans a line "
          "break)");
    // A declared line insertion is allowed, with the file's line ending; no other.
    const std::size_t next = before.find("  pullPolicy");
    const std::vector<Edit> insert = {{next, next, "  digest: x\r\n"}};
    CHECK(only_values_changed(before,
                              "image:\r\n  tag: v1 # t\r\n  digest: x\r\n  pullPolicy: Always",
                              insert, "v.yaml")
              .has_value());
    CHECK(only_values_changed(before,
                              "image:\r\n  tag: v1 # t\r\n  digest: x\n  pullPolicy: Always",
                              insert, "v.yaml")
              .has_error());
    CHECK(only_values_changed(before,
                              "image:\r\n  tag: v1 # t\r\n  digest: x # y\r\n  pullPolicy: Always",
                              insert, "v.yaml")
              .has_error());
  }

  TEST_CASE("set_helm_image edits every image block of every corpus values file" *
            doctest::skip(!promote::test::has_corpus())) {
    // The image blocks of each values file, as a pipeline would name them.
    const std::map<std::string, std::vector<HelmImage>> blocks = {
        {"stefanprodan__podinfo/charts/podinfo/values.yaml",
         {{"", "", "image.repository", "image.tag", ""},
          {"", "", "redis.repository", "redis.tag", ""}}},
        {"stefanprodan__podinfo/charts/podinfo/values-prod.yaml",
         {{"", "", "image.repository", "image.tag", ""},
          {"", "", "redis.repository", "redis.tag", ""}}},
        {"bitnami__charts/bitnami/nginx/values.yaml",
         {k_bitnami,
          {"", "cloneStaticSiteFromGit.image.registry", "cloneStaticSiteFromGit.image.repository",
           "cloneStaticSiteFromGit.image.tag", "cloneStaticSiteFromGit.image.digest"},
          {"", "metrics.image.registry", "metrics.image.repository", "metrics.image.tag",
           "metrics.image.digest"}}},
        {"kubernetes__ingress-nginx/charts/ingress-nginx/values.yaml",
         {{"", "global.image.registry", "controller.image.image", "controller.image.tag",
           "controller.image.digest"},
          {"", "global.image.registry", "controller.admissionWebhooks.patch.image.image",
           "controller.admissionWebhooks.patch.image.tag",
           "controller.admissionWebhooks.patch.image.digest"},
          {"", "global.image.registry", "defaultBackend.image.image", "defaultBackend.image.tag",
           ""}}},
        {"kubernetes__ingress-nginx/charts/ingress-nginx/ci/controller-deployment-values.yaml",
         {{"", "", "controller.image.repository", "controller.image.tag",
           "controller.image.digest"}}},
    };
    const fs::path root = *promote::test::corpus_dir() / "helm";
    std::vector<std::string> files;
    for (const auto& item : fs::recursive_directory_iterator(root)) {
      const std::string name = item.path().filename().string();
      if (item.is_regular_file() && (name.ends_with(".yaml") || name.ends_with(".yml"))) {
        files.push_back(fs::relative(item.path(), root).generic_string());
      }
    }
    std::sort(files.begin(), files.end());
    CHECK(files.size() == blocks.size());
    int edited_blocks = 0;
    for (const auto& file : files) {
      CAPTURE(file);
      REQUIRE_MESSAGE(blocks.contains(file), "a new values file: name its image blocks here");
      const std::string text = promote::test::read_text(root / file);
      for (const auto& where : blocks.at(file)) {
        CAPTURE(where.tag);
        auto current = get_helm_image(text, file, where);
        REQUIRE_MESSAGE(current.has_value(), current.error().message);
        REQUIRE(current->has_value());
        // Same repository, a tag YAML would read as a number, a digest where there is a place.
        Reference target = **current;
        target.tag = "1.10";
        target.digest = where.digest.empty() ? "" : k_sha;
        auto edited = set_helm_image(text, file, where, target);
        REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
        auto read_back = get_helm_image(*edited, file, where);
        REQUIRE(read_back.has_value());
        CHECK((*read_back)->to_string() == target.to_string());
        // yaml-cpp reads the new values, the tag as a quoted string.
        const YAML::Node values = YAML::Load(*edited);
        const YAML::Node tag = at_path(values, where.tag);
        CHECK(tag.as<std::string>() == "1.10");
        CHECK(tag.Tag() == "!");
        if (!where.digest.empty()) {
          CHECK(at_path(values, where.digest).as<std::string>() == k_sha);
        }
        // Every other line is byte-identical: only the tag and digest lines changed.
        const auto lines = changed_lines(text, *edited);
        CHECK(lines.size() == (where.digest.empty() ? 1U : 2U));
        const YAML::Node original = YAML::Load(text);
        CHECK(lines.front() == static_cast<std::size_t>(at_path(original, where.tag).Mark().line));
        CHECK(std::abs(static_cast<long>(edited->size()) - static_cast<long>(text.size())) < 80);
        CHECK(set_helm_image(*edited, file, where, target).value() == *edited);
        // A new repository as well (a registry change moves the shared registry of the file).
        Reference moved = target;
        moved.registry = "registry.example.com:5000";
        moved.path = "team/" + target.path.substr(target.path.rfind('/') + 1);
        auto moved_text = set_helm_image(text, file, where, moved);
        REQUIRE_MESSAGE(moved_text.has_value(), moved_text.error().message);
        CHECK(get_helm_image(*moved_text, file, where).value()->to_string() == moved.to_string());
        const auto moved_lines = changed_lines(text, *moved_text);
        CHECK(moved_lines.size() <= 4U);
        ++edited_blocks;
      }
    }
    CHECK(edited_blocks == 11);
  }

  TEST_CASE("missing_helm_paths names each path the values file lacks and the nearest part there") {
    const std::string text =
        "api:\n  image:\n    repository: ghcr.io/acme/api\nparameters:\n  - {name: a, value: 1}\n";
    const HelmImage where{"", "", "api.image.repository", "api.image.tag", "api.image.digest"};
    auto gaps = promote::overlay::missing_helm_paths(text, "values.yaml", where);
    REQUIRE(gaps.has_value());
    REQUIRE(gaps->size() == 1);  // no digest: an edit adds it beside the tag
    CHECK((*gaps)[0].part == "tag");
    CHECK((*gaps)[0].path == "api.image.tag");
    CHECK((*gaps)[0].missing == "'api.image' has no key 'tag'");
    CHECK((*gaps)[0].parent.to_string() == "values.yaml:2:3");

    const HelmImage listed{"parameters[name=b].value", "", "", "", ""};
    gaps = promote::overlay::missing_helm_paths(text, "values.yaml", listed);
    REQUIRE(gaps.has_value());
    REQUIRE(gaps->size() == 1);
    CHECK((*gaps)[0].missing == "'parameters' has no item with name=b");
    CHECK((*gaps)[0].parent.to_string() == "values.yaml:4:1");

    const HelmImage top{"", "", "", "chart.tag", ""};
    gaps = promote::overlay::missing_helm_paths(text, "values.yaml", top);
    REQUIRE(gaps.has_value());
    REQUIRE(gaps->size() == 1);
    CHECK((*gaps)[0].missing == "the values file has no key 'chart'");
    CHECK((*gaps)[0].parent.to_string() == "values.yaml:1:1");

    CHECK(promote::overlay::missing_helm_paths(text, "values.yaml", where, {"Application", ""})
              .error()
              .message == "values.yaml: no document has kind 'Application' (it has 1 documents)");
    CHECK(promote::overlay::missing_helm_paths("api:\n  image:\n    repository: x\n    tag: 1\n",
                                               "values.yaml", where)
              ->empty());
  }
}
