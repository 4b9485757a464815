#include "engine/util/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
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
      m_read(std::move(other.m_read)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    FileBytes gone(std::move(*this));
    m_mapped = std::exchange(other.m_mapped, nullptr);
    m_size = std::exchange(other.m_size, 0);
    m_read = std::move(other.m_read);
  }
  return *this;
}

FileBytes::~FileBytes() {
  if (m_mapped != nullptr) {
    ::munmap(const_cast<char*>(m_mapped), m_size);
  }
}

Result<FileBytes> map_file(const fs::path& path, std::uintmax_t max_bytes) {
  const auto read = [&]() -> Result<FileBytes> {
    auto text = read_file(path, max_bytes);
    if (!text) {
      return text.error();
    }
    FileBytes bytes;
    bytes.m_read = std::move(*text);
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
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) {
    return read();
  }
  FileBytes bytes;
  bytes.m_mapped = static_cast<const char*>(mapped);
  bytes.m_size = size;
  return bytes;
}

namespace {

thread_local DeferredFlush* t_deferred = nullptr;

}  // namespace

DeferredFlush::DeferredFlush() : m_outer(t_deferred) {
  t_deferred = this;
}

DeferredFlush::~DeferredFlush() {
  t_deferred = m_outer;
}

Result<void> DeferredFlush::flush() {
  for (const fs::path& directory : m_directories) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::syncfs(fd) != 0) {
      const int error = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      return make_error(ErrorKind::input,
                        directory.string() + ": flush failed: " + std::strerror(error));
    }
    ::close(fd);
  }
  m_directories.clear();
  m_devices.clear();
  return {};
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
    std::random_device random;
    const std::string temp = hidden_name(name) + ".promote-" + std::to_string(::getpid()) +
                             "-" + std::to_string(random()) + ".tmp";
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
      struct stat written_to {};
      const bool known = ::fstat(fd, &written_to) == 0;
      if (!known || std::find(deferred->m_devices.begin(), deferred->m_devices.end(),
                              written_to.st_dev) == deferred->m_devices.end()) {
        deferred->m_devices.push_back(known ? written_to.st_dev : dev_t{});
        deferred->m_directories.push_back(shown.has_parent_path() ? shown.parent_path() : ".");
      }
    }
    if ((deferred == nullptr && ::fsync(fd) != 0) || ::close(fd) != 0) {
      Error error = fail("flush failed");
      ::unlinkat(dir, temp.c_str(), 0);
      return error;
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
