#include "engine/overlay/argocd_helm.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;

/// The parts of an image, in the order they are read and written.
enum class Part { registry, repository, tag, digest, image };

/// One step of a value path: a map key, a list item by index, or the item whose key holds a value.
struct Step {
  enum class Kind { key, index, select };
  Kind kind = Kind::key;
  std::string key;
  std::size_t index = 0;
  std::string value;
};

struct PartPath {
  Part part;
  std::string path;  ///< "image.tag"
  std::vector<Step> steps;
};

/// The steps of a path `check_helm_image` accepted: keys separated by '.', each followed by any
/// number of `[N]` and `[KEY=VALUE]` (whose VALUE may hold dots).
std::vector<Step> steps_of(const std::string& path) {
  std::vector<Step> steps;
  std::size_t i = 0;
  while (i < path.size()) {
    const std::size_t end = std::min(path.find_first_of(".[", i), path.size());
    steps.push_back({Step::Kind::key, path.substr(i, end - i), 0, ""});
    i = end;
    while (i < path.size() && path[i] == '[') {
      const std::size_t close = std::min(path.find(']', i), path.size());
      const std::string inside = path.substr(i + 1, close - i - 1);
      if (const std::size_t equals = inside.find('='); equals != std::string::npos) {
        steps.push_back(
            {Step::Kind::select, inside.substr(0, equals), 0, inside.substr(equals + 1)});
      } else {
        steps.push_back({Step::Kind::index, "", std::stoul(inside), ""});
      }
      i = close + 1;
    }
    ++i;  // the '.'
  }
  return steps;
}

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
      parts.push_back({part, *path, steps_of(*path)});
    }
  }
  return parts;
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

/// A `key: value` pair of a map.
struct Member {
  YAML::Node key;
  YAML::Node value;
};

std::optional<Member> member(const YAML::Node& map, std::string_view key) {
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      return Member{pair.first, pair.second};
    }
  }
  return std::nullopt;
}

/// A place of one source that holds values for Helm: the parameters list, the valuesObject map,
/// or the values document parsed from the `values` string.
struct Place {
  enum class Kind { parameters, values_object, values };
  Kind kind = Kind::parameters;
  std::string label;      ///< "spec.sources[1].helm.valuesObject"
  YAML::Node root;        ///< the list, the map, or the values document (null when empty)
  std::string alias;      ///< a path on the way that is an alias of a node anchored elsewhere
  YAML::Mark alias_mark;  ///< where that alias is, in the file
  // `values` only:
  std::shared_ptr<const std::string> text;  ///< the values document
  bool in_place = false;  ///< `text` is the block's lines, de-indented: its bytes map to the file
  int first_line = 0;     ///< the file's line (0-based) of the first line of `text`
  int indent = 0;         ///< the columns taken off each line of the block
  YAML::Mark at;          ///< where the string is in the file
  std::string refusal;    ///< why `text` cannot be edited in place
};

Place make_place(Place::Kind kind, const std::string& label, const YAML::Node& root) {
  Place place;
  place.kind = kind;
  place.label = label;
  place.root.reset(root);  // `=` would overwrite the node it refers to
  return place;
}

/// One Application source with a helm block: its places, highest precedence first.
struct Block {
  std::string path;  ///< "spec.sources[1]"
  std::vector<Place> places;
};

/// The chosen Applications' helm blocks, and what messages say about the Applications.
struct Collected {
  std::vector<Block> blocks;
  int applications = 0;  ///< how many Applications were chosen
  std::string name;      ///< the first one's metadata.name
  YAML::Mark anchor;     ///< the first helm key, else the first Application, else the top
  bool anchored = false;
};

/// Reads the places of a file; knows how positions in a place map to the file.
class Reader {
 public:
  Reader(std::string_view text, const std::string& file) : m_source(text), m_file(file) {}

  const Source& outer() const { return m_source; }
  const std::string& file() const { return m_file; }

  /// The text a place's marks and offsets refer to.
  Source source_of(const Place& place) const {
    return place.kind == Place::Kind::values ? Source(*place.text) : m_source;
  }

  YAML::Mark to_file(const Place& place, const YAML::Mark& mark) const {
    if (place.kind != Place::Kind::values) {
      return mark;
    }
    if (!place.in_place) {
      return place.at;
    }
    // The end of the text (after its last line break) is the start of the line after the block.
    const auto lines = std::count(place.text->begin(), place.text->end(), '\n');
    YAML::Mark out = mark;
    out.line = place.first_line + std::max(mark.line, 0);
    out.column = (mark.line < lines ? place.indent : 0) + std::max(mark.column, 0);
    return out;
  }

  Error error_at(const YAML::Mark& mark, const std::string& what) const {
    return splice::error_at(m_file, mark, what);
  }
  Error error_at(const Place& place, const YAML::Mark& mark, const std::string& what) const {
    return error_at(to_file(place, mark), what);
  }

  /// Whether a value stands before its key: an alias of a node anchored earlier.
  bool is_alias(const Source& source, const YAML::Node& key, const YAML::Node& value) const {
    return !value.IsNull() && source.offset(value.Mark()) < source.offset(key.Mark());
  }

