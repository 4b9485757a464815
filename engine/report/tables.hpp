#pragma once
// Renderings of `promote history` and `promote status`.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/history/history.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/status.hpp"

namespace promote::report {

/// A reference as a person reads it in tables and summaries: the digest cut to its first
/// 12 hex and "…" ("ghcr.io/acme/api:1.4.2@sha256:1a2b3c4d5e6f…"); text that is no
/// reference, as it is. JSON, commits, trailers, notes and the history keep full references.
std::string short_reference(const std::string& reference);
/// One image of an IMAGES column: "api=1.4.2", "api=1.4.2@sha256:1a2b3c4d5e6f…" or, for a
/// digest alone, "api@sha256:1a2b3c4d5e6f…".
std::string image_cell(const std::string& name, const std::string& reference);

/// A release in one cell: its images as image_cell shows them, `between` them, then
/// ", chart NAME@VERSION" and ", file NAME@sha256:HEX12" for its charts and carried files.
std::string release_text(const Candidate& candidate, const std::string& between = " ");

/// What each place of a target held before, for a target whose places disagreed: the line
/// "places that disagreed before:", then "  FILE: IMAGE VALUE" for each place (VALUE as
/// short_reference shows it), every line after `indent`, what came from the files through
/// util::one_line. "" when there are none.
std::string places_text(const std::vector<promoter::PlaceValue>& places,
                        const std::string& indent);

/// Rows as left-aligned columns separated by two spaces, one line each.
std::string align_columns(const std::vector<std::vector<std::string>>& rows);

/// History rows as an aligned text table, newest first.
std::string history_table(const std::vector<history::PromotionRecord>& records);
/// History rows as CSV (RFC 4180 quoting), with a header line.
std::string history_csv(const std::vector<history::PromotionRecord>& records);
/// History rows as a JSON array, gates and evidence included.
nlohmann::json history_json(const std::vector<history::PromotionRecord>& records);

/// One promotion as a person reads it: what, who, when, outcome, and every gate with
/// its summary, details and evidence (`promote history show`, `promote explain`).
std::string promotion_text(const history::PromotionRecord& record);

/// Stage states as a text table.
std::string status_table(const std::vector<promoter::StageStatus>& stages);
/// Stage states as JSON: {"stages": [...]}.
nlohmann::json status_json(const std::string& pipeline,
                           const std::vector<promoter::StageStatus>& stages);

}  // namespace promote::report
