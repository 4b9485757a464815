#pragma once
// The renderer's model of resources (kustomize_graph.cpp walks kustomizations into it,
// kustomize_patch.cpp applies patches and the images transformer to it). Internal to the overlay
// module.

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/overlay/kustomize_graph.hpp"
#include "engine/overlay/splice.hpp"

namespace promote::overlay::kmodel {

/// Text that YAML was parsed from: a whole file, or the content of a literal block in one (an
/// inline patch), whose line i is the file's line `first_line + i` after `indent` bytes.
struct Text {
  std::string file;                             ///< relative to the repository root
  const splice::Source* file_source = nullptr;  ///< the whole file
  std::string content;                          ///< inline only: the block's content
  bool is_inline = false;
  int first_line = 0;
  std::size_t indent = 0;

  /// An error at a node of this text, as FILE:LINE:COL of the file.
  Error error_at(const YAML::Mark& mark, const std::string& what) const;
  /// The place a `key: value` of this text is, for an origin of `kind`.
  ImageOrigin origin(ImageOrigin::Kind kind, const YAML::Node& key, const YAML::Node& value) const;
  /// The 1-based line and column in the file of a mark of this text.
  std::pair<int, int> position(const YAML::Mark& mark) const;
};

/// An image value and the places that set it.
struct Slot {
  bool present = false;
  std::string value;
  ImageOrigin origin;
  std::vector<ImageOrigin> patched_by;

  void set(std::string text, ImageOrigin from) {
    present = true;
    value = std::move(text);
    if (from.kind == ImageOrigin::Kind::strategic_merge ||
        from.kind == ImageOrigin::Kind::json6902) {
      patched_by.push_back(from);
    }
    origin = std::move(from);
  }
};

struct Container {
  std::string name;
  Slot image;
};

/// A resource as far as images go.
struct Resource {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string ns;
  std::vector<std::string> names;       ///< every name it has had (patches match any)
  std::vector<std::string> namespaces;  ///< every namespace it has had
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> pod_path;  ///< keys from the document to its pod spec; empty: none
  std::vector<Container> containers;
  std::vector<Container> init_containers;

  std::vector<Container>* list(std::string_view key) {
    return key == "containers" ? &containers : key == "initContainers" ? &init_containers : nullptr;
  }
  std::string group() const;
  std::string version() const;
};

/// The documents of `text` (what `file` holds; it labels errors) as splice::load_all reads them,
/// kept in `cache` by content: a text is parsed once however often it is asked for (a null
/// cache keeps nothing).
Result<std::vector<YAML::Node>> load_documents(std::string_view text, const std::string& file,
                                               RenderCache* cache);

/// The containers of a YAML container list (each a map with a name and an image).
Result<std::vector<Container>> read_containers(const Text& text, const YAML::Node& list,
                                               ImageOrigin::Kind kind);

/// The pod spec path of a document: spec.jobTemplate.spec.template.spec, spec.template.spec, or
/// spec for a Pod; empty when it has none.
std::vector<std::string> find_pod_path(const YAML::Node& document);

/// The node at `path` below `node`; an undefined node when a step is missing or not a map.
YAML::Node walk(const YAML::Node& node, const std::vector<std::string>& path);

/// A string-valued key of a map ("" when absent or not a scalar).
std::string scalar_at(const YAML::Node& map, std::string_view key);

/// Applies a strategic-merge patch document to the resources it names (`target` given: to
/// those it selects instead).
Result<void> apply_strategic_merge(const Text& text, const YAML::Node& patch,
                                   const YAML::Node* target, std::vector<Resource>& resources);

/// Applies a JSON6902 operation list to the resources `target` selects.
Result<void> apply_json6902(const Text& text, const YAML::Node& operations,
                            const YAML::Node& target, const Text& target_text,
                            std::vector<Resource>& resources);

/// Applies one `images:` entry of a kustomization.
Result<void> apply_image_entry(const Text& text, const YAML::Node& entry,
                               std::vector<Resource>& resources);

}  // namespace promote::overlay::kmodel
