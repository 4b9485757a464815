#include <doctest/doctest.h>

#include <map>
#include <string>

#include "gates/sarif.hpp"
#include "tests/gates/scan_counts.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::test::fixable;
using promote::test::tally;

using promote::ErrorKind;
using promote::gates::parse_sarif;
using promote::gates::ScanReport;
using promote::gates::Severity;
namespace fs = std::filesystem;

std::string error_of(const std::string& json) {
  return promote::test::error_of(promote::gates::parse_sarif, json, "scan.sarif");
}

// The findings of one run with these rules and results.
ScanReport run(const std::string& rules, const std::string& results) {
  auto report = parse_sarif(R"({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t",
      "rules": [)" + rules + R"(]}}, "results": [)" +
                                results + "]}]}",
                            "scan.sarif");
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
  return *report;
}

Severity only(const ScanReport& report) {
  REQUIRE(report.findings.size() == 1);
  return report.findings[0].severity;
}

}  // namespace

TEST_SUITE("gates") {
  struct SarifCase {
    const char* file;
    const char* findings;  ///< critical/high/medium/low/unknown, each result
    const char* unique;    ///< the same, each rule id once
    bool empty;
    const char* error;  ///< the whole message when the file must be refused, else nullptr
  };

  const SarifCase k_sarif[] = {
      {"codeql-action-invalid-results-not-array.sarif", "", "", false,
       "codeql-action-invalid-results-not-array.sarif: runs[0].results must be a list, got "
       "number"},
      // five runs, none with a results list: no analysis result at all
      {"codeql-action-runs-without-results.sarif", "0/0/0/0/0", "0/0/0/0/0", true, nullptr},
      // three results without level; their rules default to note -> low
      {"codeql-action-valid-multi-run.sarif", "0/0/0/3/0", "0/0/0/2/0", false, nullptr},
      // security-severity 8.2 and 8.5 on the rules: high, whatever the level says
      {"grype-image.sarif", "0/2/0/0/0", "0/2/0/0/0", false, nullptr},
      // four results, no level, no rules -> warning -> medium; the "absent" one is gone
      {"sarif-tutorials-baseline-states.sarif", "0/0/3/0/0", "0/0/1/0/0", false, nullptr},
      // levels from the rules by ruleIndex: error -> high, warning -> medium
      {"sarif-tutorials-default-rule-configuration.sarif", "0/1/1/0/0", "0/1/1/0/0", false,
       nullptr},
      // "results": [] : analysed, nothing found
      {"sarif-tutorials-empty-log.sarif", "0/0/0/0/0", "0/0/0/0/0", false, nullptr},
      // nine results: the unsuppressed one and the one only "rejected" count
      {"sarif-tutorials-suppressions.sarif", "0/0/2/0/0", "0/0/1/0/0", false, nullptr},
      // security-severity 5.3 -> medium; two rule ids, four results
      {"trivy-alpine-310.sarif", "0/0/4/0/0", "0/0/2/0/0", false, nullptr},
  };

  TEST_CASE("every SARIF file of the corpus gives its counts or is refused clearly" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "security" / "sarif";
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      (void)entry;
      ++seen;
    }
    CHECK(seen == std::size(k_sarif));
    for (const SarifCase& item : k_sarif) {
      CAPTURE(item.file);
      auto report = parse_sarif(promote::test::read_text(dir / item.file), item.file);
      if (item.error != nullptr) {
        REQUIRE_FALSE(report.has_value());
        CHECK(report.error().kind == ErrorKind::input);
        CHECK(report.error().message == item.error);
        continue;
      }
      REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
      CHECK(tally(*report, false) == item.findings);
      CHECK(tally(*report, true) == item.unique);
      CHECK(fixable(*report) == 0);
      CHECK(report->empty == item.empty);
    }
  }

  TEST_CASE("SARIF security-severity maps to critical, high, medium, low at 9, 7, 4 and > 0") {
    using promote::gates::severity_from_score;
    CHECK(severity_from_score(10.0) == Severity::critical);
    CHECK(severity_from_score(9.0) == Severity::critical);
    CHECK(severity_from_score(8.9) == Severity::high);
    CHECK(severity_from_score(7.0) == Severity::high);
    CHECK(severity_from_score(6.9) == Severity::medium);
    CHECK(severity_from_score(4.0) == Severity::medium);
    CHECK(severity_from_score(3.9) == Severity::low);
    CHECK(severity_from_score(0.1) == Severity::low);
    CHECK(severity_from_score(0.0) == Severity::unknown);
  }

  TEST_CASE("SARIF level: the result's, else its rule's default, else warning") {
    const std::string rules = R"({"id": "R0", "defaultConfiguration": {"level": "error"}},
                                 {"id": "R1", "defaultConfiguration": {"level": "note"}},
                                 {"id": "R2"})";
    SUBCASE("the result's own level wins") {
      CHECK(only(run(rules, R"({"ruleId": "R0", "ruleIndex": 0, "level": "note"})")) ==
            Severity::low);
    }
    SUBCASE("inherited through ruleIndex") {
      CHECK(only(run(rules, R"({"ruleId": "X", "ruleIndex": 0})")) == Severity::high);
    }
    SUBCASE("inherited through rule.index") {
      CHECK(only(run(rules, R"({"rule": {"id": "R1", "index": 1}})")) == Severity::low);
    }
    SUBCASE("inherited through the rule id") {
      CHECK(only(run(rules, R"({"ruleId": "R1"})")) == Severity::low);
    }
    SUBCASE("a rule without default configuration, or no rule: warning") {
      CHECK(only(run(rules, R"({"ruleId": "R2"})")) == Severity::medium);
      CHECK(only(run(rules, R"({"ruleId": "nope"})")) == Severity::medium);
    }
    SUBCASE("level none does not count") {
      CHECK(run(rules, R"({"ruleId": "R0", "level": "none"})").findings.empty());
    }
  }

  TEST_CASE("SARIF security-severity of the result, else of its rule, decides the severity") {
    const std::string rules = R"({"id": "R0", "properties": {"security-severity": "9.8"}})";
    CHECK(only(run(rules, R"({"ruleId": "R0", "level": "note"})")) == Severity::critical);
    CHECK(only(run(rules, R"({"ruleId": "R0", "properties": {"security-severity": 4}})")) ==
          Severity::medium);
  }

  TEST_CASE("SARIF kind: only fail or absent counts") {
    const ScanReport report = run("", R"({"ruleId": "A", "kind": "fail"}, {"ruleId": "B"},
        {"ruleId": "C", "kind": "pass"}, {"ruleId": "D", "kind": "review"},
        {"ruleId": "E", "kind": "notApplicable"}, {"ruleId": "F", "kind": "informational"},
        {"ruleId": "G", "kind": "open"})");
    REQUIRE(report.findings.size() == 2);
    CHECK(report.findings[0].id == "A");
    CHECK(report.findings[1].id == "B");
  }

  TEST_CASE("SARIF suppressions: any suppression not rejected removes the result") {
    const ScanReport report = run("", R"({"ruleId": "A", "suppressions": []},
        {"ruleId": "B", "suppressions": [{"kind": "inSource"}]},
        {"ruleId": "C", "suppressions": [{"kind": "external", "status": "rejected"}]},
        {"ruleId": "D", "suppressions": [{"status": "underReview"}]},
        {"ruleId": "E", "suppressions": [{"status": "rejected"}, {"status": "accepted"}]})");
    REQUIRE(report.findings.size() == 2);
    CHECK(report.findings[0].id == "A");
    CHECK(report.findings[1].id == "C");
  }

  TEST_CASE("SARIF: the package is the first location's URI; fixes make it fixable") {
    const ScanReport report = run("", R"({"ruleId": "A", "fixes": [{}], "locations": [
        {"physicalLocation": {"artifactLocation": {"uri": "src/app.js"}}}]})");
    REQUIRE(report.findings.size() == 1);
    CHECK(report.findings[0].package == "src/app.js");
    CHECK(report.findings[0].fixable);
  }

  TEST_CASE("the streamed SARIF reader answers as a reader of the whole document") {
    const auto read = [](const std::string& json) {
      auto report = promote::gates::parse_sarif(json, "scan.sarif");
      REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
      return *report;
    };
    SUBCASE("a tool after the results still gives them their rules; the last tool counts") {
      const ScanReport report = read(R"({"runs": [{"results": [{"ruleIndex": 1}],
          "tool": {"driver": {"rules": [{"id": "A"}]}},
          "tool": {"driver": {"rules": [{"id": "A"},
                   {"id": "B", "defaultConfiguration": {"level": "error"}}]}}}]})");
      REQUIRE(report.findings.size() == 1);
      CHECK(report.findings[0].id == "B");
      CHECK(report.findings[0].severity == Severity::high);
    }
    SUBCASE("a repeated runs or results key counts once, with its last value") {
      const ScanReport report = read(R"({"runs": [{"results": [{"ruleId": "A"}]}],
          "runs": [{"results": [{"ruleId": "B"}], "results": [{"ruleId": "C"}, {"ruleId": "D"}]},
                   {"results": 5, "results": null}]})");
      REQUIRE(report.findings.size() == 2);
      CHECK(report.findings[0].id == "C");
      CHECK(report.findings[1].id == "D");
      CHECK(read(R"({"runs": [{"results": []}], "runs": [{}]})").empty);
    }
    SUBCASE("a run's errors come before the next run's; its tool's before its results'") {
      CHECK(error_of(R"({"runs": [{"results": [{"level": "x"}], "tool": 1}, 2]})") ==
            "scan.sarif: runs[0].tool must be an object, got number");
      CHECK(error_of(R"({"runs": [{"results": [{"ruleId": "A"}, {}]}, {"tool": 1}]})") ==
            "scan.sarif: runs[0].results[1] has no ruleId");
      CHECK(error_of(R"({"runs": [{"results": [{"ruleId": "A"}]}, 2], "version": "1"})") ==
            "scan.sarif: unsupported SARIF version \"1\" (expected 2.1.0)");
    }
  }

  TEST_CASE("a SARIF log of the wrong shape is refused clearly") {
    // Found by fuzzing: a number beyond a double threw out_of_range past the parse_error catch.
    CHECK(error_of(R"({"x": 1e630})") ==
          "scan.sarif: [json.exception.out_of_range.406] number overflow parsing '1e630'");
    CHECK(error_of("[]") == "scan.sarif: not a SARIF log: expected an object, got array");
    CHECK(error_of(R"({"version": "2.0.0", "runs": []})") ==
          "scan.sarif: unsupported SARIF version \"2.0.0\" (expected 2.1.0)");
    CHECK(error_of(R"({"version": "2.1.0"})") == "scan.sarif: not a SARIF log: no 'runs' list");
    CHECK(error_of(R"({"runs": [{"results": [{"ruleIndex": 3}]}]})") ==
          "scan.sarif: runs[0].results[0].ruleIndex 3 is out of range (the driver has 0 rules)");
    CHECK(error_of(R"({"runs": [{"results": [{"level": "error"}]}]})") ==
          "scan.sarif: runs[0].results[0] has no ruleId");
    CHECK(error_of(R"({"runs": [{"results": [{"ruleId": "A", "level": "fatal"}]}]})") ==
          "scan.sarif: runs[0].results[0]: level must be none, note, warning or error, got "
          "\"fatal\"");
    CHECK(error_of(R"({"runs": [{"results": [{"ruleId": "A",
          "properties": {"security-severity": "high"}}]}]})") ==
          "scan.sarif: runs[0].results[0].properties[\"security-severity\"] must be a number, "
          "got \"high\"");
    CHECK(error_of(R"({"runs": [{"results": [{"ruleId": "A", "suppressions": {}}]}]})") ==
          "scan.sarif: runs[0].results[0].suppressions must be a list, got object");
  }
}
