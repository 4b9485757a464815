#include "engine/overlay/carry.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "engine/overlay/splice.hpp"
#include "engine/util/json.hpp"

namespace promote::overlay {

namespace {

using splice::Source;

/// How deep a carried value may nest, aliases expanded, before its JSON is refused.
constexpr int k_max_depth = 1000;

enum class Kind { null, scalar, alias, map, sequence };

/// A node of a document as the parser's events give it; a tree's nodes are in document order, so
/// a node's subtree is the run of nodes from it to `last`.
struct Node {
  Kind kind = Kind::null;
  std::size_t at = 0;  ///< the byte offset of its mark (for a null, often that of the next token)
  std::string tag;     ///< "?" (plain) or "!" (quoted) when none is written, "" for a null
  YAML::anchor_t anchor = YAML::NullAnchor;  ///< the anchor it carries
  YAML::anchor_t alias = YAML::NullAnchor;   ///< for an alias, the anchor it names
  bool flow = false;                         ///< a flow collection
  std::string scalar;
  std::vector<int> children;  ///< a map's keys and values in turn, a sequence's items
  int parent = -1;
  int document = 0;
  int last = 0;  ///< the last node of its subtree
};

struct Tree {
  std::vector<Node> nodes;
  std::vector<int> documents;                             ///< the root of each document
  std::map<std::pair<int, YAML::anchor_t>, int> anchors;  ///< (document, anchor) -> node
  const Node& operator[](int index) const { return nodes[static_cast<std::size_t>(index)]; }
  Node& operator[](int index) { return nodes[static_cast<std::size_t>(index)]; }
};

class Builder : public YAML::EventHandler {
 public:
  Builder(const Source& source, Tree& tree) : m_source(source), m_tree(tree) {}

