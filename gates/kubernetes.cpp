#include "gates/kubernetes.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "engine/http/kube.hpp"
#include "engine/image/reference.hpp"
#include "engine/util/text.hpp"

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

namespace {

using Status = Verdict::Status;

// The workload kinds, as `kubectl` names them: kind, plural, short name.
struct WorkloadKind {
  const char* kind;
  const char* plural;
  const char* singular;
  const char* short_name;
};
constexpr std::array<WorkloadKind, 3> k_kinds = {
    {{"Deployment", "deployments", "deployment", "deploy"},
     {"StatefulSet", "statefulsets", "statefulset", "sts"},
     {"DaemonSet", "daemonsets", "daemonset", "ds"}}};

// One workload named in `with.workloads`.
struct Named {
  const WorkloadKind* kind;
  std::string name;
};

const WorkloadKind* kind_named(const std::string& word) {
  for (const auto& kind : k_kinds) {
    if (word == kind.plural || word == kind.singular || word == kind.short_name) {
      return &kind;
    }
  }
  return nullptr;
}

class KubernetesGate : public Gate {
 public:
  KubernetesGate(std::vector<Named> workloads, std::string selector, std::string namespace_name,
                 std::string context)
      : m_workloads(std::move(workloads)),
        m_selector(std::move(selector)),
        m_namespace(std::move(namespace_name)),
        m_context(std::move(context)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    auto client = kube::connect(m_context);
    if (!client) {
      co_return Verdict::make(Status::error, client.error().message);
    }
    const std::string namespace_name = m_namespace.empty() ? client->namespace_name() : m_namespace;
    std::vector<nlohmann::json> objects;
    std::vector<std::string> missing;
    if (!m_workloads.empty()) {
      for (const auto& workload : m_workloads) {
        auto found = co_await client->get_object("apps", "v1", namespace_name,
                                                 workload.kind->plural, workload.name);
        if (!found) {
          co_return Verdict::make(Status::error, found.error().message);
        }
        if (!*found) {
          missing.push_back(std::string(workload.kind->singular) + "/" + workload.name);
          continue;
        }
        objects.push_back(std::move(**found));
      }
    } else {
      for (const auto& kind : k_kinds) {
        auto found = co_await client->list("apps", "v1", namespace_name, kind.plural, m_selector);
        if (!found) {
          co_return Verdict::make(Status::error, found.error().message);
        }
        if (*found && (**found)["items"].is_array()) {
          for (auto& item : (**found)["items"]) {
            item["kind"] = kind.kind;  // a list's items do not say their kind
            objects.push_back(std::move(item));
          }
        }
      }
    }
    Verdict verdict = judge(objects, missing, namespace_name, client->context(), context.candidate);
    if (verdict.status == Status::pass) {
      // A workload does not say when its rollout completed: healthy since it was seen so.
      verdict.healthy_since = context.timeline.now();
    }
    co_return verdict;
  }

  nlohmann::json config() const override {
    nlohmann::json out = nlohmann::json::object();
    if (!m_workloads.empty()) {
      out["workloads"] = nlohmann::json::array();
      for (const auto& workload : m_workloads) {
        out["workloads"].push_back(std::string(workload.kind->singular) + "/" + workload.name);
      }
    } else {
      out["selector"] = m_selector;
    }
    if (!m_namespace.empty()) {
      out["namespace"] = m_namespace;
    }
    if (!m_context.empty()) {
      out["context"] = m_context;
    }
    return out;
  }

  bool needs_source() const override { return true; }
  bool verifies() const override { return true; }

