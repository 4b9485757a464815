// The flux gate's judgement of Kustomizations and HelmReleases, over the real objects and status
// fragments of the corpus (../shared/corpus/flux: karmada's objects, the Flux controllers' API
// docs; SOURCES.md says where each came from), the fragments given the kind they document.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "engine/util/time.hpp"
#include "gates/flux.hpp"
#include "tests/gates/cluster.hpp"
#include "tests/support/support.hpp"
#include "tests/support/yaml_json.hpp"

namespace {

using nlohmann::json;
using promote::gates::flux_commit;
using promote::gates::flux_status;
using promote::gates::FluxState;
using State = FluxState::State;

json corpus_file(const std::string& file) {
  return promote::test::yaml_to_json(
      YAML::LoadFile((*promote::test::corpus_dir() / "flux" / file).string()));
}

// A docs fragment ("status:" or a bare "conditions:" list) as an object of `kind`.
json fragment(const std::string& file, const std::string& kind) {
  json found = corpus_file(file);
  json status =
      found.contains("status") ? found["status"] : json{{"conditions", found["conditions"]}};
  return {{"kind", kind}, {"metadata", {{"name", "apps"}}}, {"status", status}};
}

// Commits the test's git knows: those that hold the candidate's commit, and those that do not.
promote::gates::ContainsCommit knows(std::set<std::string> holding,
                                     std::set<std::string> not_holding) {
  return [holding, not_holding](const std::string& commit) -> std::optional<bool> {
    if (holding.contains(commit)) {
      return true;
    }
    if (not_holding.contains(commit)) {
      return false;
    }
    return std::nullopt;
  };
}

const std::string k_karmada = "0647aea75b85755411b007a290b9321668370be5";

// The commit graph the gate is told of: which revisions hold which commits.
struct Graph : promote::CommitGraph {
  std::map<std::pair<std::string, std::string>, bool> known;  ///< (revision, commit) -> holds
  promote::Result<std::optional<bool>> contains(const std::string& revision,
                                                const std::string& commit) const override {
    const auto found = known.find({revision, commit});
    return found == known.end() ? std::optional<bool>() : std::optional<bool>(found->second);
  }
};

const std::string k_entered = std::string(40, 'e');  // brought the candidate into staging
const std::string k_kustomization_v1 =
    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";
const std::string k_applied = "a1afe267b54f38b46b487f6e938a6fd508278c07";
const std::string k_attempted = "7c500d302e38e7e4a3f327343a8a5c21acaaeb87";

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("flux: a revision names its git commit in every spelling Flux has used") {
    CHECK(flux_commit("main@sha1:" + k_applied) == k_applied);
    CHECK(flux_commit("main/" + k_applied) == k_applied);
    CHECK(flux_commit("sha1:" + k_applied) == k_applied);
    CHECK(flux_commit("refs/heads/release/v1@sha1:" + k_applied) == k_applied);
    CHECK(flux_commit("latest@sha256:" + std::string(64, 'a')).empty());
    CHECK(flux_commit("6.3.5").empty());
    CHECK(flux_commit("main@sha1:NOTHEX").empty());
  }

  TEST_CASE("flux: a Kustomization is ready once it applied a revision that holds the commit" *
            doctest::skip(!promote::test::has_corpus())) {
    const json object = corpus_file("karmada__kustomization-v1-ready-inventory.yaml");
    const FluxState ready = flux_status(object, knows({k_karmada}, {}));
    CHECK(ready.state == State::ready);
    CHECK(ready.revision == "master@sha1:" + k_karmada);
    CHECK_FALSE(ready.since.empty());
    const FluxState older = flux_status(object, knows({}, {k_karmada}));
    CHECK(older.state == State::reconciling);
    CHECK(older.message.find("which does not hold the candidate's commit yet") !=
          std::string::npos);
    CHECK(flux_status(object, knows({}, {})).message.find("which this clone does not know") !=
          std::string::npos);

    // A newer spec the controller has not seen: reconciling, whatever it applied before.
    json newer = object;
    newer["metadata"]["generation"] = 2;
    CHECK(flux_status(newer, knows({k_karmada}, {})).message ==
          "Kustomization \"" + object["metadata"]["name"].get<std::string>() +
              "\" has not observed its latest spec yet");
  }

