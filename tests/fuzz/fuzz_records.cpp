// Fuzzes how promote reads the records that come back from git, which anyone who can push to
// the repository can write: a note line of refs/notes/promote ({"promotion"|"approval"|"hold"|
// "anchor": {...}}, as `history sync` and `audit verify` read them) and a Promote-History
// trailer. Nothing crashes, and what is accepted is written back as the same record: the
// canonical line of an accepted record reads back to the same canonical line.
#include <nlohmann/json.hpp>

#include "engine/history/anchor.hpp"
#include "engine/history/history.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace promote;

// Reads `line` back as a record of its kind; returns its canonical line, or "" when refused.
std::string reread(const nlohmann::json& value) {
  if (!value.is_object() || value.size() != 1) {
    return "";
  }
  const std::string& kind = value.begin().key();
  const nlohmann::json& body = value.begin().value();
  if (kind == "promotion") {
    auto record = history::promotion_from_json(body);
    return record ? history::note_line(*record) : "";
  }
  if (kind == "approval") {
    auto record = history::approval_from_json(body);
    return record ? history::note_line(*record) : "";
  }
  if (kind == "hold") {
    auto record = history::hold_from_json(body);
    return record ? history::note_line(*record) : "";
  }
  if (kind == "anchor") {
    auto anchor = history::anchor_from_json(body);
    return anchor ? history::note_line(*anchor) : "";
  }
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  // A trailer's value: accepted, it is written back as an anchor that reads the same.
  if (auto anchor = history::anchor_from_trailer(text)) {
    const std::string written = history::trailer_value(*anchor);
    auto again = history::anchor_from_trailer(written);
    fuzz::require(again.has_value(), "a trailer written from an accepted one is refused");
    fuzz::require(history::trailer_value(*again) == written, "a trailer does not read back");
  } else {
    fuzz::require(!anchor.error().message.empty(), "a refused trailer without a message");
  }

  // A note line: accepted, its canonical line reads back to itself.
  const auto value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return 0;
  }
  const std::string canonical = reread(value);
  if (!canonical.empty()) {
    const auto parsed = nlohmann::json::parse(canonical, nullptr, false);
    fuzz::require(!parsed.is_discarded(), "a canonical line that is not JSON: " + canonical);
    fuzz::require(reread(parsed) == canonical, "a canonical line reads back as another");
  }
  return 0;
}
