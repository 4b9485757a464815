#pragma once
// The `window` gate: promotions may happen only inside allowed weekly time windows and
// outside freeze periods, both read on the wall clock of an IANA time zone.

#include <memory>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// How far ahead the window gate looks for the next opening before it fails.
inline constexpr int k_window_search_days = 400;

/// Builds a window gate from `with: { timezone, allow: [{days, start, end}], deny: [{from,
/// to, reason}] }`; reports every problem (including "unknown time zone 'X'") into the
/// diagnostics and returns nullptr when invalid.
std::unique_ptr<Gate> make_window(const pipeline::ConfigNode& with);

}  // namespace promote::gates
