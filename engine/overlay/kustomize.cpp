#include "engine/overlay/kustomize.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <regex>
#include <set>
#include <system_error>
#include <vector>

#include "engine/overlay/kustomize_model.hpp"
#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace fs = std::filesystem;

namespace {

/// The keys of an images entry in the order kustomize writes them.
constexpr std::array<std::string_view, 4> k_fields = {"name", "newName", "newTag", "digest"};

int field_rank(std::string_view key) {
  const auto it = std::find(k_fields.begin(), k_fields.end(), key);
  return it == k_fields.end() ? -1 : static_cast<int>(it - k_fields.begin());
}

using splice::Edit;
using splice::render;
using splice::Source;

/// A byte range of the text; `quote` is the quote character of a quoted scalar, or 0.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  char quote = 0;
  bool null = false;  ///< the value is null: the range is empty or holds `~`/`null`
};

struct Field {
  YAML::Node key;
  YAML::Node value;
};

/// One item of `images:` with the keys promote reads.
struct Entry {
  YAML::Node map;
  std::size_t index = 0;
  std::string name;
  std::map<std::string, Field, std::less<>> fields;

  std::optional<std::string> get(std::string_view key) const {
    const auto it = fields.find(key);
    if (it == fields.end() || it->second.value.IsNull()) {
      return std::nullopt;
    }
    return it->second.value.Scalar();
  }
};

/// The parsed kustomization with what an edit needs to know about where things are.
struct Parsed {
  std::string file;
  Source source;
  std::size_t document_count = 0;
  YAML::Node root;               ///< the kustomization document: a map, or null when empty
  std::size_t document_end = 0;  ///< where a new top-level key goes
  std::optional<Field> images;   ///< the `images` key and its value, when present
  std::vector<Entry> entries;

  Error error_at(const YAML::Mark& mark, const std::string& what) const {
    return splice::error_at(file, mark, what);
  }
  /// The entry named `name`, else (unless `exact`) one that names the same Docker Hub
  /// repository (`redis` for `docker.io/library/redis`).
  const Entry* find(std::string_view name, bool exact = false) const {
    for (const auto& entry : entries) {
      if (entry.name == name) {
        return &entry;
      }
    }
    for (const auto& entry : entries) {
      if (exact) {
        break;
      }
      if (image::same_repository(entry.name, name)) {
        return &entry;
      }
    }
    return nullptr;
  }
};

std::string entry_label(const Entry& entry) {
  return "images[" + std::to_string(entry.index) + "]";
}

