#pragma once
// What the scan-report tests (trivy, grype, sarif) compare: counts per severity, by
// finding or by unique id, the fixable findings, and a parser's error message.

#include <doctest/doctest.h>

#include <map>
#include <string>

#include "gates/security_policy.hpp"

namespace promote::test {

/// "critical/high/medium/low/unknown" counts, by finding or (unique) by id at its worst.
inline std::string tally(const gates::ScanReport& report, bool unique) {
  long long counts[5] = {};
  std::map<std::string, gates::Severity> worst;
  for (const auto& finding : report.findings) {
    if (!unique) {
      ++counts[static_cast<int>(finding.severity)];
    } else if (auto [it, added] = worst.emplace(finding.id, finding.severity);
               !added && finding.severity < it->second) {
      it->second = finding.severity;
    }
  }
  for (const auto& [id, severity] : worst) {
    ++counts[static_cast<int>(severity)];
  }
  return std::to_string(counts[0]) + "/" + std::to_string(counts[1]) + "/" +
         std::to_string(counts[2]) + "/" + std::to_string(counts[3]) + "/" +
         std::to_string(counts[4]);
}

inline long long fixable(const gates::ScanReport& report) {
  long long n = 0;
  for (const auto& finding : report.findings) {
    n += finding.fixable ? 1 : 0;
  }
  return n;
}

/// The message of the input error `parse` must give for `json` read as `label`, in place with
/// the JSON reader's padding after it (as the gates read a report file).
inline std::string error_of(gates::ReportParser parse, const std::string& json,
                            const std::string& label) {
  const std::string padded = json + std::string(gates::k_json_padding, '\0');
  auto result =
      parse(std::string_view(padded).substr(0, json.size()), label, gates::k_json_padding);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == ErrorKind::input);
  return result.error().message;
}

}  // namespace promote::test
