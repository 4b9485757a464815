#include "engine/overlay/splice.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <regex>
#include <sstream>

namespace promote::overlay::splice {

namespace {

/// Walks the documents without building nodes and throws where the parser stops making progress:
/// yaml-cpp 0.7's LoadAll loops forever, allocating, on a stray token such as a leading ','
/// (jbeder/yaml-cpp#1040, fixed upstream by #1319).
class ProgressCheck : public YAML::EventHandler {
 public:
  static void run(std::string_view text) {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    ProgressCheck check;
    while (parser.HandleNextDocument(check)) {
    }
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (m_started && mark.pos == m_last.pos) {
      throw YAML::ParserException(mark, "unexpected character");
    }
    m_started = true;
    m_last = mark;
    m_sizes.clear();
    m_open.clear();
    m_aliased = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto it = m_sizes.find(anchor);
    if (it == m_sizes.end()) {
      throw YAML::ParserException(mark, "an alias that refers to a value containing itself");
    }
    m_aliased = std::min(m_aliased + it->second, k_max_aliased_nodes + 1);
    if (m_aliased > k_max_aliased_nodes) {
      throw YAML::ParserException(mark, "its aliases expand to more than " +
                                            std::to_string(k_max_aliased_nodes) +
                                            " values (an alias bomb?)");
    }
    add(it->second);
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(anchor);
  }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    m_open.push_back({anchor, 1});
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    m_open.push_back({anchor, 1});
  }
  void OnMapEnd() override { close(); }

 private:
  /// How many values the aliases of one document may stand for in all, counted as if each
  /// alias were a copy of its anchored value.
  static constexpr std::uint64_t k_max_aliased_nodes = 100000;

  struct Open {
    YAML::anchor_t anchor;
    std::uint64_t size;  ///< values in it so far, aliases expanded
  };

  void add(std::uint64_t size) {
    if (!m_open.empty()) {
      m_open.back().size = std::min(m_open.back().size + size, k_max_aliased_nodes + 1);
    }
  }
  void leaf(YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      m_sizes[anchor] = 1;
    }
    add(1);
  }
  void close() {
    const Open done = m_open.back();
    m_open.pop_back();
    if (done.anchor != YAML::NullAnchor) {
      m_sizes[done.anchor] = done.size;
    }
    add(done.size);
  }

  bool m_started = false;
  YAML::Mark m_last;
  std::map<YAML::anchor_t, std::uint64_t> m_sizes;  ///< the size of each anchored value that ended
  std::vector<Open> m_open;
  std::uint64_t m_aliased = 0;
};

bool is_null_token(std::string_view token) {
  return token == "~" || token == "null" || token == "Null" || token == "NULL";
}

/// The characters a replacement may hold: those of image references, tags, digests and
/// registries (with IPv6 brackets), their quotes, and the space that separates a value written
/// into a null from its colon.
bool replacement_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("._-:/@+=[]\"' ").find(c) != std::string_view::npos;
}

/// A line of a text: [begin, content_end) is its content, [content_end, end) its line break.
struct Line {
  std::size_t begin = 0;
  std::size_t content_end = 0;
  std::size_t end = 0;
};

std::vector<Line> lines_of(std::string_view text) {
  std::vector<Line> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t newline = text.find('\n', begin);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
    std::size_t content_end = end;
    if (newline != std::string_view::npos) {
      content_end = newline > begin && text[newline - 1] == '\r' ? newline - 1 : newline;
    }
    lines.push_back({begin, content_end, end});
    begin = end;
  }
  return lines;
}

}  // namespace

Source::Source(std::string_view text) : m_text(text) {
  m_bom = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  m_starts.push_back(0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      m_starts.push_back(i + 1);
    }
  }
  const std::size_t first_break = text.find('\n');
  m_crlf =
      first_break != std::string_view::npos && first_break > 0 && text[first_break - 1] == '\r';
}

