#include "engine/promoter/targets.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <system_error>

#include "engine/overlay/argocd.hpp"
#include "engine/overlay/helm.hpp"
#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/manifests.hpp"
#include "engine/overlay/setters.hpp"
#include "engine/util/files.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t k_max_target_file = 16u << 20;

enum class Kind { kustomize, helm, manifests, setters, argocd };

/// One file of the target and how it holds images.
struct Place {
  Kind kind;
  std::string file;  ///< relative to the root
  const pipeline::HelmTarget* helm = nullptr;
  const pipeline::ArgoCdTarget* argocd = nullptr;
};

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
    out.push_back(Place{Kind::kustomize,
                        (*relative == "." ? "" : *relative + "/") + file->filename().string()});
  }
  for (const auto& values : stage.target.helm) {
    const auto relative = resolver.relative(values.file);
    if (!relative) {
      return outside(stage, values.file);
    }
    out.push_back(Place{Kind::helm, *relative, &values});
  }
  for (const auto& [paths, kind] : {std::pair{&stage.target.manifests, Kind::manifests},
                                    std::pair{&stage.target.setters, Kind::setters}}) {
    for (const auto& path : *paths) {
      auto files = files_of(resolver, path, stage);
      if (!files) {
        return files.error();
      }
      for (auto& file : *files) {
        out.push_back(Place{kind, std::move(file)});
      }
    }
  }
  for (const auto& applications : stage.target.argocd) {
    auto files = files_of(resolver, applications.path, stage);
    if (!files) {
      return files.error();
    }
    for (auto& file : *files) {
      out.push_back(Place{Kind::argocd, std::move(file), nullptr, &applications});
    }
  }
  return out;
}

/// The target's files, read once, with their edited contents.
class Texts {
 public:
  explicit Texts(fs::path root) : m_root(std::move(root)), m_within(m_root) {}

  Result<std::string*> get(const std::string& file) {
    auto it = m_files.find(file);
    if (it == m_files.end()) {
      // A file of the target (a kustomization in a named directory) may itself be a symlink.
      if (!m_within(file)) {
        return make_error(ErrorKind::config,
                          file + ": leads out of the repository through a symlink");
      }
      auto text = util::read_file(m_root / file, k_max_target_file);
      if (!text) {
        return text.error();
      }
      it = m_files.emplace(file, std::pair{*text, *text}).first;
    }
    return &it->second.second;
  }

  std::vector<FileChange> changes() const {
    std::vector<FileChange> out;
    for (const auto& [file, texts] : m_files) {
      if (texts.first != texts.second) {
        out.push_back(FileChange{file, texts.first, texts.second});
      }
    }
    return out;
  }

 private:
  fs::path m_root;
  util::Within m_within;
  std::map<std::string, std::pair<std::string, std::string>> m_files;  // before, after
};

/// The names a pipeline image goes by in manifests: its match name, and its repository when
/// that differs.
std::vector<std::string> manifest_names(const pipeline::ImageSpec& image) {
  std::vector<std::string> out{image.match};
  if (!image::same_repository(image.repository, image.match)) {
    out.push_back(image.repository);
  }
  return out;
}

/// What a target holds, which images each of its files holds, and where an image's value is
/// written empty.
struct Held {
  TargetImages images;
  std::map<std::string, std::set<std::string>> by_file;
  EmptyValues empty;
};