bool is_document_marker(std::string_view line) {
  if (!line.starts_with("---") && !line.starts_with("...")) {
    return false;
  }
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

Result<Entry> read_entry(const Parsed& parsed, const YAML::Node& item, std::size_t index) {
  Entry entry{item, index, {}, {}};
  const std::string label = "images[" + std::to_string(index) + "]";
  if (!item.IsMap()) {
    return parsed.error_at(item.Mark(), label + " must be a map with a name");
  }
  for (const auto& pair : item) {
    if (!pair.first.IsScalar() || field_rank(pair.first.Scalar()) < 0) {
      continue;
    }
    const std::string& key = pair.first.Scalar();
    if (entry.fields.contains(key)) {
      return parsed.error_at(pair.first.Mark(), label + " has the key '" + key + "' twice");
    }
    if (!pair.second.IsScalar() && !pair.second.IsNull()) {
      return parsed.error_at(pair.second.Mark(), label + "." + key + " must be a string");
    }
    entry.fields[key] = Field{pair.first, pair.second};
  }
  const auto name = entry.get("name");
  if (!name || name->empty()) {
    return parsed.error_at(item.Mark(), label + " has no name");
  }
  entry.name = *name;
  return entry;
}

/// Parses the text and locates the kustomization document and its `images:` entries.
Result<Parsed> load(std::string_view text, const std::string& file, RenderCache* cache = nullptr) {
  Parsed parsed{file, Source(text), 0, YAML::Node(), text.size(), std::nullopt, {}};
  auto loaded = kmodel::load_documents(text, file, cache);
  if (!loaded) {
    return loaded.error();
  }
  const std::vector<YAML::Node>& documents = *loaded;
  parsed.document_count = documents.size();
  const auto document = std::find_if(documents.begin(), documents.end(),
                                     [](const YAML::Node& node) { return !node.IsNull(); });
  if (document == documents.end()) {
    return parsed;
  }
  parsed.root = *document;
  if (!parsed.root.IsMap()) {
    return parsed.error_at(parsed.root.Mark(), "a kustomization must be a map");
  }
  const Source& source = parsed.source;
  for (int line = source.line_of(source.offset(parsed.root.Mark())) + 1; line < source.line_count();
       ++line) {
    if (is_document_marker(source.line_text(line))) {
      parsed.document_end = source.line_begin(line);
      break;
    }
  }
  for (const auto& pair : parsed.root) {
    if (!pair.first.IsScalar() || pair.first.Scalar() != "images") {
      continue;
    }
    if (parsed.images) {
      return parsed.error_at(pair.first.Mark(), "the key 'images' appears twice");
    }
    parsed.images = Field{pair.first, pair.second};
  }
  if (!parsed.images || parsed.images->value.IsNull()) {
    return parsed;
  }
  const YAML::Node& list = parsed.images->value;
  if (!list.IsSequence()) {
    return parsed.error_at(list.Mark(), "images must be a list");
  }
  std::size_t index = 0;
  for (const auto& item : list) {
    auto entry = read_entry(parsed, item, index++);
    if (!entry) {
      return entry.error();
    }
    if (const Entry* other = parsed.find(entry->name, true)) {
      return parsed.error_at(item.Mark(), "images has two entries named '" + entry->name + "' (" +
                                              entry_label(*other) + " and " + entry_label(*entry) +
                                              ")");
    }
    parsed.entries.push_back(std::move(*entry));
  }
  return parsed;
}

/// The bytes of a single-line scalar, found from its mark; nullopt when the scalar is not a
/// plain or quoted scalar on one line (a block scalar, a tagged or anchored one, an alias).
std::optional<Span> scalar_span(const Source& source, const YAML::Node& node) {
  const std::string_view text = source.text();
  const std::size_t begin = source.offset(node.Mark());
  if (begin >= text.size() || !node.IsScalar()) {
    return std::nullopt;
  }
  const char first = text[begin];
  if (first == '"' || first == '\'') {
    if (node.Tag() != "!") {
      return std::nullopt;
    }
    std::size_t i = begin + 1;
    while (i < text.size() && text[i] != '\n') {
      if (first == '"' && text[i] == '\\') {
        i += 2;
      } else if (text[i] == first) {
        if (first == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          i += 2;
        } else {
          return Span{begin, i + 1, first, false};
        }
      } else {
        ++i;
      }
    }
    return std::nullopt;
  }
  const std::string& value = node.Scalar();
  if (node.Tag() != "?" || value.empty() || value.find('\n') != std::string::npos ||
      text.substr(begin, value.size()) != value) {
    return std::nullopt;
  }
  return Span{begin, begin + value.size(), 0, false};
}

/// Where the value of `key` is: its scalar span, or for a null value the range after the
/// colon up to the end of `~`/`null` (empty when nothing is written).
std::optional<Span> value_span(const Source& source, const Field& field) {
  const auto key = scalar_span(source, field.key);
  if (!key) {
    return std::nullopt;
  }
  if (!field.value.IsNull()) {
    auto value = scalar_span(source, field.value);
    if (!value || value->begin < key->end) {
      return std::nullopt;
    }
    return value;
  }
  const std::string_view text = source.text();
  std::size_t i = key->end;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
    ++i;
  }
  if (i >= text.size() || text[i] != ':') {
    return std::nullopt;
  }
  const std::size_t colon = i++;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
    ++i;
  }
  std::size_t end = i;
  while (end < text.size() &&
         std::string_view(" \t\r\n,}]#").find(text[end]) == std::string_view::npos) {
    ++end;
  }
  const std::string_view token = text.substr(i, end - i);
  if (token.empty()) {
    return Span{colon + 1, colon + 1, 0, true};
  }
  if (token == "~" || token == "null" || token == "Null" || token == "NULL") {
    return Span{colon + 1, end, 0, true};
  }
  return std::nullopt;
}