  /// An edit of a place's text as an edit of the file: a value on a line of `values` moves by
  /// the block's indentation, whole lines inserted get it in front.
  splice::Edit to_file(const Place& place, const splice::Edit& edit) const {
    if (place.kind != Place::Kind::values) {
      return edit;
    }
    const Source inner(*place.text);
    const int line = inner.line_of(edit.begin);
    const int file_line = place.first_line + line;
    const std::string eol(m_source.eol());
    const bool insertion =
        edit.begin == edit.end && edit.text.ends_with('\n') && edit.begin == inner.line_begin(line);
    if (!insertion) {
      const std::size_t base =
          m_source.line_begin(file_line) + static_cast<std::size_t>(place.indent);
      return {base + (edit.begin - inner.line_begin(line)),
              base + (edit.end - inner.line_begin(line)), edit.text};
    }
    // Whole lines, each re-indented, with the file's line ending.
    std::string lines;
    for (std::size_t at = 0; at < edit.text.size();) {
      const std::size_t newline = edit.text.find('\n', at);
      std::string content = edit.text.substr(at, newline - at);
      if (content.ends_with('\r')) {
        content.pop_back();
      }
      lines += std::string(static_cast<std::size_t>(place.indent), ' ') + content + eol;
      at = newline + 1;
    }
    if (m_source.has_eol(file_line - 1)) {
      const std::size_t at = m_source.next_line_begin(file_line - 1);
      return {at, at, lines};
    }
    // After a last line without a line break: the break goes first.
    lines.resize(lines.size() - eol.size());
    return {m_source.text().size(), m_source.text().size(), eol + lines};
  }

 private:
  Source m_source;
  std::string m_file;
};

/// The value at `key` of a map, when it is there and not null; fails when it is not a map, a
/// list or a string, as `want` says.
enum class Want { map, list, string };

Result<std::optional<Member>> child(const Reader& reader, const YAML::Node& map, const char* key,
                                    const std::string& path, Want want) {
  auto found = member(map, key);
  if (!found || found->value.IsNull()) {
    return std::optional<Member>();
  }
  const YAML::Node& value = found->value;
  const bool right = want == Want::map    ? value.IsMap()
                     : want == Want::list ? value.IsSequence()
                                          : value.IsScalar();
  if (!right) {
    const char* wanted = want == Want::map ? "a map" : want == Want::list ? "a list" : "a string";
    return reader.error_at(value.Mark(),
                           path + " must be " + wanted + " (it is " + kind_of(value) + ")");
  }
  return std::optional<Member>(*found);
}

/// The lines of a literal block scalar (`|`, `|-`, `|+`, `|2`), de-indented, into `place`;
/// false when they do not read back as the string yaml-cpp gives.
bool literal_lines(const Source& source, const Member& values, std::size_t bar, Place& place) {
  const std::string_view text = source.text();
  const int header = source.line_of(bar);
  int explicit_indent = 0;
  for (std::size_t i = bar + 1; i < source.line_end(header); ++i) {
    if (text[i] >= '1' && text[i] <= '9') {
      explicit_indent = text[i] - '0';
    } else if (text[i] != '-' && text[i] != '+') {
      break;
    }
  }
  const int parent = std::max(values.key.Mark().column, 0);
  const auto spaces = [&](int line) {
    const std::string_view content = source.line_text(line);
    return static_cast<int>(std::min(content.find_first_not_of(' '), content.size()));
  };
  const auto blank = [&](int line) {
    return static_cast<std::size_t>(spaces(line)) == source.line_text(line).size();
  };
  int indent = parent + explicit_indent;
  int line = header + 1;
  if (explicit_indent == 0) {
    while (line < source.line_count() && blank(line)) {
      ++line;
    }
    indent = line < source.line_count() && !blank(line) ? spaces(line) : 0;
    if (indent <= parent) {
      indent = parent + 1;
    }
  }
  int last = header;  // the last line with content
  for (line = header + 1; line < source.line_count(); ++line) {
    if (blank(line)) {
      continue;
    }
    if (spaces(line) < indent) {
      break;
    }
    last = line;
  }
  std::string lines;
  for (line = header + 1; line <= last; ++line) {
    const std::size_t cut = static_cast<std::size_t>(std::min(spaces(line), indent));
    const std::size_t begin = source.line_begin(line) + cut;
    lines.append(text.substr(begin, source.next_line_begin(line) - begin));
  }
  if (!lines.empty() && !lines.ends_with('\n')) {
    lines += source.eol();
  }
  // The check: the lines are the string, line breaks and final breaks aside.
  std::string normal;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!(lines[i] == '\r' && i + 1 < lines.size() && lines[i + 1] == '\n')) {
      normal += lines[i];
    }
  }
  std::string scalar = values.value.Scalar();
  while (normal.ends_with('\n')) {
    normal.pop_back();
  }
  while (scalar.ends_with('\n')) {
    scalar.pop_back();
  }
  if (normal != scalar) {
    return false;
  }
  place.text = std::make_shared<const std::string>(std::move(lines));
  place.first_line = header + 1;
  place.indent = indent;
  return true;
}

