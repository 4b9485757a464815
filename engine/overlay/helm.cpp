#include "engine/overlay/helm.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;

/// The parts of an image in the order they are read and written.
enum class Part { registry, repository, tag, digest, image };

struct PartPath {
  Part part;
  std::string path;               ///< "image.tag"
  std::vector<std::string> keys;  ///< {"image", "tag"}
};

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    keys.push_back(path.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) {
      return keys;
    }
    start = dot + 1;
  }
}

std::vector<PartPath> parts_of(const HelmImage& where) {
  std::vector<PartPath> parts;
  for (const auto& [part, path] :
       {std::pair{Part::registry, &where.registry}, std::pair{Part::repository, &where.repository},
        std::pair{Part::tag, &where.tag}, std::pair{Part::digest, &where.digest},
        std::pair{Part::image, &where.image}}) {
    if (!path->empty()) {
      parts.push_back({part, *path, split_path(*path)});
    }
  }
  return parts;
}

const PartPath* find_part(const std::vector<PartPath>& parts, Part part) {
  const auto it =
      std::find_if(parts.begin(), parts.end(), [&](const PartPath& p) { return p.part == part; });
  return it == parts.end() ? nullptr : &*it;
}

/// Docker Hub's names: a target without a registry is already right where the file says one.
bool is_docker_hub(std::string_view registry) {
  return registry == "docker.io" || registry == "index.docker.io" ||
         registry == "registry-1.docker.io";
}

/// The values document, with the text it came from.
struct Parsed {
  std::string file;
  Source source;
  YAML::Node root;  ///< a map, or null for an empty file

  Error error_at(const YAML::Mark& mark, const std::string& what) const {
    return splice::error_at(file, mark, what);
  }
};

Result<Parsed> load(std::string_view text, const std::string& file) {
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  Parsed parsed{file, Source(text), YAML::Node()};
  const auto document = std::find_if(documents->begin(), documents->end(),
                                     [](const YAML::Node& node) { return !node.IsNull(); });
  if (document == documents->end()) {
    return parsed;
  }
  if (!document->IsMap()) {
    return parsed.error_at(document->Mark(), "a values file must be a map");
  }
  parsed.root = *document;
  return parsed;
}

/// Where a path leads: to a key and its value, or to the map (or null) that lacks a key.
struct Lookup {
  bool found = false;
  YAML::Node map;  ///< the map holding the key
  YAML::Node key;
  YAML::Node value;
  std::string parent;         ///< the dotted path of the map holding (or lacking) the key
  YAML::Mark parent_mark;     ///< where that map's key is, or the top of the file
  std::string missing;        ///< the key that is not there
  bool merge_key = false;     ///< the map lacking the key has a '<<' merge key
  std::string through_alias;  ///< a path on the way that is an alias, when there is one
  YAML::Mark alias_mark;
};

std::string kind_of(const YAML::Node& node) {
  return node.IsSequence() ? "a list" : node.IsMap() ? "a map" : "a string";
}

Result<Lookup> lookup(const Parsed& parsed, const PartPath& part) {
  Lookup out;
  YAML::Node node = parsed.root;
  out.parent_mark = parsed.root.IsNull() ? YAML::Mark() : parsed.root.Mark();
  out.parent_mark.line = std::max(out.parent_mark.line, 0);
  out.parent_mark.column = std::max(out.parent_mark.column, 0);
  for (std::size_t i = 0; i < part.keys.size(); ++i) {
    const std::string& key = part.keys[i];
    if (node.IsNull()) {
      out.missing = key;
      return out;
    }
    if (!node.IsMap()) {
      return parsed.error_at(node.Mark(), (out.parent.empty() ? "the values file" : out.parent) +
                                              " must be a map to hold '" + key + "' (it is " +
                                              kind_of(node) + ")");
    }
    std::optional<std::pair<YAML::Node, YAML::Node>> match;
    for (const auto& pair : node) {
      if (!pair.first.IsScalar()) {
        continue;
      }
      if (pair.first.Scalar() == "<<") {
        out.merge_key = true;
      }
      if (pair.first.Scalar() != key) {
        continue;
      }
      if (match) {
        return parsed.error_at(pair.first.Mark(),
                               (out.parent.empty() ? "the values file" : "'" + out.parent + "'") +
                                   " has the key '" + key + "' twice");
      }
      match.emplace(pair.first, pair.second);
    }
    if (!match) {
      out.missing = key;
      return out;
    }
    out.merge_key = false;
    const auto& [key_node, value] = *match;
    const std::string path = out.parent.empty() ? key : out.parent + "." + key;
    const Source& source = parsed.source;
    if (!value.IsNull() && source.offset(value.Mark()) < source.offset(key_node.Mark()) &&
        out.through_alias.empty() && i + 1 < part.keys.size()) {
      out.through_alias = path;
      out.alias_mark = key_node.Mark();
    }
    if (i + 1 == part.keys.size()) {
      out.found = true;
      out.map = node;
      out.key = key_node;
      out.value = value;
      return out;
    }
    out.parent = path;
    out.parent_mark = key_node.Mark();
    node.reset(value);  // rebinds; `=` would overwrite the node it refers to
  }
  return out;
}

