#include "engine/overlay/argocd_helm.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;

constexpr std::size_t npos = std::string_view::npos;

/// The parts of an image, in the order they are read and written.
enum class Part { registry, repository, tag, digest, image };

/// One step of a value path: a map key, a list item by index, or the item whose key holds a value.
struct Step {
  enum class Kind { key, index, select };
  Kind kind = Kind::key;
  std::string key;
  std::size_t index = 0;
  std::string value;
  bool operator==(const Step&) const = default;
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
  for (std::size_t i = 0; i < path.size(); ++i) {  // ++i: past the '.'
    const std::size_t end = std::min(path.find_first_of(".[", i), path.size());
    steps.push_back({Step::Kind::key, path.substr(i, end - i), 0, ""});
    for (i = end; i < path.size() && path[i] == '[';) {
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
  }
  return steps;
}

std::string step_text(const std::string& parent, const Step& step) {
  if (step.kind == Step::Kind::key) {
    return parent.empty() ? step.key : parent + "." + step.key;
  }
  return parent + "[" +
         (step.kind == Step::Kind::index ? std::to_string(step.index)
                                         : step.key + "=" + step.value) +
         "]";
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

/// A `key: value` pair of a map, or a list and one of its items.
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

std::string scalar_at(const YAML::Node& map, std::string_view key) {
  const auto found = map.IsMap() ? member(map, key) : std::nullopt;
  return found && found->value.IsScalar() ? found->value.Scalar() : "";
}

/// The first alias on the way to a node: a value that stands before its key (or an item before
/// its list) is the node anchored there, which other places share.
struct Way {
  std::string alias;  ///< its path, "" when there is none
  YAML::Mark mark;    ///< where its key (or list) is

  Way to(const Source& source, const Member& step, const std::string& path) const {
    Way out = *this;
    if (alias.empty() && !step.value.IsNull() &&
        source.offset(step.value.Mark()) < source.offset(step.key.Mark())) {
      out = Way{path, step.key.Mark()};
    }
    return out;
  }
};

/// A place of one source that holds values for Helm: the parameters list, the valuesObject map,
/// or the values document parsed from the `values` string.
struct Place {
  enum class Kind { parameters, values_object, values };
  Kind kind = Kind::parameters;
  std::string label;  ///< "spec.sources[1].helm.valuesObject"
  YAML::Node root;    ///< the list, the map, or the values document (null when empty)
  Way way;            ///< an alias on the way to the place, in the file
  // `values` only:
  std::shared_ptr<const std::string> text;  ///< the values document
  bool in_place = false;  ///< `text` is the block's lines, de-indented: its bytes map to the file
  int first_line = 0;     ///< the file's line (0-based) of the first line of `text`
  int indent = 0;         ///< the columns taken off each line of the block
  YAML::Mark at;          ///< where the string is in the file
  std::string refusal;    ///< why `text` cannot be edited in place
};

Place make_place(Place::Kind kind, const std::string& label, const Member& found) {
  Place place;
  place.kind = kind;
  place.label = label;
  place.root.reset(found.value);  // `=` would overwrite the node it refers to
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
  int applications = 0;              ///< how many Applications were chosen
  std::string name;                  ///< the first one's metadata.name
  std::optional<YAML::Mark> anchor;  ///< the first helm key, else the first Application
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

  /// The file's line of a line of a place's text.
  int file_line(const Place& place, int line) const {
    return place.kind == Place::Kind::values ? place.first_line + line : line;
  }

  YAML::Mark to_file(const Place& place, const YAML::Mark& mark) const {
    if (place.kind != Place::Kind::values || !place.in_place) {
      return place.kind == Place::Kind::values ? place.at : mark;
    }
    // The end of the text, after its last line break, is the start of the line after the block.
    const std::string& text = *place.text;
    const auto lines =
        std::count(text.begin(), text.end(), '\n') + (text.empty() || text.ends_with('\n') ? 0 : 1);
    YAML::Mark out = mark;
    out.line = file_line(place, std::max(mark.line, 0));
    out.column = (mark.line < lines ? place.indent : 0) + std::max(mark.column, 0);
    return out;
  }

  /// An edit within a line of a place's text as an edit of the file.
  splice::Edit to_file(const Place& place, const splice::Edit& edit) const {
    if (place.kind != Place::Kind::values) {
      return edit;
    }
    const Source inner(*place.text);
    const int line = inner.line_of(edit.begin);
    const std::size_t begin = inner.line_begin(line);
    const std::size_t base =
        m_source.line_begin(file_line(place, line)) + static_cast<std::size_t>(place.indent);
    return {base + (edit.begin - begin), base + (edit.end - begin), edit.text};
  }

  Error error_at(const YAML::Mark& mark, const std::string& what) const {
    return splice::error_at(m_file, mark, what);
  }
  Error error_at(const Place& place, const YAML::Mark& mark, const std::string& what) const {
    return error_at(to_file(place, mark), what);
  }

 private:
  Source m_source;
  std::string m_file;
};

enum class Want { map, list, string };

/// The value at `key` of a map, when it is there and not null; fails when it is not what `want`
/// says.
Result<std::optional<Member>> child(const Reader& reader, const YAML::Node& map, const char* key,
                                    const std::string& path, Want want) {
  auto found = member(map, key);
  if (!found || found->value.IsNull()) {
    return std::optional<Member>();
  }
  const YAML::Node& value = found->value;
  if (want == Want::map    ? !value.IsMap()
      : want == Want::list ? !value.IsSequence()
                           : !value.IsScalar()) {
    const char* wanted = want == Want::map ? "a map" : want == Want::list ? "a list" : "a string";
    return reader.error_at(value.Mark(),
                           path + " must be " + wanted + " (it is " + kind_of(value) + ")");
  }
  return found;
}

/// The lines of a literal block scalar (`|`, `|-`, `|+`, `|2`), de-indented, into `place`;
/// false when they do not read back as the string yaml-cpp gives.
bool literal_lines(const Source& source, const Member& values, std::size_t bar, Place& place) {
  const std::string_view text = source.text();
  const int header = source.line_of(bar);
  int explicit_indent = 0;
  for (std::size_t i = bar + 1;
       i < source.line_end(header) && std::string_view("-+123456789").find(text[i]) != npos; ++i) {
    explicit_indent = text[i] == '-' || text[i] == '+' ? explicit_indent : text[i] - '0';
  }
  const auto spaces = [&](int line) {
    const std::string_view content = source.line_text(line);
    return static_cast<int>(std::min(content.find_first_not_of(' '), content.size()));
  };
  const auto blank = [&](int line) {
    return static_cast<std::size_t>(spaces(line)) == source.line_text(line).size();
  };
  // As yaml-cpp: the indicator counts from the key's column; else the first line with content
  // sets the indentation.
  const int parent = std::max(values.key.Mark().column, 0);
  int line = header + 1;
  while (explicit_indent == 0 && line < source.line_count() && blank(line)) {
    ++line;
  }
  const int found = line < source.line_count() && !blank(line) ? spaces(line) : 0;
  const int indent = explicit_indent > 0 ? parent + explicit_indent : std::max(found, parent + 1);
  int last = header;  // the last line with content
  for (line = header + 1; line < source.line_count() && (blank(line) || spaces(line) >= indent);
       ++line) {
    last = blank(line) ? last : line;
  }
  std::string lines;
  for (line = header + 1; line <= last; ++line) {
    const std::size_t begin = source.line_begin(line) + std::min(spaces(line), indent);
    lines.append(text.substr(begin, source.next_line_begin(line) - begin));
  }
  // The lines end with a line break when the string does (yaml-cpp accepts an unclosed quote
  // before a final line break): they load as the string Helm gets.
  if (values.value.Scalar().ends_with('\n') && !lines.empty() && !lines.ends_with('\n')) {
    lines += source.eol();
  } else if (!values.value.Scalar().ends_with('\n') && lines.ends_with('\n')) {
    lines.erase(lines.size() - (lines.ends_with("\r\n") ? 2 : 1));
  }
  // The check: the lines are the string, line breaks and final breaks aside.
  std::string normal;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!(lines[i] == '\r' && i + 1 < lines.size() && lines[i + 1] == '\n')) {
      normal += lines[i];
    }
  }
  std::string scalar = values.value.Scalar();
  const auto trim = [](std::string& s) { s.erase(s.find_last_not_of('\n') + 1); };
  trim(normal);
  trim(scalar);
  if (normal != scalar) {
    return false;
  }
  place.text = std::make_shared<const std::string>(std::move(lines));
  place.first_line = header + 1;
  place.indent = indent;
  return true;
}

