#include "engine/overlay/argocd.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;

/// One string of a kustomize.images list, where it is.
struct Entry {
  YAML::Node node;
  std::string label;   ///< "spec.sources[1].kustomize.images[0]"
  bool alias = false;  ///< the item is an alias (*name) of a node anchored elsewhere
};

/// An entry's text split as kustomize reads it: `name=rest`, or `rest` whose repository is the
/// name.
struct EntryText {
  std::string name;
  std::string prefix;  ///< "name=" or ""
  std::string rest;
};

EntryText split(const std::string& text) {
  if (const std::size_t equals = text.find('='); equals != std::string::npos) {
    return {text.substr(0, equals), text.substr(0, equals + 1), text.substr(equals + 1)};
  }
  std::string name = text.substr(0, text.find('@'));
  const std::size_t colon = name.rfind(':');
  const std::size_t slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    name.resize(colon);
  }
  return {name, "", text};
}

std::string kind_of(const YAML::Node& node) {
  return node.IsSequence() ? "a list"
         : node.IsMap()    ? "a map"
         : node.IsNull()   ? "empty"
                           : "a string";
}

std::string scalar_at(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) {
    return "";
  }
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

/// The value at `key` of a map when it is there and not null; fails when it is not of the kind
/// `want` says ("map" or "list").
Result<std::optional<YAML::Node>> child(const std::string& file, const YAML::Node& map,
                                        const char* key, const std::string& path, bool want_list) {
  const YAML::Node value = map[key];
  if (!value || value.IsNull()) {
    return std::optional<YAML::Node>();
  }
  if (want_list ? !value.IsSequence() : !value.IsMap()) {
    // Spelled out: a YAML::Node converts from anything, an Error too.
    return Result<std::optional<YAML::Node>>(
        boost::system::in_place_error,
        splice::error_at(file, value.Mark(),
                         path + " must be " + (want_list ? "a list" : "a map") + " (it is " +
                             kind_of(value) + ")"));
  }
  return std::optional<YAML::Node>(value);
}

/// The entries of one source's kustomize.images.
Result<void> collect_source(const std::string& file, const Source& source,
                            const YAML::Node& app_source, const std::string& path,
                            std::vector<Entry>& out) {
  auto kustomize = child(file, app_source, "kustomize", path + ".kustomize", false);
  if (!kustomize) {
    return kustomize.error();
  }
  if (!*kustomize) {
    return {};
  }
  const std::string images_path = path + ".kustomize.images";
  auto images = child(file, **kustomize, "images", images_path, true);
  if (!images) {
    return images.error();
  }
  if (!*images) {
    return {};
  }
  std::size_t index = 0;
  for (const auto& item : **images) {
    const std::string label = images_path + "[" + std::to_string(index++) + "]";
    if (!item.IsScalar()) {
      return splice::error_at(file, item.Mark(),
                              label + " must be a string (it is " + kind_of(item) + ")");
    }
    // An alias item has the mark of its anchor, which is before the list.
    const bool alias = source.offset(item.Mark()) < source.offset((*images)->Mark());
    out.push_back(Entry{item, label, alias});
  }
  return {};
}

/// Every kustomize.images entry of the chosen Applications, in document order.
Result<std::vector<Entry>> collect(std::string_view text, const std::vector<YAML::Node>& documents,
                                   const std::string& file, const std::string& application) {
  const Source source(text);
  std::vector<Entry> out;
  for (const auto& document : documents) {
    if (!document.IsMap() || scalar_at(document, "kind") != "Application" ||
        (!application.empty() && scalar_at(document["metadata"], "name") != application)) {
      continue;
    }
    auto spec = child(file, document, "spec", "spec", false);
    if (!spec) {
      return spec.error();
    }
    if (!*spec) {
      continue;
    }
    auto single = child(file, **spec, "source", "spec.source", false);
    if (!single) {
      return single.error();
    }
    if (*single) {
      if (auto done = collect_source(file, source, **single, "spec.source", out); !done) {
        return done.error();
      }
    }
    auto several = child(file, **spec, "sources", "spec.sources", true);
    if (!several) {
      return several.error();
    }
    if (*several) {
      std::size_t index = 0;
      for (const auto& item : **several) {
        const std::string path = "spec.sources[" + std::to_string(index++) + "]";
        if (!item.IsMap()) {
          return splice::error_at(file, item.Mark(),
                                  path + " must be a map (it is " + kind_of(item) + ")");
        }
        if (auto done = collect_source(file, source, item, path, out); !done) {
          return done.error();
        }
      }
    }
  }
  return out;
}

