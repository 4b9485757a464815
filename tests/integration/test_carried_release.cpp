// A release of an image, a Helm chart and carried configuration, qa -> staging -> prod, in the
// layout of kostis-codefresh/gitops-environment-promotion (a kustomize overlay per environment
// directory, envs/<env>/{kustomization,version,settings}.yml, whose settings.yml patch travels
// with the release) with a Flux HelmRelease per environment beside it (as in
// fluxcd/flux2-kustomize-helm-example). Gates judge the whole release, a hand edit of a carried
// file is a conflict, a rollback puts the configuration back, and status, the history and the
// commits agree at every step.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/util/hash.hpp"
#include "tests/integration/release_json.hpp"
#include "tests/integration/scratch_repo.hpp"

namespace {

using nlohmann::json;
using promote::test::ScratchRepo;
using promote::test::sh;
using promote::test::write_text;

const char* const k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: simple-env-app
images:
  - name: app
    repository: ghcr.io/acme/simple-env-app
charts:
  - name: redis
    repository: oci://registry-1.docker.io/bitnamicharts
stages:
  - name: qa
    target:
      kustomize: envs/qa
      charts: releases/qa/redis.yaml
  - name: staging
    from: qa
    carry: envs/{stage}/settings.yml
    target:
      kustomize: envs/staging
      charts: releases/staging/redis.yaml
    gates:
      - use: junit
        with: { path: reports/junit.xml }
  - name: prod
    from: staging
    carry: envs/{stage}/settings.yml
    target:
      kustomize: envs/prod
      charts: releases/prod/redis.yaml
    gates:
      - use: approval
        with: { min: 1 }
)";

const char* const k_base = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: simple-deployment
spec:
  replicas: 1
  selector:
    matchLabels:
      app: simple-env-app
  template:
    metadata:
      labels:
        app: simple-env-app
    spec:
      containers:
      - name: webserver-simple
        image: ghcr.io/acme/simple-env-app:1.0
        ports:
        - containerPort: 8080
)";

std::string overlay(const std::string& env) {
  return "apiVersion: kustomize.config.k8s.io/v1beta1\n"
         "kind: Kustomization\n"
         "\n"
         "namespace: " +
         env + "\nnamePrefix: " + env +
         "-\n"
         "\n"
         "resources:\n"
         "- ../../base\n"
         "\n"
         "patches:\n"
         "- path: version.yml\n"
         "- path: settings.yml\n";
}

std::string version(const std::string& tag) {
  return "apiVersion: apps/v1\n"
         "kind: Deployment\n"
         "metadata:\n"
         "  name: simple-deployment\n"
         "spec:\n"
         "  template:\n"
         "    spec:\n"
         "      containers:\n"
         "      - name: webserver-simple\n"
         "        image: ghcr.io/acme/simple-env-app:" +
         tag + "\n";
}

// The environment's settings: what the application reads, as a strategic-merge patch.
std::string settings(const std::string& theme, const std::string& cache) {
  return "---\n"
         "apiVersion: apps/v1\n"
         "kind: Deployment\n"
         "metadata:\n"
         "  name: simple-deployment\n"
         "spec:\n"
         "  template:\n"
         "    spec:\n"
         "      containers:\n"
         "      - name: webserver-simple\n"
         "        env:\n"
         "        - name: UI_THEME\n"
         "          value: \"" +
         theme +
         "\"\n"
         "        - name: CACHE_SIZE\n"
         "          value: \"" +
         cache + "\"   # per release\n";
}

std::string redis(const std::string& env, const std::string& chart) {
  return "apiVersion: source.toolkit.fluxcd.io/v1\n"
         "kind: HelmRepository\n"
         "metadata:\n"
         "  name: bitnami\n"
         "  namespace: " +
         env +
         "\n"
         "spec:\n"
         "  type: oci\n"
         "  url: oci://registry-1.docker.io/bitnamicharts\n"
         "---\n"
         "apiVersion: helm.toolkit.fluxcd.io/v2\n"
         "kind: HelmRelease\n"
         "metadata:\n"
         "  name: redis\n"
         "  namespace: " +
         env +
         "\n"
         "spec:\n"
         "  chart:\n"
         "    spec:\n"
         "      chart: redis\n"
         "      version: " +
         chart +
         "\n"
         "      sourceRef:\n"
         "        kind: HelmRepository\n"
         "        name: bitnami\n";
}

const char* const k_junit = R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="0">
  <testsuite name="smoke" tests="2" failures="0">
    <testcase name="home page" classname="smoke" time="0.2"/>
    <testcase name="settings page" classname="smoke" time="0.3"/>
  </testsuite>
</testsuites>
)";

