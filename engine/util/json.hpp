#pragma once
// JSON text that never throws on what gates and programs hand us: strings that are not
// valid UTF-8 (a plugin's stderr, a server's body) are written with U+FFFD in place of
// each bad byte.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace promote::util {

/// `value` as JSON text (`indent` as nlohmann's dump), invalid UTF-8 replaced.
std::string dump_json(const nlohmann::json& value, int indent = -1);

/// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string valid_utf8(const std::string& text);

/// `value` with every string in it (keys too) made valid UTF-8.
nlohmann::json valid_utf8(const nlohmann::json& value);

/// How deep the JSON documents promote reads (reports, answers of servers) may nest: deeper
/// text would cost far more memory than its size before the parser could reject it.
constexpr std::size_t k_max_json_depth = 512;

/// The byte offset of the first `[` or `{` in `text` nested deeper than `max_depth` (strings
/// skipped), or npos: one pass over the text, for before parsing it.
std::size_t json_too_deep(std::string_view text, std::size_t max_depth = k_max_json_depth);

}  // namespace promote::util
