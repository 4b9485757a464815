// Fuzzes the Helm values editor: the image's paths are taken from the first map of the input
// that has a `tag` or `image` key; set_helm_image either fails cleanly or returns text that
// differs from the input only inside those values (and an added `digest:` line), holds the same
// YAML apart from them, reads back with the target's tag and digest, and is left as it is by the
// same edit made again.
#include <algorithm>

#include "engine/overlay/helm.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using promote::overlay::HelmImage;

/// The first map (depth first) with a scalar `tag` or `image`, as the paths of one image.
bool find_image(const YAML::Node& node, const std::string& path, int depth, HelmImage& out) {
  if (depth > 16 || !node.IsMap()) {
    return false;
  }
  const auto has = [&](const char* key) { return node[key] && node[key].IsScalar(); };
  const std::string prefix = path.empty() ? "" : path + ".";
  if (has("tag")) {
    out.tag = prefix + "tag";
    if (has("repository")) {
      out.repository = prefix + "repository";
      if (has("registry")) {
        out.registry = prefix + "registry";
      }
    }
    // Now and then (by the path's length) a digest path the file lacks: the editor adds the key.
    if (node["digest"] || path.size() % 2 == 0) {
      out.digest = prefix + "digest";
    }
    return true;
  }
  if (has("image")) {
    out.image = prefix + "image";
    return true;
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || entry.first.Scalar().empty() ||
        entry.first.Scalar().find('.') != std::string::npos) {
      continue;
    }
    if (find_image(entry.second, prefix + entry.first.Scalar(), depth + 1, out)) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  HelmImage where;
  const auto documents = fuzz::load_documents(text);
  if (documents.empty() || !find_image(documents.front(), "", 0, where)) {
    where = HelmImage{};
  }
  if (where.tag.empty() && where.image.empty()) {
    where.repository = "image.repository";
    where.tag = "image.tag";
  }
  if (!overlay::check_helm_image(where)) {
    return 0;
  }
  const image::Reference target = fuzz::pick_target(size / 3);
  const auto edited = overlay::set_helm_image(text, "values.yaml", where, target);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    return 0;
  }
  fuzz::require_only_values_changed(text, *edited, [](std::string_view line) {
    return line.find("digest:") != std::string_view::npos;
  });
  const std::vector<std::string> paths = {where.image, where.registry, where.repository,
                                          where.tag, where.digest};
  fuzz::require_same_tree(text, *edited,
                          [&](const std::string& path, const std::string&, const YAML::Node&) {
                            return !path.empty() &&
                                   std::find(paths.begin(), paths.end(), path) != paths.end();
                          });
  const auto read = overlay::get_helm_image(*edited, "values.yaml", where);
  require(read.has_value() && read->has_value(), "the edited text cannot be read back");
  require((*read)->tag == target.tag, "the tag reads back as '" + (*read)->tag + "'");
  if (!where.digest.empty() || !where.image.empty()) {
    require((*read)->digest == target.digest, "the digest reads back as '" + (*read)->digest + "'");
  }
  const auto again = overlay::set_helm_image(*edited, "values.yaml", where, target);
  require(again.has_value() && *again == *edited, "the same edit made again changed the text");
  return 0;
}