  void OnDocumentStart(const YAML::Mark&) override { m_open.clear(); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(Kind::null, mark, "", anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(Kind::alias, mark, "", YAML::NullAnchor).alias = anchor;
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    add(Kind::scalar, mark, tag, anchor).scalar = value;
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value style) override {
    open(add(Kind::sequence, mark, tag, anchor), style);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value style) override {
    open(add(Kind::map, mark, tag, anchor), style);
  }
  void OnMapEnd() override { close(); }

 private:
  Node& add(Kind kind, const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor) {
    const int index = static_cast<int>(m_tree.nodes.size());
    const int parent = m_open.empty() ? -1 : m_open.back();
    if (parent < 0) {
      m_tree.documents.push_back(index);
    } else {
      m_tree[parent].children.push_back(index);
    }
    const int document = static_cast<int>(m_tree.documents.size()) - 1;
    if (anchor != YAML::NullAnchor) {
      m_tree.anchors[{document, anchor}] = index;
    }
    Node& node = m_tree.nodes.emplace_back();
    node.kind = kind;
    node.at = m_source.offset(mark);
    node.tag = tag;
    node.anchor = anchor;
    node.parent = parent;
    node.document = document;
    node.last = index;
    return node;
  }
  void open(Node& node, YAML::EmitterStyle::value style) {
    node.flow = style == YAML::EmitterStyle::Flow;
    m_open.push_back(static_cast<int>(m_tree.nodes.size()) - 1);
  }
  void close() {
    m_tree[m_open.back()].last = static_cast<int>(m_tree.nodes.size()) - 1;
    m_open.pop_back();
  }

  const Source& m_source;
  Tree& m_tree;
  std::vector<int> m_open;
};

/// The text as a tree; fails (input) on malformed YAML as `splice::load_all` does.
Result<Tree> parse(std::string_view text, const std::string& file) {
  if (auto loaded = splice::load_all(text, file); !loaded) {
    return loaded.error();
  }
  const Source source(text);
  Tree tree;
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    Builder builder(source, tree);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const YAML::Exception& e) {
    return splice::error_at(file, e.mark, e.msg);
  }
  return tree;
}

/// A node's value as JSON, aliases expanded; false when it nests deeper than `k_max_depth`.
bool to_json(const Tree& tree, int index, int depth, nlohmann::json& out) {
  const Node& node = tree[index];
  if (depth > k_max_depth) {
    return false;
  }
  if (node.kind == Kind::alias) {
    const auto it = tree.anchors.find({node.document, node.alias});
    if (it != tree.anchors.end() && it->second < index) {
      return to_json(tree, it->second, depth + 1, out);
    }
  }
  if (node.kind != Kind::map && node.kind != Kind::sequence) {
    out = node.kind == Kind::scalar ? nlohmann::json(node.scalar) : nlohmann::json(nullptr);
    return true;
  }
  out = node.kind == Kind::map ? nlohmann::json::object() : nlohmann::json::array();
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    nlohmann::json child;
    if (!to_json(tree, node.children[i], depth + 1, child)) {
      return false;
    }
    if (node.kind == Kind::sequence) {
      out.push_back(std::move(child));
      continue;
    }
    // A map's key, then its value.
    const Node& key = tree[node.children[i]];
    const std::string name = key.kind == Kind::scalar ? key.scalar : util::dump_json(child);
    if (++i < node.children.size() && !to_json(tree, node.children[i], depth + 1, out[name])) {
      return false;
    }
  }
  return true;
}

/// A node's subtree as text for comparing trees (tags, anchors, styles, scalars, keys in order);
/// the nodes in `masked` are written as a placeholder.
void render(const Tree& tree, int index, const std::set<int>& masked, std::string& out) {
  if (masked.contains(index)) {
    out += "<carried>";
    return;
  }
  const Node& node = tree[index];
  out += node.tag;
  if (node.anchor != YAML::NullAnchor) {
    out += '&';  // appended piece by piece: GCC 12 warns falsely of "&" + string (bug 105651)
    out += std::to_string(node.anchor);
  }
  switch (node.kind) {
    case Kind::null:
      out += "~;";
      return;
    case Kind::scalar:
      out += '=';
      out += std::to_string(node.scalar.size());
      out += ':';
      out += node.scalar;
      out += ';';
      return;
    case Kind::alias:
      out += '*';
      out += std::to_string(node.alias);
      out += ';';
      return;
    case Kind::map:
    case Kind::sequence:
      out += node.kind == Kind::map ? "{" : "[";
      out += node.flow ? "f " : "b ";
      for (int child : node.children) {
        render(tree, child, masked, out);
      }
      out += node.kind == Kind::map ? "}" : "]";
      return;
  }
}

Error input_error(const std::string& file, const Source& source, std::size_t offset,
                  const std::string& what) {
  return splice::error_at(file, source.mark_at(offset), what);
}

/// The token written at an offset (an anchor, alias or tag), for messages.
std::string token_at(std::string_view text, std::size_t offset) {
  std::size_t end = offset;
  while (end < text.size() &&
         std::string_view(" \t\r\n,]}").find(text[end]) == std::string_view::npos) {
    ++end;
  }
  return std::string(text.substr(offset, std::min<std::size_t>(end - offset, 60)));
}

int column_of(const Source& source, std::size_t offset) {
  return source.mark_at(offset).column;
}

/// Where a key's value is: the key nodes of the path from the document's top, its value node and
/// the map holding it.
struct Found {
  std::vector<int> keys;
  int value = -1;
  int map = -1;
};

/// Finds `key` in the first non-empty document; `editing` refuses aliases and anchors on the way
/// (an edit there would reach other places), else aliases are followed.
Result<Found> resolve(const Tree& tree, const Source& source, const std::string& file,
                      const std::string& key, bool editing) {
  int node = -1;
  for (int root : tree.documents) {
    if (tree[root].kind != Kind::null) {
      node = root;
      break;
    }
  }
  if (node < 0) {
    return input_error(file, source, 0, key + " is absent: the file holds no YAML document");
  }
  std::vector<std::string> segments;
  std::size_t begin = 0;
  for (std::size_t dot; (dot = key.find('.', begin)) != std::string::npos; begin = dot + 1) {
    segments.push_back(key.substr(begin, dot - begin));
  }
  segments.push_back(key.substr(begin));
  Found found;
  std::string prefix;
  for (const auto& segment : segments) {
    const std::string where = prefix.empty() ? "the document" : prefix;
    for (int hops = 0; tree[node].kind == Kind::alias && hops < 64; ++hops) {
      const Node& alias = tree[node];
      if (editing) {
        return input_error(file, source, alias.at,
                           "cannot carry " + key + ": the path to it goes through an alias (" +
                               token_at(source.text(), alias.at) + ")");
      }
      const auto it = tree.anchors.find({alias.document, alias.alias});
      if (it == tree.anchors.end() || it->second >= node) {
        break;
      }
      node = it->second;
    }
    const Node& current = tree[node];
    if (current.kind != Kind::map) {
      const char* what = current.kind == Kind::sequence ? "a list"
                         : current.kind == Kind::scalar ? "a scalar"
                                                        : "empty";
      const std::size_t place = current.kind == Kind::null && !found.keys.empty()
                                    ? tree[found.keys.back()].at
                                    : current.at;
      return input_error(file, source, place,
                         key + " goes through " + where + ", which is " + what + ", not a map");
    }
    if (editing && current.anchor != YAML::NullAnchor) {
      return input_error(file, source, current.at,
                         "cannot carry " + key + ": the path to it holds an anchor (" +
                             token_at(source.text(), current.at) +
                             "), which aliases elsewhere may share");
    }
    int value = -1;
    for (std::size_t i = 0; i + 1 < current.children.size(); i += 2) {
      const Node& name = tree[current.children[i]];
      if (name.kind == Kind::scalar && name.scalar == segment) {
        found.keys.push_back(current.children[i]);
        value = current.children[i + 1];
        break;
      }
    }
    if (value < 0) {
      return input_error(
          file, source, current.at,
          key + " is absent: " + (prefix.empty() ? std::string("the top-level map") : prefix) +
              " has no key " + segment + ", and promote does not add keys");
    }
    found.map = node;
    found.value = value;
    node = value;
    prefix += (prefix.empty() ? "" : ".") + segment;
  }
  return found;
}

/// The end of a quoted scalar starting at `begin` (after its closing quote), or npos.
std::size_t quoted_end(std::string_view text, std::size_t begin) {
  const char quote = text[begin];
  for (std::size_t i = begin + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;
      } else {
        return i + 1;
      }
    }
  }
  return std::string_view::npos;
}

