#pragma once
// IANA time zones read from the system zoneinfo (TZif files, RFC 8536).
//
// GCC 12 has no std::chrono time zone database, so we read the TZif file ourselves: the
// 64-bit (v2+) section's transitions, then its POSIX TZ footer for instants after the last
// transition. We chose this over setting TZ and calling localtime_r/mktime because TZ is
// process-wide: another thread (a logger, another gate) calling localtime_r would see our
// zone, and a mutex only serialises our own calls.

#include <chrono>
#include <filesystem>
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

/// A time zone: UTC, one read from a TZif file, or one given by a POSIX TZ rule. Cheap to
/// copy (the rules are shared and immutable).
class TimeZone {
 public:
  /// UTC, without reading any file.
  static TimeZone utc();
  /// The zone called `name` ("Europe/Paris", "UTC") from $TZDIR, else /usr/share/zoneinfo.
  /// Fails with a config error "unknown time zone 'NAME'" when there is no such zone, and
  /// an input error when its file is not a valid TZif file.
  static Result<TimeZone> load(std::string_view name);
  /// The zone called `name` from the zoneinfo directory `dir`.
  static Result<TimeZone> load(std::string_view name, const std::filesystem::path& dir);
  /// A zone given by a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3"; fails with a
  /// config error "bad POSIX TZ rule '...'" when it does not parse.
  static Result<TimeZone> from_posix(std::string_view name, std::string_view rule);

  /// The name it was loaded by.
  const std::string& name() const;
  /// The local time type in effect at `at`.
  LocalType type_at(SysSeconds at) const;
  /// `at` on this zone's wall clock.
  LocalSeconds to_local(SysSeconds at) const;
  /// Every instant whose wall clock shows `local`, earliest first: none in a gap (spring
  /// forward), two in a fold (fall back).
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
