#pragma once
// Semantic versions (SemVer 2.0.0, semver.org), as Helm charts are versioned, and the version
// ranges Helm, Flux and Argo CD accept where a version goes (Masterminds semver constraints):
// promote promotes exact versions, so it needs to tell the two apart.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::image {

/// A version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
struct SemVer {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  ///< the dot-separated identifiers after '-': {"rc", "1"}
  std::string build;                    ///< the text after '+', "" when there is none

  /// The version as SemVer writes it: "1.4.2-rc.1+build.5".
  std::string to_string() const;
  bool operator==(const SemVer&) const = default;
};

/// Parses a version by the grammar of SemVer 2.0.0: three numeric parts without leading zeros,
/// then optional non-empty dot-separated identifiers of [0-9A-Za-z-] after '-' (numeric ones
/// without leading zeros) and after '+'. Fails (usage) with a message that quotes the text and
/// says what is wrong: a version range, a leading 'v', a missing part, a leading zero, ...
Result<SemVer> parse_semver(std::string_view text);

/// Whether the text is a version constraint rather than a version, as Helm, Flux and Argo CD
/// read them (Masterminds semver): an operator (`>=1.0.0`, `~1.2`, `^1.2.3`, `=1.2.3`,
/// `!=1.0.0`), a wildcard part (`1.x`, `1.2.*`, `*`), several constraints (`>=1.0.0 <2.0.0`,
/// `>=1, <2`, `1.0.0 - 2.0.0`, `^1 || ^2`). A version (`1.2.3`, `v1.2`) is not one, nor is text
/// that is no constraint at all (`latest`, `6.5.0 # note`).
bool is_version_range(std::string_view text);

/// SemVer precedence: negative when `a` comes before `b`, 0 when they rank equal, positive
/// after. A pre-release comes before its release; build metadata is ignored.
int compare(const SemVer& a, const SemVer& b);

}  // namespace promote::image