/// Moves a mark of an error message ("FILE:LINE:COL: what") from a place's text to the file.
Error moved(const Reader& reader, const Place& place, const Error& error) {
  std::string rest = error.message.substr(std::min(reader.file().size() + 1, error.message.size()));
  YAML::Mark mark = place.at;
  int line = 0;
  int column = 0;
  int used = 0;
  if (std::sscanf(rest.c_str(), "%d:%d: %n", &line, &column, &used) == 2 && used > 0) {
    YAML::Mark inner;
    inner.line = line - 1;
    inner.column = column - 1;
    mark = reader.to_file(place, inner);
    rest = rest.substr(static_cast<std::size_t>(used));
  } else if (rest.starts_with(" ")) {
    rest = rest.substr(1);
  }
  return reader.error_at(mark, place.label + ": " + rest);
}

/// The `values` place: the string's YAML, in place when it is a literal block scalar.
Result<Place> values_place(const Reader& reader, const Member& values, const std::string& label) {
  Place place = make_place(Place::Kind::values, label, YAML::Node());
  place.at = values.value.Mark();
  const Source& source = reader.outer();
  const splice::Span span = splice::locate_value(source, values.key, values.value);
  const std::string_view text = source.text();
  if (span.shape == Shape::block && text[span.begin] == '|' &&
      literal_lines(source, values, span.begin, place)) {
    place.in_place = true;
  } else {
    place.text = std::make_shared<const std::string>(values.value.Scalar());
    if (span.shape == Shape::editable) {
      place.refusal = label + " is " + (span.quote != 0 ? "a quoted" : "a plain") +
                      " string, not a literal block scalar (values: |)";
    } else if (span.shape == Shape::block && text[span.begin] == '>') {
      place.refusal = label + " is a folded block scalar (>), not a literal one (|)";
    } else if (span.shape == Shape::block) {
      place.refusal = label + ": its lines do not read back as its string";
    } else {
      place.refusal = label + ": " + splice::describe(span.shape);
    }
  }
  auto documents = splice::load_all(*place.text, reader.file());
  if (!documents) {
    return moved(reader, place, documents.error());
  }
  for (const auto& document : *documents) {
    if (!document.IsNull()) {
      place.root.reset(document);
      break;
    }
  }
  return place;
}

/// The places of one source's helm block.
Result<void> collect_source(const Reader& reader, const YAML::Node& source_node,
                            const std::string& path, std::string alias, YAML::Mark alias_mark,
                            Collected& out) {
  auto helm = child(reader, source_node, "helm", path + ".helm", Want::map);
  if (!helm) {
    return helm.error();
  }
  if (!*helm) {
    return {};
  }
  if (!out.anchored) {
    out.anchor = (*helm)->key.Mark();
    out.anchored = true;
  }
  const auto note_alias = [&](const Member& found, const std::string& label) {
    if (alias.empty() && reader.is_alias(reader.outer(), found.key, found.value)) {
      alias = label;
      alias_mark = found.key.Mark();
    }
  };
  note_alias(**helm, path + ".helm");
  Block block{path, {}};
  const YAML::Node& map = (*helm)->value;
  const std::string prefix = path + ".helm.";
  auto parameters = child(reader, map, "parameters", prefix + "parameters", Want::list);
  if (!parameters) {
    return parameters.error();
  }
  if (*parameters) {
    Place place = make_place(Place::Kind::parameters, prefix + "parameters", (*parameters)->value);
    std::string saved = alias;
    note_alias(**parameters, place.label);
    place.alias = alias;
    place.alias_mark = alias_mark;
    alias = saved;
    block.places.push_back(std::move(place));
  }
  auto object = child(reader, map, "valuesObject", prefix + "valuesObject", Want::map);
  if (!object) {
    return object.error();
  }
  if (*object) {
    Place place = make_place(Place::Kind::values_object, prefix + "valuesObject", (*object)->value);
    std::string saved = alias;
    note_alias(**object, place.label);
    place.alias = alias;
    place.alias_mark = alias_mark;
    alias = saved;
    block.places.push_back(std::move(place));
  }
  auto values = child(reader, map, "values", prefix + "values", Want::string);
  if (!values) {
    return values.error();
  }
  if (*values) {
    auto place = values_place(reader, **values, prefix + "values");
    if (!place) {
      return place.error();
    }
    place->alias = alias;
    place->alias_mark = alias_mark;
    block.places.push_back(std::move(*place));
  }
  out.blocks.push_back(std::move(block));
  return {};
}

