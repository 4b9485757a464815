// Patches and the images transformer, applied to the renderer's model (kustomize_model.hpp) as
// kustomize applies them: strategic-merge patches merge containers by name (with the `$patch:
// delete` and `$patch: replace` directives), JSON6902 operations follow JSON pointers into the
// pod spec, an `images:` entry rewrites every image whose name is its `name`.

#include <algorithm>
#include <regex>

#include "engine/overlay/kustomize_model.hpp"
#include "engine/overlay/pattern.hpp"

namespace promote::overlay {

std::string ImageOrigin::where() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string ImageOrigin::describe() const {
  switch (kind) {
    case Kind::resource:
      return "the resource at " + where();
    case Kind::strategic_merge:
      return "the strategic-merge patch at " + where();
    case Kind::json6902:
      return "the JSON6902 patch at " + where();
    case Kind::images_entry:
      return "the images: entry '" + entry + "' at " + where();
  }
  return where();
}

ImageParts split_image(const std::string& image) {
  // As kustomize's image.Split: a ':' or '@' is looked for after the first '/' only.
  const std::size_t slash = image.find('/');
  const std::size_t from = slash == std::string::npos || slash == 0 ? 0 : slash;
  const std::size_t at = image.find('@', from);
  const std::size_t colon = image.find(':', from);
  ImageParts out;
  if (colon == std::string::npos && at == std::string::npos) {
    out.name = image;
  } else if (at != std::string::npos && (colon == std::string::npos || at < colon)) {
    out.name = image.substr(0, at);
    out.digest = image.substr(at + 1);
  } else if (at != std::string::npos) {
    out.name = image.substr(0, colon);
    out.tag = image.substr(colon + 1, at - colon - 1);
    out.digest = image.substr(at + 1);
  } else {
    out.name = image.substr(0, colon);
    out.tag = image.substr(colon + 1);
  }
  return out;
}

namespace kmodel {

Error Text::error_at(const YAML::Mark& mark, const std::string& what) const {
  const auto [line, column] = position(mark);
  return make_error(ErrorKind::input,
                    file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
}

std::pair<int, int> Text::position(const YAML::Mark& mark) const {
  if (!is_inline) {
    return {mark.line + 1, mark.column + 1};
  }
  return {first_line + mark.line + 1, static_cast<int>(indent) + mark.column + 1};
}

ImageOrigin Text::origin(ImageOrigin::Kind kind, const YAML::Node& key,
                         const YAML::Node& value) const {
  ImageOrigin out;
  out.kind = kind;
  out.file = file;
  std::tie(out.line, out.column) = position(value.Mark());
  if (file_source == nullptr) {
    return out;
  }
  if (!is_inline) {
    const splice::Span span = splice::locate_value(*file_source, key, value);
    if (span.shape == splice::Shape::editable) {
      out.editable = true;
      out.begin = span.begin;
      out.end = span.end;
      out.quote = span.quote;
    }
    return out;
  }
  // Inside a literal block: the value's bytes in the block, moved to where that line of the
  // block is in the file, and checked to be the same bytes there.
  const splice::Source inner(content);
  const splice::Span span = splice::locate_value(inner, key, value);
  if (span.shape != splice::Shape::editable) {
    return out;
  }
  const int line = inner.line_of(span.begin);
  const int file_line = first_line + line;
  if (file_line >= file_source->line_count()) {
    return out;
  }
  const std::size_t begin =
      file_source->line_begin(file_line) + indent + (span.begin - inner.line_begin(line));
  const std::size_t length = span.end - span.begin;
  const std::string_view whole = file_source->text();
  if (begin + length > file_source->line_end(file_line) ||
      whole.substr(begin, length) != std::string_view(content).substr(span.begin, length)) {
    return out;
  }
  out.editable = true;
  out.begin = begin;
  out.end = begin + length;
  out.quote = span.quote;
  return out;
}

std::string Resource::group() const {
  const auto slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

std::string Resource::version() const {
  const auto slash = api_version.find('/');
  return slash == std::string::npos ? api_version : api_version.substr(slash + 1);
}

std::string scalar_at(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) {
    return "";
  }
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key && pair.second.IsScalar()) {
      return pair.second.Scalar();
    }
  }
  return "";
}

namespace {

/// The key and value of `key` in a map, or nullopt.
std::optional<std::pair<YAML::Node, YAML::Node>> entry_of(const YAML::Node& map,
                                                          std::string_view key) {
  if (!map.IsMap()) {
    return std::nullopt;
  }
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      return std::pair{pair.first, pair.second};
    }
  }
  return std::nullopt;
}

}  // namespace

