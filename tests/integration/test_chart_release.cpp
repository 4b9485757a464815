// A release of an image and a Helm chart, dev -> staging -> prod, in the layout of
// fluxcd/flux2-kustomize-helm-example (a HelmRepository and a HelmRelease per environment,
// apps/<env>/podinfo.yaml) with the image set in the HelmRelease's values: --chart enters dev,
// later stages take their source's version, status, the history and the commit agree at each
// step, a rollback puts the chart back, a range is refused and a stage may keep one.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/release_json.hpp"
#include "tests/integration/scratch_repo.hpp"

namespace {

using nlohmann::json;
using promote::test::ScratchRepo;

const char* const k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: podinfo
images:
  - name: podinfo
    repository: ghcr.io/stefanprodan/podinfo
charts:
  - name: podinfo
    repository: https://stefanprodan.github.io/podinfo
stages:
  - name: dev
    target:
      helm:
        file: apps/dev/podinfo.yaml
        document: { kind: HelmRelease }
        images: { podinfo: { repository: spec.values.image.repository, tag: spec.values.image.tag } }
      charts: apps/dev/podinfo.yaml
  - name: staging
    from: dev
    target:
      helm:
        file: apps/staging/podinfo.yaml
        document: { kind: HelmRelease }
        images: { podinfo: { repository: spec.values.image.repository, tag: spec.values.image.tag } }
      charts: apps/staging/podinfo.yaml
  - name: prod
    from: staging
    target:
      helm:
        file: apps/prod/podinfo.yaml
        document: { kind: HelmRelease }
        images: { podinfo: { repository: spec.values.image.repository, tag: spec.values.image.tag } }
      charts: apps/prod/podinfo.yaml
)";

std::string release(const std::string& env, const std::string& version, const std::string& tag) {
  return "---\n"
         "apiVersion: source.toolkit.fluxcd.io/v1\n"
         "kind: HelmRepository\n"
         "metadata:\n"
         "  name: podinfo\n"
         "  namespace: " +
         env +
         "\n"
         "spec:\n"
         "  interval: 5m\n"
         "  url: https://stefanprodan.github.io/podinfo\n"
         "---\n"
         "apiVersion: helm.toolkit.fluxcd.io/v2\n"
         "kind: HelmRelease\n"
         "metadata:\n"
         "  name: podinfo\n"
         "  namespace: " +
         env +
         "\n"
         "spec:\n"
         "  interval: 10m\n"
         "  chart:\n"
         "    spec:\n"
         "      chart: podinfo\n"
         "      version: \"" +
         version +
         "\"  # pinned per environment\n"
         "      sourceRef:\n"
         "        kind: HelmRepository\n"
         "        name: podinfo\n"
         "  values:\n"
         "    image:\n"
         "      repository: ghcr.io/stefanprodan/podinfo\n"
         "      tag: " +
         tag + "\n";
}

ScratchRepo shop() {
  return ScratchRepo({{"promote.yaml", k_pipeline},
                      {"apps/dev/podinfo.yaml", release("dev", "6.4.0", "6.4.0")},
                      {"apps/staging/podinfo.yaml", release("staging", "6.4.0", "6.4.0")},
                      {"apps/prod/podinfo.yaml", release("prod", "6.4.0", "6.4.0")}});
}

