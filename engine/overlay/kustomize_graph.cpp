#include "engine/overlay/kustomize_graph.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/kustomize_model.hpp"

namespace promote::overlay {

namespace {

using kmodel::Container;
using kmodel::Resource;
using kmodel::scalar_at;
using kmodel::Text;

/// Kinds that have no namespace and that kustomize's namespace transformer leaves alone.
const std::set<std::string, std::less<>> k_cluster_kinds = {"Namespace",
                                                            "ClusterRole",
                                                            "ClusterRoleBinding",
                                                            "CustomResourceDefinition",
                                                            "PersistentVolume",
                                                            "StorageClass",
                                                            "PriorityClass",
                                                            "APIService",
                                                            "MutatingWebhookConfiguration",
                                                            "ValidatingWebhookConfiguration"};
constexpr int k_max_depth = 64;

/// `dir/entry` made lexically normal, in git's form; nullopt when it leaves the root.
std::optional<std::string> join(const std::string& dir, const std::string& entry) {
  const std::filesystem::path joined =
      (std::filesystem::path(dir.empty() ? "." : dir) / entry).lexically_normal();
  std::string text = joined.generic_string();
  while (text.size() > 1 && text.back() == '/') {
    text.pop_back();
  }
  if (text == ".") {
    return std::string();
  }
  if (text == ".." || text.starts_with("../") || joined.is_absolute()) {
    return std::nullopt;
  }
  return text;
}

/// Whether a `resources:` entry is a remote target kustomize would fetch.
bool is_remote(const std::string& entry) {
  return entry.find("://") != std::string::npos || entry.starts_with("git@") ||
         entry.starts_with("github.com/") || entry.starts_with("gitlab.com/") ||
         entry.starts_with("bitbucket.org/") || entry.find("?ref=") != std::string::npos;
}

/// The entries of a list-of-strings field, with their nodes.
std::vector<YAML::Node> list_of(const YAML::Node& map, std::string_view key) {
  std::vector<YAML::Node> out;
  const YAML::Node node = kmodel::walk(map, {std::string(key)});
  if (node.IsDefined() && node.IsSequence()) {
    for (const auto& item : node) {
      out.push_back(item);
    }
  }
  return out;
}

}  // namespace

struct RenderCache::Entries {
  /// Every text read or parsed, with its documents once parsed. A key's address is stable: the
  /// texts a directory was built from point at it.
  std::map<std::string, std::optional<std::vector<YAML::Node>>, std::less<>> texts;
  std::size_t parses = 0;

  struct Built {
    std::string file;  ///< the directory's kustomization
    std::vector<Resource> resources;
    std::vector<std::string> files;
    std::vector<const std::string*> read;  ///< the text of each of `files` when built
    std::vector<std::string> warnings;
  };
  std::map<std::string, Built> by_dir;

  const std::string* intern(std::string_view text) {
    auto found = texts.find(text);
    if (found == texts.end()) {
      found = texts.emplace(std::string(text), std::nullopt).first;
    }
    return &found->first;
  }
};

RenderCache::RenderCache() : entries(std::make_unique<Entries>()) {}
RenderCache::~RenderCache() = default;
RenderCache::RenderCache(RenderCache&&) noexcept = default;
RenderCache& RenderCache::operator=(RenderCache&&) noexcept = default;

std::size_t RenderCache::parse_count() const {
  return entries->parses;
}

namespace kmodel {

Result<std::vector<YAML::Node>> load_documents(std::string_view text, const std::string& file,
                                               RenderCache* cache) {
  if (cache == nullptr) {
    return splice::load_all(text, file);
  }
  auto& texts = cache->entries->texts;
  auto found = texts.find(text);
  if (found != texts.end() && found->second) {
    return *found->second;
  }
  // A text that does not parse is not kept: its error names the file it came from.
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  ++cache->entries->parses;
  if (found == texts.end()) {
    found = texts.emplace(std::string(text), std::nullopt).first;
  }
  found->second = *documents;
  return documents;
}

}  // namespace kmodel

namespace {

/// Whether every file a cached directory was built from still holds the text it held.
bool unchanged(const RenderCache::Entries::Built& built, const RepositoryFiles& files) {
  for (std::size_t i = 0; i < built.files.size(); ++i) {
    auto text = files.read(built.files[i]);
    if (!text || **text != *built.read[i]) {
      return false;
    }
  }
  return true;
}

class Renderer {
 public:
  Renderer(std::string top, const RepositoryFiles& files, RenderCache* cache)
      : m_top(std::move(top)), m_files(files), m_cache(cache) {}

