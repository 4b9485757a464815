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

/// One step of a path: a map key, an item of a list by its index, or the item of a list whose
/// key holds a value.
struct Step {
  enum class Kind { key, index, select };
  Kind kind = Kind::key;
  std::string key;        ///< key: the map key; select: the key of the item compared
  std::size_t index = 0;  ///< index: the item's position, from 0
  std::string value;      ///< select: the value that key must hold
  bool operator==(const Step&) const = default;
};

struct PartPath {
  Part part;
  std::string path;         ///< "image.tag", "parameters[name=image.tag].value"
  std::vector<Step> steps;  ///< {key image, key tag}
};

/// The steps of a path, or why it is not one: keys separated by '.', each optionally followed by
/// `[N]` (an item by index) or `[KEY=VALUE]` (the item whose KEY holds VALUE, which may contain
/// dots), ending with a key.
Result<std::vector<Step>> parse_path(const std::string& path) {
  const auto fail = [&](const std::string& why) -> Result<std::vector<Step>> {
    return make_error(ErrorKind::config, "'" + path + "' " + why);
  };
  std::vector<Step> steps;
  std::size_t i = 0;
  while (true) {
    const std::size_t end = path.find_first_of(".[]", i);
    const std::string key = path.substr(i, end == std::string::npos ? end : end - i);
    if (key.empty()) {
      return fail("has an empty key (keys that contain a dot cannot be named)");
    }
    steps.push_back(Step{Step::Kind::key, key, 0, ""});
    i = end;
    while (i != std::string::npos && path[i] == '[') {
      const std::size_t close = path.find(']', i);
      if (close == std::string::npos) {
        return fail("has a '[' without its ']'");
      }
      const std::string inside = path.substr(i + 1, close - i - 1);
      if (const std::size_t equals = inside.find('='); equals != std::string::npos) {
        if (equals == 0 || equals + 1 == inside.size() || inside.find_first_of(".[", 0) < equals) {
          return fail("selects a list item with '[" + inside + "]': write [KEY=VALUE]");
        }
        steps.push_back(
            Step{Step::Kind::select, inside.substr(0, equals), 0, inside.substr(equals + 1)});
      } else {
        if (inside.empty() || inside.size() > 6 ||
            inside.find_first_not_of("0123456789") != std::string::npos) {
          return fail("selects a list item with '[" + inside +
                      "]': write an index [N] or [KEY=VALUE]");
        }
        steps.push_back(Step{Step::Kind::index, "", std::stoul(inside), ""});
      }
      i = close + 1;
      if (i == path.size()) {
        return fail("ends with a list item: it must end with a key");
      }
    }
    if (i == std::string::npos) {
      return steps;
    }
    if (path[i] != '.') {
      return fail("has '" + std::string(1, path[i]) + "' where a '.' or '[' must be");
    }
    ++i;
  }
}

/// A step as a path shows it after its parent's path.
std::string step_text(const std::string& parent, const Step& step) {
  switch (step.kind) {
    case Step::Kind::key:
      return parent.empty() ? step.key : parent + "." + step.key;
    case Step::Kind::index:
      return parent + "[" + std::to_string(step.index) + "]";
    case Step::Kind::select:
      return parent + "[" + step.key + "=" + step.value + "]";
  }
  return parent;
}

