#pragma once
// Wall-clock times as UTC text.

#include <chrono>
#include <string>

namespace promote::util {

/// `at` in UTC with a strftime format; the default is ISO 8601 to the second
/// ("2026-11-23T18:32:00Z").
std::string format_utc(std::chrono::system_clock::time_point at,
                       const char* format = "%Y-%m-%dT%H:%M:%SZ");

}  // namespace promote::util
