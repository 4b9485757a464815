#include "engine/util/json.hpp"

namespace promote::util {

std::string dump_json(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string valid_utf8(const std::string& text) {
  // The JSON writer knows how to replace; the parser gets the text back.
  return nlohmann::json::parse(dump_json(nlohmann::json(text))).get<std::string>();
}

nlohmann::json valid_utf8(const nlohmann::json& value) {
  return nlohmann::json::parse(dump_json(value));
}

std::size_t json_too_deep(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return i;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace promote::util
