#pragma once
// The times a user gives on the command line: --since 30d, --since 2026-11-01, --until ...

#include <chrono>
#include <string>

#include "engine/error.hpp"

namespace promote::cli {

/// Which end of a range a time bounds: a bare date means its first instant for `since`
/// and the first instant of the next day for `until` (so that --until 2026-11-30 takes in
/// all of that day).
enum class Bound { since, until };

/// `text` as an instant: a duration ago ("90s", "30d", "2h"), a date ("2026-11-01", UTC), or
/// an ISO time ("2026-11-01T12:00:00Z", milliseconds allowed). Fails (usage) naming `flag`.
Result<std::chrono::system_clock::time_point> parse_when(const std::string& flag,
                                                         const std::string& text, Bound bound,
                                                         std::chrono::system_clock::time_point now);

}  // namespace promote::cli
