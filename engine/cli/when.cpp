#include "engine/cli/when.hpp"

#include "engine/history/history.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::cli {

Result<std::chrono::system_clock::time_point> parse_when(const std::string& flag,
                                                         const std::string& text, Bound bound,
                                                         std::chrono::system_clock::time_point now) {
  if (auto ago = pipeline::parse_duration(text)) {
    return now - *ago;
  }
  const bool date_only = text.size() == 10;
  if (auto parsed = history::parse_time(date_only ? text + "T00:00:00Z" : text)) {
    return date_only && bound == Bound::until ? *parsed + std::chrono::days(1) : *parsed;
  }
  return make_error(ErrorKind::usage,
                    flag + " must be a duration ago (30d, 12h), a date (2026-11-01) or a UTC "
                           "time (2026-11-01T12:00:00Z), got '" + text + "'");
}

}  // namespace promote::cli