/// Every helm block of the chosen Applications, in file order.
Result<Collected> collect(std::string_view text, const std::string& file,
                          const std::string& application) {
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  const Reader reader(text, file);
  Collected out;
  for (const auto& document : *documents) {
    if (!document.IsMap() || scalar_at(document, "kind") != "Application") {
      continue;
    }
    const auto metadata = member(document, "metadata");
    const std::string name = metadata ? scalar_at(metadata->value, "name") : "";
    if (!application.empty() && name != application) {
      continue;
    }
    if (out.applications++ == 0) {
      out.name = name;
      out.anchor = document.Mark();
    }
    auto spec = child(reader, document, "spec", "spec", Want::map);
    if (!spec) {
      return spec.error();
    }
    if (!*spec) {
      continue;
    }
    std::string alias;
    YAML::Mark alias_mark;
    if (reader.is_alias(reader.outer(), (*spec)->key, (*spec)->value)) {
      alias = "spec";
      alias_mark = (*spec)->key.Mark();
    }
    auto single = child(reader, (*spec)->value, "source", "spec.source", Want::map);
    if (!single) {
      return single.error();
    }
    if (*single) {
      std::string source_alias = alias;
      YAML::Mark source_mark = alias_mark;
      if (source_alias.empty() &&
          reader.is_alias(reader.outer(), (*single)->key, (*single)->value)) {
        source_alias = "spec.source";
        source_mark = (*single)->key.Mark();
      }
      if (auto done = collect_source(reader, (*single)->value, "spec.source", source_alias,
                                     source_mark, out);
          !done) {
        return done.error();
      }
    }
    auto several = child(reader, (*spec)->value, "sources", "spec.sources", Want::list);
    if (!several) {
      return several.error();
    }
    if (!*several) {
      continue;
    }
    const YAML::Node& list = (*several)->value;
    std::string list_alias = alias;
    YAML::Mark list_mark = alias_mark;
    if (list_alias.empty() && reader.is_alias(reader.outer(), (*several)->key, list)) {
      list_alias = "spec.sources";
      list_mark = (*several)->key.Mark();
    }
    std::size_t index = 0;
    for (const auto& item : list) {
      const std::string path = "spec.sources[" + std::to_string(index++) + "]";
      if (!item.IsMap()) {
        return reader.error_at(item.Mark(), path + " must be a map (it is " + kind_of(item) + ")");
      }
      std::string item_alias = list_alias;
      YAML::Mark item_mark = list_mark;
      if (item_alias.empty() &&
          reader.outer().offset(item.Mark()) < reader.outer().offset(list.Mark())) {
        item_alias = path;
        item_mark = list.Mark();
      }
      if (auto done = collect_source(reader, item, path, item_alias, item_mark, out); !done) {
        return done.error();
      }
    }
  }
  return out;
}

/// One value a place holds for a part.
struct Held {
  std::size_t place = 0;  ///< the index of the place in its block
  std::string label;      ///< "spec.source.helm.valuesObject.image.tag", for messages
  std::string value;      ///< "" for null
  YAML::Mark mark;        ///< where the value is (its key when null), in the place's text
  bool has_value = true;  ///< false: a parameter without a `value` key
  YAML::Node key;
  YAML::Node node;
  YAML::Node map;         ///< the map holding the key
  std::string alias;      ///< a path on the way inside the place that is an alias
  YAML::Mark alias_mark;  ///< in the place's text
};

std::string label_of(const Place& place, const std::string& path) {
  switch (place.kind) {
    case Place::Kind::parameters:
      return place.label + "[name=" + path + "].value";
    case Place::Kind::values_object:
      return path.empty() ? place.label : place.label + "." + path;
    case Place::Kind::values:
      return path.empty() ? "the YAML in " + place.label : path + " in " + place.label;
  }
  return place.label;
}

/// The string a value holds: "" for null; fails for a map or a list.
Result<std::string> string_of(const Reader& reader, const Place& place, const YAML::Node& node,
                              const std::string& label) {
  if (node.IsNull()) {
    return std::string();
  }
  if (!node.IsScalar()) {
    return reader.error_at(place, node.Mark(),
                           label + " must be a string (it is " + kind_of(node) + ")");
  }
  return node.Scalar();
}

/// The parameters named by the part's path, in list order.
Result<void> held_in_parameters(const Reader& reader, const Place& place, std::size_t index,
                                const PartPath& part, std::vector<Held>& out) {
  const Source& source = reader.outer();
  std::size_t position = 0;
  for (const auto& item : place.root) {
    const std::string item_label = place.label + "[" + std::to_string(position++) + "]";
    if (!item.IsMap()) {
      return reader.error_at(item.Mark(),
                             item_label + " must be a map (it is " + kind_of(item) + ")");
    }
    if (scalar_at(item, "name") != part.path) {
      continue;
    }
    Held held;
    held.place = index;
    held.label = label_of(place, part.path);
    held.map.reset(item);
    if (source.offset(item.Mark()) < source.offset(place.root.Mark())) {
      held.alias = item_label;
      held.alias_mark = place.root.Mark();
    }
    const auto value = member(item, "value");
    if (!value) {
      held.has_value = false;
      held.mark = item.Mark();
    } else {
      auto text = string_of(reader, place, value->value, held.label);
      if (!text) {
        return text.error();
      }
      held.value = *text;
      held.key.reset(value->key);
      held.node.reset(value->value);
      held.mark = value->value.IsNull() ? value->key.Mark() : value->value.Mark();
    }
    out.push_back(std::move(held));
  }
  return {};
}