std::size_t Source::offset(const YAML::Mark& mark) const {
  const auto line = static_cast<std::size_t>(std::max(mark.line, 0));
  if (line >= m_starts.size()) {
    return m_text.size();
  }
  const std::size_t base = m_starts[line] + (line == 0 ? m_bom : 0);
  return std::min(m_text.size(), base + static_cast<std::size_t>(std::max(mark.column, 0)));
}

int Source::line_of(std::size_t offset) const {
  const auto it = std::upper_bound(m_starts.begin(), m_starts.end(), offset);
  return static_cast<int>(it - m_starts.begin()) - 1;
}

std::size_t Source::line_end(int line) const {
  std::size_t end = next_line_begin(line);
  if (end > line_begin(line) && m_text[end - 1] == '\n') {
    --end;
    if (end > line_begin(line) && m_text[end - 1] == '\r') {
      --end;
    }
  }
  return end;
}

std::size_t Source::next_line_begin(int line) const {
  const auto next = static_cast<std::size_t>(line) + 1;
  return next < m_starts.size() ? m_starts[next] : m_text.size();
}

bool Source::has_eol(int line) const {
  const std::size_t end = next_line_begin(line);
  return end > line_begin(line) && m_text[end - 1] == '\n';
}

std::string_view Source::line_text(int line) const {
  return m_text.substr(line_begin(line), line_end(line) - line_begin(line));
}

YAML::Mark Source::mark_at(std::size_t offset) const {
  YAML::Mark mark;
  const int line = line_of(offset);
  mark.pos = static_cast<int>(offset);
  mark.line = line;
  const std::size_t base = line_begin(line) + (line == 0 ? m_bom : 0);
  mark.column = static_cast<int>(offset >= base ? offset - base : 0);
  return mark;
}

Error error_at(const std::string& file, const YAML::Mark& mark, const std::string& what) {
  return make_error(ErrorKind::input,
                    Location{file, mark.line + 1, mark.column + 1}.to_string() + ": " + what);
}

Result<std::vector<YAML::Node>> load_all(std::string_view text, const std::string& file) {
  // YAML allows no NUL; yaml-cpp would keep it in a scalar.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    YAML::Mark mark;
    const std::size_t line_start = text.rfind('\n', nul);
    mark.line = static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
    mark.column = static_cast<int>(line_start == std::string_view::npos ? nul : nul - line_start - 1);
    return error_at(file, mark, "a NUL byte, which YAML does not allow");
  }
  try {
    ProgressCheck::run(text);
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp says only "bad file" here.
    return error_at(file, e.mark,
                    "the YAML nests too deeply (" + std::to_string(e.depth()) + " levels)");
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return make_error(ErrorKind::input, file + ": " + e.msg);
    }
    return error_at(file, e.mark, e.msg);
  }
}

std::string describe(Shape shape) {
  switch (shape) {
    case Shape::editable:
    case Shape::null:
      return "it can be edited";
    case Shape::alias:
      return "its value is an alias (*name) of a value anchored elsewhere, and promote does not "
             "edit through aliases";
    case Shape::anchored:
      return "its value carries an anchor (&name) that aliases elsewhere may share";
    case Shape::tagged:
      return "its value has an explicit tag (such as !!str)";
    case Shape::block:
      return "its value is a block scalar (| or >)";
    case Shape::multi_line:
      return "its value is not a single-line plain or quoted scalar";
    case Shape::collection:
      return "its value is a map or a list, not a string";
  }
  return "it cannot be edited in place";
}

std::string describe(const Source& source, const Span& span) {
  std::string out = describe(span.shape);
  if (span.shape == Shape::alias) {
    const YAML::Mark anchor = source.mark_at(span.begin);
    out += " (the anchor is at line " + std::to_string(anchor.line + 1) + ", column " +
           std::to_string(anchor.column + 1) + ")";
  }
  return out;
}

