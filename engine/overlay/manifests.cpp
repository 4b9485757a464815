#include "engine/overlay/manifests.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;

/// Where the pod spec of each workload kind is.
struct Workload {
  std::string_view kind;
  std::vector<std::string_view> pod_spec;
};

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> k_workloads = {
      {"Pod", {"spec"}},
      {"Deployment", {"spec", "template", "spec"}},
      {"StatefulSet", {"spec", "template", "spec"}},
      {"DaemonSet", {"spec", "template", "spec"}},
      {"ReplicaSet", {"spec", "template", "spec"}},
      {"Job", {"spec", "template", "spec"}},
      {"CronJob", {"spec", "jobTemplate", "spec", "template", "spec"}},
  };
  return k_workloads;
}

constexpr std::array<std::string_view, 2> k_container_lists = {"initContainers", "containers"};

/// One `image:` of a container, with a label that says where it is.
struct ContainerImage {
  YAML::Node key;
  YAML::Node value;
  std::string label;  ///< "Deployment 'api' spec.template.spec.containers[0].image"
  std::string alias;  ///< the step on the way that is an alias of a node anchored elsewhere
  YAML::Mark alias_mark;
};

/// Whether a value is an alias: yaml-cpp gives it the mark of its anchor, which comes before.
bool is_alias(const Source& source, const YAML::Node& key, const YAML::Node& value) {
  return !value.IsNull() && source.offset(value.Mark()) < source.offset(key.Mark());
}

/// The key and value of `key` in a map; nullopt when absent; fails when the key is there twice.
Result<std::optional<std::pair<YAML::Node, YAML::Node>>> find_key(const std::string& file,
                                                                  const YAML::Node& map,
                                                                  std::string_view key,
                                                                  const std::string& label) {
  std::optional<std::pair<YAML::Node, YAML::Node>> found;
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      if (found) {
        return splice::error_at(file, pair.first.Mark(),
                                label + " has the key '" + std::string(key) + "' twice");
      }
      found.emplace(pair.first, pair.second);
    }
  }
  return found;
}

std::string kind_of(const YAML::Node& node) {
  return node.IsSequence() ? "a list" : node.IsMap() ? "a map" : "a string";
}

