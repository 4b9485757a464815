#pragma once
// The `flux` gate's judgement of a Flux Kustomization or HelmRelease, as the Kubernetes API
// returns it (README "flux"): whether it has applied the candidate and is Ready. (The gate that
// reads the objects through the cluster's API builds on this.)

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

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

}  // namespace promote::gates