Span locate_scalar(const Source& source, const YAML::Node& node) {
  const std::string_view text = source.text();
  const std::size_t begin = source.offset(node.Mark());
  if (!node.IsScalar()) {
    return {node.IsNull() ? Shape::null : Shape::collection, begin, begin, 0};
  }
  if (begin >= text.size()) {
    return {Shape::multi_line, begin, begin, 0};
  }
  const char first = text[begin];
  if (first == '*') {
    return {Shape::alias, begin, begin, 0};
  }
  if (first == '&') {
    return {Shape::anchored, begin, begin, 0};
  }
  if (first == '!') {
    return {Shape::tagged, begin, begin, 0};
  }
  if (first == '|' || first == '>') {
    return {Shape::block, begin, begin, 0};
  }
  if (first == '"' || first == '\'') {
    if (node.Tag() != "!") {
      return {Shape::tagged, begin, begin, 0};
    }
    std::size_t i = begin + 1;
    while (i < text.size() && text[i] != '\n' && text[i] != '\r') {
      if (first == '"' && text[i] == '\\') {
        i += 2;
      } else if (text[i] == first) {
        if (first == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          i += 2;
        } else {
          return {Shape::editable, begin, i + 1, first};
        }
      } else {
        ++i;
      }
    }
    return {Shape::multi_line, begin, begin, 0};
  }
  const std::string& value = node.Scalar();
  if (node.Tag() != "?") {
    return {Shape::tagged, begin, begin, 0};
  }
  // A lone carriage return breaks the line for YAML; yaml-cpp keeps it in a plain scalar.
  if (value.empty() || value.find_first_of("\n\r") != std::string::npos ||
      text.substr(begin, value.size()) != value) {
    return {Shape::multi_line, begin, begin, 0};
  }
  return {Shape::editable, begin, begin + value.size(), 0};
}

Span locate_value(const Source& source, const YAML::Node& key, const YAML::Node& value) {
  const std::size_t key_begin = source.offset(key.Mark());
  const std::size_t value_begin = source.offset(value.Mark());
  if (!value.IsNull()) {
    // An alias is the anchored node itself: its mark is the anchor's, before the key.
    if (value_begin < key_begin) {
      return {Shape::alias, value_begin, value_begin, 0};
    }
    if (!value.IsScalar()) {
      return {Shape::collection, value_begin, value_begin, 0};
    }
    return locate_scalar(source, value);
  }
  const Span key_span = locate_scalar(source, key);
  if (key_span.shape != Shape::editable) {
    return {Shape::multi_line, key_begin, key_begin, 0};
  }
  const std::string_view text = source.text();
  std::size_t i = key_span.end;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
    ++i;
  }
  if (i >= text.size() || text[i] != ':') {
    return {Shape::multi_line, key_begin, key_begin, 0};
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
    return {Shape::null, colon + 1, colon + 1, 0};
  }
  if (is_null_token(token)) {
    return {Shape::null, colon + 1, end, 0};
  }
  if (token.starts_with('*')) {
    return {Shape::alias, i, i, 0};
  }
  if (token.starts_with('&')) {
    return {Shape::anchored, i, i, 0};
  }
  if (token.starts_with('!')) {
    return {Shape::tagged, i, i, 0};
  }
  return {Shape::multi_line, i, i, 0};
}

bool needs_quotes(const std::string& value) {
  static const std::regex k_number(
      "[-+]?(0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(\\.[0-9_]*)?([eE][-+]?[0-9]+)?|"
      "\\.[0-9_]+([eE][-+]?[0-9]+)?|[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?|\\.(inf|Inf|INF)|"
      "\\.(nan|NaN|NAN))");
  static const std::regex k_word(
      "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
      "null|Null|NULL|~|<<|=");
  static const std::regex k_date("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");
  if (value.empty() || std::regex_match(value, k_number) || std::regex_match(value, k_word) ||
      std::regex_match(value, k_date)) {
    return true;
  }
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(value.front()) != std::string_view::npos) {
    return true;
  }
  for (char c : value) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      std::string_view("._-/:@+=").find(c) != std::string_view::npos;
    if (!safe) {
      return true;
    }
  }
  return value.back() == ':';
}

