#include "engine/promoter/verify.hpp"

#include <algorithm>

#include "engine/history/history.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/timeline.hpp"
#include "engine/promoter/verification.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/json.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

int VerifyResult::exit_code() const {
  if (outcome == "verified") {
    return 0;
  }
  if (outcome == "blocked") {
    return 1;
  }
  return outcome == "pending" ? 3 : 4;
}

std::vector<pipeline::GateSpec> verification_gates(const pipeline::Pipeline& pipeline,
                                                   const pipeline::Stage& stage) {
  if (!stage.verify.empty()) {
    return stage.verify;
  }
  std::vector<pipeline::GateSpec> out;
  std::vector<nlohmann::json> seen;  // a gate configured alike in two stages runs once
  for (const auto& next : pipeline.stages) {
    if (next.from != stage.name) {
      continue;
    }
    for (const auto& spec : next.gates) {
      if (!spec.gate || !spec.gate->verifies()) {
        continue;
      }
      const nlohmann::json identity = {spec.use, spec.gate->config()};
      if (std::find(seen.begin(), seen.end(), identity) != seen.end()) {
        continue;
      }
      seen.push_back(identity);
      pipeline::GateSpec copy = spec;
      // Names are unique in a stage, not across stages.
      if (std::any_of(out.begin(), out.end(),
                      [&](const pipeline::GateSpec& other) { return other.name == copy.name; })) {
        copy.name = next.name + "/" + spec.name;
      }
      out.push_back(std::move(copy));
    }
  }
  return out;
}

namespace {

// Evaluates the gates on what the stage holds, in the repository as it is now.
Result<void> evaluate(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                      const std::vector<pipeline::GateSpec>& gates, const VerifyRequest& request,
                      const RecordTrust& trust, VerifyResult& result,
                      std::optional<Observation>& observed) {
  auto workspace = Workspace::open(pipeline);
  if (!workspace) {
    return workspace.error();
  }
  auto candidate = candidate_in(pipeline, stage, workspace->root());
  if (!candidate) {
    return candidate.error();
  }
  result.candidate = std::move(*candidate);
  auto history = history::History::open_existing(history_path(pipeline.file, request.history_path));
  if (!history) {
    return history.error();
  }
  const RepositoryTimeline timeline(pipeline, workspace->repository(),
                                    *history ? &**history : nullptr, &trust);
  auto entry = timeline.entered(stage.name, result.candidate);
  if (!entry) {
    return entry.error();
  }
  if (*entry) {
    result.commit = (*entry)->commit;
    result.entered_source = (*entry)->source;
  }
  // The gates judge "the stage the candidate comes from": here the stage itself.
  GateContext context{result.candidate, stage.name, stage.name, pipeline.base_dir, timeline};
  context.pipeline = pipeline.name;
  context.actor = result.actor;
  context.commits = &timeline;
  context.progress = request.on_progress;
  auto evaluated = evaluate_observing(gates, context, scheduler::options_for(stage));
  for (std::size_t i = 0; i < gates.size(); ++i) {
    result.gates.push_back(GateResult{gates[i].name, gates[i].use,
                                      gates[i].gate ? gates[i].gate->config() : nlohmann::json(),
                                      std::move(evaluated.verdicts[i])});
  }
  observed = std::move(evaluated.observed);
  if (observed) {
    auto known = timeline.healthy(stage.name, observed->commit);
    if (!known) {
      return known.error();
    }
    if (*known) {
      result.healthy_since = (*known)->at;
      result.healthy_source = (*known)->source;
    } else {
      result.healthy_since = observed->since;
      result.healthy_source = "this run";
    }
  }
  return {};
}

}  // namespace

Result<VerifyResult> verify(const pipeline::Pipeline& pipeline, const VerifyRequest& request) {
  auto named = pipeline.stage_named(request.stage);
  if (!named) {
    return named.error();
  }
  const pipeline::Stage* stage = *named;
  const auto gates = verification_gates(pipeline, *stage);
  if (gates.empty()) {
    return make_error(ErrorKind::usage,
                      "stage '" + stage->name +
                          "' has no verification gates: give it 'verify:' (argocd, flux or "
                          "kubernetes gates that observe it), or a stage 'from: " +
                          stage->name + "' gates of those kinds");
  }
  if (auto place = check_history_place(pipeline.file, request.history_path); !place) {
    return place.error();
  }
  // Checked before anything runs: a record this run may write must count.
  auto trust = RecordTrust::for_pipeline(pipeline, true);
  if (!trust) {
    return trust.error();
  }
  VerifyResult result;
  result.pipeline = pipeline.name;
  result.stage = stage->name;
  result.started = std::chrono::system_clock::now();
  result.actor = request.actor.empty() ? util::current_actor() : request.actor;
  std::optional<Observation> observed;
  if (auto evaluated = evaluate(pipeline, *stage, gates, request, *trust, result, observed);
      !evaluated) {
    return evaluated.error();
  }
  const Outcome outcome = judge(result.gates);
  result.outcome = outcome == Outcome::promoted ? "verified" : to_string(outcome);
  if (!observed || result.healthy_source != "this run") {
    return result;  // nothing seen, or seen before: nothing to record
  }
  // The first time it is seen healthy: recorded under the write locks, then in the notes.
  const fs::path path = history_path(pipeline.file, request.history_path);
  auto warning = record_on_head(
      pipeline, *trust, path,
      [&](history::History& history, const Result<Workspace>&) -> Result<std::string> {
        const history::PipelineId id = pipeline_identity(pipeline);
        auto recorded = record_first_observation(history, *observed, result.candidate, id,
                                                 result.gates, result.actor, result.started);
        if (!recorded) {
          return recorded.error();
        }
        if (*recorded) {
          auto found = history.healthy(id, observed->stage, observed->commit);
          if (found && *found) {
            result.recorded = (*found)->id;
          }
        } else {
          // Another run recorded it meanwhile: that one is the first.
          auto found = history.healthy(id, observed->stage, observed->commit);
          if (found && *found) {
            result.healthy_since = (*found)->since;
            result.healthy_source = "verification " + (*found)->id + " (history)";
          }
        }
        return std::string();  // the backlog carries the record into the notes, on its commit
      });
  if (!warning) {
    return warning.error();
  }
  if (!warning->empty()) {
    result.warnings.push_back(*warning);
  }
  return result;
}

}  // namespace promote::promoter
