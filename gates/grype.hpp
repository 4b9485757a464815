#pragma once
// The `grype` gate: judges a Grype JSON report with the shared security policy
// (gates/security_policy.hpp).

#include <memory>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"
#include "gates/security_policy.hpp"

namespace promote::gates {

/// Reads the findings of a Grype JSON report: every `matches[]` entry with its
/// `vulnerability.id`, `vulnerability.severity` (Negligible counts as low) and
/// `artifact.name`, fixable when `vulnerability.fix.state` is "fixed"; `ignoredMatches` are
/// not counted. The report is empty when it has no match, no ignored match and no known
/// source (type absent or "unknown"). Fails (input) naming `label` when the text is not
/// JSON or not a Grype report.
/// `padding` bytes after the text can be read (see k_json_padding).
Result<ScanReport> parse_grype(std::string_view text, const std::string& label,
                               std::size_t padding = 0);

/// Builds a `grype` gate from its `with:` block; reports problems into the diagnostics and
/// returns nullptr when the block is invalid.
std::unique_ptr<Gate> make_grype(const pipeline::ConfigNode& with);

}  // namespace promote::gates
