#pragma once
// SHA-256 digests, as lower-case hex.

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/error.hpp"

namespace promote::util {

/// Hex SHA-256 of a byte string.
std::string sha256_hex(std::string_view data);

/// Hex SHA-256 of a file's bytes; fails (input) when the file cannot be read.
Result<std::string> sha256_file(const std::filesystem::path& path);

}  // namespace promote::util
