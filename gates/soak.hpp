#pragma once
// The `soak` gate: the candidate has been in the source stage for at least `min`.

#include <memory>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// Builds a soak gate from `with: { min: 2h }`; reports problems into the diagnostics.
std::unique_ptr<Gate> make_soak(const pipeline::ConfigNode& with);

}  // namespace promote::gates
