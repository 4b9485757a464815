#pragma once
// Evaluates a stage's gates concurrently on Boost.Asio, each with its own timeout.

#include <vector>

#include "engine/gate.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::scheduler {

/// Evaluates `gates` concurrently and returns one verdict per gate, in declaration
/// order. A gate that outlives its timeout is cancelled and judged `error` ("timed
/// out after 5m"); one that throws is judged `error` with the reason. Never throws.
std::vector<Verdict> evaluate(const std::vector<pipeline::GateSpec>& gates,
                              const GateContext& context);

}  // namespace promote::scheduler
