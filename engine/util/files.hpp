#pragma once
// Small file-system helpers shared by the modules.

#include <filesystem>
#include <string>

#include "engine/error.hpp"

namespace promote::util {

/// Reads a whole file; fails (input) when it cannot be opened or is larger than `max_bytes`.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::uintmax_t max_bytes = 64u << 20);

/// Writes `data` to `path` atomically: a temporary file in the same directory,
/// flushed, then renamed over the target (file mode kept when the target exists).
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& data);

/// Whether `path` (relative or absolute) lies inside `root` once both are made
/// absolute and lexically normal, following the symlinks that exist on disk.
bool is_within(const std::filesystem::path& root, const std::filesystem::path& path);

/// `is_within` for many paths under one root, which is resolved once.
class Within {
 public:
  explicit Within(const std::filesystem::path& root);
  bool operator()(const std::filesystem::path& path) const;

 private:
  std::filesystem::path m_base;  ///< the root made absolute and canonical; empty when it fails
};

}  // namespace promote::util
