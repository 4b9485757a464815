#pragma once
// The `sarif` gate: judges a SARIF 2.1.0 log with the shared security policy
// (gates/security_policy.hpp).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"
#include "gates/security_policy.hpp"

namespace promote::gates {

/// The severity of a `security-severity` score: critical >= 9.0, high >= 7.0,
/// medium >= 4.0, low > 0, unknown otherwise.
Severity severity_from_score(double score);

/// Reads the findings of a SARIF 2.1.0 log: every `runs[].results[]` whose `kind` is "fail"
/// or absent, whose `baselineState` is not "absent", that no suppression (other than a
/// "rejected" one) removes, and whose level is not "none". The level is the result's, else
/// its rule's `defaultConfiguration.level` (rule by `ruleIndex`, `rule.index`, else by id),
/// else "warning". The severity comes from `properties["security-severity"]` of the result,
/// else of its rule; without a score, error -> high, warning -> medium, note -> low. The id
/// is the ruleId, the package the first location's URI; fixable when it carries `fixes`.
/// The log is empty when no run has a `results` list (the tool computed none). Fails
/// (input) naming `label` when the text is not JSON or not a SARIF 2.1.0 log.
/// `padding` bytes after the text can be read (see k_json_padding).
Result<ScanReport> parse_sarif(std::string_view text, const std::string& label,
                               std::size_t padding = 0);

/// Builds a `sarif` gate from its `with:` block; reports problems into the diagnostics and
/// returns nullptr when the block is invalid.
std::unique_ptr<Gate> make_sarif(const pipeline::ConfigNode& with);

}  // namespace promote::gates