  Result<Rendering> run() {
    std::vector<Resource> resources;
    auto kustomization = build(m_top, false, resources, nullptr, 0);
    if (!kustomization) {
      return kustomization.error();
    }
    m_out.kustomization = *kustomization;
    for (const auto& resource : resources) {
      for (const auto& [key, list] : {std::pair{"initContainers", &resource.init_containers},
                                      std::pair{"containers", &resource.containers}}) {
        for (const Container& container : *list) {
          if (!container.image.present) {
            continue;
          }
          RenderedImage image;
          image.resource = resource.kind + "/" + resource.name;
          image.container = std::string(key) + "[" + container.name + "]";
          image.value = container.image.value;
          image.origin = container.image.origin;
          image.patched_by = container.image.patched_by;
          m_out.images.push_back(std::move(image));
        }
      }
    }
    return std::move(m_out);
  }

 private:
  /// The parsed documents of a file, kept for the origins that point into it.
  struct Loaded {
    std::unique_ptr<splice::Source> source;
    std::vector<YAML::Node> documents;
  };

  Result<Loaded*> load(const std::string& file) {
    if (auto found = m_loaded.find(file); found != m_loaded.end()) {
      return &found->second;
    }
    auto text = m_files.read(file);
    if (!text) {
      return text.error();
    }
    m_out.files.push_back(file);
    auto documents = kmodel::load_documents(**text, file, m_cache);
    if (!documents) {
      return documents.error();
    }
    Loaded loaded{std::make_unique<splice::Source>(**text), std::move(*documents)};
    return &m_loaded.emplace(file, std::move(loaded)).first->second;
  }

  Text text_of(const std::string& file, const Loaded& loaded) const {
    Text text;
    text.file = file;
    text.file_source = loaded.source.get();
    return text;
  }

  /// The text of an inline patch: a literal block in `owner` at `node`.
  Text inline_text(const Text& owner, const YAML::Node& node) const {
    Text text = owner;
    text.content = node.Scalar();
    text.is_inline = true;
    // The block's content starts on the line after its `|` header; its indentation is that of
    // its first line that is not blank.
    const auto [line, column] = owner.position(node.Mark());
    (void)column;
    text.first_line = line;  // 0-based line after the header
    text.indent = 0;
    if (owner.file_source != nullptr) {
      for (int at = text.first_line; at < owner.file_source->line_count(); ++at) {
        const std::string_view content = owner.file_source->line_text(at);
        const auto first = content.find_first_not_of(' ');
        if (first != std::string_view::npos && content[first] != '\r') {
          text.indent = first;
          break;
        }
      }
    }
    return text;
  }

  /// Resources of a file: its documents that are maps with a kind (and a List's items). A file
  /// that does not hold the word "containers" has no image to render and is not parsed.
  Result<void> read_resources(const std::string& file, std::vector<Resource>& out) {
    if (!m_loaded.contains(file)) {
      auto text = m_files.read(file);
      if (!text) {
        return text.error();
      }
      if ((*text)->find("ontainers") == std::string::npos) {
        m_out.files.push_back(file);
        return {};
      }
    }
    auto loaded = load(file);
    if (!loaded) {
      return loaded.error();
    }
    const Text text = text_of(file, **loaded);
    std::vector<YAML::Node> documents = (*loaded)->documents;
    for (std::size_t i = 0; i < documents.size(); ++i) {
      const YAML::Node& document = documents[i];
      if (!document.IsMap()) {
        continue;
      }
      if (scalar_at(document, "kind") == "List") {
        for (const auto& item : list_of(document, "items")) {
          documents.push_back(item);
        }
        continue;
      }
      Resource resource;
      resource.api_version = scalar_at(document, "apiVersion");
      resource.kind = scalar_at(document, "kind");
      const YAML::Node metadata = kmodel::walk(document, {"metadata"});
      resource.name = scalar_at(metadata, "name");
      resource.ns = scalar_at(metadata, "namespace");
      resource.names.push_back(resource.name);
      resource.namespaces.push_back(resource.ns);
      for (const auto& [key, into] : {std::pair{"labels", &resource.labels},
                                      std::pair{"annotations", &resource.annotations}}) {
        const YAML::Node map = kmodel::walk(metadata, {key});
        if (map.IsDefined() && map.IsMap()) {
          for (const auto& pair : map) {
            if (pair.first.IsScalar() && pair.second.IsScalar()) {
              (*into)[pair.first.Scalar()] = pair.second.Scalar();
            }
          }
        }
      }
      resource.pod_path = kmodel::find_pod_path(document);
      if (!resource.pod_path.empty()) {
        const YAML::Node pod = kmodel::walk(document, resource.pod_path);
        for (const auto key : {"initContainers", "containers"}) {
          const YAML::Node list = kmodel::walk(pod, {key});
          if (!list.IsDefined()) {
            continue;
          }
          auto containers = kmodel::read_containers(text, list, ImageOrigin::Kind::resource);
          if (!containers) {
            return containers.error();
          }
          *resource.list(key) = std::move(*containers);
        }
      }
      out.push_back(std::move(resource));
    }
    return {};
  }