ScratchRepo app(const std::string& pipeline = k_pipeline) {
  std::map<std::string, std::string> files{
      {"promote.yaml", pipeline},
      {"base/deployment.yml", k_base},
      {"base/kustomization.yml", "resources:\n- deployment.yml\n"},
      {"reports/junit.xml", k_junit}};
  for (const std::string env : {"qa", "staging", "prod"}) {
    files["envs/" + env + "/kustomization.yml"] = overlay(env);
    files["envs/" + env + "/version.yml"] = version("1.0");
    files["envs/" + env + "/settings.yml"] = settings("light", "1024kb");
    files["releases/" + env + "/redis.yaml"] = redis(env, "18.1.0");
  }
  return ScratchRepo(files);
}

using promote::test::run_json;
using promote::test::stage_status;

// The newest history record of a stage.
json last_record(const ScratchRepo& repo, const std::string& stage) {
  const json records = run_json(repo, {"history", "--stage", stage});
  REQUIRE(!records.empty());
  return records[0];
}

// Checks that status, the history and the last commit agree on what the stage holds.
void agree(const ScratchRepo& repo, const std::string& stage, const json& promoted) {
  CHECK(stage_status(repo, stage)["candidate"]["id"] == promoted["candidate"]["id"]);
  const json record = last_record(repo, stage);
  CHECK(record["candidate_id"] == promoted["candidate"]["id"]);
  CHECK(record["carried"] == promoted["candidate"]["files"]);
  const std::string message = sh("git log -1 --format=%B", repo.repo);
  for (const auto& [name, digest] : promoted["candidate"]["files"].items()) {
    CHECK(message.find("\nfile " + name + ": sha256:" + digest.get<std::string>() + "\n") !=
          std::string::npos);
  }
}