/// The end of the value written from `begin` on its line (before a comment and trailing blanks):
/// quotes and flow brackets are followed, and in a flow collection (`in_flow`) a ',', '}' or ']'
/// outside them ends it. `open` says whether a quote or bracket is still open at the line's end.
std::size_t inline_end(std::string_view text, std::size_t begin, std::size_t line_end, bool in_flow,
                       bool& open) {
  char quote = 0;
  int depth = 0;
  std::size_t end = begin;
  char previous = 0;  // the last character that is not a blank, outside quotes
  for (std::size_t i = begin; i < line_end; ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;
      } else if (c == quote) {
        if (quote == '\'' && i + 1 < line_end && text[i + 1] == '\'') {
          ++i;
        } else {
          quote = 0;
          previous = c;
        }
      }
      end = std::min(i + 1, line_end);
      continue;
    }
    if (c == ' ' || c == '\t') {
      continue;
    }
    if (c == '#' && i > begin && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
      break;
    }
    const bool starts_node = i == begin || (depth > 0 && std::string_view("[{,:").find(previous) !=
                                                             std::string_view::npos);
    if ((c == '"' || c == '\'') && starts_node) {
      quote = c;
    } else if ((c == '[' || c == '{') && (starts_node || depth > 0)) {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0 && in_flow) {
        break;
      }
      depth = std::max(depth - 1, 0);
    } else if (c == ',' && depth == 0 && in_flow) {
      break;
    }
    previous = c;
    end = i + 1;
  }
  open = quote != 0 || depth > 0;
  return end;
}

/// The lines of a text, without the empty one after a final line break.
int lines_in(const Source& source) {
  const std::string_view text = source.text();
  return source.line_count() - (text.empty() || text.back() == '\n' ? 1 : 0);
}

std::size_t indent_of(std::string_view line) {
  const std::size_t indent = line.find_first_not_of(' ');
  return indent == std::string_view::npos ? line.size() : indent;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t") == std::string_view::npos;
}

/// A block scalar as its header and indentation say.
struct BlockScalar {
  int last_line = 0;    ///< its last line (the header's when it has no text)
  int text_indent = 0;  ///< the indentation of its text, or the least one when it has none
  char chomping = ' ';  ///< '-' strip, ' ' clip, '+' keep
};

/// The block scalar whose header (`|`, `>-`, `|2+` ...) is at `header`, under a node indented by
/// `parent`.
BlockScalar read_block_scalar(const Source& source, std::size_t header, int parent) {
  const std::string_view text = source.text();
  const int header_line = source.line_of(header);
  BlockScalar out{header_line, parent + 1, ' '};
  int digit = 0;
  for (std::size_t i = header + 1;
       i < source.line_end(header_line) &&
       std::string_view("+-123456789").find(text[i]) != std::string_view::npos;
       ++i) {
    if (text[i] == '+' || text[i] == '-') {
      out.chomping = text[i];
    } else {
      digit = text[i] - '0';
    }
  }
  const int count = lines_in(source);
  bool known = digit > 0;
  if (known) {
    out.text_indent = parent + digit;
  }
  for (int line = header_line + 1; line < count && !known; ++line) {
    const std::string_view line_text = source.line_text(line);
    if (!is_blank(line_text)) {
      const auto indent = static_cast<int>(indent_of(line_text));
      if (indent <= parent) {
        break;  // no text
      }
      out.text_indent = indent;
      known = true;
    }
  }
  for (int line = header_line + 1; line < count; ++line) {
    const std::string_view line_text = source.line_text(line);
    if (is_blank(line_text)) {
      // Blanks past the indentation are text, the other blank lines only kept with '+'.
      if (out.chomping == '+' || (known && static_cast<int>(line_text.size()) > out.text_indent)) {
        out.last_line = line;
      }
    } else if (known && static_cast<int>(indent_of(line_text)) >= out.text_indent) {
      out.last_line = line;
    } else {
      break;
    }
  }
  return out;
}

