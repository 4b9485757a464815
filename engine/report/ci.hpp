#pragma once
// What promote leaves behind in a CI job after an attempt: under GitHub Actions a Markdown
// step summary, step outputs and workflow commands (masks, annotations); under GitLab CI a
// JUnit report of the gates and a dotenv file of the outputs. No secret is written.

#include <ostream>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/promoter/promotion.hpp"

namespace promote::report {

/// The most of a diff a step summary shows (GitHub caps a step's summary at 1 MiB); a longer
/// diff is cut at a line end with a note.
inline constexpr std::size_t k_summary_diff_limit = 48 * 1024;

/// After a promotion attempt (promote, plan, rollback), what the CI system the environment
/// names gets:
/// - GITHUB_ACTIONS=true: `::add-mask::` for the value of each secret variable promote or
///   the gates read that is set, `::error` for each failed or error gate and an error
///   outcome, `::warning` for each warned gate and warning, `::notice` for a pending gate,
///   all written to `commands` (the runner reads workflow commands from stdout and stderr
///   alike; stderr keeps `--output json` one document); a Markdown summary appended to
///   $GITHUB_STEP_SUMMARY; `outcome`, `stage`, `candidate`, `candidate-id`, `commit`,
///   `pr-url` and `promotion-id` appended to $GITHUB_OUTPUT.
/// - GITLAB_CI=true: a testsuite named after the stage, one testcase per gate, added to the
///   JUnit file $PROMOTE_JUNIT_REPORT (default promote-gates.xml; an existing <testsuites>
///   file gets one more testsuite), and PROMOTE_OUTCOME, PROMOTE_STAGE, PROMOTE_CANDIDATE,
///   PROMOTE_CANDIDATE_ID, PROMOTE_COMMIT, PROMOTE_PR_URL and PROMOTE_PROMOTION_ID written
///   to the dotenv file $PROMOTE_DOTENV (default promote.env).
/// Outside CI it does nothing. Returns what could not be written, one message each, for
/// the caller to show as warnings; these never change the exit code.
std::vector<std::string> write_ci_outputs(const promoter::PromotionResult& result,
                                          std::ostream& commands);

/// The same for an error that stopped promote before any attempt (a bad flag, a bad
/// pipeline file): an `::error` annotation, a summary and outputs with outcome `error`
/// (GitHub); a testsuite with one `promote` testcase in error and the dotenv file (GitLab).
std::vector<std::string> write_ci_error(const Error& error, const std::string& stage,
                                        std::ostream& commands);

/// `text` as the data of a workflow command: % CR LF as %25 %0D %0A.
std::string escape_command_data(const std::string& text);

/// `text` as a property of a workflow command: as data, and : , as %3A %2C.
std::string escape_command_property(const std::string& text);

}  // namespace promote::report
