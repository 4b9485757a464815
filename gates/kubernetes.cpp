#include "gates/kubernetes.hpp"

#include <cstdint>
#include <optional>

#include "engine/image/reference.hpp"

namespace promote::gates {

namespace {

using nlohmann::json;
using State = Rollout::State;

// The member at `path` ("status", "observedGeneration"), or null when a step is absent or no
// object.
const json& at(const json& object, std::initializer_list<const char*> path) {
  static const json k_null;
  const json* node = &object;
  for (const char* key : path) {
    if (!node->is_object()) {
      return k_null;
    }
    const auto found = node->find(key);
    if (found == node->end()) {
      return k_null;
    }
    node = &*found;
  }
  return *node;
}

// An integer field; `fallback` when absent or not an integer.
std::int64_t integer(const json& value, std::int64_t fallback = 0) {
  return value.is_number_integer() ? value.get<std::int64_t>() : fallback;
}

std::optional<std::int64_t> optional_integer(const json& value) {
  if (value.is_number_integer()) {
    return value.get<std::int64_t>();
  }
  return std::nullopt;
}

std::string text(const json& value) {
  return value.is_string() ? value.get<std::string>() : "";
}

// The condition of `type` in status.conditions, or null.
const json& condition(const json& object, const std::string& type) {
  static const json k_null;
  const json& conditions = at(object, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const auto& entry : conditions) {
      if (text(at(entry, {"type"})) == type) {
        return entry;
      }
    }
  }
  return k_null;
}

// Whether the controller has seen the latest spec: metadata.generation at most
// status.observedGeneration (an object without a generation counts as seen).
bool observed(const json& object) {
  const auto generation = optional_integer(at(object, {"metadata", "generation"}));
  const auto seen = optional_integer(at(object, {"status", "observedGeneration"}));
  return !generation || (seen && *generation <= *seen);
}

Rollout waiting(const std::string& what, const std::string& name, const std::string& why) {
  return {State::progressing,
          "Waiting for " + what + " \"" + name + "\" rollout to finish: " + why};
}

Rollout deployment(const json& object, const std::string& name) {
  if (!observed(object)) {
    return {State::progressing, "Waiting for deployment spec update to be observed"};
  }
  const json& progressing = condition(object, "Progressing");
  if (text(at(progressing, {"reason"})) == "ProgressDeadlineExceeded") {
    return {State::failed, "deployment \"" + name + "\" exceeded its progress deadline"};
  }
  const auto wanted = optional_integer(at(object, {"spec", "replicas"}));
  const std::int64_t updated = integer(at(object, {"status", "updatedReplicas"}));
  const std::int64_t total = integer(at(object, {"status", "replicas"}));
  const std::int64_t available = integer(at(object, {"status", "availableReplicas"}));
  Rollout out;
  if (wanted && updated < *wanted) {
    out = waiting("deployment", name,
                  std::to_string(updated) + " out of " + std::to_string(*wanted) +
                      " new replicas have been updated");
  } else if (total > updated) {
    out = waiting("deployment", name,
                  std::to_string(total - updated) + " old replicas are pending termination");
  } else if (available < updated) {
    out = waiting("deployment", name,
                  std::to_string(available) + " of " + std::to_string(updated) +
                      " updated replicas are available");
  } else {
    return {State::complete, "deployment \"" + name + "\" successfully rolled out"};
  }
  if (at(object, {"spec", "paused"}) == true) {
    out.message += " (the deployment is paused: it will not finish until it is resumed)";
  }
  return out;
}

Rollout daemon_set(const json& object, const std::string& name) {
  if (!observed(object)) {
    return {State::progressing, "Waiting for daemon set spec update to be observed"};
  }
  const std::int64_t desired = integer(at(object, {"status", "desiredNumberScheduled"}));
  const std::int64_t available = integer(at(object, {"status", "numberAvailable"}));
  const std::string strategy = text(at(object, {"spec", "updateStrategy", "type"}));
  if (strategy == "OnDelete") {
    // kubectl refuses; promote asks that every pod the controller wants is ready and available.
    const std::int64_t ready = integer(at(object, {"status", "numberReady"}));
    if (ready < desired || available < desired) {
      return waiting("daemon set", name,
                     std::to_string(std::min(ready, available)) + " of " + std::to_string(desired) +
                         " pods are ready (OnDelete)");
    }
    return {State::complete, "daemon set \"" + name + "\" has every pod ready (OnDelete)"};
  }
  const std::int64_t updated = integer(at(object, {"status", "updatedNumberScheduled"}));
  if (updated < desired) {
    return waiting("daemon set", name,
                   std::to_string(updated) + " out of " + std::to_string(desired) +
                       " new pods have been updated");
  }
  if (available < desired) {
    return waiting("daemon set", name,
                   std::to_string(available) + " of " + std::to_string(desired) +
                       " updated pods are available");
  }
  return {State::complete, "daemon set \"" + name + "\" successfully rolled out"};
}

Rollout stateful_set(const json& object, const std::string& name) {
  const auto seen = optional_integer(at(object, {"status", "observedGeneration"}));
  if (!seen || *seen == 0 || !observed(object)) {
    return {State::progressing, "Waiting for statefulset spec update to be observed"};
  }
  const auto wanted = optional_integer(at(object, {"spec", "replicas"}));
  const std::int64_t ready = integer(at(object, {"status", "readyReplicas"}));
  if (wanted && ready < *wanted) {
    return {State::progressing,
            "Waiting for " + std::to_string(*wanted - ready) + " pods to be ready"};
  }
  const std::string current = text(at(object, {"status", "currentRevision"}));
  const std::string update = text(at(object, {"status", "updateRevision"}));
  const std::string strategy = text(at(object, {"spec", "updateStrategy", "type"}));
  if (strategy == "OnDelete") {
    // kubectl refuses; promote asks for the ready replicas and one revision.
    if (current != update) {
      return {State::progressing, "Waiting for the pods of statefulset \"" + name +
                                      "\" to be deleted and come back at revision " + update +
                                      " (OnDelete)"};
    }
    return {State::complete, "statefulset \"" + name + "\" has every pod ready (OnDelete)"};
  }
  const std::int64_t updated = integer(at(object, {"status", "updatedReplicas"}));
  if (const auto partition =
          optional_integer(at(object, {"spec", "updateStrategy", "rollingUpdate", "partition"}));
      partition && *partition > 0) {
    if (wanted && updated < *wanted - *partition) {
      return {State::progressing,
              "Waiting for partitioned roll out to finish: " + std::to_string(updated) +
                  " out of " + std::to_string(*wanted - *partition) +
                  " new pods have been updated"};
    }
    return {State::complete, "partitioned roll out complete: " + std::to_string(updated) +
                                 " new pods have been updated"};
  }
  if (current != update) {
    return {State::progressing, "waiting for statefulset rolling update to complete " +
                                    std::to_string(updated) + " pods at revision " + update};
  }
  return {State::complete, "statefulset rolling update complete " + std::to_string(ready) +
                               " pods at revision " + current};
}

}  // namespace

