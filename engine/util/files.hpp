#pragma once
// Small file-system helpers shared by the modules.

#include <sys/types.h>

#include <filesystem>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::util {

/// The largest file the readers below take unless told otherwise.
inline constexpr std::uintmax_t k_max_file_bytes = 64u << 20;

/// Reads a whole file; fails (input) when it cannot be opened or is larger than `max_bytes`.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::uintmax_t max_bytes = k_max_file_bytes);

/// A file's bytes, read-only, as map_file gives them.
class FileBytes {
 public:
  FileBytes() = default;
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  std::string_view view() const { return {m_mapped != nullptr ? m_mapped : m_read.data(), m_size}; }

 private:
  friend Result<FileBytes> map_file(const std::filesystem::path&, std::uintmax_t, std::size_t);
  const char* m_mapped = nullptr;  ///< the mapping, or null when the bytes were read
  std::size_t m_size = 0;
  std::size_t m_mapped_size = 0;  ///< of the mapping: the file's and the padding's pages
  std::string m_read;             ///< the bytes read, then the padding
};

/// Reads a whole file as read_file does (the same limit and messages), mapped from the page
/// cache when it can be: no zero-filled buffer and no copy, which for a report of tens of MB
/// costs more than parsing it. `padding` zero bytes can be read after the view (what parsers
/// that read ahead need, such as simdjson). A file truncated by another process while it is
/// mapped ends this one (SIGBUS), as it would git's packs: for the reports of a finished test
/// run.
Result<FileBytes> map_file(const std::filesystem::path& path,
                           std::uintmax_t max_bytes = k_max_file_bytes, std::size_t padding = 0);

/// "." and the file name of `path`: how the names of the hidden files promote keeps beside
/// it start (temporary files, journals, clones). It appends rather than writing
/// "." + name.string(): GCC 12 at -O2 and above warns falsely about that (-Wrestrict from
/// inside <string>, GCC bug 105651), and CI builds with -Werror.
std::string hidden_name(const std::filesystem::path& path);

/// Whether `path` itself (a symlink there is not followed) exists, is not a symlink and is
/// owned by this process's effective user: what promote may clean up of what a run of its
/// own left in a directory others can write to.
bool is_own(const std::filesystem::path& path);

/// Writes `data` to `path` atomically: a temporary file in the same directory
/// (".NAME.promote-PID-RANDOM.tmp", PID this process's), flushed, then renamed over the
/// target (file mode kept when the target exists).
Result<void> write_file_atomic(const std::filesystem::path& path, const std::string& data);

/// A file descriptor, closed when destroyed.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept;
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  void reset();

 private:
  int m_fd = -1;
};

/// The bytes of the regular file open as `fd`, at most `max_bytes`; fails (input) naming
/// `shown` when it is not a regular file, is larger or cannot be read.
Result<std::string> read_open_file(const UniqueFd& fd, const std::string& shown,
                                   std::uintmax_t max_bytes = k_max_file_bytes);

/// A directory held open, and the files below it reached from it one path component at a
/// time (openat with O_NOFOLLOW): never through a symlink, never by `..`, so never outside
/// it, whatever is swapped on disk meanwhile. Paths below it are relative, '/'-separated.
class RootDir {
 public:
  /// Opens the directory `root` (symlinks on the way to it are followed: it is trusted);
  /// fails (input) when it is not a directory that can be opened.
  static Result<RootDir> open(const std::filesystem::path& root);

  const std::filesystem::path& path() const { return m_path; }

  /// Opens `relative` with `flags` (O_CLOEXEC and O_NOFOLLOW added; `mode` for O_CREAT).
  /// Fails (input) naming the path when it is empty or absolute, has an empty, `.` or `..`
  /// component, passes through or ends in a symlink, or cannot be opened.
  Result<UniqueFd> open_file(const std::string& relative, int flags, mode_t mode = 0) const;

  /// The bytes of the regular file `relative` (at most `max_bytes`), nullopt when it or a
  /// directory on its way does not exist; fails as open_file otherwise.
  Result<std::optional<std::string>> read(const std::string& relative,
                                          std::uintmax_t max_bytes = k_max_file_bytes) const;

  /// write_file_atomic for `relative`: the temporary file and the rename are made in its
  /// directory as open_file reaches it, and a symlink where the file is is refused.
  Result<void> write(const std::string& relative, const std::string& data) const;

  /// Removes the file `relative` (a symlink there is removed, never followed); true when
  /// it was there.
  Result<bool> remove(const std::string& relative) const;

  /// The temporary files write_file_atomic left beside `relative` when process `pid`
  /// wrote it (".NAME.promote-PID-*.tmp"), removed; returns how many.
  Result<int> remove_temporaries(const std::string& relative, long pid) const;

 private:
  RootDir(std::filesystem::path path, UniqueFd fd) : m_path(std::move(path)), m_fd(std::move(fd)) {}
  /// The directory holding `relative` and its last component; `missing` is set (and the
  /// descriptor invalid) when a directory on the way does not exist.
  Result<std::pair<UniqueFd, std::string>> parent_of(const std::string& relative,
                                                      bool* missing = nullptr) const;

  std::filesystem::path m_path;
  UniqueFd m_fd;
};

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
  friend class FileWriter;
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
  bool operator()(const std::filesystem::path& path) const { return inside(path).has_value(); }
  /// `path` (relative to the root) once the symlinks on its way are followed, relative to the
  /// root in git's form; nullopt when it leads out (or cannot be resolved).
  std::optional<std::string> inside(const std::filesystem::path& path) const;

 private:
  std::filesystem::path m_base;  ///< the root made absolute and canonical; empty when it fails
};

}  // namespace promote::util