std::string missing_step(const Step& step) {
  return step.kind == Step::Kind::index ? "item [" + std::to_string(step.index) + "]"
                                        : "item with " + step.key + "=" + step.value;
}

/// The value the part's path leads to in a map place, when it is there.
Result<void> held_in_map(const Reader& reader, const Place& place, std::size_t index,
                         const PartPath& part, std::vector<Held>& out) {
  const Source source = reader.source_of(place);
  Held held;
  held.place = index;
  held.label = label_of(place, part.path);
  YAML::Node node = place.root;
  std::string parent;
  for (std::size_t i = 0; i < part.steps.size(); ++i) {
    const Step& step = part.steps[i];
    if (!node || node.IsNull()) {
      return {};
    }
    if (step.kind != Step::Kind::key) {
      if (!node.IsSequence()) {
        return reader.error_at(place, node.Mark(),
                               label_of(place, parent) + " must be a list to hold " +
                                   missing_step(step) + " (it is " + kind_of(node) + ")");
      }
      std::optional<YAML::Node> item;
      if (step.kind == Step::Kind::index) {
        if (step.index < node.size()) {
          item.emplace(node[step.index]);
        }
      } else {
        for (const auto& candidate : node) {
          if (scalar_at(candidate, step.key.c_str()) != step.value) {
            continue;
          }
          if (item) {
            return reader.error_at(
                place, candidate.Mark(),
                label_of(place, parent) + " has two items with " + step.key + "=" + step.value);
          }
          item.emplace(static_cast<const YAML::Node&>(candidate));
        }
      }
      if (!item) {
        return {};
      }
      parent = step_text(parent, step);
      if (source.offset(item->Mark()) < source.offset(node.Mark()) && held.alias.empty()) {
        held.alias = label_of(place, parent);
        held.alias_mark = node.Mark();
      }
      node.reset(*item);  // rebinds; `=` would overwrite the node it refers to
      continue;
    }
    if (!node.IsMap()) {
      return reader.error_at(place, node.Mark(),
                             label_of(place, parent) + " must be a map to hold '" + step.key +
                                 "' (it is " + kind_of(node) + ")");
    }
    std::optional<Member> match;
    for (const auto& pair : node) {
      if (!pair.first.IsScalar() || pair.first.Scalar() != step.key) {
        continue;
      }
      if (match) {
        return reader.error_at(place, pair.first.Mark(),
                               label_of(place, parent) + " has the key '" + step.key + "' twice");
      }
      match = Member{pair.first, pair.second};
    }
    if (!match) {
      return {};
    }
    if (i + 1 == part.steps.size()) {
      auto text = string_of(reader, place, match->value, held.label);
      if (!text) {
        return text.error();
      }
      held.value = *text;
      held.key.reset(match->key);
      held.node.reset(match->value);
      held.map.reset(node);
      held.mark = match->value.IsNull() ? match->key.Mark() : match->value.Mark();
      out.push_back(std::move(held));
      return {};
    }
    parent = step_text(parent, step);
    if (held.alias.empty() && reader.is_alias(source, match->key, match->value)) {
      held.alias = label_of(place, parent);
      held.alias_mark = match->key.Mark();
    }
    node.reset(match->value);
  }
  return {};
}

/// What each part's paths hold in each place of a block, highest precedence first.
using Holdings = std::map<Part, std::vector<Held>>;

Result<Holdings> holdings_of(const Reader& reader, const Block& block,
                             const std::vector<PartPath>& parts) {
  Holdings out;
  for (const auto& part : parts) {
    std::vector<Held> held;
    for (std::size_t i = 0; i < block.places.size(); ++i) {
      const Place& place = block.places[i];
      auto done = place.kind == Place::Kind::parameters
                      ? held_in_parameters(reader, place, i, part, held)
                      : held_in_map(reader, place, i, part, held);
      if (!done) {
        return done.error();
      }
    }
    if (!held.empty()) {
      out[part.part] = std::move(held);
    }
  }
  return out;
}

/// The value Helm gets for a part: the highest place's (of parameters, the last); null when no
/// place holds the part.
const Held* winner(const Holdings& holdings, Part part) {
  const auto it = holdings.find(part);
  if (it == holdings.end()) {
    return nullptr;
  }
  const std::size_t top = it->second.front().place;
  const Held* out = nullptr;
  for (const auto& held : it->second) {
    if (held.place == top) {
      out = &held;
    }
  }
  return out;
}

std::string value_of(const Holdings& holdings, Part part) {
  const Held* held = winner(holdings, part);
  return held == nullptr ? std::string() : held->value;
}

/// Why an image reference is invalid, without the quoted text `image::parse` starts with.
std::string reason(const Error& error) {
  const std::size_t cut = error.message.find("': ");
  return cut == std::string::npos ? error.message : error.message.substr(cut + 3);
}