const std::string k_settings = "envs/{stage}/settings.yml";

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("an image, a chart and carried settings go qa -> staging -> prod as one release") {
    const ScratchRepo repo = app();
    const json qa = run_json(repo, {"--to", "qa", "--image", "app=ghcr.io/acme/simple-env-app:2.0",
                                    "--chart", "redis=18.2.0"});
    CHECK(qa["outcome"] == "promoted");
    CHECK(qa["candidate"]["files"][k_settings] ==
          promote::util::sha256_hex(settings("light", "1024kb")));
    agree(repo, "qa", qa);

    // The team changes qa's settings for the release; qa's release is now another one.
    write_text(repo.repo / "envs/qa/settings.yml", settings("dark", "2048kb"));
    sh("git commit -qam 'qa: dark theme, bigger cache'", repo.repo);
    const json changed = stage_status(repo, "qa");
    CHECK(changed["candidate"]["id"] != qa["candidate"]["id"]);
    CHECK(changed["candidate"]["files"][k_settings] ==
          promote::util::sha256_hex(settings("dark", "2048kb")));

    // The plan shows the carried file and its diff.
    const auto plan = repo.promote({"--to", "staging", "--dry-run"});
    CHECK(plan.exit_code == 0);
    CHECK(plan.out.find(
              "\n  file envs/{stage}/settings.yml  sha256:" +
              promote::util::sha256_hex(settings("light", "1024kb")).substr(0, 12) +
              " -> sha256:" + promote::util::sha256_hex(settings("dark", "2048kb")).substr(0, 12) +
              "\n") != std::string::npos);
    CHECK(plan.out.find("-          value: \"light\"\n+          value: \"dark\"\n") !=
          std::string::npos);

    const json staging = run_json(repo, {"--to", "staging"});
    CHECK(staging["outcome"] == "promoted");
    CHECK(staging["candidate"]["id"] == changed["candidate"]["id"]);  // one release, one id
    CHECK(staging["gates"][0]["status"] == "pass");
    CHECK(repo.file("envs/staging/settings.yml") == settings("dark", "2048kb"));
    CHECK(repo.file("envs/staging/version.yml") == version("2.0"));
    CHECK(repo.file("releases/staging/redis.yaml") == redis("staging", "18.2.0"));
    CHECK(repo.file("envs/staging/kustomization.yml") == overlay("staging"));
    agree(repo, "staging", staging);

    // explain and the status table name the whole release.
    const std::string settings_digest =
        promote::util::sha256_hex(settings("dark", "2048kb")).substr(0, 12);
    const auto explained = repo.promote({"explain", "--to", "prod"});
    CHECK(explained.out.find("prod would take candidate " +
                             staging["candidate"]["id"].get<std::string>().substr(0, 12) +
                             " (app=2.0, chart redis@18.2.0, file envs/{stage}/settings.yml@"
                             "sha256:" +
                             settings_digest + ") from staging") != std::string::npos);
    CHECK(repo.promote({"status"})
              .out.find("app=2.0, chart redis@18.2.0, file envs/{stage}/settings.yml@sha256:" +
                        settings_digest) != std::string::npos);

    // prod waits for an approval of exactly this release, then takes it.
    const json waiting = run_json(repo, {"--to", "prod"}, 3);
    CHECK(waiting["outcome"] == "pending");
    CHECK(repo.file("envs/prod/settings.yml") == settings("light", "1024kb"));
    REQUIRE(repo.promote({"approve", "--stage", "prod", "--reason", "settings reviewed"}, "alice")
                .exit_code == 0);
    const json prod = run_json(repo, {"--to", "prod"});
    CHECK(prod["outcome"] == "promoted");
    CHECK(prod["candidate"]["id"] == staging["candidate"]["id"]);
    CHECK(repo.file("envs/prod/settings.yml") == settings("dark", "2048kb"));
    agree(repo, "prod", prod);

    // A rollback of prod puts its settings back with the image and the chart.
    const json back = run_json(
        repo, {"rollback", "--stage", "prod", "--skip-gates", "--reason", "cache too big"});
    CHECK(back["outcome"] == "promoted");
    CHECK(repo.file("envs/prod/settings.yml") == settings("light", "1024kb"));
    CHECK(repo.file("envs/prod/version.yml") == version("1.0"));
    CHECK(repo.file("releases/prod/redis.yaml") == redis("prod", "18.1.0"));
    agree(repo, "prod", back);

    // The JSON documents that show the release match their schemas.
    if (promote::test::has_python_jsonschema()) {
      for (const auto& [schema, document] :
           {std::pair{"promotion-result", back.dump()},
            std::pair{"status", run_json(repo, {"status"}).dump()},
            std::pair{"history", run_json(repo, {"history", "--stage", "prod"}).dump()}}) {
        const auto file = repo.dir / (std::string(schema) + ".json");
        write_text(file, document);
        const auto checked = promote::test::run(
            {"/usr/bin/python3",
             std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
             std::string(PROMOTE_SOURCE_DIR) + "/schemas/" + schema + ".schema.json",
             file.string()});
        INFO(checked.out << checked.err);
        CHECK(checked.exit_code == 0);
      }
    } else {
      MESSAGE("python3-jsonschema is not installed: the documents were not checked");
    }

    // And forward again: the same release as staging's, the same id.
    REQUIRE(repo.promote({"approve", "--stage", "prod", "--reason", "cache resized"}, "alice")
                .exit_code == 0);
    const json again = run_json(repo, {"--to", "prod"});
    CHECK(again["candidate"]["id"] == staging["candidate"]["id"]);
    CHECK(repo.file("envs/prod/settings.yml") == settings("dark", "2048kb"));
  }

  TEST_CASE("a carried file changed by hand since its last promotion is a conflict") {
    const ScratchRepo repo = app();
    REQUIRE(
        repo.promote({"--to", "qa", "--image", "app=ghcr.io/acme/simple-env-app:2.0"}).exit_code ==
        0);
    write_text(repo.repo / "envs/qa/settings.yml", settings("dark", "1024kb"));
    sh("git commit -qam 'qa: dark theme'", repo.repo);
    REQUIRE(repo.promote({"--to", "staging"}).exit_code == 0);

    // Someone tunes staging by hand; qa moves on.
    write_text(repo.repo / "envs/staging/settings.yml", settings("dark", "4096kb"));
    sh("git commit -qam 'staging: hotfix the cache'", repo.repo);
    write_text(repo.repo / "envs/qa/settings.yml", settings("blue", "1024kb"));
    sh("git commit -qam 'qa: blue theme'", repo.repo);
    const std::string head = repo.head();
    const auto refused = repo.promote({"--to", "staging"});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 4);
    CHECK(refused.out.find(
              "stage 'staging': envs/staging/settings.yml changed since its last promotion "
              "(sha256:" +
              promote::util::sha256_hex(settings("dark", "4096kb")).substr(0, 12) +
              ", the promotion recorded sha256:" +
              promote::util::sha256_hex(settings("dark", "1024kb")).substr(0, 12) +
              "); carrying 'envs/{stage}/settings.yml' from 'qa' would overwrite that edit: make "
              "it in envs/qa/settings.yml too, or let the carry overwrite it with overwrite: true "
              "(promote.yaml:18:12)") != std::string::npos);
    CHECK(repo.head() == head);
    CHECK(repo.file("envs/staging/settings.yml") == settings("dark", "4096kb"));

    // With overwrite: true the carry wins, and says what it overwrote.
    std::string pipeline = k_pipeline;
    pipeline.replace(pipeline.find("    carry: envs/{stage}/settings.yml\n"),
                     std::string("    carry: envs/{stage}/settings.yml\n").size(),
                     "    carry: {from: 'envs/{stage}/settings.yml', overwrite: true}\n");
    write_text(repo.repo / "promote.yaml", pipeline);
    sh("git commit -qam 'staging takes qa settings whatever'", repo.repo);
    const json forced = run_json(repo, {"--to", "staging"});
    CHECK(forced["outcome"] == "promoted");
    CHECK(repo.file("envs/staging/settings.yml") == settings("blue", "1024kb"));
    CHECK(forced["warnings"].dump().find("envs/staging/settings.yml changed since its last "
                                         "promotion; overwritten by the carry (overwrite: "
                                         "true)") != std::string::npos);
  }

  TEST_CASE("keys of a values file travel with the release; the rest stays the stage's own") {
    // A Helm values file per environment (in the shape of argoproj/argocd-example-apps'
    // helm-guestbook values-*.yaml): the image is set in it, the feature flags are carried, the
    // replica count and log level are the environment's own.
    const char* const pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: app
images:
  - name: app
    repository: ghcr.io/acme/simple-env-app
stages:
  - name: qa
    target:
      helm:
        file: charts/app/values-qa.yaml
        images: { app: { repository: image.repository, tag: image.tag } }
  - name: staging
    from: qa
    carry: { file: 'charts/app/values-{stage}.yaml', keys: [config.featureFlags] }
    target:
      helm:
        file: charts/app/values-staging.yaml
        images: { app: { repository: image.repository, tag: image.tag } }
)";
    const auto values = [](const std::string& replicas, const std::string& tag,
                           const std::string& flags, const std::string& level) {
      return "replicaCount: " + replicas +
             "  # the environment's own\n"
             "image:\n"
             "  repository: ghcr.io/acme/simple-env-app\n"
             "  tag: \"" +
             tag +
             "\"\n"
             "config:\n"
             "  featureFlags:\n" +
             flags + "  logLevel: " + level + "\n";
    };
    const std::string old_flags = "    checkout: false\n    search: true\n";
    const std::string new_flags =
        "    checkout: true   # from the 2.0 release\n    search: true\n"
        "    wishlist: false\n";
    ScratchRepo repo({{"promote.yaml", pipeline},
                      {"charts/app/values-qa.yaml", values("1", "1.0", old_flags, "debug")},
                      {"charts/app/values-staging.yaml", values("3", "1.0", old_flags, "info")}});
    REQUIRE(
        repo.promote({"--to", "qa", "--image", "app=ghcr.io/acme/simple-env-app:2.0"}).exit_code ==
        0);
    write_text(repo.repo / "charts/app/values-qa.yaml", values("1", "2.0", new_flags, "debug"));
    sh("git commit -qam 'qa: checkout on, wishlist flag'", repo.repo);

    const json staging = run_json(repo, {"--to", "staging"});
    CHECK(staging["outcome"] == "promoted");
    CHECK(repo.file("charts/app/values-staging.yaml") == values("3", "2.0", new_flags, "info"));
    CHECK(staging["candidate"]["files"]["charts/app/values-{stage}.yaml"] ==
          stage_status(repo, "qa")["candidate"]["files"]["charts/app/values-{stage}.yaml"]);
    agree(repo, "staging", staging);

    // The flags change again in qa; a rollback of staging puts the old flags and image back.
    const json back = run_json(repo, {"rollback", "--stage", "staging"});
    CHECK(back["outcome"] == "promoted");
    CHECK(repo.file("charts/app/values-staging.yaml") == values("3", "1.0", old_flags, "info"));
    agree(repo, "staging", back);
  }

  TEST_CASE("the carry example renders with kubectl kustomize as the release says" *
            doctest::skip(!promote::test::has_program("kubectl"))) {
    // examples/carry, as a user would start from it: only the image and the carried settings
    // change in what staging renders; its replicas stay its own.
    const ScratchRepo repo(promote::test::example_files("carry"));
    const std::string before = repo.render("envs/staging");
    REQUIRE(
        repo.promote({"--to", "qa", "--image", "app=ghcr.io/acme/simple-env-app:2.0"}).exit_code ==
        0);
    std::string settings = repo.file("envs/qa/settings.yml");
    settings.replace(settings.find("\"light\""), 7, "\"dark\"");
    write_text(repo.repo / "envs/qa/settings.yml", settings);
    sh("git commit -qam 'qa: the dark theme'", repo.repo);
    REQUIRE(repo.promote({"--to", "staging"}).exit_code == 0);

    std::string expected = before;
    expected.replace(expected.find("value: light"), 12, "value: dark");
    expected.replace(expected.find("simple-env-app:1.0"), 18, "simple-env-app:2.0");
    CHECK(repo.render("envs/staging") == expected);
    CHECK(repo.file("envs/staging/settings.yml") == settings);
    CHECK(repo.render("envs/prod").find("replicas: 3") != std::string::npos);
  }
}
