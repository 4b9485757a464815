#include "engine/util/xml.hpp"

#include <cstdint>

namespace promote::util {

namespace {

constexpr std::size_t k_longest_reference = 64;  // "&#" and leading zeros included

bool is_name_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
         u == '_' || u == ':' || u == '-' || u == '.' || u >= 0x80;
}

bool is_xml_char(std::uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

// The character a reference's body ("#65", "#x41") names, or nullopt-like 0 when it is
// malformed or out of range (0 itself is never an XML character).
std::uint32_t referenced_character(std::string_view body) {
  const bool hex = body.size() > 1 && body[1] == 'x';
  const std::string_view digits = body.substr(hex ? 2 : 1);
  if (digits.empty()) {
    return 0;
  }
  std::uint32_t value = 0;
  for (const char c : digits) {
    std::uint32_t digit = 0;
    if (c >= '0' && c <= '9') {
      digit = static_cast<std::uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      digit = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      digit = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return 0;
    }
    value = value * (hex ? 16 : 10) + digit;
    if (value > 0x10FFFF) {
      return 0;
    }
  }
  return value;
}

}  // namespace

std::size_t xml_reference_length(std::string_view text) {
  const std::size_t semicolon = text.substr(0, k_longest_reference).find(';');
  if (text.empty() || text[0] != '&' || semicolon == std::string_view::npos) {
    return 0;
  }
  const std::string_view body = text.substr(1, semicolon - 1);
  if (body == "lt" || body == "gt" || body == "amp" || body == "apos" || body == "quot") {
    return semicolon + 1;
  }
  if (body.starts_with('#') && is_xml_char(referenced_character(body))) {
    return semicolon + 1;
  }
  return 0;
}

std::size_t bad_xml_reference(std::string_view text) {
  for (std::size_t at = text.find('&'); at != std::string_view::npos;
       at = text.find('&', at + 1)) {
    if (xml_reference_length(text.substr(at)) == 0) {
      return at;
    }
  }
  return std::string_view::npos;
}

std::size_t bad_xml_reference_in_document(std::string_view xml) {
  std::size_t at = 0;
  while ((at = xml.find_first_of("<&", at)) != std::string_view::npos) {
    const std::string_view rest = xml.substr(at);
    if (rest[0] == '&') {
      if (xml_reference_length(rest) == 0) {
        return at;
      }
      ++at;
      continue;
    }
    std::string_view close;
    if (rest.starts_with("<!--")) {
      close = "-->";
    } else if (rest.starts_with("<![CDATA[")) {
      close = "]]>";
    } else if (rest.starts_with("<?")) {
      close = "?>";
    }
    if (close.empty()) {
      ++at;
      continue;
    }
    const std::size_t end = xml.find(close, at + 2);
    if (end == std::string_view::npos) {
      return std::string_view::npos;
    }
    at = end + close.size();
  }
  return std::string_view::npos;
}

std::string describe_bad_xml_reference(std::string_view text) {
  std::size_t name_end = 1;
  while (name_end < text.size() && name_end <= 40 && is_name_byte(text[name_end])) {
    ++name_end;
  }
  const bool named = name_end > 1 && name_end <= 40 && name_end < text.size() &&
                     text[name_end] == ';';
  const bool numeric = name_end == 1 && text.size() > 1 && text[1] == '#';
  if (numeric) {
    std::size_t end = 2;
    while (end < text.size() && end <= 40 && is_name_byte(text[end])) {
      ++end;
    }
    if (end < text.size() && end <= 40 && text[end] == ';') {
      return "invalid character reference '" + std::string(text.substr(0, end + 1)) +
             "' (not a character XML allows)";
    }
  }
  if (named) {
    return "undefined entity '" + std::string(text.substr(0, name_end + 1)) +
           "' (without a DTD, XML defines only &lt; &gt; &amp; &apos; &quot; and character "
           "references)";
  }
  return "'&' that starts no entity or character reference (a literal '&' is written &amp;)";
}

}  // namespace promote::util
