#include "engine/util/files.hpp"

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

namespace {

/// Under a deferral a regular file is replaced by swapping the two names (RENAME_EXCHANGE) and
/// removing the temporary name, which then holds the file replaced, kept open for the deferral
/// to let go. ext4 writes a new file's data out at a rename over another (auto_da_alloc), one
/// file at a time, but not at an exchange: the deferral's flush writes them all together.
/// Returns the descriptor of the file replaced, or -1 when nothing was exchanged (no regular
/// file there, a file system that cannot exchange): the caller renames.
Result<int> exchange(const fs::path& temp, const fs::path& path) {
  struct stat there {};
  if (::lstat(path.c_str(), &there) != 0 || !S_ISREG(there.st_mode) ||
      ::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) != 0) {
    return -1;
  }
  const int replaced = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat held {};
  if (replaced < 0 || ::fstat(replaced, &held) != 0 || !S_ISREG(held.st_mode)) {
    // Something else took the file's place meanwhile: back as it was, and the rename decides.
    if (replaced >= 0) {
      ::close(replaced);
    }
    ::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE);
    return -1;
  }
  if (::unlink(temp.c_str()) != 0) {
    Error error =
        make_error(ErrorKind::input,
                   temp.string() + ": cannot remove the replaced file: " + std::strerror(errno));
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

Result<void> write_file_atomic(const fs::path& path, const std::string& data) {
  const auto fail = [&](const std::string& what) -> Error {
    return make_error(ErrorKind::input, path.string() + ": " + what + ": " + std::strerror(errno));
  };
  const fs::path temp = path.parent_path() / (hidden_name(path) + ".promote-" +
                                              std::to_string(temporary_number()) + ".tmp");
  mode_t mode = 0644;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    mode = info.st_mode & 07777;
  }
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
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
      ::unlink(temp.c_str());
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  DeferredFlush* const deferred = t_deferred;
  if (deferred != nullptr) {
    deferred->m_files.push_back(path);
    deferred->m_directories.insert(path.has_parent_path() ? path.parent_path().string() : ".");
  }
  if ((deferred == nullptr && ::fsync(fd) != 0) || ::close(fd) != 0) {
    Error error = fail("flush failed");
    ::unlink(temp.c_str());
    return error;
  }
  if (deferred != nullptr) {
    auto replaced = exchange(temp, path);
    if (!replaced) {
      return replaced.error();
    }
    if (*replaced >= 0) {
      deferred->hold(*replaced);
      return {};
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Error error = fail("rename failed");
    ::unlink(temp.c_str());
    return error;
  }
  return {};
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

bool Within::operator()(const fs::path& path) const {
  if (m_base.empty()) {
    return false;
  }
  std::error_code ec;
  const fs::path resolved = canonical_below(m_base, path, ec);
  if (ec) {
    return false;
  }
  auto b = m_base.begin();
  auto r = resolved.begin();
  for (; b != m_base.end(); ++b, ++r) {
    if (r == resolved.end() || *r != *b) {
      return false;
    }
  }
  return true;
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