/// The string a found value holds ("" for null); fails when it is a map or a list.
Result<std::string> string_value(const Parsed& parsed, const PartPath& part, const Lookup& found) {
  if (found.value.IsNull()) {
    return std::string();
  }
  if (!found.value.IsScalar()) {
    return parsed.error_at(found.value.Mark(),
                           part.path + " must be a string (it is " + kind_of(found.value) + ")");
  }
  return found.value.Scalar();
}

/// Why an image reference is invalid, without the quoted text `image::parse` starts with.
std::string reason(const Error& error) {
  const std::size_t cut = error.message.find("': ");
  return cut == std::string::npos ? error.message : error.message.substr(cut + 3);
}

Result<void> check_paths(const HelmImage& where, const std::string& file) {
  auto checked = check_helm_image(where);
  if (!checked) {
    return make_error(checked.error().kind, file + ": " + checked.error().message);
  }
  return {};
}

struct Values {
  std::map<Part, std::string> text;  ///< the parts found in the file
  std::map<Part, YAML::Mark> marks;  ///< where their values are
};

Result<Values> read_values(const Parsed& parsed, const std::vector<PartPath>& parts) {
  Values values;
  for (const auto& part : parts) {
    auto found = lookup(parsed, part);
    if (!found) {
      return found.error();
    }
    if (!found->found) {
      continue;
    }
    auto value = string_value(parsed, part, *found);
    if (!value) {
      return value.error();
    }
    values.text[part.part] = *value;
    values.marks[part.part] = found->value.IsNull() ? found->key.Mark() : found->value.Mark();
  }
  return values;
}

Result<std::optional<image::Reference>> read_image(const Parsed& parsed, const HelmImage& where) {
  const auto parts = parts_of(where);
  auto values = read_values(parsed, parts);
  if (!values) {
    return values.error();
  }
  const auto& text = values->text;
  if (std::all_of(text.begin(), text.end(),
                  [](const auto& entry) { return entry.second.empty(); })) {
    return std::optional<image::Reference>();
  }
  const auto get = [&](Part part) {
    const auto it = text.find(part);
    return it == text.end() ? std::string() : it->second;
  };
  if (!where.image.empty()) {
    auto reference = image::parse(get(Part::image));
    if (!reference) {
      return parsed.error_at(values->marks.at(Part::image),
                             where.image + ": " + reference.error().message);
    }
    return std::optional<image::Reference>(std::move(*reference));
  }
  std::string repository = get(Part::repository);
  if (!get(Part::registry).empty()) {
    repository = get(Part::registry) + "/" + repository;
  }
  std::string rest;
  if (!get(Part::tag).empty()) {
    rest += ":" + get(Part::tag);
  }
  if (!get(Part::digest).empty()) {
    rest += "@" + get(Part::digest);
  }
  // Without a repository (tag only, or an empty one), the tag and digest are checked alone.
  const bool no_repository = repository.empty();
  auto reference = image::parse((no_repository ? "repository" : repository) + rest);
  if (!reference) {
    const std::string why = reason(reference.error());
    Part blamed = Part::repository;
    if (why.starts_with("tag")) {
      blamed = Part::tag;
    } else if (why.starts_with("digest")) {
      blamed = Part::digest;
    } else if (why.starts_with("registry")) {
      blamed = Part::registry;
    }
    // Blame the part the reason names, else the first part the file has (there is one).
    const PartPath* part = find_part(parts, blamed);
    if (part == nullptr || !values->marks.contains(blamed)) {
      part = &*std::find_if(parts.begin(), parts.end(), [&](const PartPath& candidate) {
        return values->marks.contains(candidate.part);
      });
    }
    const YAML::Mark mark = values->marks.at(part->part);
    if (no_repository) {
      return parsed.error_at(mark, part->path + ": " + why);
    }
    return parsed.error_at(mark, part->path + ": " + reference.error().message);
  }
  if (no_repository) {
    reference->registry.clear();
    reference->path.clear();
  }
  return std::optional<image::Reference>(std::move(*reference));
}