YAML::Node walk(const YAML::Node& node, const std::vector<std::string>& path) {
  YAML::Node at = node;
  for (const auto& key : path) {
    auto found = entry_of(at, key);
    if (!found) {
      return YAML::Node(YAML::NodeType::Undefined);
    }
    at.reset(found->second);
  }
  return at;
}

std::vector<std::string> find_pod_path(const YAML::Node& document) {
  if (scalar_at(document, "kind") == "Pod") {
    return {"spec"};
  }
  for (std::vector<std::string> path :
       {std::vector<std::string>{"spec", "jobTemplate", "spec", "template", "spec"},
        std::vector<std::string>{"spec", "template", "spec"}}) {
    const YAML::Node found = walk(document, path);
    if (found.IsDefined() && found.IsMap()) {
      return path;
    }
  }
  return {};
}

Result<std::vector<Container>> read_containers(const Text& text, const YAML::Node& list,
                                               ImageOrigin::Kind kind) {
  std::vector<Container> out;
  if (list.IsNull()) {
    return out;
  }
  if (!list.IsSequence()) {
    return text.error_at(list.Mark(), "a container list must be a list");
  }
  for (const auto& item : list) {
    if (!item.IsMap()) {
      return text.error_at(item.Mark(), "a container must be a map");
    }
    Container container;
    container.name = scalar_at(item, "name");
    if (auto image = entry_of(item, "image"); image && !image->second.IsNull()) {
      if (!image->second.IsScalar()) {
        return text.error_at(image->second.Mark(), "a container's image must be a string");
      }
      container.image.set(image->second.Scalar(), text.origin(kind, image->first, image->second));
    }
    out.push_back(std::move(container));
  }
  return out;
}

namespace {

constexpr std::array<std::string_view, 2> k_lists = {"initContainers", "containers"};

/// Whether a target field's pattern matches (an empty pattern matches all); nullopt when the
/// pattern is of a syntax promote does not read.
std::optional<bool> matches_pattern(const std::string& pattern, const std::string& value) {
  if (pattern.empty()) {
    return true;
  }
  return match_pattern(pattern, value);
}

std::optional<bool> any_matches(const std::string& pattern,
                                const std::vector<std::string>& values) {
  for (const auto& value : values) {
    const auto matched = matches_pattern(pattern, value);
    if (!matched || *matched) {
      return matched;
    }
  }
  return false;
}

/// A label selector, as Kubernetes writes them: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
/// `a notin (x,y)`, separated by commas. Returns nullopt when it cannot be read.
std::optional<bool> selects(const std::string& selector,
                            const std::map<std::string, std::string>& labels) {
  if (selector.size() > 4096) {
    return std::nullopt;  // longer than any selector Kubernetes would take
  }
  std::vector<std::string> terms;
  std::string term;
  int depth = 0;
  for (const char c : selector) {
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    }
    if (c == ',' && depth == 0) {
      terms.push_back(term);
      term.clear();
    } else {
      term += c;
    }
  }
  terms.push_back(term);
  const auto trim = [](std::string text) {
    const auto first = text.find_first_not_of(" \t");
    const auto last = text.find_last_not_of(" \t");
    return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
  };
  for (std::string raw : terms) {
    const std::string text = trim(raw);
    if (text.empty()) {
      return std::nullopt;
    }
    static const std::regex k_set(R"(^([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$)");
    static const std::regex k_compare(R"(^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$)");
    static const std::regex k_exists(R"(^(!?)([^\s!=(),]+)$)");
    std::smatch match;
    if (std::regex_match(text, match, k_set)) {
      std::vector<std::string> values;
      std::string values_text = match[3];
      std::size_t start = 0;
      for (std::size_t comma; (comma = values_text.find(',', start)) != std::string::npos;
           start = comma + 1) {
        values.push_back(trim(values_text.substr(start, comma - start)));
      }
      values.push_back(trim(values_text.substr(start)));
      const auto label = labels.find(match[1]);
      const bool in = label != labels.end() &&
                      std::find(values.begin(), values.end(), label->second) != values.end();
      if (in != (match[2] == "in")) {
        return false;
      }
    } else if (std::regex_match(text, match, k_compare)) {
      const auto label = labels.find(match[1]);
      const bool equal = label != labels.end() && label->second == match[3];
      if (equal != (match[2] != "!=")) {
        return false;
      }
    } else if (std::regex_match(text, match, k_exists)) {
      if (labels.contains(match[2]) == (match[1] == "!")) {
        return false;
      }
    } else {
      return std::nullopt;
    }
  }
  return true;
}

