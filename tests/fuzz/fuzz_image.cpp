// Fuzzes the image reference grammar: parse never crashes, and what it accepts prints as text
// that parses back to the same reference.
#include "engine/image/reference.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::fuzz::require;
  const auto parsed = promote::image::parse(promote::fuzz::as_text(data, size));
  if (!parsed) {
    require(!parsed.error().message.empty(), "a parse error without a message");
    return 0;
  }
  const std::string text = parsed->to_string();
  const auto again = promote::image::parse(text);
  require(again.has_value(), "'" + text + "' does not parse again");
  require(*again == *parsed, "'" + text + "' parses to another reference");
  require(parsed->tag.size() <= 128, "a tag longer than 128 characters was accepted");
  (void)parsed->version();
  return 0;
}