Result<void> collect_document(const std::string& file, const Source& source,
                              const YAML::Node& document, const std::string& prefix,
                              std::vector<ContainerImage>& out) {
  if (!document.IsMap()) {
    return {};
  }
  const std::string self = prefix.empty() ? "the document" : prefix;
  auto kind = find_key(file, document, "kind", self);
  if (!kind) {
    return kind.error();
  }
  if (!*kind || !(*kind)->second.IsScalar()) {
    return {};
  }
  const std::string& kind_name = (*kind)->second.Scalar();
  if (kind_name == "List") {
    auto items = find_key(file, document, "items", self);
    if (!items) {
      return items.error();
    }
    if (*items && (*items)->second.IsSequence()) {
      std::size_t index = 0;
      for (const auto& item : (*items)->second) {
        const std::string label = prefix + "items[" + std::to_string(index++) + "] ";
        if (auto done = collect_document(file, source, item, label, out); !done) {
          return done;
        }
      }
    }
    return {};
  }
  const auto workload = std::find_if(workloads().begin(), workloads().end(),
                                     [&](const Workload& w) { return w.kind == kind_name; });
  if (workload == workloads().end()) {
    return {};
  }
  std::string name;  // only for labels: a malformed metadata is not this editor's concern
  if (auto metadata = find_key(file, document, "metadata", self);
      metadata && *metadata && (*metadata)->second.IsMap()) {
    if (auto found = find_key(file, (*metadata)->second, "name", "metadata");
        found && *found && (*found)->second.IsScalar()) {
      name = (*found)->second.Scalar();
    }
  }
  const std::string owner = prefix + kind_name + (name.empty() ? "" : " '" + name + "'");
  YAML::Node node = document;
  std::string path;
  std::string alias;
  YAML::Mark alias_mark;
  const auto note_alias = [&](const YAML::Node& key, const YAML::Node& value,
                              const std::string& where) {
    if (alias.empty() && is_alias(source, key, value)) {
      alias = where;
      alias_mark = key.Mark();
    }
  };
  for (const auto key : workload->pod_spec) {
    auto found = find_key(file, node, key, owner + (path.empty() ? "" : " " + path));
    if (!found) {
      return found.error();
    }
    path += (path.empty() ? "" : ".") + std::string(key);
    // A patch or a partial manifest may lack the pod spec: nothing to find then.
    if (!*found || (*found)->second.IsNull()) {
      return {};
    }
    node.reset((*found)->second);  // rebinds; `=` would overwrite the document
    note_alias((*found)->first, node, path);
    if (!node.IsMap()) {
      return splice::error_at(file, node.Mark(),
                              owner + " " + path + " must be a map (it is " + kind_of(node) + ")");
    }
  }
  for (const auto list_key : k_container_lists) {
    auto list = find_key(file, node, list_key, owner + " " + path);
    if (!list) {
      return list.error();
    }
    if (!*list || (*list)->second.IsNull()) {
      continue;
    }
    const std::string list_path = path + "." + std::string(list_key);
    const YAML::Node& containers = (*list)->second;
    const std::string alias_before_list = alias;
    note_alias((*list)->first, containers, list_path);
    if (!containers.IsSequence()) {
      return splice::error_at(
          file, containers.Mark(),
          owner + " " + list_path + " must be a list (it is " + kind_of(containers) + ")");
    }
    std::size_t index = 0;
    for (const auto& container : containers) {
      const std::string item = list_path + "[" + std::to_string(index++) + "]";
      if (!container.IsMap()) {
        return splice::error_at(
            file, container.Mark(),
            owner + " " + item + " must be a map (it is " + kind_of(container) + ")");
      }
      auto image = find_key(file, container, "image", owner + " " + item);
      if (!image) {
        return image.error();
      }
      if (!*image || (*image)->second.IsNull()) {
        continue;
      }
      const YAML::Node& value = (*image)->second;
      if (!value.IsScalar()) {
        return splice::error_at(
            file, value.Mark(),
            owner + " " + item + ".image must be a string (it is " + kind_of(value) + ")");
      }
      ContainerImage found{(*image)->first, value, owner + " " + item + ".image", alias,
                           alias_mark};
      if (found.alias.empty() &&
          source.offset(container.Mark()) < source.offset(containers.Mark())) {
        found.alias = item;
        found.alias_mark = (*list)->first.Mark();
      }
      out.push_back(std::move(found));
    }
    alias = alias_before_list;
  }
  return {};
}

/// Every container image of the workloads in the text, in document order.
Result<std::vector<ContainerImage>> collect(std::string_view text,
                                            const std::vector<YAML::Node>& documents,
                                            const std::string& file) {
  const Source source(text);
  std::vector<ContainerImage> out;
  for (const auto& document : documents) {
    if (auto done = collect_document(file, source, document, "", out); !done) {
      return done.error();
    }
  }
  return out;
}

/// The reference of an image when its repository is `match`; nullopt when it is another image
/// (or not an image reference at all); fails when it starts with `match` and does not parse.
Result<std::optional<image::Reference>> matching(const std::string& file,
                                                 const ContainerImage& image,
                                                 const std::string& match) {
  const std::string& text = image.value.Scalar();
  auto reference = image::parse(text);
  if (!reference) {
    const bool ours = text == match || (text.starts_with(match) &&
                                        (text[match.size()] == ':' || text[match.size()] == '@'));
    if (ours) {
      return splice::error_at(file, image.value.Mark(),
                              image.label + ": " + reference.error().message);
    }
    return std::optional<image::Reference>();
  }
  if (!image::same_repository(reference->repository(), match)) {
    return std::optional<image::Reference>();
  }
  return std::optional<image::Reference>(std::move(*reference));
}

