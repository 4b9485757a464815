#include "engine/util/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>  // renameat2
#include <cstring>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

namespace promote::util {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path, std::uintmax_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    return make_error(ErrorKind::input, path.string() + ": " + ec.message());
  }
  if (size > max_bytes) {
    return make_error(ErrorKind::input, path.string() + ": file is too large (" +
                                            std::to_string(size) + " bytes, limit " +
                                            std::to_string(max_bytes) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::input, path.string() + ": cannot open file");
  }
  std::string data(static_cast<std::size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size) {
    return make_error(ErrorKind::input, path.string() + ": short read");
  }
  return data;
}

FileBytes::FileBytes(FileBytes&& other) noexcept
    : m_mapped(std::exchange(other.m_mapped, nullptr)),
      m_size(std::exchange(other.m_size, 0)),
      m_mapped_size(std::exchange(other.m_mapped_size, 0)),
      m_read(std::move(other.m_read)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    FileBytes gone(std::move(*this));
    m_mapped = std::exchange(other.m_mapped, nullptr);
    m_size = std::exchange(other.m_size, 0);
    m_mapped_size = std::exchange(other.m_mapped_size, 0);
    m_read = std::move(other.m_read);
  }
  return *this;
}

FileBytes::~FileBytes() {
  if (m_mapped != nullptr) {
    ::munmap(const_cast<char*>(m_mapped), m_mapped_size);
  }
}

