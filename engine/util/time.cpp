#include "engine/util/time.hpp"

#include <ctime>
#include <optional>
#include <string_view>

namespace promote::util {

std::string format_utc(std::chrono::system_clock::time_point at, const char* format) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  const std::size_t size = std::strftime(text, sizeof text, format, &utc);
  return std::string(text, size);
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  namespace chr = std::chrono;
  const auto number = [&text](std::size_t at, std::size_t digits) -> std::optional<int> {
    if (at + digits > text.size()) {
      return std::nullopt;
    }
    int value = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return std::nullopt;
      }
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':' || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const chr::year_month_day date{chr::year(*year), chr::month(static_cast<unsigned>(*month)),
                                 chr::day(static_cast<unsigned>(*day))};
  if (!date.ok()) {
    return std::nullopt;
  }
  std::size_t at = 19;
  chr::nanoseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    long long scale = 100'000'000;
    const std::size_t start = at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      fraction += chr::nanoseconds((text[at] - '0') * scale);
      scale /= 10;
    }
    if (at == start) {
      return std::nullopt;
    }
  }
  chr::minutes offset{0};
  if (at + 1 == text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    const auto hours = number(at + 1, 2), minutes = number(at + 4, 2);
    if (!hours || !minutes || *hours > 23 || *minutes > 59) {
      return std::nullopt;
    }
    offset = chr::hours(*hours) + chr::minutes(*minutes);
    if (text[at] == '-') {
      offset = -offset;
    }
    at += 6;
  } else {
    return std::nullopt;  // RFC 3339 requires Z or an offset
  }
  if (at != text.size()) {
    return std::nullopt;
  }
  const chr::sys_seconds local = chr::sys_days(date) + chr::hours(*hour) + chr::minutes(*minute) +
                                 chr::seconds(*second) - offset;
  // The system clock counts nanoseconds, from 1677 to 2262: a time outside is "never" (Go's
  // zero time, "0001-01-01T00:00:00Z", is a common one) and clamped to the end it passed.
  using Clock = std::chrono::system_clock;
  const auto limit = chr::duration_cast<chr::seconds>(Clock::time_point::max().time_since_epoch()) -
                     chr::seconds(1);
  if (local.time_since_epoch() >= limit) {
    return Clock::time_point::max();
  }
  if (local.time_since_epoch() <= -limit) {
    return Clock::time_point::min();
  }
  return chr::time_point_cast<std::chrono::system_clock::duration>(local) +
         chr::duration_cast<std::chrono::system_clock::duration>(fraction);
}

}  // namespace promote::util
