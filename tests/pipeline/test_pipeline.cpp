#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/pipeline/pipeline.hpp"
#include "tests/pipeline/load_text.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;

namespace promote::test {

namespace {

using pipeline::ConfigNode;

/// A gate that remembers its validated configuration; it is never evaluated here.
class FakeGate : public Gate {
 public:
  explicit FakeGate(nlohmann::json config) : m_config(std::move(config)) {}
  boost::asio::awaitable<Verdict> evaluate(const GateContext&) override {
    co_return Verdict::make(Verdict::Status::pass, "fake");
  }
  nlohmann::json config() const override { return m_config; }

 private:
  nlohmann::json m_config;
};

std::unique_ptr<Gate> make_soak(const ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'soak' needs 'with: { min: <duration> }'");
    return nullptr;
  }
  if (!with.expect_map("gate 'soak'", {"min"})) {
    return nullptr;
  }
  auto min = with.require("min", "gate 'soak'");
  if (!min) {
    return nullptr;
  }
  auto duration = min->as_duration("min");
  if (!duration) {
    return nullptr;
  }
  return std::make_unique<FakeGate>(nlohmann::json{{"min", duration->count()}});
}

std::unique_ptr<Gate> make_junit(const ConfigNode& with) {
  const std::size_t before = with.diagnostics().messages().size();
  if (!with.expect_map("gate 'junit'",
                       {"path", "min_pass_rate", "max_failures", "max_skipped", "min_tests"})) {
    return nullptr;
  }
  nlohmann::json config = nlohmann::json::object();
  if (auto path = with.require("path", "gate 'junit'")) {
    if (auto paths = path->as_string_list("path")) {
      if (paths->empty()) {
        path->error("'path' must name at least one file or pattern");
      }
      if (std::find(paths->begin(), paths->end(), "") != paths->end()) {
        path->error("'path' must not be an empty string");
      }
      config["path"] = *paths;
    }
  }
  if (auto node = with.get("min_pass_rate")) {
    if (auto rate = node->as_number("min_pass_rate")) {
      if (*rate < 0 || *rate > 1) {
        node->error("'min_pass_rate' must be between 0 and 1, got '" + node->yaml().Scalar() + "'");
      }
      config["min_pass_rate"] = *rate;
    }
  }
  for (const auto& [key, minimum] :
       {std::pair{"max_failures", 0}, std::pair{"max_skipped", 0}, std::pair{"min_tests", 1}}) {
    if (auto node = with.get(key)) {
      if (auto value = node->as_integer(key)) {
        if (*value < minimum) {
          node->error("'" + std::string(key) + "' must be " + std::to_string(minimum) +
                      " or more, got '" + node->yaml().Scalar() + "'");
        }
        config[key] = *value;
      }
    }
  }
  if (with.diagnostics().messages().size() != before) {
    return nullptr;
  }
  return std::make_unique<FakeGate>(std::move(config));
}

}  // namespace

/// A catalog of the built-in gate names, validating `with:` like the real gates do; shared
/// with test_schema.cpp so that test_pipeline needs only engine_pipeline.
class FakeCatalog : public pipeline::GateCatalog {
 public:
  bool knows(std::string_view use) const override { return use == "junit" || use == "soak"; }
  std::unique_ptr<Gate> make(std::string_view use, const ConfigNode& with) const override {
    return use == "junit" ? make_junit(with) : use == "soak" ? make_soak(with) : nullptr;
  }
  std::vector<std::string> names() const override { return {"junit", "soak"}; }
};

const pipeline::GateCatalog& fake_catalog() {
  static const FakeCatalog catalog;
  return catalog;
}

}  // namespace promote::test

namespace {

using promote::ErrorKind;
using promote::pipeline::Pipeline;
using promote::pipeline::Strategy;
using promote::test::fake_catalog;
using promote::test::TempDir;
using promote::test::write_text;
using std::chrono::seconds;

/// The smallest valid pipeline; tests append to it or replace parts of it.
const std::string k_minimal = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: shop}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: dev
    target: {kustomize: k8s/dev}
)";

/// Writes `text` to DIR/promote.yaml and loads it.
using promote::test::load_text;

/// Loads `text`, which must be valid.
Pipeline loads(const TempDir& dir, const std::string& text) {
  auto result = load_text(dir, text);
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  return std::move(*result);
}

/// Loads `text`, which must be invalid; its message with the directory cut (load_text.hpp).
std::string errors(const std::string& text) {
  return promote::test::load_errors(text);
}

