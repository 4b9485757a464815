#include "engine/report/dora.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <unordered_map>

#include "engine/report/tables.hpp"
#include "engine/util/json.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

namespace promote::report {

namespace {

namespace chrono = std::chrono;
using chrono::seconds;

constexpr seconds k_hour{3600};
constexpr seconds k_day{86400};
constexpr seconds k_week = 7 * k_day;
constexpr std::size_t k_top_gates = 5;
const char* const k_outcomes[] = {"promoted", "proposed", "no-op", "blocked", "pending", "error"};

std::string iso(TimePoint at) { return util::format_utc(at); }

seconds between(TimePoint from, TimePoint to) { return chrono::duration_cast<seconds>(to - from); }

// Monday 00:00 UTC of the week holding `at`.
TimePoint week_start(TimePoint at) {
  const auto day = chrono::floor<chrono::days>(at);
  const unsigned since_monday = (chrono::weekday(day) - chrono::Monday).count();
  return day - chrono::days(since_monday);
}

// The lower median (or the mean of the two middle values) and the nearest-rank p90.
seconds median(std::vector<seconds> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

seconds p90(std::vector<seconds> values) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

// "3d 4h", "2h 5m", "12m", "40s": the largest unit and the next one when not zero.
std::string short_duration(seconds duration) {
  const long long total = std::max<long long>(duration.count(), 0);
  const std::pair<long long, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (std::size_t i = 0; i < std::size(units); ++i) {
    if (total < units[i].first) {
      continue;
    }
    std::string out = std::to_string(total / units[i].first) + units[i].second;
    if (i + 1 < std::size(units)) {
      const long long next = total % units[i].first / units[i + 1].first;
      if (next > 0) {
        out += " " + std::to_string(next) + units[i + 1].second;
      }
    }
    return out;
  }
  return "0s";
}

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string percent(double rate) {
  return fixed(rate * 100.0, rate > 0 && rate < 0.1 ? 1 : 0) + "%";
}

nlohmann::json optional_seconds(const std::optional<seconds>& value) {
  return value ? nlohmann::json(value->count()) : nlohmann::json(nullptr);
}

nlohmann::json optional_text(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

bool record_before(const history::PromotionRecord& a, const history::PromotionRecord& b) {
  if (a.finished != b.finished) {
    return a.finished < b.finished;
  }
  return a.started < b.started;
}

}  // namespace

std::optional<std::string> frequency_band(std::size_t deployments, double per_day) {
  if (deployments == 0) {
    return std::nullopt;
  }
  // A little slack, so that 4 deployments in 28 days are the once a week they are.
  constexpr double k_slack = 1e-9;
  if (per_day >= 1.0 - k_slack) {
    return "elite";
  }
  if (per_day * 7.0 >= 1.0 - k_slack) {
    return "high";
  }
  if (per_day * 30.0 >= 1.0 - k_slack) {
    return "medium";
  }
  return "low";
}

std::optional<std::string> lead_time_band(std::optional<seconds> median_lead_time) {
  if (!median_lead_time) {
    return std::nullopt;
  }
  if (*median_lead_time < k_day) {
    return "elite";
  }
  if (*median_lead_time <= k_week) {
    return "high";
  }
  if (*median_lead_time <= 30 * k_day) {
    return "medium";
  }
  return "low";
}

std::optional<std::string> change_failure_band(std::optional<double> rate) {
  if (!rate) {
    return std::nullopt;
  }
  if (*rate <= 0.05) {
    return "elite";
  }
  if (*rate <= 0.10) {
    return "high";
  }
  if (*rate <= 0.15) {
    return "medium";
  }
  return "low";
}

std::optional<std::string> restore_band(std::optional<seconds> median_restore) {
  if (!median_restore) {
    return std::nullopt;
  }
  if (*median_restore < k_hour) {
    return "elite";
  }
  if (*median_restore < k_day) {
    return "high";
  }
  if (*median_restore <= k_week) {
    return "medium";
  }
  return "low";
}

std::vector<std::string> stages_in_history(const std::vector<history::PromotionRecord>& records) {
  std::vector<const history::PromotionRecord*> sorted;
  for (const auto& record : records) {
    sorted.push_back(&record);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return a->started < b->started;
  });
  std::vector<std::string> stages;
  for (const auto* record : sorted) {
    if (std::find(stages.begin(), stages.end(), record->stage) == stages.end()) {
      stages.push_back(record->stage);
    }
  }
  return stages;
}

DoraReport dora(const std::vector<history::PromotionRecord>& records,
                const std::vector<std::string>& stage_order, TimePoint since, TimePoint until) {
  DoraReport report;
  report.since = since;
  report.until = until;
  for (const auto& record : records) {
    if (!record.pipeline.empty()) {
      report.pipeline = record.pipeline;
      break;
    }
  }
  if (since <= until) {
    for (TimePoint week = week_start(since); week <= until; week += k_week) {
      report.weeks.push_back(week);
    }
  }
  const auto in_window = [&](TimePoint at) { return since <= at && at <= until; };
  const double days = since < until ? chrono::duration<double>(until - since).count() / 86400.0 : 0;

  // A verification moved nothing: it is no attempt, no deployment, no change.
  std::vector<const history::PromotionRecord*> sorted;
  for (const auto& record : records) {
    if (record.outcome != "verified") {
      sorted.push_back(&record);
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return record_before(*a, *b); });

  // When each candidate first entered the first stage.
  std::unordered_map<std::string, TimePoint> first_entry;
  if (!stage_order.empty()) {
    for (const auto* record : sorted) {
      if (record->stage == stage_order.front() && record->outcome == "promoted") {
        first_entry.try_emplace(record->candidate_id, record->finished);
      }
    }
  }

  for (std::size_t index = 0; index < stage_order.size(); ++index) {
    StageFigures& figures = report.stages.emplace_back();
    figures.name = stage_order[index];
    figures.first_stage = index == 0;
    figures.weekly.assign(report.weeks.size(), 0);
    figures.weekly_rollbacks.assign(report.weeks.size(), 0);
    for (const char* outcome : k_outcomes) {
      figures.outcomes[outcome] = 0;
    }
    std::map<std::string, std::size_t> gate_failures;
    const history::PromotionRecord* last_promoted = nullptr;
    for (const auto* record : sorted) {
      if (record->stage != figures.name) {
        continue;
      }
      const bool promoted = record->outcome == "promoted";
      const bool rollback = !record->rollback_of.empty();
      if (in_window(record->finished)) {
        ++figures.outcomes[record->outcome];
        for (const auto& gate : record->gates) {
          // Only gates that judged and said no: an error is often a gate cancelled because
          // another one failed first, and would crowd out the gate that did.
          if (gate.status == "fail") {
            ++gate_failures[gate.name];
          }
        }
        if (record->outcome == "error") {
          ++figures.errors;
          ++figures.changes;
        }
        if (promoted) {
          ++figures.deployments;
          const auto week = static_cast<std::size_t>(
              (week_start(record->finished) - report.weeks.front()) / k_week);
          ++figures.weekly[week];
          if (rollback) {
            ++figures.rollback_count;
            ++figures.weekly_rollbacks[week];
            RollbackPoint& point = figures.rollbacks.emplace_back();
            point.promotion_id = record->id;
            point.rollback_of = record->rollback_of;
            point.at = record->finished;
            point.actor = record->actor;
            point.reason = record->reason;
            if (last_promoted != nullptr) {
              point.replaced = last_promoted->id;
              point.restore = between(last_promoted->started, record->finished);
            }
          } else {
            ++figures.changes;
            const auto first = first_entry.find(record->candidate_id);
            if (figures.first_stage) {
              // The first stage is where lead time starts: it has none of its own.
            } else if (first == first_entry.end() || first->second > record->finished) {
              ++figures.lead_time_unknown;
            } else {
              figures.lead_times.push_back({record->id, record->candidate_id, record->finished,
                                            between(first->second, record->finished)});
            }
          }
        }
      }
      if (promoted) {
        last_promoted = record;
      }
    }

    figures.per_day = days > 0 ? static_cast<double>(figures.deployments) / days : 0;
    figures.per_week = figures.per_day * 7.0;
    figures.frequency_band = frequency_band(figures.deployments, figures.per_day);

    std::vector<seconds> lead_times;
    for (const auto& point : figures.lead_times) {
      lead_times.push_back(point.lead_time);
    }
    if (!lead_times.empty()) {
      figures.lead_time_median = median(lead_times);
      figures.lead_time_p90 = p90(lead_times);
    }
    figures.lead_time_band = lead_time_band(figures.lead_time_median);

    if (figures.changes > 0) {
      figures.change_failure_rate = static_cast<double>(figures.rollback_count + figures.errors) /
                                    static_cast<double>(figures.changes);
    }
    figures.change_failure_band = change_failure_band(figures.change_failure_rate);

    std::vector<seconds> restores;
    for (const auto& point : figures.rollbacks) {
      if (point.restore) {
        restores.push_back(*point.restore);
      }
    }
    if (!restores.empty()) {
      figures.restore_median = median(restores);
    }
    figures.restore_band = restore_band(figures.restore_median);

    for (const auto& [name, count] : gate_failures) {
      figures.failing_gates.push_back({name, count});
    }
    std::stable_sort(figures.failing_gates.begin(), figures.failing_gates.end(),
                     [](const GateFailure& a, const GateFailure& b) { return a.count > b.count; });
    if (figures.failing_gates.size() > k_top_gates) {
      figures.failing_gates.resize(k_top_gates);
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------- text

namespace {

std::string with_band(const std::string& value, const std::optional<std::string>& band) {
  return band ? value + " (" + *band + ")" : value;
}

std::string window_days(const DoraReport& report) {
  const double days =
      report.since < report.until
          ? chrono::duration<double>(report.until - report.since).count() / 86400.0
          : 0;
  const std::string text = fixed(days, days == std::floor(days) ? 0 : 1);
  return text + (text == "1" ? " day" : " days");
}

}  // namespace

std::string dora_text(const DoraReport& report) {
  std::string out =
      "report" + (report.pipeline.empty() ? "" : " " + util::one_line(report.pipeline)) + ": " +
      iso(report.since) + " .. " + iso(report.until) + " (" + window_days(report) + ")\n\n";
  std::vector<std::vector<std::string>> rows = {{"stage", "deploys", "per week", "lead time p50/p90",
                                                 "change failure", "restore p50", "blocked",
                                                 "pending", "errors"}};
  for (const auto& stage : report.stages) {
    std::string deploys = std::to_string(stage.deployments);
    if (stage.rollback_count > 0) {
      deploys += " (" + std::to_string(stage.rollback_count) + " rollback" +
                 (stage.rollback_count == 1 ? "" : "s") + ")";
    }
    std::string lead = "-";
    if (stage.lead_time_median) {
      lead = with_band(short_duration(*stage.lead_time_median) + " / " +
                           short_duration(*stage.lead_time_p90),
                       stage.lead_time_band);
    }
    std::string failure = "-";
    if (stage.change_failure_rate) {
      failure = with_band(percent(*stage.change_failure_rate) + " of " +
                              std::to_string(stage.changes),
                          stage.change_failure_band);
    }
    const std::string restore =
        stage.restore_median ? with_band(short_duration(*stage.restore_median), stage.restore_band)
                             : "-";
    rows.push_back({stage.name, deploys, with_band(fixed(stage.per_week, 1), stage.frequency_band),
                    lead, failure, restore, std::to_string(stage.outcomes.at("blocked")),
                    std::to_string(stage.outcomes.at("pending")),
                    std::to_string(stage.outcomes.at("error"))});
  }
  out += align_columns(rows);
  bool any_gate = false;
  for (const auto& stage : report.stages) {
    if (stage.failing_gates.empty()) {
      continue;
    }
    if (!any_gate) {
      out += "\ntop failing gates:\n";
      any_gate = true;
    }
    std::string line = "  " + util::one_line(stage.name) + ": ";
    for (std::size_t i = 0; i < stage.failing_gates.size(); ++i) {
      line += (i == 0 ? "" : ", ") + util::one_line(stage.failing_gates[i].name) + " " +
              std::to_string(stage.failing_gates[i].count);
    }
    out += line + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------- JSON

nlohmann::json dora_json(const DoraReport& report) {
  nlohmann::json weeks = nlohmann::json::array();
  for (const TimePoint week : report.weeks) {
    weeks.push_back(util::format_utc(week, "%Y-%m-%d"));
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& stage : report.stages) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& point : stage.lead_times) {
      points.push_back({{"promotion_id", point.promotion_id},
                        {"candidate_id", point.candidate_id},
                        {"entered_at", iso(point.entered)},
                        {"seconds", point.lead_time.count()}});
    }
    nlohmann::json rollbacks = nlohmann::json::array();
    for (const auto& point : stage.rollbacks) {
      rollbacks.push_back({{"promotion_id", point.promotion_id},
                           {"rollback_of", point.rollback_of},
                           {"replaced", point.replaced.empty() ? nlohmann::json(nullptr)
                                                               : nlohmann::json(point.replaced)},
                           {"at", iso(point.at)},
                           {"seconds", optional_seconds(point.restore)},
                           {"actor", point.actor},
                           {"reason", point.reason}});
    }
    nlohmann::json gates = nlohmann::json::array();
    for (const auto& gate : stage.failing_gates) {
      gates.push_back({{"name", gate.name}, {"count", gate.count}});
    }
    nlohmann::json outcomes = nlohmann::json::object();
    for (const char* outcome : k_outcomes) {
      outcomes[outcome] = stage.outcomes.at(outcome);
    }
    stages.push_back(
        {{"name", stage.name},
         {"first_stage", stage.first_stage},
         {"deployment_frequency",
          {{"deployments", stage.deployments},
           {"rollbacks", stage.rollback_count},
           {"per_day", stage.per_day},
           {"per_week", stage.per_week},
           {"weekly", stage.weekly},
           {"weekly_rollbacks", stage.weekly_rollbacks},
           {"band", optional_text(stage.frequency_band)}}},
         {"lead_time",
          {{"promotions", stage.lead_times.size()},
           {"unknown", stage.lead_time_unknown},
           {"median_seconds", optional_seconds(stage.lead_time_median)},
           {"p90_seconds", optional_seconds(stage.lead_time_p90)},
           {"band", optional_text(stage.lead_time_band)},
           {"points", points}}},
         {"change_failure_rate",
          {{"rate", stage.change_failure_rate ? nlohmann::json(*stage.change_failure_rate)
                                              : nlohmann::json(nullptr)},
           {"rollbacks", stage.rollback_count},
           {"errors", stage.errors},
           {"changes", stage.changes},
           {"band", optional_text(stage.change_failure_band)}}},
         {"time_to_restore",
          {{"median_seconds", optional_seconds(stage.restore_median)},
           {"band", optional_text(stage.restore_band)},
           {"rollbacks", rollbacks}}},
         {"outcomes", outcomes},
         {"failing_gates", gates}});
  }
  return {{"pipeline", report.pipeline.empty() ? nlohmann::json(nullptr)
                                               : nlohmann::json(report.pipeline)},
          {"since", iso(report.since)},
          {"until", iso(report.until)},
          {"weeks", weeks},
          {"stages", stages}};
}

// ---------------------------------------------------------------------------------- HTML

namespace {

// `text` with &, <, >, " and ' as character references; other characters as they are.
std::string escape_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  return escape_characters(util::one_line(text));
}

std::string html_escape_block(const std::string& text) {
  std::string kept;
  kept.reserve(text.size());
  for (const char c : util::valid_utf8(text)) {
    if (c == '\n' || c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)) {
      kept += c;
    }
  }
  return escape_characters(kept);
}

namespace {

constexpr int k_width = 760;
constexpr int k_left = 56;
constexpr int k_right = 16;
constexpr int k_top = 14;
constexpr int k_bottom = 30;
constexpr std::size_t k_palette = 6;

const char* const k_css = R"(
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e;
  --grid: #d1d9e0; --card: #f6f8fa; --rb: #d1242f;
  --s0: #0969da; --s1: #8250df; --s2: #1a7f37; --s3: #9a6700; --s4: #bf3989; --s5: #0e7c86;
  --o-promoted: #1a7f37; --o-proposed: #0969da; --o-no-op: #8c959f; --o-blocked: #d1242f;
  --o-pending: #bf8700; --o-error: #6e2a91;
  --elite: #1a7f37; --high: #0969da; --medium: #9a6700; --low: #d1242f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --grid: #3d444d; --card: #151b23;
    --rb: #ff7b72;
    --s0: #4493f8; --s1: #ab7df8; --s2: #3fb950; --s3: #d29922; --s4: #f778ba; --s5: #39c5cf;
    --o-promoted: #3fb950; --o-proposed: #4493f8; --o-no-op: #656c76; --o-blocked: #f85149;
    --o-pending: #d29922; --o-error: #ab7df8;
    --elite: #3fb950; --high: #4493f8; --medium: #d29922; --low: #f85149; } }
body { background: var(--bg); color: var(--fg); margin: 2rem auto; max-width: 820px;
  padding: 0 1rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 1.5rem; margin-bottom: 0; } h2 { font-size: 1.15rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.25rem; }
.muted, .note { color: var(--muted); } .note { font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--grid); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.band { display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; font-size: 0.75rem;
  color: #ffffff; margin-left: 0.3rem; }
.band.elite { background: var(--elite); } .band.high { background: var(--high); }
.band.medium { background: var(--medium); } .band.low { background: var(--low); }
svg { display: block; width: 100%; height: auto; background: var(--card); border-radius: 6px; }
svg text { fill: var(--muted); font: 11px system-ui, sans-serif; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .median { stroke: var(--fg); stroke-width: 1; stroke-dasharray: 5 4; }
svg .rbline { stroke: var(--rb); stroke-width: 1.5; stroke-dasharray: 2 3; }
svg .rb { fill: var(--rb); } svg .label { fill: var(--fg); }
.s0 { fill: var(--s0); stroke: var(--s0); } .s1 { fill: var(--s1); stroke: var(--s1); }
.s2 { fill: var(--s2); stroke: var(--s2); } .s3 { fill: var(--s3); stroke: var(--s3); }
.s4 { fill: var(--s4); stroke: var(--s4); } .s5 { fill: var(--s5); stroke: var(--s5); }
svg polyline { fill: none; stroke-width: 1.2; stroke-opacity: 0.5; }
svg rect.s0, svg rect.s1, svg rect.s2, svg rect.s3, svg rect.s4, svg rect.s5 { stroke: none; }
.o-promoted { fill: var(--o-promoted); background: var(--o-promoted); }
.o-proposed { fill: var(--o-proposed); background: var(--o-proposed); }
.o-no-op { fill: var(--o-no-op); background: var(--o-no-op); }
.o-blocked { fill: var(--o-blocked); background: var(--o-blocked); }
.o-pending { fill: var(--o-pending); background: var(--o-pending); }
.o-error { fill: var(--o-error); background: var(--o-error); }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; font-size: 0.8rem; margin: 0.4rem 0; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px;
  vertical-align: -0.1rem; margin-right: 0.3rem; }
.swatch.s0 { background: var(--s0); } .swatch.s1 { background: var(--s1); }
.swatch.s2 { background: var(--s2); } .swatch.s3 { background: var(--s3); }
.swatch.s4 { background: var(--s4); } .swatch.s5 { background: var(--s5); }
.swatch.rb { background: var(--rb); }
)";

std::string num(double value) { return fixed(value, 1); }

std::string stage_class(std::size_t index) { return "s" + std::to_string(index % k_palette); }

std::string band_badge(const std::optional<std::string>& band) {
  return band ? "<span class=\"band " + *band + "\">" + *band + "</span>" : "";
}

std::string svg_open(int height, const std::string& label) {
  return "<svg viewBox=\"0 0 " + std::to_string(k_width) + " " + std::to_string(height) +
         "\" role=\"img\" aria-label=\"" + html_escape(label) + "\">\n";
}

// Horizontal grid lines with labels at 0, half and the top of a y axis.
std::string y_grid(int height, double top, const std::function<std::string(double)>& label) {
  std::string out;
  const double plot = height - k_top - k_bottom;
  for (const double share : {0.0, 0.5, 1.0}) {
    const double y = k_top + plot * (1.0 - share);
    out += "<line class=\"grid\" x1=\"" + std::to_string(k_left) + "\" x2=\"" +
           std::to_string(k_width - k_right) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) + "\"/>";
    out += "<text x=\"" + std::to_string(k_left - 6) + "\" y=\"" + num(y + 4) +
           "\" text-anchor=\"end\">" + html_escape(label(top * share)) + "</text>\n";
  }
  return out;
}

std::string deployments_chart(const DoraReport& report) {
  std::size_t top = 1;
  for (const auto& stage : report.stages) {
    for (const std::size_t count : stage.weekly) {
      top = std::max(top, count);
    }
  }
  const int height = 240;
  const double plot_width = k_width - k_left - k_right;
  const double plot_height = height - k_top - k_bottom;
  const std::size_t weeks = std::max<std::size_t>(report.weeks.size(), 1);
  const double group = plot_width / static_cast<double>(weeks);
  const double bar = group * 0.8 / static_cast<double>(std::max<std::size_t>(report.stages.size(), 1));
  std::string out = svg_open(height, "deployments per week per stage");
  out += y_grid(height, static_cast<double>(top), [](double v) {
    return v == std::floor(v) ? fixed(v, 0) : fixed(v, 1);
  });
  const std::size_t label_every = std::max<std::size_t>(1, (report.weeks.size() + 7) / 8);
  for (std::size_t w = 0; w < report.weeks.size(); ++w) {
    const double x0 = k_left + group * static_cast<double>(w) + group * 0.1;
    if (w % label_every == 0) {
      out += "<text x=\"" + num(k_left + group * (static_cast<double>(w) + 0.5)) + "\" y=\"" +
             std::to_string(height - 10) + "\" text-anchor=\"middle\">" +
             util::format_utc(report.weeks[w], "%b %d") + "</text>\n";
    }
    for (std::size_t s = 0; s < report.stages.size(); ++s) {
      const auto& stage = report.stages[s];
      const std::size_t total = stage.weekly[w];
      if (total == 0) {
        continue;
      }
      const std::size_t rollbacks = stage.weekly_rollbacks[w];
      const double x = x0 + bar * static_cast<double>(s);
      const double full = plot_height * static_cast<double>(total) / static_cast<double>(top);
      const double rolled = plot_height * static_cast<double>(rollbacks) / static_cast<double>(top);
      const std::string title = "<title>" + html_escape(stage.name) + ", week of " +
                                util::format_utc(report.weeks[w], "%Y-%m-%d") + ": " +
                                std::to_string(total) + " deployment" + (total == 1 ? "" : "s") +
                                (rollbacks > 0 ? " (" + std::to_string(rollbacks) + " rollback" +
                                                     (rollbacks == 1 ? "" : "s") + ")"
                                               : "") +
                                "</title>";
      const double base = k_top + plot_height;
      out += "<rect class=\"" + stage_class(s) + "\" x=\"" + num(x) + "\" y=\"" +
             num(base - full + rolled) + "\" width=\"" + num(std::max(bar - 1, 1.0)) +
             "\" height=\"" + num(full - rolled) + "\">" + title + "</rect>";
      if (rollbacks > 0) {
        out += "<rect class=\"rb\" x=\"" + num(x) + "\" y=\"" + num(base - full) + "\" width=\"" +
               num(std::max(bar - 1, 1.0)) + "\" height=\"" + num(rolled) + "\">" + title +
               "</rect>";
      }
      out += "\n";
    }
  }
  out += "</svg>\n<div class=\"legend\">";
  for (std::size_t s = 0; s < report.stages.size(); ++s) {
    out += "<span><span class=\"swatch " + stage_class(s) + "\"></span>" +
           html_escape(report.stages[s].name) + "</span>";
  }
  out += "<span><span class=\"swatch rb\"></span>rollbacks (top of a bar)</span></div>\n";
  return out;
}

std::string lead_time_chart(const DoraReport& report, const StageFigures& stage, std::size_t index) {
  const int height = 200;
  const double plot_width = k_width - k_left - k_right;
  const double plot_height = height - k_top - k_bottom;
  const double span = std::max(chrono::duration<double>(report.until - report.since).count(), 1.0);
  const auto x_of = [&](TimePoint at) {
    return k_left + plot_width * chrono::duration<double>(at - report.since).count() / span;
  };
  double top = 3600;
  for (const auto& point : stage.lead_times) {
    top = std::max(top, static_cast<double>(point.lead_time.count()));
  }
  const auto y_of = [&](seconds value) {
    return k_top + plot_height * (1.0 - static_cast<double>(value.count()) / top);
  };
  std::string out = svg_open(height, "lead time per promotion into " + stage.name);
  out += y_grid(height, top, [](double v) {
    return short_duration(seconds(static_cast<long long>(std::llround(v))));
  });
  for (const double share : {0.0, 0.5, 1.0}) {
    const TimePoint at = report.since + chrono::duration_cast<TimePoint::duration>(
                                            chrono::duration<double>(span * share));
    out += "<text x=\"" + num(k_left + plot_width * share) + "\" y=\"" +
           std::to_string(height - 10) + "\" text-anchor=\"" +
           (share == 0.0 ? "start" : share == 1.0 ? "end" : "middle") + "\">" +
           util::format_utc(at, "%Y-%m-%d") + "</text>\n";
  }
  for (const auto& rollback : stage.rollbacks) {
    const double x = x_of(rollback.at);
    out += "<line class=\"rbline\" x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" +
           std::to_string(k_top) + "\" y2=\"" + num(k_top + plot_height) + "\"><title>rollback " +
           html_escape(rollback.promotion_id) + " at " + iso(rollback.at) + " by " +
           html_escape(rollback.actor) + "</title></line>\n";
  }
  if (stage.lead_times.empty()) {
    out += "<text class=\"label\" x=\"" + num(k_left + plot_width / 2) + "\" y=\"" +
           num(k_top + plot_height / 2) +
           "\" text-anchor=\"middle\">no promotion with a known lead time</text>\n";
  } else {
    std::string line;
    for (const auto& point : stage.lead_times) {
      line += num(x_of(point.entered)) + "," + num(y_of(point.lead_time)) + " ";
    }
    out += "<polyline class=\"" + stage_class(index) + "\" points=\"" + line + "\"/>\n";
    for (const auto& point : stage.lead_times) {
      out += "<circle class=\"" + stage_class(index) + "\" r=\"3.5\" cx=\"" +
             num(x_of(point.entered)) + "\" cy=\"" + num(y_of(point.lead_time)) + "\"><title>" +
             html_escape(point.promotion_id) + ", candidate " +
             html_escape(point.candidate_id.substr(0, 12)) + ": entered " + iso(point.entered) +
             ", lead time " + short_duration(point.lead_time) + "</title></circle>\n";
    }
    const double y = y_of(*stage.lead_time_median);
    out += "<line class=\"median\" x1=\"" + std::to_string(k_left) + "\" x2=\"" +
           std::to_string(k_width - k_right) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
           "\"/><text class=\"label\" x=\"" + std::to_string(k_width - k_right - 4) + "\" y=\"" +
           num(y - 4) + "\" text-anchor=\"end\">median " +
           short_duration(*stage.lead_time_median) + "</text>\n";
  }
  return out + "</svg>\n";
}

std::string outcomes_chart(const DoraReport& report) {
  const int row = 30;
  const int name_width = 120;
  const int height = k_top + row * static_cast<int>(std::max<std::size_t>(report.stages.size(), 1)) + 8;
  std::size_t top = 1;
  for (const auto& stage : report.stages) {
    std::size_t total = 0;
    for (const auto& [outcome, count] : stage.outcomes) {
      total += count;
    }
    top = std::max(top, total);
  }
  const double plot_width = k_width - name_width - k_right - 40;
  std::string out = svg_open(height, "attempts per stage by outcome");
  for (std::size_t s = 0; s < report.stages.size(); ++s) {
    const auto& stage = report.stages[s];
    const double y = k_top + row * static_cast<double>(s);
    out += "<text class=\"label\" x=\"" + std::to_string(name_width - 8) + "\" y=\"" +
           num(y + 15) + "\" text-anchor=\"end\">" + html_escape(stage.name) + "</text>";
    double x = name_width;
    std::size_t total = 0;
    for (const char* outcome : k_outcomes) {
      const std::size_t count = stage.outcomes.at(outcome);
      if (count == 0) {
        continue;
      }
      total += count;
      const double width = plot_width * static_cast<double>(count) / static_cast<double>(top);
      out += "<rect class=\"o-" + std::string(outcome) + "\" x=\"" + num(x) + "\" y=\"" + num(y) +
             "\" width=\"" + num(width) + "\" height=\"20\"><title>" + html_escape(stage.name) +
             ": " + std::to_string(count) + " " + outcome + "</title></rect>";
      x += width;
    }
    out += "<text x=\"" + num(x + 6) + "\" y=\"" + num(y + 15) + "\">" + std::to_string(total) +
           "</text>\n";
  }
  out += "</svg>\n<div class=\"legend\">";
  for (const char* outcome : k_outcomes) {
    out += std::string("<span><span class=\"swatch o-") + outcome + "\"></span>" + outcome +
           "</span>";
  }
  return out + "</div>\n";
}

}  // namespace

std::string dora_html(const DoraReport& report) {
  const std::string title =
      "promote report" + (report.pipeline.empty() ? "" : ": " + report.pipeline);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>" + html_escape(title) + "</title>\n<style>" + k_css +
                    "</style>\n</head>\n<body>\n";
  out += "<h1>" + html_escape(title) + "</h1>\n<p class=\"muted\">" + iso(report.since) + " to " +
         iso(report.until) + " (" + window_days(report) +
         "). Deployments are promotions that ended <em>promoted</em>, rollbacks "
         "included; bands follow the DORA thresholds.</p>\n";

  out += "<h2>Figures</h2>\n<table>\n<tr><th>stage</th><th class=\"num\">deployments</th>"
         "<th class=\"num\">per week</th><th class=\"num\">lead time p50 / p90</th>"
         "<th class=\"num\">change failure rate</th><th class=\"num\">time to restore p50</th>"
         "<th class=\"num\">blocked</th><th class=\"num\">pending</th></tr>\n";
  for (const auto& stage : report.stages) {
    out += "<tr><td>" + html_escape(stage.name) + "</td><td class=\"num\">" +
           std::to_string(stage.deployments) +
           (stage.rollback_count > 0 ? " (" + std::to_string(stage.rollback_count) + " rb)" : "") +
           "</td><td class=\"num\">" + fixed(stage.per_week, 1) + band_badge(stage.frequency_band) +
           "</td><td class=\"num\">" +
           (stage.first_stage ? std::string("<span class=\"muted\">start</span>")
            : stage.lead_time_median
                ? short_duration(*stage.lead_time_median) + " / " +
                      short_duration(*stage.lead_time_p90) + band_badge(stage.lead_time_band)
                : std::string("&ndash;")) +
           "</td><td class=\"num\">" +
           (stage.change_failure_rate
                ? percent(*stage.change_failure_rate) + " of " + std::to_string(stage.changes) +
                      band_badge(stage.change_failure_band)
                : std::string("&ndash;")) +
           "</td><td class=\"num\">" +
           (stage.restore_median ? short_duration(*stage.restore_median) +
                                       band_badge(stage.restore_band)
                                 : std::string("&ndash;")) +
           "</td><td class=\"num\">" + std::to_string(stage.outcomes.at("blocked")) +
           "</td><td class=\"num\">" + std::to_string(stage.outcomes.at("pending")) +
           "</td></tr>\n";
  }
  out += "</table>\n";

  out += "<h2>Deployments per week</h2>\n" + deployments_chart(report);
  out += "<h2>Lead time per promotion</h2>\n<p class=\"note\">From the candidate's first "
         "entry into the first stage to its entry into the stage; the dashed line is the "
         "median, red dotted lines are rollbacks.</p>\n";
  bool any_lead_chart = false;
  for (std::size_t s = 0; s < report.stages.size(); ++s) {
    if (report.stages[s].first_stage) {
      continue;
    }
    any_lead_chart = true;
    out += "<h3>" + html_escape(report.stages[s].name) + "</h3>\n" +
           lead_time_chart(report, report.stages[s], s);
  }
  if (!any_lead_chart) {
    out += "<p class=\"muted\">Only one stage: no lead time to show.</p>\n";
  }
  out += "<h2>Outcomes per stage</h2>\n" + outcomes_chart(report);

  out += "<h2>Rollbacks</h2>\n";
  bool any_rollback = false;
  for (const auto& stage : report.stages) {
    for (const auto& rollback : stage.rollbacks) {
      if (!any_rollback) {
        out += "<table>\n<tr><th>at</th><th>stage</th><th>rollback</th><th>replaced</th>"
               "<th class=\"num\">time to restore</th><th>actor</th><th>reason</th></tr>\n";
        any_rollback = true;
      }
      out += "<tr><td>" + iso(rollback.at) + "</td><td>" + html_escape(stage.name) + "</td><td>" +
             html_escape(rollback.promotion_id) + "</td><td>" + html_escape(rollback.replaced) +
             "</td><td class=\"num\">" +
             (rollback.restore ? short_duration(*rollback.restore) : std::string("&ndash;")) +
             "</td><td>" + html_escape(rollback.actor) + "</td><td>" +
             html_escape(rollback.reason) + "</td></tr>\n";
    }
  }
  out += any_rollback ? "</table>\n" : "<p class=\"muted\">None in the window.</p>\n";

  out += "<h2>Gates that failed most</h2>\n";
  bool any_gate = false;
  for (const auto& stage : report.stages) {
    for (const auto& gate : stage.failing_gates) {
      if (!any_gate) {
        out += "<table>\n<tr><th>stage</th><th>gate</th><th class=\"num\">failed</th></tr>\n";
        any_gate = true;
      }
      out += "<tr><td>" + html_escape(stage.name) + "</td><td>" + html_escape(gate.name) +
             "</td><td class=\"num\">" + std::to_string(gate.count) + "</td></tr>\n";
    }
  }
  out += any_gate ? "</table>\n" : "<p class=\"muted\">No gate failed in the window.</p>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace promote::report