Rollout rollout_status(const json& object) {
  const std::string kind = text(at(object, {"kind"}));
  const std::string name = text(at(object, {"metadata", "name"}));
  if (kind == "Deployment") {
    return deployment(object, name);
  }
  if (kind == "DaemonSet") {
    return daemon_set(object, name);
  }
  if (kind == "StatefulSet") {
    return stateful_set(object, name);
  }
  return {State::unknown, "no rollout to judge for kind '" + kind +
                              "': Deployment, StatefulSet and DaemonSet have one"};
}

std::vector<std::string> workload_images(const json& object) {
  std::vector<std::string> out;
  for (const char* list : {"initContainers", "containers"}) {
    const json& containers = at(object, {"spec", "template", "spec", list});
    if (!containers.is_array()) {
      continue;
    }
    for (const auto& container : containers) {
      if (const std::string image = text(at(container, {"image"})); !image.empty()) {
        out.push_back(image);
      }
    }
  }
  return out;
}

std::vector<std::string> images_not_candidate(const json& object, const Candidate& candidate) {
  std::vector<std::string> out;
  for (const char* list : {"initContainers", "containers"}) {
    const json& containers = at(object, {"spec", "template", "spec", list});
    if (!containers.is_array()) {
      continue;
    }
    for (const auto& container : containers) {
      const auto running = image::parse(text(at(container, {"image"})));
      if (!running) {
        continue;
      }
      for (const auto& entry : candidate.images) {
        const image::Reference& wanted = entry.second;
        if (!running->same_repository(wanted)) {
          continue;
        }
        // The candidate's digest, or its tag with no other digest beside it.
        const bool digest_agrees =
            wanted.digest.empty() || running->digest.empty() || running->digest == wanted.digest;
        const bool same = (!wanted.digest.empty() && running->digest == wanted.digest) ||
                          (!wanted.tag.empty() && running->tag == wanted.tag && digest_agrees);
        if (!same) {
          out.push_back("container " + text(at(container, {"name"})) + " runs " +
                        running->to_string() + ", not " + wanted.to_string());
        }
      }
    }
  }
  return out;
}

}  // namespace promote::gates
