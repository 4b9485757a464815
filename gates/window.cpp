#include "gates/window.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "engine/util/time.hpp"
#include "engine/util/zone.hpp"

namespace promote::gates {
namespace {

namespace chr = std::chrono;
using Status = Verdict::Status;
using util::LocalSeconds;
using util::SysSeconds;

const std::vector<std::string> k_day_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr const char* k_local_format = "%a %Y-%m-%d %H:%M";

/// A weekly window: on each listed day (by c_encoding, Sunday 0), from `start` to `end`
/// seconds after local midnight; when end < start it ends on the next day.
struct AllowWindow {
  std::array<bool, 7> days{};
  chr::seconds start{0};
  chr::seconds end{0};
  std::vector<std::string> days_text;  ///< as written; empty: every day
  std::string start_text;
  std::string end_text;

  std::string describe() const {
    std::string days_part = "every day";
    if (!days_text.empty()) {
      days_part.clear();
      for (const auto& day : days_text) {
        days_part += (days_part.empty() ? "" : ",") + day;
      }
    }
    return days_part + " " + start_text + "-" + end_text;
  }

  bool contains(LocalSeconds local) const {
    const auto day = chr::floor<chr::days>(local);
    const auto since_midnight = local - day;
    const unsigned weekday = chr::weekday(day).c_encoding();
    if (start < end) {
      return days[weekday] && start <= since_midnight && since_midnight < end;
    }
    const unsigned previous = (weekday + 6) % 7;
    return (days[weekday] && since_midnight >= start) ||
           (days[previous] && since_midnight < end);
  }
};

/// A freeze: no promotion while `from` <= wall clock < `until`.
struct DenyPeriod {
  LocalSeconds from;
  LocalSeconds until;
  std::string from_text;
  std::string to_text;
  std::string reason;
  bool to_is_date = false;

  bool contains(LocalSeconds local) const { return from <= local && local < until; }

  /// The last minute of the freeze as people read it: "2027-01-04 23:59" for a date.
  std::string until_text() const {
    return to_is_date ? util::format_local(until - chr::minutes(1), "%Y-%m-%d %H:%M")
                      : util::format_local(until, "%Y-%m-%d %H:%M");
  }

  nlohmann::json to_json() const { return {{"from", from_text}, {"to", to_text}, {"reason", reason}}; }
};

/// "HH:MM" as seconds after midnight; "24:00" only when `allow_24`.
std::optional<chr::seconds> parse_time_of_day(const std::string& text, bool allow_24) {
  if (text.size() != 5 || text[2] != ':' || !std::isdigit(static_cast<unsigned char>(text[0])) ||
      !std::isdigit(static_cast<unsigned char>(text[1])) ||
      !std::isdigit(static_cast<unsigned char>(text[3])) ||
      !std::isdigit(static_cast<unsigned char>(text[4]))) {
    return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && (minutes != 0 || !allow_24))) {
    return std::nullopt;
  }
  return chr::seconds(hours * 3600 + minutes * 60);
}

/// "YYYY-MM-DD", "YYYY-MM-DD HH:MM" or "YYYY-MM-DDTHH:MM" as a wall-clock time; sets
/// `is_date` when there is no time of day.
std::optional<LocalSeconds> parse_local(const std::string& text, bool& is_date) {
  if (text.size() != 10 && text.size() != 16) {
    return std::nullopt;
  }
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return std::nullopt;
    }
  }
  if (text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  const chr::year_month_day date{chr::year(std::stoi(text.substr(0, 4))),
                                 chr::month(static_cast<unsigned>(std::stoi(text.substr(5, 2)))),
                                 chr::day(static_cast<unsigned>(std::stoi(text.substr(8, 2))))};
  if (!date.ok()) {
    return std::nullopt;
  }
  const LocalSeconds midnight{chr::local_days(date)};
  is_date = text.size() == 10;
  if (is_date) {
    return midnight;
  }
  if (text[10] != ' ' && text[10] != 'T') {
    return std::nullopt;
  }
  auto time = parse_time_of_day(text.substr(11), false);
  if (!time) {
    return std::nullopt;
  }
  return midnight + *time;
}

/// "10d 14h", "3h 5m", "12m", "40s".
std::string format_wait(chr::seconds wait) {
  const auto days = wait.count() / 86400;
  const auto hours = wait.count() % 86400 / 3600;
  const auto minutes = wait.count() % 3600 / 60;
  if (days > 0) {
    return std::to_string(days) + "d " + std::to_string(hours) + "h";
  }
  if (hours > 0) {
    return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  }
  if (minutes > 0) {
    return std::to_string(minutes) + "m";
  }
  return std::to_string(wait.count()) + "s";
}

