// Fuzzes the SARIF log reader: parse_sarif either fails with a message or gives findings, and
// refuses as malformed exactly the texts nlohmann's parser refuses (tests/fuzz/report_support.hpp).
#include "gates/sarif.hpp"
#include "tests/fuzz/report_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  promote::fuzz::check_report(&promote::gates::parse_sarif, data, size);
  return 0;
}
