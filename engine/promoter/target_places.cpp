#include "engine/promoter/target_places.hpp"

#include <algorithm>
#include <optional>
#include <system_error>

#include "engine/overlay/argocd.hpp"
#include "engine/overlay/argocd_helm.hpp"
#include "engine/overlay/helm.hpp"
#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/manifests.hpp"
#include "engine/overlay/setters.hpp"
#include "engine/util/files.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace detail {

namespace {

Error outside(const pipeline::Stage& stage, const std::string& path) {
  return make_error(ErrorKind::config, stage.target.where.to_string() + ": target path '" + path +
                                           "' leads out of the repository");
}

bool is_yaml(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml";
}

/// Resolves paths of the target against the repository root: each made canonical once
/// (symlinks followed) and checked to stay inside it.
class Resolver {
 public:
  Resolver(const fs::path& root, const fs::path& base)
      : m_root(fs::weakly_canonical(root)), m_base(fs::weakly_canonical(base)) {}

  /// `path` (relative to the base, or absolute) relative to the root in git's form, or
  /// nullopt when it leads out.
  std::optional<std::string> relative(const fs::path& path) const {
    std::error_code ec;
    const fs::path canonical = util::canonical_below(m_base, path, ec);
    if (ec) {
      throw fs::filesystem_error("cannot resolve", m_base / path, ec);
    }
    const fs::path inside = canonical.lexically_relative(m_root);
    const std::string text = inside.generic_string();
    if (inside.empty() || text == ".." || text.starts_with("../")) {
      return std::nullopt;
    }
    return text;
  }
  const fs::path& root() const { return m_root; }

