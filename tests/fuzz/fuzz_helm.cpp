// Fuzzes the Helm values editor: the image's paths are taken from the first map of the input
// that has a `tag` or `image` key, found through maps and lists (a list item by its index, or
// now and then by its `name`, as `parameters[name=image.tag].value`); set_helm_image either fails
// cleanly or returns text that differs from the input only inside those values (and an added
// `digest:` line), holds the same YAML apart from them, reads back with the target's tag and
// digest, and is left as it is by the same edit made again.
#include <algorithm>

#include "engine/overlay/helm.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using promote::overlay::HelmImage;

/// Whether a key can be a step of a helm path.
bool nameable(const std::string& key) {
  return !key.empty() && key.find_first_of(".[]") == std::string::npos;
}

/// The first map (depth first) with a scalar `tag` or `image`, as the paths of one image;
/// `tree` is the same path as require_same_tree spells it (list items as ".N").
bool find_image(const YAML::Node& node, const std::string& path, const std::string& tree, int depth,
                HelmImage& out, std::string& out_tree) {
  if (depth > 16) {
    return false;
  }
  if (node.IsSequence() && !path.empty()) {
    for (std::size_t i = 0; i < node.size() && i < 64; ++i) {
      const YAML::Node item = node[i];
      std::string step = "[" + std::to_string(i) + "]";
      const YAML::Node name = item.IsMap() ? item["name"] : YAML::Node();
      if (name && name.IsScalar() && !name.Scalar().empty() &&
          name.Scalar().find(']') == std::string::npos && path.size() % 3 == 0) {
        step = "[name=" + name.Scalar() + "]";
      }
      if (find_image(item, path + step, tree + "." + std::to_string(i), depth + 1, out, out_tree)) {
        return true;
      }
    }
    return false;
  }
  if (!node.IsMap()) {
    return false;
  }
  const auto has = [&](const char* key) { return node[key] && node[key].IsScalar(); };
  const std::string prefix = path.empty() ? "" : path + ".";
  out_tree = tree;
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
    if (!entry.first.IsScalar() || !nameable(entry.first.Scalar())) {
      continue;
    }
    if (find_image(entry.second, prefix + entry.first.Scalar(),
                   (tree.empty() ? "" : tree + ".") + entry.first.Scalar(), depth + 1, out,
                   out_tree)) {
      return true;
    }
  }
  return false;
}

/// A helm path of `where` as require_same_tree spells it: the map's tree path and the last key.
std::string tree_path(const std::string& path, const std::string& map_tree) {
  if (path.empty()) {
    return "";
  }
  const std::string key =
      path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  return map_tree.empty() ? key : map_tree + "." + key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  HelmImage where;
  std::string map_tree;
  const auto documents = fuzz::load_documents(text);
  if (documents.empty() || !find_image(documents.front(), "", "", 0, where, map_tree)) {
    where = HelmImage{};
    map_tree = "image";
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
  std::vector<std::string> paths;
  for (const auto* path :
       {&where.image, &where.registry, &where.repository, &where.tag, &where.digest}) {
    paths.push_back(tree_path(*path, map_tree));
  }
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