  TEST_CASE("flux: a failure counts when the revision that failed holds the commit" *
            doctest::skip(!promote::test::has_corpus())) {
    const json object = fragment(
        "kustomize-controller-docs__status-ready-false-attempted-ne-applied.yaml", "Kustomization");
    const FluxState failed = flux_status(object, knows({k_attempted}, {k_applied}));
    CHECK(failed.state == State::failed);
    CHECK(failed.message ==
          "Kustomization \"apps\" failed on master@sha1:" + k_attempted +
              " (ValidationFailed): The Service 'backend' is invalid: spec.type: Unsupported "
              "value: 'Ingress'");
    // An older revision that failed says nothing of the candidate's: still reconciling.
    CHECK(flux_status(object, knows({}, {k_attempted, k_applied})).state == State::reconciling);

    CHECK(flux_status(
              fragment("kustomize-controller-docs__status-ready-succeeded.yaml", "Kustomization"),
              knows({k_applied}, {}))
              .state == State::ready);
    const FluxState progressing =
        flux_status(fragment("kustomize-controller-docs__conditions-reconciling-ready-unknown.yaml",
                             "Kustomization"),
                    knows({}, {}));
    CHECK(progressing.state == State::reconciling);
    CHECK(progressing.message.starts_with(
        "Kustomization \"apps\" is not Ready (Unknown, Progressing"));

    // Stalled (the Flux docs describe it in prose only): a failure whatever the revision.
    json stalled =
        fragment("kustomize-controller-docs__status-ready-succeeded.yaml", "Kustomization");
    stalled["status"]["conditions"].push_back({{"type", "Stalled"},
                                               {"status", "True"},
                                               {"reason", "InvalidPath"},
                                               {"message", "path './apps' not found"}});
    CHECK(flux_status(stalled, knows({k_applied}, {})).message ==
          "Kustomization \"apps\" is stalled (InvalidPath): path './apps' not found");
  }

  TEST_CASE("flux: a HelmRelease is judged by the chart version it released" *
            doctest::skip(!promote::test::has_corpus())) {
    const json released = corpus_file("karmada__helmrelease-v2beta1-ready-released.yaml");
    const auto none = knows({}, {});
    CHECK(flux_status(released, none, "6.3.5").state == State::ready);
    CHECK(flux_status(released, none).state == State::ready);  // no chart in the candidate
    const FluxState older = flux_status(released, none, "6.4.0");
    CHECK(older.state == State::reconciling);
    CHECK(older.message.find("6.3.5, which does not hold chart version 6.4.0 yet") !=
          std::string::npos);

    const json upgrade =
        fragment("helm-controller-docs__v2beta1-status-upgrade-failure.yaml", "HelmRelease");
    CHECK(flux_status(upgrade, none, "4.0.6").state == State::failed);
    CHECK(flux_status(upgrade, none, "4.1.0").state == State::reconciling);
    CHECK(flux_status(fragment("helm-controller-docs__v2beta1-status-test-failed-ignored.yaml",
                               "HelmRelease"),
                      none, "4.0.6")
              .state == State::ready);

    // v2 keeps the versions in its history, with "+digest" build metadata; no Ready condition
    // in the fragment: not yet.
    json history = corpus_file("helm-controller-docs__v2-helmrelease-history.yaml");
    CHECK(flux_status(history, none, "6.6.1").state == State::reconciling);
    history["status"]["conditions"] =
        json::array({{{"type", "Ready"},
                      {"status", "True"},
                      {"reason", "UpgradeSucceeded"},
                      {"lastTransitionTime", "2024-05-07T04:55:02Z"}}});
    const FluxState v2 = flux_status(history, none, "6.6.1");
    CHECK(v2.state == State::ready);
    CHECK(v2.revision == "6.6.1");
    CHECK(v2.since == "2024-05-07T04:55:02Z");
    CHECK(flux_status(history, none, "6.6.0").state == State::reconciling);
  }

  TEST_CASE("flux: what is no Kustomization or HelmRelease is never ready") {
    const auto none = knows({}, {});
    CHECK(flux_status(json::object(), none).state == State::unknown);
    CHECK(flux_status(json{{"kind", "GitRepository"}}, none).message ==
          "no Flux object to judge: kind 'GitRepository' is no Kustomization or HelmRelease");
    CHECK(flux_status(json{{"kind", "Kustomization"}, {"status", 42}}, none).state ==
          State::reconciling);
  }