/// A values document that does not load: the error at its place in the file.
Error moved(const Reader& reader, const Place& place, const Error& error) {
  std::string rest = error.message.substr(std::min(reader.file().size() + 1, error.message.size()));
  YAML::Mark inner;
  int used = 0;
  if (std::sscanf(rest.c_str(), "%d:%d: %n", &inner.line, &inner.column, &used) != 2 || used == 0) {
    return reader.error_at(place.at, place.label + ":" + rest);
  }
  inner.line -= 1;
  inner.column -= 1;
  return reader.error_at(reader.to_file(place, inner),
                         place.label + ": " + rest.substr(static_cast<std::size_t>(used)));
}

/// The `values` place: the string's YAML, in place when it is a literal block scalar.
Result<Place> values_place(const Reader& reader, const Member& values, const std::string& label) {
  Place place = make_place(Place::Kind::values, label, Member{});
  place.at = values.value.Mark();
  const Source& source = reader.outer();
  const splice::Span span = splice::locate_value(source, values.key, values.value);
  const char first = source.text()[span.begin];
  if (span.shape == Shape::block && first == '|' &&
      literal_lines(source, values, span.begin, place)) {
    place.in_place = true;
  } else {
    place.text = std::make_shared<const std::string>(values.value.Scalar());
    place.refusal = span.shape == Shape::editable
                        ? label + " is " + (span.quote != 0 ? "a quoted" : "a plain") +
                              " string, not a literal block scalar (values: |)"
                    : span.shape == Shape::block && first == '>'
                        ? label + " is a folded block scalar (>), not a literal one (|)"
                    : span.shape == Shape::block
                        ? label + ": its lines do not read back as its string"
                        : label + ": " + splice::describe(span.shape);
  }
  auto documents = splice::load_all(*place.text, reader.file());
  if (!documents) {
    return moved(reader, place, documents.error());
  }
  for (const auto& document : *documents) {
    if (!document.IsNull()) {
      place.root.reset(document);  // `=` would overwrite the node it refers to
      break;
    }
  }
  return place;
}