/// Applies non-overlapping edits; at one position, insertions go first, in their order. A text
/// without a final newline keeps having none.
Result<std::string> apply_keeping_eof(std::string_view text, std::vector<Edit> edits) {
  auto out = splice::apply(text, std::move(edits));
  if (out && !text.empty() && !text.ends_with('\n') && out->ends_with('\n')) {
    out->pop_back();
    if (out->ends_with('\r')) {
      out->pop_back();
    }
  }
  return out;
}

/// The offset just past the bracket that closes the flow collection opening at `open`.
std::optional<std::size_t> flow_end(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (c == '"' && text[i] == '\\') {
          ++i;
        }
      }
    } else if (c == '#' && i > open &&
               (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      while (i < text.size() && text[i] != '\n') {
        ++i;
      }
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return std::nullopt;
}

/// Builds the edits that make one image entry hold the wanted fields.
class EntryEditor {
 public:
  EntryEditor(const Parsed& parsed, const Entry& entry, std::vector<Edit>& edits)
      : m_parsed(parsed), m_source(parsed.source), m_entry(entry), m_edits(edits) {
    m_flow = entry.map.Style() == YAML::EmitterStyle::Flow;
  }

  Result<void> set(std::string_view key, const std::optional<std::string>& wanted) {
    const auto it = m_entry.fields.find(key);
    if (it == m_entry.fields.end()) {
      return wanted ? add(key, *wanted) : Result<void>();
    }
    const Field& field = it->second;
    if (field.value.IsNull() && !wanted) {
      return {};
    }
    if (wanted && !field.value.IsNull() && field.value.Scalar() == *wanted) {
      return {};
    }
    const auto span = value_span(m_source, field);
    if (!span) {
      return unsafe(field, key);
    }
    if (!wanted) {
      return remove(field, key, *span);
    }
    if (span->null) {
      m_edits.push_back({span->begin, span->end, " " + render(*wanted)});
    } else {
      m_edits.push_back({span->begin, span->end, render(*wanted, span->quote)});
    }
    return {};
  }

 private:
  Error unsafe_error(const YAML::Mark& mark, std::string_view key) const {
    return m_parsed.error_at(mark, "cannot edit " + entry_label(m_entry) + "." + std::string(key) +
                                       " in place: it is not a single-line plain or quoted "
                                       "scalar");
  }
  Result<void> unsafe(const Field& field, std::string_view key) const {
    return unsafe_error(field.value.IsNull() ? field.key.Mark() : field.value.Mark(), key);
  }

  /// The keys of the entry map (every key, not only the known ones) in text order.
  std::vector<Field> keys_in_order() const {
    std::vector<Field> keys;
    for (const auto& pair : m_entry.map) {
      keys.push_back(Field{pair.first, pair.second});
    }
    std::sort(keys.begin(), keys.end(), [&](const Field& a, const Field& b) {
      return m_source.offset(a.key.Mark()) < m_source.offset(b.key.Mark());
    });
    return keys;
  }

  Result<void> add(std::string_view key, const std::string& wanted) {
    // After the last present key that kustomize writes before this one (name at least).
    const Field* anchor = nullptr;
    std::string_view anchor_key;
    for (const auto& [name, field] : m_entry.fields) {
      if (field_rank(name) < field_rank(key) && !m_removed.contains(name) &&
          (anchor == nullptr || field_rank(name) > field_rank(anchor_key))) {
        anchor = &field;
        anchor_key = name;
      }
    }
    if (anchor == nullptr) {
      return m_parsed.error_at(m_entry.map.Mark(), entry_label(m_entry) + " has no name");
    }
    const auto span = value_span(m_source, *anchor);
    if (!span) {
      return unsafe(*anchor, anchor_key);
    }
    const std::string pair = std::string(key) + ": " + render(wanted);
    if (m_flow) {
      m_edits.push_back({span->end, span->end, ", " + pair});
      return {};
    }
    const int line = m_source.line_of(span->end);
    const std::string indent(static_cast<std::size_t>(m_entry.map.Mark().column), ' ');
    const std::string eol(m_source.eol());
    const std::size_t at = m_source.next_line_begin(line);
    if (m_source.has_eol(line)) {
      m_edits.push_back({at, at, indent + pair + eol});
    } else {
      m_edits.push_back({at, at, eol + indent + pair});
    }
    return {};
  }

  Result<void> remove(const Field& field, std::string_view key, const Span& span) {
    const std::size_t key_begin = m_source.offset(field.key.Mark());
    const auto keys = keys_in_order();
    const auto self = std::find_if(keys.begin(), keys.end(), [&](const Field& other) {
      return m_source.offset(other.key.Mark()) == key_begin;
    });
    const Field* previous = self == keys.begin() ? nullptr : &*(self - 1);
    const Field* next = self + 1 == keys.end() ? nullptr : &*(self + 1);
    if (m_flow) {
      if (previous != nullptr) {
        if (const auto previous_span = value_span(m_source, *previous)) {
          m_edits.push_back({previous_span->end, span.end, ""});
          m_removed.insert(std::string(key));
          return {};
        }
      } else if (next != nullptr) {
        m_edits.push_back({key_begin, m_source.offset(next->key.Mark()), ""});
        m_removed.insert(std::string(key));
        return {};
      }
      return unsafe_error(field.key.Mark(), key);
    }
    const int line = m_source.line_of(key_begin);
    if (m_source.line_of(span.end) != line) {
      return unsafe_error(field.key.Mark(), key);
    }
    const std::size_t begin = m_source.line_begin(line);
    const std::string_view before = m_source.text().substr(begin, key_begin - begin);
    if (before.find_first_not_of(' ') == std::string_view::npos) {
      m_edits.push_back({begin, m_source.next_line_begin(line), ""});
      m_removed.insert(std::string(key));
      return {};
    }
    // `- key: value` opens the entry: the next key moves up behind the dash.
    if (next != nullptr) {
      const std::size_t next_begin = m_source.offset(next->key.Mark());
      if (m_source.line_of(next_begin) == line + 1 &&
          next->key.Mark().column == field.key.Mark().column) {
        m_edits.push_back({key_begin, next_begin, ""});
        m_removed.insert(std::string(key));
        return {};
      }
    }
    return m_parsed.error_at(field.key.Mark(), "cannot remove " + entry_label(m_entry) + "." +
                                                   std::string(key) +
                                                   " in place: no key follows it on the next line");
  }

  const Parsed& m_parsed;
  const Source& m_source;
  const Entry& m_entry;
  std::vector<Edit>& m_edits;
  bool m_flow = false;
  std::set<std::string, std::less<>> m_removed;
};

/// The fields of a new entry in kustomize's order.
std::vector<std::pair<std::string, std::string>> new_entry_fields(
    const std::string& match, const std::optional<std::string>& new_name,
    const image::Reference& target) {
  std::vector<std::pair<std::string, std::string>> fields = {{"name", match}};
  if (new_name) {
    fields.emplace_back("newName", *new_name);
  }
  if (!target.tag.empty()) {
    fields.emplace_back("newTag", target.tag);
  }
  if (!target.digest.empty()) {
    fields.emplace_back("digest", target.digest);
  }
  return fields;
}

/// A block sequence item: `-` at `dash` columns, its keys at `keys` columns, lines ending in eol.
std::vector<std::string> block_entry_lines(
    const std::vector<std::pair<std::string, std::string>>& fields, std::size_t dash,
    std::size_t keys) {
  std::vector<std::string> lines;
  for (const auto& [key, value] : fields) {
    std::string line = lines.empty() ? std::string(dash, ' ') + "-" +
                                           std::string(keys > dash + 1 ? keys - dash - 1 : 1, ' ')
                                     : std::string(keys, ' ');
    lines.push_back(line + key + ": " + render(value));
  }
  return lines;
}

std::string flow_entry(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  for (const auto& [key, value] : fields) {
    out += (out.size() > 1 ? ", " : "") + key + ": " + render(value);
  }
  return out + "}";
}

/// Inserts whole lines at `at` (a line start, or the end of a text without a final newline).
void insert_lines(const Source& source, std::size_t at, const std::vector<std::string>& lines,
                  std::vector<Edit>& edits) {
  const std::string eol(source.eol());
  std::string block;
  const bool after_last_line = at == source.text().size() && at > 0 && source.text().back() != '\n';
  for (const auto& line : lines) {
    block += after_last_line ? eol + line : line + eol;
  }
  edits.push_back({at, at, block});
}

/// The column offset of block sequences under root keys (`- a` at the key's column: 0).
std::size_t sequence_indent(const Parsed& parsed) {
  for (const auto& pair : parsed.root) {
    if (pair.second.IsSequence() && pair.second.Style() == YAML::EmitterStyle::Block &&
        pair.second.Mark().column >= pair.first.Mark().column) {
      return static_cast<std::size_t>(pair.second.Mark().column - pair.first.Mark().column);
    }
  }
  return 0;
}

/// Edits that append a new entry to `images:` (or create the key).
Result<void> add_entry(const Parsed& parsed,
                       const std::vector<std::pair<std::string, std::string>>& fields,
                       std::vector<Edit>& edits) {
  const Source& source = parsed.source;
  if (!parsed.root.IsNull() && parsed.root.Style() == YAML::EmitterStyle::Flow) {
    return parsed.error_at(parsed.root.Mark(),
                           "cannot add an image to a kustomization written as a flow mapping");
  }
  if (!parsed.images) {
    const auto column =
        parsed.root.IsNull() ? std::size_t{0} : static_cast<std::size_t>(parsed.root.Mark().column);
    const std::size_t dash = column + sequence_indent(parsed);
    std::vector<std::string> lines = {std::string(column, ' ') + "images:"};
    for (auto& line : block_entry_lines(fields, dash, dash + 2)) {
      lines.push_back(std::move(line));
    }
    insert_lines(source, parsed.document_end, lines, edits);
    return {};
  }
  const YAML::Node& key = parsed.images->key;
  const YAML::Node& list = parsed.images->value;
  if (list.IsNull()) {
    const auto span = value_span(source, *parsed.images);
    const int line = source.line_of(source.offset(key.Mark()));
    if (!span || source.line_of(span->end) != line) {
      return parsed.error_at(key.Mark(), "cannot add an image to 'images' in place");
    }
    edits.push_back({span->begin, span->end, ""});
    const std::size_t dash = static_cast<std::size_t>(key.Mark().column) + sequence_indent(parsed);
    insert_lines(source, source.next_line_begin(line), block_entry_lines(fields, dash, dash + 2),
                 edits);
    return {};
  }
  const std::size_t open = source.offset(list.Mark());
  if (list.Style() == YAML::EmitterStyle::Flow) {
    if (list.size() == 0) {
      edits.push_back({open + 1, open + 1, flow_entry(fields)});
      return {};
    }
    const YAML::Node last = list[list.size() - 1];
    const std::size_t last_open = source.offset(last.Mark());
    const auto end = last.Style() == YAML::EmitterStyle::Flow ? flow_end(source.text(), last_open)
                                                              : std::nullopt;
    if (!end) {
      return parsed.error_at(last.Mark(), "cannot add an image after this entry in place");
    }
    edits.push_back({*end, *end, ", " + flow_entry(fields)});
    return {};
  }
  const auto key_column = static_cast<std::size_t>(key.Mark().column);
  const auto dash = static_cast<std::size_t>(list.Mark().column);
  const YAML::Node first = list[0];
  const std::size_t keys = first.IsMap() && first.Style() == YAML::EmitterStyle::Block
                               ? static_cast<std::size_t>(first.Mark().column)
                               : dash + 2;
  int last = source.line_of(open);
  // A flow collection as the last item may span lines at any indentation.
  int floor = last;
  const YAML::Node final_item = list[list.size() - 1];
  if (final_item.Style() == YAML::EmitterStyle::Flow && !final_item.IsScalar()) {
    if (const auto end = flow_end(source.text(), source.offset(final_item.Mark()))) {
      floor = source.line_of(*end - 1);
    }
  }
  for (int line = last + 1; line < source.line_count(); ++line) {
    if (line <= floor) {
      last = line;
      continue;
    }
    const std::string_view text = source.line_text(line);
    const std::size_t indent = text.find_first_not_of(' ');
    if (indent == std::string_view::npos || text[indent] == '#' || text[indent] == '\r') {
      continue;
    }
    if (is_document_marker(text)) {
      break;
    }
    const bool item =
        indent == dash && text[indent] == '-' &&
        (indent + 1 == text.size() || text[indent + 1] == ' ' || text[indent + 1] == '\r');
    if (indent <= key_column && !item) {
      break;
    }
    last = line;
  }
  insert_lines(source, source.has_eol(last) ? source.next_line_begin(last) : source.text().size(),
               block_entry_lines(fields, dash, keys), edits);
  return {};
}

Result<std::optional<image::Reference>> read_image(const Parsed& parsed, const std::string& match) {
  const Entry* entry = parsed.find(match);
  if (entry == nullptr) {
    return std::optional<image::Reference>();
  }
  std::string text = entry->get("newName").value_or("");
  if (text.empty()) {
    text = entry->name;
  }
  if (const auto tag = entry->get("newTag"); tag && !tag->empty()) {
    text += ":" + *tag;
  }
  if (const auto digest = entry->get("digest"); digest && !digest->empty()) {
    text += "@" + *digest;
  }
  auto reference = image::parse(text);
  if (!reference) {
    return parsed.error_at(entry->map.Mark(),
                           entry_label(*entry) + " (" + match + "): " + reference.error().message);
  }
  return std::optional<image::Reference>(std::move(*reference));
}

/// Whether two nodes read as the same value: the same kind, tag and style, the same scalars,
/// the same items and keys in the same order. (What YAML::Dump of each would tell, without
/// writing them out.)
bool same_value(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type() || a.Tag() != b.Tag() || a.Style() != b.Style()) {
    return false;
  }
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar();
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) {
        return false;
      }
      auto other = b.begin();
      for (auto it = a.begin(); it != a.end(); ++it, ++other) {
        const bool same =
            a.IsMap() ? same_value(it->first, other->first) && same_value(it->second, other->second)
                      : same_value(*it, *other);
        if (!same) {
          return false;
        }
      }
      return true;
    }
    default:
      return true;
  }
}

