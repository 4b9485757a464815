#include "gates/flux.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>

namespace promote::gates {

namespace {

using nlohmann::json;
using State = FluxState::State;

const json& member(const json& object, std::string_view key) {
  static const json k_null;
  if (!object.is_object()) {
    return k_null;
  }
  const auto found = object.find(key);
  return found == object.end() ? k_null : *found;
}

std::string text(const json& value) {
  return value.is_string() ? value.get<std::string>() : "";
}

// The condition of `type`, or null.
const json& condition(const json& object, std::string_view type) {
  static const json k_null;
  const json& conditions = member(member(object, "status"), "conditions");
  if (conditions.is_array()) {
    for (const auto& entry : conditions) {
      if (text(member(entry, "type")) == type) {
        return entry;
      }
    }
  }
  return k_null;
}

bool is_true(const json& condition) {
  return text(member(condition, "status")) == "True";
}
bool is_false(const json& condition) {
  return text(member(condition, "status")) == "False";
}

// Reasons after which the controllers do not succeed by themselves on the same revision.
constexpr std::array<std::string_view, 11> k_terminal = {
    "BuildFailed",     "HealthCheckFailed", "ReconciliationFailed", "ValidationFailed",
    "InstallFailed",   "UpgradeFailed",     "TestFailed",           "RollbackFailed",
    "UninstallFailed", "RetriesExceeded",   "PruneFailed"};

bool terminal(const std::string& reason) {
  return std::find(k_terminal.begin(), k_terminal.end(), reason) != k_terminal.end();
}

// A chart version without its "+build" metadata (helm-controller adds "+digest").
std::string version_of(std::string version) {
  if (const auto plus = version.find('+'); plus != std::string::npos) {
    version.erase(plus);
  }
  return version;
}

// What a HelmRelease applied and attempted: v2's history (newest first), else v2beta1's fields.
std::pair<std::string, std::string> helm_versions(const json& status) {
  const json& history = member(status, "history");
  if (history.is_array() && !history.empty()) {
    const std::string newest = text(member(history[0], "chartVersion"));
    const bool deployed = text(member(history[0], "status")) == "deployed";
    std::string applied = deployed ? newest : "";
    for (const auto& entry : history) {
      if (applied.empty() && text(member(entry, "status")) == "deployed") {
        applied = text(member(entry, "chartVersion"));
      }
    }
    return {version_of(applied), version_of(newest)};
  }
  return {version_of(text(member(status, "lastAppliedRevision"))),
          version_of(text(member(status, "lastAttemptedRevision")))};
}

}  // namespace

std::string flux_commit(const std::string& revision) {
  std::string_view hex = revision;
  if (const auto at = hex.find("@sha1:"); at != std::string_view::npos) {
    hex.remove_prefix(at + 6);
  } else if (hex.starts_with("sha1:")) {
    hex.remove_prefix(5);
  } else if (const auto slash = hex.rfind('/'); slash != std::string_view::npos) {
    hex.remove_prefix(slash + 1);
  } else {
    return "";
  }
  const bool is_hex =
      hex.size() >= 7 && hex.size() <= 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
  return is_hex ? std::string(hex) : "";
}

FluxState flux_status(const json& object, const ContainsCommit& contains,
                      const std::string& chart_version) {
  const std::string kind = text(member(object, "kind"));
  const std::string name = text(member(member(object, "metadata"), "name"));
  const std::string what = kind + " \"" + name + "\"";
  if (kind != "Kustomization" && kind != "HelmRelease") {
    return {State::unknown,
            "no Flux object to judge: kind '" + kind + "' is no Kustomization or HelmRelease", "",
            ""};
  }
  const json& status = member(object, "status");
  const json& ready = condition(object, "Ready");
  const std::string reason = text(member(ready, "reason"));
  const std::string said = text(member(ready, "message"));
  if (const json& stalled = condition(object, "Stalled"); is_true(stalled)) {
    return {State::failed,
            what + " is stalled (" + text(member(stalled, "reason")) +
                "): " + text(member(stalled, "message")),
            "", ""};
  }
  const json& generation = member(member(object, "metadata"), "generation");
  const json& observed = member(status, "observedGeneration");
  if (generation.is_number_integer() &&
      (!observed.is_number_integer() ||
       observed.get<std::int64_t>() < generation.get<std::int64_t>())) {
    return {State::reconciling, what + " has not observed its latest spec yet", "", ""};
  }
  const bool suspended = member(member(object, "spec"), "suspend") == true;
  const std::string paused =
      suspended ? " (it is suspended: nothing changes until it is resumed)" : "";

  // What it applied and attempted, and whether each is what the candidate needs.
  std::string applied;
  std::string attempted;
  std::optional<bool> applied_ok;
  std::optional<bool> attempted_ok;
  std::string wanted;
  if (kind == "Kustomization") {
    applied = text(member(status, "lastAppliedRevision"));
    attempted = text(member(status, "lastAttemptedRevision"));
    const auto holds = [&](const std::string& revision) -> std::optional<bool> {
      const std::string commit = flux_commit(revision);
      return commit.empty() ? std::nullopt : contains(commit);
    };
    applied_ok = holds(applied);
    attempted_ok = attempted.empty() ? applied_ok : holds(attempted);
    wanted = "the candidate's commit";
  } else {
    std::tie(applied, attempted) = helm_versions(status);
    if (chart_version.empty()) {
      applied_ok = true;
      attempted_ok = true;
    } else {
      applied_ok = !applied.empty() && applied == version_of(chart_version);
      attempted_ok = !attempted.empty() && attempted == version_of(chart_version);
      wanted = "chart version " + chart_version;
    }
  }
  if (is_true(ready)) {
    if (applied_ok == true) {
      return {State::ready,
              what + " is Ready with " + (applied.empty() ? "its release" : applied) +
                  (wanted.empty() ? "" : ", which holds " + wanted),
              applied, text(member(ready, "lastTransitionTime"))};
    }
    return {State::reconciling,
            what + " is Ready with " + (applied.empty() ? "nothing applied" : applied) + ", " +
                (applied_ok ? "which does not hold " + wanted + " yet"
                            : "which this clone does not know (fetch, or wait)") +
                paused,
            applied, ""};
  }
  if (is_false(ready) && terminal(reason) && attempted_ok == true) {
    return {State::failed,
            what + " failed on " + (attempted.empty() ? "its release" : attempted) + " (" + reason +
                "): " + said,
            applied, ""};
  }
  std::string state = ready.is_null() ? "has no Ready condition yet"
                                      : "is not Ready (" + text(member(ready, "status")) +
                                            (reason.empty() ? "" : ", " + reason) +
                                            (said.empty() ? "" : ": " + said) + ")";
  return {State::reconciling, what + " " + state + paused, applied, ""};
}

}  // namespace promote::gates