std::vector<PartPath> parts_of(const HelmImage& where) {
  std::vector<PartPath> parts;
  for (const auto& [part, path] :
       {std::pair{Part::registry, &where.registry}, std::pair{Part::repository, &where.repository},
        std::pair{Part::tag, &where.tag}, std::pair{Part::digest, &where.digest},
        std::pair{Part::image, &where.image}}) {
    if (!path->empty()) {
      auto steps = parse_path(*path);  // checked by check_helm_image before any use
      parts.push_back({part, *path, steps ? std::move(*steps) : std::vector<Step>{}});
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

/// The scalar at a key of a map node, or "" when there is none.
std::string scalar_at(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) {
    return "";
  }
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

/// Whether a document is the one `document` chooses.
bool chosen(const YAML::Node& node, const HelmDocument& document) {
  return node.IsMap() && (document.kind.empty() || scalar_at(node, "kind") == document.kind) &&
         (document.name.empty() || scalar_at(node["metadata"], "name") == document.name);
}

std::string describe(const HelmDocument& document) {
  std::string out;
  if (!document.kind.empty()) {
    out = "kind '" + document.kind + "'";
  }
  if (!document.name.empty()) {
    out += (out.empty() ? "" : " and ") + std::string("metadata.name '") + document.name + "'";
  }
  return out;
}

Result<Parsed> load(std::string_view text, const std::string& file, const HelmDocument& document) {
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  Parsed parsed{file, Source(text), YAML::Node()};
  if (!document.kind.empty() || !document.name.empty()) {
    std::optional<YAML::Node> found;
    for (const auto& node : *documents) {
      if (!chosen(node, document)) {
        continue;
      }
      if (found) {
        return parsed.error_at(
            node.Mark(), "a second document has " + describe(document) + "; name one document");
      }
      found = node;
    }
    if (!found) {
      return make_error(ErrorKind::input, file + ": no document has " + describe(document) +
                                              " (it has " + std::to_string(documents->size()) +
                                              " documents)");
    }
    parsed.root = *found;
    return parsed;
  }
  const auto first = std::find_if(documents->begin(), documents->end(),
                                  [](const YAML::Node& node) { return !node.IsNull(); });
  if (first == documents->end()) {
    return parsed;
  }
  if (!first->IsMap()) {
    return parsed.error_at(first->Mark(), "a values file must be a map");
  }
  parsed.root = *first;
  return parsed;
}

/// Where a path leads: to a key and its value, or to the map, list (or null) that lacks a step.
struct Lookup {
  bool found = false;
  YAML::Node map;  ///< the map holding the key
  YAML::Node key;
  YAML::Node value;
  std::string parent;         ///< the path of the map (or list) holding (or lacking) the step
  YAML::Mark parent_mark;     ///< where that node's key (or item) is, or the top of the file
  std::string missing;        ///< what is not there: "key 'tag'", "item [3]", ...
  bool merge_key = false;     ///< the map lacking the key has a '<<' merge key
  std::string through_alias;  ///< a path on the way that is an alias, when there is one
  YAML::Mark alias_mark;
};

std::string kind_of(const YAML::Node& node) {
  return node.IsSequence() ? "a list" : node.IsMap() ? "a map" : "a string";
}

std::string missing_step(const Step& step) {
  switch (step.kind) {
    case Step::Kind::key:
      return "key '" + step.key + "'";
    case Step::Kind::index:
      return "item [" + std::to_string(step.index) + "]";
    case Step::Kind::select:
      return "item with " + step.key + "=" + step.value;
  }
  return "";
}

/// The item of a list a step chooses; nullopt when there is none. Fails when a `[KEY=VALUE]`
/// step chooses two items.
Result<std::optional<YAML::Node>> item_of(const Parsed& parsed, const YAML::Node& list,
                                          const Step& step, const std::string& path) {
  if (step.kind == Step::Kind::index) {
    if (step.index >= list.size()) {
      return std::optional<YAML::Node>();
    }
    return std::optional<YAML::Node>(list[step.index]);
  }
  std::optional<YAML::Node> found;
  for (const YAML::Node& item : list) {
    if (scalar_at(item, step.key.c_str()) != step.value) {
      continue;
    }
    if (found) {
      // Spelled out: a YAML::Node converts from anything, an Error too.
      return Result<std::optional<YAML::Node>>(
          boost::system::in_place_error,
          parsed.error_at(item.Mark(),
                          "'" + path + "' has two items with " + step.key + "=" + step.value));
    }
    found = item;
  }
  return found;
}

Result<Lookup> lookup(const Parsed& parsed, const PartPath& part) {
  Lookup out;
  YAML::Node node = parsed.root;
  out.parent_mark = parsed.root.IsNull() ? YAML::Mark() : parsed.root.Mark();
  out.parent_mark.line = std::max(out.parent_mark.line, 0);
  out.parent_mark.column = std::max(out.parent_mark.column, 0);
  const Source& source = parsed.source;
  const std::string top = "the values file";
  for (std::size_t i = 0; i < part.steps.size(); ++i) {
    const Step& step = part.steps[i];
    const bool last = i + 1 == part.steps.size();
    if (node.IsNull()) {
      out.missing = missing_step(step);
      return out;
    }
    if (step.kind != Step::Kind::key) {
      if (!node.IsSequence()) {
        return parsed.error_at(node.Mark(), "'" + out.parent + "' must be a list to hold " +
                                                missing_step(step) + " (it is " + kind_of(node) +
                                                ")");
      }
      auto item = item_of(parsed, node, step, out.parent);
      if (!item) {
        return item.error();
      }
      if (!*item) {
        out.missing = missing_step(step);
        return out;
      }
      const std::string path = step_text(out.parent, step);
      // An alias item (`- *name`) has the mark of its anchor, before the list.
      if (source.offset((*item)->Mark()) < source.offset(node.Mark()) &&
          out.through_alias.empty()) {
        out.through_alias = path;
        out.alias_mark = out.parent_mark;
      }
      out.parent = path;
      out.parent_mark = (*item)->Mark();
      node.reset(**item);
      continue;
    }
    const std::string& key = step.key;
    if (!node.IsMap()) {
      return parsed.error_at(node.Mark(), (out.parent.empty() ? top : out.parent) +
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
                               (out.parent.empty() ? top : "'" + out.parent + "'") +
                                   " has the key '" + key + "' twice");
      }
      match.emplace(pair.first, pair.second);
    }
    if (!match) {
      out.missing = missing_step(step);
      return out;
    }
    out.merge_key = false;
    const auto& [key_node, value] = *match;
    const std::string path = step_text(out.parent, step);
    if (!value.IsNull() && source.offset(value.Mark()) < source.offset(key_node.Mark()) &&
        out.through_alias.empty() && !last) {
      out.through_alias = path;
      out.alias_mark = key_node.Mark();
    }
    if (last) {
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

Result<std::optional<image::Reference>> read_reference(const Parsed& parsed,
                                                       const HelmImage& where) {
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

/// The image as HelmReading has it: a tag or repository without tag and digest is no image, and
/// an empty tag (or image string) says where it is.
Result<HelmReading> read_image(const Parsed& parsed, const HelmImage& where) {
  auto reference = read_reference(parsed, where);
  if (!reference) {
    return reference.error();
  }
  HelmReading out;
  if (*reference &&
      (!where.image.empty() || !(*reference)->tag.empty() || !(*reference)->digest.empty())) {
    out.reference = std::move(*reference);
    return out;
  }
  const auto parts = parts_of(where);
  const PartPath* part = find_part(parts, where.image.empty() ? Part::tag : Part::image);
  auto found = lookup(parsed, *part);
  if (found && found->found) {
    const YAML::Mark mark = found->value.IsNull() ? found->key.Mark() : found->value.Mark();
    out.empty = Location{parsed.file, mark.line + 1, mark.column + 1}.to_string();
  }
  return out;
}

/// The repository as the file spells it, when it has one.
std::optional<image::Reference> written_repository(const Parsed& parsed, const HelmImage& where) {
  const auto parts = parts_of(where);
  auto values = read_values(parsed, parts);
  if (!values) {
    return std::nullopt;
  }
  const auto get = [&](Part part) {
    const auto it = values->text.find(part);
    return it == values->text.end() ? std::string() : it->second;
  };
  std::string text = where.image.empty() ? get(Part::repository) : get(Part::image);
  if (!get(Part::registry).empty() && !text.empty()) {
    text = get(Part::registry) + "/" + text;
  }
  auto reference = image::parse(text);
  if (!reference) {
    return std::nullopt;
  }
  return *reference;
}

/// `target` with the file's spelling of its repository, when it is the same one (`redis` for
/// docker.io/library/redis).
image::Reference spelled_as_written(const Parsed& parsed, const HelmImage& where,
                                    const image::Reference& target) {
  const auto written = written_repository(parsed, where);
  return written ? target.spelled_as(*written) : target;
}

/// What each part of the image must hold for `target`.
std::map<Part, std::string> wanted_parts(const HelmImage& where, const image::Reference& target) {
  std::map<Part, std::string> wanted;
  if (!where.image.empty()) {
    wanted[Part::image] = target.to_string();
    return wanted;
  }
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
  return wanted;
}

/// The edit that adds `digest: value` on the line after the tag, when the digest path is a
/// sibling of the tag path in a block map and the tag is a `key: value` on one line.
Result<splice::Edit> add_digest(const Parsed& parsed, const PartPath& tag, const PartPath& digest,
                                const Lookup& missing, const std::string& value) {
  const Source& source = parsed.source;
  const auto refuse = [&](const std::string& why) -> Result<splice::Edit> {
    return parsed.error_at(missing.parent_mark,
                           digest.path + " is not in the file and promote cannot add it here (" +
                               why + "); add '" + digest.steps.back().key + ": \"\"' by hand");
  };
  if (tag.steps.size() != digest.steps.size() ||
      !std::equal(tag.steps.begin(), tag.steps.end() - 1, digest.steps.begin())) {
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
  const std::string entry = digest.steps.back().key + ": " + splice::render(value);
  const std::string eol(source.eol());
  if (source.has_eol(line)) {
    const std::size_t at = source.next_line_begin(line);
    return splice::Edit{at, at, indent + entry + eol};
  }
  return splice::Edit{source.text().size(), source.text().size(), eol + indent + entry};
}

/// What a path lacks: "'image' has no key 'tag'", with a word on merge keys.
std::string what_is_missing(const Lookup& found) {
  std::string message = (found.parent.empty() ? "the values file" : "'" + found.parent + "'") +
                        " has no " + found.missing;
  if (found.merge_key) {
    message += " (keys that come from a '<<' merge key are not followed)";
  }
  return message;
}

std::string missing_message(const PartPath& part, const Lookup& found) {
  return part.path + " is not in the file: " + what_is_missing(found) +
         "; promote does not add keys, add it to the file first";
}

const char* part_name(Part part) {
  switch (part) {
    case Part::registry:
      return "registry";
    case Part::repository:
      return "repository";
    case Part::tag:
      return "tag";
    case Part::digest:
      return "digest";
    case Part::image:
      return "image";
  }
  return "image";
}

}  // namespace

Result<void> check_helm_image(const HelmImage& where) {
  const auto fail = [](const std::string& why) -> Result<void> {
    return make_error(ErrorKind::config, "helm image paths: " + why);
  };
  for (const auto* path :
       {&where.image, &where.registry, &where.repository, &where.tag, &where.digest}) {
    if (path->empty()) {
      continue;
    }
    if (auto steps = parse_path(*path); !steps) {
      return fail(steps.error().message);
    }
  }
  const auto parts = parts_of(where);
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

Result<HelmReading> read_helm_image(std::string_view text, const std::string& file,
                                    const HelmImage& where, const HelmDocument& document) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  auto parsed = load(text, file, document);
  if (!parsed) {
    return parsed.error();
  }
  return read_image(*parsed, where);
}

Result<std::optional<image::Reference>> get_helm_image(std::string_view text,
                                                       const std::string& file,
                                                       const HelmImage& where,
                                                       const HelmDocument& document) {
  auto reading = read_helm_image(text, file, where, document);
  if (!reading) {
    return reading.error();
  }
  return std::move(reading->reference);
}

Result<std::vector<HelmValue>> helm_values(std::string_view text, const std::string& file,
                                           const HelmImage& where, const image::Reference& target,
                                           const HelmDocument& document) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  auto parsed = load(text, file, document);
  if (!parsed) {
    return parsed.error();
  }
  const auto wanted = wanted_parts(where, spelled_as_written(*parsed, where, target));
  std::vector<HelmValue> out;
  for (const auto& part : parts_of(where)) {
    auto found = lookup(*parsed, part);
    if (!found) {
      return found.error();
    }
    std::string at;
    if (found->found) {
      const YAML::Mark mark = found->value.IsNull() ? found->key.Mark() : found->value.Mark();
      at = Location{file, mark.line + 1, mark.column + 1}.to_string();
    }
    out.push_back(HelmValue{part.path, wanted.at(part.part), at});
  }
  return out;
}

Result<std::vector<HelmGap>> missing_helm_paths(std::string_view text, const std::string& file,
                                                const HelmImage& where,
                                                const HelmDocument& document) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  auto parsed = load(text, file, document);
  if (!parsed) {
    return parsed.error();
  }
  std::vector<HelmGap> out;
  for (const auto& part : parts_of(where)) {
    if (part.part == Part::digest) {
      continue;
    }
    auto found = lookup(*parsed, part);
    if (!found) {
      return found.error();
    }
    if (!found->found) {
      const YAML::Mark& mark = found->parent_mark;
      out.push_back(HelmGap{part_name(part.part), part.path, what_is_missing(*found),
                            Location{file, mark.line + 1, mark.column + 1}});
    }
  }
  return out;
}

Result<std::string> set_helm_image(std::string_view text, const std::string& file,
                                   const HelmImage& where, const image::Reference& wanted_image,
                                   const HelmDocument& document) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  if (wanted_image.path.empty()) {
    return make_error(ErrorKind::input,
                      file + ": cannot set a helm image: the target reference has no repository");
  }
  if (!wanted_image.digest.empty() && where.image.empty() && where.digest.empty()) {
    return make_error(ErrorKind::input,
                      file + ": cannot set " + where.tag + " to '" + wanted_image.to_string() +
                          "': the target has a digest and the helm image has no digest path");
  }
  auto parsed = load(text, file, document);
  if (!parsed) {
    return parsed.error();
  }
  const Source& source = parsed->source;
  const auto parts = parts_of(where);
  const image::Reference target = spelled_as_written(*parsed, where, wanted_image);
  const std::map<Part, std::string> wanted = wanted_parts(where, target);

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
  auto reparsed = load(*edited, file, document);
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