Result<FileBytes> map_file(const fs::path& path, std::uintmax_t max_bytes, std::size_t padding) {
  const auto read = [&]() -> Result<FileBytes> {
    auto text = read_file(path, max_bytes);
    if (!text) {
      return text.error();
    }
    FileBytes bytes;
    bytes.m_size = text->size();
    bytes.m_read = std::move(*text);
    bytes.m_read.resize(bytes.m_size + padding, '\0');
    return bytes;
  };
  // O_NONBLOCK: opening a FIFO would wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size <= 0 ||
      static_cast<std::uintmax_t>(info.st_size) > max_bytes) {
    if (fd >= 0) {
      ::close(fd);
    }
    return read();  // its messages, and what cannot be mapped: empty files, pipes
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  // The file's pages over zero pages that hold the padding too: a mapping of the file alone
  // ends with its last page (reading past it is SIGBUS).
  void* area = ::mmap(nullptr, size + padding, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* mapped = area == MAP_FAILED
                     ? MAP_FAILED
                     : ::mmap(area, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE | MAP_FIXED, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) {
    if (area != MAP_FAILED) {
      ::munmap(area, size + padding);
    }
    return read();
  }
  FileBytes bytes;
  bytes.m_mapped = static_cast<const char*>(mapped);
  bytes.m_size = size;
  bytes.m_mapped_size = size + padding;
  return bytes;
}

namespace {

thread_local DeferredFlush* t_deferred = nullptr;

}  // namespace

DeferredFlush::DeferredFlush() : m_outer(t_deferred) {
  t_deferred = this;
}

DeferredFlush::~DeferredFlush() {
  let_go();
  t_deferred = m_outer;
}

namespace {

/// Calls `work` with each index below `count`, from up to 16 threads when there are many.
template <class Work>
void in_threads(std::size_t count, const Work& work) {
  constexpr std::size_t k_per_thread = 32;
  constexpr std::size_t k_max_threads = 16;
  const std::size_t threads_wanted =
      std::max<std::size_t>(1, std::min(k_max_threads, (count + k_per_thread - 1) / k_per_thread));
  const auto from = [&](std::size_t first) {
    for (std::size_t i = first; i < count; i += threads_wanted) {
      work(i);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t first = 1; first < threads_wanted; ++first) {
    try {
      threads.emplace_back(from, first);
    } catch (const std::system_error&) {
      from(first);  // no thread to spare: this one does it
    }
  }
  from(0);
  for (auto& thread : threads) {
    thread.join();
  }
}

/// Closes `files` (see DeferredFlush).
void close_all(const std::vector<int>& files) {
  in_threads(files.size(), [&](std::size_t i) { ::close(files[i]); });
}

/// An fsync of each of `directories` and an fdatasync of each of `files`; the first that fails,
/// directories first, is named.
Result<void> sync_all(const std::set<std::string>& directory_names,
                      const std::vector<fs::path>& files) {
  const std::vector<fs::path> directories(directory_names.begin(), directory_names.end());
  std::vector<int> errors(directories.size() + files.size(), 0);
  in_threads(errors.size(), [&](std::size_t i) {
    const bool directory = i < directories.size();
    const fs::path& path = directory ? directories[i] : files[i - directories.size()];
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
    if (fd < 0 || (directory ? ::fsync(fd) : ::fdatasync(fd)) != 0) {
      errors[i] = errno;
    }
    if (fd >= 0) {
      ::close(fd);
    }
  });
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (errors[i] != 0) {
      const fs::path& path =
          i < directories.size() ? directories[i] : files[i - directories.size()];
      return make_error(ErrorKind::input,
                        path.string() + ": flush failed: " + std::strerror(errors[i]));
    }
  }
  return {};
}

}  // namespace

void DeferredFlush::let_go() {
  close_all(m_replaced);
  m_replaced.clear();
}

Result<void> DeferredFlush::flush() {
  if (auto synced = sync_all(m_directories, m_files); !synced) {
    return synced;
  }
  m_directories.clear();
  m_files.clear();
  let_go();
  return {};
}

PendingFlush DeferredFlush::flush_in_background() {
  std::set<std::string> directories = std::exchange(m_directories, {});
  std::vector<fs::path> files = std::exchange(m_files, {});
  std::vector<int> replaced = std::exchange(m_replaced, {});
  PendingFlush pending;
  try {
    pending.m_result = std::async(std::launch::async, [directories, files, replaced] {
      Result<void> synced = sync_all(directories, files);
      close_all(replaced);
      return synced;
    });
  } catch (const std::system_error&) {
    // No thread to spare: the flush is made here.
    std::promise<Result<void>> done;
    done.set_value(sync_all(directories, files));
    close_all(replaced);
    pending.m_result = done.get_future();
  }
  return pending;
}

Result<void> PendingFlush::wait() {
  if (!m_result.valid()) {
    return {};
  }
  return m_result.get();
}

std::string hidden_name(const fs::path& path) {
  std::string name = ".";
  name += path.filename().string();
  return name;
}

UniqueFd::UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

void UniqueFd::reset() {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
}

namespace {

/// Under a deferral a regular file is replaced by swapping the two names (RENAME_EXCHANGE) and
/// removing the temporary name, which then holds the file replaced, kept open for the deferral
/// to let go. ext4 writes a new file's data out at a rename over another (auto_da_alloc), one
/// file at a time, but not at an exchange: the deferral's flush writes them all together.
/// Returns the descriptor of the file replaced, or -1 when nothing was exchanged (no regular
/// file there, a file system that cannot exchange): the caller renames.
Result<int> exchange(int dir, const std::string& temp, const std::string& name,
                     const fs::path& shown) {
  struct stat there {};
  if (::fstatat(dir, name.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(there.st_mode) ||
      ::renameat2(dir, temp.c_str(), dir, name.c_str(), RENAME_EXCHANGE) != 0) {
    return -1;
  }
  const int replaced = ::openat(dir, temp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat held {};
  if (replaced < 0 || ::fstat(replaced, &held) != 0 || !S_ISREG(held.st_mode)) {
    // Something else took the file's place meanwhile: back as it was, and the rename decides.
    if (replaced >= 0) {
      ::close(replaced);
    }
    ::renameat2(dir, temp.c_str(), dir, name.c_str(), RENAME_EXCHANGE);
    return -1;
  }
  if (::unlinkat(dir, temp.c_str(), 0) != 0) {
    Error error =
        make_error(ErrorKind::input,
                   shown.string() + ": cannot remove the replaced file: " + std::strerror(errno));
    ::close(replaced);
    return error;
  }
  return replaced;
}

/// A number for a temporary file's name, from a generator seeded once per thread.
std::uint64_t temporary_number() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator();
}

}  // namespace

void DeferredFlush::hold(int replaced) {
  // A descriptor is held for no more than a few hundred files at a time.
  constexpr std::size_t k_max_held = 256;
  m_replaced.push_back(replaced);
  if (m_replaced.size() >= k_max_held) {
    let_go();
  }
}

// Writes a file atomically inside a directory held open: a temporary file beside it, then a
// rename, both relative to that directory.
class FileWriter {
 public:
  // `name` is the file's name in `dir`; `shown` its path, for messages and the deferred
  // flush. With `follow`, a symlink where the file is gives its target's mode (and is
  // replaced by the file); without, it is refused.
  static Result<void> write(int dir, const std::string& name, const fs::path& shown,
                            const std::string& data, bool follow) {
    const auto fail = [&](const std::string& what) -> Error {
      return make_error(ErrorKind::input,
                        shown.string() + ": " + what + ": " + std::strerror(errno));
    };
    mode_t mode = 0644;
    struct stat info {};
    if (::fstatat(dir, name.c_str(), &info, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(info.st_mode)) {
        return make_error(ErrorKind::input,
                          shown.string() + ": is a symbolic link, which promote does not follow");
      }
      mode = info.st_mode & 07777;
    }
    const std::string temp = hidden_name(name) + ".promote-" + std::to_string(::getpid()) +
                             "-" + std::to_string(temporary_number()) + ".tmp";
    const int fd =
        ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
      return fail("cannot create temporary file");
    }
    std::size_t written = 0;
    while (written < data.size()) {
      const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        Error error = fail("write failed");
        ::close(fd);
        ::unlinkat(dir, temp.c_str(), 0);
        return error;
      }
      written += static_cast<std::size_t>(n);
    }
    DeferredFlush* const deferred = t_deferred;
    if (deferred != nullptr) {
      deferred->m_files.push_back(shown);
      deferred->m_directories.insert(shown.has_parent_path() ? shown.parent_path().string() : ".");
    }
    if ((deferred == nullptr && ::fsync(fd) != 0) || ::close(fd) != 0) {
      Error error = fail("flush failed");
      ::unlinkat(dir, temp.c_str(), 0);
      return error;
    }
    if (deferred != nullptr) {
      auto replaced = exchange(dir, temp, name, shown);
      if (!replaced) {
        return replaced.error();
      }
      if (*replaced >= 0) {
        deferred->hold(*replaced);
        return {};
      }
    }
    if (::renameat(dir, temp.c_str(), dir, name.c_str()) != 0) {
      Error error = fail("rename failed");
      ::unlinkat(dir, temp.c_str(), 0);
      return error;
    }
    return {};
  }
};