/// Whether a patch's `target:` selects the resource; an error when a selector cannot be read.
Result<bool> selected(const Text& text, const YAML::Node& target, const Resource& resource) {
  for (const auto& [key, values] :
       {std::pair{"group", std::vector<std::string>{resource.group()}},
        std::pair{"version", std::vector<std::string>{resource.version()}},
        std::pair{"kind", std::vector<std::string>{resource.kind}},
        std::pair{"name", resource.names}, std::pair{"namespace", resource.namespaces}}) {
    const std::string pattern = scalar_at(target, key);
    const auto matched = any_matches(pattern, values);
    if (!matched) {
      return text.error_at(target.Mark(), std::string("promote cannot read the ") + key +
                                              " pattern '" + pattern + "' of this patch's target");
    }
    if (!*matched) {
      return false;
    }
  }
  for (const auto& [key, labels] : {std::pair{"labelSelector", &resource.labels},
                                    std::pair{"annotationSelector", &resource.annotations}}) {
    const std::string selector = scalar_at(target, key);
    if (selector.empty()) {
      continue;
    }
    const auto verdict = selects(selector, *labels);
    if (!verdict) {
      return text.error_at(target.Mark(), std::string("promote cannot read the ") + key + " '" +
                                              selector + "' of this patch's target");
    }
    if (!*verdict) {
      return false;
    }
  }
  return true;
}

bool is_directive(const YAML::Node& item, std::string_view value) {
  return scalar_at(item, "$patch") == value;
}

Result<void> merge_list(const Text& text, const YAML::Node& patch_list,
                        std::vector<Container>& containers) {
  if (!patch_list.IsSequence()) {
    return text.error_at(patch_list.Mark(), "a container list in a patch must be a list");
  }
  const bool replace =
      std::any_of(patch_list.begin(), patch_list.end(),
                  [](const YAML::Node& item) { return is_directive(item, "replace"); });
  if (replace) {
    YAML::Node kept(YAML::NodeType::Sequence);
    std::vector<Container> out;
    for (const auto& item : patch_list) {
      if (is_directive(item, "replace")) {
        continue;
      }
      YAML::Node one(YAML::NodeType::Sequence);
      one.push_back(item);
      auto read = read_containers(text, one, ImageOrigin::Kind::strategic_merge);
      if (!read) {
        return read.error();
      }
      out.insert(out.end(), read->begin(), read->end());
    }
    containers = std::move(out);
    return {};
  }
  for (const auto& item : patch_list) {
    if (!item.IsMap()) {
      return text.error_at(item.Mark(), "a container in a patch must be a map");
    }
    const std::string name = scalar_at(item, "name");
    auto existing = std::find_if(containers.begin(), containers.end(),
                                 [&](const Container& c) { return c.name == name; });
    if (is_directive(item, "delete")) {
      if (existing != containers.end()) {
        containers.erase(existing);
      }
      continue;
    }
    if (existing == containers.end()) {
      containers.push_back(Container{name, {}});
      existing = containers.end() - 1;
    }
    if (auto image = entry_of(item, "image"); image && !image->second.IsNull()) {
      if (!image->second.IsScalar()) {
        return text.error_at(image->second.Mark(), "a container's image must be a string");
      }
      existing->image.set(image->second.Scalar(), text.origin(ImageOrigin::Kind::strategic_merge,
                                                              image->first, image->second));
    }
  }
  return {};
}

Result<void> merge_into(const Text& text, const YAML::Node& patch, Resource& resource) {
  if (resource.pod_path.empty()) {
    return {};
  }
  const YAML::Node pod = walk(patch, resource.pod_path);
  if (!pod.IsDefined() || !pod.IsMap()) {
    return {};
  }
  for (const auto key : k_lists) {
    if (auto list = entry_of(pod, key); list && !list->second.IsNull()) {
      if (auto merged = merge_list(text, list->second, *resource.list(key)); !merged) {
        return merged;
      }
    }
  }
  return {};
}

}  // namespace

