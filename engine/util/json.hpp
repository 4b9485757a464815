#pragma once
// JSON text that never throws on what gates and programs hand us: strings that are not
// valid UTF-8 (a plugin's stderr, a server's body) are written with U+FFFD in place of
// each bad byte.

#include <nlohmann/json.hpp>

#include <string>

namespace promote::util {

/// `value` as JSON text (`indent` as nlohmann's dump), invalid UTF-8 replaced.
std::string dump_json(const nlohmann::json& value, int indent = -1);

/// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string valid_utf8(const std::string& text);

/// `value` with every string in it (keys too) made valid UTF-8.
nlohmann::json valid_utf8(const nlohmann::json& value);

}  // namespace promote::util