/// The reference an entry gives when it is one of `match`'s; nullopt when it is another image's.
Result<std::optional<image::Reference>> matching(const std::string& file, const Entry& entry,
                                                 const std::string& match) {
  const EntryText parts = split(entry.node.Scalar());
  if (!image::same_repository(parts.name, match)) {
    return std::optional<image::Reference>();
  }
  auto reference = image::parse(parts.rest);
  if (!reference) {
    return splice::error_at(file, entry.node.Mark(),
                            entry.label + ": " + reference.error().message);
  }
  return std::optional<image::Reference>(std::move(*reference));
}

Result<std::vector<Entry>> entries_of(std::string_view text, const std::string& file,
                                      const std::string& application) {
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  return collect(text, *documents, file, application);
}

}  // namespace

Result<std::vector<image::Reference>> get_argocd_images(std::string_view text,
                                                        const std::string& file,
                                                        const std::string& match,
                                                        const std::string& application) {
  auto entries = entries_of(text, file, application);
  if (!entries) {
    return entries.error();
  }
  std::vector<image::Reference> out;
  for (const auto& entry : *entries) {
    auto reference = matching(file, entry, match);
    if (!reference) {
      return reference.error();
    }
    if (*reference && std::find(out.begin(), out.end(), **reference) == out.end()) {
      out.push_back(std::move(**reference));
    }
  }
  return out;
}

Result<std::pair<std::string, int>> set_argocd_images(std::string_view text,
                                                      const std::string& file,
                                                      const std::string& match,
                                                      const image::Reference& target,
                                                      const std::string& application) {
  if (target.path.empty()) {
    return make_error(ErrorKind::input, file + ": cannot set the Argo CD images of '" + match +
                                            "': the target reference has no repository");
  }
  auto entries = entries_of(text, file, application);
  if (!entries) {
    return entries.error();
  }
  const Source source(text);
  std::vector<splice::Edit> edits;
  std::vector<std::string> expected;  // every entry as it must read after the edit
  for (const auto& entry : *entries) {
    auto reference = matching(file, entry, match);
    if (!reference) {
      return reference.error();
    }
    const std::string& current = entry.node.Scalar();
    if (!*reference) {
      expected.push_back(current);
      continue;
    }
    // The entry keeps its form and its spelling of the repository.
    const EntryText parts = split(current);
    std::string wanted;
    if (!parts.prefix.empty() || target.same_repository(**reference)) {
      wanted = parts.prefix + target.spelled_as(**reference).to_string();
    } else {
      wanted = parts.name + "=" + target.to_string();
    }
    expected.push_back(wanted);
    if (current == wanted) {
      continue;
    }
    const auto span = splice::locate_scalar(source, entry.node);
    if (entry.alias || span.shape != Shape::editable) {
      return splice::error_at(file, entry.node.Mark(),
                              "cannot edit " + entry.label + " in place: " +
                                  splice::describe(entry.alias ? Shape::alias : span.shape));
    }
    if (std::any_of(edits.begin(), edits.end(),
                    [&](const splice::Edit& edit) { return edit.begin == span.begin; })) {
      return splice::error_at(
          file, entry.node.Mark(),
          "cannot edit " + entry.label + " in place: " + splice::describe(Shape::alias));
    }
    edits.push_back(splice::replace(span, wanted));
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  if (edits.empty()) {
    return std::pair{std::move(*edited), 0};
  }
  // Read back: every entry is what it must be, and there are as many.
  const auto guard_failed = [&](const std::string& why) -> Result<std::pair<std::string, int>> {
    return make_error(ErrorKind::internal, file + ": editing the Argo CD images of '" + match +
                                               "' did not give the expected YAML (" + why + ")");
  };
  auto read_back = entries_of(*edited, file, application);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  std::vector<std::string> actual;
  for (const auto& entry : *read_back) {
    actual.push_back(entry.node.Scalar());
  }
  if (actual != expected) {
    return guard_failed("the images do not read back as written");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