/// The reference Helm gets from a block; nullopt when it holds no tag, digest or image string.
Result<std::optional<image::Reference>> reference_of(const Reader& reader, const Block& block,
                                                     const Holdings& holdings,
                                                     const HelmImage& where) {
  const auto blame = [&](Part part, const std::string& what) {
    const Held* held = winner(holdings, part);
    return reader.error_at(block.places[held->place], held->mark, held->label + ": " + what);
  };
  if (!where.image.empty()) {
    const std::string text = value_of(holdings, Part::image);
    if (text.empty()) {
      return std::optional<image::Reference>();
    }
    auto reference = image::parse(text);
    if (!reference) {
      return blame(Part::image, reference.error().message);
    }
    return std::optional<image::Reference>(std::move(*reference));
  }
  const std::string tag = value_of(holdings, Part::tag);
  const std::string digest = value_of(holdings, Part::digest);
  if (tag.empty() && digest.empty()) {
    return std::optional<image::Reference>();
  }
  std::string repository = value_of(holdings, Part::repository);
  if (!repository.empty() && !value_of(holdings, Part::registry).empty()) {
    repository = value_of(holdings, Part::registry) + "/" + repository;
  }
  const std::string rest = (tag.empty() ? "" : ":" + tag) + (digest.empty() ? "" : "@" + digest);
  // Without a repository, the tag and digest are checked alone.
  const bool no_repository = repository.empty();
  auto reference = image::parse((no_repository ? "repository" : repository) + rest);
  if (!reference) {
    const std::string why = reason(reference.error());
    Part blamed = why.starts_with("tag")        ? Part::tag
                  : why.starts_with("digest")   ? Part::digest
                  : why.starts_with("registry") ? Part::registry
                                                : Part::repository;
    if (winner(holdings, blamed) == nullptr) {
      blamed = winner(holdings, Part::tag) != nullptr ? Part::tag : Part::digest;
    }
    return blame(blamed, no_repository ? why : reference.error().message);
  }
  if (no_repository) {
    reference->registry.clear();
    reference->path.clear();
  }
  return std::optional<image::Reference>(std::move(*reference));
}

Result<void> check_paths(const HelmImage& where, const std::string& file) {
  auto checked = check_helm_image(where);
  if (!checked) {
    return make_error(checked.error().kind, file + ": " + checked.error().message);
  }
  return {};
}

/// The image as one block reads it, with what it holds.
struct Reading {
  Holdings holdings;
  std::optional<image::Reference> reference;
};

Result<std::vector<Reading>> read_all(const Reader& reader, const Collected& collected,
                                      const HelmImage& where) {
  const auto parts = parts_of(where);
  std::vector<Reading> out;
  for (const auto& block : collected.blocks) {
    auto holdings = holdings_of(reader, block, parts);
    if (!holdings) {
      return holdings.error();
    }
    auto reference = reference_of(reader, block, *holdings, where);
    if (!reference) {
      return reference.error();
    }
    out.push_back({std::move(*holdings), std::move(*reference)});
  }
  return out;
}

/// What each part must hold for `target` (as `set_helm_image` writes it).
std::map<Part, std::string> wanted_parts(const HelmImage& where, const image::Reference& target) {
  std::map<Part, std::string> wanted;
  if (!where.image.empty()) {
    wanted[Part::image] = target.to_string();
    return wanted;
  }
  if (!where.registry.empty()) {
    wanted[Part::registry] = target.registry;
    wanted[Part::repository] = target.path;
  } else {
    wanted[Part::repository] = target.repository();
  }
  wanted[Part::tag] = target.tag;
  wanted[Part::digest] = target.digest;
  return wanted;
}

/// `target` with the block's spelling of its repository, when it is the same one.
image::Reference spelled(const Holdings& holdings, const HelmImage& where,
                         const image::Reference& target) {
  std::string text = value_of(holdings, where.image.empty() ? Part::repository : Part::image);
  if (!value_of(holdings, Part::registry).empty() && !text.empty()) {
    text = value_of(holdings, Part::registry) + "/" + text;
  }
  auto written = image::parse(text);
  return written ? target.spelled_as(*written) : target;
}

bool is_docker_hub(std::string_view registry) {
  return registry == "docker.io" || registry == "index.docker.io" ||
         registry == "registry-1.docker.io";
}

/// Why a held value cannot be edited, as an error; nullopt when it can.
std::optional<Error> not_editable(const Reader& reader, const Place& place, const Held& held) {
  const auto refuse = [&](const YAML::Mark& file_mark, const std::string& why) {
    return reader.error_at(file_mark, "cannot edit " + held.label + " in place: " + why);
  };
  const std::string through = ", and promote does not edit through aliases";
  if (!place.alias.empty()) {
    return refuse(
        place.alias_mark,
        "'" + place.alias + "' is an alias (*name) of a value anchored elsewhere" + through);
  }
  if (!held.alias.empty()) {
    return refuse(
        reader.to_file(place, held.alias_mark),
        "'" + held.alias + "' is an alias (*name) of a value anchored elsewhere" + through);
  }
  if (place.kind == Place::Kind::values && !place.in_place) {
    return refuse(place.at, place.refusal);
  }
  if (!held.has_value) {
    return refuse(held.mark, "the parameter has no 'value' key, and promote does not add keys");
  }
  return std::nullopt;
}