 private:
  Verdict judge(const std::vector<nlohmann::json>& objects, const std::vector<std::string>& missing,
                const std::string& namespace_name, const std::string& cluster_context,
                const Candidate& candidate) const {
    nlohmann::json rows = nlohmann::json::array();
    std::string failed;
    std::string waiting;
    std::vector<std::string> done;
    for (const auto& object : objects) {
      const Rollout rollout = rollout_status(object);
      const auto wrong = images_not_candidate(object, candidate);
      const std::string kind = object.value("kind", "");
      const std::string name = object.contains("metadata") && object["metadata"].is_object()
                                   ? object["metadata"].value("name", "")
                                   : "";
      const std::string label = util::one_line(kind + "/" + name);
      std::string state = "complete";
      if (rollout.state == Rollout::State::failed || rollout.state == Rollout::State::unknown) {
        state = "failed";
        failed = failed.empty() ? util::one_line(rollout.message) : failed;
      } else if (rollout.state == Rollout::State::progressing) {
        state = "progressing";
        waiting = waiting.empty() ? util::one_line(rollout.message) : waiting;
      } else if (!wrong.empty()) {
        state = "other images";
        waiting = waiting.empty() ? label + ": " + util::one_line(wrong.front()) : waiting;
      } else {
        done.push_back(label);
      }
      rows.push_back({{"workload", label},
                      {"state", state},
                      {"rollout", util::one_line(rollout.message)},
                      {"images", workload_images(object)},
                      {"not_candidate", wrong}});
    }
    nlohmann::json details = {{"context", cluster_context},
                              {"namespace", namespace_name},
                              {"workloads", rows},
                              {"missing", missing}};
    if (!missing.empty()) {
      return Verdict::make(
          Status::fail, "no " + missing.front() + " in namespace " + util::one_line(namespace_name),
          std::move(details));
    }
    if (objects.empty()) {
      return Verdict::make(Status::fail,
                           "no Deployment, StatefulSet or DaemonSet in namespace " +
                               util::one_line(namespace_name) + " matches " +
                               util::one_line(m_selector),
                           std::move(details));
    }
    if (!failed.empty()) {
      return Verdict::make(Status::fail, failed, std::move(details));
    }
    if (!waiting.empty()) {
      Verdict verdict = Verdict::make(Status::pending, waiting, std::move(details));
      verdict.retry_after = std::chrono::seconds(30);
      return verdict;
    }
    std::string names;
    for (const auto& name : done) {
      names += (names.empty() ? "" : ", ") + name;
    }
    return Verdict::make(
        Status::pass,
        std::to_string(done.size()) + " rolled out with the candidate's images (" + names + ")",
        std::move(details));
  }

  std::vector<Named> m_workloads;
  std::string m_selector;
  std::string m_namespace;
  std::string m_context;
};

}  // namespace

std::unique_ptr<Gate> make_kubernetes(const pipeline::ConfigNode& with) {
  const std::size_t before = with.diagnostics().messages().size();
  if (with.is_null()) {
    with.error("gate 'kubernetes' needs 'with: { workloads: [deployment/NAME] }' or a selector");
    return nullptr;
  }
  if (!with.expect_map("gate 'kubernetes'", {"workloads", "selector", "namespace", "context"})) {
    return nullptr;
  }
  std::vector<Named> workloads;
  std::string selector;
  const auto listed = with.get("workloads");
  const auto selected = with.get("selector");
  if (listed.has_value() == selected.has_value()) {
    with.error("gate 'kubernetes' takes 'workloads' or 'selector' (one of them)");
    return nullptr;
  }
  if (listed) {
    if (auto names = listed->as_string_list("workloads")) {
      if (names->empty()) {
        listed->error("'workloads' must name at least one workload");
      }
      for (const auto& text : *names) {
        const auto slash = text.find('/');
        const WorkloadKind* kind =
            slash == std::string::npos ? nullptr : kind_named(text.substr(0, slash));
        if (kind == nullptr || slash + 1 >= text.size()) {
          listed->error(
              "'workloads' entries are KIND/NAME of a deployment, statefulset or "
              "daemonset, got '" +
              util::one_line(text) + "'");
          continue;
        }
        workloads.push_back(Named{kind, text.substr(slash + 1)});
      }
    }
  } else if (auto text = selected->as_string("selector")) {
    if (text->empty()) {
      selected->error("'selector' must not be empty");
    }
    selector = *text;
  }
  std::string namespace_name;
  std::string context;
  for (const auto& [key, into] :
       {std::pair{"namespace", &namespace_name}, std::pair{"context", &context}}) {
    if (auto node = with.get(key)) {
      if (auto text = node->as_string(key)) {
        if (text->empty()) {
          node->error("'" + std::string(key) +
                      "' must not be empty (leave it out for the default)");
        }
        *into = *text;
      }
    }
  }
  if (with.diagnostics().messages().size() != before) {
    return nullptr;
  }
  return std::make_unique<KubernetesGate>(std::move(workloads), std::move(selector),
                                          std::move(namespace_name), std::move(context));
}

}  // namespace promote::gates
