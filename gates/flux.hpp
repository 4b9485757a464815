#pragma once
// The `flux` gate (README "flux"): the source stage's Flux Kustomizations and HelmReleases, read
// through the Kubernetes API (engine/http/kube.hpp), have applied the candidate and are Ready.
//
//   - use: flux
//     with:
//       kustomizations: [apps]       # applied a revision that holds the candidate's commit
//       helmreleases: [podinfo]      # released the candidate's version of its chart
//       namespace: flux-system       # the default
//       context: staging             # kubeconfig context; default: current

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// How a Flux object stands for the candidate.
struct FluxState {
  enum class State {
    ready,        ///< Ready=True for what the candidate needs, the latest spec observed
    reconciling,  ///< not yet: reconciling, an older revision or version, a spec not observed
    failed,       ///< Stalled, or Ready=False with a terminal reason for the candidate's revision
    unknown,      ///< no Kustomization or HelmRelease
  };
  State state = State::unknown;
  std::string message;   ///< one line a person reads
  std::string revision;  ///< what it applied: "main@sha1:HEX" or a chart version; "" when none
  std::string since;     ///< when Ready=True: its condition's lastTransitionTime, else ""
};

/// The git commit a Flux source revision names: "main@sha1:HEX" (Flux 2), "main/HEX" (earlier
/// releases) and "sha1:HEX" give HEX; anything else (an OCI digest, a chart version) "".
std::string flux_commit(const std::string& revision);

/// Whether a git commit (hex) contains the commit that brought the candidate into the stage:
/// nullopt when the repository does not know it.
using ContainsCommit = std::function<std::optional<bool>(const std::string& commit)>;

/// Judges `object`. A Kustomization is ready when its Ready condition is True, its
/// observedGeneration is its generation, and its lastAppliedRevision is a commit that `contains`
/// says holds the candidate's; a Ready=False whose lastAttemptedRevision holds it, with a
/// terminal reason (BuildFailed, HealthCheckFailed, ReconciliationFailed, ValidationFailed,
/// ArtifactFailed aside, ...), or a Stalled=True condition, is `failed`; the rest reconciles. A
/// HelmRelease is judged alike by its chart version when `chart_version` is given (v2's
/// status.history[0].chartVersion, v2beta1's lastAppliedRevision; a "+build" suffix is ignored),
/// with the terminal reasons of helm-controller (InstallFailed, UpgradeFailed, TestFailed,
/// RollbackFailed, UninstallFailed, RetriesExceeded). Never throws on odd input.
FluxState flux_status(const nlohmann::json& object, const ContainsCommit& contains,
                      const std::string& chart_version = "");

/// Builds a flux gate from its `with:`; reports problems into the diagnostics: no
/// kustomizations and no helmreleases, an empty name, namespace, context or chart.
std::unique_ptr<Gate> make_flux(const pipeline::ConfigNode& with);

}  // namespace promote::gates
