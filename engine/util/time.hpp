#pragma once
// Wall-clock times as UTC text, and RFC 3339 text as times.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace promote::util {

/// `at` in UTC with a strftime format; the default is ISO 8601 to the second
/// ("2026-11-23T18:32:00Z").
std::string format_utc(std::chrono::system_clock::time_point at,
                       const char* format = "%Y-%m-%dT%H:%M:%SZ");

/// An RFC 3339 time ("2018-03-05T17:30:20-08:00", "...Z", with a fraction or not), as
/// Kubernetes, Argo CD and exec credential plugins write them; nullopt when it is not one. A
/// time beyond what the clock holds (before 1678, after 2261) is its minimum or maximum.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace promote::util
