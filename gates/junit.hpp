#pragma once
// The `junit` gate: reads JUnit XML reports (files or glob patterns), counts their test
// cases and checks pass rate, failures, skipped and flaky tests and the number of tests.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// The outcome counts of the test cases of one or more JUnit reports. Each test case has
/// exactly one outcome; `flaky` counts passed tests that needed reruns, `disabled` the
/// skipped ones that the runner disabled (never ran).
struct JunitCounts {
  long long tests = 0;
  long long failures = 0;
  long long errors = 0;
  long long skipped = 0;
  long long flaky = 0;
  long long disabled = 0;

  /// Tests that neither failed, errored nor were skipped (flaky ones included).
  long long passed() const { return tests - failures - errors - skipped; }
  JunitCounts& operator+=(const JunitCounts& other);
};

/// Counts the test cases of one JUnit XML document (a JunitTally of that document alone).
/// `label` names the file in errors.
///
/// The `<testcase>` elements present are counted, never the suite attributes. The root is
/// `<testsuites>` or `<testsuite>`; suites nest at any depth. A test case's outcome is, by
/// precedence: error (`<error>`, or `<rerunError>` alone) > failure (`<failure>`, or
/// `<rerunFailure>` alone) > skipped (`<skipped>`, or a test case the runner disabled: CTest's
/// `status="disabled"`, GoogleTest's `status="notrun"` without `<skipped>`; those also count
/// in `disabled`) > passed; a passed test case with `<flakyFailure>` or `<flakyError>` also
/// counts in `flaky`. An `<error>` or `<failure>` directly under a suite counts as one errored
/// test. Fails (input) with "LABEL:LINE:COL: what" when the document is empty, malformed (an
/// undefined entity, a stray '&' or a reference to a character XML forbids included: pugixml
/// would keep it as text), truncated, has a DTD (refused outright: no entity is ever
/// expanded) or another root element.
///
/// Two readers give the same counts. The streaming one reads UTF-8 documents in one pass
/// without building a tree (memory: a few bytes per open element); it takes only a strict
/// subset of XML, and on anything outside it (a UTF-16 or UTF-32 document, a DTD, a
/// malformed or truncated document, an unexpected root) the document is read again by
/// pugixml into a tree, which also names the problem. `JunitReader::tree` skips the first;
/// `JunitReader::streaming_only` (for tests) fails with "LABEL: outside the streaming
/// reader's subset" instead of handing over.
enum class JunitReader { streaming, tree, streaming_only };
Result<JunitCounts> parse_junit(std::string_view xml, const std::string& label,
                                JunitReader reader = JunitReader::streaming);

/// Counts the test cases of several JUnit documents, in the order they are added, and finds
/// the flaky tests. A test is identified by the `classname` and `name` of its test cases
/// (test cases without a name are never matched). A failed or errored test case followed,
/// in the same document or a later one, by a passing test case of the same test was a
/// rerun: it is not counted, and the passing test case counts as passed and flaky, as does
/// a passing test case with Surefire's `<flakyFailure>` or `<flakyError>`. A test that
/// passes and then fails stays failed.
class JunitTally {
 public:
  enum class Outcome { passed, failed, errored, skipped, disabled };

  /// Counts one document (the rules of parse_junit) and returns its counts on its own;
  /// on failure nothing is counted.
  Result<JunitCounts> add(std::string_view xml, const std::string& label,
                          JunitReader reader = JunitReader::streaming);
  /// The counts of every document added.
  const JunitCounts& totals() const { return m_totals; }
  /// The flaky tests, "classname.name" (or the name alone), in the order found.
  const std::vector<std::string>& flaky_tests() const { return m_flaky; }

 private:
  /// Failed and errored test cases of one test not yet followed by a pass.
  struct Unresolved {
    std::string classname;
    std::string name;
    long long failures = 0;
    long long errors = 0;
  };

  /// A test case's identity; the hashes are set, and `identified` true, when it has a name
  /// and may be a failure or a rerun.
  struct TestId {
    std::string_view classname;
    std::string_view name;
    std::size_t name_hash = 0;
    std::size_t hash = 0;  ///< of classname and name
    bool identified = false;
  };

  static constexpr std::size_t k_filter_bits = std::size_t{1} << 16;

  /// Turns a document's elements, as either reader meets them, into records.
  class Walk;

  void record(const TestId& id, Outcome outcome, bool flaky);
  /// False when no failure of a test with a name of this hash was ever recorded.
  bool maybe_unresolved(std::size_t name_hash) const;

  JunitCounts m_totals;
  std::unordered_map<std::size_t, std::vector<Unresolved>> m_unresolved;  ///< by TestId hash
  std::vector<std::uint64_t> m_filter;  ///< a bit per name hash of every failure recorded
  std::vector<std::string> m_flaky;
};

/// The validated `with:` block of a `junit` gate.
struct JunitConfig {
  std::vector<std::string> paths;         ///< files or glob patterns (`*`, `?`, `[..]`, `**`)
  /// Lowest passed / (tests - skipped), 0..1. Absent only when the user wrote max_failures
  /// and no min_pass_rate: a written threshold is never overridden by another's default.
  std::optional<double> min_pass_rate = 1.0;
  std::optional<long long> max_failures;  ///< most failed or errored tests allowed
  std::optional<long long> max_skipped;   ///< most skipped tests allowed
  long long min_tests = 1;                ///< fewest test cases (all reports together)
  std::optional<long long> max_flaky;     ///< most flaky tests allowed (no limit when absent)
  Verdict::Status on_empty = Verdict::Status::error;  ///< when no test case is found at all
};

/// Judges JUnit reports (read in path order, through one JunitTally) against thresholds.
/// `pass` when all thresholds hold, `warn` when they hold but some tests were flaky, `fail`
/// naming the first threshold broken (in the order min_tests, min_pass_rate, max_failures,
/// max_skipped, max_flaky), the `on_empty` status (error unless configured; pending
/// retries after a minute) when no test case is found at all, and `error` when a pattern
/// matches no file or a report cannot be read or parsed.
class JunitGate : public Gate {
 public:
  explicit JunitGate(JunitConfig config) : m_config(std::move(config)) {}

  /// Reads every matching report (synchronously) relative to `context.base_dir`; the
  /// verdict's evidence lists each file read with the sha256 of its bytes.
  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override;
  /// {"path": [...], "min_pass_rate"?, "min_tests": 1, "on_empty": "error",
  ///  "max_failures"?, "max_skipped"?, "max_flaky"?}: min_pass_rate is 1.0 unless written,
  ///  and absent when max_failures alone is written.
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