Result<void> apply_strategic_merge(const Text& text, const YAML::Node& patch,
                                   const YAML::Node* target, std::vector<Resource>& resources) {
  if (!patch.IsMap()) {
    return {};
  }
  const std::string kind = scalar_at(patch, "kind");
  const YAML::Node metadata = walk(patch, {"metadata"});
  const std::string name = metadata.IsDefined() ? scalar_at(metadata, "name") : "";
  const std::string ns = metadata.IsDefined() ? scalar_at(metadata, "namespace") : "";
  const bool remove = is_directive(patch, "delete");
  for (auto it = resources.begin(); it != resources.end();) {
    Resource& resource = *it;
    bool chosen = false;
    if (target != nullptr) {
      auto pick = selected(text, *target, resource);
      if (!pick) {
        return pick.error();
      }
      chosen = *pick;
    } else {
      chosen =
          resource.kind == kind &&
          std::find(resource.names.begin(), resource.names.end(), name) != resource.names.end() &&
          (ns.empty() || std::find(resource.namespaces.begin(), resource.namespaces.end(), ns) !=
                             resource.namespaces.end());
    }
    if (chosen && remove) {
      it = resources.erase(it);
      continue;
    }
    if (chosen) {
      if (auto merged = merge_into(text, patch, resource); !merged) {
        return merged;
      }
    }
    ++it;
  }
  return {};
}

namespace {

/// A JSON pointer's tokens ("/a/b~1c" -> a, b/c).
std::vector<std::string> pointer_tokens(const std::string& pointer) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= pointer.size()) {
    const std::size_t slash = pointer.find('/', start);
    const std::size_t end = slash == std::string::npos ? pointer.size() : slash;
    std::string token;
    for (std::size_t at = start; at < end; ++at) {
      if (pointer[at] == '~' && at + 1 < end &&
          (pointer[at + 1] == '0' || pointer[at + 1] == '1')) {
        token += pointer[++at] == '1' ? '/' : '~';
      } else {
        token += pointer[at];
      }
    }
    out.push_back(std::move(token));
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  return out;
}

bool starts_with(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

/// Whether a node holds a container list at any depth.
bool holds_containers(const YAML::Node& node) {
  if (node.IsMap()) {
    for (const auto& pair : node) {
      if (pair.first.IsScalar() &&
          (pair.first.Scalar() == "containers" || pair.first.Scalar() == "initContainers")) {
        return true;
      }
      if (holds_containers(pair.second)) {
        return true;
      }
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (holds_containers(item)) {
        return true;
      }
    }
  }
  return false;
}

Result<void> apply_operation(const Text& text, const YAML::Node& operation, Resource& resource) {
  if (!operation.IsMap()) {
    return text.error_at(operation.Mark(), "a JSON6902 operation must be a map");
  }
  const std::string op = scalar_at(operation, "op");
  const std::string path = scalar_at(operation, "path");
  const auto value = entry_of(operation, "value");
  if (op == "test" || resource.pod_path.empty()) {
    return {};
  }
  const std::vector<std::string> tokens = pointer_tokens(path);
  const auto cannot_follow = [&](const std::string& why) {
    return text.error_at(operation.Mark(), "promote cannot follow this JSON6902 '" + op + "' of " +
                                               path + " on " + resource.kind + " '" +
                                               resource.name + "': " + why);
  };
  for (const auto key : k_lists) {
    std::vector<std::string> list_path = resource.pod_path;
    list_path.emplace_back(key);
    std::vector<Container>& list = *resource.list(key);
    if (op == "move" || op == "copy") {
      const std::vector<std::string> from = pointer_tokens(scalar_at(operation, "from"));
      if (starts_with(tokens, list_path) || starts_with(list_path, tokens) ||
          starts_with(from, list_path) || starts_with(list_path, from)) {
        return cannot_follow("it moves or copies containers");
      }
      continue;
    }
    if (!starts_with(tokens, list_path)) {
      if (starts_with(list_path, tokens) && tokens.size() < list_path.size()) {
        // The operation replaces or removes something that holds the pod spec.
        if (op == "remove" && !list.empty()) {
          return cannot_follow("it removes what holds the containers");
        }
        if ((op == "add" || op == "replace") && value && holds_containers(value->second)) {
          return cannot_follow("its value holds containers; patch the containers themselves");
        }
      }
      continue;
    }
    const std::size_t depth = tokens.size() - list_path.size();
    if (depth == 0) {
      if (op == "remove") {
        list.clear();
      } else if ((op == "add" || op == "replace") && value) {
        auto read = read_containers(text, value->second, ImageOrigin::Kind::json6902);
        if (!read) {
          return read.error();
        }
        list = std::move(*read);
      }
      continue;
    }
    const std::string& index_token = tokens[list_path.size()];
    std::size_t index = list.size();
    if (index_token != "-") {
      if (index_token.empty() ||
          !std::all_of(index_token.begin(), index_token.end(),
                       [](char c) { return c >= '0' && c <= '9'; }) ||
          index_token.size() > 6) {
        return text.error_at(operation.Mark(),
                             "JSON6902 path " + path + " does not name a container by its index");
      }
      index = std::stoul(index_token);
    }
    const bool appending = op == "add" && depth == 1;
    if (index > list.size() || (index == list.size() && !appending)) {
      return text.error_at(operation.Mark(), "JSON6902 path " + path + " names container " +
                                                 index_token + " of " + resource.kind + " '" +
                                                 resource.name + "', which has " +
                                                 std::to_string(list.size()));
    }
    if (depth == 1) {
      if (op == "remove") {
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
      } else if ((op == "add" || op == "replace") && value) {
        YAML::Node one(YAML::NodeType::Sequence);
        one.push_back(value->second);
        auto read = read_containers(text, one, ImageOrigin::Kind::json6902);
        if (!read) {
          return read.error();
        }
        if (op == "add") {
          list.insert(list.begin() + static_cast<std::ptrdiff_t>(index), read->front());
        } else {
          list[index] = read->front();
        }
      }
      continue;
    }
    if (depth == 2 && tokens.back() == "image") {
      Slot& slot = list[index].image;
      if (op == "remove") {
        slot = Slot{};
      } else if ((op == "add" || op == "replace") && value) {
        if (!value->second.IsScalar()) {
          return text.error_at(value->second.Mark(), "a container's image must be a string");
        }
        slot.set(value->second.Scalar(),
                 text.origin(ImageOrigin::Kind::json6902, value->first, value->second));
      }
    }
  }
  return {};
}

}  // namespace