Result<void> check_match(const std::string& file, const std::string& match) {
  auto reference = image::parse(match);
  if (!reference || !reference->tag.empty() || !reference->digest.empty()) {
    return make_error(ErrorKind::input,
                      file + ": cannot match images by '" + match +
                          "': it must be a repository without tag or digest" +
                          (reference ? "" : " (" + reference.error().message + ")"));
  }
  return {};
}

}  // namespace

Result<std::vector<image::Reference>> get_manifest_images(std::string_view text,
                                                          const std::string& file,
                                                          const std::string& match_repository) {
  if (auto checked = check_match(file, match_repository); !checked) {
    return checked.error();
  }
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  auto images = collect(text, *documents, file);
  if (!images) {
    return images.error();
  }
  std::vector<image::Reference> out;
  for (const auto& image : *images) {
    auto reference = matching(file, image, match_repository);
    if (!reference) {
      return reference.error();
    }
    if (*reference && std::find(out.begin(), out.end(), **reference) == out.end()) {
      out.push_back(std::move(**reference));
    }
  }
  return out;
}

Result<std::pair<std::string, int>> set_manifest_images(std::string_view text,
                                                        const std::string& file,
                                                        const std::string& match_repository,
                                                        const image::Reference& target) {
  if (auto checked = check_match(file, match_repository); !checked) {
    return checked.error();
  }
  if (target.path.empty()) {
    return make_error(ErrorKind::input, file + ": cannot set the images of '" + match_repository +
                                            "': the target reference has no repository");
  }
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  auto images = collect(text, *documents, file);
  if (!images) {
    return images.error();
  }
  const Source source(text);
  std::vector<splice::Edit> edits;
  std::vector<std::string> expected;  // every container image as it must read after the edit
  for (const auto& image : *images) {
    auto reference = matching(file, image, match_repository);
    if (!reference) {
      return reference.error();
    }
    const std::string& current = image.value.Scalar();
    // Only the tag and digest change: `redis:7.0` stays spelled `redis`.
    const std::string wanted = *reference ? target.spelled_as(**reference).to_string() : "";
    if (!*reference || current == wanted) {
      expected.push_back(current);
      continue;
    }
    if (!image.alias.empty()) {
      return splice::error_at(file, image.alias_mark,
                              "cannot edit " + image.label + " in place: " + image.alias +
                                  " is an alias (*name) of a node anchored elsewhere, and promote "
                                  "does not edit through aliases");
    }
    const auto span = splice::locate_value(source, image.key, image.value);
    if (span.shape != Shape::editable) {
      return splice::error_at(
          file, image.key.Mark(),
          "cannot edit " + image.label + " in place: " + splice::describe(source, span));
    }
    // An alias repeats an edited anchor: both point at the same bytes.
    if (std::any_of(edits.begin(), edits.end(),
                    [&](const splice::Edit& edit) { return edit.begin == span.begin; })) {
      return splice::error_at(
          file, image.key.Mark(),
          "cannot edit " + image.label + " in place: " + splice::describe(Shape::alias));
    }
    edits.push_back(splice::replace(span, wanted));
    expected.push_back(wanted);
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  if (edits.empty()) {
    return std::pair{std::move(*edited), 0};
  }
  // Read back: each container image is what it must be, and there are as many.
  const auto guard_failed = [&](const std::string& why) -> Result<std::pair<std::string, int>> {
    return make_error(ErrorKind::internal, file + ": editing the images of '" + match_repository +
                                               "' did not give the expected YAML (" + why + ")");
  };
  auto reparsed = splice::load_all(*edited, file);
  if (!reparsed) {
    return guard_failed(reparsed.error().message);
  }
  auto read_back = collect(*edited, *reparsed, file);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  std::vector<std::string> actual;
  for (const auto& image : *read_back) {
    actual.push_back(image.value.Scalar());
  }
  if (actual != expected) {
    return guard_failed("the container images do not read back as written");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