  /// The kustomization file in `dir`; `why` (an entry that names the directory) labels the error.
  Result<std::string> find(const std::string& dir, const Text* from, const YAML::Node* why) {
    for (const auto name : k_kustomization_names) {
      const std::string file = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
      auto type = m_files.type(file);
      if (!type) {
        return type.error();
      }
      if (*type == RepositoryFiles::Type::file) {
        return file;
      }
    }
    const std::string what = "no kustomization.yaml in '" + (dir.empty() ? "." : dir) + "'";
    if (from != nullptr && why != nullptr) {
      return from->error_at(why->Mark(), what);
    }
    return make_error(ErrorKind::input, what);
  }

  /// Builds the kustomization (or Component) in `dir` into `resources`; returns its file. A
  /// kustomization (not a Component, which transforms what it is added to) is taken from the
  /// cache when it was built before.
  Result<std::string> build(const std::string& dir, bool component,
                            std::vector<Resource>& resources, const Text* from,
                            const YAML::Node* why) {
    if (component || m_cache == nullptr) {
      return build_here(dir, component, resources, from, why);
    }
    auto& cached = m_cache->entries->by_dir;
    if (auto found = cached.find(dir); found != cached.end() && unchanged(found->second, m_files)) {
      resources.insert(resources.end(), found->second.resources.begin(),
                       found->second.resources.end());
      m_out.files.insert(m_out.files.end(), found->second.files.begin(), found->second.files.end());
      m_out.warnings.insert(m_out.warnings.end(), found->second.warnings.begin(),
                            found->second.warnings.end());
      return found->second.file;
    }
    const std::size_t files_before = m_out.files.size();
    const std::size_t warnings_before = m_out.warnings.size();
    const std::size_t resources_before = resources.size();
    auto file = build_here(dir, component, resources, from, why);
    if (!file) {
      return file;
    }
    RenderCache::Entries::Built built;
    built.file = *file;
    built.resources.assign(resources.begin() + static_cast<std::ptrdiff_t>(resources_before),
                           resources.end());
    built.files.assign(m_out.files.begin() + static_cast<std::ptrdiff_t>(files_before),
                       m_out.files.end());
    for (const auto& read : built.files) {
      auto text = m_files.read(read);
      if (!text) {
        return text.error();
      }
      built.read.push_back(m_cache->entries->intern(**text));
    }
    built.warnings.assign(m_out.warnings.begin() + static_cast<std::ptrdiff_t>(warnings_before),
                          m_out.warnings.end());
    cached.insert_or_assign(dir, std::move(built));
    return file;
  }