 private:
  fs::path m_root;
  fs::path m_base;
};

/// The YAML files of a manifests or setters path: the file itself, or the *.yaml and *.yml
/// files below a directory (sorted; symlinks that lead out of the repository skipped).
Result<std::vector<std::string>> files_of(const Resolver& resolver, const std::string& path,
                                          const pipeline::Stage& stage) {
  const auto relative = resolver.relative(path);
  if (!relative) {
    return outside(stage, path);
  }
  const fs::path absolute = resolver.root() / *relative;
  std::error_code error;
  if (!fs::exists(absolute, error)) {
    return make_error(ErrorKind::input,
                      "stage '" + stage.name + "': target path '" + path + "' does not exist");
  }
  std::vector<std::string> out;
  if (!fs::is_directory(absolute, error)) {
    out.push_back(*relative);
    return out;
  }
  for (fs::recursive_directory_iterator it(absolute, error), end; it != end && !error;
       it.increment(error)) {
    if (!is_yaml(it->path()) || !it->is_regular_file(error)) {
      continue;
    }
    if (it->is_symlink(error)) {
      if (auto inside = resolver.relative(it->path())) {
        out.push_back(*inside);
      }
    } else {
      out.push_back(it->path().lexically_relative(resolver.root()).generic_string());
    }
  }
  if (error) {
    return make_error(ErrorKind::input, "stage '" + stage.name + "': cannot list target path '" +
                                            path + "': " + error.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

bool pins_charts(const Place& place) {
  return place.kind == Kind::charts || place.kind == Kind::argocd;
}

overlay::ChartRef chart_ref(const pipeline::ChartSpec& chart, const Place& place) {
  overlay::ChartRef out;
  out.chart = chart.chart;
  out.repository = chart.repository;
  if (place.charts != nullptr) {
    out.elements = place.charts->elements;
    out.chart_version = place.charts->chart_version;
    out.app_version = place.charts->app_version;
  }
  return out;
}

Result<std::vector<Place>> places_of(const pipeline::Pipeline& pipeline,
                                     const pipeline::Stage& stage, const fs::path& root) {
  const Resolver resolver(root, target_base(pipeline, root));
  std::vector<Place> out;
  for (const auto& dir : stage.target.kustomize) {
    const auto relative = resolver.relative(dir);
    if (!relative) {
      return outside(stage, dir);
    }
    auto file = overlay::find_kustomization(resolver.root() / *relative);
    if (!file) {
      return file.error();
    }
    const std::string dir_name = *relative == "." ? "" : *relative;
    out.push_back(Place{Kind::kustomize,
                        (dir_name.empty() ? "" : dir_name + "/") + file->filename().string(),
                        nullptr, dir_name});
  }
  for (const auto& values : stage.target.helm) {
    const auto relative = resolver.relative(values.file);
    if (!relative) {
      return outside(stage, values.file);
    }
    out.push_back(Place{Kind::helm, *relative, &values, ""});
  }
  for (const auto& [paths, kind] : {std::pair{&stage.target.manifests, Kind::manifests},
                                    std::pair{&stage.target.setters, Kind::setters}}) {
    for (const auto& path : *paths) {
      auto files = files_of(resolver, path, stage);
      if (!files) {
        return files.error();
      }
      for (auto& file : *files) {
        out.push_back(Place{kind, std::move(file), nullptr, ""});
      }
    }
  }
  for (const auto& applications : stage.target.argocd) {
    auto files = files_of(resolver, applications.path, stage);
    if (!files) {
      return files.error();
    }
    for (auto& file : *files) {
      out.push_back(Place{Kind::argocd, std::move(file), nullptr, "", &applications});
    }
  }
  for (const auto& charts : stage.target.charts) {
    auto files = files_of(resolver, charts.path, stage);
    if (!files) {
      return files.error();
    }
    for (auto& file : *files) {
      out.push_back(Place{Kind::charts, std::move(file), nullptr, "", nullptr, &charts});
    }
  }
  return out;
}

std::vector<std::string> manifest_names(const pipeline::ImageSpec& image) {
  std::vector<std::string> out{image.match};
  if (!image::same_repository(image.repository, image.match)) {
    out.push_back(image.repository);
  }
  return out;
}

namespace {

void add(Held& out, const std::string& file, const std::string& name,
         const image::Reference& reference) {
  // Docker Hub's spellings of one reference (`redis:7`, `docker.io/library/redis:7`) agree.
  for (auto* found : {&out.images[name], &out.places[file][name]}) {
    if (std::none_of(found->begin(), found->end(), [&](const image::Reference& known) {
          return known.canonical() == reference.canonical();
        })) {
      found->push_back(reference);
    }
  }
}

/// A tag-only Helm image (no repository path) takes the pipeline's repository.
image::Reference with_repository(image::Reference reference, const pipeline::ImageSpec& image) {
  if (reference.path.empty()) {
    if (auto repository = image::parse(image.repository)) {
      reference.registry = repository->registry;
      reference.path = repository->path;
    }
  }
  return reference;
}

/// The images an overlay renders, wherever they are set. An image no resource renders is taken
/// from the overlay's own images: entry, if it has one, only where the rendering cannot tell:
/// when the overlay renders no container, or some of its resources could not be read.
Result<void> read_kustomize(const pipeline::Pipeline& pipeline, const Place& place, Texts& texts,
                            Held& out) {
  auto rendering = overlay::render_images(place.dir, texts.view(), &out.cache);
  if (!rendering) {
    return rendering.error();
  }
  for (const auto& warning : rendering->warnings) {
    if (std::find(out.warnings.begin(), out.warnings.end(), warning) == out.warnings.end()) {
      out.warnings.push_back(warning);
    }
  }
  for (const auto& image : pipeline.images) {
    bool rendered = false;
    for (const auto& found : rendering->images) {
      if (!is_image(image, found.value)) {
        continue;
      }
      auto reference = image::parse(found.value);
      if (!reference) {
        return make_error(ErrorKind::input, found.origin.where() + ": " + found.resource + " " +
                                                found.container + ": " + reference.error().message);
      }
      add(out, place.file, image.name, *reference);
      rendered = true;
    }
    // An entry that no rendered image meets says nothing of what the overlay renders, unless
    // the overlay's resources could not all be read (remote, missing) or it renders no
    // container at all (its workloads come from elsewhere).
    if (rendered || (!rendering->images.empty() && rendering->warnings.empty())) {
      continue;
    }
    auto text = texts.get(place.file);
    if (!text) {
      return text.error();
    }
    auto reference = overlay::get_image(**text, place.file, image.match);
    if (!reference) {
      return reference.error();
    }
    if (reference->has_value()) {
      add(out, place.file, image.name, **reference);
    }
  }
  out.renderings[place.file] = std::move(*rendering);
  return {};
}

/// The versions of the pipeline's charts that a place pins.
Result<void> read_charts(const pipeline::Pipeline& pipeline, const Place& place,
                         const std::string& text, Held& out) {
  for (const auto& chart : pipeline.charts) {
    auto found = overlay::get_chart_versions(text, place.file, chart_ref(chart, place));
    if (!found) {
      return found.error();
    }
    auto& places = out.charts[chart.name];
    places.insert(places.end(), found->begin(), found->end());
  }
  return {};
}

Result<void> read_place(const pipeline::Pipeline& pipeline, const Place& place, Texts& texts,
                        Held& out) {
  if (place.kind == Kind::kustomize) {
    return read_kustomize(pipeline, place, texts, out);
  }
  auto got = texts.get(place.file);
  if (!got) {
    return got.error();
  }
  const std::string& text = **got;
  if (pins_charts(place)) {
    if (auto read = read_charts(pipeline, place, text, out); !read) {
      return read;
    }
  }
  switch (place.kind) {
    case Kind::kustomize:
    case Kind::charts:
      break;
    case Kind::helm:
      for (const auto& [name, paths] : place.helm->images) {
        auto reading = overlay::read_helm_image(text, place.file, paths, place.helm->document);
        if (!reading) {
          return reading.error();
        }
        if (reading->reference) {
          add(out, place.file, name,
              with_repository(*reading->reference, *pipeline.find_image(name)));
        } else if (!reading->empty.empty()) {
          out.empty.emplace(name, reading->empty);
        }
      }
      break;
    case Kind::manifests:
      for (const auto& image : pipeline.images) {
        for (const auto& match : manifest_names(image)) {
          auto references = overlay::get_manifest_images(text, place.file, match);
          if (!references) {
            return references.error();
          }
          for (const auto& reference : *references) {
            add(out, place.file, image.name, reference);
          }
        }
      }
      break;
    case Kind::setters: {
      auto references = overlay::get_marked_images(text, place.file, pipeline.image_names());
      if (!references) {
        return references.error();
      }
      for (const auto& [name, reference] : *references) {
        add(out, place.file, name, reference);
      }
      break;
    }
    case Kind::argocd:
      for (const auto& image : pipeline.images) {
        // An image the entry's helm: names lives in the Helm values, the others in
        // kustomize.images.
        const auto helm = place.argocd->helm.find(image.name);
        auto references = helm == place.argocd->helm.end()
                              ? overlay::get_argocd_images(text, place.file, image.match,
                                                           place.argocd->application)
                              : overlay::get_argocd_helm_images(text, place.file, helm->second,
                                                                place.argocd->application);
        if (!references) {
          return references.error();
        }
        for (const auto& reference : *references) {
          add(out, place.file, image.name, with_repository(reference, image));
        }
      }
      break;
  }
  return {};
}

/// The value each path of `where` gets for `reference`, as the Helm editors write them, in
/// Docker Hub's full form (`redis` and `docker.io/library/redis` give the same values).
std::vector<std::pair<std::string, std::string>> helm_part_values(
    const overlay::HelmImage& where, const image::Reference& reference) {
  const image::Reference full = reference.canonical();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [path, value] :
       {std::pair{&where.image, full.to_string()}, std::pair{&where.registry, full.registry},
        std::pair{&where.repository, where.registry.empty() ? full.repository() : full.path},
        std::pair{&where.tag, full.tag}, std::pair{&where.digest, full.digest}}) {
    if (!path->empty()) {
      out.emplace_back(*path, value);
    }
  }
  return out;
}

}  // namespace

bool is_image(const pipeline::ImageSpec& image, const std::string& value) {
  const std::string name = overlay::split_image(value).name;
  return image::same_repository(name, image.match) ||
         image::same_repository(name, image.repository);
}

bool holds(const image::Reference& held, const image::Reference& wanted) {
  return held.tag == wanted.tag && held.digest == wanted.digest &&
         (held.path.empty() || held.same_repository(wanted));
}

Result<void> check_shared_places(const pipeline::Pipeline& pipeline, const Place& place,
                                 const std::string& text,
                                 const std::map<std::string, image::Reference>& given,
                                 const std::map<std::string, image::Reference>& images) {
  const auto setting = [&](const std::string& a, const std::string& b) {
    return images.contains(a) || images.contains(b);
  };
  const auto conflict = [](const std::string& where, const std::string& first,
                           const std::string& first_value, const std::string& second,
                           const std::string& second_value, const std::string& what) {
    return make_error(ErrorKind::config,
                      where + ": images '" + first + "' and '" + second + "' both live at " + what +
                          " and the candidate gives them different values ('" + first_value +
                          "' for " + first + ", '" + second_value + "' for " + second +
                          "); give them the same value, or each image a place of its own");
  };
  if (place.kind == Kind::helm) {
    std::map<std::string, std::pair<std::string, overlay::HelmValue>> seen;  // path -> image, value
    for (const auto& [name, paths] : place.helm->images) {
      const auto wanted = given.find(name);
      if (wanted == given.end()) {
        continue;
      }
      auto values =
          overlay::helm_values(text, place.file, paths, wanted->second, place.helm->document);
      if (!values) {
        return values.error();
      }
      for (auto& value : *values) {
        const auto [it, inserted] = seen.emplace(value.path, std::pair{name, value});
        if (!inserted && it->second.second.value != value.value &&
            setting(it->second.first, name)) {
          return conflict(value.where.empty() ? place.file : value.where, it->second.first,
                          it->second.second.value, name, value.value, value.path);
        }
      }
    }
    return {};
  }
  if (place.kind == Kind::setters || place.kind == Kind::charts) {
    return {};
  }
  // An Argo CD Application's Helm values: images whose value paths meet.
  const auto in_helm = [&](const std::string& name) {
    return place.kind == Kind::argocd && place.argocd->helm.contains(name);
  };
  std::map<std::string, std::pair<std::string, std::string>> seen;  // path -> image, value
  for (const auto& [name, reference] : given) {
    if (!in_helm(name)) {
      continue;
    }
    for (const auto& [path, value] : helm_part_values(place.argocd->helm.at(name), reference)) {
      const auto [it, inserted] = seen.emplace(path, std::pair{name, value});
      if (!inserted && it->second.second != value && setting(it->second.first, name)) {
        return conflict(place.file, it->second.first, it->second.second, name, value, path);
      }
    }
  }
  for (auto first = given.begin(); first != given.end(); ++first) {
    for (auto second = std::next(first); second != given.end(); ++second) {
      const pipeline::ImageSpec& a = *pipeline.find_image(first->first);
      const pipeline::ImageSpec& b = *pipeline.find_image(second->first);
      if (in_helm(a.name) || in_helm(b.name)) {
        continue;
      }
      if (setting(first->first, second->first) && image::same_repository(a.match, b.match) &&
          first->second.canonical() != second->second.canonical()) {
        return conflict(place.file, first->first, first->second.to_string(), second->first,
                        second->second.to_string(), "'" + a.match + "'");
      }
    }
  }
  return {};
}

Result<Held> read_places(const pipeline::Pipeline& pipeline, const std::vector<Place>& places,
                         Texts& texts, overlay::RenderCache cache) {
  Held out;
  out.cache = std::move(cache);
  // A first reading reads the overlays' files ahead and parses them on several threads (a
  // reading back after edits finds them parsed).
  if (out.cache.parse_count() == 0) {
    std::vector<std::string> overlays;
    for (const auto& place : places) {
      if (place.kind == Kind::kustomize) {
        overlays.push_back(place.dir);
      }
    }
    overlay::prefetch(overlays, texts.view(), out.cache);
  }
  for (const auto& place : places) {
    if (auto read = read_place(pipeline, place, texts, out); !read) {
      return read.error();
    }
  }
  return out;
}

}  // namespace detail

fs::path target_base(const pipeline::Pipeline& pipeline, const fs::path& root) {
  return pipeline.repository.is_local() ? pipeline.base_dir : root;
}

Result<std::vector<std::string>> target_paths(const pipeline::Pipeline& pipeline,
                                              const pipeline::Stage& stage, const fs::path& root) {
  const detail::Resolver resolver(root, target_base(pipeline, root));
  std::vector<std::string> out;
  for (const auto& path : stage.target.paths()) {
    const auto relative = resolver.relative(path);
    if (!relative) {
      return detail::outside(stage, path);
    }
    if (std::find(out.begin(), out.end(), *relative) == out.end()) {
      out.push_back(*relative);  // a file may hold images and charts both
    }
  }
  return out;
}

}  // namespace promote::promoter