/// The edit (of the file) that makes a held value `value`.
Result<splice::Edit> edit_of(const Reader& reader, const Place& place, const Held& held,
                             const std::string& value) {
  if (auto refused = not_editable(reader, place, held)) {
    return *refused;
  }
  const Source source = reader.source_of(place);
  const splice::Span span = splice::locate_value(source, held.key, held.node);
  if (span.shape != Shape::editable && span.shape != Shape::null) {
    std::string why = splice::describe(span.shape);
    if (span.shape == Shape::alias) {
      const YAML::Mark anchor = reader.to_file(place, source.mark_at(span.begin));
      why += " (the anchor is at line " + std::to_string(anchor.line + 1) + ", column " +
             std::to_string(anchor.column + 1) + ")";
    }
    return reader.error_at(place, held.key.Mark(),
                           "cannot edit " + held.label + " in place: " + why);
  }
  return reader.to_file(place, splice::replace(span, value));
}

/// The edit that adds `digest: value` on the line after the tag, when the digest path is the
/// tag path's sibling in a block map and the tag is a `key: value` alone on its line.
Result<splice::Edit> add_digest(const Reader& reader, const Place& place, const Held& tag,
                                const PartPath& tag_path, const PartPath& digest,
                                const std::string& value) {
  const std::string key = digest.steps.back().key;
  const auto refuse = [&](const std::string& why) -> Result<splice::Edit> {
    return reader.error_at(place, tag.key.Mark(),
                           label_of(place, digest.path) +
                               " is not there and promote cannot add it (" + why + "); add '" +
                               key + ": \"\"' beside the tag by hand");
  };
  const auto same = [](const Step& a, const Step& b) {
    return a.kind == b.kind && a.key == b.key && a.index == b.index && a.value == b.value;
  };
  if (tag_path.steps.size() != digest.steps.size() ||
      !std::equal(tag_path.steps.begin(), tag_path.steps.end() - 1, digest.steps.begin(), same)) {
    return refuse("it is not a sibling of " + tag_path.path);
  }
  if (auto refused = not_editable(reader, place, tag)) {
    return *refused;
  }
  const Source source = reader.source_of(place);
  const int line = source.line_of(source.offset(tag.key.Mark()));
  const splice::Span span = splice::locate_value(source, tag.key, tag.node);
  if ((span.shape != Shape::editable && span.shape != Shape::null) ||
      source.line_of(span.end) != line) {
    return refuse(tag.label + " is not a single-line value");
  }
  const std::string_view before_key = source.text().substr(
      source.line_begin(line), source.offset(tag.key.Mark()) - source.line_begin(line));
  if (before_key.find_first_of("{[,") != std::string_view::npos ||
      tag.map.Style() == YAML::EmitterStyle::Flow) {
    return refuse(tag.label + " is in a flow map");
  }
  const std::string_view after_value =
      source.text().substr(span.end, source.line_end(line) - span.end);
  const std::size_t rest = after_value.find_first_not_of(" \t");
  if (rest != std::string_view::npos && after_value[rest] != '#') {
    return refuse(tag.label + " shares its line with something else");
  }
  const std::string indent(static_cast<std::size_t>(std::max(tag.key.Mark().column, 0)), ' ');
  const std::string entry = indent + key + ": " + splice::render(value);
  const std::string eol(source.eol());
  if (source.has_eol(line)) {
    const std::size_t at = source.next_line_begin(line);
    return reader.to_file(place, splice::Edit{at, at, entry + eol});
  }
  return splice::Edit{source.text().size(), source.text().size(), eol + entry};
}

/// Every value held, block by block and part by part, as a list to compare after an edit.
std::vector<std::string> values_held(const std::vector<Reading>& readings) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < readings.size(); ++i) {
    for (const auto& [part, held] : readings[i].holdings) {
      for (const auto& one : held) {
        out.push_back(std::to_string(i) + ":" + std::to_string(static_cast<int>(part)) + ":" +
                      one.label + "=" + one.value);
      }
    }
  }
  return out;
}

/// "the Application 'shop'", "the 3 Applications": whose helm blocks were searched.
std::string whose(const Collected& collected) {
  if (collected.applications > 1) {
    return "any of the " + std::to_string(collected.applications) + " Applications";
  }
  return collected.name.empty() ? "the Application" : "the Application '" + collected.name + "'";
}

}  // namespace

Result<std::vector<image::Reference>> get_argocd_helm_images(std::string_view text,
                                                             const std::string& file,
                                                             const HelmImage& where,
                                                             const std::string& application) {
  if (auto checked = check_paths(where, file); !checked) {
    return checked.error();
  }
  auto collected = collect(text, file, application);
  if (!collected) {
    return collected.error();
  }
  const Reader reader(text, file);
  auto readings = read_all(reader, *collected, where);
  if (!readings) {
    return readings.error();
  }
  std::vector<image::Reference> out;
  for (auto& reading : *readings) {
    if (reading.reference && std::find(out.begin(), out.end(), *reading.reference) == out.end()) {
      out.push_back(std::move(*reading.reference));
    }
  }
  return out;
}