/// The column a node's block children hang from: that of its key in a map, of the sequence's
/// first '-' in a sequence.
int parent_indent(const Tree& tree, const Source& source, int index) {
  const Node& node = tree[index];
  if (node.parent < 0) {
    return -1;
  }
  const Node& parent = tree[node.parent];
  if (parent.kind == Kind::map) {
    const auto it = std::find(parent.children.begin(), parent.children.end(), index);
    if (it != parent.children.begin() && (it - parent.children.begin()) % 2 == 1) {
      return column_of(source, tree[*(it - 1)].at);
    }
  }
  return column_of(source, parent.at);
}

/// The offset of the ':' after a map key written as a plain or quoted scalar on one line, or npos
/// (yaml-cpp also reads a block map's key without one).
std::size_t colon_of(const Source& source, const Node& key) {
  const std::string_view text = source.text();
  if (key.kind != Kind::scalar || key.at >= text.size()) {
    return std::string_view::npos;
  }
  const std::size_t line_end = source.line_end(source.line_of(key.at));
  std::size_t end = std::string_view::npos;
  if (text[key.at] == '"' || text[key.at] == '\'') {
    end = quoted_end(text, key.at);
  } else if (key.tag == "?" && !key.scalar.empty() &&
             text.substr(key.at, key.scalar.size()) == key.scalar) {
    end = key.at + key.scalar.size();
  }
  while (end < line_end && (text[end] == ' ' || text[end] == '\t')) {
    ++end;
  }
  return end < line_end && text[end] == ':' ? end : std::string_view::npos;
}

/// Refuses, in nodes [first, last], what yaml-cpp reads in a block map but YAML does not and
/// would read differently beside other text: a key without its ':' on its line, a value on a line
/// of its own not indented deeper than its key (a list: not less); in a `carried` value also
/// what may be shared with or named from elsewhere: anchors, aliases, tags.
Result<void> check_nodes(const Tree& tree, const Source& source, const std::string& file,
                         const std::string& key, int first, int last, bool carried) {
  for (int i = first; i <= last; ++i) {
    const Node& node = tree[i];
    const auto refuse = [&](std::size_t at, const std::string& what) -> Result<void> {
      return input_error(file, source, at, "cannot carry " + key + ": " + what);
    };
    const std::string token = token_at(source.text(), node.at);
    if (carried && (node.kind == Kind::alias || node.anchor != YAML::NullAnchor)) {
      return refuse(node.at, std::string("its value holds an ") +
                                 (node.kind == Kind::alias ? "alias (" : "anchor (") + token +
                                 "), and promote does not carry anchors or aliases");
    }
    if (carried && !node.tag.empty() && node.tag != "?" && node.tag != "!") {
      return refuse(node.at, "its value holds an explicit tag (" + token +
                                 "), and promote does not carry tags");
    }
    for (std::size_t k = 0; node.kind == Kind::map && !node.flow && k < node.children.size();
         k += 2) {
      const Node& name = tree[node.children[k]];
      const Node& value = tree[node.children[k + 1]];
      const int below = column_of(source, value.at) - column_of(source, name.at);
      if (colon_of(source, name) == std::string_view::npos) {
        return refuse(name.at,
                      "this key is not a plain or quoted scalar followed by ':' on its line");
      }
      if (value.kind != Kind::null && value.at > name.at &&
          source.line_of(value.at) > source.line_of(name.at) &&
          below < (value.kind == Kind::sequence && !value.flow ? 0 : 1)) {
        return refuse(value.at, "this value is not indented below its key");
      }
    }
  }
  return {};
}

enum class Form { inline_value, block_map, block_sequence, block_scalar, other };

/// Where a key's value is written.
struct Extent {
  Form form = Form::inline_value;
  int key_line = 0;
  int key_column = 0;
  std::size_t colon = 0;
  std::size_t inline_begin = 0;  ///< its bytes on the key's line: [inline_begin, inline_end),
  std::size_t inline_end = 0;    ///< both colon + 1 when there are none
  int last_line = 0;             ///< its last line: key_line when it has none below
  int base = -1;                 ///< for a block, the column of its first entry or line
  bool indicator = false;        ///< a block scalar with an explicit indentation indicator
  bool in_flow = false;          ///< it sits in a flow collection
  bool plain = false;            ///< a plain scalar
  char chomping = 0;    ///< when it ends in a block scalar, how: '-' strip, ' ' clip, '+' keep
  int text_indent = 0;  ///< and the indentation of that block scalar's text
  bool has_lines() const { return last_line > key_line; }
};

