#pragma once
// Verification of the running system: what the verification gates of a stage (argocd, flux,
// kubernetes) saw in one run, a timeline that knows it, and the evaluation of a stage's gates
// that runs those gates first when a soak counts from what they saw (`since: healthy`).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/gate.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/scheduler/scheduler.hpp"

namespace promote::promoter {

/// Every verification gate of a run passed: `stage` runs the release that `commit` brought into
/// it healthy since `since` (the latest of the gates' Verdict::healthy_since).
struct Observation {
  std::string stage;
  std::string commit;
  std::chrono::system_clock::time_point since;
  std::vector<std::string> gates;  ///< the names of the gates that saw it
};

/// A Timeline that answers `healthy` from this run's observation where `base` (the history)
/// knows none yet; the rest it asks `base`.
class ObservedTimeline : public Timeline {
 public:
  ObservedTimeline(const Timeline& base, const std::optional<Observation>& observed)
      : m_base(base), m_observed(observed) {}
  TimePoint now() const override { return m_base.now(); }
  Result<std::optional<StageEntry>> entered(const std::string& stage,
                                            const Candidate& candidate) const override {
    return m_base.entered(stage, candidate);
  }
  Result<std::optional<HealthyEntry>> healthy(const std::string& stage,
                                              const std::string& commit) const override;

 private:
  const Timeline& m_base;
  const std::optional<Observation>& m_observed;
};

/// A stage's gates judged: one verdict per gate in declaration order, and what its
/// verification gates saw when there are some and every one of them passed.
struct Evaluation {
  std::vector<Verdict> verdicts;
  std::optional<Observation> observed;
};

/// Evaluates `gates` with the scheduler. When one of them reads what the verification gates
/// saw (Gate::after_verification), the verification gates are evaluated first and the others
/// after them, told of their observation (a failure among the first, with fail_fast, leaves the
/// others not evaluated); else all at once. The observed stage is `context.from`.
Evaluation evaluate_observing(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context, const scheduler::Options& options);

/// The record of an observation of `candidate` in pipeline `pipeline`: outcome "verified",
/// stage the stage observed, commit the commit that brought the candidate there,
/// healthy_since, and the verdicts of the gates that saw it (those of `gates` it names);
/// started at `started`, finished now, by `actor`.
history::PromotionRecord verification_record(const Observation& observed,
                                             const Candidate& candidate,
                                             const history::PipelineId& pipeline,
                                             const std::vector<GateResult>& gates,
                                             const std::string& actor,
                                             std::chrono::system_clock::time_point started);

/// Records `observed` in `history` as a verification_record, unless the history knows since when
/// its stage runs its commit healthy already (only the first observation counts). Returns
/// whether it recorded one.
Result<bool> record_first_observation(history::History& history, const Observation& observed,
                                      const Candidate& candidate,
                                      const history::PipelineId& pipeline,
                                      const std::vector<GateResult>& gates,
                                      const std::string& actor,
                                      std::chrono::system_clock::time_point started);

}  // namespace promote::promoter
