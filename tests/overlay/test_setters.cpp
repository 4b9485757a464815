#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <map>
#include <string>
#include <vector>

#include "engine/overlay/setters.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::image::Reference;
using promote::overlay::set_marked_images;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const std::string k_sha2 =
    "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::map<std::string, Reference> policies(
    const std::vector<std::pair<std::string, std::string>>& names) {
  std::map<std::string, Reference> out;
  for (const auto& [name, image] : names) {
    out.emplace(name, reference_of(image));
  }
  return out;
}

std::pair<std::string, int> set_ok(std::string_view text,
                                   const std::vector<std::pair<std::string, std::string>>& names) {
  auto edited = set_marked_images(text, "values.yaml", policies(names));
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  return *edited;
}

std::string set_error(std::string_view text,
                      const std::vector<std::pair<std::string, std::string>>& names) {
  auto edited = set_marked_images(text, "values.yaml", policies(names));
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << edited->first);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

std::string marker(const std::string& setter) {
  return "# {\"$imagepolicy\": \"" + setter + "\"}";
}

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("set_marked_images sets each kind of marked value and nothing else") {
    struct Case {
      std::string name;
      std::string input;
      std::vector<std::pair<std::string, std::string>> images;
      std::string expected;
      int edits;
    };
    const std::vector<Case> cases = {
        {"sets a whole reference",
         "image: ghcr.io/acme/api:1.0 " + marker("flux-system:api") + "\n",
         {{"api", "ghcr.io/acme/api:1.1@" + k_sha}},
         "image: ghcr.io/acme/api:1.1@" + k_sha + " " + marker("flux-system:api") + "\n",
         1},
        {"sets name, tag and digest in a Helm values block",
         "image:\n  repository: ghcr.io/acme/api " + marker("ns:api:name") +
             "\n  tag: \"1.0\"    " + marker("ns:api:tag") + "\n  digest: '' " +
             marker("ns:api:digest") + "\n  pullPolicy: Always # {\"other\": 1}\n",
         {{"api", "mirror.example.com/acme/api:1.10@" + k_sha}},
         "image:\n  repository: mirror.example.com/acme/api " + marker("ns:api:name") +
             "\n  tag: \"1.10\"    " + marker("ns:api:tag") + "\n  digest: '" + k_sha + "' " +
             marker("ns:api:digest") + "\n  pullPolicy: Always # {\"other\": 1}\n",
         3},
        {"quotes a plain tag YAML would read as a number",
         "tag: v1 " + marker("ns:api:tag") + "\n",
         {{"api", "a/api:1.10"}},
         "tag: \"1.10\" " + marker("ns:api:tag") + "\n",
         1},
        {"ignores the namespace and keeps it",
         "a: x:v1 " + marker("team-a:api") + "\nb: x:v1 " + marker("team-b:api") + "\n",
         {{"api", "x:v2"}},
         "a: x:v2 " + marker("team-a:api") + "\nb: x:v2 " + marker("team-b:api") + "\n",
         2},
        {"leaves markers of other names alone",
         "a: x:v1 " + marker("ns:api") + "\nb: y:v1 " + marker("ns:worker") + "\n",
         {{"api", "x:v2"}},
         "a: x:v2 " + marker("ns:api") + "\nb: y:v1 " + marker("ns:worker") + "\n",
         1},
        {"sets markers in sequences and in every document",
         "kind: Pod\nspec:\n  containers:\n  - image: x:v1 " + marker("ns:api") +
             "\n---\nargs:\n- x:v1 " + marker("ns:api") + "\n- other\n",
         {{"api", "x:v2"}},
         "kind: Pod\nspec:\n  containers:\n  - image: x:v2 " + marker("ns:api") +
             "\n---\nargs:\n- x:v2 " + marker("ns:api") + "\n- other\n",
         2},
        {"keeps CRLF line endings and a missing final newline",
         "a: 1\r\ntag: v1 " + marker("ns:api:tag") + "\r\nb: 2",
         {{"api", "x:v2"}},
         "a: 1\r\ntag: v2 " + marker("ns:api:tag") + "\r\nb: 2",
         1},
        {"accepts a compact marker",
         "tag: v1 #{\"$imagepolicy\":\"ns:api:tag\"}\n",
         {{"api", "x:v2"}},
         "tag: v2 #{\"$imagepolicy\":\"ns:api:tag\"}\n",
         1},
        {"fills an empty marked value",
         "digest: " + marker("ns:api:digest") + "\n",
         {{"api", "x@" + k_sha}},
         "digest: " + k_sha + " " + marker("ns:api:digest") + "\n",
         1},
        {"keeps anchors elsewhere",
         "base: &b {a: 1}\nuse: *b\ntag: v1 " + marker("ns:api:tag") + "\n",
         {{"api", "x:v2"}},
         "base: &b {a: 1}\nuse: *b\ntag: v2 " + marker("ns:api:tag") + "\n",
         1},
        {"ignores a marker in a commented-out line and in a string",
         "#  image: x:v1 " + marker("ns:api") + "\nnote: 'x:v1 " + marker("ns:api") + "'\n# " +
             marker("ns:api") + " is how to mark a value\n",
         {{"api", "x:v2"}},
         "#  image: x:v1 " + marker("ns:api") + "\nnote: 'x:v1 " + marker("ns:api") + "'\n# " +
             marker("ns:api") + " is how to mark a value\n",
         0},
        {"ignores a marker in the text of a block scalar",
         "patch: |\n  - image: x:v1 " + marker("ns:api") + "\n\n  # more\nlist:\n- >-\n  x:v1 " +
             marker("ns:api") + "\ntag: v1 " + marker("ns:api:tag") + "\n",
         {{"api", "x:v2"}},
         "patch: |\n  - image: x:v1 " + marker("ns:api") + "\n\n  # more\nlist:\n- >-\n  x:v1 " +
             marker("ns:api") + "\ntag: v2 " + marker("ns:api:tag") + "\n",
         1},
        {"writes nothing when every marked value is right",
         "tag: \"1.10\" " + marker("ns:api:tag") + "\nimage: x:1.10 " + marker("ns:api") + "\n",
         {{"api", "x:1.10"}},
         "tag: \"1.10\" " + marker("ns:api:tag") + "\nimage: x:1.10 " + marker("ns:api") + "\n",
         0},
    };
    for (const auto& c : cases) {
      SUBCASE(c.name.c_str()) {
        const auto [edited, count] = set_ok(c.input, c.images);
        CHECK(edited == c.expected);
        CHECK(count == c.edits);
        const auto again = set_ok(edited, c.images);
        CHECK(again.first == edited);
        CHECK(again.second == 0);
      }
    }
  }

  TEST_CASE("set_marked_images keeps the spelling of a Docker Hub repository a value has") {
    const std::string text =
        "cache: redis:7.0 # {\"$imagepolicy\": \"flux-system:cache\"}\n"
        "name: library/redis # {\"$imagepolicy\": \"flux-system:cache:name\"}\n"
        "tag: \"7.0\" # {\"$imagepolicy\": \"flux-system:cache:tag\"}\n";
    const auto [edited, count] = set_ok(text, {{"cache", "docker.io/library/redis:7.2"}});
    CHECK(edited ==
          "cache: redis:7.2 # {\"$imagepolicy\": \"flux-system:cache\"}\n"
          "name: library/redis # {\"$imagepolicy\": \"flux-system:cache:name\"}\n"
          "tag: \"7.2\" # {\"$imagepolicy\": \"flux-system:cache:tag\"}\n");
    CHECK(count == 2);
    // Another repository is written whole.
    CHECK(set_ok(text, {{"cache", "ghcr.io/acme/redis:7.2"}}).first ==
          "cache: ghcr.io/acme/redis:7.2 # {\"$imagepolicy\": \"flux-system:cache\"}\n"
          "name: ghcr.io/acme/redis # {\"$imagepolicy\": \"flux-system:cache:name\"}\n"
          "tag: \"7.2\" # {\"$imagepolicy\": \"flux-system:cache:tag\"}\n");
  }

  TEST_CASE("set_marked_images refuses what it cannot set, naming file, line and column") {
    CHECK(set_error("base: &i x:v1\nimage: *i " + marker("ns:api") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:2:11: cannot set the value marked for 'api': its value is an alias (*name) "
          "of a value anchored elsewhere, and promote does not edit through aliases");
    CHECK(set_error("base: &i x:v1\nlist:\n- *i " + marker("ns:api") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:3:6: cannot set the value marked for 'api': its value is an alias (*name) "
          "of a value anchored elsewhere, and promote does not edit through aliases");
    CHECK(set_error("image: &i x:v1 " + marker("ns:api") + "\nother: *i\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:16: cannot set the value marked for 'api': its value carries an anchor "
          "(&name) that aliases elsewhere may share");
    CHECK(set_error("tag: !!str v1 " + marker("ns:api:tag") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:15: cannot set the value marked for 'api': its value has an explicit tag "
          "(such as !!str)");
    CHECK(set_error(marker("ns:api") + "\nimage: x:v1\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:1: cannot set the value marked for 'api': the marker does not follow a "
          "single-line value on its line");
    CHECK(set_error("image: " + marker("ns:api") + "\n  repository: x\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:8: cannot set the value marked for 'api': the marker does not follow a "
          "single-line value on its line");
    CHECK(set_error("list: [x:v1, y] " + marker("ns:api") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:17: cannot set the value marked for 'api': the marker does not follow a "
          "single-line value on its line");
    CHECK(set_error("tag: v1 " + marker("ns:api:tag") + "\n", {{"api", "x@" + k_sha}}) ==
          "values.yaml:1:9: cannot set the value marked for 'api': the marker asks for the tag and "
          "'x@" +
              k_sha + "' has none");
    CHECK(set_error("digest: x " + marker("ns:api:digest") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:11: cannot set the value marked for 'api': the marker asks for the digest "
          "and 'x:v2' has none");
    CHECK(set_error("tag: v1 " + marker("api") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:9: malformed $imagepolicy marker {\"$imagepolicy\": \"api\"}: expected "
          "\"NAMESPACE:NAME\" or \"NAMESPACE:NAME:tag|name|digest\"");
    CHECK(set_error("tag: v1 " + marker("ns:api:version") + "\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:9: malformed $imagepolicy marker {\"$imagepolicy\": \"ns:api:version\"}: "
          "the field 'version' is none of tag, name and digest");
    CHECK(set_error("tag: v1 # {\"$imagepolicy\": ns:api}\n", {{"api", "x:v2"}}) ==
          "values.yaml:1:9: malformed $imagepolicy marker {\"$imagepolicy\": ns:api}: expected # "
          "{\"$imagepolicy\": \"NAMESPACE:NAME\"}");
    CHECK(set_error("tag: [v1\n", {{"api", "x:v2"}}) ==
          "values.yaml:2:1: end of sequence flow not found");
  }

  TEST_CASE("set_marked_images changes only the marked value bytes") {
    const std::string before = "# header\r\nimage:\r\n  repository: x " + marker("ns:api:name") +
                               "\r\n  tag: v1 " + marker("ns:api:tag") + "\r\n\r\nworker: y:v1 " +
                               marker("ns:worker") + "\r\n";
    const auto [after, count] = set_ok(before, {{"api", "x:v2"}, {"worker", "y:v1"}});
    CHECK(count == 1);
    std::string expected = before;
    expected.replace(expected.find("tag: v1") + 5, 2, "v2");
    CHECK(after == expected);
  }

  TEST_CASE("set_marked_images gives the files Flux's setter cases expect" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() /
                         "overlays/fluxcd__image-automation-controller/internal/update/testdata/"
                         "setters";
    const std::vector<std::pair<std::string, std::string>> images = {
        {"policy", "index.repo.fake/updated:v1.0.1"},
        {"policy-with-digest", "image:v1.0.0@" + k_sha2}};
    const std::vector<std::pair<std::string, int>> expected_files = {
        {"Kustomization", 2}, {"kustomization.yml", 4}, {"marked.yaml", 1}};
    for (const auto& [name, edits] : expected_files) {
      const auto& case_name = name;  // clang 14 cannot capture a structured binding
      CAPTURE(case_name);
      const auto [edited, count] =
          set_ok(promote::test::read_text(dir / "original" / name), images);
      CHECK(edited == promote::test::read_text(dir / "expected" / name));
      CHECK(count == edits);
    }
    // Flux leaves a marker for a policy in another namespace alone; promote ignores namespaces.
    const std::string otherns = promote::test::read_text(dir / "original/otherns.yaml");
    std::string expected = otherns;
    expected.replace(expected.find("user:v1.0.0"), 11, "index.repo.fake/updated:v1.0.1");
    CHECK(set_ok(otherns, images) == std::pair{expected, 1});
    for (const std::string name : {"unmarked.yaml", "test.yaml"}) {
      const std::string text = promote::test::read_text(dir / "original" / name);
      CHECK(set_ok(text, images) == std::pair{text, 0});
    }
  }

  TEST_CASE("set_marked_images reads every corpus overlay and values file without a change" *
            doctest::skip(!promote::test::has_corpus())) {
    int files = 0;
    for (const std::string tree : {"overlays", "helm"}) {
      for (const auto& item :
           fs::recursive_directory_iterator(*promote::test::corpus_dir() / tree)) {
        if (!item.is_regular_file()) {
          continue;
        }
        CAPTURE(item.path());
        const std::string text = promote::test::read_text(item.path());
        auto edited =
            set_marked_images(text, item.path().string(), policies({{"no-such-policy", "x:v1"}}));
        REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
        CHECK(edited->first == text);
        CHECK(edited->second == 0);
        ++files;
      }
    }
    CHECK(files == 108);
  }

  TEST_CASE("list_markers gives every marker's name and place, markers in text left out") {
    const std::string text =
        "image: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\"}\n"
        "# tag: 1.0 # {\"$imagepolicy\": \"flux-system:old:tag\"}\n"
        "note: \"x # {\\\"$imagepolicy\\\": \\\"ns:quoted\\\"}\"\n"
        "tag: 2.0.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n";
    auto markers = promote::overlay::list_markers(text, "release.yaml");
    REQUIRE(markers.has_value());
    REQUIRE(markers->size() == 2);
    CHECK((*markers)[0].policy == "api");
    CHECK((*markers)[0].where.to_string() == "release.yaml:1:31");
    CHECK((*markers)[1].policy == "web");
    CHECK((*markers)[1].where.to_string() == "release.yaml:4:12");
    CHECK(promote::overlay::list_markers("a: b # {\"$imagepolicy\": \"api\"}\n", "r.yaml")
              .error()
              .message ==
          "r.yaml:1:6: malformed $imagepolicy marker {\"$imagepolicy\": \"api\"}: expected "
          "\"NAMESPACE:NAME\" or \"NAMESPACE:NAME:tag|name|digest\"");
  }
}
