// Fuzzes the SARIF log reader: parse_sarif either fails with a message or gives findings.
#include "gates/sarif.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const auto report = promote::gates::parse_sarif(promote::fuzz::as_text(data, size), "report.json");
  if (!report) {
    promote::fuzz::require(!report.error().message.empty(), "an error without a message");
  }
  return 0;
}
