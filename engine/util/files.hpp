#pragma once
// Small file-system helpers shared by the modules.

#include <sys/types.h>

#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::util {

/// Reads a whole file; fails (input) when it cannot be opened or is larger than `max_bytes`.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::uintmax_t max_bytes = 64u << 20);

/// A file's bytes, read-only, as map_file gives them.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  std::string_view view() const {
    return m_mapped != nullptr ? std::string_view(m_mapped, m_size) : std::string_view(m_read);
  }

 private:
  friend Result<FileBytes> map_file(const std::filesystem::path&, std::uintmax_t);
  const char* m_mapped = nullptr;  ///< the mapping, or null when the bytes were read
  std::size_t m_size = 0;
  std::string m_read;
};

/// Reads a whole file as read_file does (the same limit and messages), mapped from the page
/// cache when it can be: no zero-filled buffer and no copy, which for a report of tens of MB
/// costs more than parsing it. A file truncated by another process while it is mapped ends
/// this one (SIGBUS), as it would git's packs: for the reports of a finished test run.
Result<FileBytes> map_file(const std::filesystem::path& path,
                           std::uintmax_t max_bytes = 64u << 20);

/// "." and the file name of `path`: how the names of the hidden files promote keeps beside
/// it start (temporary files, journals, clones). It appends rather than writing
/// "." + name.string(): GCC 12 at -O2 and above warns falsely about that (-Wrestrict from
/// inside <string>, GCC bug 105651), and CI builds with -Werror.
std::string hidden_name(const std::filesystem::path& path);

/// Writes `data` to `path` atomically: a temporary file in the same directory,
/// flushed, then renamed over the target (file mode kept when the target exists).
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& data);

class PendingFlush;

/// While one is alive, write_file_atomic calls on this thread leave out their per-file
/// flush (the temporary file is renamed at once) and flush() makes every file written
/// meanwhile durable together: an fdatasync of each file and an fsync of each directory
/// written to, from up to 16 threads. For writing many files behind a journal that can
/// finish or undo them after a crash. Destroying it unflushed only ends the deferral.
/// (A syncfs of the file system, tried before, waits for everything it holds unwritten,
/// whoever wrote it: 1.4 s just after a clone of a 20,000-file repository, 10 to 170 ms on a
/// machine others write to, where 500 files and their directories take 30 to 70 ms.)
///
/// The files replaced are let go together too, from several threads: the last close of a
/// replaced file frees its blocks, and a file system that discards freed blocks at once (ext4
/// without a journal, mounted with `discard`) waits for the disk each time: 0.6 ms a file
/// here, 300 ms for 500 files one after another, 45 ms in 16 threads. (A regular file is
/// replaced by exchanging the names, renameat2's RENAME_EXCHANGE, where the file system can:
/// ext4 writes a file's data out at a rename over another, one file at a time.)
class DeferredFlush {
 public:
  DeferredFlush();
  ~DeferredFlush();
  DeferredFlush(const DeferredFlush&) = delete;
  DeferredFlush& operator=(const DeferredFlush&) = delete;

  /// Makes the files written since construction (or the last flush) durable; fails (input)
  /// naming a directory, else a file, that cannot be flushed.
  Result<void> flush();

  /// flush() on another thread, for work that may go on meanwhile as long as nothing takes the
  /// files for durable before the returned flush's wait() says so. Files written after it are
  /// the next flush's.
  PendingFlush flush_in_background();

 private:
  friend Result<void> write_file_atomic(const std::filesystem::path&, const std::string&);
  /// Keeps the descriptor of a replaced file until let_go.
  void hold(int replaced);
  /// Closes the replaced files held so far.
  void let_go();

  std::vector<std::filesystem::path> m_files;  ///< written, in order
  std::set<std::string> m_directories;         ///< written to
  std::vector<int> m_replaced;  ///< descriptors of the files renames replaced
  DeferredFlush* m_outer = nullptr;
};

/// A flush DeferredFlush::flush_in_background started; destroying it waits for it.
class PendingFlush {
 public:
  /// Waits for the flush and returns what flush() would have (success when none was started,
  /// and once its result was taken).
  Result<void> wait();

 private:
  friend class DeferredFlush;
  std::future<Result<void>> m_result;
};

/// Whether `path` (relative or absolute) lies inside `root` once both are made
/// absolute and lexically normal, following the symlinks that exist on disk.
bool is_within(const std::filesystem::path& root, const std::filesystem::path& path);

/// Whether `relative`, a path that stays under `root` as written (no leading `..`, not
/// absolute), ends up outside it once the symlinks on disk are followed: a file in the
/// repository that points at one outside. False for absolute paths and `..` as written.
bool leaves_through_symlink(const std::filesystem::path& root, const std::string& relative);

/// `std::filesystem::weakly_canonical(base / relative)` for a `base` that is already absolute
/// and canonical, at the cost of one lstat per component of `relative` (weakly_canonical
/// resolves every component from `/`). It falls back to weakly_canonical when `relative` is
/// absolute or holds `.`, `..` or a symlink, or when a component cannot be looked at.
std::filesystem::path canonical_below(const std::filesystem::path& base,
                                      const std::filesystem::path& relative, std::error_code& ec);

/// `is_within` for many paths under one root, which is resolved once.
class Within {
 public:
  explicit Within(const std::filesystem::path& root);
  bool operator()(const std::filesystem::path& path) const;

 private:
  std::filesystem::path m_base;  ///< the root made absolute and canonical; empty when it fails
};

}  // namespace promote::util
