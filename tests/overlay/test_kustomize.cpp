#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/overlay/kustomize.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::image::Reference;
using promote::overlay::get_image;
using promote::overlay::set_image;

const std::string k_sha = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";
const std::string k_sha2 =
    "sha256:6745aaad46d795c9836632e1fb62f24b7e7f4c843144da8e47a5465c411a14be";

Reference reference_of(const std::string& text) {
  auto parsed = promote::image::parse(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::string set_ok(std::string_view text, const std::string& match, const std::string& target) {
  auto edited = set_image(text, "kustomization.yaml", match, reference_of(target));
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  return *edited;
}

std::string set_error(std::string_view text, const std::string& match, const std::string& target) {
  auto edited = set_image(text, "kustomization.yaml", match, reference_of(target));
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << *edited);
  CHECK(edited.error().kind == promote::ErrorKind::input);
  return edited.error().message;
}

std::string get_error(std::string_view text, const std::string& match) {
  auto image = get_image(text, "k.yaml", match);
  REQUIRE(image.has_error());
  CHECK(image.error().kind == promote::ErrorKind::input);
  return image.error().message;
}

std::optional<std::string> read(std::string_view text, const std::string& match) {
  auto image = get_image(text, "kustomization.yaml", match);
  REQUIRE_MESSAGE(image.has_value(), image.error().message);
  if (!*image) {
    return std::nullopt;
  }
  return (*image)->to_string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    lines.push_back(line);
  }
  return lines;
}

/// Whether `before` is a subsequence of `after` once `replaced` lines may be missing from it:
/// every original line is still there, in order, except the ones the edit replaced.
std::size_t lines_dropped(const std::vector<std::string>& before,
                          const std::vector<std::string>& after) {
  std::size_t dropped = 0;
  std::size_t j = 0;
  for (const auto& line : before) {
    const auto it = std::find(after.begin() + static_cast<std::ptrdiff_t>(j), after.end(), line);
    if (it == after.end()) {
      ++dropped;
    } else {
      j = static_cast<std::size_t>(it - after.begin()) + 1;
    }
  }
  return dropped;
}

/// The images list of a kustomization as name -> {key -> value}, read with yaml-cpp.
std::map<std::string, std::map<std::string, std::string>> images_of(const std::string& text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  const YAML::Node root = YAML::Load(text);
  for (const auto& entry : root["images"]) {
    auto& fields = out[entry["name"].as<std::string>()];
    for (const auto& pair : entry) {
      fields[pair.first.as<std::string>()] = pair.second.as<std::string>();
    }
  }
  return out;
}

