#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <string>
#include <utility>
#include <vector>

#include "engine/overlay/carry.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::overlay::carried_values;
using promote::overlay::carry_values;

const std::string k_source = "envs/staging/values.yaml";
const std::string k_target = "envs/prod/values.yaml";

std::string values_of(std::string_view text, const std::vector<std::string>& keys) {
  auto values = carried_values(text, "values.yaml", keys);
  REQUIRE_MESSAGE(values.has_value(), values.error().message);
  return *values;
}

/// Carries and checks what every carry must hold: the keys hold the source's values, and the
/// same carry made again changes nothing.
std::pair<std::string, int> carry_ok(std::string_view source, std::string_view target,
                                     const std::vector<std::string>& keys) {
  auto carried = carry_values(source, k_source, target, k_target, keys);
  REQUIRE_MESSAGE(carried.has_value(), carried.error().message);
  CHECK(values_of(carried->first, keys) == values_of(source, keys));
  CHECK((carried->second == 0) == (carried->first == target));
  auto again = carry_values(source, k_source, carried->first, k_target, keys);
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  CHECK(*again == std::pair{carried->first, 0});
  return *carried;
}

std::string carry_error(std::string_view source, std::string_view target,
                        const std::vector<std::string>& keys) {
  auto carried = carry_values(source, k_source, target, k_target, keys);
  REQUIRE_MESSAGE(carried.has_error(), "carried to: " << carried->first);
  CHECK(carried.error().kind == promote::ErrorKind::input);
  return carried.error().message;
}

// Per-environment values files in the shape of codefresh-contrib/helm-promotion-sample-app
// (chart/values-staging.yaml, chart/values-prod.yaml) laid out one directory per environment as
// kostis-codefresh/gitops-environment-promotion does (envs/<env>/...): the staging file indents
// by 2, the production file by 4.
const std::string k_staging_values = R"(# Values for the staging environment.
replicaCount: 1

image:
  repository: ghcr.io/acme/shop
  pullPolicy: Always # staging pulls on every start
  # Overrides the image tag whose default is the chart appVersion.
  tag: "2.4.1"

config:
  # Flags under test in staging
  featureFlags:
    # the new checkout flow (SHOP-123)
    newCheckout: true
    search:
      engine: opensearch   # was elasticsearch
      fuzzy: true
    # darkMode: false
  logLevel: debug

## Application level settings
appMode: staging
)";

const std::string k_prod_values = R"(# Values for production.
replicaCount: 3

image:
    repository: ghcr.io/acme/shop
    pullPolicy: IfNotPresent
    tag: "2.3.0"

config:
    featureFlags:
        newCheckout: false
        # search is not enabled in production yet
    logLevel: info # keep production quiet

