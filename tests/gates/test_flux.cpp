// The flux gate's judgement of Kustomizations and HelmReleases, over the real objects and status
// fragments of the corpus (../shared/corpus/flux: karmada's objects, the Flux controllers' API
// docs; SOURCES.md says where each came from), the fragments given the kind they document.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "gates/flux.hpp"
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
}
