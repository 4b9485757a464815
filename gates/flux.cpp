#include "gates/flux.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/http/kube.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

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

namespace {

using Status = Verdict::Status;

// A kind the gate reads: its API group, the versions tried newest first, its plural.
struct FluxKind {
  const char* kind;
  const char* group;
  std::array<const char*, 3> versions;
  const char* plural;
};
constexpr FluxKind k_kustomization{
    "Kustomization", "kustomize.toolkit.fluxcd.io", {"v1", "v1beta2", nullptr}, "kustomizations"};
constexpr FluxKind k_helmrelease{
    "HelmRelease", "helm.toolkit.fluxcd.io", {"v2", "v2beta2", "v2beta1"}, "helmreleases"};

class FluxGate : public Gate {
 public:
  FluxGate(std::vector<std::string> kustomizations, std::vector<std::string> helmreleases,
           std::string namespace_name, std::string context, std::string chart)
      : m_kustomizations(std::move(kustomizations)),
        m_helmreleases(std::move(helmreleases)),
        m_namespace(std::move(namespace_name)),
        m_context(std::move(context)),
        m_chart(std::move(chart)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    // The commit that brought the candidate into the source stage, for the Kustomizations.
    std::string entered;
    if (!m_kustomizations.empty()) {
      auto entry = context.timeline.entered(context.from.value_or(""), context.candidate);
      if (!entry) {
        co_return Verdict::make(Status::error,
                                "cannot tell which commit brought the candidate "
                                "into " +
                                    context.from.value_or("") + ": " + entry.error().message);
      }
      if (!entry->has_value() || (*entry)->commit.empty()) {
        co_return Verdict::make(Status::error, "no record says which commit brought candidate " +
                                                   context.candidate.short_id() + " into " +
                                                   context.from.value_or(""));
      }
      entered = (*entry)->commit;
    }
    std::optional<Error> graph_error;
    const ContainsCommit contains = [&](const std::string& commit) -> std::optional<bool> {
      if (context.commits == nullptr) {
        return std::nullopt;
      }
      auto holds = context.commits->contains(commit, entered);
      if (!holds) {
        graph_error = holds.error();
        return std::nullopt;
      }
      return *holds;
    };
    auto client = kube::connect(m_context);
    if (!client) {
      co_return Verdict::make(Status::error, client.error().message);
    }
    nlohmann::json rows = nlohmann::json::array();
    std::string failed;
    std::string waiting;
    std::vector<std::string> missing;
    std::string since;  // the latest Ready time of them all
    std::optional<std::chrono::system_clock::time_point> ready_at;  // the same, as a time
    for (const auto& [kind, names] : {std::pair{&k_kustomization, &m_kustomizations},
                                      std::pair{&k_helmrelease, &m_helmreleases}}) {
      for (const auto& name : *names) {
        Found object;
        for (const char* version : kind->versions) {
          if (version == nullptr) {
            break;
          }
          auto found =
              co_await client->get_object(kind->group, version, m_namespace, kind->plural, name);
          if (!found) {
            co_return Verdict::make(Status::error, found.error().message);
          }
          if (*found) {
            object = std::move(*found);
            break;
          }
        }
        if (!object) {
          missing.push_back(std::string(kind->kind) + " " + name);
          continue;
        }
        (*object)["kind"] = kind->kind;
        const FluxState state = flux_status(*object, contains, chart_version(*object, context));
        if (graph_error) {
          co_return Verdict::make(Status::error, graph_error->message);
        }
        const std::string message = util::one_line(state.message);
        rows.push_back({{"object", std::string(kind->kind) + "/" + name},
                        {"state", state.state == FluxState::State::ready    ? "ready"
                                  : state.state == FluxState::State::failed ? "failed"
                                                                            : "reconciling"},
                        {"revision", util::one_line(state.revision)},
                        {"ready_since", state.since},
                        {"message", message}});
        if (state.state == FluxState::State::failed || state.state == FluxState::State::unknown) {
          failed = failed.empty() ? message : failed;
        } else if (state.state == FluxState::State::reconciling) {
          waiting = waiting.empty() ? message : waiting;
        } else {
          // The latest of their Ready times (text compares as time only in one offset).
          const auto ready = util::parse_rfc3339(state.since);
          if (ready && (!ready_at || *ready > *ready_at)) {
            ready_at = ready;
            since = state.since;
          }
        }
      }
    }
    nlohmann::json details = {{"context", client->context()},
                              {"namespace", m_namespace},
                              {"entered_commit", entered},
                              {"objects", rows},
                              {"missing", missing}};
    if (!missing.empty()) {
      co_return Verdict::make(
          Status::fail,
          "no " + util::one_line(missing.front()) + " in namespace " + util::one_line(m_namespace),
          std::move(details));
    }
    if (!failed.empty()) {
      co_return Verdict::make(Status::fail, failed, std::move(details));
    }
    if (!waiting.empty()) {
      Verdict verdict = Verdict::make(Status::pending, waiting, std::move(details));
      verdict.retry_after = std::chrono::seconds(30);
      co_return verdict;
    }
    details["ready_since"] = since;
    Verdict verdict = Verdict::make(
        Status::pass,
        std::to_string(rows.size()) + " Flux object" + (rows.size() == 1 ? "" : "s") +
            " Ready with the candidate" + (since.empty() ? "" : " (since " + since + ")"),
        std::move(details));
    // Healthy since the last of them became Ready; when none says, since it was seen so.
    verdict.healthy_since = ready_at.value_or(context.timeline.now());
    co_return verdict;
  }