Result<std::pair<std::string, int>> set_argocd_helm_images(std::string_view text,
                                                           const std::string& file,
                                                           const HelmImage& where,
                                                           const image::Reference& target,
                                                           const std::string& application) {
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
  auto collected = collect(text, file, application);
  if (!collected) {
    return collected.error();
  }
  const Reader reader(text, file);
  auto readings = read_all(reader, *collected, where);
  if (!readings) {
    return readings.error();
  }
  const Part key_part = where.image.empty() ? Part::tag : Part::image;
  if (std::none_of(readings->begin(), readings->end(),
                   [&](const Reading& reading) { return reading.holdings.contains(key_part); })) {
    if (collected->applications == 0) {
      return reader.error_at(YAML::Mark(),
                             application.empty()
                                 ? "the file has no Application"
                                 : "the file has no Application named '" + application + "'");
    }
    const std::string& path = where.image.empty() ? where.tag : where.image;
    return reader.error_at(collected->anchor,
                           path + " is not in the helm parameters, valuesObject or values of " +
                               whose(*collected) +
                               "; promote does not add values, add it to the file first");
  }
  const auto parts = parts_of(where);
  const auto path_of = [&](Part part) {
    return *std::find_if(parts.begin(), parts.end(),
                         [&](const PartPath& one) { return one.part == part; });
  };
  std::vector<splice::Edit> edits;
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < readings->size(); ++i) {
    const Block& block = collected->blocks[i];
    const Holdings& holdings = (*readings)[i].holdings;
    const image::Reference spelled_target = spelled(holdings, where, target);
    const auto wanted = wanted_parts(where, spelled_target);
    std::map<Part, std::vector<std::string>> after;  // what each part's places hold after the edit
    for (const auto& [part, held] : holdings) {
      for (const auto& one : held) {
        const Place& place = block.places[one.place];
        std::string value = wanted.at(part);
        if (part == Part::registry && value.empty() && !one.value.empty()) {
          if (!is_docker_hub(one.value)) {
            return reader.error_at(place, one.mark,
                                   "cannot set " + one.label + " for '" +
                                       spelled_target.to_string() +
                                       "': the target names no registry and the Application "
                                       "says '" +
                                       one.value + "'; give the target with its registry");
          }
          value = one.value;
        }
        after[part].push_back(std::to_string(i) + ":" + std::to_string(static_cast<int>(part)) +
                              ":" + one.label + "=" + value);
        if (one.value == value) {
          continue;
        }
        auto edit = edit_of(reader, place, one, value);
        if (!edit) {
          return edit.error();
        }
        edits.push_back(std::move(*edit));
      }
    }
    // A digest no place holds goes beside the tag, where there is one to go beside.
    const std::string digest = where.digest.empty() ? "" : wanted.at(Part::digest);
    if (!digest.empty() && !holdings.contains(Part::digest) && holdings.contains(Part::tag)) {
      const PartPath digest_path = path_of(Part::digest);
      bool added = false;
      for (const auto& tag : holdings.at(Part::tag)) {
        const Place& place = block.places[tag.place];
        if (place.kind == Place::Kind::parameters) {
          continue;
        }
        auto edit = add_digest(reader, place, tag, path_of(Part::tag), digest_path, digest);
        if (!edit) {
          return edit.error();
        }
        edits.push_back(std::move(*edit));
        after[Part::digest].push_back(std::to_string(i) + ":" +
                                      std::to_string(static_cast<int>(Part::digest)) + ":" +
                                      label_of(place, digest_path.path) + "=" + digest);
        added = true;
      }
      if (!added) {
        const Held& tag = holdings.at(Part::tag).front();
        return reader.error_at(block.places[tag.place], tag.mark,
                               "cannot set " + block.path + "'s image to '" +
                                   spelled_target.to_string() + "': no place holds " +
                                   where.digest + " and promote adds one only beside " + where.tag +
                                   " in valuesObject or values; add a parameter " + "named " +
                                   where.digest + " by hand");
      }
    }
    for (auto& [part, values] : after) {
      expected.insert(expected.end(), values.begin(), values.end());
    }
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  if (edits.empty()) {
    return std::pair{std::move(*edited), 0};
  }
  // Read back: every place holds what it must.
  const auto guard_failed = [&](const std::string& why) -> Result<std::pair<std::string, int>> {
    return make_error(ErrorKind::internal, file + ": editing the helm image at " +
                                               parts.front().path +
                                               " of Argo CD Applications did not give the "
                                               "expected YAML (" +
                                               why + ")");
  };
  auto recollected = collect(*edited, file, application);
  if (!recollected) {
    return guard_failed(recollected.error().message);
  }
  const Reader edited_reader(*edited, file);
  auto read_back = read_all(edited_reader, *recollected, where);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  if (values_held(*read_back) != expected) {
    return guard_failed("the values do not read back as written");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
