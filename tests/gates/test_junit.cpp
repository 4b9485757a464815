#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/util/hash.hpp"
#include "gates/junit.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::Candidate;
using promote::ErrorKind;
using promote::Gate;
using promote::GateContext;
using promote::Result;
using promote::Timeline;
using promote::Verdict;
using promote::gates::expand_report_paths;
using promote::gates::JunitCounts;
using promote::gates::make_junit;
using promote::gates::parse_junit;
using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;
using promote::test::TempDir;
using promote::test::write_text;
namespace fs = std::filesystem;

class FakeTimeline : public Timeline {
 public:
  TimePoint now() const override { return TimePoint{}; }
  Result<std::optional<promote::StageEntry>> entered(const std::string&,
                                                     const Candidate&) const override {
    return std::optional<promote::StageEntry>{};
  }
};

// Counts as a comparable tuple-like string, for readable failures.
std::string show(const JunitCounts& c) {
  return std::to_string(c.tests) + " tests, " + std::to_string(c.failures) + " failures, " +
         std::to_string(c.errors) + " errors, " + std::to_string(c.skipped) + " skipped, " +
         std::to_string(c.flaky) + " flaky, " + std::to_string(c.disabled) + " disabled";
}

JunitCounts counts(long long tests, long long failures, long long errors, long long skipped,
                   long long flaky, long long disabled = 0) {
  return JunitCounts{tests, failures, errors, skipped, flaky, disabled};
}

// The counts of both readers, which must agree.
std::string parse_ok(const std::string& xml) {
  auto result = parse_junit(xml, "report.xml");
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
  auto tree = parse_junit(xml, "report.xml", promote::gates::JunitReader::tree);
  REQUIRE(tree.has_value());
  CHECK(show(*tree) == show(*result));
  return show(*result);
}

std::string parse_error(const std::string& xml, const std::string& label = "report.xml") {
  auto result = parse_junit(xml, label);
  REQUIRE_MESSAGE(!result.has_value(), (result ? show(*result) : ""));
  CHECK(result.error().kind == ErrorKind::input);
  return result.error().message;
}

// A report as `ctest --output-junit` writes it (CMake 3.25): a passing, a failing, a
// disabled (DISABLED property: status="disabled", no <skipped>) and a skipped test
// (SKIP_RETURN_CODE: status="notrun" with <skipped>). The suite's own counts are kept.
const char* k_ctest_report =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<testsuite name=\"(empty)\"\n\ttests=\"4\"\n\tfailures=\"1\"\n\tdisabled=\"1\"\n"
    "\tskipped=\"1\"\n\thostname=\"\"\n\ttime=\"0\"\n\ttimestamp=\"2024-05-02T10:00:00\"\n\t>\n"
    "\t<testcase name=\"passes\" classname=\"passes\" time=\"0.017\" status=\"run\">\n"
    "\t\t<system-out></system-out>\n\t</testcase>\n"
    "\t<testcase name=\"fails\" classname=\"fails\" time=\"0.011\" status=\"fail\">\n"
    "\t\t<failure message=\"\"/>\n\t\t<system-out></system-out>\n\t</testcase>\n"
    "\t<testcase name=\"off\" classname=\"off\" time=\"0\" status=\"disabled\">\n"
    "\t\t<system-out>Disabled</system-out>\n\t</testcase>\n"
    "\t<testcase name=\"skipped\" classname=\"skipped\" time=\"0.008\" status=\"notrun\">\n"
    "\t\t<skipped message=\"SKIP_RETURN_CODE=77\"/>\n\t\t<system-out></system-out>\n"
    "\t</testcase>\n"
    "</testsuite>\n";

// A JUnit report with that many test cases of each outcome in one suite.
std::string report(int passed, int failed = 0, int errored = 0, int skipped = 0, int flaky = 0) {
  std::string xml = "<?xml version=\"1.0\"?>\n<testsuites>\n  <testsuite name=\"s\">\n";
  for (int i = 0; i < passed - flaky; ++i) {
    xml += "    <testcase name=\"pass" + std::to_string(i) + "\"/>\n";
  }
  for (int i = 0; i < flaky; ++i) {
    xml += "    <testcase name=\"flaky\"><flakyFailure message=\"x\"/></testcase>\n";
  }
  for (int i = 0; i < failed; ++i) {
    xml += "    <testcase name=\"fail\"><failure message=\"boom\">trace</failure></testcase>\n";
  }
  for (int i = 0; i < errored; ++i) {
    xml += "    <testcase name=\"err\"><error message=\"crash\"/></testcase>\n";
  }
  for (int i = 0; i < skipped; ++i) {
    xml += "    <testcase name=\"skip\"><skipped/></testcase>\n";
  }
  return xml + "  </testsuite>\n</testsuites>\n";
}

std::unique_ptr<Gate> build(const std::string& yaml, Diagnostics& diagnostics) {
  const ConfigNode with(YAML::Load(yaml), "promote.yaml", diagnostics);
  return make_junit(with);
}

// The problems a `with:` block is reported with, one per line.
std::string problems(const std::string& yaml) {
  Diagnostics diagnostics;
  const auto gate = build(yaml, diagnostics);
  CHECK(gate == nullptr);
  return diagnostics.to_error().message;
}

Verdict evaluate(Gate& gate, const fs::path& base_dir) {
  const Candidate candidate;
  const FakeTimeline timeline;
  const GateContext context{candidate, "staging", "dev", base_dir, timeline};
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, gate.evaluate(context), boost::asio::use_future);
  io.run();
  return future.get();
}

Verdict evaluate(const std::string& yaml, const fs::path& base_dir) {
  Diagnostics diagnostics;
  const auto gate = build(yaml, diagnostics);
  REQUIRE_MESSAGE(gate != nullptr, diagnostics.to_error().message);
  return evaluate(*gate, base_dir);
}

std::string status(const Verdict& verdict) {
  return promote::to_string(verdict.status);
}

}  // namespace