/// The entries as name -> (newName, newTag, digest), for the guard after an edit.
std::map<std::string, std::array<std::optional<std::string>, 3>> summary(const Parsed& parsed) {
  std::map<std::string, std::array<std::optional<std::string>, 3>> out;
  for (const auto& entry : parsed.entries) {
    out[entry.name] = {entry.get("newName"), entry.get("newTag"), entry.get("digest")};
  }
  return out;
}

}  // namespace

Result<fs::path> find_kustomization(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorKind::input, "overlay directory '" + dir.string() + "' does not exist");
  }
  std::vector<fs::path> found;
  for (const auto name : k_kustomization_names) {
    const fs::path candidate = dir / name;
    if (fs::is_regular_file(candidate, ec)) {
      found.push_back(candidate);
    }
  }
  if (found.empty()) {
    return make_error(ErrorKind::input,
                      "no kustomization file (kustomization.yaml, "
                      "kustomization.yml or Kustomization) in '" +
                          dir.string() + "'");
  }
  if (found.size() > 1) {
    return make_error(ErrorKind::input, "more than one kustomization file in '" + dir.string() +
                                            "': " + found[0].filename().string() + " and " +
                                            found[1].filename().string());
  }
  return found.front();
}

Result<std::optional<image::Reference>> get_image(std::string_view text, const std::string& file,
                                                  const std::string& match) {
  auto parsed = load(text, file);
  if (!parsed) {
    return parsed.error();
  }
  return read_image(*parsed, match);
}

