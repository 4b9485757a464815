#pragma once
// The `approval` gate: passes when enough distinct, eligible people approved this exact
// candidate for this stage recently enough (`promote approve`), with quorum rules over
// named groups; a rejection (`promote reject`) blocks.

#include <memory>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

std::unique_ptr<Gate> make_approval(const pipeline::ConfigNode& with);

}  // namespace promote::gates