Result<void> apply_json6902(const Text& text, const YAML::Node& operations,
                            const YAML::Node& target, const Text& target_text,
                            std::vector<Resource>& resources) {
  if (!operations.IsSequence()) {
    return text.error_at(operations.Mark(), "a JSON6902 patch must be a list of operations");
  }
  for (auto& resource : resources) {
    auto pick = selected(target_text, target, resource);
    if (!pick) {
      return pick.error();
    }
    if (!*pick) {
      continue;
    }
    for (const auto& operation : operations) {
      if (auto applied = apply_operation(text, operation, resource); !applied) {
        return applied;
      }
    }
  }
  return {};
}

Result<void> apply_image_entry(const Text& text, const YAML::Node& entry,
                               std::vector<Resource>& resources) {
  if (!entry.IsMap()) {
    return text.error_at(entry.Mark(), "an images: entry must be a map with a name");
  }
  const std::string name = scalar_at(entry, "name");
  if (name.empty()) {
    return text.error_at(entry.Mark(), "an images: entry has no name");
  }
  const std::string new_name = scalar_at(entry, "newName");
  const std::string new_tag = scalar_at(entry, "newTag");
  const std::string digest = scalar_at(entry, "digest");
  if (new_name.empty() && new_tag.empty() && digest.empty()) {
    return {};
  }
  auto name_key = entry_of(entry, "name");
  ImageOrigin origin =
      text.origin(ImageOrigin::Kind::images_entry, name_key->first, name_key->second);
  std::tie(origin.line, origin.column) = text.position(entry.Mark());
  origin.entry = name;
  for (auto& resource : resources) {
    for (const auto key : k_lists) {
      for (auto& container : *resource.list(key)) {
        if (!container.image.present) {
          continue;
        }
        ImageParts parts = split_image(container.image.value);
        if (parts.name != name) {
          continue;
        }
        if (!new_name.empty()) {
          parts.name = new_name;
        }
        if (!new_tag.empty()) {
          parts.tag = new_tag;
          parts.digest = digest;
        } else if (!digest.empty()) {
          parts.tag.clear();
          parts.digest = digest;
        }
        std::string value = parts.name;
        if (!parts.tag.empty()) {
          value += ":" + parts.tag;
        }
        if (!parts.digest.empty()) {
          value += "@" + parts.digest;
        }
        container.image.set(std::move(value), origin);
      }
    }
  }
  return {};
}

}  // namespace kmodel

}  // namespace promote::overlay