/// Where the value of `found` is written, and the refusals of its shape (file and key name it).
Result<Extent> locate(const Tree& tree, const Source& source, const std::string& file,
                      const std::string& key, const Found& found) {
  const std::string_view text = source.text();
  const Node& name = tree[found.keys.back()];
  const Node& value = tree[found.value];
  const auto refuse = [&](std::size_t offset, const std::string& why) -> Result<Extent> {
    return input_error(file, source, offset, "cannot carry " + key + ": " + why);
  };
  if (auto checked = check_nodes(tree, source, file, key, found.value, value.last, true);
      !checked) {
    return checked.error();
  }
  Extent out;
  out.in_flow = tree[found.map].flow;
  out.key_line = source.line_of(name.at);
  out.key_column = column_of(source, name.at);
  const std::size_t line_end = source.line_end(out.key_line);
  const std::size_t colon = colon_of(source, name);
  const std::size_t line_begin = source.line_begin(out.key_line);
  if (colon == std::string_view::npos ||
      (!out.in_flow && !is_blank(text.substr(line_begin, name.at - line_begin)))) {
    return refuse(name.at,
                  "its key is not a plain or quoted scalar followed by ':' at the start of a line");
  }
  out.colon = colon;
  std::size_t begin = colon + 1;
  while (begin < line_end && (text[begin] == ' ' || text[begin] == '\t')) {
    ++begin;
  }
  bool open = false;
  out.inline_begin = out.inline_end = colon + 1;
  if (begin < line_end && text[begin] != '#') {
    out.inline_begin = begin;
    out.inline_end = inline_end(text, begin, line_end, out.in_flow, open);
  }
  const bool on_key_line = value.kind == Kind::null || source.line_of(value.at) == out.key_line;
  const bool written_inline = out.inline_begin != out.inline_end;
  if ((on_key_line && value.kind != Kind::null && value.at != out.inline_begin) ||
      (!on_key_line && written_inline)) {
    return refuse(value.at, "its value does not follow its key's ':'");
  }
  out.plain = value.kind == Kind::scalar && value.tag == "?";
  if (value.kind == Kind::map && !value.flow) {
    out.form = Form::block_map;
  } else if (value.kind == Kind::sequence && !value.flow) {
    out.form = Form::block_sequence;
  } else if (on_key_line && value.kind == Kind::scalar &&
             (text[value.at] == '|' || text[value.at] == '>')) {
    out.form = Form::block_scalar;
    out.indicator = text.substr(value.at, out.inline_end - value.at).find_first_of("123456789") !=
                    std::string_view::npos;
  } else if (!on_key_line || open) {
    out.form = Form::other;
  }
  out.last_line = out.key_line;
  int stop = -1;  // the first line after the value, when one follows in the document
  if (out.in_flow) {
    if (open || !on_key_line) {
      return refuse(on_key_line ? value.at : name.at,
                    "its value spans lines inside a flow collection");
    }
  } else {
    const bool dashes =
        out.form == Form::block_sequence && column_of(source, value.at) == out.key_column;
    const auto key_column = static_cast<std::size_t>(out.key_column);
    const int count = lines_in(source);
    for (int line = out.key_line + 1; line < count; ++line) {
      const std::string_view line_text = source.line_text(line);
      const std::size_t indent = indent_of(line_text);
      if (is_blank(line_text) || line_text[indent] == '#') {
        continue;
      }
      const bool dash = line_text[indent] == '-' &&
                        (indent + 1 == line_text.size() || line_text[indent + 1] == ' ');
      if (indent < key_column || (indent == key_column && !(dashes && dash))) {
        stop = line;
        break;
      }
      out.last_line = line;
    }
    // The last node of the value may be a block scalar or a quoted scalar whose last lines look
    // like comments.
    for (int i = value.last; i >= found.value; --i) {
      const Node& node = tree[i];
      if (node.kind == Kind::null) {
        continue;
      }
      if (node.kind == Kind::scalar && node.at < text.size()) {
        if (text[node.at] == '"' || text[node.at] == '\'') {
          const std::size_t end = quoted_end(text, node.at);
          if (end == std::string_view::npos) {
            return refuse(node.at, "its value holds a quoted string that is never closed");
          }
          out.last_line = std::max(out.last_line, source.line_of(end - 1));
        } else if (text[node.at] == '|' || text[node.at] == '>') {
          const BlockScalar block = read_block_scalar(
              source, node.at, i == found.value ? out.key_column : parent_indent(tree, source, i));
          out.last_line = std::max(out.last_line, block.last_line);
          out.chomping = block.chomping;
          out.text_indent = block.text_indent;
        }
      }
      break;
    }
    if (stop >= 0 && out.last_line >= stop) {
      return refuse(source.line_begin(stop) + indent_of(source.line_text(stop)),
                    "its value holds a line less indented than itself");
    }
  }
  const std::size_t end =
      out.has_lines() ? source.line_end(out.last_line) : std::max(out.inline_end, colon + 1);
  // What is copied: the value on the key's line (not the comment after it) and the lines below.
  for (std::size_t i = out.inline_begin; i < end; ++i) {
    i = i == out.inline_end && out.has_lines() ? source.line_begin(out.key_line + 1) : i;
    const auto c = static_cast<unsigned char>(i < end ? text[i] : ' ');
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return refuse(i, "its value holds a control character, which YAML does not allow");
    }
  }
  // The parser must agree: every node of the value lies in it, and the next node where it ends.
  for (int i = found.value; i <= value.last; ++i) {
    const Node& node = tree[i];
    if (node.kind != Kind::null && (node.at <= colon || node.at >= end)) {
      return refuse(node.at, "its value holds a line less indented than itself");
    }
  }
  int next = value.last + 1;
  while (next < static_cast<int>(tree.nodes.size()) && tree[next].kind == Kind::null) {
    ++next;
  }
  const bool has_next = next < static_cast<int>(tree.nodes.size());
  if (has_next && tree[next].at < end) {
    return refuse(tree[next].at, "its value holds a line less indented than itself");
  }
  if (stop >= 0) {
    const std::string_view line_text = source.line_text(stop);
    const std::size_t first = source.line_begin(stop) + indent_of(line_text);
    const bool marker = (line_text.starts_with("---") || line_text.starts_with("...")) &&
                        (line_text.size() == 3 || line_text[3] == ' ' || line_text[3] == '\t');
    const bool complex_key =
        text[first] == '?' && has_next && source.line_of(tree[next].at) == stop;
    if (!(has_next && tree[next].at == first) && !marker && !complex_key) {
      return refuse(first, "its value holds a line less indented than itself");
    }
  }
  if (out.form == Form::block_map || out.form == Form::block_sequence) {
    out.base = column_of(source, value.at);
  } else if (out.form == Form::block_scalar && out.has_lines()) {
    out.base = out.text_indent;
  }
  return out;
}