  Result<std::string> build_here(const std::string& dir, bool component,
                                 std::vector<Resource>& resources, const Text* from,
                                 const YAML::Node* why) {
    if (static_cast<int>(m_stack.size()) >= k_max_depth ||
        std::find(m_stack.begin(), m_stack.end(), dir) != m_stack.end()) {
      const std::string what = "the kustomization in '" + dir + "' includes itself";
      return from != nullptr && why != nullptr ? from->error_at(why->Mark(), what)
                                               : make_error(ErrorKind::input, what);
    }
    auto file = find(dir, from, why);
    if (!file) {
      return file.error();
    }
    auto loaded = load(*file);
    if (!loaded) {
      return loaded.error();
    }
    const Text text = text_of(*file, **loaded);
    YAML::Node root;
    for (const auto& document : (*loaded)->documents) {
      if (!document.IsNull()) {
        root.reset(document);
        break;
      }
    }
    if (root.IsNull()) {
      return *file;
    }
    if (!root.IsMap()) {
      return text.error_at(root.Mark(), "a kustomization must be a map");
    }
    const bool is_component = scalar_at(root, "kind") == "Component";
    if (is_component != component) {
      const std::string what = component ? "'" + dir +
                                               "' is listed in components: but is not a "
                                               "kind: Component"
                                         : "'" + dir + "' is a Component: list it in components:";
      return from != nullptr && why != nullptr ? from->error_at(why->Mark(), what)
                                               : make_error(ErrorKind::input, what);
    }
    m_stack.push_back(dir);
    std::vector<YAML::Node> entries = list_of(root, "resources");
    for (const auto& base : list_of(root, "bases")) {
      entries.push_back(base);
    }
    for (const auto& entry : entries) {
      if (auto added = add_resource(dir, text, entry, resources); !added) {
        return added.error();
      }
    }
    for (const auto& entry : list_of(root, "components")) {
      if (!entry.IsScalar()) {
        return text.error_at(entry.Mark(), "a components: entry must be a path");
      }
      if (is_remote(entry.Scalar())) {
        warn_remote(text, entry);
        continue;
      }
      const auto path = join(dir, entry.Scalar());
      if (!path) {
        return outside(text, entry);
      }
      if (auto built = build(*path, true, resources, &text, &entry); !built) {
        return built.error();
      }
    }
    if (auto transformed = transform(dir, text, root, resources); !transformed) {
      return transformed.error();
    }
    m_stack.pop_back();
    return *file;
  }

  void warn_remote(const Text& text, const YAML::Node& entry) {
    const auto [line, column] = text.position(entry.Mark());
    m_out.warnings.push_back(text.file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                             ": remote resource '" + entry.Scalar() +
                             "' is not fetched; images it holds are not seen");
  }

  Error outside(const Text& text, const YAML::Node& entry) const {
    const auto [line, column] = text.position(entry.Mark());
    return make_error(ErrorKind::config, text.file + ":" + std::to_string(line) + ":" +
                                             std::to_string(column) + ": '" + entry.Scalar() +
                                             "' leads out of the repository");
  }

  Result<void> add_resource(const std::string& dir, const Text& text, const YAML::Node& entry,
                            std::vector<Resource>& resources) {
    if (!entry.IsScalar()) {
      return text.error_at(entry.Mark(), "a resources: entry must be a path");
    }
    if (is_remote(entry.Scalar())) {
      warn_remote(text, entry);
      return {};
    }
    const auto path = join(dir, entry.Scalar());
    if (!path) {
      return outside(text, entry);
    }
    auto type = m_files.type(*path);
    if (!type) {
      return type.error();
    }
    switch (*type) {
      case RepositoryFiles::Type::missing: {
        // kustomize would stop here; promote reads on, as an overlay's images: still says what
        // it sets, and names the hole.
        const auto [line, column] = text.position(entry.Mark());
        m_out.warnings.push_back(text.file + ":" + std::to_string(line) + ":" +
                                 std::to_string(column) + ": resource '" + entry.Scalar() +
                                 "' does not exist; images it would hold are not seen");
        return {};
      }
      case RepositoryFiles::Type::file:
        return read_resources(*path, resources);
      case RepositoryFiles::Type::directory: {
        std::vector<Resource> built;
        if (auto done = build(*path, false, built, &text, &entry); !done) {
          return done.error();
        }
        for (auto& resource : built) {
          resources.push_back(std::move(resource));
        }
        return {};
      }
    }
    return {};
  }

