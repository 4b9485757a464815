#pragma once
// Format-preserving edits of YAML text, shared by the overlay editors (helm, manifests, setters):
// yaml-cpp says where a value is, an edit replaces only the bytes of that value in the original
// text (YAML is never re-emitted), and `only_values_changed` checks the result before it is
// returned, so a bug in an editor cannot write more than the values.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::overlay::splice {

/// The lines of a text and yaml-cpp marks turned into byte offsets.
class Source {
 public:
  explicit Source(std::string_view text);

  std::string_view text() const { return m_text; }
  /// The line ending of the file: "\r\n" when its first line ends so, else "\n".
  std::string_view eol() const { return m_crlf ? "\r\n" : "\n"; }
  int line_count() const { return static_cast<int>(m_starts.size()); }
  /// The byte offset of a mark (yaml-cpp counts bytes but skips a byte-order mark).
  std::size_t offset(const YAML::Mark& mark) const;
  /// The 0-based line holding a byte offset.
  int line_of(std::size_t offset) const;
  std::size_t line_begin(int line) const { return m_starts[static_cast<std::size_t>(line)]; }
  /// Where the line's content ends: at its "\r\n" or "\n", or at the end of the text.
  std::size_t line_end(int line) const;
  std::size_t next_line_begin(int line) const;
  /// Whether the line ends with a line break (the last line of a text may not).
  bool has_eol(int line) const;
  std::string_view line_text(int line) const;
  /// A mark for a byte offset, for error messages.
  YAML::Mark mark_at(std::size_t offset) const;

 private:
  std::string_view m_text;
  std::vector<std::size_t> m_starts;
  std::size_t m_bom = 0;
  bool m_crlf = false;
};

/// An error (input) that reads `FILE:LINE:COL: what`, from a 0-based yaml-cpp mark.
Error error_at(const std::string& file, const YAML::Mark& mark, const std::string& what);

/// Every document of the text. Fails (input, `FILE:LINE:COL: ...`) on malformed YAML, including
/// the stray tokens on which yaml-cpp 0.7 alone would loop forever (jbeder/yaml-cpp#1040).
Result<std::vector<YAML::Node>> load_all(std::string_view text, const std::string& file);

/// What a value is, as far as editing it in place goes.
enum class Shape {
  editable,    ///< a plain or quoted scalar on one line
  null,        ///< nothing, `~` or `null` after the key's colon
  alias,       ///< `*name`: the node lives at its anchor, elsewhere in the file
  anchored,    ///< `&name value`: aliases elsewhere may share it
  tagged,      ///< `!!str value` and other explicit tags
  block,       ///< a `|` or `>` block scalar
  multi_line,  ///< a plain or quoted scalar spread over several lines
  collection,  ///< a map or a sequence
};

/// Why a value of this shape cannot be edited in place, as the end of a sentence.
std::string describe(Shape shape);

/// Where a value is: its bytes (for null, from after the key's colon to the end of `~`/`null`,
/// empty when nothing is written) and its quote character ('"', '\'' or 0 for plain).
struct Span {
  Shape shape = Shape::editable;
  std::size_t begin = 0;
  std::size_t end = 0;
  char quote = 0;
};

/// `describe(span.shape)`, and for an alias where its anchor is (line and column, 1-based).
std::string describe(const Source& source, const Span& span);

/// The value of a `key: value` pair of a map.
Span locate_value(const Source& source, const YAML::Node& key, const YAML::Node& value);

/// A scalar anywhere (a sequence item, a map value) located by its own mark only: editable when
/// it is a single-line plain or quoted scalar written where its mark says. An alias cannot be
/// told apart from its anchor this way: use `locate_value` for map values.
Span locate_scalar(const Source& source, const YAML::Node& node);

/// Whether YAML (1.1 or 1.2) would read a plain scalar as something other than this string
/// (`1.10` is a number, `true` a boolean, `0123` octal, `2024-01-02` a date), or could not read
/// it back as written.
bool needs_quotes(const std::string& value);

/// A scalar as YAML text: in `quote` when it is a quote character, else plain when that reads
/// back as the same string, else double-quoted.
std::string render(const std::string& value, char quote = 0);

/// Replaces [begin, end) with `text`.
struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

/// The edit that makes an editable or null span hold `value`, keeping its quote style; a plain
/// value that YAML would read as a number, boolean, null or date is written double-quoted.
Edit replace(const Span& span, const std::string& value);

/// Applies non-overlapping edits; at one position, insertions go first, in their order.
Result<std::string> apply(std::string_view text, std::vector<Edit> edits);

/// The guard every editor runs before returning (fails with kind internal, naming the file):
/// `after` must be `before` with only the bytes of the edited values changed. Every line that no
/// edit touches is byte-identical (content and line ending), each touched line keeps every byte
/// outside its edited ranges, a replacement holds only characters an image reference, a tag, a
/// digest or their quotes can hold (never a '#', a ',', a line break), and the only new lines are
/// whole-line insertions the edits declare. Knows nothing of how `after` was made: it checks the
/// text against the declared ranges.
Result<void> only_values_changed(std::string_view before, std::string_view after,
                                 const std::vector<Edit>& edits, const std::string& file);

/// `apply`, then the guard, then a check that the result still parses into as many documents.
/// Returns the text unchanged when there are no edits.
Result<std::string> splice(std::string_view text, const std::vector<Edit>& edits,
                           const std::string& file);

}  // namespace promote::overlay::splice