/// How far the text indents its first block collection of `kind` under a key (a list may sit at
/// its key's column: 0); -1 when it has none.
int first_offset(const Tree& tree, const Source& source, Kind kind) {
  for (const Node& node : tree.nodes) {
    for (std::size_t i = 0; node.kind == Kind::map && i + 1 < node.children.size(); i += 2) {
      const Node& key = tree[node.children[i]];
      const Node& value = tree[node.children[i + 1]];
      const int offset = column_of(source, value.at) - column_of(source, key.at);
      if (value.kind == kind && !value.flow && value.anchor == YAML::NullAnchor &&
          source.line_of(value.at) > source.line_of(key.at) &&
          offset >= (kind == Kind::map ? 1 : 0)) {
        return offset;
      }
    }
  }
  return -1;
}

/// One file as the carry reads it.
struct Side {
  const std::string& file;
  Source source;
  Tree tree;
};

/// The source's lines below its key line, re-indented by `shift`, each after `eol`; fails on a
/// line of a block less indented than the block's first.
Result<std::string> copied_lines(const Side& side, const Extent& extent, int shift,
                                 std::string_view eol, const std::string& key) {
  std::string out;
  for (int line = extent.key_line + 1; line <= extent.last_line; ++line) {
    const std::string_view text = side.source.line_text(line);
    const auto indent = static_cast<int>(indent_of(text));
    const bool content = !is_blank(text) && text[static_cast<std::size_t>(indent)] != '#';
    if (content && extent.base >= 0 && extent.form != Form::block_scalar &&
        (indent < extent.base || indent + shift < 0)) {
      return input_error(
          side.file, side.source, side.source.line_begin(line) + static_cast<std::size_t>(indent),
          "cannot carry " + key + ": its value holds a line less indented than itself");
    }
    out += eol;
    if (!text.empty()) {
      out.append(static_cast<std::size_t>(std::max(indent + shift, 0)), ' ');
      out += text.substr(static_cast<std::size_t>(indent));
    }
  }
  return out;
}