## Application level settings
appMode: production
)";

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("carried_values gives the values at the keys as canonical JSON") {
    CHECK(
        values_of(k_staging_values, {"image.pullPolicy", "config.featureFlags", "replicaCount"}) ==
        R"({"config.featureFlags":{"newCheckout":"true","search":{"engine":"opensearch",)"
        R"("fuzzy":"true"}},"image.pullPolicy":"Always","replicaCount":"1"})");
    // However a value is written, the JSON is the same.
    const std::string block = "a:\n  b:\n    x: '1'\n    y: [p, \"q\"]\n    z: ~\n";
    const std::string flow = "a: {b: {z: null, y: [\"p\", q], x: 1}}\n";
    CHECK(values_of(block, {"a.b"}) == R"({"a.b":{"x":"1","y":["p","q"],"z":null}})");
    CHECK(values_of(flow, {"a.b"}) == values_of(block, {"a.b"}));
    CHECK(values_of("a: \"\"\nb:\n", {"a", "b"}) == R"({"a":"","b":null})");
    // The first document that is not empty counts; aliases are followed.
    CHECK(values_of("# nothing here\n---\n---\nbase: &b {x: 1}\nuse: *b\n", {"use.x"}) ==
          R"({"use.x":"1"})");
    CHECK(values_of("a: 1\n", {}) == "{}");
  }

  TEST_CASE("carried_values fails on malformed YAML, a path through a non-map and an absent key") {
    const auto error = [](std::string_view text, const std::vector<std::string>& keys) {
      auto values = carried_values(text, "values.yaml", keys);
      REQUIRE_MESSAGE(values.has_error(), "values: " << *values);
      CHECK(values.error().kind == promote::ErrorKind::input);
      return values.error().message;
    };
    CHECK(error("a: [1, 2\n", {"a"}) == "values.yaml:2:1: end of sequence flow not found");
    CHECK(error("config:\n  - a\n", {"config.featureFlags"}) ==
          "values.yaml:2:3: config.featureFlags goes through config, which is a list, not a map");
    CHECK(error("image: ghcr.io/acme/shop:1.0\n", {"image.pullPolicy"}) ==
          "values.yaml:1:8: image.pullPolicy goes through image, which is a scalar, not a map");
    CHECK(error("x: 1\nconfig:\n", {"config.featureFlags"}) ==
          "values.yaml:2:1: config.featureFlags goes through config, which is empty, not a map");
    CHECK(error("- a\n", {"config"}) ==
          "values.yaml:1:1: config goes through the document, which is a list, not a map");
    CHECK(error("config:\n  logLevel: info\n", {"config.featureFlags"}) ==
          "values.yaml:2:3: config.featureFlags is absent: config has no key featureFlags, and "
          "promote does not add keys");
    CHECK(error("image: {}\n", {"config"}) ==
          "values.yaml:1:1: config is absent: the top-level map has no key config, and promote "
          "does not add keys");
    CHECK(error("# no values yet\n", {"config"}) ==
          "values.yaml:1:1: config is absent: the file holds no YAML document");
    CHECK(error("config:\n  a: 1\n", {"config..a"}) ==
          "values.yaml:2:3: config..a is absent: config has no key , and promote does not add "
          "keys");
  }

  TEST_CASE("carry_values carries nested maps and scalars between environments byte for byte") {
    const auto [carried, count] =
        carry_ok(k_staging_values, k_prod_values, {"config.featureFlags", "image.pullPolicy"});
    CHECK(count == 2);
    // The source's block, its comments included, lands where the target's block was, 4 spaces
    // deep; the target's comment after its block and on its key lines stay.
    CHECK(carried == R"(# Values for production.
replicaCount: 3

image:
    repository: ghcr.io/acme/shop
    pullPolicy: Always
    tag: "2.3.0"

config:
    featureFlags:
        # the new checkout flow (SHOP-123)
        newCheckout: true
        search:
          engine: opensearch   # was elasticsearch
          fuzzy: true
        # search is not enabled in production yet
    logLevel: info # keep production quiet

## Application level settings
appMode: production
)");
  }

  TEST_CASE("carry_values carries from a 4-space file into a 2-space file") {
    const std::string source =
        "config:\n    featureFlags:\n        a: true\n        b:\n"
        "            - x\n            - y\n    logLevel: info\n";
    const std::string target =
        "config:\n  featureFlags:\n    a: false\n  logLevel: info\nother: 1\n";
    CHECK(carry_ok(source, target, {"config.featureFlags"}) ==
          std::pair<std::string, int>{"config:\n  featureFlags:\n    a: true\n    b:\n"
                                      "        - x\n        - y\n  logLevel: info\nother: 1\n",
                                      1});
  }

  TEST_CASE("carry_values carries a list between indented and unindented sequences") {
    // envs/qa/settings.yml and envs/staging-us/settings.yml of
    // kostis-codefresh/gitops-environment-promotion: a Deployment patch with a leading '---',
    // sequences at their key's column, blanks after some values and no final newline.
    const std::string qa =
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: simple-deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: webserver-simple\n        env:\n"
        "        - name: UI_THEME\n          value: \"dark\"\n"
        "        - name: CACHE_SIZE\n          value: \"2048kb\"    \n"
        "        - name: N_BUCKETS\n          value: \"42\"          ";
    // The same file written with indented sequences.
    const std::string staging =
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        "  name: simple-deployment\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: webserver-simple\n"
        "          env:\n            - name: UI_THEME\n"
        "              value: \"light\"\n  replicas: 2\n";
    const std::vector<std::string> keys = {"spec.template.spec.containers"};
    SUBCASE("into indented sequences the list moves right") {
      CHECK(carry_ok(qa, staging, keys) ==
            std::pair<std::string, int>{
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                "  name: simple-deployment\nspec:\n  template:\n    spec:\n"
                "      containers:\n        - name: webserver-simple\n          env:\n"
                "          - name: UI_THEME\n            value: \"dark\"\n"
                "          - name: CACHE_SIZE\n            value: \"2048kb\"    \n"
                "          - name: N_BUCKETS\n            value: \"42\"          \n"
                "  replicas: 2\n",
                1});
    }
    SUBCASE("into unindented sequences the list moves left, the missing final newline stays") {
      std::string prod = qa;
      prod.replace(prod.find("\"dark\""), 6, "\"light\"");
      CHECK(carry_ok(staging, prod, keys) ==
            std::pair<std::string, int>{
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                "  name: simple-deployment\nspec:\n  template:\n    spec:\n"
                "      containers:\n      - name: webserver-simple\n        env:\n"
                "          - name: UI_THEME\n            value: \"light\"",
                1});
    }
    SUBCASE("a list into an empty flow list takes the target's sequence style") {
      const std::string source = "tolerations:\n  - key: dedicated\n    value: shop\n";
      CHECK(carry_ok(source, "args:\n- a\ntolerations: []\n", {"tolerations"}).first ==
            "args:\n- a\ntolerations:\n- key: dedicated\n  value: shop\n");
      CHECK(carry_ok(source, "args:\n    - a\ntolerations: []\n", {"tolerations"}).first ==
            "args:\n    - a\ntolerations:\n    - key: dedicated\n      value: shop\n");
      // With no list in the target, the source's style.
      CHECK(carry_ok(source, "tolerations: []\n", {"tolerations"}).first ==
            "tolerations:\n" + source.substr(13));
    }
  }

  TEST_CASE("carry_values turns a flow value or scalar into a block and back") {
    const std::string block =
        "config:\n  flags:\n    beta: true\n    gamma: false\n  level: info\n";
    const std::string flow = "config:\n  flags: {} # none yet\n  level: info\n";
    CHECK(carry_ok(block, flow, {"config.flags"}).first ==
          "config:\n  flags: # none yet\n    beta: true\n    gamma: false\n  level: info\n");
    CHECK(carry_ok("config:\n  flags: {beta: true}\n", block, {"config.flags"}).first ==
          "config:\n  flags: {beta: true}\n  level: info\n");
    CHECK(carry_ok("config:\n  flags: {beta: true}\n", "config:\n  flags: # the flags\n    a: 1\n",
                   {"config.flags"})
              .first == "config:\n  flags: {beta: true} # the flags\n");
    // podinfo's values.yaml (stefanprodan/podinfo): an empty map, its example commented out below.
    const std::string podinfo = "podDisruptionBudget: {}\n#  maxUnavailable: 1\n";
    CHECK(carry_ok("podDisruptionBudget:\n  maxUnavailable: 1\n", podinfo, {"podDisruptionBudget"})
              .first == "podDisruptionBudget:\n  maxUnavailable: 1\n#  maxUnavailable: 1\n");
    CHECK(carry_ok("resources:\n  limits:\n    cpu: 1\n", "resources: ~\nx: 1\n", {"resources"})
              .first == "resources:\n  limits:\n    cpu: 1\nx: 1\n");
    CHECK(carry_ok("resources:\n", "resources:\n  limits:\n    cpu: 1\nx: 1\n", {"resources"})
              .first == "resources:\nx: 1\n");
    CHECK(carry_ok("hpa:\n  cpu: 99\n", "hpa:\n  cpu:\n  memory:\n", {"hpa.cpu"}).first ==
          "hpa:\n  cpu: 99\n  memory:\n");
    CHECK(carry_ok("hpa:\n  cpu:\n", "hpa:\n  cpu: 99 # percent\n", {"hpa.cpu"}).first ==
          "hpa:\n  cpu: # percent\n");
    // A multi-line flow list and a multi-line quoted string keep their lines, moved with the key.
    CHECK(carry_ok("a:\n  args: [--port,\n    8080]\n", "a:\n    args: []\n", {"a.args"}).first ==
          "a:\n    args: [--port,\n      8080]\n");
    CHECK(carry_ok("note: \"first\n  second\"\n", "note: x\n", {"note"}).first ==
          "note: \"first\n  second\"\n");
  }

  TEST_CASE("carry_values carries block scalars with their text") {
    const std::string source =
        "configFiles:\n  other: x\n  app.conf: |\n"
        "    # looks like a comment\n    listen 8080\n\n"
        "    # the last line looks like one too\nnext: 1\n";
    const std::string target =
        "configFiles:\n    other: x\n    app.conf: |\n        listen 80\nnext: 2\n";
    // A key with a dot cannot be named: app.conf is carried as part of its map, which moves
    // right as a whole.
    CHECK(carry_ok(source, target, {"configFiles"}).first ==
          "configFiles:\n    other: x\n    app.conf: |\n      # looks like a comment\n"
          "      listen 8080\n\n      # the last line looks like one too\nnext: 2\n");
    CHECK(carry_ok("script: |-\n  echo hi\n  # done\nx: 1\n", "script: |\n    echo\nx: 2\n",
                   {"script"})
              .first == "script: |-\n    echo hi\n    # done\nx: 2\n");
    // Kept trailing lines are part of the value; an explicit indentation stays relative.
    CHECK(carry_ok("a:\n  s: |+\n    x\n\n  t: 1\n", "a:\n    s: |\n        y\n    t: 1\n", {"a.s"})
              .first == "a:\n    s: |+\n        x\n\n    t: 1\n");
    CHECK(carry_ok("a: |+\n\n\nb: 1\n", "a: x\nb: 2\n", {"a"}).first == "a: |+\n\n\nb: 2\n");
    CHECK(carry_ok("a:\n  s: |2\n     x\n", "a:\n      s: old\n", {"a.s"}).first ==
          "a:\n      s: |2\n         x\n");
    CHECK(carry_ok("s: text\n", "s: >-\n  folded\n  text\nt: 1\n", {"s"}).first ==
          "s: text\nt: 1\n");
  }

  TEST_CASE("carry_values carries a scalar inside a flow map") {
    const std::string target = "image: {repository: ghcr.io/acme/shop, pullPolicy: IfNotPresent}\n";
    CHECK(carry_ok("image:\n  pullPolicy: \"Always\"\n", target, {"image.pullPolicy"}).first ==
          "image: {repository: ghcr.io/acme/shop, pullPolicy: \"Always\"}\n");
    CHECK(
        carry_ok("image: {pullPolicy: [a, {b: c}], x: 1}\n", target, {"image.pullPolicy"}).first ==
        "image: {repository: ghcr.io/acme/shop, pullPolicy: [a, {b: c}]}\n");
  }

  TEST_CASE("carry_values keeps the target's line endings and a missing final newline") {
    const std::string source = "a:\n  flags:\n    x: 1\n    y: 2\nb: 3\n";
    CHECK(carry_ok(source, "a:\r\n  flags: {}\r\nb: 3\r\n", {"a.flags", "b"}) ==
          std::pair<std::string, int>{"a:\r\n  flags:\r\n    x: 1\r\n    y: 2\r\nb: 3\r\n", 1});
    CHECK(carry_ok(source, "a:\r\n  flags: {}", {"a.flags"}).first ==
          "a:\r\n  flags:\r\n    x: 1\r\n    y: 2");
    CHECK(carry_ok("a:\r\n  flags: {z: 1}\r\n", "a:\n  flags:\n    x: 1\n  other: 2", {"a.flags"})
              .first == "a:\n  flags: {z: 1}\n  other: 2");
    CHECK(carry_ok("a:\r\n  flags:\r\n    z: 1\r\n", "b: 0\na:\n  flags:\n    x: 1", {"a.flags"})
              .first == "b: 0\na:\n  flags:\n    z: 1");
  }

  TEST_CASE("carry_values leaves the target as it is when the values already agree") {
    const std::string target =
        "image:\n    pullPolicy: 'Always'   # quoted here\nconfig:\n"
        "    flags: {a: true, b: [1, 2]}\n";
    const std::string source =
        "config:\n  flags:\n    b:\n    - 1\n    - \"2\"\n    a: true\n"
        "image:\n  pullPolicy: Always\n";
    CHECK(carry_ok(source, target, {"image.pullPolicy", "config.flags"}) == std::pair{target, 0});
    // Only the value that differs is written.
    std::string changed = source;
    changed.replace(changed.find("a: true"), 7, "a: false");
    CHECK(carry_ok(changed, target, {"image.pullPolicy", "config.flags"}) ==
          std::pair<std::string, int>{"image:\n    pullPolicy: 'Always'   # quoted here\n"
                                      "config:\n    flags:\n        b:\n        - 1\n"
                                      "        - \"2\"\n        a: false\n",
                                      1});
  }

  TEST_CASE("carry_values counts each key once and carries a key inside another with it") {
    const std::string source = "config:\n  flags:\n    a: 1\n  level: debug\n";
    const std::string target = "config:\n  flags:\n    a: 2\n  level: info\n";
    CHECK(carry_ok(source, target, {"config", "config.flags", "config", "config.level"}) ==
          std::pair{source, 3});
    CHECK(carry_ok(source, target, {"config.level", "config.level"}) ==
          std::pair<std::string, int>{"config:\n  flags:\n    a: 2\n  level: debug\n", 1});
  }

  TEST_CASE("carry_values refuses what it cannot carry, naming file, line and column") {
    const std::string target = "config:\n  flags:\n    a: 1\n";
    const std::vector<std::string> flags = {"config.flags"};
    CHECK(carry_error("config:\n  level: info\n", target, flags) ==
          "envs/staging/values.yaml:2:3: config.flags is absent: config has no key flags, and "
          "promote does not add keys");
    CHECK(carry_error(target, "config: {}\n", flags) ==
          "envs/prod/values.yaml:1:9: config.flags is absent: config has no key flags, and "
          "promote does not add keys");
    CHECK(carry_error(target, "config:\n  flags: [1\n", flags) ==
          "envs/prod/values.yaml:3:1: end of sequence flow not found");
    CHECK(carry_error("config:\n  flags: &f\n    a: 2\n", target, flags) ==
          "envs/staging/values.yaml:2:10: cannot carry config.flags: its value holds an anchor "
          "(&f), and promote does not carry anchors or aliases");
    CHECK(carry_error("base: &b {a: 2}\nconfig:\n  flags:\n    <<: *b\n", target, flags) ==
          "envs/staging/values.yaml:4:9: cannot carry config.flags: its value holds an alias "
          "(*b), and promote does not carry anchors or aliases");
    CHECK(carry_error(target, "config:\n  flags: !!map\n    a: 2\n", flags) ==
          "envs/prod/values.yaml:2:10: cannot carry config.flags: its value holds an explicit "
          "tag (!!map), and promote does not carry tags");
    CHECK(carry_error(target, "base: &b\n  flags: {a: 1}\nconfig: *b\n", flags) ==
          "envs/prod/values.yaml:3:9: cannot carry config.flags: the path to it goes through an "
          "alias (*b)");
    CHECK(carry_error(target, "config: &c\n  flags: {a: 1}\nprod: *c\n", flags) ==
          "envs/prod/values.yaml:1:9: cannot carry config.flags: the path to it holds an anchor "
          "(&c), which aliases elsewhere may share");
    CHECK(carry_error(target, "config: {flags: {a: 2}}\n", flags) ==
          "envs/prod/values.yaml:1:17: cannot carry config.flags: its value sits in a flow "
          "collection ({...} or [...]) and the source's value spans lines");
    CHECK(carry_error("config:\n  flags: a,b\n", "config: {flags: x}\n", flags) ==
          "envs/prod/values.yaml:1:17: cannot carry config.flags: its value sits in a flow "
          "collection ({...} or [...]) where the source's value (a,b) would read differently");
    CHECK(carry_error("config: {flags: [a,\n  b]}\n", target, flags) ==
          "envs/staging/values.yaml:1:17: cannot carry config.flags: its value spans lines "
          "inside a flow collection");
    CHECK(carry_error("config:\n  ? flags\n  : {a: 2}\n", target, flags) ==
          "envs/staging/values.yaml:2:5: cannot carry config.flags: its key is not a plain or "
          "quoted scalar followed by ':' at the start of a line");
    // Lines less indented than the value: a quoted string's next line, in two places.
    CHECK(carry_error("config:\n  flags:\n    a: \"one\n  two\"\n", target, flags) ==
          "envs/staging/values.yaml:4:3: cannot carry config.flags: its value holds a line less "
          "indented than itself");
    CHECK(carry_error("config:\n  flags:\n    a: \"one\ntwo\"\n  b: 1\n", target, flags) ==
          "envs/staging/values.yaml:4:1: cannot carry config.flags: its value holds a line less "
          "indented than itself");
  }

  TEST_CASE("carry_values refuses text that would read differently once moved") {
    const std::vector<std::string> flags = {"config.flags"};
    const std::string target = "config:\n  flags:\n    a: 1\n  level: info\n";
    // yaml-cpp reads these, YAML does not: a key without its ':', a value not below its key, a
    // string never closed, a control character.
    CHECK(carry_error("config:\n  flags:\n    a: 2\n    b\n", target, flags) ==
          "envs/staging/values.yaml:4:5: cannot carry config.flags: this key is not a plain or "
          "quoted scalar followed by ':' on its line");
    CHECK(carry_error(target, "config:\n  flags:\n    a: 2\nlast\n", flags) ==
          "envs/prod/values.yaml:4:1: cannot carry config.flags: this key is not a plain or "
          "quoted scalar followed by ':' on its line");
    CHECK(carry_error("config:\n  flags:\n    a:\n    [1, 2]\n", target, flags) ==
          "envs/staging/values.yaml:4:5: cannot carry config.flags: this value is not indented "
          "below its key");
    CHECK(carry_error("config:\n  flags:\n    a: \"2\n", target, flags) ==
          "envs/staging/values.yaml:3:8: cannot carry config.flags: its value holds a quoted "
          "string that is never closed");
    CHECK(carry_error("config:\n  flags:\n    a: 2\x01\n", target, flags) ==
          "envs/staging/values.yaml:3:9: cannot carry config.flags: its value holds a control "
          "character, which YAML does not allow");
    // A block scalar's last line break and kept blank lines are part of its text.
    CHECK(carry_error("config:\n  flags: |\n    a", target, flags) ==
          "envs/prod/values.yaml:2:8: cannot carry config.flags: the source's value ends in a "
          "block scalar (| or >) whose text would gain or lose its final line break at the end "
          "of a file");
    CHECK(carry_error("config:\n  flags: |+\n    a\n", "config:\n  flags: x\n\n  level: 1\n",
                      flags) ==
          "envs/prod/values.yaml:2:8: cannot carry config.flags: the source's value ends in a "
          "block scalar (| or >) whose text would take in the lines after the target's value");
    CHECK(
        carry_error("config:\n  flags: |\n    a\n", "config:\n  flags: x\n    # old: y\n", flags) ==
        "envs/prod/values.yaml:2:8: cannot carry config.flags: the source's value ends in a "
        "block scalar (| or >) whose text would take in the lines after the target's value");
    CHECK(carry_error("config:\n  flags: one\n    two\n", "config:\n  flags: x # why\n", flags) ==
          "envs/prod/values.yaml:2:11: cannot carry config.flags: the source's value goes on "
          "below its key's line, and a comment ends the target's");
    // An empty value written into a flow map reads as null there.
    CHECK(carry_ok("a:\n  b:\n", "a: {b: 1, c: 2}\n", {"a.b"}).first == "a: {b: ~, c: 2}\n");
  }

  TEST_CASE("carry_values carries between podinfo's values files and back byte for byte" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "helm/stefanprodan__podinfo/charts/podinfo";
    if (!fs::exists(dir / "values.yaml") || !fs::exists(dir / "values-prod.yaml")) {
      MESSAGE("skipped: no podinfo values files under " << dir);
      return;
    }
    const std::string dev = promote::test::read_text(dir / "values.yaml");
    const std::string prod = promote::test::read_text(dir / "values-prod.yaml");
    // Every top-level and second-level key the two files share.
    const YAML::Node a = YAML::Load(dev);
    const YAML::Node b = YAML::Load(prod);
    std::vector<std::string> keys;
    for (const auto& entry : a) {
      const std::string key = entry.first.Scalar();
      if (!b[key]) {
        continue;
      }
      keys.push_back(key);
      if (entry.second.IsMap() && b[key].IsMap()) {
        for (const auto& inner : entry.second) {
          if (b[key][inner.first.Scalar()]) {
            keys.push_back(key + "." + inner.first.Scalar());
          }
        }
      }
    }
    REQUIRE(keys.size() > 40);
    const auto [carried, count] = carry_ok(dev, prod, keys);
    CHECK(count > 10);
    const auto [back, count_back] = carry_ok(prod, carried, keys);
    CHECK(back == prod);
    CHECK(count_back == count);
  }

  TEST_CASE("carry_values carries every corpus Helm values file into itself without a change" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "helm";
    if (!fs::exists(dir)) {
      MESSAGE("skipped: no Helm values files under " << dir);
      return;
    }
    int files = 0;
    for (const auto& item : fs::recursive_directory_iterator(dir)) {
      if (!item.is_regular_file() || item.path().extension() != ".yaml") {
        continue;
      }
      CAPTURE(item.path());
      const std::string text = promote::test::read_text(item.path());
      std::vector<std::string> keys;
      for (const auto& entry : YAML::Load(text)) {
        keys.push_back(entry.first.Scalar());
      }
      auto carried = carry_values(text, "a.yaml", text, "b.yaml", keys);
      REQUIRE_MESSAGE(carried.has_value(), carried.error().message);
      CHECK(*carried == std::pair{text, 0});
      ++files;
    }
    CHECK(files > 0);
  }
}