class WindowGate : public Gate {
 public:
  WindowGate(util::TimeZone zone, std::vector<AllowWindow> allow, std::vector<DenyPeriod> deny)
      : m_zone(std::move(zone)), m_allow(std::move(allow)), m_deny(std::move(deny)) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    Verdict verdict = judge(chr::floor<chr::seconds>(context.timeline.now()));
    if (context.break_glass && !passes(verdict.status)) {
      // The override lets a closed window through as a warning the history keeps.
      verdict.details["break_glass"] = {{"actor", context.actor},
                                        {"overridden_status", to_string(verdict.status)}};
      verdict.summary = "break-glass by " + context.actor + ": " + verdict.summary;
      verdict.status = Status::warn;
      verdict.retry_after.reset();
    }
    co_return verdict;
  }

  nlohmann::json config() const override {
    nlohmann::json config = {{"timezone", m_zone.name()}};
    if (!m_allow.empty()) {
      config["allow"] = nlohmann::json::array();
      for (const auto& window : m_allow) {
        nlohmann::json entry = {{"start", window.start_text}, {"end", window.end_text}};
        if (!window.days_text.empty()) {
          entry["days"] = window.days_text;
        }
        config["allow"].push_back(std::move(entry));
      }
    }
    if (!m_deny.empty()) {
      config["deny"] = nlohmann::json::array();
      for (const auto& period : m_deny) {
        config["deny"].push_back(period.to_json());
      }
    }
    return config;
  }

 private:
  const AllowWindow* window_at(LocalSeconds local) const {
    for (const auto& window : m_allow) {
      if (window.contains(local)) {
        return &window;
      }
    }
    return nullptr;
  }

  const DenyPeriod* freeze_at(LocalSeconds local) const {
    for (const auto& period : m_deny) {
      if (period.contains(local)) {
        return &period;
      }
    }
    return nullptr;
  }

  bool open_at(SysSeconds at) const {
    const LocalSeconds local = m_zone.to_local(at);
    return (m_allow.empty() || window_at(local)) && !freeze_at(local);
  }

  /// Whether the gate is open can change from closed to open only where a window starts,
  /// a freeze ends or the zone's offset changes; the earliest such instant after `now`
  /// that is open is the next opening.
  std::optional<SysSeconds> next_opening(SysSeconds now) const {
    const SysSeconds horizon = now + chr::days(k_window_search_days);
    std::vector<SysSeconds> candidates;
    auto add = [&](LocalSeconds local) {
      auto all = m_zone.to_sys_all(local);
      all.push_back(m_zone.to_sys(local));
      for (const SysSeconds at : all) {
        if (now < at && at <= horizon) {
          candidates.push_back(at);
        }
      }
    };
    const auto today = chr::floor<chr::days>(m_zone.to_local(now));
    for (int offset = -1; offset <= k_window_search_days + 1; ++offset) {
      const auto day = today + chr::days(offset);
      const unsigned weekday = chr::weekday(day).c_encoding();
      for (const auto& window : m_allow) {
        if (window.days[weekday]) {
          add(LocalSeconds(day) + window.start);
        }
      }
    }
    for (const auto& period : m_deny) {
      add(period.until);
    }
    for (SysSeconds at = now; at < horizon; at += chr::days(1)) {
      SysSeconds low = at;
      SysSeconds high = std::min(at + chr::days(1), horizon);
      const auto before = m_zone.type_at(low).offset;
      if (m_zone.type_at(high).offset == before) {
        continue;
      }
      while (high - low > chr::seconds(1)) {
        const SysSeconds middle = low + (high - low) / 2;
        (m_zone.type_at(middle).offset == before ? low : high) = middle;
      }
      candidates.push_back(high);
    }
    std::sort(candidates.begin(), candidates.end());
    for (const SysSeconds at : candidates) {
      if (open_at(at)) {
        return at;
      }
    }
    return std::nullopt;
  }

  std::string local_text(SysSeconds at) const {
    return util::format_local(m_zone.to_local(at), k_local_format);
  }

  Verdict judge(SysSeconds now) const {
    const LocalSeconds local = m_zone.to_local(now);
    const util::LocalType type = m_zone.type_at(now);
    const AllowWindow* window = window_at(local);
    const DenyPeriod* freeze = freeze_at(local);
    const bool allowed = m_allow.empty() || window;
    nlohmann::json details = {{"timezone", m_zone.name()},
                              {"now", util::format_utc(now)},
                              {"now_local", local_text(now) + " " + type.abbreviation},
                              {"utc_offset_seconds", type.offset.count()},
                              {"allowed", allowed},
                              {"frozen", freeze != nullptr}};
    if (window) {
      details["allow_window"] = window->describe();
    }
    if (freeze) {
      details["freeze"] = freeze->to_json();
    }
    const std::string now_text = local_text(now) + " " + m_zone.name();
    if (allowed && !freeze) {
      details["condition"] = window ? "inside_allow_window" : "outside_every_freeze";
      return Verdict::make(Status::pass,
                           window ? "open: " + now_text + " is inside " + window->describe()
                                  : "open: " + now_text + " is outside every freeze",
                           std::move(details));
    }
    const std::string closed =
        freeze ? "closed: freeze '" + freeze->reason + "' until " + freeze->until_text() + " " +
                     m_zone.name()
               : "closed: " + now_text + " is outside the allowed windows";
    details["condition"] = freeze ? "inside_freeze" : "outside_allow_windows";
    details["search_days"] = k_window_search_days;
    const auto next = next_opening(now);
    if (!next) {
      details["condition"] = "no_opening";
      return Verdict::make(Status::fail,
                           closed + "; no allowed time in the next " +
                               std::to_string(k_window_search_days) + " days",
                           std::move(details));
    }
    const chr::seconds wait = *next - now;
    details["next_opening"] = util::format_utc(*next);
    details["next_opening_local"] =
        local_text(*next) + " " + m_zone.type_at(*next).abbreviation;
    details["retry_after_seconds"] = wait.count();
    Verdict verdict =
        Verdict::make(Status::pending,
                      closed + "; next opening " + local_text(*next) + " (in " +
                          format_wait(wait) + ")",
                      std::move(details));
    verdict.retry_after = wait;
    return verdict;
  }

  util::TimeZone m_zone;
  std::vector<AllowWindow> m_allow;
  std::vector<DenyPeriod> m_deny;
};