/// The edits that make the target's value at `key` the source's.
Result<std::vector<splice::Edit>> carry_edits(const Side& from, const Extent& s, const Side& to,
                                              const Found& target_found, const Extent& t,
                                              const std::string& key) {
  const std::string_view source_text = from.source.text();
  const std::string value(source_text.substr(s.inline_begin, s.inline_end - s.inline_begin));
  const auto refuse = [&](std::size_t at, const std::string& why) {
    return input_error(to.file, to.source, at, "cannot carry " + key + ": " + why);
  };
  const std::size_t target_at = t.inline_begin != t.inline_end ? t.inline_begin : t.colon;
  const std::string in_flow = "its value sits in a flow collection ({...} or [...]) ";
  if (t.in_flow && s.has_lines()) {
    return refuse(target_at, in_flow + "and the source's value spans lines");
  }
  if (t.in_flow && !s.in_flow && s.plain && value.find_first_of(",[]{}") != std::string::npos) {
    return refuse(target_at,
                  in_flow + "where the source's value (" + value + ") would read differently");
  }
  const std::size_t rest = std::max(t.inline_end, t.colon + 1);
  if (!value.empty() && s.has_lines() && s.form != Form::block_scalar &&
      !is_blank(to.source.text().substr(rest, to.source.line_end(t.key_line) - rest))) {
    return refuse(rest,
                  "the source's value goes on below its key's line, and a comment ends the "
                  "target's");
  }
  std::vector<splice::Edit> edits;
  const bool target_inline = t.inline_begin != t.inline_end;
  if (!value.empty() && target_inline) {
    edits.push_back({t.inline_begin, t.inline_end, value});
  } else if (!value.empty()) {
    edits.push_back({t.colon + 1, t.colon + 1, " " + value});
  } else if (target_inline) {
    edits.push_back({t.colon + 1, t.inline_end, t.in_flow ? " ~" : ""});
  }
  if (!s.has_lines() && !t.has_lines()) {
    return edits;
  }
  int shift = t.key_column - s.key_column;
  const bool target_block =
      t.form == Form::block_map || t.form == Form::block_sequence || t.form == Form::block_scalar;
  const int target_base = target_block ? t.base : -1;
  // The width of the target's indentation: under the key's parent key, else at its first block
  // map, else the source's.
  const auto step = [&] {
    const auto& keys = target_found.keys;
    const int under_parent = keys.size() < 2
                                 ? -1
                                 : column_of(to.source, to.tree[keys.back()].at) -
                                       column_of(to.source, to.tree[keys[keys.size() - 2]].at);
    for (int found : {under_parent, first_offset(to.tree, to.source, Kind::map),
                      first_offset(from.tree, from.source, Kind::map)}) {
      if (found > 0) {
        return found;
      }
    }
    return 2;
  };
  if (s.form == Form::block_map || (s.form == Form::block_scalar && !s.indicator)) {
    const int column = target_base > t.key_column ? target_base : t.key_column + step();
    shift = column - s.base;
  } else if (s.form == Form::block_sequence) {
    int column = target_base;
    if (column < 0 || (column == t.key_column && t.form != Form::block_sequence)) {
      int offset = first_offset(to.tree, to.source, Kind::sequence);
      if (offset < 0) {
        offset = s.base == s.key_column ? 0 : step();
      }
      column = t.key_column + offset;
    }
    shift = column - s.base;
  }
  // A block scalar's final line break, and with '+' the blank lines after it, are its text.
  const int after = t.has_lines() ? t.last_line : t.key_line;
  const auto refuse_end = [&](const std::string& why) {
    return refuse(t.colon, "the source's value ends in a block scalar (| or >) whose text " + why);
  };
  if ((s.chomping == ' ' || s.chomping == '+') &&
      from.source.has_eol(s.last_line) != to.source.has_eol(after)) {
    return refuse_end("would gain or lose its final line break at the end of a file");
  }
  for (int line = after + 1; s.chomping != 0 && line < lines_in(to.source); ++line) {
    const std::string_view text = to.source.line_text(line);
    const bool blank = is_blank(text);
    if ((blank && (s.chomping == '+' || static_cast<int>(text.size()) > s.text_indent + shift)) ||
        (!blank && static_cast<int>(indent_of(text)) >= s.text_indent + shift)) {
      return refuse_end("would take in the lines after the target's value");
    }
    if (!blank) {
      break;
    }
  }
  auto lines = copied_lines(from, s, shift, to.source.eol(), key);
  if (!lines) {
    return lines.error();
  }
  const std::size_t begin = to.source.line_end(t.key_line);
  edits.push_back({begin, t.has_lines() ? to.source.line_end(t.last_line) : begin, *lines});
  return edits;
}

Result<nlohmann::json> value_json(const Side& side, const Found& found, const std::string& key) {
  nlohmann::json out;
  if (!to_json(side.tree, found.value, 0, out)) {
    return input_error(side.file, side.source, side.tree[found.value].at,
                       "the value of " + key + " nests too deeply (aliases expanded)");
  }
  return Result<nlohmann::json>(boost::system::in_place_value, std::move(out));
}

/// Every document of a tree rendered, the values of `masked` left out.
std::string render_all(const Tree& tree, const std::set<int>& masked) {
  std::string out;
  for (int root : tree.documents) {
    render(tree, root, masked, out);
    out += "\n---\n";
  }
  return out;
}

