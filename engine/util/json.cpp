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

}  // namespace promote::util
