// Fuzzes the Flux setter editor: the policy names are those of the input's markers;
// set_marked_images either fails cleanly or returns text that differs from the input only
// inside the marked values, holds the same YAML apart from them, and is left as it is by the
// same edit made again.
#include <algorithm>
#include <map>
#include <set>

#include "engine/overlay/setters.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  // Names from `"$imagepolicy": "NAMESPACE:NAME..."`, and the lines markers are on.
  std::map<std::string, image::Reference> images;
  std::set<int> marked_lines;
  const std::string_view marker = "$imagepolicy";
  for (std::size_t at = text.find(marker); at != std::string_view::npos;
       at = text.find(marker, at + 1)) {
    marked_lines.insert(static_cast<int>(std::count(text.begin(), text.begin() + at, '\n')));
    // The colon after the key, then the one between NAMESPACE and NAME.
    const std::size_t after_key = text.find(':', at + marker.size());
    const std::size_t colon =
        after_key == std::string_view::npos ? after_key : text.find(':', after_key + 1);
    if (colon == std::string_view::npos || images.size() >= 8) {
      continue;
    }
    std::size_t end = colon + 1;
    while (end < text.size() && text[end] != ':' && text[end] != '"' && text[end] != '\n') {
      ++end;
    }
    images[std::string(text.substr(colon + 1, end - colon - 1))] =
        fuzz::pick_target(images.size() + size);
  }
  if (images.empty()) {
    images["api"] = fuzz::pick_target(size);
  }
  const auto edited = overlay::set_marked_images(text, "values.yaml", images);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    return 0;
  }
  const auto& [after, count] = *edited;
  require((count == 0) == (after == text), "the count does not say whether the text changed");
  fuzz::require_only_values_changed(text, after);
  fuzz::require_same_tree(text, after,
                          [&](const std::string&, const std::string&, const YAML::Node& node) {
                            // An empty value on a marked line (`image: # {...}`) is filled:
                            // the node is then its key's.
                            return node.IsScalar() && marked_lines.count(node.Mark().line) > 0;
                          });
  const auto again = overlay::set_marked_images(after, "values.yaml", images);
  require(again.has_value() && again->second == 0 && again->first == after,
          "the same edit made again changed the text");
  return 0;
}
