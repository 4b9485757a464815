// Fuzzes the manifest editor: set_manifest_images either fails cleanly or returns text that
// differs from the input only inside image values, holds the same YAML apart from `image:`
// values, no longer holds another image of the repository, and is left as it is by the same
// edit made again.
#include "engine/overlay/manifests.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

/// The repositories of the `image:` values anywhere in the text, to edit one the input has.
void collect(const YAML::Node& node, int depth, std::vector<std::string>& out) {
  if (depth > 32 || out.size() > 16) {
    return;
  }
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && entry.first.Scalar() == "image" && entry.second.IsScalar()) {
        if (auto parsed = promote::image::parse(entry.second.Scalar())) {
          out.push_back(parsed->repository());
        }
      } else {
        collect(entry.second, depth + 1, out);
      }
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      collect(item, depth + 1, out);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string> repositories;
  for (const auto& document : fuzz::load_documents(text)) {
    collect(document, 0, repositories);
  }
  const std::string match =
      repositories.empty() ? "nginx" : repositories[size % repositories.size()];
  const image::Reference target = fuzz::pick_target(size / 3);
  const auto edited = overlay::set_manifest_images(text, "deploy.yaml", match, target);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    return 0;
  }
  const auto& [after, count] = *edited;
  require(count >= 0, "a negative count");
  require((count == 0) == (after == text), "the count does not say whether the text changed");
  fuzz::require_only_values_changed(text, after);
  fuzz::require_same_tree(text, after, [](const std::string&, const std::string& key,
                                           const YAML::Node&) { return key == "image"; });
  const auto left = overlay::get_manifest_images(after, "deploy.yaml", match);
  require(left.has_value(), "the edited text cannot be read");
  for (const auto& reference : *left) {
    // Docker Hub's spellings of the repository are kept (`redis` stays `redis`).
    require(reference.canonical() == target.canonical(),
            "an image of " + match + " was left as " + reference.to_string());
  }
  const auto again = overlay::set_manifest_images(after, "deploy.yaml", match, target);
  require(again.has_value() && again->second == 0 && again->first == after,
          "the same edit made again changed the text");
  return 0;
}
