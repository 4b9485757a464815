#pragma once
// The `kubernetes` gate (README "kubernetes"): the source stage's workloads, read through the
// Kubernetes API (engine/http/kube.hpp), have rolled out as `kubectl rollout status` judges it
// and run the candidate's images.
//
//   - use: kubernetes
//     with:
//       workloads: [deployment/api, statefulset/db]   # or selector: app.kubernetes.io/part-of=shop
//       namespace: shop                               # default: the context's
//       context: staging                              # kubeconfig context; default: current

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gate.hpp"
#include "engine/pipeline/candidate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// How a workload's rollout stands.
struct Rollout {
  enum class State {
    complete,     ///< rolled out: every replica updated and available (ready, for a StatefulSet)
    progressing,  ///< not yet: waiting for the controller, new replicas or old ones to go
    failed,       ///< it will not finish by itself (a Deployment past its progress deadline)
    unknown,      ///< the object is no workload promote can judge (another kind)
  };
  State state = State::unknown;
  /// kubectl's words: "Waiting for deployment \"api\" rollout to finish: 1 out of 2 new replicas
  /// have been updated", "deployment \"api\" successfully rolled out", ...
  std::string message;
};

/// Judges one workload object (JSON as the API returns it) as `kubectl rollout status` does:
/// a Deployment by its observed generation, its Progressing condition (ProgressDeadlineExceeded
/// is `failed`) and its updated, total and available replicas; a DaemonSet by its updated and
/// available pods; a StatefulSet by its ready and updated replicas, its partition and its
/// current and update revisions. A paused Deployment is `progressing` ("paused"). Where kubectl
/// refuses (the OnDelete strategy), the workload is judged by its observed generation and its
/// ready (and, for a StatefulSet, current) replicas instead. Never throws on odd input: fields of
/// the wrong type count as absent.
Rollout rollout_status(const nlohmann::json& object);

/// The images of the workload's pod template, one per container (init containers included), in
/// the object's order: "ghcr.io/acme/api:1.4.2".
std::vector<std::string> workload_images(const nlohmann::json& object);

/// What the workload runs that is not the candidate's: for each container whose image is of the
/// repository of one of the candidate's images (Docker Hub's names compared in full form), a
/// line "container api runs ghcr.io/acme/api:1.4.1, not ghcr.io/acme/api:1.4.2" when it has
/// neither the candidate's digest nor its tag (with no other digest beside it). Empty: every
/// such container runs the candidate.
std::vector<std::string> images_not_candidate(const nlohmann::json& object,
                                              const Candidate& candidate);

/// Builds a kubernetes gate from its `with:`; reports problems into the diagnostics: no
/// workloads and no selector, both, a workload that is not KIND/NAME of a Deployment,
/// StatefulSet or DaemonSet, an empty namespace or context.
std::unique_ptr<Gate> make_kubernetes(const pipeline::ConfigNode& with);

}  // namespace promote::gates
