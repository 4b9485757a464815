#pragma once
// `promote report`: the DORA figures of a pipeline's stages over a time window, read from
// the promotion history, and their renderings (a text table, the JSON document of
// schemas/report.schema.json, a self-contained HTML page with SVG charts).

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/history/history.hpp"

namespace promote::report {

using TimePoint = std::chrono::system_clock::time_point;

/// One promotion into a stage with its lead time: from the candidate's first entry into
/// the first stage to its entry into this one.
struct LeadTimePoint {
  std::string promotion_id;
  std::string candidate_id;
  TimePoint entered;  ///< the promotion's finished time
  std::chrono::seconds lead_time{0};
};

/// One rollback into a stage, with the promotion it replaced and the time to restore.
struct RollbackPoint {
  std::string promotion_id;
  std::string rollback_of;  ///< the promotion whose candidate it put back
  std::string replaced;     ///< the stage's previous promoted record, or "" when none is known
  TimePoint at;             ///< the rollback's finished time
  /// From the start of `replaced` to the rollback's finish; nullopt when `replaced` is "".
  std::optional<std::chrono::seconds> restore;
  std::string actor;
  std::string reason;
};

/// A gate that said fail, and how often, within the window.
struct GateFailure {
  std::string name;
  std::size_t count = 0;
};

/// The figures of one stage. Every count is of records whose finished time is in the
/// window; a band is "elite", "high", "medium" or "low", or nullopt when there is nothing
/// to judge.
struct StageFigures {
  std::string name;
  bool first_stage = false;

  // Deployment frequency: promotions with outcome "promoted", rollbacks included.
  std::size_t deployments = 0;
  std::size_t rollback_count = 0;  ///< of `deployments`, how many were rollbacks
  double per_day = 0;
  double per_week = 0;
  std::vector<std::size_t> weekly;            ///< deployments per week of DoraReport::weeks
  std::vector<std::size_t> weekly_rollbacks;  ///< rollbacks per week of DoraReport::weeks
  std::optional<std::string> frequency_band;

  // Lead time: non-rollback promotions whose candidate is on record in the first stage;
  // not computed for the first stage itself.
  std::vector<LeadTimePoint> lead_times;  ///< oldest first
  std::size_t lead_time_unknown = 0;      ///< promotions whose first-stage entry is not on record
  std::optional<std::chrono::seconds> lead_time_median;
  std::optional<std::chrono::seconds> lead_time_p90;
  std::optional<std::string> lead_time_band;

  // Change failure rate: (rollbacks + errors) / (non-rollback promotions + errors).
  std::size_t errors = 0;
  std::size_t changes = 0;  ///< the denominator
  std::optional<double> change_failure_rate;
  std::optional<std::string> change_failure_band;

  // Time to restore: per rollback, from the start of the promotion it replaced to its finish.
  std::vector<RollbackPoint> rollbacks;  ///< oldest first
  std::optional<std::chrono::seconds> restore_median;
  std::optional<std::string> restore_band;

  /// Attempts per outcome: promoted, proposed, no-op, blocked, pending, error (all present).
  std::map<std::string, std::size_t> outcomes;
  /// The gates that said fail most often, most first, then by name; at most 5. Errors are
  /// left out: most are gates cancelled because another failed first.
  std::vector<GateFailure> failing_gates;
};

/// The report of a pipeline over [since, until].
struct DoraReport {
  std::string pipeline;  ///< "" when not known
  TimePoint since;
  TimePoint until;
  std::vector<TimePoint> weeks;  ///< Monday 00:00 UTC of each week that meets the window
  std::vector<StageFigures> stages;  ///< in pipeline order
};

/// The figures of each stage in `stage_order` (first stage first) over [since, until].
/// `records` should hold the whole history, not only the window: a lead time reaches back
/// to the candidate's first entry into the first stage, and a time to restore to the
/// promotion a rollback replaced. Uses UTC only, never the local time zone.
DoraReport dora(const std::vector<history::PromotionRecord>& records,
                const std::vector<std::string>& stage_order, TimePoint since, TimePoint until);

/// The stages in the order they first appear in `records` (oldest first): the stage order
/// when the pipeline file is not at hand.
std::vector<std::string> stages_in_history(const std::vector<history::PromotionRecord>& records);

/// The DORA band of each figure, after the published DORA thresholds (see README).
std::optional<std::string> frequency_band(std::size_t deployments, double per_day);
std::optional<std::string> lead_time_band(std::optional<std::chrono::seconds> median);
std::optional<std::string> change_failure_band(std::optional<double> rate);
std::optional<std::string> restore_band(std::optional<std::chrono::seconds> median);

/// The report as a compact text table with the top failing gates under it.
std::string dora_text(const DoraReport& report);

/// The report as the JSON document of schemas/report.schema.json.
nlohmann::json dora_json(const DoraReport& report);

/// The report as one self-contained HTML page: inline CSS (light and dark) and SVG charts,
/// no script, no external asset; every string from the history is escaped.
std::string dora_html(const DoraReport& report);

/// `text` on one line (util::one_line) with &, <, >, " and ' replaced by character references.
std::string html_escape(const std::string& text);

/// `text` escaped as html_escape does, keeping its line feeds and tabs (a diff, a JSON
/// document) and dropping every other control character.
std::string html_escape_block(const std::string& text);

}  // namespace promote::report
