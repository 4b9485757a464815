// Fuzzes the JUnit reader: parse_junit never crashes, its streaming reader and the tree agree,
// and the counts it gives are consistent (none negative, each test case one outcome, flaky
// ones among the passed, disabled ones among the skipped); a tally of the document added
// twice agrees with it.
#include "gates/junit.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::fuzz::require;
  const std::string_view xml = promote::fuzz::as_text(data, size);
  const auto counts = promote::gates::parse_junit(xml, "report.xml");
  // The streaming reader (or the tree it hands over to) and the tree alone agree.
  const auto tree =
      promote::gates::parse_junit(xml, "report.xml", promote::gates::JunitReader::tree);
  require(counts.has_value() == tree.has_value(), "the readers disagree on whether it parses");
  if (counts) {
    require(counts->tests == tree->tests && counts->failures == tree->failures &&
                counts->errors == tree->errors && counts->skipped == tree->skipped &&
                counts->flaky == tree->flaky && counts->disabled == tree->disabled,
            "the readers count otherwise");
  } else {
    require(counts.error().message == tree.error().message, "the readers' errors differ");
  }
  if (!counts) {
    require(!counts.error().message.empty(), "an error without a message");
    return 0;
  }
  require(counts->failures >= 0 && counts->errors >= 0 && counts->skipped >= 0 &&
              counts->flaky >= 0,
          "a negative count");
  require(counts->passed() >= 0, "more outcomes than test cases");
  require(counts->flaky <= counts->passed(), "more flaky tests than passed ones");
  require(counts->disabled >= 0 && counts->disabled <= counts->skipped,
          "more disabled tests than skipped ones");
  promote::gates::JunitTally tally;
  const auto first = tally.add(xml, "a.xml");
  require(first.has_value() && first->tests == counts->tests, "the tally counts otherwise");
  const auto second = tally.add(xml, "b.xml");
  require(second.has_value(), "the same document fails the second time");
  require(tally.totals().passed() >= 0 && tally.totals().tests <= 2 * counts->tests,
          "the tally of two documents is inconsistent");
  return 0;
}