void add(Held& out, const std::string& file, const std::string& name,
         const image::Reference& reference) {
  out.by_file[file].insert(name);
  auto& found = out.images[name];
  // Docker Hub's spellings of one reference (`redis:7`, `docker.io/library/redis:7`) agree.
  if (std::none_of(found.begin(), found.end(), [&](const image::Reference& known) {
        return known.canonical() == reference.canonical();
      })) {
    found.push_back(reference);
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

Result<void> read_place(const pipeline::Pipeline& pipeline, const Place& place,
                        const std::string& text, Held& out) {
  switch (place.kind) {
    case Kind::kustomize:
      for (const auto& image : pipeline.images) {
        auto reference = overlay::get_image(text, place.file, image.match);
        if (!reference) {
          return reference.error();
        }
        if (reference->has_value()) {
          add(out, place.file, image.name, **reference);
        }
      }
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
        auto references =
            overlay::get_argocd_images(text, place.file, image.match, place.argocd->application);
        if (!references) {
          return references.error();
        }
        for (const auto& reference : *references) {
          add(out, place.file, image.name, reference);
        }
      }
      break;
  }
  return {};
}

/// Fails (config) when two images live in one place of this file (a Helm value, an entry or
/// image of one kustomize, manifest or Argo CD name), at least one of them is being set, and
/// `given` (the edits, and what the target holds for the other images) gives them different
/// values: whichever were written last would win. Setter markers name one image each.
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
  if (place.kind == Kind::setters) {
    return {};
  }
  for (auto first = given.begin(); first != given.end(); ++first) {
    for (auto second = std::next(first); second != given.end(); ++second) {
      const pipeline::ImageSpec& a = *pipeline.find_image(first->first);
      const pipeline::ImageSpec& b = *pipeline.find_image(second->first);
      if (setting(first->first, second->first) && image::same_repository(a.match, b.match) &&
          first->second.canonical() != second->second.canonical()) {
        return conflict(place.file, first->first, first->second.to_string(), second->first,
                        second->second.to_string(), "'" + a.match + "'");
      }
    }
  }
  return {};
}

}  // namespace

fs::path target_base(const pipeline::Pipeline& pipeline, const fs::path& root) {
  return pipeline.repository.is_local() ? pipeline.base_dir : root;
}

Result<std::vector<std::string>> target_paths(const pipeline::Pipeline& pipeline,
                                              const pipeline::Stage& stage, const fs::path& root) {
  const Resolver resolver(root, target_base(pipeline, root));
  std::vector<std::string> out;
  for (const auto& path : stage.target.paths()) {
    const auto relative = resolver.relative(path);
    if (!relative) {
      return outside(stage, path);
    }
    out.push_back(*relative);
  }
  return out;
}

namespace {

Result<Held> read_places(const pipeline::Pipeline& pipeline, const std::vector<Place>& places,
                         Texts& texts) {
  Held out;
  for (const auto& place : places) {
    auto text = texts.get(place.file);
    if (!text) {
      return text.error();
    }
    if (auto read = read_place(pipeline, place, **text, out); !read) {
      return read.error();
    }
  }
  return out;
}

}  // namespace

struct TargetReading::State {
  const pipeline::Stage* stage;
  fs::path root;
  std::vector<Place> places;
  Texts texts;
  Held held;
};

TargetReading::TargetReading() = default;
TargetReading::~TargetReading() = default;
TargetReading::TargetReading(TargetReading&&) noexcept = default;
TargetReading& TargetReading::operator=(TargetReading&&) noexcept = default;

namespace {

Result<std::unique_ptr<TargetReading::State>> read_state(const pipeline::Pipeline& pipeline,
                                                         const pipeline::Stage& stage,
                                                         const fs::path& root) {
  auto places = places_of(pipeline, stage, root);
  if (!places) {
    return places.error();
  }
  Texts texts(root);
  auto held = read_places(pipeline, *places, texts);
  if (!held) {
    return held.error();
  }
  return std::make_unique<TargetReading::State>(
      TargetReading::State{&stage, root, std::move(*places), std::move(texts), std::move(*held)});
}

}  // namespace

Result<TargetImages> read_target(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const fs::path& root, TargetReading* keep, EmptyValues* empty) {
  auto state = read_state(pipeline, stage, root);
  if (!state) {
    return state.error();
  }
  TargetImages images = (*state)->held.images;
  if (empty != nullptr) {
    *empty = (*state)->held.empty;
  }
  if (keep != nullptr) {
    keep->state = std::move(*state);
  }
  return images;
}