Result<std::string> set_image(std::string_view text, const std::string& file,
                              const std::string& match, const image::Reference& target,
                              RenderCache* cache) {
  if (match.empty()) {
    return make_error(ErrorKind::input, file + ": cannot set an image without a name");
  }
  if (target.path.empty()) {
    return make_error(ErrorKind::input, file + ": cannot set image '" + match +
                                            "': the target reference has no repository");
  }
  auto parsed = load(text, file, cache);
  if (!parsed) {
    return parsed.error();
  }
  const Entry* entry = parsed->find(match);
  const bool has_new_name = entry != nullptr && entry->fields.contains("newName");
  // The name the entry goes by, and the repository it renders as written.
  const std::string name = entry != nullptr ? entry->name : match;
  std::string written = has_new_name ? entry->get("newName").value_or("") : "";
  if (written.empty()) {
    written = name;
  }
  // Only the tag and digest change when the repository is the same one spelled another way.
  image::Reference wanted = target;
  if (auto current = image::parse(written)) {
    wanted = target.spelled_as(*current);
  }
  const std::string repository = wanted.repository();
  std::optional<std::string> new_name;
  if (repository != name || has_new_name) {
    new_name = repository;
  }
  const auto optional = [](const std::string& value) {
    return value.empty() ? std::nullopt : std::optional<std::string>(value);
  };

  std::vector<Edit> edits;
  if (entry != nullptr) {
    EntryEditor editor(*parsed, *entry, edits);
    for (const auto& [key, wanted] :
         {std::pair{"newName", new_name}, std::pair{"newTag", optional(target.tag)},
          std::pair{"digest", optional(target.digest)}}) {
      if (auto done = editor.set(key, wanted); !done) {
        return done.error();
      }
    }
  } else if (auto done = add_entry(*parsed, new_entry_fields(match, new_name, wanted), edits);
             !done) {
    return done.error();
  }
  if (edits.empty()) {
    return std::string(text);
  }
  auto edited = apply_keeping_eof(text, std::move(edits));
  if (!edited) {
    return edited.error();
  }
  if (*edited == text) {
    return edited;
  }

  // The guard: the result parses, the image reads back as the target, nothing else moved.
  const auto guard_failed = [&](const std::string& why) -> Result<std::string> {
    return make_error(ErrorKind::internal, file + ": editing image '" + match +
                                               "' did not give the expected YAML (" + why + ")");
  };
  auto reparsed = load(*edited, file, cache);
  if (!reparsed) {
    return guard_failed(reparsed.error().message);
  }
  auto read_back = read_image(*reparsed, match);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  if (!*read_back || (*read_back)->to_string() != wanted.to_string()) {
    return guard_failed("it reads back as '" + (*read_back ? (*read_back)->to_string() : "") +
                        "', not '" + wanted.to_string() + "'");
  }
  auto before = summary(*parsed);
  auto after = summary(*reparsed);
  before.erase(name);
  after.erase(name);
  const bool documents_kept = parsed->document_count == reparsed->document_count ||
                              (parsed->document_count == 0 && reparsed->document_count == 1);
  if (before != after || !documents_kept) {
    return guard_failed("other entries or documents changed");
  }
  // Every other top-level value reads as before: lines added after a last line without a line
  // break would give a block scalar ending there a final newline.
  if (parsed->root.IsMap() && reparsed->root.IsMap()) {
    auto old_entry = parsed->root.begin();
    auto new_entry = reparsed->root.begin();
    for (; old_entry != parsed->root.end(); ++old_entry, ++new_entry) {
      while (new_entry != reparsed->root.end() && new_entry->first.IsScalar() &&
             new_entry->first.Scalar() == "images" &&
             !(old_entry->first.IsScalar() && old_entry->first.Scalar() == "images")) {
        ++new_entry;
      }
      if (new_entry == reparsed->root.end()) {
        return guard_failed("other entries or documents changed");
      }
      if (old_entry->first.IsScalar() && old_entry->first.Scalar() == "images") {
        continue;
      }
      if (!same_value(old_entry->first, new_entry->first) ||
          !same_value(old_entry->second, new_entry->second)) {
        return guard_failed("the value of '" + YAML::Dump(old_entry->first) + "' changed");
      }
    }
  }
  return edited;
}

}  // namespace promote::overlay
