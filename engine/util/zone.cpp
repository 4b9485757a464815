#include "engine/util/zone.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>

namespace promote::util {

namespace chr = std::chrono;

namespace {

/// A date rule of a POSIX TZ string: Jn, n or Mm.w.d, with its wall-clock time.
struct DateRule {
  enum class Kind { julian_no_leap, zero_based, month_week_day } kind = Kind::month_week_day;
  int day = 0;    ///< Jn: 1..365; n: 0..365; M: weekday 0 (Sunday)..6
  int month = 0;  ///< M only: 1..12
  int week = 0;   ///< M only: 1..5 (5: the last)
  chr::seconds time{2 * 3600};

  chr::sys_days date(int year) const {
    const chr::year y{year};
    switch (kind) {
      case Kind::julian_no_leap: {
        const int extra = (y.is_leap() && day >= 60) ? 1 : 0;
        return chr::sys_days(y / chr::January / 1) + chr::days(day - 1 + extra);
      }
      case Kind::zero_based:
        return chr::sys_days(y / chr::January / 1) + chr::days(day);
      case Kind::month_week_day:
        break;
    }
    const chr::month m{static_cast<unsigned>(month)};
    const chr::weekday wd{static_cast<unsigned>(day)};
    if (week == 5) {
      return chr::sys_days(y / m / chr::weekday_last(wd));
    }
    return chr::sys_days(y / m / wd[static_cast<unsigned>(week)]);
  }
};

/// A parsed POSIX TZ string: a standard time and optionally a daylight time with its rules.
struct PosixRule {
  LocalType standard;
  std::optional<LocalType> daylight;
  DateRule start;  ///< daylight time starts (wall clock in standard time)
  DateRule end;    ///< daylight time ends (wall clock in daylight time)

  LocalType type_at(SysSeconds at) const {
    if (!daylight) {
      return standard;
    }
    const auto local_day = chr::floor<chr::days>(at + standard.offset);
    const int year = static_cast<int>(chr::year_month_day(local_day).year());
    const SysSeconds begins = start.date(year) + start.time - standard.offset;
    const SysSeconds ends = end.date(year) + end.time - daylight->offset;
    const bool dst = begins < ends ? (begins <= at && at < ends) : !(ends <= at && at < begins);
    return dst ? *daylight : standard;
  }
};

/// Reads a POSIX TZ string; each parse_* consumes from the front of `m_text`.
class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : m_text(text) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    if (!name(rule.standard.abbreviation) || !offset(rule.standard.offset, 24, true)) {
      return std::nullopt;
    }
    if (m_text.empty()) {
      return rule;
    }
    LocalType daylight{rule.standard.offset + chr::hours(1), true, {}};
    if (!name(daylight.abbreviation)) {
      return std::nullopt;
    }
    if (!m_text.empty() && m_text.front() != ',' && !offset(daylight.offset, 24, true)) {
      return std::nullopt;
    }
    rule.daylight = daylight;
    if (!take(',') || !date(rule.start) || !take(',') || !date(rule.end) || !m_text.empty()) {
      return std::nullopt;
    }
    return rule;
  }

 private:
  bool take(char c) {
    if (m_text.empty() || m_text.front() != c) {
      return false;
    }
    m_text.remove_prefix(1);
    return true;
  }

  std::optional<int> number(int max) {
    std::size_t size = 0;
    long value = 0;
    while (size < m_text.size() && std::isdigit(static_cast<unsigned char>(m_text[size]))) {
      value = value * 10 + (m_text[size] - '0');
      if (value > max) {
        return std::nullopt;
      }
      ++size;
    }
    if (size == 0) {
      return std::nullopt;
    }
    m_text.remove_prefix(size);
    return static_cast<int>(value);
  }

  bool name(std::string& out) {
    if (take('<')) {
      const auto close = m_text.find('>');
      if (close == std::string_view::npos || close < 3) {
        return false;
      }
      out = std::string(m_text.substr(0, close));
      m_text.remove_prefix(close + 1);
      return true;
    }
    std::size_t size = 0;
    while (size < m_text.size() && std::isalpha(static_cast<unsigned char>(m_text[size]))) {
      ++size;
    }
    if (size < 3) {
      return false;
    }
    out = std::string(m_text.substr(0, size));
    m_text.remove_prefix(size);
    return true;
  }

  /// [+-]hh[:mm[:ss]]; a POSIX offset counts west of Greenwich, so `west` negates it.
  bool offset(chr::seconds& out, int max_hours, bool west) {
    int sign = 1;
    if (take('-')) {
      sign = -1;
    } else {
      take('+');
    }
    auto hours = number(max_hours);
    if (!hours) {
      return false;
    }
    long total = *hours * 3600L;
    if (take(':')) {
      auto minutes = number(59);
      if (!minutes) {
        return false;
      }
      total += *minutes * 60L;
      if (take(':')) {
        auto seconds = number(59);
        if (!seconds) {
          return false;
        }
        total += *seconds;
      }
    }
    out = chr::seconds(sign * total * (west ? -1 : 1));
    return true;
  }

