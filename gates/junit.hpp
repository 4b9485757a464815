#pragma once
// The `junit` gate: reads JUnit XML reports (files or glob patterns), counts their test
// cases and checks pass rate, failures, skipped tests and the number of tests.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// The outcome counts of the test cases of one or more JUnit reports. Each test case has
/// exactly one outcome; `flaky` counts passed tests that needed reruns.
struct JunitCounts {
  long long tests = 0;
  long long failures = 0;
  long long errors = 0;
  long long skipped = 0;
  long long flaky = 0;

  /// Tests that neither failed, errored nor were skipped (flaky ones included).
  long long passed() const { return tests - failures - errors - skipped; }
  JunitCounts& operator+=(const JunitCounts& other);
};

/// Counts the test cases of one JUnit XML document. `label` names the file in errors.
///
/// The `<testcase>` elements present are counted, never the suite attributes. The root is
/// `<testsuites>` or `<testsuite>`; suites nest at any depth. A test case's outcome is, by
/// precedence: error (`<error>`, or `<rerunError>` alone) > failure (`<failure>`, or
/// `<rerunFailure>` alone) > skipped (`<skipped>`) > passed; a passed test case with
/// `<flakyFailure>` or `<flakyError>` also counts in `flaky`. An `<error>` or `<failure>`
/// directly under a suite counts as one errored test. Fails (input) with
/// "LABEL:LINE:COL: what" when the document is empty, malformed, truncated, has a DTD
/// (refused outright: no entity is ever expanded) or another root element.
Result<JunitCounts> parse_junit(std::string_view xml, const std::string& label);

/// The validated `with:` block of a `junit` gate.
struct JunitConfig {
  std::vector<std::string> paths;         ///< files or glob patterns (`*`, `?`, `[..]`, `**`)
  double min_pass_rate = 1.0;             ///< passed / (tests - skipped), 0..1
  std::optional<long long> max_failures;  ///< most failed or errored tests allowed
  std::optional<long long> max_skipped;   ///< most skipped tests allowed
  long long min_tests = 1;                ///< fewest test cases (all reports together)
};

/// Judges JUnit reports against thresholds. `pass` when all thresholds hold, `warn` when
/// they hold but some tests were flaky, `fail` naming the first threshold broken (in the
/// order min_tests, min_pass_rate, max_failures, max_skipped), and `error` when a pattern
/// matches no file, a report cannot be read or parsed, or no test case is found at all.
class JunitGate : public Gate {
 public:
  explicit JunitGate(JunitConfig config) : m_config(std::move(config)) {}

  /// Reads every matching report (synchronously) relative to `context.base_dir`; the
  /// verdict's evidence lists each file read with the sha256 of its bytes.
  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override;
  /// {"path": [...], "min_pass_rate": 1.0, "min_tests": 1, "max_failures"?, "max_skipped"?}.
  nlohmann::json config() const override;

 private:
  JunitConfig m_config;
};

/// Builds a `junit` gate from its `with:` block; reports every problem into
/// `with.diagnostics()` and returns nullptr when the block is invalid.
std::unique_ptr<Gate> make_junit(const pipeline::ConfigNode& with);

/// Expands file names and glob patterns relative to `base_dir` (absolute ones as they are)
/// into the regular files they match, as "reports/a.xml" (relative patterns) or absolute
/// paths, sorted and without duplicates. `*` and `?` stay within a path segment and do not
/// match a leading dot; `**` matches any number of directories (hidden ones skipped,
/// symbolic links to directories not followed). Fails (input) naming the first pattern
/// that matches nothing, or a directory that cannot be listed.
Result<std::vector<std::string>> expand_report_paths(const std::filesystem::path& base_dir,
                                                     const std::vector<std::string>& patterns);

}  // namespace promote::gates
