// Fuzzes the kustomization `images:` editor: set_image either fails cleanly or returns text that
// parses, holds the same YAML outside `images:`, reads back as the target, and is left as it is
// by the same edit made again.
#include "engine/overlay/kustomize.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

/// The images[].name entries of the kustomization, to edit one the input has.
std::vector<std::string> image_names(std::string_view text) {
  std::vector<std::string> names;
  for (const auto& document : promote::fuzz::load_documents(text)) {
    if (!document.IsMap() || !document["images"] || !document["images"].IsSequence()) {
      continue;
    }
    for (const auto& entry : document["images"]) {
      if (entry.IsMap() && entry["name"] && entry["name"].IsScalar()) {
        names.push_back(entry["name"].Scalar());
      }
    }
  }
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  const auto names = image_names(text);
  const std::string match = names.empty() ? "nginx" : names[size % names.size()];
  const image::Reference target = fuzz::pick_target(size / 3);
  const auto edited = overlay::set_image(text, "kustomization.yaml", match, target);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    return 0;
  }
  fuzz::require_same_tree(text, *edited, [](const std::string& path, const std::string&,
                                            const YAML::Node&) { return path == "images"; },
                          /*may_fill_empty=*/true);
  const auto read = overlay::get_image(*edited, "kustomization.yaml", match);
  require(read.has_value(), "the edited text cannot be read: " +
                                (read ? std::string() : read.error().message));
  require(read->has_value(), "the edited text has no entry for " + match);
  require((*read)->canonical() == target.canonical(),
          "the edited text reads back as " + (*read)->to_string() + ", not " + target.to_string());
  const auto again = overlay::set_image(*edited, "kustomization.yaml", match, target);
  require(again.has_value() && *again == *edited, "the same edit made again changed the text");
  return 0;
}