using promote::test::run_json;
using promote::test::stage_status;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a chart and an image go dev -> staging -> prod as one release, and roll back") {
    const ScratchRepo repo = shop();
    const json dev = run_json(repo, {"--to", "dev", "--chart", "podinfo=6.5.0", "--image",
                                     "podinfo=ghcr.io/stefanprodan/podinfo:6.5.0"});
    CHECK(dev["outcome"] == "promoted");
    CHECK(dev["candidate"]["charts"] == json{{"podinfo", "6.5.0"}});
    CHECK(repo.file("apps/dev/podinfo.yaml") == release("dev", "6.5.0", "6.5.0"));
    CHECK(stage_status(repo, "dev")["candidate"]["id"] == dev["candidate"]["id"]);
    const auto text = repo.promote({"--to", "staging", "--dry-run"});
    CHECK(text.out.find("\n  chart podinfo  6.4.0 -> 6.5.0\n") != std::string::npos);

    const json staging = run_json(repo, {"--to", "staging"});
    CHECK(staging["outcome"] == "promoted");
    CHECK(staging["candidate"]["id"] == dev["candidate"]["id"]);  // one release, one id
    CHECK(repo.file("apps/staging/podinfo.yaml") == release("staging", "6.5.0", "6.5.0"));
    const std::string message = promote::test::sh("git log -1 --format=%B", repo.repo);
    CHECK(message.find("\npodinfo: ghcr.io/stefanprodan/podinfo:6.5.0\nchart podinfo: 6.5.0\n") !=
          std::string::npos);
    CHECK(stage_status(repo, "staging")["candidate"]["charts"] == json{{"podinfo", "6.5.0"}});

    // A newer chart alone enters dev; staging follows; the history has both.
    REQUIRE(run_json(repo, {"--to", "dev", "--chart", "podinfo=6.6.0"})["outcome"] == "promoted");
    const json newer = run_json(repo, {"--to", "staging"});
    CHECK(newer["candidate"]["charts"] == json{{"podinfo", "6.6.0"}});
    CHECK(repo.file("apps/staging/podinfo.yaml") == release("staging", "6.6.0", "6.5.0"));
    const json history = run_json(repo, {"history", "--stage", "staging"});
    REQUIRE(history.size() == 2);
    CHECK(history[0]["charts"] == json{{"podinfo", "6.6.0"}});
    CHECK(history[1]["charts"] == json{{"podinfo", "6.5.0"}});
    CHECK(history[0]["candidate_id"] == newer["candidate"]["id"]);

    // Rolled back, staging pins the chart it held before, and says so everywhere.
    const json back = run_json(repo, {"rollback", "--stage", "staging"});
    CHECK(back["outcome"] == "promoted");
    CHECK(back["candidate"]["charts"] == json{{"podinfo", "6.5.0"}});
    CHECK(repo.file("apps/staging/podinfo.yaml") == release("staging", "6.5.0", "6.5.0"));
    CHECK(stage_status(repo, "staging")["candidate"]["id"] == back["candidate"]["id"]);
    CHECK(back["candidate"]["id"] == staging["candidate"]["id"]);

    const json prod = run_json(repo, {"--to", "prod"});
    CHECK(prod["candidate"]["id"] == staging["candidate"]["id"]);
    CHECK(repo.file("apps/prod/podinfo.yaml") == release("prod", "6.5.0", "6.5.0"));
  }

  TEST_CASE("a chart range is refused where a version is needed, and kept where a stage says") {
    const ScratchRepo repo = shop();
    const auto flag = repo.promote({"--to", "dev", "--chart", "podinfo=>=6.0.0"});
    CHECK(flag.exit_code == 2);
    CHECK(flag.err.find("--chart podinfo: '>=6.0.0' is a range; a promotion pins an exact "
                        "SemVer 2.0 version (e.g. 6.5.0)") != std::string::npos);
    const auto bad = repo.promote({"--to", "dev", "--chart", "podinfo=6.5"});
    CHECK(bad.exit_code == 2);
    const auto unknown = repo.promote({"--to", "dev", "--chart", "podnfo=6.5.0"});
    CHECK(unknown.err.find("--chart: the pipeline has no chart 'podnfo' (did you mean "
                           "'podinfo'?)") != std::string::npos);

    // dev pins a range by hand: it is no release to promote from.
    promote::test::write_text(repo.repo / "apps/dev/podinfo.yaml",
                              release("dev", ">=6.0.0", "6.4.0"));
    promote::test::sh("git commit -qam 'dev follows 6.x'", repo.repo);
    const auto from_range = repo.promote({"--to", "staging"});
    INFO(from_range.out << from_range.err);
    CHECK(from_range.exit_code == 4);
    CHECK(from_range.out.find("apps/dev/podinfo.yaml:21:16: stage 'dev' pins chart 'podinfo' as "
                              "'>=6.0.0' (HelmRelease podinfo: spec.chart.spec.version), a "
                              "range; a promotion needs an exact version: pin one, or give the "
                              "stage keep_range: [podinfo]") != std::string::npos);
    CHECK(repo.file("apps/staging/podinfo.yaml") == release("staging", "6.4.0", "6.4.0"));
  }

  TEST_CASE("a stage that keeps a chart range takes the release's images and leaves the range") {
    std::string pipeline = k_pipeline;
    pipeline.replace(pipeline.find("  - name: prod\n    from: staging\n"),
                     std::string("  - name: prod\n    from: staging\n").size(),
                     "  - name: prod\n    from: staging\n    keep_range: [podinfo]\n");
    const ScratchRepo repo({{"promote.yaml", pipeline},
                            {"apps/dev/podinfo.yaml", release("dev", "6.4.0", "6.4.0")},
                            {"apps/staging/podinfo.yaml", release("staging", "6.5.0", "6.5.0")},
                            {"apps/prod/podinfo.yaml", release("prod", ">=6.0.0", "6.4.0")}});
    const json prod = run_json(repo, {"--to", "prod"});
    CHECK(prod["outcome"] == "promoted");
    CHECK(prod["candidate"]["charts"] == json::object());
    CHECK(repo.file("apps/prod/podinfo.yaml") == release("prod", ">=6.0.0", "6.5.0"));
    CHECK(stage_status(repo, "prod")["candidate"]["id"] == prod["candidate"]["id"]);
    const auto flag = repo.promote({"validate"});
    CHECK(flag.exit_code == 0);
  }

  TEST_CASE("the chart example renders with kubectl kustomize as the release says" *
            doctest::skip(!promote::test::has_program("kubectl"))) {
    // examples/charts as a user starts from it: what Flux's kustomize-controller builds for
    // staging changes in the chart's version and the image's tag only, and prod's not at all.
    const ScratchRepo repo(promote::test::example_files("charts"));
    const std::string staging = repo.render("apps/staging");
    const std::string prod = repo.render("apps/prod");
    REQUIRE(repo.promote({"--to", "dev", "--chart", "podinfo=6.5.0", "--image",
                          "podinfo=ghcr.io/stefanprodan/podinfo:6.5.0"})
                .exit_code == 0);
    REQUIRE(repo.promote({"--to", "staging"}).exit_code == 0);

    std::string expected = staging;
    expected.replace(expected.find("version: 6.4.0"), 14, "version: 6.5.0");
    expected.replace(expected.find("tag: 6.4.0"), 10, "tag: 6.5.0");
    CHECK(repo.render("apps/staging") == expected);
    CHECK(repo.render("apps/prod") == prod);
  }
}