/// The edit that adds `digest: value` on the line after the tag, when the digest path is a
/// sibling of the tag path in a block map and the tag is a `key: value` on one line.
Result<splice::Edit> add_digest(const Parsed& parsed, const PartPath& tag, const PartPath& digest,
                                const Lookup& missing, const std::string& value) {
  const Source& source = parsed.source;
  const auto refuse = [&](const std::string& why) -> Result<splice::Edit> {
    return parsed.error_at(missing.parent_mark,
                           digest.path + " is not in the file and promote cannot add it here (" +
                               why + "); add '" + digest.keys.back() + ": \"\"' by hand");
  };
  if (tag.keys.size() != digest.keys.size() ||
      !std::equal(tag.keys.begin(), tag.keys.end() - 1, digest.keys.begin())) {
    return refuse("it is not a sibling of " + tag.path);
  }
  auto found = lookup(parsed, tag);
  if (!found || !found->found) {
    return refuse(tag.path + " is not in the file");
  }
  if (!found->through_alias.empty()) {
    return refuse("'" + found->through_alias + "' is an alias of a map anchored elsewhere");
  }
  const int line = source.line_of(source.offset(found->key.Mark()));
  const auto span = splice::locate_value(source, found->key, found->value);
  if ((span.shape != Shape::editable && span.shape != Shape::null) ||
      source.line_of(span.end) != line) {
    return refuse(tag.path + " is not a single-line value");
  }
  // A flow map ({tag: v1}) has its keys between braces: only block maps get a new line.
  const std::string_view before_key = source.text().substr(
      source.line_begin(line), source.offset(found->key.Mark()) - source.line_begin(line));
  if (before_key.find_first_of("{[,") != std::string_view::npos ||
      found->map.Style() == YAML::EmitterStyle::Flow) {
    return refuse(tag.path + " is in a flow map");
  }
  const std::size_t line_end = source.line_end(line);
  const std::string_view after_value = source.text().substr(span.end, line_end - span.end);
  const std::size_t rest = after_value.find_first_not_of(" \t");
  if (rest != std::string_view::npos && after_value[rest] != '#') {
    return refuse(tag.path + " shares its line with something else");
  }
  const std::string indent(static_cast<std::size_t>(found->key.Mark().column), ' ');
  const std::string entry = digest.keys.back() + ": " + splice::render(value);
  const std::string eol(source.eol());
  if (source.has_eol(line)) {
    const std::size_t at = source.next_line_begin(line);
    return splice::Edit{at, at, indent + entry + eol};
  }
  return splice::Edit{source.text().size(), source.text().size(), eol + indent + entry};
}

std::string missing_message(const PartPath& part, const Lookup& found) {
  std::string message = part.path + " is not in the file: " +
                        (found.parent.empty() ? "the values file" : "'" + found.parent + "'") +
                        " has no key '" + found.missing + "'";
  if (found.merge_key) {
    message += " (keys that come from a '<<' merge key are not followed)";
  }
  return message + "; promote does not add keys, add it to the file first";
}

}  // namespace

Result<void> check_helm_image(const HelmImage& where) {
  const auto fail = [](const std::string& why) -> Result<void> {
    return make_error(ErrorKind::config, "helm image paths: " + why);
  };
  const auto parts = parts_of(where);
  for (const auto& part : parts) {
    for (const auto& key : part.keys) {
      if (key.empty()) {
        return fail("'" + part.path +
                    "' has an empty key (keys that contain a dot cannot be named)");
      }
    }
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (std::size_t j = i + 1; j < parts.size(); ++j) {
      if (parts[i].path == parts[j].path) {
        return fail("two parts of the image are at '" + parts[i].path + "'");
      }
    }
  }
  if (!where.image.empty()) {
    if (parts.size() > 1) {
      return fail(
          "'image' (one string) cannot be combined with registry, repository, tag or digest");
    }
    return {};
  }
  if (where.tag.empty()) {
    return fail(parts.empty() ? "give either image, or tag (with repository, registry, digest)"
                              : "a tag path is needed unless the image is one string (image)");
  }
  if (!where.registry.empty() && where.repository.empty()) {
    return fail("a registry path needs a repository path");
  }
  return {};
}

