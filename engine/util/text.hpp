#pragma once
// Text written by others (reports, plugins, servers, files, records synced from git, actors,
// reasons) made safe to print: on a terminal, in a CI log, in Markdown. One set of rules for
// every place promote prints such text; JSON output needs none of it (its encoding is safe)
// and keeps the text exact.
//
// The rules:
// - Each byte that is not part of valid UTF-8 is shown as \xNN (NN from 80 to ff).
// - Each control character is shown: C0 and DEL as \xNN (ESC as \x1b, CR as \x0d), C1 as
//   \u0080..\u009f. `printable` keeps line feeds and tabs; `one_line` shows them too.
// - Characters that change how a line reads without being seen are shown as \uNNNN: the line
//   and paragraph separators U+2028 and U+2029, the bidirectional controls (U+061C, U+200E,
//   U+200F, U+202A..U+202E, U+2066..U+2069) and U+FEFF.
// - No GitHub Actions workflow command can start from the text: the first colon of a line
//   whose first non-blank characters are "::" is shown as \x3a, and the '[' of "##[" (the
//   runner's older form, read anywhere in a line) as \x5b.
// A backslash is left as it is: the JSON output tells a text "\x1b" from an escaped ESC.

#include <cstddef>
#include <string>
#include <string_view>

namespace promote::util {

/// The offset of the first byte of `text` that is not part of a valid UTF-8 sequence
/// (overlong forms, surrogates and code points above U+10FFFF are invalid), or npos.
std::size_t invalid_utf8_at(std::string_view text);

/// "" when `text` is valid UTF-8; else what is wrong with it, naming it `what`: "--reason is
/// not valid UTF-8 (byte 0xff at offset 3)". For refusing such text where it comes in.
std::string utf8_problem(std::string_view what, std::string_view text);

/// `text` made safe to print by the rules above, line feeds and tabs kept.
std::string printable(std::string_view text);

/// `text` made safe to print on one line: as printable, with line feeds and tabs shown as
/// \x0a and \x09 too.
std::string one_line(std::string_view text);

/// At most the first `max` bytes of `text` with every byte outside printable ASCII shown as
/// \xHH, and "... (N bytes)" after them when there are more: how an error quotes a value that
/// breaks a grammar (an image reference, a version), byte for byte.
std::string ascii_excerpt(std::string_view text, std::size_t max = 200);

/// `text` as a Markdown code span (GitHub Flavored Markdown), after one_line: no emphasis,
/// link, image, HTML or emoji of the text is rendered. With `in_table`, its pipes are escaped
/// for a table cell. "" for "".
std::string markdown_code(std::string_view text, bool in_table = false);

/// A fence of backticks for a Markdown fenced code block of `text`: at least three, and
/// longer than any run of backticks in the text, so that the text cannot close it.
std::string markdown_fence(std::string_view text);

}  // namespace promote::util