  bool date(DateRule& out) {
    if (take('J')) {
      auto day = number(365);
      if (!day || *day < 1) {
        return false;
      }
      out.kind = DateRule::Kind::julian_no_leap;
      out.day = *day;
    } else if (take('M')) {
      auto month = number(12);
      if (!month || *month < 1 || !take('.')) {
        return false;
      }
      auto week = number(5);
      if (!week || *week < 1 || !take('.')) {
        return false;
      }
      auto day = number(6);
      if (!day) {
        return false;
      }
      out.kind = DateRule::Kind::month_week_day;
      out.month = *month;
      out.week = *week;
      out.day = *day;
    } else {
      auto day = number(365);
      if (!day) {
        return false;
      }
      out.kind = DateRule::Kind::zero_based;
      out.day = *day;
    }
    if (take('/')) {
      return offset(out.time, 167, false);
    }
    return true;
  }

  std::string_view m_text;
};

/// Reads big-endian integers from the bytes of a TZif file.
class Reader {
 public:
  explicit Reader(const std::string& bytes) : m_bytes(bytes) {}
  bool has(std::size_t size) const { return m_offset + size <= m_bytes.size(); }
  std::int64_t integer(std::size_t size) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i) {
      value = (value << 8) | static_cast<unsigned char>(m_bytes[m_offset + i]);
    }
    m_offset += size;
    if (size == 4) {
      return static_cast<std::int32_t>(value);
    }
    return static_cast<std::int64_t>(value);
  }
  void skip(std::size_t size) { m_offset += size; }
  std::size_t offset() const { return m_offset; }

 private:
  const std::string& m_bytes;
  std::size_t m_offset = 0;
};

}  // namespace

struct TimeZone::Rules {
  std::string name;
  std::vector<SysSeconds> transitions;      ///< ascending
  std::vector<std::size_t> transition_type;  ///< index into types, one per transition
  std::vector<LocalType> types;              ///< types[0] applies before the first transition
  std::optional<PosixRule> footer;           ///< applies after the last transition
};