Result<std::optional<image::Reference>> get_helm_image(std::string_view text,
                                                       const std::string& file,
                                                       const HelmImage& where) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  auto parsed = load(text, file);
  if (!parsed) {
    return parsed.error();
  }
  return read_image(*parsed, where);
}

Result<std::string> set_helm_image(std::string_view text, const std::string& file,
                                   const HelmImage& where, const image::Reference& target) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  if (target.path.empty()) {
    return make_error(ErrorKind::input,
                      file + ": cannot set a helm image: the target reference has no repository");
  }
  if (!target.digest.empty() && where.image.empty() && where.digest.empty()) {
    return make_error(ErrorKind::input,
                      file + ": cannot set " + where.tag + " to '" + target.to_string() +
                          "': the target has a digest and the helm image has no digest path");
  }
  auto parsed = load(text, file);
  if (!parsed) {
    return parsed.error();
  }
  const Source& source = parsed->source;
  const auto parts = parts_of(where);

  std::map<Part, std::string> wanted;
  if (!where.image.empty()) {
    wanted[Part::image] = target.to_string();
  } else {
    if (!where.registry.empty()) {
      wanted[Part::registry] = target.registry;
      wanted[Part::repository] = target.path;
    } else if (!where.repository.empty()) {
      wanted[Part::repository] = target.repository();
    }
    wanted[Part::tag] = target.tag;
    if (!where.digest.empty()) {
      wanted[Part::digest] = target.digest;
    }
  }

  std::vector<splice::Edit> edits;
  std::map<Part, std::string> expected;  // every part found, as it must read after the edit
  for (const auto& part : parts) {
    auto found = lookup(*parsed, part);
    if (!found) {
      return found.error();
    }
    std::string value = wanted.at(part.part);
    if (!found->found) {
      if (value.empty()) {
        continue;
      }
      if (part.part == Part::digest) {
        auto edit = add_digest(*parsed, *find_part(parts, Part::tag), part, *found, value);
        if (!edit) {
          return edit.error();
        }
        edits.push_back(std::move(*edit));
        expected[part.part] = value;
        continue;
      }
      return parsed->error_at(found->parent_mark, missing_message(part, *found));
    }
    auto current = string_value(*parsed, part, *found);
    if (!current) {
      return current.error();
    }
    if (part.part == Part::registry && value.empty() && !current->empty()) {
      if (!is_docker_hub(*current)) {
        return parsed->error_at(found->value.Mark(),
                                "cannot set " + part.path + " for '" + target.to_string() +
                                    "': the target names no registry and the file says '" +
                                    *current + "'; give the target with its registry");
      }
      value = *current;
    }
    expected[part.part] = value;
    if (*current == value) {
      continue;
    }
    if (!found->through_alias.empty()) {
      return parsed->error_at(found->alias_mark,
                              "cannot edit " + part.path + " in place: '" + found->through_alias +
                                  "' is an alias (*name) of a map anchored elsewhere, and promote "
                                  "does not edit through aliases");
    }
    const auto span = splice::locate_value(source, found->key, found->value);
    if (span.shape != Shape::editable && span.shape != Shape::null) {
      return parsed->error_at(found->key.Mark(), "cannot edit " + part.path + " in place: " +
                                                     splice::describe(source, span));
    }
    edits.push_back(splice::replace(span, value));
  }
  if (edits.empty()) {
    return std::string(text);
  }

  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  // Read back: every part holds what it must.
  const auto guard_failed = [&](const std::string& why) -> Result<std::string> {
    return make_error(ErrorKind::internal, file + ": editing the helm image at " +
                                               parts.front().path +
                                               " did not give the expected YAML (" + why + ")");
  };
  auto reparsed = load(*edited, file);
  if (!reparsed) {
    return guard_failed(reparsed.error().message);
  }
  auto read_back = read_values(*reparsed, parts);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  if (read_back->text != expected) {
    return guard_failed("the values do not read back as written");
  }
  return edited;
}

}  // namespace promote::overlay