/// Reads "mon", "MON" or a range "mon-thu" (wrapping, "fri-mon") into `days`.
bool read_day(const pipeline::ConfigNode& node, const std::string& text,
              std::array<bool, 7>& days) {
  auto index = [&](std::string name) -> std::optional<std::size_t> {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto it = std::find(k_day_names.begin(), k_day_names.end(), name);
    if (it == k_day_names.end()) {
      const std::string suggestion = pipeline::did_you_mean(name, k_day_names);
      node.error("unknown day '" + name + "' (expected mon, tue, wed, thu, fri, sat or sun" +
                 (suggestion.empty() ? ")" : "; did you mean '" + suggestion + "'?)"));
      return std::nullopt;
    }
    return static_cast<std::size_t>(it - k_day_names.begin());
  };
  const auto dash = text.find('-');
  const auto first = index(text.substr(0, dash));
  if (!first) {
    return false;
  }
  if (dash == std::string::npos) {
    days[*first] = true;
    return true;
  }
  const auto last = index(text.substr(dash + 1));
  if (!last) {
    return false;
  }
  for (std::size_t day = *first;; day = (day + 1) % 7) {
    days[day] = true;
    if (day == *last) {
      break;
    }
  }
  return true;
}

std::optional<chr::seconds> read_time(const pipeline::ConfigNode& node, const char* key,
                                      bool allow_24, std::string& text) {
  auto value = node.as_string(key);
  if (!value) {
    return std::nullopt;
  }
  auto time = parse_time_of_day(*value, allow_24);
  if (!time) {
    node.error(std::string("'") + key + "' must be a time of day HH:MM" +
               (allow_24 ? " (00:00 to 24:00)" : "") + ", got '" + *value + "'");
    return std::nullopt;
  }
  text = *value;
  return time;
}