/// k_minimal with its stage list replaced by `stages`.
std::string with_stages(const std::string& stages) {
  return k_minimal.substr(0, k_minimal.find("stages:\n")) + "stages:\n" + stages;
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the text");
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("a full pipeline loads into the typed model") {
    TempDir dir;
    const Pipeline pipeline = loads(dir, R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: shop
  description: Storefront and order API
repository:
  url: https://github.com/acme/shop-gitops.git
  branch: release
  provider: github
  remote: upstream
images:
  - name: api
    repository: ghcr.io/acme/api
  - name: web
    repository: registry.acme.io:5000/shop/web
    match: acme/web
stages:
  - name: dev
    target: {kustomize: k8s/overlays/dev}
  - name: staging
    from: dev
    strategy: commit
    target: {kustomize: ./k8s/overlays/../overlays/staging}
    gates:
      - use: junit
        with: {path: "reports/*.xml", min_pass_rate: 0.95, max_failures: 2}
  - name: prod
    from: staging
    target:
      kustomize: k8s/overlays/prod
    gates:
      - use: soak
        timeout: 1h30m
        with: {min: 2h}
      - use: junit
        name: junit-e2e
        with:
          path: [e2e/a.xml, e2e/b.xml]
          min_tests: 20
)");
    CHECK(pipeline.file == dir / "promote.yaml");
    CHECK(pipeline.base_dir == dir.path());
    CHECK(pipeline.name == "shop");

    CHECK(pipeline.repository.url == "https://github.com/acme/shop-gitops.git");
    CHECK_FALSE(pipeline.repository.is_local());
    CHECK(pipeline.repository.branch == "release");
    CHECK(pipeline.repository.provider == "github");
    CHECK(pipeline.repository.remote == "upstream");

    REQUIRE(pipeline.images.size() == 2);
    CHECK(pipeline.image_names() == std::vector<std::string>{"api", "web"});
    CHECK(pipeline.images[0].repository == "ghcr.io/acme/api");
    CHECK(pipeline.images[0].match == "ghcr.io/acme/api");
    CHECK(pipeline.images[0].where.to_string() == (dir / "promote.yaml").string() + ":12:5");
    CHECK(pipeline.images[1].repository == "registry.acme.io:5000/shop/web");
    CHECK(pipeline.images[1].match == "acme/web");
    CHECK(pipeline.find_image("web") == &pipeline.images[1]);
    CHECK(pipeline.find_image("db") == nullptr);

    REQUIRE(pipeline.stages.size() == 3);
    CHECK(pipeline.stage_names() == std::vector<std::string>{"dev", "staging", "prod"});
    const auto& dev = pipeline.stages[0];
    CHECK(dev.from == std::nullopt);
    CHECK(dev.target.kustomize == std::vector<std::string>{"k8s/overlays/dev"});
    CHECK(dev.target.where.line == 19);
    CHECK(dev.target.where.column == 13);
    CHECK(dev.strategy == Strategy::commit);
    CHECK(dev.gates.empty());
    CHECK(dev.where.line == 18);

    const auto& staging = pipeline.stages[1];
    CHECK(staging.from == "dev");
    CHECK(staging.target.kustomize == std::vector<std::string>{"k8s/overlays/staging"});
    REQUIRE(staging.gates.size() == 1);
    CHECK(staging.gates[0].name == "junit");
    CHECK(staging.gates[0].use == "junit");
    CHECK(staging.gates[0].timeout == seconds(300));
    CHECK(staging.gates[0].where.line == 25);
    CHECK(staging.gates[0].where.column == 9);
    REQUIRE(staging.gates[0].gate != nullptr);
    CHECK(staging.gates[0].gate->config() == nlohmann::json{{"path", {"reports/*.xml"}},
                                                            {"min_pass_rate", 0.95},
                                                            {"max_failures", 2}});

    const auto* prod = pipeline.find_stage("prod");
    REQUIRE(prod == &pipeline.stages[2]);
    CHECK(prod->from == "staging");
    CHECK(prod->target.kustomize == std::vector<std::string>{"k8s/overlays/prod"});
    REQUIRE(prod->gates.size() == 2);
    CHECK(prod->gates[0].name == "soak");
    CHECK(prod->gates[0].timeout == seconds(5400));
    REQUIRE(prod->gates[0].gate != nullptr);
    CHECK(prod->gates[0].gate->config() == nlohmann::json{{"min", 7200}});
    CHECK(prod->gates[1].name == "junit-e2e");
    CHECK(prod->gates[1].use == "junit");
    REQUIRE(prod->gates[1].gate != nullptr);
    CHECK(prod->gates[1].gate->config() ==
          nlohmann::json{{"path", {"e2e/a.xml", "e2e/b.xml"}}, {"min_tests", 20}});
    CHECK(pipeline.find_stage("qa") == nullptr);
  }

  TEST_CASE("fields left out take their defaults") {
    TempDir dir;
    const Pipeline pipeline = loads(dir, k_minimal);
    CHECK(pipeline.repository.url == ".");
    CHECK(pipeline.repository.is_local());
    CHECK(pipeline.repository.branch == "main");
    CHECK(pipeline.repository.remote == "origin");
    CHECK(pipeline.repository.provider == "");
    CHECK(pipeline.images[0].match == "ghcr.io/acme/api");
    CHECK(pipeline.stages[0].strategy == Strategy::commit);
    CHECK_FALSE(pipeline.stages[0].from.has_value());

    SUBCASE("an empty url means the repository holding the file") {
      const Pipeline empty_url =
          loads(dir, replace(k_minimal, "images:", "repository: {url: ''}\nimages:"));
      CHECK(empty_url.repository.url == ".");
    }
    SUBCASE("an empty gate list is allowed") {
      const Pipeline no_gates = loads(dir, k_minimal + "    gates: []\n");
      CHECK(no_gates.stages[0].gates.empty());
    }
  }

  TEST_CASE("messages name the file as it was given") {
    TempDir dir;
    write_text(dir / "promote.yaml", replace(k_minimal, "kind: Pipeline", "kind: Pipelin"));
    const fs::path relative = fs::relative(dir / "promote.yaml");
    REQUIRE(relative.is_relative());
    auto result = promote::pipeline::load(relative, fake_catalog());
    REQUIRE(result.has_error());
    CHECK(result.error().message ==
          relative.string() + ":2:7: 'kind' must be 'Pipeline', got 'Pipelin'");
  }

  TEST_CASE("a file that cannot be read is a configuration error") {
    TempDir dir;
    auto result = promote::pipeline::load(dir / "missing.yaml", fake_catalog());
    REQUIRE(result.has_error());
    CHECK(result.error().kind == ErrorKind::config);
    CHECK(result.error().message ==
          (dir / "missing.yaml").string() + ": No such file or directory");
  }

  TEST_CASE("malformed YAML is reported with the parser's message and position") {
    SUBCASE("an unclosed flow mapping") {
      CHECK(errors("apiVersion: promote/v1\nmetadata: {name: shop\n") ==
            "promote.yaml:3:1: end of map flow not found");
    }
    SUBCASE("a key indented into the middle of a block") {
      CHECK(errors("metadata:\n  name: shop\n description: x\n") ==
            "promote.yaml:3:2: end of map not found");
    }
    SUBCASE("nesting deeper than the parser allows") {
      CHECK(errors("stages: " + std::string(100000, '[')) ==
            "promote.yaml:1:1: the YAML nests too deeply (500 levels)");
    }
    SUBCASE("an unknown anchor") {
      CHECK(errors("stages: *nowhere\n") ==
            "promote.yaml:1:9: the referenced anchor is not defined");
    }
  }

  TEST_CASE("an empty file is reported") {
    SUBCASE("no bytes") {
      CHECK(errors("") == "promote.yaml:1:1: the pipeline file is empty");
    }
    SUBCASE("only comments") {
      CHECK(errors("# promote.yaml\n\n# nothing yet\n") ==
            "promote.yaml:1:1: the pipeline file is empty");
    }
    SUBCASE("an explicit null document") {
      CHECK(errors("---\n~\n") == "promote.yaml:1:1: the pipeline file is empty");
    }
  }

  TEST_CASE("a file with more than one YAML document is reported") {
    CHECK(errors(k_minimal + "---\n" + k_minimal) ==
          "promote.yaml:10:1: the pipeline file must hold one YAML document; another starts here");
    CHECK(errors(k_minimal + "---\n") ==
          "promote.yaml:10:1: the pipeline file must hold one YAML document; another starts here");
    TempDir dir;
    CHECK(loads(dir, "---\n" + k_minimal + "...\n").name == "shop");
  }

  TEST_CASE("a file that is not a mapping is reported") {
    CHECK(errors("- dev\n- prod\n") ==
          "promote.yaml:1:1: the pipeline must be a mapping, got a list");
    CHECK(errors("shop\n") == "promote.yaml:1:1: the pipeline must be a mapping, got 'shop'");
  }

  TEST_CASE("unknown fields are reported, with a suggestion when one is close") {
    SUBCASE("top level") {
      CHECK(errors(replace(k_minimal, "stages:", "stage:")) ==
            "promote.yaml:6:1: unknown field 'stage' in the pipeline (did you mean 'stages'?)\n"
            "promote.yaml:1:1: missing required field 'stages' in the pipeline");
      CHECK(errors(k_minimal + "owner: team-shop\n") ==
            "promote.yaml:9:1: unknown field 'owner' in the pipeline");
    }
    SUBCASE("metadata") {
      CHECK(errors(replace(k_minimal, "{name: shop}", "{name: shop, descripton: x}")) ==
            "promote.yaml:3:24: unknown field 'descripton' in metadata (did you mean "
            "'description'?)");
      CHECK(errors(replace(k_minimal, "{name: shop}", "{name: shop, labels: {}}")) ==
            "promote.yaml:3:24: unknown field 'labels' in metadata");
    }
    SUBCASE("repository") {
      CHECK(errors(replace(k_minimal, "images:", "repository: {url: ., brnach: main}\nimages:")) ==
            "promote.yaml:4:22: unknown field 'brnach' in repository (did you mean 'branch'?)");
      CHECK(errors(replace(k_minimal, "images:", "repository: {token: abc}\nimages:")) ==
            "promote.yaml:4:14: unknown field 'token' in repository");
    }
    SUBCASE("image") {
      CHECK(errors(replace(k_minimal, "repository: ghcr.io/acme/api}",
                           "repository: ghcr.io/acme/api, mach: api}")) ==
            "promote.yaml:5:47: unknown field 'mach' in an image (did you mean 'match'?)");
      CHECK(errors(replace(k_minimal, "repository: ghcr.io/acme/api}",
                           "repository: ghcr.io/acme/api, tag: latest}")) ==
            "promote.yaml:5:47: unknown field 'tag' in an image");
    }
    SUBCASE("stage") {
      CHECK(errors(k_minimal + "    form: dev\n") ==
            "promote.yaml:9:5: unknown field 'form' in a stage (did you mean 'from'?)");
      CHECK(errors(k_minimal + "    approvers: [alice]\n") ==
            "promote.yaml:9:5: unknown field 'approvers' in a stage");
    }
    SUBCASE("target") {
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{kustomise: k8s/dev}")) ==
            "promote.yaml:8:14: unknown field 'kustomise' in target (did you mean 'kustomize'?)");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{kustomize: k8s/dev, helm: x}")) ==
            "promote.yaml:8:40: 'target.helm' must be a list, got 'x'");
    }
    SUBCASE("gate") {
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        wiht: {min: 1h}\n") ==
            "promote.yaml:11:9: unknown field 'wiht' in a gate (did you mean 'with'?)\n"
            "promote.yaml:10:9: gate 'soak' needs 'with: { min: <duration> }'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        on_failure: skip\n" +
                   "        with: {min: 1h}\n") ==
            "promote.yaml:11:9: unknown field 'on_failure' in a gate");
    }
    SUBCASE("gate configuration, from the gate's own validation") {
      CHECK(
          errors(k_minimal + "    gates:\n      - use: soak\n        with: {min: 1h, max: 2h}\n") ==
          "promote.yaml:11:25: unknown field 'max' in gate 'soak'");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n" +
                   "        with: {path: a.xml, min_test: 3}\n") ==
            "promote.yaml:11:29: unknown field 'min_test' in gate 'junit' (did you mean "
            "'min_tests'?)");
    }
  }

  TEST_CASE("fields of the wrong type are reported") {
    SUBCASE("a string") {
      CHECK(errors(replace(k_minimal, "{name: shop}", "{name: [shop]}")) ==
            "promote.yaml:3:18: 'metadata.name' must be a string, got a list");
      CHECK(errors(replace(k_minimal, "kind: Pipeline", "kind: {name: Pipeline}")) ==
            "promote.yaml:2:7: 'kind' must be a string, got a mapping");
      CHECK(errors(k_minimal + "    from:\n") ==
            "promote.yaml:9:5: 'from' must be a string, got nothing");
    }
    SUBCASE("a list") {
      CHECK(errors(replace(k_minimal, "stages:\n", "stages: dev\nx:\n")) ==
            "promote.yaml:7:1: unknown field 'x' in the pipeline\n"
            "promote.yaml:6:9: 'stages' must be a list, got 'dev'");
      CHECK(errors(replace(k_minimal, "  - {name: api, repository: ghcr.io/acme/api}",
                           "  api: ghcr.io/acme/api")) ==
            "promote.yaml:5:3: 'images' must be a list, got a mapping");
      CHECK(errors(k_minimal + "    gates: {use: soak}\n") ==
            "promote.yaml:9:12: 'gates' must be a list, got a mapping");
    }
    SUBCASE("a mapping") {
      CHECK(errors(replace(k_minimal, "{name: shop}", "shop")) ==
            "promote.yaml:3:11: metadata must be a mapping, got 'shop'");
      CHECK(errors(replace(k_minimal, "images:", "repository: .\nimages:")) ==
            "promote.yaml:4:13: repository must be a mapping, got '.'");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "k8s/dev")) ==
            "promote.yaml:8:13: target must be a mapping, got 'k8s/dev'");
      CHECK(
          errors(replace(k_minimal, "  - {name: api, repository: ghcr.io/acme/api}", "  - api")) ==
          "promote.yaml:5:5: an image must be a mapping, got 'api'");
      CHECK(errors(with_stages("  - dev\n")) ==
            "promote.yaml:7:5: a stage must be a mapping, got 'dev'");
      CHECK(errors(k_minimal + "    gates: [soak]\n") ==
            "promote.yaml:9:13: a gate must be a mapping, got 'soak'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: 2h\n") ==
            "promote.yaml:11:15: gate 'soak' must be a mapping, got '2h'");
    }
    SUBCASE("a number") {
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n" +
                   "        with: {path: a.xml, min_pass_rate: high}\n") ==
            "promote.yaml:11:44: 'min_pass_rate' must be a number, got 'high'");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n" +
                   "        with: {path: a.xml, min_tests: 2.5}\n") ==
            "promote.yaml:11:40: 'min_tests' must be an integer, got '2.5'");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n" +
                   "        with: {path: a.xml, min_pass_rate: 1.5}\n") ==
            "promote.yaml:11:44: 'min_pass_rate' must be between 0 and 1, got '1.5'");
    }
    SUBCASE("a duration") {
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        timeout: soon\n" +
                   "        with: {min: 1h}\n") ==
            "promote.yaml:11:18: 'timeout' must be a duration such as 90s, 5m, 2h or 1d, got "
            "'soon'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: {min: 2 hours}\n") ==
            "promote.yaml:11:21: 'min' must be a duration such as 90s, 5m, 2h or 1d, got "
            "'2 hours'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: {min: 120}\n") ==
            "promote.yaml:11:21: 'min' must be a duration such as 90s, 5m, 2h or 1d, got '120'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        timeout: 0s\n" +
                   "        with: {min: 1h}\n") ==
            "promote.yaml:11:18: 'timeout' must be longer than 0s");
    }
  }

  TEST_CASE("missing required fields are reported") {
    SUBCASE("top level") {
      CHECK(errors("kind: Pipeline\n") ==
            "promote.yaml:1:1: missing required field 'apiVersion' in the pipeline\n"
            "promote.yaml:1:1: missing required field 'metadata' in the pipeline\n"
            "promote.yaml:1:1: missing required field 'images' in the pipeline\n"
            "promote.yaml:1:1: missing required field 'stages' in the pipeline");
      CHECK(errors(replace(k_minimal, "kind: Pipeline\n", "")) ==
            "promote.yaml:1:1: missing required field 'kind' in the pipeline");
    }
    SUBCASE("metadata.name") {
      CHECK(errors(replace(k_minimal, "{name: shop}", "{description: x}")) ==
            "promote.yaml:3:11: missing required field 'name' in metadata");
    }
    SUBCASE("image fields") {
      CHECK(
          errors(replace(k_minimal, "{name: api, repository: ghcr.io/acme/api}", "{name: api}")) ==
          "promote.yaml:5:5: missing required field 'repository' in image 'api'");
      CHECK(errors(replace(k_minimal, "{name: api, repository: ghcr.io/acme/api}",
                           "{repository: ghcr.io/acme/api}")) ==
            "promote.yaml:5:5: missing required field 'name' in an image");
    }
    SUBCASE("stage fields") {
      CHECK(errors(with_stages("  - target: {kustomize: k8s/dev}\n")) ==
            "promote.yaml:7:5: missing required field 'name' in a stage");
      CHECK(errors(with_stages("  - name: dev\n")) ==
            "promote.yaml:7:5: missing required field 'target' in stage 'dev'");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{}")) ==
            "promote.yaml:8:13: 'target' must name where the stage's images live: kustomize, "
            "helm, manifests, setters or argocd");
    }
    SUBCASE("gate fields") {
      CHECK(errors(k_minimal + "    gates:\n      - name: tests\n") ==
            "promote.yaml:10:9: missing required field 'use' in a gate of stage 'dev'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n") ==
            "promote.yaml:10:9: gate 'soak' needs 'with: { min: <duration> }'");
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: {}\n") ==
            "promote.yaml:11:15: missing required field 'min' in gate 'soak'");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n        with: {min_tests: 5}\n") ==
            "promote.yaml:11:15: missing required field 'path' in gate 'junit'");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n        with: {path: []}\n") ==
            "promote.yaml:11:22: 'path' must name at least one file or pattern");
    }
    SUBCASE("empty lists") {
      CHECK(errors(replace(k_minimal, "  - {name: api, repository: ghcr.io/acme/api}\n",
                           "  []\n")) == "promote.yaml:5:3: 'images' must name at least one image");
      CHECK(errors(with_stages("  []\n")) ==
            "promote.yaml:7:3: 'stages' must name at least one stage");
    }
  }

  TEST_CASE("apiVersion and kind must be the ones this version reads") {
    CHECK(errors(replace(k_minimal, "promote/v1", "promote/v2")) ==
          "promote.yaml:1:13: 'apiVersion' must be 'promote/v1', got 'promote/v2'");
    CHECK(errors(replace(k_minimal, "kind: Pipeline", "kind: pipeline")) ==
          "promote.yaml:2:7: 'kind' must be 'Pipeline', got 'pipeline'");
  }

  TEST_CASE("names must be lower-case DNS labels") {
    const std::string rule = " must be lower-case letters, digits and '-' (at most 63), got ";
    CHECK(errors(replace(k_minimal, "{name: shop}", "{name: Shop}")) ==
          "promote.yaml:3:18: 'metadata.name'" + rule + "'Shop'");
    CHECK(errors(replace(k_minimal, "{name: api,", "{name: api_v2,")) ==
          "promote.yaml:5:12: 'images[].name'" + rule + "'api_v2'");
    CHECK(errors(replace(k_minimal, "name: dev", "name: dev-")) ==
          "promote.yaml:7:11: 'stages[].name'" + rule + "'dev-'");
    CHECK(errors(replace(k_minimal, "name: dev", "name: -dev")) ==
          "promote.yaml:7:11: 'stages[].name'" + rule + "'-dev'");
    CHECK(errors(replace(k_minimal, "name: dev", "name: d.v")) ==
          "promote.yaml:7:11: 'stages[].name'" + rule + "'d.v'");
    CHECK(errors(replace(k_minimal, "name: dev", "name: " + std::string(64, 'a'))) ==
          "promote.yaml:7:11: 'stages[].name'" + rule + "'" + std::string(64, 'a') + "'");
    TempDir dir;
    CHECK(loads(dir, replace(k_minimal, "name: dev", "name: " + std::string(63, 'a')))
              .stages[0]
              .name == std::string(63, 'a'));
    CHECK(loads(dir, replace(k_minimal, "name: dev", "name: d")).stages[0].name == "d");
    CHECK(loads(dir, replace(k_minimal, "name: dev", "name: d-2")).stages[0].name == "d-2");
  }

  TEST_CASE("repository fields are checked") {
    CHECK(
        errors(replace(k_minimal, "images:", "repository: {provider: bitbucket}\nimages:")) ==
        "promote.yaml:4:24: 'repository.provider' must be one of github, gitlab, gitea, forgejo, none; got "
        "'bitbucket'");
    CHECK(
        errors(replace(k_minimal, "images:", "repository: {branch: 'feature branch'}\nimages:")) ==
        "promote.yaml:4:22: 'repository.branch' is not a valid branch name: 'feature branch'");
    CHECK(errors(replace(k_minimal, "images:", "repository: {branch: ''}\nimages:")) ==
          "promote.yaml:4:22: 'repository.branch' is not a valid branch name: ''");
  }

  TEST_CASE("image repositories must be repositories without tag or digest") {
    CHECK(errors(replace(k_minimal, "ghcr.io/acme/api}", "ghcr.io/acme/api:1.4.2}")) ==
          "promote.yaml:5:29: 'images[].repository' must be a repository without tag or digest, "
          "got 'ghcr.io/acme/api:1.4.2'");
    const std::string message =
        errors(replace(k_minimal, "ghcr.io/acme/api}", "ghcr.io/Acme/api}"));
    CHECK(message.starts_with("promote.yaml:5:29: "));
    CHECK(message.find("ghcr.io/Acme/api") != std::string::npos);
  }

  TEST_CASE("a gate's name is one line: it becomes a trailer of the commit") {
    CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        name: \"ok\\nPromote-Id: x\"\n" +
                 "        with: {min: 1h}\n") ==
          "promote.yaml:11:15: 'gates[].name' must be one line of text, without control "
          "characters");
  }

  TEST_CASE("duplicate names are reported with the first occurrence") {
    SUBCASE("stages") {
      CHECK(errors(k_minimal + "  - name: dev\n    target: {kustomize: k8s/dev2}\n") ==
            "promote.yaml:9:11: duplicate stage name 'dev' (first at promote.yaml:7:11)");
    }
    SUBCASE("images") {
      CHECK(errors(replace(k_minimal,
                           "stages:", "  - {name: api, repository: ghcr.io/acme/api2}\nstages:")) ==
            "promote.yaml:6:12: duplicate image name 'api' (first at promote.yaml:5:12)");
    }
    SUBCASE("gates, including a default name against an explicit one") {
      CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: {min: 1h}\n" +
                   "      - use: soak\n        with: {min: 2h}\n") ==
            "promote.yaml:12:9: duplicate gate name 'soak' in stage 'dev' (give each gate its own "
            "'name:')");
      CHECK(errors(k_minimal + "    gates:\n      - use: junit\n        with: {path: a.xml}\n" +
                   "      - use: soak\n        name: junit\n        with: {min: 2h}\n") ==
            "promote.yaml:12:9: duplicate gate name 'junit' in stage 'dev' (give each gate its own "
            "'name:')");
      TempDir dir;
      const auto pipeline = loads(
          dir, k_minimal + "    gates:\n      - use: junit\n        with: {path: a.xml}\n" +
                   "      - use: junit\n        name: junit-e2e\n        with: {path: b.xml}\n");
      CHECK(pipeline.stages[0].gates.size() == 2);
    }
    SUBCASE("the same name in two stages is fine") {
      TempDir dir;
      const std::string soak = "    gates:\n      - use: soak\n        with: {min: 1h}\n";
      const auto pipeline = loads(dir, k_minimal + soak + "  - name: prod\n    from: dev\n" +
                                           "    target: {kustomize: k8s/prod}\n" + soak);
      CHECK(pipeline.stages[1].gates[0].name == "soak");
    }
  }

  TEST_CASE("duplicate YAML keys are reported") {
    CHECK(errors(k_minimal + "stages: []\n") ==
          "promote.yaml:9:1: duplicate field 'stages' in the pipeline");
    CHECK(errors(k_minimal + "    target: {kustomize: k8s/dev2}\n") ==
          "promote.yaml:9:5: duplicate field 'target' in a stage");
    CHECK(errors(replace(k_minimal, "{name: shop}", "{name: shop, name: cart}")) ==
          "promote.yaml:3:24: duplicate field 'name' in metadata");
    CHECK(errors(k_minimal + "    gates:\n      - use: soak\n        with: {min: 1h, min: 2h}\n") ==
          "promote.yaml:11:25: duplicate field 'min' in gate 'soak'");
  }

  TEST_CASE("'from' must name another stage without making a cycle") {
    const auto stage = [](const std::string& name, const std::string& from) {
      return "  - name: " + name + "\n" + (from.empty() ? "" : "    from: " + from + "\n") +
             "    target: {kustomize: k8s/" + name + "}\n";
    };
    SUBCASE("an unknown stage, with a suggestion") {
      CHECK(errors(with_stages(stage("staging", "") + stage("prod", "stagin"))) ==
            "promote.yaml:10:11: 'from' names unknown stage 'stagin' (did you mean 'staging'?)");
    }
    SUBCASE("an unknown stage, without a suggestion") {
      CHECK(errors(with_stages(stage("staging", "") + stage("prod", "qa"))) ==
            "promote.yaml:10:11: 'from' names unknown stage 'qa'");
    }
    SUBCASE("the stage itself") {
      CHECK(errors(with_stages(stage("dev", "dev"))) ==
            "promote.yaml:8:11: stage 'dev' cannot come from itself");
    }
    SUBCASE("a cycle of two stages") {
      CHECK(errors(with_stages(stage("dev", "") + stage("staging", "prod") +
                               stage("prod", "staging"))) ==
            "promote.yaml:10:11: 'from' makes a cycle: staging <- prod <- staging\n"
            "promote.yaml:13:11: 'from' makes a cycle: prod <- staging <- prod");
    }
    SUBCASE("a cycle of three stages") {
      CHECK(errors(with_stages(stage("dev", "prod") + stage("staging", "dev") +
                               stage("prod", "staging"))) ==
            "promote.yaml:8:11: 'from' makes a cycle: dev <- prod <- staging <- dev\n"
            "promote.yaml:11:11: 'from' makes a cycle: staging <- dev <- prod <- staging\n"
            "promote.yaml:14:11: 'from' makes a cycle: prod <- staging <- dev <- prod");
    }
    SUBCASE("a stage may come from one listed after it") {
      TempDir dir;
      const auto pipeline = loads(dir, with_stages(stage("prod", "dev") + stage("dev", "")));
      CHECK(pipeline.stages[0].from == "dev");
    }
  }

  TEST_CASE("unknown gates are reported, with a suggestion when one is close") {
    CHECK(errors(k_minimal + "    gates:\n      - use: junti\n        with: {path: a.xml}\n") ==
          "promote.yaml:10:14: unknown gate 'junti' (did you mean 'junit'?)");
    CHECK(errors(k_minimal + "    gates:\n      - use: prometheus\n") ==
          "promote.yaml:10:14: unknown gate 'prometheus' (no built-in gate and no program "
          "promote-gate-prometheus in plugins/ beside the pipeline file or on PATH)");
  }

  TEST_CASE("target paths must stay inside the repository") {
    SUBCASE("absolute") {
      CHECK(errors(replace(k_minimal, "k8s/dev}", "/etc/k8s/dev}")) ==
            "promote.yaml:8:25: target path '/etc/k8s/dev' is absolute; give a path relative to "
            "the repository");
    }
    SUBCASE("with '..' leaving the repository") {
      CHECK(errors(replace(k_minimal, "k8s/dev}", "../other/k8s/dev}")) ==
            "promote.yaml:8:25: target path '../other/k8s/dev' leaves the repository (..)");
      CHECK(errors(replace(k_minimal, "k8s/dev}", "k8s/../../dev}")) ==
            "promote.yaml:8:25: target path 'k8s/../../dev' leaves the repository (..)");
    }
    SUBCASE("empty") {
      CHECK(errors(replace(k_minimal, "k8s/dev}", "''}")) ==
            "promote.yaml:8:25: target path '' is empty");
    }
    SUBCASE("'..' that stays inside is normalised") {
      TempDir dir;
      CHECK(loads(dir, replace(k_minimal, "k8s/dev}", "k8s/prod/../dev}"))
                .stages[0]
                .target.kustomize == std::vector<std::string>{"k8s/dev"});
    }
    SUBCASE("through a symlink that leads out") {
      TempDir repo;
      TempDir outside;
      fs::create_directories(outside / "overlays" / "dev");
      fs::create_directory_symlink(outside.path(), repo / "k8s");
      auto result = load_text(repo, k_minimal);
      REQUIRE(result.has_error());
      CHECK(result.error().message == (repo / "promote.yaml").string() +
                                          ":8:25: target path 'k8s/dev' leads out of the "
                                          "repository through a symlink");
    }
    SUBCASE("through a symlink that stays inside") {
      TempDir repo;
      fs::create_directories(repo / "deploy" / "dev");
      fs::create_directory_symlink("deploy", repo / "k8s");
      CHECK(loads(repo, k_minimal).stages[0].target.kustomize == std::vector<std::string>{"k8s/dev"});
    }
    SUBCASE("a remote repository's symlinks are checked after the clone") {
      TempDir repo;
      TempDir outside;
      fs::create_directory_symlink(outside.path(), repo / "k8s");
      const auto pipeline = loads(
          repo,
          replace(k_minimal, "images:", "repository: {url: 'https://example.com/x.git'}\nimages:"));
      CHECK(pipeline.stages[0].target.kustomize == std::vector<std::string>{"k8s/dev"});
    }
  }

  TEST_CASE("targets of every kind") {
    TempDir dir;
    const std::string several = replace(k_minimal, "    target: {kustomize: k8s/dev}\n", R"(    target:
      kustomize: [k8s/dev, k8s/dev-eu]
      helm:
        - file: charts/shop/values-dev.yaml
          images:
            api: {repository: image.repository, tag: image.tag}
        - file: charts/other/values.yaml
          images:
            api: {image: worker.image}
      manifests: deploy/dev
      setters: [config/dev.yaml]
)");
    const auto pipeline = loads(dir, several);
    const auto& target = pipeline.stages[0].target;
    CHECK(target.kustomize == std::vector<std::string>{"k8s/dev", "k8s/dev-eu"});
    REQUIRE(target.helm.size() == 2);
    CHECK(target.helm[0].file == "charts/shop/values-dev.yaml");
    CHECK(target.helm[0].images.at("api").repository == "image.repository");
    CHECK(target.helm[0].images.at("api").tag == "image.tag");
    CHECK(target.helm[1].images.at("api").image == "worker.image");
    CHECK(target.manifests == std::vector<std::string>{"deploy/dev"});
    CHECK(target.setters == std::vector<std::string>{"config/dev.yaml"});
    CHECK(target.paths() ==
          std::vector<std::string>{"k8s/dev", "k8s/dev-eu", "charts/shop/values-dev.yaml",
                                   "charts/other/values.yaml", "deploy/dev", "config/dev.yaml"});

    SUBCASE("a single helm entry may be a map") {
      const auto one = loads(dir, replace(k_minimal, "{kustomize: k8s/dev}",
                                          "{helm: {file: v.yaml, images: {api: {tag: a.b}}}}"));
      REQUIRE(one.stages[0].target.helm.size() == 1);
      CHECK(one.stages[0].target.helm[0].images.at("api").tag == "a.b");
    }
    SUBCASE("problems") {
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{}")) ==
            "promote.yaml:8:13: 'target' must name where the stage's images live: kustomize, "
            "helm, manifests, setters or argocd");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{kustomise: k8s/dev}")) ==
            "promote.yaml:8:14: unknown field 'kustomise' in target (did you mean 'kustomize'?)");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}",
                           "{helm: {file: v.yaml, images: {apy: {tag: a.b}}}}")) ==
            "promote.yaml:8:44: target.helm[].images: the pipeline has no image 'apy' (did you "
            "mean 'api'?)");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}",
                           "{helm: {file: v.yaml, images: {api: {registry: a.r, tag: a.t}}}}")) ==
            "promote.yaml:8:49: image 'api': helm image paths: a registry path needs a repository "
            "path");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{manifests: [../x]}")) ==
            "promote.yaml:8:26: target path '../x' leaves the repository (..)");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{setters: []}")) ==
            "promote.yaml:8:23: 'target.setters' must name at least one path");
    }
  }

  TEST_CASE("Argo CD targets, helm list paths and a helm document") {
    TempDir dir;
    const auto pipeline =
        loads(dir, replace(k_minimal, "    target: {kustomize: k8s/dev}\n", R"(    target:
      argocd: [apps/dev, {path: apps/all.yaml, application: shop-dev}]
      helm:
        file: apps/all.yaml
        document: {kind: Application, name: shop-dev}
        images:
          api: {tag: "spec.source.helm.parameters[name=image.tag].value"}
)"));
    const auto& target = pipeline.stages[0].target;
    REQUIRE(target.argocd.size() == 2);
    CHECK(target.argocd[0].path == "apps/dev");
    CHECK(target.argocd[0].application.empty());
    CHECK(target.argocd[1].path == "apps/all.yaml");
    CHECK(target.argocd[1].application == "shop-dev");
    CHECK(target.argocd[1].where.to_string() == dir.path().string() + "/promote.yaml:9:26");
    REQUIRE(target.helm.size() == 1);
    CHECK(target.helm[0].document == promote::overlay::HelmDocument{"Application", "shop-dev"});
    CHECK(target.helm[0].images.at("api").tag ==
          "spec.source.helm.parameters[name=image.tag].value");
    CHECK(target.paths() == std::vector<std::string>{"apps/all.yaml", "apps/dev", "apps/all.yaml"});
    CHECK(loads(dir, replace(k_minimal, "{kustomize: k8s/dev}", "{argocd: apps/dev.yaml}"))
              .stages[0]
              .target.argocd[0]
              .path == "apps/dev.yaml");

    SUBCASE("problems") {
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{argocd: []}")) ==
            "promote.yaml:8:22: 'target.argocd' must name at least one path");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}",
                           "{argocd: {path: a.yaml, app: shop}}")) ==
            "promote.yaml:8:37: unknown field 'app' in a target.argocd entry");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{argocd: {application: x}}")) ==
            "promote.yaml:8:22: missing required field 'path' in a target.argocd entry");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}", "{argocd: [../a.yaml]}")) ==
            "promote.yaml:8:23: target path '../a.yaml' leaves the repository (..)");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}",
                           "{helm: {file: v.yaml, document: {}, images: {api: {tag: a.b}}}}")) ==
            "promote.yaml:8:45: 'target.helm[].document' must give a kind, a name or both");
      CHECK(errors(replace(k_minimal, "{kustomize: k8s/dev}",
                           "{helm: {file: v.yaml, images: {api: {tag: \"p[tag].value\"}}}}")) ==
            "promote.yaml:8:49: image 'api': helm image paths: 'p[tag].value' selects a list item "
            "with '[tag]': write an index [N] or [KEY=VALUE]");
    }
  }

  TEST_CASE("strategies: commit, and pull-request with a provider") {
    CHECK(errors(k_minimal + "    strategy: pull-request\n") ==
          "promote.yaml:9:15: strategy 'pull-request' needs repository.provider: github, gitlab, "
          "gitea or forgejo");
    CHECK(errors(k_minimal + "    strategy: push\n") ==
          "promote.yaml:9:15: 'strategy' must be 'commit' or 'pull-request', got 'push'");
    CHECK(errors(k_minimal + "    pull_request: {labels: [x]}\n") ==
          "promote.yaml:9:19: 'pull_request' is for stages with strategy: pull-request");
    TempDir dir;
    const auto pipeline =
        loads(dir, replace(k_minimal, "images:", "repository: {provider: gitlab}\nimages:") +
                       "    strategy: pull-request\n"
                       "    pull_request: {labels: [release], reviewers: [alice, bob], "
                       "superseded: keep}\n");
    const auto& stage = pipeline.stages[0];
    CHECK(stage.strategy == promote::pipeline::Strategy::pull_request);
    CHECK(stage.pull_request.labels == std::vector<std::string>{"release"});
    CHECK(stage.pull_request.reviewers == std::vector<std::string>{"alice", "bob"});
    CHECK_FALSE(stage.pull_request.close_superseded);
  }

  TEST_CASE("every problem in a file is reported at once") {
    const std::string message = errors(R"(apiVersion: promote/v2
kind: Pipeline
metadata: {name: Shop}
images:
  - {name: api, repository: ghcr.io/acme/api, tag: latest}
stages:
  - name: dev
    target: {kustomize: /srv/dev}
  - name: prod
    from: dve
    strategy: pull-request
    target: {kustomize: k8s/prod}
    gates:
      - use: soak
        with: {min: forever}
      - use: approval
)");
    CHECK(message ==
          "promote.yaml:1:13: 'apiVersion' must be 'promote/v1', got 'promote/v2'\n"
          "promote.yaml:3:18: 'metadata.name' must be lower-case letters, digits and '-' (at most "
          "63), got 'Shop'\n"
          "promote.yaml:5:47: unknown field 'tag' in an image\n"
          "promote.yaml:8:25: target path '/srv/dev' is absolute; give a path relative to the "
          "repository\n"
          "promote.yaml:11:15: strategy 'pull-request' needs repository.provider: github, gitlab, "
          "gitea or forgejo\n"
          "promote.yaml:15:21: 'min' must be a duration such as 90s, 5m, 2h or 1d, got 'forever'\n"
          "promote.yaml:16:14: unknown gate 'approval' (no built-in gate and no program "
          "promote-gate-approval in plugins/ beside the pipeline file or on PATH)\n"
          "promote.yaml:10:11: 'from' names unknown stage 'dve' (did you mean 'dev'?)");
    CHECK(std::count(message.begin(), message.end(), '\n') + 1 == 8);
  }

  TEST_CASE("escapes_root tells why a path leaves its root") {
    TempDir root;
    CHECK(promote::pipeline::escapes_root(root.path(), "k8s/overlays/dev") == "");
    CHECK(promote::pipeline::escapes_root(root.path(), ".") == "");
    CHECK(promote::pipeline::escapes_root(root.path(), "") == "is empty");
    CHECK(promote::pipeline::escapes_root(root.path(), "/k8s") ==
          "is absolute; give a path relative to the repository");
    CHECK(promote::pipeline::escapes_root(root.path(), "..") == "leaves the repository (..)");
    CHECK(promote::pipeline::escapes_root(root.path(), "a/./../..") ==
          "leaves the repository (..)");
    CHECK(promote::pipeline::escapes_root({}, "k8s/dev") == "");
    TempDir outside;
    fs::create_directories(root / "k8s");
    fs::create_directory_symlink(outside.path(), root / "k8s" / "prod");
    CHECK(promote::pipeline::escapes_root(root.path(), "k8s/prod/overlay") ==
          "leads out of the repository through a symlink");
    CHECK(promote::pipeline::escapes_root({}, "k8s/prod/overlay") == "");
  }

  TEST_CASE("scheduling fields load and are checked") {
    TempDir dir;
    const std::string stage = k_minimal +
                              "    fail_fast: false\n    max_concurrency: 2\n    gates:\n"
                              "      - use: soak\n        retries: 3\n        with: {min: 1h}\n";
    const Pipeline pipeline = loads(dir, stage);
    CHECK_FALSE(pipeline.stages[0].fail_fast);
    CHECK(pipeline.stages[0].max_concurrency == 2);
    CHECK(pipeline.stages[0].gates[0].retries == 3);
    const Pipeline defaults = loads(dir, k_minimal);
    CHECK(defaults.stages[0].fail_fast);
    CHECK(defaults.stages[0].max_concurrency == 0);
    CHECK(errors(replace(stage, "retries: 3", "retries: 11")) ==
          "promote.yaml:13:18: 'retries' must be between 0 and 10, got 11");
    CHECK(errors(replace(stage, "max_concurrency: 2", "max_concurrency: 0")) ==
          "promote.yaml:10:22: 'max_concurrency' must be at least 1, got 0");
    CHECK(errors(replace(stage, "fail_fast: false", "fail_fast: maybe")) ==
          "promote.yaml:9:16: 'fail_fast' must be true or false, got 'maybe'");
  }

  TEST_CASE("auto stages and the interval promote serve evaluates them at") {
    TempDir dir;
    const std::string text =
        replace(k_minimal, "metadata: {name: shop}\n", "metadata: {name: shop}\ninterval: 30s\n") +
        "    auto: true\n";
    const Pipeline pipeline = loads(dir, text);
    CHECK(pipeline.interval == std::chrono::seconds(30));
    CHECK(pipeline.stages[0].automatic);
    const Pipeline defaults = loads(dir, k_minimal);
    CHECK(defaults.interval == std::chrono::seconds(60));
    CHECK_FALSE(defaults.stages[0].automatic);
    CHECK(errors(replace(text, "interval: 30s", "interval: 5s")) ==
          "promote.yaml:4:11: 'interval' must be at least 10s, got '5s'");
    CHECK(errors(replace(text, "auto: true", "auto: always")) ==
          "promote.yaml:10:11: 'auto' must be true or false, got 'always'");
  }
}

