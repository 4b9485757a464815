#pragma once
// SHA-256 digests and HMACs, as lower-case hex, and comparing secrets.

#include <filesystem>
#include <future>
#include <string>
#include <string_view>

#include "engine/error.hpp"

namespace promote::util {

/// Hex SHA-256 of a byte string.
std::string sha256_hex(std::string_view data);

/// Hex HMAC-SHA256 of `data` with `key` (what a webhook's X-Hub-Signature-256 carries).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// `bytes` bytes from OpenSSL's random generator, as lower-case hex; "" when it fails (the
/// caller refuses what needed them).
std::string random_hex(std::size_t bytes);

/// Whether two secrets (a signature, a token) are equal, in a time that depends on their length
/// only, never on where they first differ.
bool same_secret(std::string_view a, std::string_view b);

/// The hex SHA-256 of `data`, computed on a thread of its own from `beside_from` bytes on, while
/// the caller goes on (a large report it parses meanwhile: each is a pass over its bytes), and
/// at get() below that or when no thread can be had. `data` must outlive it.
class Sha256Beside {
 public:
  explicit Sha256Beside(std::string_view data, std::size_t beside_from = std::size_t{4} << 20);
  /// The digest: waits for the thread, if one computes it.
  std::string get();

 private:
  std::string_view m_data;
  std::future<std::string> m_result;
};

/// Hex SHA-256 of a file's bytes; fails (input) when the file cannot be read.
Result<std::string> sha256_file(const std::filesystem::path& path);

}  // namespace promote::util