bool is_own(const fs::path& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && !S_ISLNK(info.st_mode) &&
         info.st_uid == ::geteuid();
}

Result<void> write_file_atomic(const fs::path& path, const std::string& data) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return make_error(ErrorKind::input, path.string() + ": cannot create temporary file: " +
                                            std::strerror(errno));
  }
  return FileWriter::write(dir.get(), path.filename().string(), path, data, true);
}

Result<std::string> read_open_file(const UniqueFd& fd, const std::string& shown,
                                   std::uintmax_t max_bytes) {
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return make_error(ErrorKind::input, shown + ": not a regular file");
  }
  if (static_cast<std::uintmax_t>(info.st_size) > max_bytes) {
    return make_error(ErrorKind::input, shown + ": file is too large (" +
                                            std::to_string(info.st_size) + " bytes, limit " +
                                            std::to_string(max_bytes) + ")");
  }
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return make_error(ErrorKind::input, shown + ": cannot read it: " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      return make_error(ErrorKind::input, shown + ": file is too large");
    }
  }
  return data;
}

// --- below a root --------------------------------------------------------------------------

namespace {

Error not_below(const fs::path& root, const std::string& relative, const std::string& why) {
  return make_error(ErrorKind::input, relative + " (in " + root.string() + "): " + why);
}

// Why opening `name` in `dir` failed with `error`: a symlink is named as such.
Error open_failure(int dir, const std::string& name, const fs::path& root,
                   const std::string& relative, int error) {
  struct stat info {};
  if ((error == ELOOP || error == ENOTDIR) &&
      ::fstatat(dir, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(info.st_mode)) {
    return not_below(root, relative, name + " is a symbolic link, which promote does not follow");
  }
  return not_below(root, relative, std::string("cannot open ") + name + ": " + std::strerror(error));
}

}  // namespace

Result<RootDir> RootDir::open(const fs::path& root) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return make_error(ErrorKind::input,
                      root.string() + ": cannot open the directory: " + std::strerror(errno));
  }
  return RootDir(root, std::move(fd));
}

Result<std::pair<UniqueFd, std::string>> RootDir::parent_of(const std::string& relative,
                                                             bool* missing) const {
  std::vector<std::string> parts;
  if (!relative.empty() && relative.front() != '/') {
    std::size_t start = 0;
    while (true) {
      const std::size_t slash = relative.find('/', start);
      parts.push_back(relative.substr(start, slash - start));
      if (slash == std::string::npos) {
        break;
      }
      start = slash + 1;
    }
  }
  if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](const std::string& part) {
        return part.empty() || part == "." || part == "..";
      })) {
    return not_below(m_path, relative,
                     "not a plain relative path (it is absolute or empty, or has an empty, '.' "
                     "or '..' component)");
  }
  UniqueFd dir(::fcntl(m_fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) {
    return not_below(m_path, relative, std::string("cannot open it: ") + std::strerror(errno));
  }
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    UniqueFd next(
        ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      const int error = errno;
      if (error == ENOENT && missing != nullptr) {
        *missing = true;
        return std::pair{UniqueFd(), parts.back()};
      }
      return open_failure(dir.get(), parts[i], m_path, relative, error);
    }
    dir = std::move(next);
  }
  return std::pair{std::move(dir), parts.back()};
}