  /// The documents of a patch given by `path:` (a file next to the kustomization) or inline.
  Result<std::pair<Text, std::vector<YAML::Node>>> patch_documents(const std::string& dir,
                                                                   const Text& text,
                                                                   const YAML::Node& node,
                                                                   bool inline_patch) {
    if (!node.IsScalar()) {
      return text.error_at(node.Mark(), "a patch must be a path or a patch's text");
    }
    if (inline_patch) {
      Text inner = inline_text(text, node);
      auto documents = kmodel::load_documents(inner.content, text.file, m_cache);
      if (!documents) {
        return text.error_at(node.Mark(),
                             "this inline patch is not valid YAML: " + documents.error().message);
      }
      return std::pair{std::move(inner), std::move(*documents)};
    }
    const auto path = join(dir, node.Scalar());
    if (!path) {
      return outside(text, node);
    }
    auto type = m_files.type(*path);
    if (!type) {
      return type.error();
    }
    if (*type != RepositoryFiles::Type::file) {
      return text.error_at(node.Mark(), "patch file '" + node.Scalar() + "' does not exist");
    }
    auto loaded = load(*path);
    if (!loaded) {
      return loaded.error();
    }
    return std::pair{text_of(*path, **loaded), (*loaded)->documents};
  }

  static bool looks_inline(const YAML::Node& node) {
    return node.IsScalar() && node.Scalar().find('\n') != std::string::npos;
  }

  /// A strategic-merge patch named by a path or given inline, each of its documents applied to
  /// the resources it names.
  Result<void> apply_strategic_merge(const std::string& dir, const Text& text,
                                     const YAML::Node& entry, std::vector<Resource>& resources) {
    auto patch = patch_documents(dir, text, entry, looks_inline(entry));
    if (!patch) {
      return patch.error();
    }
    for (const auto& document : patch->second) {
      if (auto applied = kmodel::apply_strategic_merge(patch->first, document, nullptr, resources);
          !applied) {
        return applied;
      }
    }
    return {};
  }

  Result<void> transform(const std::string& dir, const Text& text, const YAML::Node& root,
                         std::vector<Resource>& resources) {
    // kustomize's order: patchesStrategicMerge, patches, namespace, prefix and suffix, labels,
    // patchesJson6902, images.
    for (const auto& entry : list_of(root, "patchesStrategicMerge")) {
      if (auto applied = apply_strategic_merge(dir, text, entry, resources); !applied) {
        return applied;
      }
    }
    for (const auto& entry : list_of(root, "patches")) {
      if (entry.IsScalar()) {
        // The older form: a path, or a strategic-merge patch's text.
        if (auto applied = apply_strategic_merge(dir, text, entry, resources); !applied) {
          return applied;
        }
        continue;
      }
      if (!entry.IsMap()) {
        return text.error_at(entry.Mark(), "a patches: entry must be a map");
      }
      const YAML::Node path = kmodel::walk(entry, {"path"});
      const YAML::Node inline_patch = kmodel::walk(entry, {"patch"});
      const YAML::Node target = kmodel::walk(entry, {"target"});
      if (!path.IsDefined() && !inline_patch.IsDefined()) {
        return text.error_at(entry.Mark(), "a patches: entry needs a path or a patch");
      }
      auto patch =
          patch_documents(dir, text, path.IsDefined() ? path : inline_patch, !path.IsDefined());
      if (!patch) {
        return patch.error();
      }
      const bool has_target = target.IsDefined() && target.IsMap();
      for (const auto& document : patch->second) {
        if (document.IsSequence()) {
          if (!has_target) {
            return text.error_at(entry.Mark(), "a JSON6902 patch needs a target");
          }
          if (auto applied =
                  kmodel::apply_json6902(patch->first, document, target, text, resources);
              !applied) {
            return applied;
          }
        } else if (auto applied = kmodel::apply_strategic_merge(
                       patch->first, document, has_target ? &target : nullptr, resources);
                   !applied) {
          return applied;
        }
      }
    }
    rename(root, resources);
    for (const auto& entry : list_of(root, "patchesJson6902")) {
      const YAML::Node target = kmodel::walk(entry, {"target"});
      const YAML::Node path = kmodel::walk(entry, {"path"});
      const YAML::Node inline_patch = kmodel::walk(entry, {"patch"});
      if (!target.IsDefined() || !target.IsMap() ||
          (!path.IsDefined() && !inline_patch.IsDefined())) {
        return text.error_at(entry.Mark(),
                             "a patchesJson6902 entry needs a target and a path or a patch");
      }
      auto patch =
          patch_documents(dir, text, path.IsDefined() ? path : inline_patch, !path.IsDefined());
      if (!patch) {
        return patch.error();
      }
      for (const auto& document : patch->second) {
        if (auto applied = kmodel::apply_json6902(patch->first, document, target, text, resources);
            !applied) {
          return applied;
        }
      }
    }
    for (const auto& entry : list_of(root, "images")) {
      if (auto applied = kmodel::apply_image_entry(text, entry, resources); !applied) {
        return applied;
      }
    }
    return {};
  }