/// The places of one source's helm block.
Result<void> collect_source(const Reader& reader, const Member& source, const std::string& path,
                            const Way& way, Collected& out) {
  auto helm = child(reader, source.value, "helm", path + ".helm", Want::map);
  if (!helm || !*helm) {
    return helm ? Result<void>() : Result<void>(helm.error());
  }
  out.anchor = out.anchor.value_or((*helm)->key.Mark());
  const Way helm_way = way.to(reader.outer(), **helm, path + ".helm");
  Block block{path, {}};
  for (const auto& [key, kind, want] :
       {std::tuple{"parameters", Place::Kind::parameters, Want::list},
        std::tuple{"valuesObject", Place::Kind::values_object, Want::map},
        std::tuple{"values", Place::Kind::values, Want::string}}) {
    const std::string label = path + ".helm." + key;
    auto found = child(reader, (*helm)->value, key, label, want);
    if (!found) {
      return found.error();
    }
    if (!*found) {
      continue;
    }
    auto place = kind == Place::Kind::values ? values_place(reader, **found, label)
                                             : Result<Place>(make_place(kind, label, **found));
    if (!place) {
      return place.error();
    }
    // An alias `values: *v` is told by its shape, as a string that cannot be edited.
    place->way =
        kind == Place::Kind::values ? helm_way : helm_way.to(reader.outer(), **found, label);
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
  const Source& source = reader.outer();
  Collected out;
  std::optional<YAML::Mark> first_application;
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
      first_application = document.Mark();
    }
    auto spec = child(reader, document, "spec", "spec", Want::map);
    if (!spec) {
      return spec.error();
    }
    if (!*spec) {
      continue;
    }
    const Way way = Way{}.to(source, **spec, "spec");
    auto single = child(reader, (*spec)->value, "source", "spec.source", Want::map);
    if (!single) {
      return single.error();
    }
    if (*single) {
      const Way to_source = way.to(source, **single, "spec.source");
      if (auto done = collect_source(reader, **single, "spec.source", to_source, out); !done) {
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
    const Way to_list = way.to(source, **several, "spec.sources");
    std::size_t index = 0;
    for (const auto& item : list) {
      const std::string path = "spec.sources[" + std::to_string(index++) + "]";
      if (!item.IsMap()) {
        return reader.error_at(item.Mark(), path + " must be a map (it is " + kind_of(item) + ")");
      }
      const Member step{list, item};
      if (auto done = collect_source(reader, step, path, to_list.to(source, step, path), out);
          !done) {
        return done.error();
      }
    }
  }
  if (!out.anchor) {
    out.anchor = first_application;
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
  YAML::Node map;  ///< the map holding the key
  Way way;         ///< an alias on the way inside the place, in the place's text
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

/// `held` with the value of a `key: value` pair; fails when the value is a map or a list.
Result<void> fill(const Reader& reader, const Place& place, const Member& pair, Held& held) {
  if (!pair.value.IsNull() && !pair.value.IsScalar()) {
    return reader.error_at(place, pair.value.Mark(),
                           held.label + " must be a string (it is " + kind_of(pair.value) + ")");
  }
  held.value = pair.value.IsNull() ? "" : pair.value.Scalar();
  held.key.reset(pair.key);
  held.node.reset(pair.value);
  held.mark = pair.value.IsNull() ? pair.key.Mark() : pair.value.Mark();
  return {};
}

/// The parameters named by the part's path, in list order.
Result<void> held_in_parameters(const Reader& reader, const Place& place, std::size_t index,
                                const PartPath& part, std::vector<Held>& out) {
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
    held.way = Way{}.to(reader.outer(), Member{place.root, item}, item_label);
    held.mark = item.Mark();
    if (const auto value = member(item, "value")) {
      if (auto filled = fill(reader, place, *value, held); !filled) {
        return filled;
      }
    } else {
      held.has_value = false;
    }
    out.push_back(std::move(held));
  }
  return {};
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
    const std::string here = label_of(place, parent);
    if (!node || node.IsNull()) {
      return {};
    }
    std::optional<Member> next;
    if (step.kind != Step::Kind::key) {
      if (!node.IsSequence()) {
        return reader.error_at(
            place, node.Mark(),
            here + " must be a list to hold " +
                (step.kind == Step::Kind::index ? "item [" + std::to_string(step.index) + "]"
                                                : "item with " + step.key + "=" + step.value) +
                " (it is " + kind_of(node) + ")");
      }
      if (const YAML::Node& list = node;
          step.kind == Step::Kind::index && step.index < list.size()) {
        next = Member{list, list[step.index]};
      }
      for (const auto& item : node) {
        if (step.kind == Step::Kind::select && scalar_at(item, step.key) == step.value) {
          if (next) {
            return reader.error_at(place, item.Mark(),
                                   here + " has two items with " + step.key + "=" + step.value);
          }
          next = Member{node, item};
        }
      }
    } else if (!node.IsMap()) {
      return reader.error_at(
          place, node.Mark(),
          here + " must be a map to hold '" + step.key + "' (it is " + kind_of(node) + ")");
    } else {
      for (const auto& pair : node) {
        if (pair.first.IsScalar() && pair.first.Scalar() == step.key) {
          if (next) {
            return reader.error_at(place, pair.first.Mark(),
                                   here + " has the key '" + step.key + "' twice");
          }
          next = Member{pair.first, pair.second};
        }
      }
    }
    if (!next) {
      return {};
    }
    if (i + 1 == part.steps.size()) {
      held.map.reset(node);
      if (auto filled = fill(reader, place, *next, held); !filled) {
        return filled;
      }
      out.push_back(std::move(held));
      return {};
    }
    parent = step_text(parent, step);
    held.way = held.way.to(source, *next, label_of(place, parent));
    node.reset(next->value);  // rebinds; `=` would overwrite the node it refers to
  }
  return {};
}

/// What each part's paths hold in each place of a block, highest precedence first.
using Holdings = std::map<Part, std::vector<Held>>;

/// The value Helm gets for a part: the highest place's (of parameters, the last); null when no
/// place holds the part.
const Held* winner(const Holdings& holdings, Part part) {
  const auto it = holdings.find(part);
  if (it == holdings.end()) {
    return nullptr;
  }
  const Held* out = nullptr;
  for (const auto& held : it->second) {
    out = held.place == it->second.front().place ? &held : out;
  }
  return out;
}

std::string value_of(const Holdings& holdings, Part part) {
  const Held* held = winner(holdings, part);
  return held == nullptr ? std::string() : held->value;
}

/// The reference Helm gets from a block; nullopt when it holds no tag, digest or image string.
Result<std::optional<image::Reference>> reference_of(const Reader& reader, const Block& block,
                                                     const Holdings& holdings,
                                                     const HelmImage& where) {
  const std::string tag = value_of(holdings, Part::tag);
  const std::string digest = value_of(holdings, Part::digest);
  std::string repository = value_of(holdings, Part::repository);
  if (!repository.empty() && !value_of(holdings, Part::registry).empty()) {
    repository = value_of(holdings, Part::registry) + "/" + repository;
  }
  // Without a repository, the tag and digest are checked alone.
  const bool no_repository = where.image.empty() && repository.empty();
  const std::string text = !where.image.empty() ? value_of(holdings, Part::image)
                                                : (no_repository ? "repository" : repository) +
                                                      (tag.empty() ? "" : ":" + tag) +
                                                      (digest.empty() ? "" : "@" + digest);
  if (where.image.empty() ? tag.empty() && digest.empty() : text.empty()) {
    return std::optional<image::Reference>();
  }
  auto reference = image::parse(text);
  if (!reference) {
    // Blame the part the reason names (after the quoted text), else the tag or the digest.
    const std::string& message = reference.error().message;
    const std::size_t cut = message.find("': ");
    const std::string why = cut == std::string::npos ? message : message.substr(cut + 3);
    Part blamed = !where.image.empty()          ? Part::image
                  : why.starts_with("tag")      ? Part::tag
                  : why.starts_with("digest")   ? Part::digest
                  : why.starts_with("registry") ? Part::registry
                                                : Part::repository;
    if (winner(holdings, blamed) == nullptr) {
      blamed = winner(holdings, Part::tag) != nullptr ? Part::tag : Part::digest;
    }
    const Held* held = winner(holdings, blamed);
    return reader.error_at(block.places[held->place], held->mark,
                           held->label + ": " + (no_repository ? why : message));
  }
  if (no_repository) {
    reference->registry.clear();
    reference->path.clear();
  }
  return std::optional<image::Reference>(std::move(*reference));
}

/// The image as one block reads it, with what it holds.
struct Reading {
  Holdings holdings;
  std::optional<image::Reference> reference;
};

/// The chosen helm blocks and what each gives Helm for the image.
struct Loaded {
  Collected collected;
  std::vector<Reading> readings;
};

Result<Loaded> load(const Reader& reader, const HelmImage& where, const std::string& application) {
  if (auto checked = check_helm_image(where); !checked) {
    return make_error(checked.error().kind, reader.file() + ": " + checked.error().message);
  }
  auto collected = collect(reader.outer().text(), reader.file(), application);
  if (!collected) {
    return collected.error();
  }
  Loaded out{std::move(*collected), {}};
  for (const auto& block : out.collected.blocks) {
    Holdings holdings;
    for (const auto& part : parts_of(where)) {
      for (std::size_t i = 0; i < block.places.size(); ++i) {
        const Place& place = block.places[i];
        auto done = place.kind == Place::Kind::parameters
                        ? held_in_parameters(reader, place, i, part, holdings[part.part])
                        : held_in_map(reader, place, i, part, holdings[part.part]);
        if (!done) {
          return done.error();
        }
      }
      if (holdings[part.part].empty()) {
        holdings.erase(part.part);
      }
    }
    auto reference = reference_of(reader, block, holdings, where);
    if (!reference) {
      return reference.error();
    }
    out.readings.push_back({std::move(holdings), std::move(*reference)});
  }
  return out;
}

/// What each part must hold for `target` (as `set_helm_image` writes it), the block's spelling
/// of the repository kept when it is the same one.
std::map<Part, std::string> wanted_parts(const HelmImage& where, const Holdings& holdings,
                                         image::Reference target) {
  std::string written = value_of(holdings, where.image.empty() ? Part::repository : Part::image);
  if (!value_of(holdings, Part::registry).empty() && !written.empty()) {
    written = value_of(holdings, Part::registry) + "/" + written;
  }
  if (auto parsed = image::parse(written)) {
    target = target.spelled_as(*parsed);
  }
  if (!where.image.empty()) {
    return {{Part::image, target.to_string()}};
  }
  return {{Part::registry, target.registry},
          {Part::repository, where.registry.empty() ? target.repository() : target.path},
          {Part::tag, target.tag},
          {Part::digest, target.digest}};
}

/// Why a held value cannot be edited, as an error; nullopt when it can.
std::optional<Error> not_editable(const Reader& reader, const Place& place, const Held& held) {
  const auto refuse = [&](const YAML::Mark& file_mark, const std::string& why) {
    return reader.error_at(file_mark, "cannot edit " + held.label + " in place: " + why);
  };
  const Way way = place.way.alias.empty()
                      ? Way{held.way.alias, reader.to_file(place, held.way.mark)}
                      : place.way;
  if (!way.alias.empty()) {
    return refuse(way.mark, "'" + way.alias +
                                "' is an alias (*name) of a value anchored elsewhere, and "
                                "promote does not edit through aliases");
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
  if (tag_path.steps.size() != digest.steps.size() ||
      !std::equal(tag_path.steps.begin(), tag_path.steps.end() - 1, digest.steps.begin())) {
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
  // The new line, in the file: indented as the tag's key (and the values block).
  const YAML::Mark at = reader.to_file(place, tag.key.Mark());
  const std::string entry = std::string(static_cast<std::size_t>(std::max(at.column, 0)), ' ') +
                            key + ": " + splice::render(value);
  const Source& file = reader.outer();
  const std::string eol(file.eol());
  const int file_line = reader.file_line(place, line);
  if (file.has_eol(file_line)) {
    const std::size_t begin = file.next_line_begin(file_line);
    return splice::Edit{begin, begin, entry + eol};
  }
  return splice::Edit{file.text().size(), file.text().size(), eol + entry};
}

/// A value a block holds for a part, as the read back compares it.
std::string entry(std::size_t block, Part part, const std::string& label,
                  const std::string& value) {
  return std::to_string(block) + ":" + std::to_string(static_cast<int>(part)) + ":" + label + "=" +
         value;
}

/// "the Application 'shop'", "any of the 3 Applications": whose helm blocks were searched.
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
  const Reader reader(text, file);
  auto loaded = load(reader, where, application);
  if (!loaded) {
    return loaded.error();
  }
  std::vector<image::Reference> out;
  for (auto& reading : loaded->readings) {
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
  if (auto checked = check_helm_image(where); !checked) {
    return make_error(checked.error().kind, file + ": " + checked.error().message);
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
  const Reader reader(text, file);
  auto loaded = load(reader, where, application);
  if (!loaded) {
    return loaded.error();
  }
  const Collected& collected = loaded->collected;
  const Part key_part = where.image.empty() ? Part::tag : Part::image;
  if (std::none_of(loaded->readings.begin(), loaded->readings.end(),
                   [&](const Reading& reading) { return reading.holdings.contains(key_part); })) {
    if (collected.applications == 0) {
      return reader.error_at(
          YAML::Mark(), "the file has no Application" +
                            (application.empty() ? std::string() : " named '" + application + "'"));
    }
    return reader.error_at(*collected.anchor,
                           (where.image.empty() ? where.tag : where.image) +
                               " is not in the helm parameters, valuesObject or values of " +
                               whose(collected) +
                               "; promote does not add values, add it to the file first");
  }
  const PartPath tag_path{Part::tag, where.tag, steps_of(where.tag)};
  const PartPath digest_path{Part::digest, where.digest, steps_of(where.digest)};
  std::vector<splice::Edit> edits;
  std::vector<std::string> expected;  // every value held, as it must read after the edit
  for (std::size_t i = 0; i < loaded->readings.size(); ++i) {
    const Block& block = collected.blocks[i];
    const Holdings& holdings = loaded->readings[i].holdings;
    const auto wanted = wanted_parts(where, holdings, target);
    std::map<Part, std::vector<std::string>> after;
    for (const auto& [part, held] : holdings) {
      for (const auto& one : held) {
        const Place& place = block.places[one.place];
        std::string value = wanted.at(part);
        // A target without a registry is right where the Application says Docker Hub.
        if (part == Part::registry && value.empty() && !one.value.empty()) {
          if (one.value != "docker.io" && one.value != "index.docker.io" &&
              one.value != "registry-1.docker.io") {
            return reader.error_at(place, one.mark,
                                   "cannot set " + one.label + " for '" + target.to_string() +
                                       "': the target names no registry and the Application "
                                       "says '" +
                                       one.value + "'; give the target with its registry");
          }
          value = one.value;
        }
        after[part].push_back(entry(i, part, one.label, value));
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
    // A digest no place holds goes beside the tag in valuesObject or values.
    const std::string digest = where.digest.empty() ? "" : wanted.at(Part::digest);
    if (!digest.empty() && !holdings.contains(Part::digest) && holdings.contains(Part::tag)) {
      const std::size_t before = edits.size();
      for (const auto& tag : holdings.at(Part::tag)) {
        const Place& place = block.places[tag.place];
        if (place.kind == Place::Kind::parameters) {
          continue;
        }
        auto edit = add_digest(reader, place, tag, tag_path, digest_path, digest);
        if (!edit) {
          return edit.error();
        }
        edits.push_back(std::move(*edit));
        after[Part::digest].push_back(
            entry(i, Part::digest, label_of(place, where.digest), digest));
      }
      if (edits.size() == before) {
        const Held& tag = holdings.at(Part::tag).front();
        return reader.error_at(block.places[tag.place], tag.mark,
                               "cannot set " + block.path + "'s image to '" + target.to_string() +
                                   "': no place holds " + where.digest +
                                   " and promote adds one only beside " + where.tag +
                                   " in valuesObject or values; add a parameter named " +
                                   where.digest + " by hand");
      }
    }
    for (const auto& [part, values] : after) {
      expected.insert(expected.end(), values.begin(), values.end());
    }
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited || edits.empty()) {
    return edited ? Result<std::pair<std::string, int>>(std::pair{std::move(*edited), 0})
                  : Result<std::pair<std::string, int>>(edited.error());
  }
  // Read back: every place holds what it must.
  const Reader edited_reader(*edited, file);
  auto read_back = load(edited_reader, where, application);
  std::vector<std::string> actual;
  for (std::size_t i = 0; read_back && i < read_back->readings.size(); ++i) {
    for (const auto& [part, held] : read_back->readings[i].holdings) {
      for (const auto& one : held) {
        actual.push_back(entry(i, part, one.label, one.value));
      }
    }
  }
  if (!read_back || actual != expected) {
    return make_error(
        ErrorKind::internal,
        file + ": editing the helm image at " + parts_of(where).front().path +
            " of Argo CD Applications did not give the expected YAML (" +
            (read_back ? "the values do not read back as written" : read_back.error().message) +
            ")");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
