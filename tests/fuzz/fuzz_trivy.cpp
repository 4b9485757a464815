// Fuzzes the Trivy JSON report reader: parse_trivy either fails with a message or gives findings,
// and refuses as malformed exactly the texts nlohmann's parser refuses
// (tests/fuzz/report_support.hpp).
#include "gates/trivy.hpp"
#include "tests/fuzz/report_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  promote::fuzz::check_report(&promote::gates::parse_trivy, data, size);
  return 0;
}
