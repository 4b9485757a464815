// Fuzzes the carry of values from one environment's YAML file into another's: the input is a
// source and a target (split at a line "%%%", else in half), the keys are the source's top-level
// keys, its second-level keys or both; carry_values either fails cleanly (on the input, never on
// its own check) or returns a text that parses, holds the source's values at the keys and the
// target's everywhere else, and is left as it is by the same carry made again.
#include <set>
#include <string>
#include <vector>

#include "engine/overlay/carry.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

/// The keys of the first non-empty document of `source`: `mode` 0 its top-level keys, 1 its
/// second-level keys (a top-level key whose value is no map stands for itself), 2 both.
std::vector<std::string> keys_of(std::string_view source, std::size_t mode) {
  std::vector<std::string> keys;
  for (const auto& document : promote::fuzz::load_documents(source)) {
    if (document.IsNull()) {
      continue;
    }
    if (!document.IsMap()) {
      break;
    }
    for (const auto& entry : document) {
      if (keys.size() >= 8) {
        break;
      }
      if (!entry.first.IsScalar() || entry.first.Scalar().find('.') != std::string::npos) {
        continue;
      }
      const std::string& key = entry.first.Scalar();
      bool inner = false;
      if (mode != 0 && entry.second.IsMap()) {
        for (const auto& child : entry.second) {
          if (child.first.IsScalar() && child.first.Scalar().find('.') == std::string::npos &&
              keys.size() < 8) {
            keys.push_back(key + "." + child.first.Scalar());
            inner = true;
          }
        }
      }
      if (mode != 1 || !inner) {
        keys.push_back(key);
      }
    }
    break;
  }
  if (keys.empty()) {
    keys.push_back("a");
  }
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  const std::string_view marker = "\n%%%\n";
  const std::size_t split = text.find(marker);
  const std::string_view source =
      split == std::string_view::npos ? text.substr(0, size / 2) : text.substr(0, split + 1);
  const std::string_view target =
      split == std::string_view::npos ? text.substr(size / 2) : text.substr(split + marker.size());
  const std::vector<std::string> keys = keys_of(source, size % 3);

  const auto carried = overlay::carry_values(source, "source.yaml", target, "target.yaml", keys);
  if (!carried) {
    require(!carried.error().message.empty(), "an error without a message");
    require(carried.error().kind == ErrorKind::input,
            "the carry failed its own check: " + carried.error().message);
    return 0;
  }
  const auto& [after, count] = *carried;
  require((count == 0) == (after == target), "the count does not say whether the text changed");
  const auto wanted = overlay::carried_values(source, "source.yaml", keys);
  require(wanted.has_value(), "the carry read values carried_values cannot");
  const auto got = overlay::carried_values(after, "target.yaml", keys);
  require(got.has_value() && *got == *wanted, "the keys do not hold the source's values");
  const std::set<std::string> masked(keys.begin(), keys.end());
  fuzz::require_same_tree(target, after,
                          [&](const std::string& path, const std::string&, const YAML::Node&) {
                            return masked.contains(path);
                          });
  const auto again = overlay::carry_values(source, "source.yaml", after, "target.yaml", keys);
  require(again.has_value() && again->second == 0 && again->first == after,
          "the same carry made again changed the text");
  return 0;
}