  /// namespace, namePrefix, nameSuffix, commonLabels and labels: what patch targets of the
  /// layers above match against.
  static void rename(const YAML::Node& root, std::vector<Resource>& resources) {
    const std::string ns = scalar_at(root, "namespace");
    const std::string prefix = scalar_at(root, "namePrefix");
    const std::string suffix = scalar_at(root, "nameSuffix");
    std::map<std::string, std::string> labels;
    const YAML::Node common = kmodel::walk(root, {"commonLabels"});
    if (common.IsDefined() && common.IsMap()) {
      for (const auto& pair : common) {
        if (pair.first.IsScalar() && pair.second.IsScalar()) {
          labels[pair.first.Scalar()] = pair.second.Scalar();
        }
      }
    }
    for (const auto& item : list_of(root, "labels")) {
      const YAML::Node pairs = kmodel::walk(item, {"pairs"});
      if (pairs.IsDefined() && pairs.IsMap()) {
        for (const auto& pair : pairs) {
          if (pair.first.IsScalar() && pair.second.IsScalar()) {
            labels[pair.first.Scalar()] = pair.second.Scalar();
          }
        }
      }
    }
    for (auto& resource : resources) {
      if (!ns.empty() && !k_cluster_kinds.contains(resource.kind)) {
        resource.ns = ns;
        resource.namespaces.push_back(ns);
      }
      if ((!prefix.empty() || !suffix.empty()) && resource.kind != "Namespace" &&
          resource.kind != "CustomResourceDefinition") {
        resource.name = prefix + resource.name + suffix;
        resource.names.push_back(resource.name);
      }
      for (const auto& [key, value] : labels) {
        resource.labels[key] = value;
      }
    }
  }

  std::string m_top;
  const RepositoryFiles& m_files;
  RenderCache* m_cache;
  Rendering m_out;
  std::map<std::string, Loaded> m_loaded;
  std::vector<std::string> m_stack;
};

}  // namespace

Result<Rendering> render_images(const std::string& dir, const RepositoryFiles& files,
                                RenderCache* cache) {
  return Renderer(dir, files, cache).run();
}

namespace {

/// A text prefetch parses: `text` points into the repository's view, which does not change
/// meanwhile.
struct Parse {
  const std::string* text = nullptr;
  std::string file;
  std::optional<std::vector<YAML::Node>> documents;
};

/// Parses the texts of `parses` the cache does not hold yet, on up to 8 threads, into the cache.
/// A text that does not parse is left out: render_images parses it again and reports it.
void parse_all(std::vector<Parse>& parses, RenderCache& cache) {
  auto& texts = cache.entries->texts;
  std::vector<Parse*> todo;
  std::set<std::string_view> queued;
  for (auto& parse : parses) {
    const auto found = texts.find(*parse.text);
    if ((found == texts.end() || !found->second) && queued.insert(*parse.text).second) {
      todo.push_back(&parse);
    }
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < todo.size(); i = next++) {
      try {
        if (auto documents = splice::load_all(*todo[i]->text, todo[i]->file)) {
          todo[i]->documents = std::move(*documents);
        }
      } catch (...) {
        // Out of memory, say: render_images meets it again, on its own thread.
      }
    }
  };
  constexpr std::size_t k_per_thread = 16;  // fewer texts are not worth a thread
  const std::size_t wanted = std::min<std::size_t>(
      {std::max(1u, std::thread::hardware_concurrency()), 8, todo.size() / k_per_thread + 1});
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < wanted; ++i) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread to spare: this one parses the rest
    }
  }
  work();
  for (auto& thread : threads) {
    thread.join();
  }
  for (Parse* parse : todo) {
    if (parse->documents) {
      texts.insert_or_assign(*parse->text, std::move(parse->documents));
      ++cache.entries->parses;
    }
  }
}

}  // namespace