TEST_SUITE("pipeline") {
  TEST_CASE("trust: signed records need the file of allowed signers, beside the pipeline") {
    TempDir dir;
    CHECK_FALSE(loads(dir, k_minimal).trust.signed_records);
    write_text(dir / ".promote-signers", "ci@acme.example ssh-ed25519 AAAA\n");
    const Pipeline trusting =
        loads(dir, k_minimal + "trust: {signed: true, allowed_signers: .promote-signers}\n");
    CHECK(trusting.trust.signed_records);
    CHECK(trusting.trust.allowed_signers == dir / ".promote-signers");

    CHECK(errors(k_minimal + "trust: {signed: true}\n") ==
          "promote.yaml:9:8: 'trust.signed: true' needs 'trust.allowed_signers': the file of the "
          "keys that may sign promote's records");
    CHECK(errors(k_minimal + "trust: {signed: true, allowed_signers: nowhere}\n")
              .find("promote.yaml:9:40: 'trust.allowed_signers': no file ") == 0);
    CHECK(errors(k_minimal + "trust: {allowed_signers: x}\n") ==
          "promote.yaml:9:26: 'trust.allowed_signers' is read only with 'trust.signed: true'");
    CHECK(errors(k_minimal + "trust: {signed: yes please}\n").find("promote.yaml:9:17:") == 0);
    CHECK(errors(k_minimal + "trust: {keys: x}\n").find("promote.yaml:9:") == 0);
  }
}
