#pragma once
// The dashboard's pages, as HTML text: every pipeline as columns of stages, one pipeline with
// its commands, its history, one promotion, the sign-in page and a command's result. They are
// rendered from the documents the API answers (board.hpp, report::history_json), read well
// without JavaScript (times are written out, forms post), and name what is live for the
// script that updates them (`data-live` elements with an id; `time[data-countdown]` counts
// down to its datetime). Every text that comes from a repository, a gate or a person is
// escaped.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace promote::serve::pages {

using TimePoint = std::chrono::system_clock::time_point;

/// Who is looking: the actor and roles of the signed-in user (none: empty actor), and the
/// token the page's forms carry against cross-site requests.
struct Viewer {
  std::string actor;
  std::vector<std::string> roles;
  std::string csrf;
  bool sign_in = false;  ///< signing in is possible (the service has a tokens file)
  bool proxied = false;  ///< the user is named by a trusted proxy: no sign-out
};

/// One pipeline as the overview shows it: its document, or why there is none.
struct PipelineView {
  std::string name;
  const nlohmann::json* document = nullptr;  ///< board.hpp; null when `error` is set
  std::string error;
};

/// Every pipeline, each as a row of stage columns.
std::string overview(const std::vector<PipelineView>& pipelines, const Viewer& viewer,
                     TimePoint now);

/// One pipeline: its stages with their gates, and the commands the viewer may give.
std::string pipeline(const PipelineView& pipeline, const Viewer& viewer, TimePoint now);

/// The history of `pipeline`: the filter form (its values in `filter`: stage, outcome, actor,
/// image), the records (report::history_json), and `next` (a query string for the next page, or
/// "").
std::string history(const std::string& pipeline, const std::vector<std::string>& stages,
                    const std::map<std::string, std::string>& filter, const nlohmann::json& records,
                    const std::string& next, const Viewer& viewer);

/// One promotion (a report::history_json record) with the diff of its commit ("" when not
/// known) and its approvals.
std::string promotion(const nlohmann::json& record, const std::string& diff, const Viewer& viewer);

/// The sign-in form; `problem` is said above it when not empty.
std::string sign_in(const Viewer& viewer, const std::string& problem);

/// What a command given through a form did (`ok`) or why it was refused: a heading, a message,
/// a link to `back` and, when given, to promotion `promotion_id`.
std::string result(const std::string& heading, const std::string& message, bool ok,
                   const std::string& back, const std::string& promotion_id, const Viewer& viewer);

/// An error page (404, 400) with `message`.
std::string error(const std::string& heading, const std::string& message, const Viewer& viewer);

/// "in 1h 05m 30s", "in 42s", "now"; "3d 4h ago" for a past time.
std::string relative(TimePoint at, TimePoint now);

/// The style sheet, the script and the icon of the pages (/static/app.css, /static/app.js,
/// /static/icon.svg).
extern const char* const k_style;
extern const char* const k_script;
extern const char* const k_icon;

}  // namespace promote::serve::pages
