#pragma once
// What the fuzz targets of the security report readers share: the input read as the gates read
// a report, and the property that it is refused as malformed exactly when nlohmann's parser
// refuses it.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gates/security_policy.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace promote::fuzz {

/// Reads the input with `parser` as the gates read a report file: in place, followed by
/// k_json_padding bytes and no more (AddressSanitizer stops a read past them). Requires an
/// error to carry a message, and the report to be read or refused as malformed JSON as
/// nlohmann's parser accepts or refuses the text; blank text and nesting deeper than the
/// limit are refused before.
inline void check_report(gates::ReportParser parser, const unsigned char* data, std::size_t size) {
  std::vector<char> bytes(data, data + size);
  bytes.resize(size + gates::k_json_padding);
  const std::string_view text(bytes.data(), size);
  const auto report = parser(text, "report.json", gates::k_json_padding);
  const bool json = nlohmann::json::accept(text);
  if (report) {
    require(json, "a text nlohmann's parser refuses was read as a report");
    return;
  }
  const std::string& message = report.error().message;
  require(!message.empty(), "an error without a message");
  const bool malformed = message.find("malformed JSON") != std::string::npos ||
                         message.find("[json.exception.out_of_range") != std::string::npos;
  const bool refused_before = message == "report.json: the file is empty" ||
                              message.find("levels deep") != std::string::npos;
  require(!malformed || !json, "JSON nlohmann's parser accepts was refused: " + message);
  require(json || malformed || refused_before,
          "a text nlohmann's parser refuses was not refused as malformed: " + message);
}

}  // namespace promote::fuzz
