#pragma once
// Reading a stage's gate lists (internal to the pipeline loader).

#include <string>
#include <vector>

#include "engine/pipeline/pipeline.hpp"

namespace promote::pipeline {

/// The gates of `node`: a stage's `gates:`, or with `verify` its `verify:` (the gates that observe
/// the stage's own running system: only those whose Gate::verifies()). Reports every problem
/// through `node`'s diagnostics, FILE:LINE:COL; `what` names the stage ("stage 'prod'").
std::vector<GateSpec> read_gate_specs(const ConfigNode& node, const GateCatalog& gates,
                                      const Stage& stage, const std::string& what, bool verify);

}  // namespace promote::pipeline