std::string render(const std::string& value, char quote) {
  if (quote == 0 && !needs_quotes(value)) {
    return value;
  }
  std::string out(1, quote == '\'' ? '\'' : '"');
  for (char c : value) {
    if (out.front() == '\'') {
      out += c == '\'' ? std::string("''") : std::string(1, c);
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  out += out.front();
  return out;
}

Edit replace(const Span& span, const std::string& value) {
  if (span.shape == Shape::null) {
    return {span.begin, span.end, " " + render(value)};
  }
  return {span.begin, span.end, render(value, span.quote)};
}

Result<std::string> apply(std::string_view text, std::vector<Edit> edits) {
  std::stable_sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::string out;
  out.reserve(text.size() + 64);
  std::size_t at = 0;
  for (const auto& edit : edits) {
    if (edit.begin < at || edit.end < edit.begin || edit.end > text.size()) {
      return make_error(ErrorKind::internal, "overlapping edits of a YAML text");
    }
    out.append(text.substr(at, edit.begin - at));
    out += edit.text;
    at = edit.end;
  }
  out.append(text.substr(at));
  return out;
}

Result<void> only_values_changed(std::string_view before, std::string_view after,
                                 const std::vector<Edit>& edits, const std::string& file) {
  const auto fail = [&](const std::string& why) -> Result<void> {
    return make_error(
        ErrorKind::internal,
        file + ": refusing to write an edit that changes more than values (" + why + ")");
  };
  const std::vector<Line> old_lines = lines_of(before);
  const std::vector<Line> new_lines = lines_of(after);
  const std::string_view eol = Source(before).eol();
  const auto line_index = [&](std::size_t offset) {
    const auto it =
        std::upper_bound(old_lines.begin(), old_lines.end(), offset,
                         [](std::size_t at, const Line& line) { return at < line.begin; });
    return static_cast<std::size_t>(it - old_lines.begin()) - 1;
  };
  const bool open_last_line = !before.empty() && before.back() != '\n';

  // What the edits declare: value ranges per line, and whole lines inserted before a line.
  std::map<std::size_t, std::vector<std::pair<std::size_t, std::size_t>>> ranges;
  std::map<std::size_t, std::size_t> inserted;  // line index -> lines inserted before it
  std::size_t appended = 0;                     // lines added after an unterminated last line
  for (const auto& edit : edits) {
    if (edit.begin > edit.end || edit.end > before.size()) {
      return fail("an edit lies outside the text");
    }
    const std::size_t breaks =
        static_cast<std::size_t>(std::count(edit.text.begin(), edit.text.end(), '\n'));
    const bool at_line_start = edit.begin == 0 || before[edit.begin - 1] == '\n';
    if (edit.begin == edit.end && breaks > 0 && at_line_start && edit.text.ends_with('\n')) {
      inserted[edit.begin == before.size() ? old_lines.size() : line_index(edit.begin)] += breaks;
      continue;
    }
    if (edit.begin == edit.end && breaks > 0 && open_last_line && edit.begin == before.size() &&
        edit.text.starts_with(eol)) {
      appended += breaks;
      continue;
    }
    if (breaks > 0 || before.empty()) {
      return fail("an edit adds a line break inside a line");
    }
    const std::size_t line = line_index(edit.begin);
    if (edit.end > old_lines[line].content_end) {
      return fail("an edit spans a line break");
    }
    ranges[line].emplace_back(edit.begin - old_lines[line].begin, edit.end - old_lines[line].begin);
  }

  const auto new_line_ok = [&](const Line& line, bool last) {
    const std::string_view content = after.substr(line.begin, line.content_end - line.begin);
    const std::string_view ending = after.substr(line.content_end, line.end - line.content_end);
    return std::all_of(content.begin(), content.end(), replacement_char) &&
           (last ? ending.empty() : ending == eol);
  };
  const auto replacement_ok = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(), replacement_char);
  };

  std::size_t j = 0;
  for (std::size_t i = 0; i <= old_lines.size(); ++i) {
    for (std::size_t n = inserted.contains(i) ? inserted[i] : 0; n > 0; --n, ++j) {
      if (j >= new_lines.size() || !new_line_ok(new_lines[j], false)) {
        return fail("an inserted line is not a plain key and value");
      }
    }
    if (i == old_lines.size()) {
      break;
    }
    if (j >= new_lines.size()) {
      return fail("lines were removed");
    }
    const Line& old_line = old_lines[i];
    const Line& new_line = new_lines[j++];
    const std::string_view old_content =
        before.substr(old_line.begin, old_line.content_end - old_line.begin);
    const std::string_view new_content =
        after.substr(new_line.begin, new_line.content_end - new_line.begin);
    std::string_view old_ending =
        before.substr(old_line.content_end, old_line.end - old_line.content_end);
    const std::string_view new_ending =
        after.substr(new_line.content_end, new_line.end - new_line.content_end);
    if (i + 1 == old_lines.size() && appended > 0 && old_ending.empty()) {
      old_ending = eol;
    }
    if (old_ending != new_ending) {
      return fail("the line ending of line " + std::to_string(i + 1) + " changed");
    }
    auto line_ranges =
        ranges.contains(i) ? ranges[i] : std::vector<std::pair<std::size_t, std::size_t>>{};
    if (line_ranges.empty()) {
      if (old_content != new_content) {
        return fail("line " + std::to_string(i + 1) + " changed outside any value");
      }
      continue;
    }
    // The bytes between the ranges must all be there, in order, around the replacements.
    std::sort(line_ranges.begin(), line_ranges.end());
    std::vector<std::string_view> fixed;
    std::size_t at = 0;
    for (const auto& [begin, end] : line_ranges) {
      if (begin < at) {
        return fail("two edits overlap on line " + std::to_string(i + 1));
      }
      fixed.push_back(old_content.substr(at, begin - at));
      at = end;
    }
    fixed.push_back(old_content.substr(at));
    const std::string_view head = fixed.front();
    const std::string_view tail = fixed.back();
    if (new_content.size() < head.size() + tail.size() || !new_content.starts_with(head) ||
        !new_content.ends_with(tail)) {
      return fail("line " + std::to_string(i + 1) + " changed outside its values");
    }
    std::size_t pos = head.size();
    const std::size_t limit = new_content.size() - tail.size();
    for (std::size_t k = 1; k + 1 < fixed.size(); ++k) {
      const std::size_t found = new_content.find(fixed[k], pos);
      if (found == std::string_view::npos || found + fixed[k].size() > limit) {
        return fail("line " + std::to_string(i + 1) + " changed between its values");
      }
      if (!replacement_ok(new_content.substr(pos, found - pos))) {
        return fail("a value on line " + std::to_string(i + 1) +
                    " holds a character no image value has");
      }
      pos = found + fixed[k].size();
    }
    if (!replacement_ok(new_content.substr(pos, limit - pos))) {
      return fail("a value on line " + std::to_string(i + 1) +
                  " holds a character no image value has");
    }
  }
  for (std::size_t n = appended; n > 0; --n, ++j) {
    if (j >= new_lines.size() || !new_line_ok(new_lines[j], n == 1)) {
      return fail("an appended line is not a plain key and value");
    }
  }
  if (j != new_lines.size()) {
    return fail("lines were added");
  }
  return {};
}

Result<std::string> splice(std::string_view text, const std::vector<Edit>& edits,
                           const std::string& file) {
  if (edits.empty()) {
    return std::string(text);
  }
  auto edited = apply(text, edits);
  if (!edited) {
    return edited.error();
  }
  if (auto guarded = only_values_changed(text, *edited, edits, file); !guarded) {
    return guarded.error();
  }
  auto before = load_all(text, file);
  auto after = load_all(*edited, file);
  if (!before || !after || before->size() != after->size()) {
    return make_error(ErrorKind::internal,
                      file + ": refusing to write an edit that changes more than values (" +
                          (after ? std::string("the number of YAML documents changed")
                                 : "the result does not parse: " + after.error().message) +
                          ")");
  }
  return edited;
}

}  // namespace promote::overlay::splice