std::vector<fs::path> corpus_kustomizations() {
  std::vector<fs::path> files;
  for (const auto& item :
       fs::recursive_directory_iterator(*promote::test::corpus_dir() / "overlays")) {
    const std::string name = item.path().filename().string();
    if (item.is_regular_file() &&
        (name == "kustomization.yaml" || name == "kustomization.yml" || name == "Kustomization")) {
      files.push_back(item.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// The image of the first container of the Deployment (or Pod) `name` in rendered manifests.
std::string rendered_image(const std::string& manifests, const std::string& kind,
                           const std::string& name) {
  for (const auto& document : YAML::LoadAll(manifests)) {
    if (document["kind"].as<std::string>("") != kind ||
        document["metadata"]["name"].as<std::string>("") != name) {
      continue;
    }
    const YAML::Node spec = kind == "Pod" ? document["spec"] : document["spec"]["template"]["spec"];
    return spec["containers"][0]["image"].as<std::string>();
  }
  return "";
}

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("find_kustomization finds each of the three file names kustomize accepts") {
    for (const std::string name : {"kustomization.yaml", "kustomization.yml", "Kustomization"}) {
      CAPTURE(name);
      promote::test::TempDir dir;
      promote::test::write_text(dir / name, "resources: []\n");
      auto found = promote::overlay::find_kustomization(dir.path());
      REQUIRE(found.has_value());
      CHECK(*found == dir / name);
    }
  }

  TEST_CASE("find_kustomization fails when there is no kustomization, or more than one") {
    promote::test::TempDir dir;
    auto none = promote::overlay::find_kustomization(dir.path());
    REQUIRE(none.has_error());
    CHECK(none.error().kind == promote::ErrorKind::input);
    CHECK(none.error().message ==
          "no kustomization file (kustomization.yaml, kustomization.yml "
          "or Kustomization) in '" +
              dir.path().string() + "'");

    promote::test::write_text(dir / "kustomization.yaml", "");
    promote::test::write_text(dir / "Kustomization", "");
    auto two = promote::overlay::find_kustomization(dir.path());
    REQUIRE(two.has_error());
    CHECK(two.error().message == "more than one kustomization file in '" + dir.path().string() +
                                     "': kustomization.yaml and Kustomization");

    auto missing = promote::overlay::find_kustomization(dir / "nope");
    REQUIRE(missing.has_error());
    CHECK(missing.error().message ==
          "overlay directory '" + (dir / "nope").string() + "' does not exist");
  }

  TEST_CASE("get_image reads an entry as newName or name, newTag and digest") {
    const std::string text =
        "images:\n"
        "- name: api\n"
        "  newName: ghcr.io/acme/api\n"
        "  newTag: \"1.4\"\n"
        "- name: web\n"
        "  newTag: v2 # pinned\n"
        "- name: db\n"
        "  digest: '" +
        k_sha +
        "'\n"
        "- name: bare\n"
        "- {name: flow, newName: 'localhost:5000/flow', newTag: v1}\n"
        "- name: nulls\n"
        "  newName:\n"
        "  newTag: ~\n";
    CHECK(read(text, "api") == "ghcr.io/acme/api:1.4");
    CHECK(read(text, "web") == "web:v2");
    CHECK(read(text, "db") == "db@" + k_sha);
    CHECK(read(text, "bare") == "bare");
    CHECK(read(text, "flow") == "localhost:5000/flow:v1");
    CHECK(read(text, "nulls") == "nulls");
    CHECK(read(text, "other") == std::nullopt);
    CHECK(read("", "api") == std::nullopt);
    CHECK(read("resources:\n- a.yaml\n", "api") == std::nullopt);
    CHECK(read("images:\n", "api") == std::nullopt);
    CHECK(read("images: []\n", "api") == std::nullopt);
    auto image = get_image(text, "k.yaml", "api");
    REQUIRE(image.has_value());
    REQUIRE(image->has_value());
    CHECK(**image == Reference{"ghcr.io", "acme/api", "1.4", ""});
  }

  TEST_CASE("an entry that names the same Docker Hub repository is the image's, kept as written") {
    const std::string text =
        "images:\n- name: redis\n  newTag: \"7.0\"\n- name: ghcr.io/acme/api\n"
        "  newTag: 1.0.0\n";
    CHECK(read(text, "docker.io/library/redis") == "redis:7.0");
    CHECK(read(text, "library/redis") == "redis:7.0");
    CHECK(read(text, "quay.io/redis") == std::nullopt);
    // A promotion changes the tag; the entry gains no newName for another spelling.
    CHECK(set_ok(text, "docker.io/library/redis", "docker.io/library/redis:7.2") ==
          "images:\n- name: redis\n  newTag: \"7.2\"\n- name: ghcr.io/acme/api\n  newTag: 1.0.0\n");
    CHECK(set_ok("images:\n- name: cache\n  newName: library/redis\n  newTag: \"7.0\"\n", "cache",
                 "docker.io/library/redis:7.2") ==
          "images:\n- name: cache\n  newName: library/redis\n  newTag: \"7.2\"\n");
    // An exact name wins over another spelling.
    CHECK(
        read("images:\n- name: redis\n  newTag: a\n- name: docker.io/library/redis\n  newTag: b\n",
             "docker.io/library/redis") == "docker.io/library/redis:b");
  }

  TEST_CASE("get_image reports malformed files with file, line and column") {
    CHECK(get_error("images:\n- name: [a\n", "a") == "k.yaml:3:1: end of sequence flow not found");
    CHECK(get_error("a: b\n  c: d\n", "a") == "k.yaml:2:4: illegal map value");
    // yaml-cpp 0.7 alone loops forever on these (jbeder/yaml-cpp#1040).
    CHECK(get_error(",a: 1\nb: 2\n", "a") == "k.yaml:1:1: unexpected character");
    CHECK(get_error("a: 1\n--- ,\n", "a") == "k.yaml:2:5: unexpected character");
    // And on this one, which holds no ',' (found by tests/fuzz/fuzz_manifests).
    CHECK(get_error("\"\" x\n?\n", "a") == "k.yaml:2:1: unexpected character");
    CHECK(get_error("{:", "a") == "k.yaml:1:2: unknown token");
    CHECK(get_error("]\n", "a") == "k.yaml:1:1: illegal flow end");
    CHECK(get_error("- a\n- b\n", "a") == "k.yaml:1:1: a kustomization must be a map");
    CHECK(get_error("images: nginx\n", "a") == "k.yaml:1:9: images must be a list");
    CHECK(get_error("images:\n  name: a\n", "a") == "k.yaml:2:3: images must be a list");
    CHECK(get_error("images:\n- nginx\n", "a") ==
          "k.yaml:2:3: images[0] must be a map with a name");
    CHECK(get_error("images:\n- newTag: v1\n", "a") == "k.yaml:2:3: images[0] has no name");
    CHECK(get_error("images:\n- name: a\n  newTag: [v1]\n", "a") ==
          "k.yaml:3:11: images[0].newTag must be a string");
    CHECK(get_error("images:\n- name: a\n  newTag:\n    x: 1\n", "a") ==
          "k.yaml:4:5: images[0].newTag must be a string");
    CHECK(get_error("images:\n- name: a\n  newTag: v1\n  newTag: v2\n", "a") ==
          "k.yaml:4:3: images[0] has the key 'newTag' twice");
    CHECK(get_error("images:\n- name: a\n- name: b\n- name: a\n", "a") ==
          "k.yaml:4:3: images has two entries named 'a' (images[0] and images[2])");
    CHECK(get_error("images: []\nimages: []\n", "a") ==
          "k.yaml:2:1: the key 'images' appears twice");
    CHECK(get_error("images:\n- name: a\n  newTag: 1+2\n", "a") ==
          "k.yaml:2:3: images[0] (a): invalid image reference 'a:1+2': tag '1+2' is invalid (it "
          "must start with a letter, digit or '_' and contain only letters, digits, '_', '.' and "
          "'-')");
    CHECK(get_error("images:\n- name: App\n", "App") ==
          "k.yaml:2:3: images[0] (App): invalid image reference 'App': repository name must be "
          "lower-case");
  }

  TEST_CASE("set_image edits only the bytes it must") {
    struct Case {
      std::string name;
      std::string input;
      std::string match;
      std::string target;
      std::string expected;
    };
    const std::vector<Case> cases = {
        {"updates a plain tag", "images:\n- name: app\n  newTag: v1\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: v2\n"},
        {"keeps an inline comment after the value",
         "images:\n- name: app\n  newTag: v1 # {\"$imagepolicy\": \"ns:p:tag\"}\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: v2 # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
        {"keeps double quotes", "images:\n- name: app\n  newTag: \"1.0\"\n", "app", "app:1.1",
         "images:\n- name: app\n  newTag: \"1.1\"\n"},
        {"keeps single quotes", "images:\n- name: app\n  newTag: 'v1' # q\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: 'v2' # q\n"},
        {"quotes a tag YAML would read as a number", "images:\n- name: app\n  newTag: v1\n", "app",
         "app:1.10", "images:\n- name: app\n  newTag: \"1.10\"\n"},
        {"quotes a tag YAML would read as a bool", "images:\n- name: app\n  newTag: v1\n", "app",
         "app:true", "images:\n- name: app\n  newTag: \"true\"\n"},
        {"quotes a tag YAML would read as an octal number", "images:\n- name: app\n", "app",
         "app:0123", "images:\n- name: app\n  newTag: \"0123\"\n"},
        {"quotes a tag in exponent notation", "", "app", "app:3.2e2",
         "images:\n- name: app\n  newTag: \"3.2e2\"\n"},
        {"writes a quoted old value plain when the new one needs no quotes",
         "images:\n- name: app\n  newTag: \"1.0\"\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: \"v2\"\n"},
        {"keeps key order, blank lines and comments around the entry",
         "# header\nimages:\n\n# the api\n- newTag: v1 # old\n  name: app\n\n  newName: x.io/app\n"
         "resources:\n- a.yaml\n",
         "app", "y.io/app:v2",
         "# header\nimages:\n\n# the api\n- newTag: v2 # old\n  name: app\n\n  newName: y.io/app\n"
         "resources:\n- a.yaml\n"},
        {"updates an indented sequence", "images:\n    - name: app\n      newTag: v1\n", "app",
         "app:v2", "images:\n    - name: app\n      newTag: v2\n"},
        {"adds newTag after the name", "images:\n- name: app\n- name: other\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: v2\n- name: other\n"},
        {"adds newName between name and newTag", "images:\n  - name: app\n    newTag: v1\n", "app",
         "ghcr.io/acme/app:v2",
         "images:\n  - name: app\n    newName: ghcr.io/acme/app\n    newTag: v2\n"},
        {"sets an existing newName even when it equals the name",
         "images:\n- name: app\n  newName: old.io/app\n  newTag: v1\n", "app", "app:v1",
         "images:\n- name: app\n  newName: app\n  newTag: v1\n"},
        {"adds a digest and removes the tag", "images:\n- name: app\n  newTag: v1\n", "app",
         "app@" + k_sha, "images:\n- name: app\n  digest: " + k_sha + "\n"},
        {"removes a digest when the target has none",
         "images:\n- name: app\n  newTag: v1\n  digest: " + k_sha + "\n  # trailing\n", "app",
         "app:v2", "images:\n- name: app\n  newTag: v2\n  # trailing\n"},
        {"sets tag and digest together",
         "images:\n- name: app\n  newTag: v1\n  digest: " + k_sha + "\n", "app", "app:v2@" + k_sha2,
         "images:\n- name: app\n  newTag: v2\n  digest: " + k_sha2 + "\n"},
        {"removes the key that opens an entry",
         "images:\n- newTag: v1\n  name: app\n  newName: x.io/app\n", "app", "x.io/app@" + k_sha,
         "images:\n- name: app\n  newName: x.io/app\n  digest: " + k_sha + "\n"},
        {"fills a null value", "images:\n- name: app\n  newTag: # later\n  digest: ~\n", "app",
         "app:v2@" + k_sha,
         "images:\n- name: app\n  newTag: v2 # later\n  digest: " + k_sha + "\n"},
        {"leaves a null value alone when the field is not wanted",
         "images:\n- name: app\n  newTag: v1\n  digest:\n", "app", "app:v1",
         "images:\n- name: app\n  newTag: v1\n  digest:\n"},
        {"appends an entry after the last one, before blank lines and the next key",
         "images:\n- name: a\n  newTag: v1\n\n# next\nopenapi:\n  path: x\n", "app", "app:v2",
         "images:\n- name: a\n  newTag: v1\n- name: app\n  newTag: v2\n\n# next\nopenapi:\n"
         "  path: x\n"},
        {"appends an entry with the indentation of the others",
         "images:\n  -   name: a\n      newTag: v1\n  # done\nresources: []\n", "app",
         "r.io/app:v2",
         "images:\n  -   name: a\n      newTag: v1\n  -   name: app\n      newName: r.io/app\n"
         "      newTag: v2\n  # done\nresources: []\n"},
        {"adds the images key at the end", "resources:\n- a.yaml\n", "app", "app:v2",
         "resources:\n- a.yaml\nimages:\n- name: app\n  newTag: v2\n"},
        {"adds the images key with the sequence indentation of the file",
         "resources:\n  - a.yaml\n# end\n", "app", "app:v2",
         "resources:\n  - a.yaml\n# end\nimages:\n  - name: app\n    newTag: v2\n"},
        {"adds the images key to a file without a final newline", "resources:\n- pod.yaml", "app",
         "app:v2", "resources:\n- pod.yaml\nimages:\n- name: app\n  newTag: v2"},
        {"adds an entry to a file without a final newline", "images:\n- name: a\n  newTag: v1",
         "app", "app:v2", "images:\n- name: a\n  newTag: v1\n- name: app\n  newTag: v2"},
        {"adds a key at the end of a file without a final newline", "images:\n- name: app", "app",
         "app:v2", "images:\n- name: app\n  newTag: v2"},
        {"removes the last line of a file without a final newline",
         "images:\n- name: app\n  newTag: v1", "app", "app@" + k_sha,
         "images:\n- name: app\n  digest: " + k_sha},
        {"writes an empty file", "", "app", "app:v2", "images:\n- name: app\n  newTag: v2\n"},
        {"writes after a comment-only file", "# nothing yet\n", "app", "app:v2",
         "# nothing yet\nimages:\n- name: app\n  newTag: v2\n"},
        {"keeps CRLF line endings when updating", "images:\r\n- name: app\r\n  newTag: v1\r\n",
         "app", "app:v2", "images:\r\n- name: app\r\n  newTag: v2\r\n"},
        {"keeps CRLF line endings when adding",
         "resources:\r\n- a.yaml\r\nimages:\r\n- name: app\r\n  newTag: v1\r\n", "app",
         "r.io/app:v1@" + k_sha,
         "resources:\r\n- a.yaml\r\nimages:\r\n- name: app\r\n  newName: r.io/app\r\n  newTag: "
         "v1\r\n"
         "  digest: " +
             k_sha + "\r\n"},
        {"keeps CRLF line endings when removing",
         "images:\r\n- name: app\r\n  newTag: v1\r\n  digest: " + k_sha + "\r\n", "app", "app:v1",
         "images:\r\n- name: app\r\n  newTag: v1\r\n"},
        {"adds the images key to a CRLF file without a final newline", "resources:\r\n- a.yaml",
         "app", "app:v2", "resources:\r\n- a.yaml\r\nimages:\r\n- name: app\r\n  newTag: v2"},
        {"fills an empty images key", "images:\nresources: []\n", "app", "app:v2",
         "images:\n- name: app\n  newTag: v2\nresources: []\n"},
        {"fills an images key that is explicitly null", "images: ~ # none\n", "app", "app:v2",
         "images: # none\n- name: app\n  newTag: v2\n"},
        {"edits the first document only",
         "images:\n- name: app\n  newTag: v1\n---\nimages:\n"
         "- name: app\n  newTag: v1\n",
         "app", "app:v2",
         "images:\n- name: app\n  newTag: v2\n---\nimages:\n- name: app\n  newTag: v1\n"},
        {"adds the images key before the next document",
         "---\nresources: []\n\n--- # second\nkind: Other\n...\n", "app", "app:v2",
         "---\nresources: []\n\nimages:\n- name: app\n  newTag: v2\n--- # second\nkind: Other\n"
         "...\n"},
        {"edits a flow entry in place", "images: [{name: app, newTag: v1}]\n", "app", "app:v2",
         "images: [{name: app, newTag: v2}]\n"},
        {"adds a key to a flow entry", "images:\n- {name: app, newTag: v1}\n", "app",
         "r.io/app:v1@" + k_sha,
         "images:\n- {name: app, newName: r.io/app, newTag: v1, digest: " + k_sha + "}\n"},
        {"removes a key from a flow entry", "images: [{name: app, newTag: v1, digest: x}]\n", "app",
         "app:v2", "images: [{name: app, newTag: v2}]\n"},
        {"removes the first key of a flow entry", "images: [{newTag: v1, name: app}]\n", "app",
         "app@" + k_sha, "images: [{name: app, digest: " + k_sha + "}]\n"},
        {"appends a flow entry", "images: [{name: a, newTag: v1} ] # flow\n", "app", "app:v2",
         "images: [{name: a, newTag: v1}, {name: app, newTag: v2} ] # flow\n"},
        {"fills an empty flow list", "images: []\n", "app", "app:1.0",
         "images: [{name: app, newTag: \"1.0\"}]\n"},
        {"keeps a byte-order mark", "\xEF\xBB\xBFimages:\n- name: app\n  newTag: v1\n", "app",
         "app:v2", "\xEF\xBB\xBFimages:\n- name: app\n  newTag: v2\n"},
        {"keeps non-ASCII text before the value",
         "# café ☕\nimages:\n- name: app # é\n  newTag: v1\n", "app", "app:v2",
         "# café ☕\nimages:\n- name: app # é\n  newTag: v2\n"},
    };
    for (const auto& c : cases) {
      SUBCASE(c.name.c_str()) {
        const std::string edited = set_ok(c.input, c.match, c.target);
        CHECK(edited == c.expected);
        CHECK(read(edited, c.match) == reference_of(c.target).to_string());
        CHECK(set_ok(edited, c.match, c.target) == edited);
      }
    }
  }

  TEST_CASE("set_image returns the text byte for byte when the image is already right") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"images:\n- name: app\n  newTag: v1\n", "app:v1"},
        {"images:\r\n  - name: app   # odd spacing\r\n    newTag:    'v1'\r\n", "app:v1"},
        {"images:\n- name: app\n  newName: app\n  newTag: \"1.0\"\n  digest:\n", "app:1.0"},
        {"images: [ {name: app, newName: r.io/x} ]", "r.io/x"},
        {"images:\n- name: app\n  newTag: 1.10\n", "app:1.10"},
    };
    for (const auto& [text, target] : cases) {
      const auto& case_text = text;  // clang 14 cannot capture a structured binding
      CAPTURE(case_text);
      CHECK(set_ok(text, "app", target) == text);
    }
  }

  TEST_CASE("set_image refuses edits it cannot make safely, naming file, line and column") {
    CHECK(set_error("images:\n- name: app\n  newTag: |\n    v1\n", "app", "app:v2") ==
          "kustomization.yaml:3:11: cannot edit images[0].newTag in place: it is not a "
          "single-line plain or quoted scalar");
    CHECK(set_error("images:\n- name: app\n  newTag: !!str v1\n", "app", "app:v2") ==
          "kustomization.yaml:3:11: cannot edit images[0].newTag in place: it is not a "
          "single-line plain or quoted scalar");
    CHECK(set_error("x: &t v1\nimages:\n- name: app\n  newTag: *t\n", "app", "app:v2") ==
          "kustomization.yaml:1:4: cannot edit images[0].newTag in place: it is not a "
          "single-line plain or quoted scalar");
    CHECK(set_error("images:\n- name: app\n  newTag: \"v1\n    more\"\n", "app", "app:v2") ==
          "kustomization.yaml:3:11: cannot edit images[0].newTag in place: it is not a "
          "single-line plain or quoted scalar");
    CHECK(set_error("images:\n- newTag: v1\n\n  name: app\n", "app", "app@" + k_sha) ==
          "kustomization.yaml:2:3: cannot remove images[0].newTag in place: no key follows it on "
          "the next line");
    CHECK(set_error("{resources: []}\n", "app", "app:v2") ==
          "kustomization.yaml:1:1: cannot add an image to a kustomization written as a flow "
          "mapping");
    CHECK(set_error("images:\n- name: [a\n", "app", "app:v2") ==
          "kustomization.yaml:3:1: end of sequence flow not found");
    CHECK(set_error("images: {}\n", "app", "app:v2") ==
          "kustomization.yaml:1:9: images must be a list");
    CHECK(set_error("images:\n- name: app\n  newTag: {a: 1}\n", "app", "app:v2") ==
          "kustomization.yaml:3:11: images[0].newTag must be a string");
    auto no_path = set_image("", "k.yaml", "app", Reference{});
    REQUIRE(no_path.has_error());
    CHECK(no_path.error().message ==
          "k.yaml: cannot set image 'app': the target reference has "
          "no repository");
    auto no_name = set_image("", "k.yaml", "", reference_of("app:v1"));
    REQUIRE(no_name.has_error());
    CHECK(no_name.error().message == "k.yaml: cannot set an image without a name");
  }

  TEST_CASE("set_image on every corpus kustomization changes only the lines it touches" *
            doctest::skip(!promote::test::has_corpus())) {
    const auto files = corpus_kustomizations();
    CHECK(files.size() >= 20);
    int with_images = 0;
    for (const auto& file : files) {
      CAPTURE(file);
      const std::string text = promote::test::read_text(file);
      const YAML::Node root = YAML::Load(text);
      std::string match = "promote-test-image";
      if (root["images"] && root["images"].size() > 0) {
        match = root["images"][0]["name"].as<std::string>();
        ++with_images;
      }
      const Reference target = reference_of("registry.example.com:5000/team/app:1.10@" + k_sha);
      auto edited = set_image(text, file.string(), match, target);
      REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
      const auto before = lines_of(text);
      const auto after = lines_of(*edited);
      // newName, newTag and digest are the only lines that may be replaced.
      CHECK(lines_dropped(before, after) <= 3);
      CHECK(after.size() >= before.size());
      CHECK(after.size() <= before.size() + 6);
      CHECK(text.ends_with('\n') == edited->ends_with('\n'));
      CHECK(read(*edited, match) == target.to_string());
      for (const auto& [name, fields] : images_of(text)) {
        if (name != match) {
          CHECK(images_of(*edited).at(name) == fields);
        }
      }
      CHECK(set_ok(*edited, match, target.to_string()) == *edited);
    }
    CHECK(with_images == 7);
  }

  TEST_CASE("set_image updates a Flux setter kustomization like the Flux expected file" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() /
                         "overlays/fluxcd__image-automation-controller/internal/update/testdata/"
                         "setters";
    const std::string original = promote::test::read_text(dir / "original/Kustomization");
    const std::string expected = promote::test::read_text(dir / "expected/Kustomization");
    CHECK(set_ok(original, "container", "index.repo.fake/updated:v1.0.1") == expected);
  }

  TEST_CASE("kustomize's set image cases give the images kustomize writes" *
            doctest::skip(!promote::test::has_corpus())) {
    const auto table = nlohmann::json::parse(
        promote::test::read_text(*promote::test::corpus_dir() / "kustomize-set-image/cases.json"));
    int checked = 0;
    for (const auto& c : table.at("cases")) {
      // The error cases are about kustomize's command-line syntax, which promote does not have.
      if (!c.at("expected_error").is_null()) {
        continue;
      }
      CAPTURE(c.at("index").get<int>());
      std::string text = table.at("default_input_kustomization");
      if (!c.at("input_kustomization_lines").is_null()) {
        text.clear();
        for (const std::string line : c.at("input_kustomization_lines")) {
          text += line + "\n";
        }
      }
      for (const std::string arg : c.at("args")) {
        // <name>=<image>, or <image> naming itself; '*' keeps what the entry has now.
        const std::size_t equals = arg.find('=');
        std::string name = equals == std::string::npos ? "" : arg.substr(0, equals);
        std::string image = arg.substr(equals == std::string::npos ? 0 : equals + 1);
        if (name.empty()) {
          name = reference_of(image).repository();
        }
        const YAML::Node root = YAML::Load(text);
        std::map<std::string, std::string> current;
        for (const auto& entry : root["images"]) {
          if (entry["name"].as<std::string>() == name) {
            for (const auto& pair : entry) {
              current[pair.first.as<std::string>()] = pair.second.as<std::string>();
            }
          }
        }
        const std::size_t split = image.find_first_of(":@");
        std::string repository = image.substr(0, split);
        std::string rest = split == std::string::npos ? "" : image.substr(split);
        if (repository == "*") {
          repository = current.contains("newName") ? current["newName"] : name;
        }
        if (rest == ":*") {
          rest = current.contains("newTag") ? ":" + current["newTag"] : "";
        } else if (rest == "@*") {
          rest = current.contains("digest") ? "@" + current["digest"] : "";
        }
        text = set_ok(text, name, repository + rest);
      }
      std::map<std::string, std::map<std::string, std::string>> expected;
      for (const auto& entry : c.at("expected_images")) {
        for (const auto& [key, value] : entry.items()) {
          expected[entry.at("name")][key] = value;
        }
      }
      CHECK(images_of(text) == expected);
      for (const auto& [name, fields] : expected) {
        std::string image = fields.contains("newName") ? fields.at("newName") : name;
        if (fields.contains("newTag")) {
          image += ":" + fields.at("newTag");
        }
        if (fields.contains("digest")) {
          image += "@" + fields.at("digest");
        }
        CHECK(read(text, name) == image);
      }
      ++checked;
    }
    CHECK(checked == 23);
  }

  TEST_CASE("kubectl kustomize renders the image set in a corpus overlay" *
            doctest::skip(!promote::test::has_corpus() || !promote::test::has_program("kubectl"))) {
    struct Overlay {
      std::string tree;     ///< copied whole into the temp dir
      std::string overlay;  ///< the directory to edit and build, inside the tree
      std::string match;
      std::string kind;
      std::string name;  ///< the rendered object's name
    };
    const std::vector<Overlay> overlays = {
        {"stefanprodan__podinfo/kustomize", ".", "ghcr.io/stefanprodan/podinfo", "Deployment",
         "podinfo"},
        {"kubernetes-sigs__kustomize/examples/multibases", "dev", "nginx", "Pod", "dev-myapp-pod"},
    };
    for (const auto& overlay : overlays) {
      CAPTURE(overlay.tree);
      promote::test::TempDir dir;
      const fs::path tree = dir / "tree";
      fs::copy(*promote::test::corpus_dir() / "overlays" / overlay.tree, tree,
               fs::copy_options::recursive);
      const fs::path target_dir = tree / overlay.overlay;
      auto file = promote::overlay::find_kustomization(target_dir);
      REQUIRE(file.has_value());
      const std::string target = "registry.example.com:5000/team/app:1.10@" + k_sha;
      promote::test::write_text(*file,
                                set_ok(promote::test::read_text(*file), overlay.match, target));
      const auto built = promote::test::run({"kubectl", "kustomize", target_dir.string()});
      REQUIRE_MESSAGE(built.exit_code == 0, built.err);
      CHECK(rendered_image(built.out, overlay.kind, overlay.name) == target);
    }
  }

  TEST_CASE("kubectl kustomize renders each kind of edit in a base and overlay of our own" *
            doctest::skip(!promote::test::has_program("kubectl"))) {
    promote::test::TempDir dir;
    promote::test::write_text(dir / "base/kustomization.yaml", "resources:\n- deployment.yaml\n");
    promote::test::write_text(dir / "base/deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/api:1.0.0
)");
    const fs::path overlay = dir / "overlays/prod";
    promote::test::write_text(overlay / "kustomization.yaml",
                              "# prod\r\nresources:\r\n  - ../../base\r\n");
    const std::vector<std::string> targets = {
        "ghcr.io/acme/api:1.4.2",          "ghcr.io/acme/api:1.10",
        "ghcr.io/acme/api:1.4.2@" + k_sha, "ghcr.io/acme/api@" + k_sha,
        "localhost:5000/acme/api:true",    "ghcr.io/acme/api:0123",
    };
    for (const auto& target : targets) {
      CAPTURE(target);
      const fs::path file = overlay / "kustomization.yaml";
      promote::test::write_text(file,
                                set_ok(promote::test::read_text(file), "ghcr.io/acme/api", target));
      const auto built = promote::test::run({"kubectl", "kustomize", overlay.string()});
      REQUIRE_MESSAGE(built.exit_code == 0, built.err);
      CHECK(rendered_image(built.out, "Deployment", "api") == target);
    }
    CHECK(promote::test::read_text(overlay / "kustomization.yaml") ==
          "# prod\r\nresources:\r\n  - ../../base\r\nimages:\r\n  - name: ghcr.io/acme/api\r\n"
          "    newName: ghcr.io/acme/api\r\n    newTag: \"0123\"\r\n");
  }

  // Found by tests/fuzz/fuzz_kustomize: appending `images:` gave the patch a final newline.
  TEST_CASE("set_image refuses to add images after a block scalar that ends the file") {
    const std::string text = "resources: [a.yaml]\npatches:\n  - patch: |\n      - op: add";
    auto edited = set_image(text, "kustomization.yaml", "nginx", reference_of("nginx:1.25"));
    REQUIRE(edited.has_error());
    CHECK(edited.error().message ==
          "kustomization.yaml: editing image 'nginx' did not give the expected YAML (the value of "
          "'patches' changed)");
    CHECK(set_ok(text + "\n", "nginx", "nginx:1.25") ==
          text + "\nimages:\n  - name: nginx\n    newTag: \"1.25\"\n");
  }
}
