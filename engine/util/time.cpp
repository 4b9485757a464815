#include "engine/util/time.hpp"

#include <ctime>

namespace promote::util {

std::string format_utc(std::chrono::system_clock::time_point at, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  const std::size_t size = std::strftime(text, sizeof text, format, &utc);
  return std::string(text, size);
}

}  // namespace promote::util