TEST_SUITE("gates") {
  // --- parse_junit: the corpus -------------------------------------------------------------

  struct CorpusCase {
    const char* file;
    JunitCounts counts;
    const char* error;  ///< the whole message when the file must be refused, else nullptr
  };

  // Counts derived by reading each file: the <testcase> elements present, never the suite
  // attributes (which disagree in several files, noted alongside).
  const CorpusCase k_corpus[] = {
      // one testcase with an empty <error>
      {"bazel__suite-logs-mixed-cdata.xml", counts(1, 0, 1, 0, 0), nullptr},
      // test_failure fails; two pass
      {"cargo-nextest__basic.xml", counts(3, 1, 0, 0, 0), nullptr},
      {"catch2__report.xml", counts(1, 1, 0, 0, 0), nullptr},
      // root claims tests="8"; the file holds three passing cases
      {"container-structure-test__huge-time-values.xml", counts(3, 0, 0, 0, 0), nullptr},
      {"cunit__scientific-notation-time.xml", counts(4, 1, 0, 0, 0), nullptr},
      // test 1 passes; 2-3 skipped, 4-5 failed, 6-7 errored
      {"enricomi__astral-unicode.xml", counts(7, 2, 2, 2, 0), nullptr},
      // TestCase1-5 across two nesting levels and a direct testcase, all pass
      {"enricomi__bare-testsuite-root-nested.xml", counts(5, 0, 0, 0, 0), nullptr},
      {"enricomi__empty-zero-bytes.xml", {}, "enricomi__empty-zero-bytes.xml: the file is empty"},
      // skipped+failure+error -> error; skipped+failure -> failure; skipped; pass
      {"enricomi__multiple-results-per-testcase.xml", counts(4, 1, 1, 1, 0), nullptr},
      {"enricomi__no-attributes.xml", counts(4, 1, 1, 1, 0), nullptr},
      {"enricomi__non-junit-root.xml",
       {},
       "enricomi__non-junit-root.xml:2:1: expected <testsuites> or <testsuite> as the root "
       "element, found <suites>"},
      // two passing packages, three "[build failed]"/"[setup failed]" errors
      {"go-junit-report__build-failed-errors.xml", counts(5, 0, 3, 0, 0), nullptr},
      // root claims 59 tests and 1 error: 60 testcases (badmain 1, good 18, parallelfails 12,
      // withfails 29); failures 1 + 8 + 4; skipped 2 + 3; no <error>
      {"gotestsum__report.xml", counts(60, 13, 0, 5, 0), nullptr},
      // suite claims tests="1" for two testcases
      {"jenkins__bad-duration-negative-time.xml", counts(2, 0, 0, 0, 0), nullptr},
      // the suite's own <error> (no testcase) counts as one errored test
      {"jenkins__error-directly-under-testsuite.xml", counts(1, 0, 1, 0, 0), nullptr},
      // 7580 testcases: 19 <failure> (one with three <rerunFailure>), 2430 <skipped>, one
      // passing testcase with two <flakyFailure>
      {"jenkins__huge-7580-testcases.xml", counts(7580, 19, 0, 2430, 1), nullptr},
      {"jenkins__malicious-xxe.xml",
       {},
       "jenkins__malicious-xxe.xml:2:1: document type declarations are not allowed"},
      // root claims 186 tests: testPrefix, testTable and the 3rd-level suite's own <error>
      {"jenkins__nested-testsuites.xml", counts(3, 0, 1, 0, 0), nullptr},
      {"jenkins__properties-text-and-testcase-properties.xml", counts(2, 1, 0, 0, 0), nullptr},
      // suite claims tests=3 failures=2: one testcase that passed after two flaky failures
      {"jenkins__surefire-flakyFailure.xml", counts(1, 0, 0, 0, 1), nullptr},
      // suite claims tests=4 failures=4: one testcase, <failure> + three <rerunFailure>
      {"jenkins__surefire-rerunFailure.xml", counts(1, 1, 0, 0, 0), nullptr},
      {"jenkins__time-with-comma-and-missing-time.xml", counts(8, 0, 0, 0, 0), nullptr},
      // root claims 8 tests: 2 + 2 + 3 (nested) + 5 suites of one
      {"jenkins__various-timestamp-formats.xml", counts(12, 0, 0, 0, 0), nullptr},
      // main.test.js: 1 pass, 3 failures; second.test.js: 1 failure, 1 skipped
      {"jest-junit__failures.xml", counts(6, 4, 0, 1, 0), nullptr},
      {"phpunit__empty-selfclosing-testsuites.xml", counts(0, 0, 0, 0, 0), nullptr},
      // CLI Arguments: 2 failing .phpt cases + 10 passing cases in three nested suites
      {"phpunit__report.xml", counts(12, 2, 0, 0, 0), nullptr},
      {"pytest__corrupt-truncated.xml",
       {},
       "pytest__corrupt-truncated.xml:11:22: unexpected end of file: the report is truncated"},
      {"pytest__fail.xml", counts(5, 1, 0, 1, 0), nullptr},
      // two suites of the same name; the second is empty
      {"trivy__junit-template-empty-time.xml", counts(4, 4, 0, 0, 0), nullptr},
      // UTF-8 BOM; root claims tests="173" for two testcases
      {"xunit-net__bom-and-testsuites-properties.xml", counts(2, 0, 0, 0, 0), nullptr},
  };

  TEST_CASE("every JUnit file of the corpus parses to its counts or is refused clearly" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "junit";
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      (void)entry;
      ++seen;
    }
    CHECK(seen == std::size(k_corpus));
    for (const CorpusCase& item : k_corpus) {
      CAPTURE(item.file);
      const std::string xml = promote::test::read_text(dir / item.file);
      auto result = parse_junit(xml, item.file);
      if (item.error != nullptr) {
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == ErrorKind::input);
        CHECK(result.error().message == item.error);
      } else {
        REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
        CHECK(show(*result) == show(item.counts));
      }
    }
  }

  TEST_CASE("the streaming reader takes every valid corpus file and agrees with the tree" *
            doctest::skip(!promote::test::has_corpus())) {
    using promote::gates::JunitReader;
    using promote::gates::JunitTally;
    const fs::path dir = *promote::test::corpus_dir() / "junit";
    JunitTally streamed;
    JunitTally tree;
    for (const CorpusCase& item : k_corpus) {
      if (item.error != nullptr) {
        continue;
      }
      CAPTURE(item.file);
      const std::string xml = promote::test::read_text(dir / item.file);
      auto fast = streamed.add(xml, item.file, JunitReader::streaming_only);
      REQUIRE_MESSAGE(fast.has_value(), (fast ? "" : fast.error().message));
      auto slow = tree.add(xml, item.file, JunitReader::tree);
      REQUIRE(slow.has_value());
      CHECK(show(*fast) == show(*slow));
    }
    CHECK(show(streamed.totals()) == show(tree.totals()));
    CHECK(streamed.flaky_tests() == tree.flaky_tests());
    CHECK(streamed.totals().flaky > 0);
  }

  TEST_CASE("the streaming reader hands over what lies outside its subset") {
    using promote::gates::JunitReader;
    const auto outside = [](const std::string& xml) {
      auto result = parse_junit(xml, "report.xml", JunitReader::streaming_only);
      return !result &&
             result.error().message == "report.xml: outside the streaming reader's subset";
    };
    CHECK_FALSE(outside("<testsuite><testcase name='a'/><![CDATA[<x>]]><!-- <y> --></testsuite>"));
    CHECK_FALSE(outside("\xEF\xBB\xBF<?xml version='1.0'?>\n<testsuites/>\n<!-- end -->\n"));
    CHECK(outside("<testsuite><testcase name=\"a\"b=\"c\"/></testsuite>"));  // no space
    CHECK(outside("<testsuite><testcase name=\"<\"/></testsuite>"));
    CHECK(outside("<testsuite><?pi inside?></testsuite>"));
    CHECK(outside("<?pi!x?><testsuite/>"));  // pugixml refuses it: bad processing instruction
    CHECK_FALSE(outside("<?pi?><?pi x?>\n<testsuite/>"));
    CHECK(outside("<testsuite></testsuites>"));
    CHECK(outside("<testsuite/><testsuite/>"));
    CHECK(outside("<suites/>"));
    CHECK(outside("<!DOCTYPE x><testsuite/>"));
    CHECK(outside(std::string("<testsuite>\0</testsuite>", 25)));
    CHECK(outside("<testsuite><testcase"));
    // Each of these reads the same through the tree as through the whole reader.
    for (const char* xml : {"<testsuite><testcase name=\"a\"b=\"c\"/></testsuite>",
                            "<?pi!x?><testsuite><testcase/></testsuite>",
                            "<testsuite><testcase name='a' name='b'><failure/></testcase>"
                            "<testcase name='a'/></testsuite>"}) {
      CAPTURE(xml);
      auto whole = parse_junit(xml, "report.xml");
      auto tree = parse_junit(xml, "report.xml", JunitReader::tree);
      REQUIRE(whole.has_value() == tree.has_value());
      CHECK((whole ? show(*whole) : whole.error().message) ==
            (tree ? show(*tree) : tree.error().message));
    }
  }

  TEST_CASE("a document the streaming reader gave up on midway leaves the tally as it was") {
    using promote::gates::JunitTally;
    JunitTally tally;
    REQUIRE(tally
                .add("<testsuite><testcase name='a' classname='c'><failure/></testcase>"
                     "</testsuite>",
                     "a.xml")
                .has_value());
    // The pass of test a would make it a rerun, but the document breaks later.
    CHECK_FALSE(
        tally.add("<testsuite><testcase name='a' classname='c'/><testcase></testsuite>", "b.xml")
            .has_value());
    CHECK(show(tally.totals()) == show(counts(1, 1, 0, 0, 0)));
    CHECK(tally.flaky_tests().empty());
  }

  TEST_CASE("a first document the streaming reader gave up on midway leaves the tally empty") {
    using promote::gates::JunitTally;
    JunitTally tally;
    CHECK_FALSE(tally
                    .add("<testsuite><testcase name='a' classname='c'><failure/></testcase>"
                         "<testcase></testsuite>",
                         "a.xml")
                    .has_value());
    CHECK(show(tally.totals()) == show(counts(0, 0, 0, 0, 0)));
    // The failure of test a was not kept: its pass is a plain pass, not the rerun of one.
    REQUIRE(tally.add("<testsuite><testcase name='a' classname='c'/></testsuite>", "b.xml")
                .has_value());
    CHECK(show(tally.totals()) == show(counts(1, 0, 0, 0, 0)));
    CHECK(tally.flaky_tests().empty());
  }

  // --- parse_junit: outcomes -----------------------------------------------------------------

  TEST_CASE("each test case has one outcome: error over failure over skipped over passed") {
    SUBCASE("error wins over failure and skipped") {
      CHECK(parse_ok("<testsuite><testcase><skipped/><failure/><error/></testcase></testsuite>") ==
            show(counts(1, 0, 1, 0, 0)));
    }
    SUBCASE("failure wins over skipped") {
      CHECK(parse_ok("<testsuite><testcase><skipped/><failure/></testcase></testsuite>") ==
            show(counts(1, 1, 0, 0, 0)));
    }
    SUBCASE("two failures in one test case are one failed test") {
      CHECK(parse_ok("<testsuite><testcase><failure/><failure/></testcase></testsuite>") ==
            show(counts(1, 1, 0, 0, 0)));
    }
    SUBCASE("system-out, properties and unknown children leave a test passed") {
      CHECK(parse_ok("<testsuite><testcase><system-out>x</system-out><properties/><foo/>"
                     "</testcase></testsuite>") == show(counts(1, 0, 0, 0, 0)));
    }
  }

  TEST_CASE("surefire reruns: flaky tests pass and are counted, reruns stay one failure") {
    SUBCASE("flakyFailure and flakyError alone make a passed, flaky test") {
      CHECK(parse_ok("<testsuite><testcase><flakyFailure/><flakyError/></testcase>"
                     "<testcase><flakyError/></testcase></testsuite>") ==
            show(counts(2, 0, 0, 0, 2)));
    }
    SUBCASE("a flaky test that finally failed is a failure, not flaky") {
      CHECK(parse_ok("<testsuite><testcase><flakyFailure/><failure/></testcase></testsuite>") ==
            show(counts(1, 1, 0, 0, 0)));
    }
    SUBCASE("rerunFailure beside a failure is one failure") {
      CHECK(parse_ok("<testsuite><testcase><failure/><rerunFailure/><rerunFailure/></testcase>"
                     "</testsuite>") == show(counts(1, 1, 0, 0, 0)));
    }
    SUBCASE("rerunError beside an error is one error") {
      CHECK(parse_ok("<testsuite><testcase><error/><rerunError/></testcase></testsuite>") ==
            show(counts(1, 0, 1, 0, 0)));
    }
    SUBCASE("a rerun element without its failure still fails the test") {
      CHECK(parse_ok("<testsuite><testcase><rerunFailure/></testcase>"
                     "<testcase><rerunError/></testcase></testsuite>") ==
            show(counts(2, 1, 1, 0, 0)));
    }
  }

  TEST_CASE("the test cases present are counted, whatever the suites claim") {
    CHECK(parse_ok("<testsuites tests=\"99\" failures=\"7\"><testsuite tests=\"50\" skipped=\"3\">"
                   "<testcase/></testsuite></testsuites>") == show(counts(1, 0, 0, 0, 0)));
  }

  TEST_CASE("tests a runner disabled are skipped and counted as disabled, never passed") {
    SUBCASE("CTest: status=\"disabled\" without a <skipped> child") {
      CHECK(parse_ok(k_ctest_report) == show(counts(4, 1, 0, 2, 0, 1)));
    }
    SUBCASE("GoogleTest: a DISABLED_ test is status=\"notrun\" result=\"suppressed\"") {
      // The shape of googletest's own XML output test (gtest_xml_output_unittest.py).
      CHECK(parse_ok("<testsuites tests=\"2\" failures=\"0\" disabled=\"1\" errors=\"0\">\n"
                     "  <testsuite name=\"MixedResultTest\" tests=\"2\" disabled=\"1\">\n"
                     "    <testcase name=\"Succeeds\" file=\"t.cc\" line=\"80\" status=\"run\" "
                     "result=\"completed\" time=\"0\" classname=\"MixedResultTest\"/>\n"
                     "    <testcase name=\"DISABLED_test\" file=\"t.cc\" line=\"96\" "
                     "status=\"notrun\" result=\"suppressed\" time=\"0\" "
                     "classname=\"MixedResultTest\"/>\n"
                     "  </testsuite>\n</testsuites>\n") == show(counts(2, 0, 0, 1, 0, 1)));
    }
    SUBCASE("a disabled test case that failed or errored stays failed or errored") {
      CHECK(parse_ok("<testsuite><testcase status='disabled'><failure/></testcase>"
                     "<testcase status='notrun'><error/></testcase>"
                     "<testcase status='disabled'><skipped/></testcase></testsuite>") ==
            show(counts(3, 1, 1, 1, 0, 1)));
    }
    SUBCASE("only a test case's own status counts, the first one, exactly spelled") {
      CHECK(parse_ok("<testsuite status='disabled'><testcase status='run' status='disabled'/>"
                     "<testcase><properties status='disabled'/></testcase>"
                     "<testcase status='Disabled'/></testsuite>") ==
            show(counts(3, 0, 0, 0, 0, 0)));
    }
    SUBCASE("the readers agree on it, in the tally of several documents") {
      using promote::gates::JunitReader;
      using promote::gates::JunitTally;
      JunitTally streamed;
      JunitTally tree;
      for (int i = 0; i < 2; ++i) {
        REQUIRE(streamed.add(k_ctest_report, "ctest.xml", JunitReader::streaming_only).has_value());
        REQUIRE(tree.add(k_ctest_report, "ctest.xml", JunitReader::tree).has_value());
      }
      CHECK(show(streamed.totals()) == show(counts(8, 2, 0, 4, 0, 2)));
      CHECK(show(tree.totals()) == show(streamed.totals()));
    }
  }

  TEST_CASE("suites nest at any depth under either root") {
    SUBCASE("testsuites root") {
      CHECK(parse_ok("<testsuites><testsuite><testsuite><testsuite><testcase><failure/></testcase>"
                     "</testsuite></testsuite><testcase/></testsuite><testsuite><testcase/>"
                     "</testsuite></testsuites>") == show(counts(3, 1, 0, 0, 0)));
    }
    SUBCASE("bare testsuite root with nested suites and direct test cases") {
      CHECK(parse_ok("<testsuite><testcase/><testsuite><testcase><skipped/></testcase></testsuite>"
                     "<testcase/></testsuite>") == show(counts(3, 0, 0, 1, 0)));
    }
    SUBCASE("a very deep nesting neither crashes nor loses the test case") {
      std::string xml;
      for (int i = 0; i < 100000; ++i) {
        xml += "<testsuite>";
      }
      xml += "<testcase/>";
      for (int i = 0; i < 100000; ++i) {
        xml += "</testsuite>";
      }
      CHECK(parse_ok(xml) == show(counts(1, 0, 0, 0, 0)));
    }
  }

  TEST_CASE("an error or failure directly under a suite is one errored test") {
    CHECK(parse_ok("<testsuites><testsuite><error message=\"setup\"/><failure/><testcase/>"
                   "</testsuite></testsuites>") == show(counts(3, 0, 2, 0, 0)));
  }

  TEST_CASE("markup inside CDATA, comments and text is not counted") {
    CHECK(parse_ok("<testsuite><system-out><![CDATA[<testcase><failure/></testcase>]]>"
                   "</system-out><!-- <testcase/> --><testcase/></testsuite>") ==
          show(counts(1, 0, 0, 0, 0)));
  }

  TEST_CASE("encodings: a UTF-8 BOM, a Latin-1 declaration and UTF-16 are read") {
    SUBCASE("UTF-8 BOM") {
      CHECK(parse_ok("\xEF\xBB\xBF<testsuites><testsuite><testcase/></testsuite></testsuites>") ==
            show(counts(1, 0, 0, 0, 0)));
    }
    SUBCASE("ISO-8859-1 with a non-ASCII byte in a name") {
      CHECK(parse_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
                     "<testsuite><testcase name=\"caf\xE9\"/></testsuite>") ==
            show(counts(1, 0, 0, 0, 0)));
    }
    SUBCASE("UTF-16 little endian with a BOM") {
      const std::string ascii = "<testsuite><testcase><failure/></testcase></testsuite>";
      std::string wide = "\xFF\xFE";
      for (char c : ascii) {
        wide += c;
        wide += '\0';
      }
      CHECK(parse_ok(wide) == show(counts(1, 1, 0, 0, 0)));
    }
  }

  TEST_CASE("an empty <testsuites/> is a valid report of zero tests") {
    CHECK(parse_ok("<?xml version=\"1.0\"?>\n<testsuites/>\n") == show(counts(0, 0, 0, 0, 0)));
  }

  // --- parse_junit: errors -------------------------------------------------------------------

  TEST_CASE("bad documents are refused with the label and a line:col") {
    SUBCASE("empty") {
      CHECK(parse_error("") == "report.xml: the file is empty");
    }
    SUBCASE("only whitespace and a BOM") {
      CHECK(parse_error("\xEF\xBB\xBF \n\t\r\n") == "report.xml: the file is empty");
    }
    SUBCASE("only a declaration and a comment") {
      CHECK(parse_error("<?xml version=\"1.0\"?>\n<!-- nothing -->\n") ==
            "report.xml:3:1: no root element");
    }
    SUBCASE("mismatched end tag") {
      CHECK(parse_error("<testsuites>\n  <testsuite>\n  </testsuites>\n</testsuite>\n") ==
            "report.xml:3:3: malformed XML: end tag </testsuites> does not match the open element");
    }
    SUBCASE("truncated in the middle of an element") {
      CHECK(parse_error("<testsuites>\n  <testsuite>\n    <testcase name=\"a\"/>\n") ==
            "report.xml:4:1: unexpected end of file: the report is truncated");
    }
    SUBCASE("truncated inside a tag") {
      CHECK(parse_error("<testsuites><testcase na") ==
            "report.xml:1:25: unexpected end of file: the report is truncated");
    }
    SUBCASE("bad attribute") {
      CHECK(parse_error("<testsuites>\n  <testsuite name=oops>\n</testsuite></testsuites>") ==
            "report.xml:2:19: malformed XML: bad attribute");
    }
    SUBCASE("columns count characters, not bytes, and skip the BOM") {
      CHECK(parse_error("\xEF\xBB\xBF<suites/>") ==
            "report.xml:1:1: expected <testsuites> or <testsuite> as the root element, found "
            "<suites>");
      CHECK(parse_error("<testsuite name=\"\xC3\xA9\xC3\xA9\"><testcase></testsuite>") ==
            "report.xml:1:32: malformed XML: end tag </testsuite> does not match the open "
            "element");
    }
    SUBCASE("a second root element") {
      CHECK(parse_error("<testsuites/>\n<testsuite><testcase/></testsuite>\n") ==
            "report.xml:2:1: more than one root element: <testsuite> follows <testsuites>");
    }
    SUBCASE("a non-JUnit root") {
      CHECK(parse_error("<?xml version=\"1.0\"?>\n  <testrun/>", "r.xml") ==
            "r.xml:2:3: expected <testsuites> or <testsuite> as the root element, found "
            "<testrun>");
    }
    SUBCASE("a UTF-16 document has no position") {
      std::string wide = "\xFF\xFE";
      for (char c : std::string("<suites/>")) {
        wide += c;
        wide += '\0';
      }
      CHECK(parse_error(wide) ==
            "report.xml: expected <testsuites> or <testsuite> as the root element, found "
            "<suites>");
    }
  }

  TEST_CASE("an undefined entity or a stray '&' makes the document malformed, never a test") {
    // pugixml leaves a reference it does not know as text: the test case would count.
    const auto both = [](const std::string& xml) {
      const std::string streaming = parse_error(xml);
      auto tree = parse_junit(xml, "report.xml", promote::gates::JunitReader::tree);
      REQUIRE_FALSE(tree.has_value());
      CHECK(tree.error().message == streaming);
      return streaming;
    };
    const std::string undefined =
        "' (without a DTD, XML defines only &lt; &gt; &amp; &apos; &quot; and character "
        "references)";
    SUBCASE("in an attribute") {
      CHECK(both("<testsuite>\n  <testcase name=\"a&undefined;b\"/>\n</testsuite>\n") ==
            "report.xml:2:20: malformed XML: undefined entity '&undefined;" + undefined);
    }
    SUBCASE("in text") {
      CHECK(both("<testsuites><testsuite><testcase name=\"t\"><system-out>x&nbsp;y</system-out>"
                 "</testcase></testsuite></testsuites>") ==
            "report.xml:1:56: malformed XML: undefined entity '&nbsp;" + undefined);
    }
    SUBCASE("a stray '&'") {
      CHECK(both("<testsuite><testcase name=\"fish & chips\"/></testsuite>") ==
            "report.xml:1:33: malformed XML: '&' that starts no entity or character reference "
            "(a literal '&' is written &amp;)");
      CHECK(both("<testsuite><testcase name=\"t\">&</testcase></testsuite>") ==
            "report.xml:1:31: malformed XML: '&' that starts no entity or character reference "
            "(a literal '&' is written &amp;)");
    }
    SUBCASE("a character reference to what XML forbids, or spelled otherwise") {
      for (const std::string reference : {"&#0;", "&#xD800;", "&#X41;", "&#1114112;", "&#x;"}) {
        CAPTURE(reference);
        CHECK(both("<testsuite><testcase name=\"" + reference + "\"/></testsuite>") ==
              "report.xml:1:28: malformed XML: invalid character reference '" + reference +
                  "' (not a character XML allows)");
      }
    }
    SUBCASE("in a UTF-16 document, without a position") {
      std::string wide = "\xFF\xFE";
      for (char c : std::string("<testsuite><testcase name=\"&bogus;\"/></testsuite>")) {
        wide += c;
        wide += '\0';
      }
      CHECK(both(wide) == "report.xml: malformed XML: undefined entity '&bogus;" + undefined);
    }
    SUBCASE("the references XML defines are read, and comments, CDATA and instructions hold "
            "anything") {
      CHECK(parse_ok("<?pi &x; ?><testsuite name=\"&lt;&gt;&amp;&apos;&quot;&#65;&#x41;&#00065;\">"
                     "<!-- &bogus; --><testcase name=\"t\"><system-out><![CDATA[&bogus; & ]]>"
                     "&#x1F600;&amp;</system-out></testcase></testsuite>") ==
            show(counts(1, 0, 0, 0, 0)));
    }
  }

  TEST_CASE("document type declarations are refused wherever they are") {
    SUBCASE("in the prolog") {
      CHECK(parse_error("<?xml version=\"1.0\"?>\n<!DOCTYPE testsuites>\n<testsuites/>") ==
            "report.xml:2:1: document type declarations are not allowed");
    }
    SUBCASE("with an internal subset") {
      CHECK(parse_error("<!DOCTYPE testsuites [ <!ENTITY a \"b\"> ]><testsuites/>") ==
            "report.xml:1:1: document type declarations are not allowed");
    }
    SUBCASE("after the root element") {
      CHECK(parse_error("<testsuites/>\n<!DOCTYPE x>") ==
            "report.xml:2:1: document type declarations are not allowed");
    }
    SUBCASE("inside an element") {
      CHECK(parse_error("<testsuites>\n <!DOCTYPE x></testsuites>") ==
            "report.xml:2:2: document type declarations are not allowed");
    }
    SUBCASE("even when the rest of the document is malformed") {
      CHECK(parse_error("<!DOCTYPE x>\n<testsuites><testsuite></testsuites>") ==
            "report.xml:1:1: document type declarations are not allowed");
    }
  }

  TEST_CASE("an external entity is never expanded into any output") {
    TempDir dir;
    const std::string secret = "TOP-SECRET-7f3a9c";
    write_text(dir / "secret.txt", secret);
    const std::string xml =
        "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuites [\n  <!ENTITY xxe SYSTEM \"file://" +
        (dir / "secret.txt").string() +
        "\">\n]>\n<testsuites><testsuite name=\"&xxe;\"><testcase name=\"&xxe;\">"
        "<failure message=\"&xxe;\">&xxe;</failure></testcase></testsuite>"
        "</testsuites>\n";
    write_text(dir / "reports" / "xxe.xml", xml);

    const std::string message = parse_error(xml);
    CHECK(message == "report.xml:2:1: document type declarations are not allowed");

    const Verdict verdict = evaluate("path: reports/*.xml", dir.path());
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary == "reports/xxe.xml:2:1: document type declarations are not allowed");
    CHECK(verdict.summary.find(secret) == std::string::npos);
    CHECK(verdict.details.dump().find(secret) == std::string::npos);
    for (const auto& evidence : verdict.evidence) {
      CHECK(evidence.path.find(secret) == std::string::npos);
    }
  }

  // --- the factory -----------------------------------------------------------------------------

  TEST_CASE("the factory validates the with: block") {
    SUBCASE("path is required") {
      CHECK(problems("min_pass_rate: 0.5") ==
            "promote.yaml:1:1: missing required field 'path' in gate 'junit'");
    }
    SUBCASE("an absent with: block is reported where the gate is") {
      Diagnostics diagnostics;
      const ConfigNode gate_node(YAML::Load("\n  use: junit"), "promote.yaml", diagnostics);
      CHECK(make_junit(ConfigNode::absent(gate_node)) == nullptr);
      CHECK(diagnostics.to_error().message ==
            "promote.yaml:2:3: gate 'junit' needs 'with: { path: <JUnit XML files or glob "
            "patterns> }'");
    }
    SUBCASE("with: must be a mapping") {
      CHECK(problems("[a, b]") == "promote.yaml:1:1: gate 'junit' must be a mapping, got a list");
    }
    SUBCASE("unknown keys are reported with a suggestion") {
      CHECK(problems("path: a.xml\nmin_passrate: 0.5\nfoo: 1") ==
            "promote.yaml:2:1: unknown field 'min_passrate' in gate 'junit' (did you mean "
            "'min_pass_rate'?)\npromote.yaml:3:1: unknown field 'foo' in gate 'junit'");
    }
    SUBCASE("wrong types") {
      CHECK(problems("path: {a: 1}") ==
            "promote.yaml:1:7: 'path' must be a string or a list of strings, got a mapping");
      CHECK(problems("path: [a.xml, [b]]") ==
            "promote.yaml:1:15: 'path' must be a string, got a list");
      CHECK(problems("path: a.xml\nmin_pass_rate: high") ==
            "promote.yaml:2:16: 'min_pass_rate' must be a number, got 'high'");
      CHECK(problems("path: a.xml\nmax_failures: 1.5\nmax_skipped: many\nmin_tests: []") ==
            "promote.yaml:2:15: 'max_failures' must be an integer, got '1.5'\n"
            "promote.yaml:3:14: 'max_skipped' must be an integer, got 'many'\n"
            "promote.yaml:4:12: 'min_tests' must be an integer, got a list");
    }
    SUBCASE("values out of range") {
      CHECK(problems("path: a.xml\nmin_pass_rate: 1.5") ==
            "promote.yaml:2:16: 'min_pass_rate' must be between 0 and 1, got '1.5'");
      CHECK(problems("path: a.xml\nmin_pass_rate: -0.1") ==
            "promote.yaml:2:16: 'min_pass_rate' must be between 0 and 1, got '-0.1'");
      CHECK(problems("path: a.xml\nmax_failures: -1\nmax_skipped: -2\nmin_tests: 0") ==
            "promote.yaml:2:15: 'max_failures' must be 0 or more, got '-1'\n"
            "promote.yaml:3:14: 'max_skipped' must be 0 or more, got '-2'\n"
            "promote.yaml:4:12: 'min_tests' must be 1 or more, got '0'");
    }
    SUBCASE("max_flaky and on_empty") {
      CHECK(problems("path: a.xml\nmax_flaky: -1\non_empty: pass") ==
            "promote.yaml:2:12: 'max_flaky' must be 0 or more, got '-1'\n"
            "promote.yaml:3:11: 'on_empty' must be fail, pending or error, got 'pass'");
      CHECK(problems("path: a.xml\nmax_flakey: 1\non_empty: [fail]") ==
            "promote.yaml:2:1: unknown field 'max_flakey' in gate 'junit' (did you mean "
            "'max_flaky'?)\npromote.yaml:3:11: 'on_empty' must be a string, got a list");
    }
    SUBCASE("path must name something") {
      CHECK(problems("path: []") ==
            "promote.yaml:1:7: 'path' must name at least one file or pattern");
      CHECK(problems("path: ''") == "promote.yaml:1:7: 'path' must not be an empty string");
    }
  }

  TEST_CASE("config() is the validated configuration") {
    Diagnostics diagnostics;
    SUBCASE("defaults, one path as a list") {
      const auto gate = build("path: reports/*.xml", diagnostics);
      REQUIRE(gate != nullptr);
      CHECK(gate->config() == nlohmann::json::parse(R"({"path":["reports/*.xml"],
              "min_pass_rate":1.0,"min_tests":1,"on_empty":"error"})"));
    }
    SUBCASE("every field") {
      const auto gate = build(
          "path: [a.xml, 'b/**/*.xml']\nmin_pass_rate: 0.95\nmax_failures: 0\n"
          "max_skipped: 3\nmin_tests: 10\nmax_flaky: 2\non_empty: pending",
          diagnostics);
      REQUIRE(gate != nullptr);
      CHECK(gate->config() ==
            nlohmann::json::parse(R"({"path":["a.xml","b/**/*.xml"],"min_pass_rate":0.95,
              "max_failures":0,"max_skipped":3,"min_tests":10,"max_flaky":2,
              "on_empty":"pending"})"));
    }
    CHECK(diagnostics.empty());
  }

  // --- globs -----------------------------------------------------------------------------------

  TEST_CASE("report paths expand globs relative to the base directory") {
    TempDir dir;
    for (const char* file : {"reports/a.xml", "reports/b.xml", "reports/ab.xml",
                             "reports/notes.txt", "reports/unit/c.xml", "reports/unit/deep/d.xml",
                             "reports/.hidden/e.xml", "reports/.f.xml", "other/g.xml"}) {
      write_text(dir / file, "<testsuites/>");
    }
    fs::create_directories(dir / "reports" / "dir.xml");
    const auto expand = [&](std::vector<std::string> patterns) {
      auto paths = expand_report_paths(dir.path(), patterns);
      REQUIRE_MESSAGE(paths.has_value(), (paths ? "" : paths.error().message));
      return *paths;
    };
    using Paths = std::vector<std::string>;
    SUBCASE("a plain file") {
      CHECK(expand({"reports/a.xml"}) == Paths{"reports/a.xml"});
    }
    SUBCASE("* and ? stay in one directory and skip dot files and directories") {
      CHECK(expand({"reports/*.xml"}) == Paths{"reports/a.xml", "reports/ab.xml", "reports/b.xml"});
      CHECK(expand({"reports/?.xml"}) == Paths{"reports/a.xml", "reports/b.xml"});
      CHECK(expand({"*/?.xml"}) == Paths{"other/g.xml", "reports/a.xml", "reports/b.xml"});
    }
    SUBCASE("** matches any depth, including none") {
      CHECK(expand({"reports/**/*.xml"}) == Paths{"reports/a.xml", "reports/ab.xml",
                                                  "reports/b.xml", "reports/unit/c.xml",
                                                  "reports/unit/deep/d.xml"});
      CHECK(expand({"**/d.xml"}) == Paths{"reports/unit/deep/d.xml"});
      CHECK(expand({"reports/unit/**"}) == Paths{"reports/unit/c.xml", "reports/unit/deep/d.xml"});
    }
    SUBCASE("several patterns: sorted, without duplicates") {
      CHECK(expand({"reports/unit/*.xml", "reports/a.xml", "reports/?.xml", "./reports/a.xml"}) ==
            Paths{"reports/a.xml", "reports/b.xml", "reports/unit/c.xml"});
    }
    SUBCASE("absolute patterns give absolute paths") {
      const std::string root = dir.path().generic_string();
      CHECK(expand({root + "/reports/unit/**/*.xml"}) ==
            Paths{root + "/reports/unit/c.xml", root + "/reports/unit/deep/d.xml"});
    }
    SUBCASE("a pattern that matches nothing is an error naming it") {
      for (const auto& patterns :
           std::vector<std::vector<std::string>>{{"reports/junit/*.xml"},
                                                 {"reports/a.xml", "reports/junit/*.xml"},
                                                 {"reports/junit/*.xml", "missing.xml"}}) {
        auto paths = expand_report_paths(dir.path(), patterns);
        REQUIRE_FALSE(paths.has_value());
        CHECK(paths.error().message == "no JUnit report matches reports/junit/*.xml");
      }
      CHECK(expand_report_paths(dir.path(), {"reports/dir.xml"}).error().message ==
            "no JUnit report matches reports/dir.xml");
    }
  }

  // --- the gate --------------------------------------------------------------------------------

  TEST_CASE("the gate passes when every threshold holds") {
    TempDir dir;
    write_text(dir / "reports/junit/a.xml", report(100));
    write_text(dir / "reports/junit/b.xml", report(18, 0, 0, 2));
    const Verdict verdict = evaluate("path: reports/junit/*.xml", dir.path());
    CHECK(status(verdict) == "pass");
    CHECK(verdict.summary == "120 tests: 118 passed, 2 skipped");
    CHECK(verdict.details == nlohmann::json::parse(R"({
    "files": [
      {"path": "reports/junit/a.xml", "tests": 100, "failures": 0, "errors": 0, "skipped": 0,
       "disabled": 0, "flaky": 0},
      {"path": "reports/junit/b.xml", "tests": 20, "failures": 0, "errors": 0, "skipped": 2,
       "disabled": 0, "flaky": 0}],
    "totals": {"tests": 120, "passed": 118, "failures": 0, "errors": 0, "skipped": 2,
               "disabled": 0, "flaky": 0},
    "pass_rate": 1.0,
    "thresholds": {"min_pass_rate": 1.0, "min_tests": 1}})"));
    CHECK_FALSE(verdict.retry_after.has_value());
  }

  TEST_CASE("the evidence is every file read with the sha256 of its bytes") {
    TempDir dir;
    write_text(dir / "reports/x/one.xml", report(1));
    write_text(dir / "reports/two.xml", "\xEF\xBB\xBF" + report(2));
    const Verdict verdict = evaluate("path: reports/**/*.xml", dir.path());
    CHECK(status(verdict) == "pass");
    REQUIRE(verdict.evidence.size() == 2);
    CHECK(verdict.evidence[0].path == "reports/two.xml");
    CHECK(verdict.evidence[0].sha256 ==
          promote::util::sha256_hex(promote::test::read_text(dir / "reports/two.xml")));
    CHECK(verdict.evidence[1].path == "reports/x/one.xml");
    CHECK(verdict.evidence[1].sha256 ==
          promote::util::sha256_hex(promote::test::read_text(dir / "reports/x/one.xml")));
  }

  TEST_CASE("each threshold fails the gate with a summary naming it") {
    TempDir dir;
    SUBCASE("min_pass_rate") {
      write_text(dir / "r.xml", report(117, 2, 1));
      const Verdict verdict = evaluate("path: r.xml", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 97.5% is below 100% (2 failed, 1 errored of 120)");
      CHECK(verdict.details["pass_rate"] == 0.975);
    }
    SUBCASE("min_pass_rate is rounded down, never up to the threshold") {
      write_text(dir / "r.xml", report(9999, 1));
      const Verdict verdict = evaluate("path: r.xml\nmin_pass_rate: 0.99995", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 99.9% is below 99.995% (1 failed of 10000)");
    }
    SUBCASE("min_pass_rate when every test was skipped") {
      write_text(dir / "r.xml", report(0, 0, 0, 2));
      const Verdict verdict = evaluate("path: r.xml\nmin_pass_rate: 0.5", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 0% is below 50% (all 2 tests skipped)");
      CHECK(verdict.details["pass_rate"] == 0.0);
    }
    SUBCASE("min_tests is checked first") {
      write_text(dir / "r.xml", report(2, 1));
      const Verdict verdict = evaluate("path: r.xml\nmin_tests: 5", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "3 tests found, fewer than the 5 required (min_tests)");
    }
    SUBCASE("min_tests with one test") {
      write_text(dir / "r.xml", report(1));
      const Verdict verdict = evaluate("path: r.xml\nmin_tests: 2", dir.path());
      CHECK(verdict.summary == "1 test found, fewer than the 2 required (min_tests)");
    }
    SUBCASE("max_failures counts failed and errored tests") {
      write_text(dir / "r.xml", report(18, 1, 1));
      const Verdict verdict =
          evaluate("path: r.xml\nmin_pass_rate: 0.8\nmax_failures: 1", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "2 tests failed or errored, more than the 1 allowed (max_failures)");
      CHECK(verdict.details["thresholds"] ==
            nlohmann::json::parse(R"({"min_pass_rate":0.8,"min_tests":1,"max_failures":1})"));
    }
    SUBCASE("max_skipped") {
      write_text(dir / "r.xml", report(5, 0, 0, 3));
      const Verdict verdict = evaluate("path: r.xml\nmax_skipped: 2", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "3 tests skipped, more than the 2 allowed (max_skipped)");
    }
    SUBCASE("thresholds exactly met pass") {
      write_text(dir / "r.xml", report(19, 1, 0, 2));
      const Verdict verdict = evaluate(
          "path: r.xml\nmin_pass_rate: 0.95\nmax_failures: 1\nmax_skipped: 2\nmin_tests: 22",
          dir.path());
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "22 tests: 19 passed, 1 failed, 2 skipped");
    }
  }

  TEST_CASE("disabled tests are skipped in the summary, the details and the thresholds") {
    TempDir dir;
    write_text(dir / "Testing/junit.xml", k_ctest_report);
    const Verdict verdict = evaluate("path: Testing/junit.xml\nmin_pass_rate: 0.5", dir.path());
    CHECK(status(verdict) == "pass");
    CHECK(verdict.summary == "4 tests: 1 passed, 1 failed, 2 skipped (1 disabled)");
    CHECK(verdict.details["totals"] == nlohmann::json::parse(R"({"tests": 4, "passed": 1,
          "failures": 1, "errors": 0, "skipped": 2, "disabled": 1, "flaky": 0})"));
    CHECK(verdict.details["files"][0]["disabled"] == 1);
    CHECK(verdict.details["pass_rate"] == 0.5);
    const Verdict strict =
        evaluate("path: Testing/junit.xml\nmin_pass_rate: 0.5\nmax_skipped: 1", dir.path());
    CHECK(status(strict) == "fail");
    CHECK(strict.summary == "2 tests skipped, more than the 1 allowed (max_skipped)");
  }

  TEST_CASE("a threshold the user writes is never overridden by another's default") {
    TempDir dir;
    write_text(dir / "r.xml", report(19, 1));
    SUBCASE("max_failures alone: no pass rate is required, one failure passes") {
      const Verdict verdict = evaluate("path: r.xml\nmax_failures: 1", dir.path());
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "20 tests: 19 passed, 1 failed");
      CHECK(verdict.details["thresholds"] ==
            nlohmann::json::parse(R"({"min_tests": 1, "max_failures": 1})"));
      const Verdict over = evaluate("path: r.xml\nmax_failures: 0", dir.path());
      CHECK(status(over) == "fail");
      CHECK(over.summary == "1 test failed or errored, more than the 0 allowed (max_failures)");
    }
    SUBCASE("both written: both apply") {
      const Verdict verdict =
          evaluate("path: r.xml\nmax_failures: 1\nmin_pass_rate: 0.99", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 95% is below 99% (1 failed of 20)");
    }
    SUBCASE("neither written: the default pass rate of 1.0 applies") {
      const Verdict verdict = evaluate("path: r.xml\nmax_skipped: 3", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 95% is below 100% (1 failed of 20)");
    }
    SUBCASE("config() leaves out the pass rate that does not apply") {
      Diagnostics diagnostics;
      const auto gate = build("path: r.xml\nmax_failures: 2", diagnostics);
      REQUIRE(gate != nullptr);
      CHECK(gate->config() == nlohmann::json::parse(R"({"path":["r.xml"],"max_failures":2,
              "min_tests":1,"on_empty":"error"})"));
    }
  }

  TEST_CASE("flaky tests make a passing gate warn") {
    TempDir dir;
    write_text(dir / "r.xml", report(4, 0, 0, 0, 2));
    const Verdict verdict = evaluate("path: r.xml", dir.path());
    CHECK(status(verdict) == "warn");
    CHECK(verdict.summary == "4 tests: 4 passed (2 flaky)");
    CHECK(verdict.details["totals"]["flaky"] == 2);

    write_text(dir / "r.xml", report(4, 1, 0, 0, 2));
    const Verdict failing = evaluate("path: r.xml", dir.path());
    CHECK(status(failing) == "fail");
    CHECK(failing.summary == "pass rate 80% is below 100% (1 failed of 5)");
  }

  TEST_CASE("the gate cannot judge without reports and says why") {
    TempDir dir;
    SUBCASE("no file matches") {
      const Verdict verdict = evaluate("path: reports/junit/*.xml", dir.path());
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no JUnit report matches reports/junit/*.xml");
      CHECK(verdict.evidence.empty());
    }
    SUBCASE("a report does not parse: the error names it, the files read are evidence") {
      write_text(dir / "reports/a.xml", report(3));
      write_text(dir / "reports/b.xml", "<testsuites>\n<testsuite>\n");
      write_text(dir / "reports/c.xml", report(3));
      const Verdict verdict = evaluate("path: reports/*.xml", dir.path());
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary ==
            "reports/b.xml:3:1: unexpected end of file: the report is truncated");
      CHECK(verdict.details["file"] == "reports/b.xml");
      REQUIRE(verdict.evidence.size() == 2);
      CHECK(verdict.evidence[1].path == "reports/b.xml");
      CHECK(verdict.evidence[1].sha256 == promote::util::sha256_hex("<testsuites>\n<testsuite>\n"));
    }
    SUBCASE("no test case in any report") {
      write_text(dir / "reports/a.xml", "<testsuites/>");
      write_text(dir / "reports/b.xml", "<testsuite name=\"empty\" tests=\"5\"></testsuite>");
      const Verdict verdict = evaluate("path: reports/*.xml\nmin_pass_rate: 0", dir.path());
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no test cases found in 2 reports");
      CHECK(verdict.evidence.size() == 2);
      CHECK(verdict.details["totals"]["tests"] == 0);
    }
    SUBCASE("no test case in one report") {
      write_text(dir / "r.xml", "<testsuites/>");
      CHECK(evaluate("path: r.xml", dir.path()).summary == "no test cases found in 1 report");
    }
  }

  // --- flaky tests -----------------------------------------------------------------------------

  TEST_CASE("a test that failed and then passed in the same report is one passed, flaky test") {
    SUBCASE("a failure, then a pass: the rerun is not counted") {
      CHECK(parse_ok("<testsuite><testcase classname=\"a.B\" name=\"t\"><failure/></testcase>"
                     "<testcase classname=\"a.B\" name=\"t\"/><testcase name=\"u\"/>"
                     "</testsuite>") == show(counts(2, 0, 0, 0, 1)));
    }
    SUBCASE("two failed attempts and an errored one before the pass, across suites") {
      CHECK(parse_ok("<testsuites><testsuite><testcase classname=\"a.B\" name=\"t\"><failure/>"
                     "</testcase><testcase classname=\"a.B\" name=\"t\"><error/></testcase>"
                     "</testsuite><testsuite><testcase classname=\"a.B\" name=\"t\"><failure/>"
                     "</testcase><testcase classname=\"a.B\" name=\"t\"/></testsuite>"
                     "</testsuites>") == show(counts(1, 0, 0, 0, 1)));
    }
    SUBCASE("a pass and then a failure stays a failure") {
      CHECK(parse_ok("<testsuite><testcase classname=\"a.B\" name=\"t\"/>"
                     "<testcase classname=\"a.B\" name=\"t\"><failure/></testcase></testsuite>") ==
            show(counts(2, 1, 0, 0, 0)));
    }
    SUBCASE("the same name in another class is another test") {
      CHECK(parse_ok("<testsuite><testcase classname=\"a.B\" name=\"t\"><failure/></testcase>"
                     "<testcase classname=\"a.C\" name=\"t\"/></testsuite>") ==
            show(counts(2, 1, 0, 0, 0)));
    }
    SUBCASE("test cases without a name are never matched") {
      CHECK(parse_ok("<testsuite><testcase><failure/></testcase><testcase/></testsuite>") ==
            show(counts(2, 1, 0, 0, 0)));
    }
    SUBCASE("a skipped attempt neither fails nor resolves a failure") {
      CHECK(parse_ok("<testsuite><testcase name=\"t\"><failure/></testcase>"
                     "<testcase name=\"t\"><skipped/></testcase></testsuite>") ==
            show(counts(2, 1, 0, 1, 0)));
    }
    SUBCASE("a passing rerun that also has flakyFailure is one flaky test") {
      CHECK(parse_ok("<testsuite><testcase name=\"t\"><failure/></testcase>"
                     "<testcase name=\"t\"><flakyFailure/></testcase></testsuite>") ==
            show(counts(1, 0, 0, 0, 1)));
    }
    SUBCASE("two passing test cases of the same name are two passed tests") {
      CHECK(parse_ok("<testsuite><testcase classname=\"a.B\" name=\"t\"/>"
                     "<testcase classname=\"a.B\" name=\"t\"/></testsuite>") ==
            show(counts(2, 0, 0, 0, 0)));
    }
  }

  TEST_CASE("a tally matches reruns across reports in the order they are added") {
    promote::gates::JunitTally tally;
    auto first = tally.add(
        "<testsuite><testcase classname=\"a.B\" name=\"t\"><failure/></testcase>"
        "<testcase classname=\"a.B\" name=\"u\"><error/></testcase>"
        "<testcase classname=\"a.B\" name=\"v\"/></testsuite>",
        "1.xml");
    REQUIRE(first.has_value());
    CHECK(show(*first) == show(counts(3, 1, 1, 0, 0)));
    auto second = tally.add(
        "<testsuite><testcase classname=\"a.B\" name=\"t\"/>"
        "<testcase classname=\"a.B\" name=\"v\"><failure/></testcase>"
        "<testcase classname=\"a.B\" name=\"w\"><flakyError/></testcase>"
        "</testsuite>",
        "2.xml");
    REQUIRE(second.has_value());
    // On its own the second report is three tests, one failed and one flaky.
    CHECK(show(*second) == show(counts(3, 1, 0, 0, 1)));
    // Together: t failed then passed (flaky), u errored, v passed then failed, w flaky.
    CHECK(show(tally.totals()) == show(counts(5, 1, 1, 0, 2)));
    CHECK(tally.flaky_tests() == std::vector<std::string>{"a.B.t", "a.B.w"});
    CHECK_FALSE(tally.add("<testsuites>", "3.xml").has_value());
    CHECK(show(tally.totals()) == show(counts(5, 1, 1, 0, 2)));
  }

  TEST_CASE("flaky tests count as passed; max_flaky limits them") {
    TempDir dir;
    // One report per attempt, read in path order: api.Orders.create failed, then passed.
    write_text(dir / "reports/1.xml",
               "<testsuite><testcase classname=\"api.Orders\" name=\"create\"><failure/>"
               "</testcase><testcase classname=\"api.Orders\" name=\"list\"/></testsuite>");
    write_text(dir / "reports/2.xml",
               "<testsuite><testcase classname=\"api.Orders\" name=\"create\"/>"
               "<testcase classname=\"api.Users\" name=\"get\"><flakyFailure/></testcase>"
               "</testsuite>");
    SUBCASE("without max_flaky they are reported and the gate warns") {
      const Verdict verdict = evaluate("path: reports/*.xml", dir.path());
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary == "3 tests: 3 passed (2 flaky)");
      CHECK(verdict.details["pass_rate"] == 1.0);
      CHECK(verdict.details["totals"] == nlohmann::json::parse(R"({"tests": 3, "passed": 3,
            "failures": 0, "errors": 0, "skipped": 0, "disabled": 0, "flaky": 2})"));
      CHECK(verdict.details["flaky_tests"] ==
            nlohmann::json::parse(R"(["api.Orders.create", "api.Users.get"])"));
      CHECK(verdict.details["files"][0]["failures"] == 1);
    }
    SUBCASE("within max_flaky the gate still warns") {
      const Verdict verdict = evaluate("path: reports/*.xml\nmax_flaky: 2", dir.path());
      CHECK(status(verdict) == "warn");
      CHECK(verdict.details["thresholds"]["max_flaky"] == 2);
    }
    SUBCASE("beyond max_flaky the gate fails naming the count") {
      const Verdict verdict = evaluate("path: reports/*.xml\nmax_flaky: 1", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "2 flaky tests, more than the 1 allowed (max_flaky)");
      const Verdict none = evaluate("path: reports/*.xml\nmax_flaky: 0", dir.path());
      CHECK(none.summary == "2 flaky tests, more than the 0 allowed (max_flaky)");
    }
    SUBCASE("a pass read before the failure does not hide it") {
      fs::rename(dir / "reports/1.xml", dir / "reports/3.xml");
      const Verdict verdict = evaluate("path: reports/*.xml", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "pass rate 75% is below 100% (1 failed of 4)");
    }
  }

  TEST_CASE("no test case at all takes the on_empty status") {
    TempDir dir;
    write_text(dir / "r.xml", "<testsuites/>");
    SUBCASE("error by default") {
      const Verdict verdict = evaluate("path: r.xml", dir.path());
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no test cases found in 1 report");
      CHECK(verdict.details["on_empty"] == "error");
      CHECK(verdict.details["error"] == "no test cases found in 1 report");
    }
    SUBCASE("pending, to look again in a minute") {
      const Verdict verdict = evaluate("path: r.xml\non_empty: pending", dir.path());
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "no test cases found in 1 report (on_empty: pending)");
      CHECK(verdict.retry_after == std::optional(std::chrono::seconds(60)));
      CHECK(verdict.evidence.size() == 1);
    }
    SUBCASE("fail") {
      const Verdict verdict = evaluate("path: r.xml\non_empty: fail\nmin_pass_rate: 0", dir.path());
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "no test cases found in 1 report (on_empty: fail)");
      CHECK_FALSE(verdict.retry_after.has_value());
      CHECK_FALSE(verdict.details.contains("error"));
    }
  }

  // --- the gate on the corpus ------------------------------------------------------------------

  TEST_CASE("the gate on corpus reports: Surefire reruns, duplicates and empty reports" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path corpus = *promote::test::corpus_dir() / "junit";
    TempDir dir;
    const auto copy = [&](const std::string& file, const std::string& as) {
      write_text(dir / as, promote::test::read_text(corpus / file));
    };
    SUBCASE("a Surefire flakyFailure passes with a warning, or fails under max_flaky: 0") {
      copy("jenkins__surefire-flakyFailure.xml", "TEST-io.olamy.FlakyTest.xml");
      const Verdict verdict = evaluate("path: TEST-*.xml", dir.path());
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary == "1 test: 1 passed (1 flaky)");
      CHECK(verdict.details["flaky_tests"] ==
            nlohmann::json::parse(R"(["io.olamy.FlakyTest.testApp"])"));
      const Verdict strict = evaluate("path: TEST-*.xml\nmax_flaky: 0", dir.path());
      CHECK(status(strict) == "fail");
      CHECK(strict.summary == "1 flaky test, more than the 0 allowed (max_flaky)");
    }
    SUBCASE("a Surefire rerunFailure stays one failure beside a flaky test") {
      copy("jenkins__surefire-flakyFailure.xml", "TEST-a.xml");
      copy("jenkins__surefire-rerunFailure.xml", "TEST-b.xml");
      const Verdict verdict = evaluate("path: TEST-*.xml\nmin_pass_rate: 0.5", dir.path());
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary == "2 tests: 1 passed (1 flaky), 1 failed");
    }
    SUBCASE("cargo-nextest's failing test, passing in a later rerun report") {
      copy("cargo-nextest__basic.xml", "nextest-1.xml");
      write_text(dir / "nextest-2.xml",
                 "<testsuites><testsuite name=\"rerun\"><testcase name=\"test_failure\" "
                 "classname=\"oxidized_navigation::parry3d\"/></testsuite></testsuites>");
      const Verdict verdict = evaluate("path: nextest-*.xml", dir.path());
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary == "3 tests: 3 passed (1 flaky)");
      CHECK(verdict.details["flaky_tests"] ==
            nlohmann::json::parse(R"(["oxidized_navigation::parry3d.test_failure"])"));
    }
    SUBCASE("two passing test cases with the same name stay two tests") {
      copy("jenkins__bad-duration-negative-time.xml", "r.xml");
      const Verdict verdict = evaluate("path: r.xml", dir.path());
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "2 tests: 2 passed");
    }
    SUBCASE("PHPUnit's empty <testsuites/> takes the on_empty status") {
      copy("phpunit__empty-selfclosing-testsuites.xml", "phpunit.xml");
      CHECK(status(evaluate("path: phpunit.xml", dir.path())) == "error");
      const Verdict pending = evaluate("path: phpunit.xml\non_empty: pending", dir.path());
      CHECK(status(pending) == "pending");
      CHECK(pending.retry_after.has_value());
      CHECK(status(evaluate("path: phpunit.xml\non_empty: fail", dir.path())) == "fail");
    }
  }

}  // TEST_SUITE
