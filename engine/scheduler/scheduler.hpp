#pragma once
// Evaluates a stage's gates concurrently on Boost.Asio: each with its own timeout and
// retries, at most `max_concurrency` at once, stopping early once the outcome is decided.

#include <chrono>
#include <vector>

#include "engine/gate.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::scheduler {

struct Options {
  /// Once a gate fails the stage is blocked whatever the others say: cancel them.
  bool fail_fast = true;
  /// Gates evaluated at once; 0: all of them.
  std::size_t max_concurrency = 0;
  /// First backoff before retrying an `error` verdict; doubles per attempt (capped
  /// at 30 s) with jitter: each wait is a random time between half and all of it.
  std::chrono::milliseconds retry_backoff{1000};
};

/// The verdict of a gate that was `what` ("cancelled", "not evaluated") because gate `decider`
/// failed first: an error that names it.
Verdict stopped(const std::string& what, const std::string& decider);

/// The options a stage declares.
Options options_for(const pipeline::Stage& stage);

/// Evaluates `gates` and returns one verdict per gate, in declaration order. A gate
/// that outlives its timeout is cancelled and judged `error` ("timed out after 5m");
/// one that throws is judged `error` with the reason; an `error` is retried up to
/// the gate's `retries`. Gates cancelled or never started because another gate
/// failed are judged `error` ("cancelled: ..."), never `pass`. Never throws.
std::vector<Verdict> evaluate(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context, const Options& options = {});

}  // namespace promote::scheduler
