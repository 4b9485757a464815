#pragma once
// `promote verify --stage S`: the verification gates of a stage run on the release it holds
// now; the first time they all see it running healthy is recorded (a verification event: the
// history, then the git notes), which a soak with `since: healthy` counts from.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/promotion.hpp"

namespace promote::promoter {

struct VerifyRequest {
  std::string stage;
  std::optional<std::filesystem::path> history_path;  ///< default: beside the pipeline file
  std::string actor;                                  ///< who asks; default from the environment
  std::function<void(const std::string&)> on_progress;
};

struct VerifyResult {
  std::string pipeline;
  std::string stage;
  Candidate candidate;         ///< what the stage holds
  std::string commit;          ///< the commit that brought it there ("" when no record names one)
  std::string entered_source;  ///< what says so (StageEntry::source)
  /// The verification gates: the stage's `verify:`, else those of the stages taking from it.
  std::vector<GateResult> gates;
  /// "verified" when every gate passed, else "blocked", "pending" or "error" as for a promotion.
  std::string outcome;
  std::optional<std::chrono::system_clock::time_point> healthy_since;  ///< when verified
  std::string healthy_source;  ///< where healthy_since comes from
  std::string recorded;        ///< the id of the verification recorded by this run, or ""
  std::string actor;           ///< who ran it
  std::vector<std::string> warnings;
  std::chrono::system_clock::time_point started;

  /// 0 verified, 1 blocked, 3 pending, 4 error.
  int exit_code() const;
};

/// The verification gates of `stage`: its `verify:`, else the gates of the stages whose `from`
/// is `stage` that verify (argocd, flux, kubernetes: they judge `stage`), each once.
std::vector<pipeline::GateSpec> verification_gates(const pipeline::Pipeline& pipeline,
                                                   const pipeline::Stage& stage);

/// Runs the verification gates of `request.stage` on what it holds now, and records the first
/// healthy observation. Fails (usage) on an unknown stage or one without verification gates,
/// (input) when its target or the repository cannot be read; a gate that cannot judge is an
/// "error" outcome. The record is a warning when it cannot be written to the git notes.
Result<VerifyResult> verify(const pipeline::Pipeline& pipeline, const VerifyRequest& request);

}  // namespace promote::promoter
