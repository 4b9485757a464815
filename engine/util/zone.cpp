#include "engine/util/zone.hpp"

#include <date/tz.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>

// date 3.0.1's ptz.h names hh_mm_ss unqualified under both `using namespace date` and `using
// namespace std::chrono`, which C++20's std::chrono::hh_mm_ss makes ambiguous (fixed upstream
// after 3.0.1); the macro sends that one name to date's own class while ptz.h is read.
namespace date {
template <class Duration>
using hh_mm_ss_ptz = hh_mm_ss<Duration>;
}  // namespace date
#define hh_mm_ss hh_mm_ss_ptz
#include <date/ptz.h>
#undef hh_mm_ss

namespace promote::util {

namespace chr = std::chrono;

/// A zone's transitions as date/tz reads them, then, after its last transition, the rule its
/// file ends with. date/tz reads the transitions only, and the files Debian ships list them up
/// to 2037, so without the rule every zone would keep its winter time from 2038 on (and, with
/// files built "slim", from its last rule change on).
struct TimeZone::Rules {
  std::string name;
  const date::time_zone* zone = nullptr;     ///< nullptr: UTC
  std::optional<Posix::time_zone> rule;      ///< only a rule with daylight saving time
  SysSeconds rule_from = SysSeconds::max();  ///< the last transition, where `rule` takes over

  date::sys_info info(SysSeconds at) const {
    if (!zone) {
      return date::sys_info{SysSeconds::min(), SysSeconds::max(), chr::seconds(0), chr::minutes(0),
                            "UTC"};
    }
    return rule && at >= rule_from ? rule->get_info(at) : zone->get_info(at);
  }

  date::local_info info(LocalSeconds local) const {
    if (!zone) {
      return date::local_info{date::local_info::unique, info(SysSeconds::min()), {}};
    }
    const date::local_seconds at(local.time_since_epoch());
    auto found = zone->get_info(at);
    if (rule && found.result == date::local_info::unique && found.first.begin >= rule_from) {
      return rule->get_info(at);
    }
    return found;
  }
};

namespace {

/// Where date/tz reads the database on Linux (it does not look at $TZDIR).
constexpr const char* k_zoneinfo = "/usr/share/zoneinfo";

/// The POSIX TZ rule the zone file `path` ends with (RFC 8536: a version 2+ file ends with
/// "\n" rule "\n", as in "\nCET-1CEST,M3.5.0,M10.5.0/3\n"); empty when it has none. Fails
/// with `unknown` when the file is not a TZif file (date/tz lists every file of the tree, and
/// stops at an assertion when asked to read one that is not a zone).
Result<std::string> read_rule(const std::string& path, const Error& unknown) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto size = in ? static_cast<long>(in.tellg()) : -1L;
  std::string head(5, '\0');
  if (size >= 0) {
    in.seekg(0);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
  }
  if (!in) {
    return size < 0 ? make_error(ErrorKind::input, "cannot read time zone file " + path) : unknown;
  }
  if (head.compare(0, 4, "TZif") != 0) {
    return unknown;
  }
  if (head[4] == '\0') {
    return std::string();
  }
  const long tail_size = std::min(size - 5, 256L);
  std::string tail(static_cast<std::size_t>(tail_size), '\0');
  in.seekg(size - tail_size);
  in.read(tail.data(), tail_size);
  const auto start = tail.size() >= 2 ? tail.rfind('\n', tail.size() - 2) : std::string::npos;
  if (!in || tail.empty() || tail.back() != '\n' || start == std::string::npos) {
    return make_error(ErrorKind::input,
                      "time zone file " + path + " does not end with a POSIX TZ rule");
  }
  return tail.substr(start + 1, tail.size() - start - 2);
}

LocalType to_type(const date::sys_info& info) {
  return LocalType{info.offset, info.save != chr::minutes(0), info.abbrev};
}

}  // namespace

TimeZone TimeZone::utc() {
  auto rules = std::make_shared<Rules>();
  rules->name = "UTC";
  return TimeZone(std::move(rules));
}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (name == "UTC") {
    return utc();
  }
  const std::string path = std::string(k_zoneinfo) + "/" + std::string(name);
  try {
    date::get_tzdb();
  } catch (const std::exception&) {
    return make_error(ErrorKind::input, std::string("cannot read the time zone database in ") +
                                            k_zoneinfo + " (is tzdata installed?)");
  }
  const auto unknown =
      make_error(ErrorKind::config, "unknown time zone '" + std::string(name) + "'");
  auto rules = std::make_shared<Rules>();
  rules->name = std::string(name);
  try {
    rules->zone = date::locate_zone(name);
  } catch (const std::exception&) {
    return unknown;
  }
  auto rule = read_rule(path, unknown);
  if (!rule) {
    return rule.error();
  }
  // date/tz reads the zone's file on its first question: here, where a failure can be told.
  try {
    rules->rule_from =
        rules->zone->get_info(SysSeconds(chr::sys_days(chr::year::max() / 1 / 1))).begin;
  } catch (const std::exception& e) {
    return make_error(ErrorKind::input, "cannot read time zone file " + path + ": " + e.what());
  }
  // A rule without daylight saving time says what the last transition says; Posix::time_zone
  // would also leave its sys_info::save uninitialised.
  if (rule->find(',') != std::string::npos) {
    try {
      rules->rule.emplace(*rule);
    } catch (const std::exception&) {
      // A rule date/tz cannot read: the negative times of day of RFC 8536's extension, which
      // Greenland's zones use. Their last transition's type then holds after 2037.
    }
  }
  return TimeZone(std::move(rules));
}

const std::string& TimeZone::name() const {
  return m_rules->name;
}

LocalType TimeZone::type_at(SysSeconds at) const {
  return to_type(m_rules->info(at));
}

LocalSeconds TimeZone::to_local(SysSeconds at) const {
  return LocalSeconds((at + type_at(at).offset).time_since_epoch());
}

std::vector<SysSeconds> TimeZone::to_sys_all(LocalSeconds local) const {
  const SysSeconds naive(local.time_since_epoch());
  const date::local_info info = m_rules->info(local);
  switch (info.result) {
    case date::local_info::unique:
      return {naive - info.first.offset};
    case date::local_info::ambiguous:
      return {naive - info.first.offset, naive - info.second.offset};
    case date::local_info::nonexistent:
      break;
  }
  return {};
}

SysSeconds TimeZone::to_sys(LocalSeconds local) const {
  // In a gap, `first` is the period before it.
  return SysSeconds(local.time_since_epoch()) - m_rules->info(local).first.offset;
}

std::string format_local(LocalSeconds local, const char* format) {
  const std::time_t seconds = static_cast<std::time_t>(local.time_since_epoch().count());
  std::tm fields{};
  gmtime_r(&seconds, &fields);
  char text[96];
  const std::size_t size = std::strftime(text, sizeof text, format, &fields);
  return std::string(text, size);
}

}  // namespace promote::util