void prefetch(const std::vector<std::string>& dirs, const RepositoryFiles& files,
              RenderCache& cache) {
  std::set<std::string> seen;  // directories and files met
  std::vector<std::string> next_dirs;
  std::vector<std::pair<std::string, bool>> next_files;  // file, whether it is a resource
  for (const auto& dir : dirs) {
    if (seen.insert(dir + "/").second) {
      next_dirs.push_back(dir);
    }
  }
  const auto add_path = [&](const std::string& dir, const YAML::Node& entry, bool resource) {
    if (!entry.IsScalar() || is_remote(entry.Scalar()) ||
        entry.Scalar().find('\n') != std::string::npos) {
      return;
    }
    const auto path = join(dir, entry.Scalar());
    if (!path) {
      return;
    }
    const auto type = files.type(*path);
    if (type && *type == RepositoryFiles::Type::directory && resource) {
      if (seen.insert(*path + "/").second) {
        next_dirs.push_back(*path);
      }
    } else if (type && *type == RepositoryFiles::Type::file && seen.insert(*path).second) {
      next_files.emplace_back(*path, resource);
    }
  };
  while (!next_dirs.empty() || !next_files.empty()) {
    std::vector<Parse> parses;
    std::vector<std::pair<std::size_t, std::string>> kustomizations;  // parse, its directory
    for (const auto& dir : next_dirs) {
      const auto built = cache.entries->by_dir.find(dir);
      if (built != cache.entries->by_dir.end() && unchanged(built->second, files)) {
        continue;  // rendered already, from these very files
      }
      for (const auto name : k_kustomization_names) {
        const std::string file = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
        const auto type = files.type(file);
        if (!type || *type != RepositoryFiles::Type::file) {
          continue;
        }
        if (const auto text = files.read(file)) {
          kustomizations.emplace_back(parses.size(), dir);
          parses.push_back(Parse{*text, file, std::nullopt});
        }
        break;
      }
    }
    for (const auto& [file, resource] : next_files) {
      const auto text = files.read(file);
      // A resource that names no container is not parsed by render_images either.
      if (text && (!resource || (*text)->find("ontainers") != std::string::npos)) {
        parses.push_back(Parse{*text, file, std::nullopt});
      }
    }
    next_dirs.clear();
    next_files.clear();
    parse_all(parses, cache);
    for (const auto& [index, dir] : kustomizations) {
      const auto parsed = cache.entries->texts.find(*parses[index].text);
      if (parsed == cache.entries->texts.end() || !parsed->second) {
        continue;
      }
      const auto root = std::find_if(parsed->second->begin(), parsed->second->end(),
                                     [](const YAML::Node& node) { return !node.IsNull(); });
      if (root == parsed->second->end() || !root->IsMap()) {
        continue;
      }
      for (const auto key : {"resources", "bases", "components"}) {
        for (const auto& entry : list_of(*root, key)) {
          add_path(dir, entry, true);
        }
      }
      for (const auto key : {"patchesStrategicMerge", "patches", "patchesJson6902"}) {
        for (const auto& entry : list_of(*root, key)) {
          add_path(dir, entry.IsMap() ? kmodel::walk(entry, {"path"}) : entry, false);
        }
      }
    }
  }
}

Result<std::string> set_values(std::string_view text, const std::string& file,
                               const std::vector<std::pair<ImageOrigin, std::string>>& values) {
  std::map<std::size_t, const std::pair<ImageOrigin, std::string>*> by_place;
  std::vector<splice::Edit> edits;
  for (const auto& value : values) {
    const ImageOrigin& origin = value.first;
    if (origin.file != file || !origin.editable || origin.end > text.size()) {
      return make_error(ErrorKind::internal, origin.where() + ": not a value promote can edit");
    }
    const auto [found, added] = by_place.emplace(origin.begin, &value);
    if (!added) {
      if (found->second->second != value.second) {
        return make_error(ErrorKind::input, origin.where() + ": this one value would have to be " +
                                                found->second->second + " and " + value.second);
      }
      continue;
    }
    splice::Span span;
    span.begin = origin.begin;
    span.end = origin.end;
    span.quote = origin.quote;
    edits.push_back(splice::replace(span, value.second));
  }
  std::sort(edits.begin(), edits.end(),
            [](const splice::Edit& a, const splice::Edit& b) { return a.begin < b.begin; });
  return splice::splice(text, edits, file);
}

}  // namespace promote::overlay