  TEST_CASE("flux gate: staging's Kustomization and HelmRelease read through the API" *
            doctest::skip(!promote::test::has_corpus())) {
    promote::test::Cluster cluster;
    Graph graph;
    cluster.commits = &graph;
    cluster.timeline().entries["staging"] =
        promote::StageEntry{cluster.timeline().now_value, "history", k_entered};
    cluster.serve(k_kustomization_v1,
                  corpus_file("karmada__kustomization-v1-ready-inventory.yaml"));
    const auto make = promote::gates::make_flux;

    // The revision it applied is not in this clone yet; then it is, and holds the commit.
    const promote::Verdict unknown = cluster.ask(make, "kustomizations: [apps]");
    CHECK(unknown.status == promote::Verdict::Status::pending);
    CHECK(unknown.summary.find("which this clone does not know") != std::string::npos);
    graph.known[{k_karmada, k_entered}] = false;
    CHECK(cluster.ask(make, "kustomizations: [apps]")
              .summary.find("which does not hold the candidate's commit yet") != std::string::npos);
    graph.known[{k_karmada, k_entered}] = true;
    const promote::Verdict ready = cluster.ask(make, "kustomizations: [apps]");
    CHECK(ready.status == promote::Verdict::Status::pass);
    CHECK(ready.summary.starts_with("1 Flux object Ready with the candidate (since "));
    // Healthy since its Ready condition turned True.
    REQUIRE(ready.healthy_since.has_value());
    CHECK(promote::util::format_utc(*ready.healthy_since) == "2023-04-30T12:51:06Z");
    CHECK_FALSE(unknown.healthy_since.has_value());
    CHECK(ready.details["entered_commit"] == k_entered);
    CHECK(ready.details["objects"][0]["revision"] == "master@sha1:" + k_karmada);

    // A HelmRelease served only at v2beta1 (v2 and v2beta2 are 404), judged by its chart.
    cluster.serve("/apis/helm.toolkit.fluxcd.io/v2beta1/namespaces/web/helmreleases/podinfo",
                  corpus_file("karmada__helmrelease-v2beta1-ready-released.yaml"));
    cluster.candidate().charts["podinfo"] = "6.3.5";
    const std::string release = "{helmreleases: podinfo, namespace: web, chart: podinfo}";
    CHECK(cluster.ask(make, release).status == promote::Verdict::Status::pass);
    cluster.candidate().charts["podinfo"] = "6.4.0";
    const promote::Verdict older = cluster.ask(make, release);
    CHECK(older.status == promote::Verdict::Status::pending);
    CHECK(older.summary ==
          "HelmRelease \"sample\" is Ready with 6.3.5, which does not hold "
          "chart version 6.4.0 yet");

    // What does not exist fails; without a record of the commit, it cannot judge.
    const promote::Verdict missing = cluster.ask(make, "kustomizations: [apps, infra]");
    CHECK(missing.status == promote::Verdict::Status::fail);
    CHECK(missing.summary == "no Kustomization infra in namespace flux-system");
    cluster.timeline().entries.clear();
    const promote::Verdict no_record = cluster.ask(make, "kustomizations: [apps]");
    CHECK(no_record.status == promote::Verdict::Status::error);
    CHECK(no_record.summary.starts_with("no record says which commit brought candidate "));
  }

  TEST_CASE("flux gate: its with: is checked where it is written") {
    promote::pipeline::Diagnostics diagnostics;
    CHECK(promote::gates::make_flux(promote::pipeline::ConfigNode(
              YAML::Load("namespace: apps"), "promote.yaml", diagnostics)) == nullptr);
    CHECK(diagnostics.to_error().message ==
          "promote.yaml:1:1: gate 'flux' needs 'kustomizations' or 'helmreleases' (or both)");
    promote::pipeline::Diagnostics empty;
    CHECK(promote::gates::make_flux(promote::pipeline::ConfigNode(
              YAML::Load("{kustomizations: [], context: ''}"), "promote.yaml", empty)) == nullptr);
    CHECK(empty.to_error().message ==
          "promote.yaml:1:18: 'kustomizations' must name at least one object, by name\n"
          "promote.yaml:1:31: 'context' must not be empty (leave it out for the default)");
  }
}