  nlohmann::json config() const override {
    nlohmann::json out = {{"namespace", m_namespace}};
    if (!m_kustomizations.empty()) {
      out["kustomizations"] = m_kustomizations;
    }
    if (!m_helmreleases.empty()) {
      out["helmreleases"] = m_helmreleases;
    }
    if (!m_context.empty()) {
      out["context"] = m_context;
    }
    if (!m_chart.empty()) {
      out["chart"] = m_chart;
    }
    return out;
  }

  bool needs_source() const override { return true; }
  bool verifies() const override { return true; }

 private:
  using Found = std::optional<nlohmann::json>;

  // The candidate's version of the chart a HelmRelease releases: `chart:`, else the pipeline
  // chart named as its spec.chart.spec.chart; "" when the candidate has none (not checked).
  std::string chart_version(const nlohmann::json& object, const GateContext& context) const {
    std::string chart = m_chart;
    if (chart.empty() && object.contains("spec") && object["spec"].is_object()) {
      const nlohmann::json& spec = object["spec"];
      if (spec.contains("chart") && spec["chart"].is_object() && spec["chart"].contains("spec") &&
          spec["chart"]["spec"].is_object()) {
        chart = spec["chart"]["spec"].value("chart", "");
      }
    }
    const auto found = context.candidate.charts.find(chart);
    return found == context.candidate.charts.end() ? "" : found->second;
  }

  std::vector<std::string> m_kustomizations;
  std::vector<std::string> m_helmreleases;
  std::string m_namespace;
  std::string m_context;
  std::string m_chart;
};

}  // namespace

std::unique_ptr<Gate> make_flux(const pipeline::ConfigNode& with) {
  const std::size_t before = with.diagnostics().messages().size();
  if (with.is_null()) {
    with.error("gate 'flux' needs 'with: { kustomizations: [NAME] }' or helmreleases");
    return nullptr;
  }
  if (!with.expect_map("gate 'flux'",
                       {"kustomizations", "helmreleases", "namespace", "context", "chart"})) {
    return nullptr;
  }
  std::vector<std::string> kustomizations;
  std::vector<std::string> helmreleases;
  for (const auto& [key, into] :
       {std::pair{"kustomizations", &kustomizations}, std::pair{"helmreleases", &helmreleases}}) {
    if (auto node = with.get(key)) {
      if (auto names = node->as_string_list(key)) {
        if (names->empty() || std::find(names->begin(), names->end(), "") != names->end()) {
          node->error("'" + std::string(key) + "' must name at least one object, by name");
        }
        *into = std::move(*names);
      }
    }
  }
  if (kustomizations.empty() && helmreleases.empty() &&
      with.diagnostics().messages().size() == before) {
    with.error("gate 'flux' needs 'kustomizations' or 'helmreleases' (or both)");
  }
  std::string namespace_name = "flux-system";
  std::string context;
  std::string chart;
  for (const auto& [key, into] : {std::pair{"namespace", &namespace_name},
                                  std::pair{"context", &context}, std::pair{"chart", &chart}}) {
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
  return std::make_unique<FluxGate>(std::move(kustomizations), std::move(helmreleases),
                                    std::move(namespace_name), std::move(context),
                                    std::move(chart));
}

}  // namespace promote::gates