Result<UniqueFd> RootDir::open_file(const std::string& relative, int flags, mode_t mode) const {
  auto parent = parent_of(relative);
  if (!parent) {
    return parent.error();
  }
  const auto& [dir, name] = *parent;
  UniqueFd fd(::openat(dir.get(), name.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) {
    return open_failure(dir.get(), name, m_path, relative, errno);
  }
  return fd;
}

Result<std::optional<std::string>> RootDir::read(const std::string& relative,
                                                 std::uintmax_t max_bytes) const {
  bool missing = false;
  auto parent = parent_of(relative, &missing);
  if (!parent) {
    return parent.error();
  }
  if (missing) {
    return std::optional<std::string>();
  }
  const auto& [dir, name] = *parent;
  const UniqueFd fd(
      ::openat(dir.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return open_failure(dir.get(), name, m_path, relative, errno);
  }
  auto data = read_open_file(fd, (m_path / relative).string(), max_bytes);
  if (!data) {
    return data.error();
  }
  return std::optional<std::string>(std::move(*data));
}

Result<void> RootDir::write(const std::string& relative, const std::string& data) const {
  auto parent = parent_of(relative);
  if (!parent) {
    return parent.error();
  }
  return FileWriter::write(parent->first.get(), parent->second, m_path / relative, data, false);
}

Result<bool> RootDir::remove(const std::string& relative) const {
  bool missing = false;
  auto parent = parent_of(relative, &missing);
  if (!parent) {
    return parent.error();
  }
  if (missing) {
    return false;
  }
  const auto& [dir, name] = *parent;
  if (::unlinkat(dir.get(), name.c_str(), 0) != 0) {
    if (errno == ENOENT) {
      return false;
    }
    return not_below(m_path, relative, std::string("cannot remove it: ") + std::strerror(errno));
  }
  return true;
}

Result<int> RootDir::remove_temporaries(const std::string& relative, long pid) const {
  bool missing = false;
  auto parent = parent_of(relative, &missing);
  if (!parent) {
    return parent.error();
  }
  if (missing) {
    return 0;
  }
  const auto& [dir, name] = *parent;
  const std::string prefix = hidden_name(name) + ".promote-" + std::to_string(pid) + "-";
  const int listed = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* stream = listed < 0 ? nullptr : ::fdopendir(listed);
  if (stream == nullptr) {
    if (listed >= 0) {
      ::close(listed);
    }
    return not_below(m_path, relative,
                     std::string("cannot list its directory: ") + std::strerror(errno));
  }
  std::vector<std::string> found;
  while (const dirent* item = ::readdir(stream)) {
    const std::string_view entry = item->d_name;
    if (entry.starts_with(prefix) && entry.ends_with(".tmp")) {
      found.emplace_back(entry);
    }
  }
  ::closedir(stream);
  int removed = 0;
  for (const std::string& temp : found) {
    struct stat info {};
    if (::fstatat(dir.get(), temp.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(info.st_mode) && ::unlinkat(dir.get(), temp.c_str(), 0) == 0) {
      ++removed;
    }
  }
  return removed;
}

fs::path canonical_below(const fs::path& base, const fs::path& relative, std::error_code& ec) {
  ec.clear();
  const auto resolve_all = [&] { return fs::weakly_canonical(base / relative, ec); };
  if (relative.empty() || relative.is_absolute()) {
    return resolve_all();
  }
  fs::path out = base;
  bool exists = true;  // past the first missing component, the rest is only appended
  for (const fs::path& part : relative) {
    const std::string& name = part.native();
    if (name.empty() || name == "." || name == "..") {
      return resolve_all();
    }
    out /= part;
    if (!exists) {
      continue;
    }
    struct stat info {};
    if (::lstat(out.c_str(), &info) != 0) {
      if (errno != ENOENT) {
        return resolve_all();
      }
      exists = false;
    } else if (S_ISLNK(info.st_mode)) {
      return resolve_all();
    }
  }
  return out;
}

Within::Within(const fs::path& root) {
  std::error_code ec;
  m_base = fs::weakly_canonical(fs::absolute(root), ec);
  if (ec) {
    m_base.clear();
  }
}

std::optional<std::string> Within::inside(const fs::path& path) const {
  if (m_base.empty()) {
    return std::nullopt;
  }
  std::error_code ec;
  const fs::path resolved = canonical_below(m_base, path, ec);
  if (ec) {
    return std::nullopt;
  }
  auto b = m_base.begin();
  auto r = resolved.begin();
  for (; b != m_base.end(); ++b, ++r) {
    if (r == resolved.end() || *r != *b) {
      return std::nullopt;
    }
  }
  fs::path below;
  for (; r != resolved.end(); ++r) {
    below /= *r;
  }
  return below.generic_string();
}

bool is_within(const fs::path& root, const fs::path& path) {
  return Within(root)(path);
}

bool leaves_through_symlink(const fs::path& root, const std::string& relative) {
  const fs::path path(relative);
  const fs::path normal = path.lexically_normal();
  if (path.is_absolute() || (!normal.empty() && *normal.begin() == "..")) {
    return false;
  }
  return !is_within(root, path);
}

}  // namespace promote::util
