// A stage's `carry:`: the files (or keys) it takes from its source stage with the release.
#include <doctest/doctest.h>

#include <string>

#include "engine/pipeline/pipeline.hpp"
#include "tests/pipeline/load_text.hpp"

namespace {

using promote::pipeline::Pipeline;
using promote::test::TempDir;

// Three stages in directories envs/<stage>, in the layout of
// kostis-codefresh/gitops-environment-promotion (a settings.yml patch per environment).
std::string pipeline_with(const std::string& staging, const std::string& prod = "") {
  return "apiVersion: promote/v1\n"
         "kind: Pipeline\n"
         "metadata: {name: app}\n"
         "images:\n"
         "  - {name: app, repository: ghcr.io/acme/app}\n"
         "stages:\n"
         "  - name: qa\n"
         "    target: {kustomize: envs/qa}\n"
         "  - name: staging\n"
         "    from: qa\n"
         "    target: {kustomize: envs/staging}\n" +
         staging +
         "  - name: prod\n"
         "    from: staging\n"
         "    target: {kustomize: envs/prod}\n" +
         prod;
}

Pipeline loads(const TempDir& dir, const std::string& text) {
  auto loaded = promote::test::load_text(dir, text);
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
  return std::move(*loaded);
}

std::string errors(const std::string& text) {
  return promote::test::load_errors(text);
}

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("carry: a pattern, a pair and keys load with their stage's paths") {
    TempDir dir;
    const Pipeline pipeline = loads(
        dir, pipeline_with("    carry:\n"
                           "      - envs/{stage}/settings.yml\n"
                           "      - {from: config/qa.env, to: config/staging.env, name: env}\n"
                           "      - file: envs/{stage}/values.yaml\n"
                           "        keys: [config.featureFlags, image.pullPolicy]\n"
                           "        overwrite: true\n",
                           "    carry: envs/{stage}/settings.yml\n"));
    const auto& staging = pipeline.stages[1].carry;
    REQUIRE(staging.size() == 3);
    CHECK(staging[0].name == "envs/{stage}/settings.yml");
    CHECK(staging[0].source == "envs/qa/settings.yml");
    CHECK(staging[0].target == "envs/staging/settings.yml");
    CHECK(staging[0].keys.empty());
    CHECK_FALSE(staging[0].overwrite);
    CHECK(staging[1].name == "env");
    CHECK(staging[1].source == "config/qa.env");
    CHECK(staging[1].target == "config/staging.env");
    CHECK(staging[2].name == "envs/{stage}/values.yaml");
    CHECK(staging[2].source == "envs/qa/values.yaml");
    CHECK(staging[2].keys == std::vector<std::string>{"config.featureFlags", "image.pullPolicy"});
    CHECK(staging[2].overwrite);
    const auto& prod = pipeline.stages[2].carry;
    REQUIRE(prod.size() == 1);
    CHECK(prod[0].source == "envs/staging/settings.yml");
    CHECK(prod[0].target == "envs/prod/settings.yml");

    // What each stage holds: qa what staging takes from it; staging its own and what prod
    // takes (the same settings file under one name, once).
    const auto qa = pipeline.carried_in(pipeline.stages[0]);
    REQUIRE(qa.size() == 3);
    CHECK(qa[0].path == "envs/qa/settings.yml");
    CHECK(qa[1].path == "config/qa.env");
    CHECK(qa[2].keys.size() == 2);
    const auto held = pipeline.carried_in(pipeline.stages[1]);
    CHECK(held.size() == 3);
    CHECK(pipeline.carried_in(pipeline.stages[2]).size() == 1);
  }

  TEST_CASE("carry: what cannot be carried is refused where it is written") {
    CHECK(errors(pipeline_with("    carry: envs/staging/settings.yml\n")) ==
          "promote.yaml:12:12: carried file 'envs/staging/settings.yml' has no {stage} in its "
          "path and no 'to': it would be carried onto itself; write the stage's directory as "
          "{stage} (envs/{stage}/settings.yaml) or give 'to'");
    CHECK(errors(pipeline_with("    carry: {from: a.env, to: b.env}\n")) ==
          "promote.yaml:12:30: a carried pair needs a 'name': the release knows the file by it "
          "in every stage");
    CHECK(errors(pipeline_with("    carry: {from: a.env, to: a.env, name: env}\n")) ==
          "promote.yaml:12:30: carried file 'a.env' would be carried onto itself");
    CHECK(errors(pipeline_with("    carry: {file: 'x/{stage}.yaml', from: 'y/{stage}.yaml'}\n")) ==
          "promote.yaml:12:19: a carry entry takes 'from' or 'file', not both");
    CHECK(errors(pipeline_with("    carry: {file: 'x/{stage}.yaml', key: [a]}\n")) ==
          "promote.yaml:12:37: unknown field 'key' in a carry entry (did you mean 'keys'?)");
    CHECK(errors(pipeline_with("    carry: {file: 'x/{stage}.yaml', keys: [a, a..b]}\n")) ==
          "promote.yaml:12:43: 'carry[].keys' must be dotted paths (config.featureFlags), got "
          "'a..b'");
    CHECK(errors(pipeline_with("    carry: {from: '../{stage}.yaml'}\n")) ==
          "promote.yaml:12:19: target path '../qa.yaml' leaves the repository (..)\n"
          "promote.yaml:12:19: target path '../staging.yaml' leaves the repository (..)");
    CHECK(errors(pipeline_with("    carry: {from: 'x: {stage}', name: 'a: b'}\n")) ==
          "promote.yaml:12:39: 'carry[].name' must be one line without ': ' or surrounding "
          "spaces, as a commit line holds it");
    CHECK(errors(pipeline_with(
              "    carry: ['s/{stage}.yml', {file: 's/{stage}.yml', keys: [a]}]\n")) ==
          "promote.yaml:12:30: stage 'staging' carries 's/{stage}.yml' twice (first at "
          "promote.yaml:12:13); give one a different 'name'");
    CHECK(errors(pipeline_with(
              "    carry: ['s/{stage}.yml', {file: 's/{stage}.yml', keys: [a], name: flags}]\n")) ==
          "promote.yaml:12:30: stage 'staging' carries into s/staging.yml twice (first at "
          "promote.yaml:12:13); a file carried whole cannot also be carried key by key");
  }

  TEST_CASE("carry: a stage without a source has nothing to carry from") {
    const std::string text = pipeline_with("");
    const std::string qa = "  - name: qa\n    target: {kustomize: envs/qa}\n";
    std::string with_carry = text;
    with_carry.replace(with_carry.find(qa), qa.size(),
                       qa + "    carry: envs/{stage}/settings.yml\n");
    CHECK(errors(with_carry) ==
          "promote.yaml:9:12: 'carry' is for stages with 'from': stage 'qa' has no source "
          "stage to carry from");
  }

  TEST_CASE("carry: one name is one file in the stage two carries share") {
    // staging carries settings.yml into itself; prod carries another file of staging under
    // the same name.
    CHECK(errors(pipeline_with("    carry: envs/{stage}/settings.yml\n",
                               "    carry:\n"
                               "      - {from: envs/staging/other.yml, to: envs/prod/settings.yml,"
                               " name: 'envs/{stage}/settings.yml'}\n")) ==
          "promote.yaml:17:9: carried file 'envs/{stage}/settings.yml' is envs/staging/other.yml "
          "in stage 'staging' here, but envs/staging/settings.yml at promote.yaml:12:12; one name "
          "is one file in a stage: give one a different 'name'");
  }
}
