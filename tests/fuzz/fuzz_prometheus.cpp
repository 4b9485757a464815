// Fuzzes the Prometheus /api/v1/query response reader (and the sample value and condition
// grammars on the same bytes): they either fail with a message or give a result.
#include "gates/prometheus.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::fuzz::require;
  const std::string_view text = promote::fuzz::as_text(data, size);
  const auto result = promote::gates::parse_query_response(text, "prometheus");
  if (!result) {
    require(!result.error().message.empty(), "an error without a message");
  } else {
    for (const auto& series : result->series) {
      const auto value = promote::gates::parse_sample_value(series.raw);
      require(value.has_value(), "a series value '" + series.raw + "' that does not parse");
    }
  }
  (void)promote::gates::parse_sample_value(text);
  if (const auto condition = promote::gates::parse_condition(text)) {
    (void)condition->holds(0.5);
  }
  return 0;
}