std::optional<AllowWindow> read_window(const pipeline::ConfigNode& node) {
  if (!node.expect_map("allow window", {"days", "start", "end"})) {
    return std::nullopt;
  }
  AllowWindow window;
  bool ok = true;
  if (auto days = node.get("days")) {
    std::vector<pipeline::ConfigNode> items;
    if (days->is_scalar()) {
      items.push_back(*days);
    } else {
      items = days->items("days");
      if (items.empty()) {
        days->error("'days' must list at least one day");
        ok = false;
      }
    }
    for (const auto& item : items) {
      auto text = item.as_string("days");
      if (!text || !read_day(item, *text, window.days)) {
        ok = false;
        continue;
      }
      window.days_text.push_back(*text);
    }
  } else {
    window.days.fill(true);
  }
  auto start = node.require("start", "allow window");
  auto end = node.require("end", "allow window");
  std::optional<chr::seconds> start_time;
  std::optional<chr::seconds> end_time;
  if (start) {
    start_time = read_time(*start, "start", false, window.start_text);
  }
  if (end) {
    end_time = read_time(*end, "end", true, window.end_text);
  }
  if (!start_time || !end_time || !ok) {
    return std::nullopt;
  }
  if (*start_time == *end_time) {
    node.error("allow window start and end must differ, got " + window.start_text + "-" +
               window.end_text);
    return std::nullopt;
  }
  window.start = *start_time;
  window.end = *end_time == chr::seconds(0) ? chr::hours(24) : *end_time;
  return window;
}

std::optional<DenyPeriod> read_period(const pipeline::ConfigNode& node) {
  if (!node.expect_map("deny period", {"from", "to", "reason"})) {
    return std::nullopt;
  }
  DenyPeriod period;
  auto read = [&](const char* key, std::string& text, bool& is_date) -> std::optional<LocalSeconds> {
    auto field = node.require(key, "deny period");
    if (!field) {
      return std::nullopt;
    }
    auto value = field->as_string(key);
    if (!value) {
      return std::nullopt;
    }
    auto local = parse_local(*value, is_date);
    if (!local) {
      field->error(std::string("'") + key +
                   "' must be a date YYYY-MM-DD or a date and time YYYY-MM-DD HH:MM, got '" +
                   *value + "'");
      return std::nullopt;
    }
    text = *value;
    return local;
  };
  bool from_is_date = false;
  auto from = read("from", period.from_text, from_is_date);
  auto to = read("to", period.to_text, period.to_is_date);
  std::optional<std::string> reason;
  if (auto field = node.require("reason", "deny period")) {
    reason = field->as_string("reason");
    if (reason && reason->empty()) {
      field->error("'reason' must not be empty");
      reason.reset();
    }
  }
  if (!from || !to || !reason) {
    return std::nullopt;
  }
  period.from = *from;
  period.until = period.to_is_date ? *to + chr::days(1) : *to;
  period.reason = *reason;
  if (period.until <= period.from) {
    node.error("deny period '" + period.reason + "' ends (" + period.to_text +
               ") before it starts (" + period.from_text + ")");
    return std::nullopt;
  }
  return period;
}

}  // namespace

std::unique_ptr<Gate> make_window(const pipeline::ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'window' needs 'with:' with 'allow:' windows or 'deny:' periods");
    return nullptr;
  }
  if (!with.expect_map("gate 'window'", {"timezone", "allow", "deny"})) {
    return nullptr;
  }
  bool ok = true;
  std::optional<util::TimeZone> zone = util::TimeZone::utc();
  if (auto node = with.get("timezone")) {
    zone.reset();
    if (auto name = node->as_string("timezone")) {
      auto loaded = util::TimeZone::load(*name);
      if (loaded) {
        zone = *loaded;
      } else {
        node->error(loaded.error().message);
      }
    }
    ok = ok && zone.has_value();
  }
  std::vector<AllowWindow> allow;
  auto allow_node = with.get("allow");
  if (allow_node) {
    auto items = allow_node->items("allow");
    if (items.empty() && allow_node->is_sequence()) {
      allow_node->error("'allow' must list at least one window");
    }
    ok = ok && !items.empty();
    for (const auto& item : items) {
      auto window = read_window(item);
      ok = ok && window.has_value();
      if (window) {
        allow.push_back(std::move(*window));
      }
    }
  }
  std::vector<DenyPeriod> deny;
  auto deny_node = with.get("deny");
  if (deny_node) {
    auto items = deny_node->items("deny");
    ok = ok && (deny_node->is_sequence());
    for (const auto& item : items) {
      auto period = read_period(item);
      ok = ok && period.has_value();
      if (period) {
        deny.push_back(std::move(*period));
      }
    }
  }
  if (!allow_node && !deny_node) {
    with.error("gate 'window' needs 'allow:' windows or 'deny:' periods");
    return nullptr;
  }
  if (!ok) {
    return nullptr;
  }
  return std::make_unique<WindowGate>(std::move(*zone), std::move(allow), std::move(deny));
}

}  // namespace promote::gates