Result<std::vector<FileChange>> edit_target(const pipeline::Pipeline& pipeline,
                                            const pipeline::Stage& stage, const fs::path& root,
                                            const std::map<std::string, image::Reference>& images,
                                            TargetReading* reading) {
  std::unique_ptr<TargetReading::State> state;
  if (reading != nullptr && reading->state && reading->state->stage == &stage &&
      reading->state->root == root) {
    state = std::move(reading->state);
  } else {
    auto read = read_state(pipeline, stage, root);
    if (!read) {
      return read.error();
    }
    state = std::move(*read);
  }
  if (reading != nullptr) {
    reading->state.reset();
  }
  Texts& texts = state->texts;
  Held& held = state->held;
  std::set<std::string> placed;
  for (const auto& [name, references] : held.images) {
    placed.insert(name);
  }
  // What the candidate gives each image: the edits, and for the others what the target holds.
  std::map<std::string, image::Reference> given = images;
  for (const auto& [name, references] : held.images) {
    given.emplace(name, references.front());
  }
  for (const auto& place : state->places) {
    auto found = texts.get(place.file);
    if (!found) {
      return found.error();
    }
    if (auto shared = check_shared_places(pipeline, place, **found, given, images); !shared) {
      return shared.error();
    }
  }
  for (const auto& place : state->places) {
    auto found = texts.get(place.file);
    if (!found) {
      return found.error();
    }
    std::string& text = **found;
    switch (place.kind) {
      case Kind::kustomize:
        for (const auto& [name, reference] : images) {
          const pipeline::ImageSpec& image = *pipeline.find_image(name);
          if (held.images.contains(name) && !held.by_file[place.file].contains(name)) {
            continue;  // the image lives elsewhere in the target
          }
          auto edited = overlay::set_image(text, place.file, image.match, reference);
          if (!edited) {
            return edited.error();
          }
          text = std::move(*edited);
          placed.insert(name);
        }
        break;
      case Kind::helm:
        for (const auto& [name, paths] : place.helm->images) {
          const auto wanted = images.find(name);
          if (wanted == images.end()) {
            continue;
          }
          auto edited = overlay::set_helm_image(text, place.file, paths, wanted->second,
                                                place.helm->document);
          if (!edited) {
            return edited.error();
          }
          text = std::move(*edited);
          placed.insert(name);  // an empty value (a chart's `tag: ""`) is a place, too
        }
        break;
      case Kind::manifests:
        for (const auto& [name, reference] : images) {
          for (const auto& match : manifest_names(*pipeline.find_image(name))) {
            auto edited = overlay::set_manifest_images(text, place.file, match, reference);
            if (!edited) {
              return edited.error();
            }
            text = std::move(edited->first);
          }
        }
        break;
      case Kind::setters: {
        auto edited = overlay::set_marked_images(text, place.file, images);
        if (!edited) {
          return edited.error();
        }
        text = std::move(edited->first);
        break;
      }
      case Kind::argocd:
        for (const auto& [name, reference] : images) {
          auto edited =
              overlay::set_argocd_images(text, place.file, pipeline.find_image(name)->match,
                                         reference, place.argocd->application);
          if (!edited) {
            return edited.error();
          }
          text = std::move(edited->first);
        }
        break;
    }
  }
  for (const auto& [name, reference] : images) {
    if (!placed.contains(name)) {
      std::string paths;
      for (const auto& path : stage.target.paths()) {
        paths += (paths.empty() ? "" : ", ") + path;
      }
      return make_error(ErrorKind::config,
                        stage.target.where.to_string() + ": stage '" + stage.name +
                            "' has no place for image '" + name + "' in its target (" + paths +
                            "): add it to a kustomization's images:, a helm images: entry, a "
                            "manifest, a $imagepolicy marker or an Argo CD Application's "
                            "kustomize.images");
    }
  }
  return texts.changes();
}

}  // namespace promote::promoter