namespace {

struct Counts {
  std::size_t isut, isstd, leap, time, type, chars;
};

std::optional<Counts> read_header(Reader& reader) {
  if (!reader.has(44)) {
    return std::nullopt;
  }
  reader.skip(20);
  Counts counts{};
  for (std::size_t* field :
       {&counts.isut, &counts.isstd, &counts.leap, &counts.time, &counts.type, &counts.chars}) {
    const auto value = reader.integer(4);
    if (value < 0) {
      return std::nullopt;
    }
    *field = static_cast<std::size_t>(value);
  }
  return counts;
}

std::size_t block_size(const Counts& c, std::size_t time_size) {
  return c.time * time_size + c.time + c.type * 6 + c.chars + c.leap * (time_size + 4) + c.isstd +
         c.isut;
}

/// Parses one data block (v1 with 4-byte times, v2+ with 8-byte times); false when corrupt.
bool read_block(Reader& reader, const Counts& counts, std::size_t time_size,
                TimeZone::Rules& rules) {
  if (counts.type == 0 || !reader.has(block_size(counts, time_size))) {
    return false;
  }
  for (std::size_t i = 0; i < counts.time; ++i) {
    rules.transitions.emplace_back(chr::seconds(reader.integer(time_size)));
  }
  for (std::size_t i = 0; i < counts.time; ++i) {
    const auto index = static_cast<std::size_t>(reader.integer(1));
    if (index >= counts.type) {
      return false;
    }
    rules.transition_type.push_back(index);
  }
  std::vector<std::size_t> abbreviation_index;
  for (std::size_t i = 0; i < counts.type; ++i) {
    LocalType type;
    type.offset = chr::seconds(reader.integer(4));
    type.is_dst = reader.integer(1) != 0;
    abbreviation_index.push_back(static_cast<std::size_t>(reader.integer(1)));
    rules.types.push_back(std::move(type));
  }
  std::string chars;
  for (std::size_t i = 0; i < counts.chars; ++i) {
    chars.push_back(static_cast<char>(reader.integer(1)));
  }
  for (std::size_t i = 0; i < counts.type; ++i) {
    if (abbreviation_index[i] >= chars.size()) {
      return false;
    }
    rules.types[i].abbreviation = std::string(chars.c_str() + abbreviation_index[i]);
  }
  reader.skip(counts.leap * (time_size + 4) + counts.isstd + counts.isut);
  return std::is_sorted(rules.transitions.begin(), rules.transitions.end());
}

Result<std::shared_ptr<TimeZone::Rules>> parse_tzif(const std::string& bytes,
                                                   const std::string& name,
                                                   const std::string& path) {
  auto corrupt = [&](const std::string& what) {
    return make_error(ErrorKind::input, "time zone file " + path + " " + what);
  };
  if (bytes.size() < 5 || bytes.compare(0, 4, "TZif") != 0) {
    return corrupt("is not a TZif file");
  }
  const char version = bytes[4];
  Reader reader(bytes);
  auto counts = read_header(reader);
  if (!counts) {
    return corrupt("is truncated");
  }
  auto rules = std::make_shared<TimeZone::Rules>();
  rules->name = name;
  if (version == '\0') {
    if (!read_block(reader, *counts, 4, *rules)) {
      return corrupt("is truncated or corrupt");
    }
    return rules;
  }
  reader.skip(block_size(*counts, 4));
  auto counts64 = read_header(reader);
  if (!counts64 || !read_block(reader, *counts64, 8, *rules)) {
    return corrupt("is truncated or corrupt");
  }
  const std::size_t start = reader.offset();
  if (start < bytes.size() && bytes[start] == '\n') {
    const auto end = bytes.find('\n', start + 1);
    if (end == std::string::npos) {
      return corrupt("has an unterminated footer");
    }
    const std::string footer = bytes.substr(start + 1, end - start - 1);
    if (!footer.empty()) {
      auto rule = PosixParser(footer).parse();
      if (!rule) {
        return corrupt("has a bad POSIX TZ footer '" + footer + "'");
      }
      rules->footer = std::move(*rule);
    }
  }
  return rules;
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.front() == '.') {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '+' || c == '/';
    if (!plain || (c == '/' && i + 1 < name.size() && name[i + 1] == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

TimeZone TimeZone::utc() {
  auto rules = std::make_shared<Rules>();
  rules->name = "UTC";
  rules->types.push_back(LocalType{chr::seconds(0), false, "UTC"});
  return TimeZone(std::move(rules));
}

Result<TimeZone> TimeZone::load(std::string_view name) {
  const char* dir = std::getenv("TZDIR");
  return load(name, (dir && *dir) ? std::filesystem::path(dir)
                                   : std::filesystem::path("/usr/share/zoneinfo"));
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::filesystem::path& dir) {
  if (name == "UTC") {
    return utc();
  }
  const auto unknown = make_error(ErrorKind::config,
                                  "unknown time zone '" + std::string(name) + "'");
  if (!valid_zone_name(name)) {
    return unknown;
  }
  const auto path = dir / std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return unknown;
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return make_error(ErrorKind::input, "cannot read time zone file " + path.string());
  }
  auto rules = parse_tzif(bytes, std::string(name), path.string());
  if (!rules) {
    return rules.error();
  }
  return TimeZone(std::move(*rules));
}

Result<TimeZone> TimeZone::from_posix(std::string_view name, std::string_view rule) {
  auto parsed = PosixParser(rule).parse();
  if (!parsed) {
    return make_error(ErrorKind::config, "bad POSIX TZ rule '" + std::string(rule) + "'");
  }
  auto rules = std::make_shared<Rules>();
  rules->name = std::string(name);
  rules->types.push_back(parsed->standard);
  rules->footer = std::move(*parsed);
  return TimeZone(std::move(rules));
}

const std::string& TimeZone::name() const { return m_rules->name; }

LocalType TimeZone::type_at(SysSeconds at) const {
  const Rules& rules = *m_rules;
  if (rules.transitions.empty()) {
    return rules.footer ? rules.footer->type_at(at) : rules.types.front();
  }
  if (at < rules.transitions.front()) {
    return rules.types.front();
  }
  if (at >= rules.transitions.back() && rules.footer) {
    return rules.footer->type_at(at);
  }
  const auto next = std::upper_bound(rules.transitions.begin(), rules.transitions.end(), at);
  const auto index = static_cast<std::size_t>(next - rules.transitions.begin()) - 1;
  return rules.types[rules.transition_type[index]];
}

LocalSeconds TimeZone::to_local(SysSeconds at) const {
  return LocalSeconds((at + type_at(at).offset).time_since_epoch());
}

std::vector<SysSeconds> TimeZone::to_sys_all(LocalSeconds local) const {
  // Offsets change at most once in two days, so the offsets a day either side are the
  // only ones that can show `local`.
  const SysSeconds naive(local.time_since_epoch());
  const chr::seconds before = type_at(naive - chr::days(1)).offset;
  const chr::seconds after = type_at(naive + chr::days(1)).offset;
  std::vector<SysSeconds> found;
  for (const chr::seconds offset : {before, after}) {
    const SysSeconds at = naive - offset;
    if (type_at(at).offset == offset &&
        std::find(found.begin(), found.end(), at) == found.end()) {
      found.push_back(at);
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

SysSeconds TimeZone::to_sys(LocalSeconds local) const {
  auto all = to_sys_all(local);
  if (!all.empty()) {
    return all.front();
  }
  const SysSeconds naive(local.time_since_epoch());
  return naive - type_at(naive - chr::days(1)).offset;
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
