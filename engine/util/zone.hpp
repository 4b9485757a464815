#pragma once
// IANA time zones from the system's time zone database (/usr/share/zoneinfo), read by Howard
// Hinnant's date/tz, the library std::chrono's time zones were made from (GCC 12 has no
// std::chrono::tzdb). We chose it over setting TZ and calling localtime_r/mktime because TZ is
// process-wide: another thread (a logger, another gate) calling localtime_r would see our
// zone, and a mutex only serialises our own calls.
//
// The database is read on the first load of a zone other than UTC, never before: a scan of
// the zoneinfo tree, milliseconds, which a pipeline without such a zone does not pay. date/tz
// keeps it in a function-local static and reads each zone under std::call_once, so gates that
// load or use zones concurrently are safe.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::util {

using SysSeconds = std::chrono::sys_seconds;
/// A wall-clock time in some zone, counted like SysSeconds.
using LocalSeconds = std::chrono::local_seconds;

/// The kind of local time in effect at an instant.
struct LocalType {
  std::chrono::seconds offset{0};  ///< local = UTC + offset
  bool is_dst = false;
  std::string abbreviation;  ///< "CET", "CEST", "+03"
};

/// A time zone: UTC, or one from the system's database. Cheap to copy (the rules are shared
/// and immutable).
class TimeZone {
 public:
  /// UTC, without reading the database.
  static TimeZone utc();
  /// The zone called `name` ("Europe/Paris", "UTC") from /usr/share/zoneinfo. Fails with a
  /// config error "unknown time zone 'NAME'" when there is no such zone, and an input error
  /// when the database or the zone's file cannot be read.
  static Result<TimeZone> load(std::string_view name);

  /// The name it was loaded by.
  const std::string& name() const;
  /// The local time type in effect at `at`.
  LocalType type_at(SysSeconds at) const;
  /// `at` on this zone's wall clock.
  LocalSeconds to_local(SysSeconds at) const;
  /// Every instant whose wall clock shows `local`, earliest first: none in a gap (spring
  /// forward, a skipped day), two in a fold (fall back).
  std::vector<SysSeconds> to_sys_all(LocalSeconds local) const;
  /// The earliest instant showing `local`; in a gap, the instant `local` would be under the
  /// offset before the gap (that is, shifted forward by the gap's length).
  SysSeconds to_sys(LocalSeconds local) const;

  struct Rules;

 private:
  explicit TimeZone(std::shared_ptr<const Rules> rules) : m_rules(std::move(rules)) {}
  std::shared_ptr<const Rules> m_rules;
};

/// `local` formatted with strftime `format` (e.g. "%a %Y-%m-%d %H:%M").
std::string format_local(LocalSeconds local, const char* format);

}  // namespace promote::util
