#pragma once
// The `trivy` gate: judges a Trivy JSON report (SchemaVersion 2) with the shared
// security policy (gates/security_policy.hpp).

#include <memory>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"
#include "gates/security_policy.hpp"

namespace promote::gates {

/// Reads the findings of a Trivy JSON report: every `Results[].Vulnerabilities[]` (severity
/// from `Severity`, else `VendorSeverity`; fixable when `FixedVersion` is set or `Status` is
/// "fixed"), every `Misconfigurations[]` entry with Status FAIL and every `Secrets[]` entry
/// (both fixable, package = the Target file). A report without Results is empty. Fails
/// (input) naming `label` when the text is not JSON or not a Trivy report.
/// `padding` bytes after the text can be read (see k_json_padding).
Result<ScanReport> parse_trivy(std::string_view text, const std::string& label,
                               std::size_t padding = 0);

/// Builds a `trivy` gate from its `with:` block; reports problems into the diagnostics and
/// returns nullptr when the block is invalid.
std::unique_ptr<Gate> make_trivy(const pipeline::ConfigNode& with);

}  // namespace promote::gates