/// The check before returning: the result parses, holds the source's value at every key and the
/// target's everywhere else.
Result<void> verify(const Side& target, const std::string& result,
                    const std::map<std::string, nlohmann::json>& wanted,
                    const std::set<int>& target_masked) {
  const auto fail = [&](const std::string& why) -> Result<void> {
    return make_error(ErrorKind::internal,
                      target.file +
                          ": refusing to write a carry that changes more than the carried "
                          "values (" +
                          why + ")");
  };
  auto tree = parse(result, target.file);
  if (!tree) {
    return fail("the result does not parse: " + tree.error().message);
  }
  const Side after{target.file, Source(result), std::move(*tree)};
  std::set<int> masked;
  for (const auto& [key, json] : wanted) {
    auto found = resolve(after.tree, after.source, after.file, key, false);
    if (!found) {
      return fail(found.error().message);
    }
    auto value = value_json(after, *found, key);
    if (!value || *value != json) {
      return fail(key + " does not hold the source's value");
    }
    masked.insert(found->value);
  }
  if (render_all(target.tree, target_masked) != render_all(after.tree, masked)) {
    return fail("a value outside the carried keys changed");
  }
  return {};
}

}  // namespace

Result<std::string> carried_values(std::string_view text, const std::string& file,
                                   const std::vector<std::string>& keys) {
  auto tree = parse(text, file);
  if (!tree) {
    return tree.error();
  }
  const Side side{file, Source(text), std::move(*tree)};
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : keys) {
    auto found = resolve(side.tree, side.source, file, key, false);
    if (!found) {
      return found.error();
    }
    auto value = value_json(side, *found, key);
    if (!value) {
      return value.error();
    }
    out[key] = std::move(*value);
  }
  return util::dump_json(out);
}

Result<std::pair<std::string, int>> carry_values(std::string_view source,
                                                 const std::string& source_file,
                                                 std::string_view target,
                                                 const std::string& target_file,
                                                 const std::vector<std::string>& keys) {
  auto source_tree = parse(source, source_file);
  if (!source_tree) {
    return source_tree.error();
  }
  auto target_tree = parse(target, target_file);
  if (!target_tree) {
    return target_tree.error();
  }
  const Side from{source_file, Source(source), std::move(*source_tree)};
  const Side to{target_file, Source(target), std::move(*target_tree)};
  // What follows a carried value in the target is read again after the new value.
  if (auto checked =
          check_nodes(to.tree, to.source, target_file, keys.empty() ? std::string() : keys.front(),
                      0, static_cast<int>(to.tree.nodes.size()) - 1, false);
      !checked) {
    return checked.error();
  }

  struct Carry {
    std::string key;
    Found found[2];  // in the source, in the target
    Extent extent[2];
    bool changed = false;
  };
  std::vector<Carry> carries;
  std::map<std::string, nlohmann::json> wanted;
  std::set<int> target_masked;
  int changed = 0;
  for (const auto& key : keys) {
    if (wanted.contains(key)) {
      continue;
    }
    Carry carry{key, {}, {}, false};
    nlohmann::json values[2];
    for (int i = 0; i < 2; ++i) {
      const Side& side = i == 0 ? from : to;
      auto found = resolve(side.tree, side.source, side.file, key, true);
      if (!found) {
        return found.error();
      }
      auto extent = locate(side.tree, side.source, side.file, key, *found);
      if (!extent) {
        return extent.error();
      }
      auto value = value_json(side, *found, key);
      if (!value) {
        return value.error();
      }
      carry.found[i] = *found;
      carry.extent[i] = *extent;
      values[i] = std::move(*value);
    }
    carry.changed = values[0] != values[1];
    changed += carry.changed ? 1 : 0;
    wanted[key] = std::move(values[0]);
    target_masked.insert(carry.found[1].value);
    carries.push_back(std::move(carry));
  }
  if (changed == 0) {
    return std::pair{std::string(target), 0};
  }
  // A key inside another carried key that changed comes with it.
  const auto inside = [](const std::string& key, const std::string& outer) {
    return key.size() > outer.size() && key.starts_with(outer) && key[outer.size()] == '.';
  };
  std::vector<splice::Edit> edits;
  for (const auto& carry : carries) {
    const bool covered = std::any_of(carries.begin(), carries.end(), [&](const Carry& outer) {
      return outer.changed && inside(carry.key, outer.key);
    });
    if (!carry.changed || covered) {
      continue;
    }
    auto more = carry_edits(from, carry.extent[0], to, carry.found[1], carry.extent[1], carry.key);
    if (!more) {
      return more.error();
    }
    edits.insert(edits.end(), more->begin(), more->end());
  }
  auto result = splice::apply(target, edits);
  if (!result) {
    return make_error(ErrorKind::internal, target_file + ": " + result.error().message);
  }
  if (auto checked = verify(to, *result, wanted, target_masked); !checked) {
    return checked.error();
  }
  return std::pair{std::move(*result), changed};
}

}  // namespace promote::overlay
