#include "engine/util/text.hpp"

#include <algorithm>

namespace promote::util {

namespace {

constexpr char k_hex[] = "0123456789abcdef";

/// One character of UTF-8: its code point and length in bytes; length 0 for a byte that does
/// not start a valid sequence.
struct Decoded {
  char32_t code = 0;
  std::size_t length = 0;
};

Decoded decode(std::string_view text, std::size_t at) {
  const auto byte = static_cast<unsigned char>(text[at]);
  if (byte < 0x80) {
    return {byte, 1};
  }
  std::size_t length = 0;
  char32_t code = 0;
  char32_t least = 0;
  if ((byte & 0xE0) == 0xC0) {
    length = 2;
    code = byte & 0x1F;
    least = 0x80;
  } else if ((byte & 0xF0) == 0xE0) {
    length = 3;
    code = byte & 0x0F;
    least = 0x800;
  } else if ((byte & 0xF8) == 0xF0) {
    length = 4;
    code = byte & 0x07;
    least = 0x10000;
  } else {
    return {};
  }
  if (text.size() - at < length) {
    return {};
  }
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[at + k]);
    if ((next & 0xC0) != 0x80) {
      return {};
    }
    code = (code << 6) | (next & 0x3F);
  }
  if (code < least || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    return {};
  }
  return {code, length};
}

/// Characters that change how a line reads without being seen: line and paragraph
/// separators, bidirectional controls, the byte order mark.
bool reads_unseen(char32_t code) {
  return code == 0x061C || code == 0x200E || code == 0x200F || code == 0x2028 || code == 0x2029 ||
         (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069) || code == 0xFEFF;
}

/// What the GitHub runner trims before it looks for "::" at the start of a line (.NET's
/// char.IsWhiteSpace), of the characters printable lets through.
bool runner_blank(char32_t code) {
  return code == ' ' || code == '\t' || code == 0x00A0 || code == 0x1680 || code == 0x180E ||
         (code >= 0x2000 && code <= 0x200A) || code == 0x202F || code == 0x205F || code == 0x3000;
}

void append_byte(std::string& out, unsigned char byte) {
  out += "\\x";
  out += k_hex[byte >> 4];
  out += k_hex[byte & 0xF];
}

void append_code(std::string& out, char32_t code) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) {
    out += k_hex[(code >> shift) & 0xF];
  }
}

std::string neutralise(std::string_view text, bool keep_lines) {
  std::string out;
  out.reserve(text.size());
  bool line_start = true;  // nothing but blanks since the start of the line
  for (std::size_t i = 0; i < text.size();) {
    const Decoded c = decode(text, i);
    if (c.length == 0) {
      append_byte(out, static_cast<unsigned char>(text[i]));
      line_start = false;
      ++i;
      continue;
    }
    const char32_t code = c.code;
    if (keep_lines && code == '\n') {
      out += '\n';
      line_start = true;
    } else if (keep_lines && code == '\t') {
      out += '\t';
    } else if (code < 0x20 || code == 0x7F) {
      append_byte(out, static_cast<unsigned char>(code));
      line_start = false;
    } else if ((code >= 0x80 && code <= 0x9F) || reads_unseen(code)) {
      append_code(out, code);
      line_start = false;
    } else if (code == ':' && line_start && i + 1 < text.size() && text[i + 1] == ':') {
      append_byte(out, ':');
      line_start = false;
    } else if (code == '[' && out.ends_with("##")) {
      append_byte(out, '[');
      line_start = false;
    } else {
      out.append(text.substr(i, c.length));
      line_start = line_start && runner_blank(code);
    }
    i += c.length;
  }
  return out;
}

std::size_t longest_backticks(std::string_view text) {
  std::size_t longest = 0;
  std::size_t run = 0;
  for (const char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

}  // namespace

std::size_t invalid_utf8_at(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const Decoded c = decode(text, i);
    if (c.length == 0) {
      return i;
    }
    i += c.length;
  }
  return std::string_view::npos;
}

std::string utf8_problem(std::string_view what, std::string_view text) {
  const std::size_t at = invalid_utf8_at(text);
  if (at == std::string_view::npos) {
    return {};
  }
  std::string byte;
  append_byte(byte, static_cast<unsigned char>(text[at]));
  return std::string(what) + " is not valid UTF-8 (byte 0" + byte.substr(1) + " at offset " +
         std::to_string(at) + ")";
}

std::string printable(std::string_view text) {
  return neutralise(text, true);
}

std::string one_line(std::string_view text) {
  return neutralise(text, false);
}

std::string ascii_excerpt(std::string_view text, std::size_t max) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xf];
    } else {
      out += text[i];
    }
  }
  if (text.size() > max) {
    out += "... (";
    out += std::to_string(text.size());
    out += " bytes)";
  }
  return out;
}

std::string markdown_code(std::string_view text, bool in_table) {
  std::string body = one_line(text);
  if (body.empty()) {
    return body;
  }
  // A fence longer than any run of backticks in the text; a space inside each end when the
  // text starts or ends with a backtick or a space (GFM strips one space from each end).
  const std::string fence(longest_backticks(body) + 1, '`');
  const bool all_spaces = body.find_first_not_of(' ') == std::string::npos;
  const bool pad = !all_spaces && (body.front() == '`' || body.back() == '`' ||
                                   body.front() == ' ' || body.back() == ' ');
  if (pad) {
    body = " " + body + " ";
  }
  if (in_table) {
    std::string escaped;
    for (char c : body) {
      if (c == '|') {
        escaped += '\\';
      }
      escaped += c;
    }
    body = std::move(escaped);
  }
  return fence + body + fence;
}

std::string markdown_fence(std::string_view text) {
  return std::string(std::max<std::size_t>(3, longest_backticks(text) + 1), '`');
}

}  // namespace promote::util
