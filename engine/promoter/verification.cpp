#include "engine/promoter/verification.hpp"

#include <algorithm>

#include "engine/promoter/promotion_parts.hpp"

namespace promote::promoter {

Result<std::optional<HealthyEntry>> ObservedTimeline::healthy(const std::string& stage,
                                                              const std::string& commit) const {
  auto recorded = m_base.healthy(stage, commit);
  if (!recorded || recorded->has_value() || !m_observed || m_observed->stage != stage ||
      m_observed->commit != commit) {
    return recorded;
  }
  std::string names;
  for (const auto& name : m_observed->gates) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return std::optional<HealthyEntry>(HealthyEntry{m_observed->since, names + " (this run)"});
}

namespace {

// What the verification gates among `gates` saw, when there are some and each passed.
std::optional<Observation> observation(const std::vector<pipeline::GateSpec>& gates,
                                       const std::vector<Verdict>& verdicts,
                                       const GateContext& context) {
  Observation seen;
  bool any = false;
  for (std::size_t i = 0; i < gates.size(); ++i) {
    if (!gates[i].gate || !gates[i].gate->verifies()) {
      continue;
    }
    if (!passes(verdicts[i].status)) {
      return std::nullopt;
    }
    const auto since = verdicts[i].healthy_since.value_or(context.timeline.now());
    seen.since = any ? std::max(seen.since, since) : since;
    seen.gates.push_back(gates[i].name);
    any = true;
  }
  if (!any || !context.from) {
    return std::nullopt;
  }
  auto entry = context.timeline.entered(*context.from, context.candidate);
  if (!entry || !entry->has_value() || (*entry)->commit.empty()) {
    return std::nullopt;  // the gates could not have passed without it
  }
  seen.stage = *context.from;
  seen.commit = (*entry)->commit;
  return seen;
}

}  // namespace

Evaluation evaluate_observing(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context, const scheduler::Options& options) {
  Evaluation out;
  const bool ordered = std::any_of(gates.begin(), gates.end(), [](const pipeline::GateSpec& g) {
    return g.gate && g.gate->after_verification();
  });
  if (!ordered) {
    out.verdicts = scheduler::evaluate(gates, context, options);
    out.observed = observation(gates, out.verdicts, context);
    return out;
  }
  // First the verification gates, then the others with what they saw.
  std::vector<pipeline::GateSpec> first;
  std::vector<pipeline::GateSpec> then;
  std::vector<std::size_t> first_at;
  std::vector<std::size_t> then_at;
  for (std::size_t i = 0; i < gates.size(); ++i) {
    const bool verifies = gates[i].gate && gates[i].gate->verifies();
    (verifies ? first : then).push_back(gates[i]);
    (verifies ? first_at : then_at).push_back(i);
  }
  out.verdicts.resize(gates.size());
  const auto first_verdicts = scheduler::evaluate(first, context, options);
  for (std::size_t i = 0; i < first.size(); ++i) {
    out.verdicts[first_at[i]] = first_verdicts[i];
  }
  out.observed = observation(first, first_verdicts, context);
  const auto failed =
      std::find_if(first_verdicts.begin(), first_verdicts.end(),
                   [](const Verdict& v) { return v.status == Verdict::Status::fail; });
  if (options.fail_fast && failed != first_verdicts.end()) {
    const std::string& decider =
        first[static_cast<std::size_t>(failed - first_verdicts.begin())].name;
    for (std::size_t at : then_at) {
      out.verdicts[at] = scheduler::stopped("not evaluated", decider);
    }
    return out;
  }
  const ObservedTimeline timeline(context.timeline, out.observed);
  auto then_verdicts = scheduler::evaluate(then, context.with_timeline(timeline), options);
  for (std::size_t i = 0; i < then.size(); ++i) {
    out.verdicts[then_at[i]] = std::move(then_verdicts[i]);
  }
  return out;
}

history::PromotionRecord verification_record(const Observation& observed,
                                             const Candidate& candidate,
                                             const history::PipelineId& pipeline,
                                             const std::vector<GateResult>& gates,
                                             const std::string& actor,
                                             std::chrono::system_clock::time_point started) {
  history::PromotionRecord record;
  record.id = new_promotion_id(started);
  record.pipeline = pipeline.name;
  record.pipeline_file = pipeline.file;
  record.stage = observed.stage;
  record.candidate_id = candidate.id();
  record.images = candidate.to_json()["images"];
  record.charts = candidate.charts;
  record.carried = candidate.files;
  record.outcome = "verified";
  record.actor = actor;
  record.commit = observed.commit;
  record.started = started;
  record.finished = std::chrono::system_clock::now();
  record.healthy_since = observed.since;
  for (const GateResult& gate : gates) {
    if (std::find(observed.gates.begin(), observed.gates.end(), gate.name) !=
        observed.gates.end()) {
      record.gates.push_back(to_record(gate));
    }
  }
  return record;
}

Result<bool> record_first_observation(history::History& history, const Observation& observed,
                                      const Candidate& candidate,
                                      const history::PipelineId& pipeline,
                                      const std::vector<GateResult>& gates,
                                      const std::string& actor,
                                      std::chrono::system_clock::time_point started) {
  auto known = history.healthy(pipeline, observed.stage, observed.commit);
  if (!known) {
    return known.error();
  }
  if (known->has_value()) {
    return false;
  }
  if (auto recorded =
          history.record(verification_record(observed, candidate, pipeline, gates, actor, started));
      !recorded) {
    return recorded.error();
  }
  return true;
}

}  // namespace promote::promoter
