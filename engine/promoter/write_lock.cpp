#include "engine/promoter/write_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "engine/pipeline/config_node.hpp"
#include "engine/util/log.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds k_default_timeout = std::chrono::minutes(5);

/// The whole file, for writing: a POSIX record lock.
struct flock whole_file() {
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  return lock;
}

/// The pid of the process that holds the lock of `fd`, or "" when none does (any more).
std::string holder(int fd) {
  struct flock probe = whole_file();
  if (::fcntl(fd, F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK || probe.l_pid <= 0) {
    return "";
  }
  return std::to_string(probe.l_pid);
}

/// Takes the lock of `path` (created when missing, never written), waiting up to `timeout`.
/// `what` names the lock in messages ("in this checkout"). Returns -1 when `optional` and the
/// file cannot be created (a directory that is missing or not writable).
Result<int> take(const fs::path& path, const std::string& what, std::chrono::seconds timeout,
                 bool optional = false) {
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0 && optional && (errno == ENOENT || errno == EACCES || errno == EROFS)) {
    return -1;
  }
  if (fd < 0) {
    return make_error(ErrorKind::input, "cannot create the lock " + path.string() + " of " +
                                            "promote writing " + what + ": " + std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(10);
  bool told = false;
  struct flock request = whole_file();
  while (::fcntl(fd, F_SETLK, &request) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno != EACCES && errno != EAGAIN) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return make_error(ErrorKind::input, "cannot lock " + path.string() + ": " + why);
    }
    const std::string pid = holder(fd);
    const std::string who = pid.empty() ? "" : " (pid " + pid + ")";
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      ::close(fd);
      return make_error(ErrorKind::conflict,
                        "gave up after " + pipeline::format_duration(timeout) +
                            " waiting for another promote" + who + " writing " + what + " (" +
                            path.string() +
                            "); run again when it is done (PROMOTE_LOCK_TIMEOUT sets the wait)");
    }
    if (!told) {
      util::notice("waiting for another promote writing " + what + who + ", at most " +
                   pipeline::format_duration(timeout));
      told = true;
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
  return fd;
}

}  // namespace

Result<std::chrono::seconds> lock_timeout() {
  const char* value = std::getenv("PROMOTE_LOCK_TIMEOUT");
  if (value == nullptr || *value == '\0') {
    return k_default_timeout;
  }
  const std::string text = value;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      text.size() < 10) {
    return std::chrono::seconds(std::stol(text));
  }
  if (auto parsed = pipeline::parse_duration(text)) {
    return *parsed;
  }
  return make_error(ErrorKind::usage, "PROMOTE_LOCK_TIMEOUT must be a duration such as 30s or 5m "
                                      "(or seconds), got '" + text + "'");
}

Result<int> lock_file(const fs::path& path, const std::string& what) {
  auto timeout = lock_timeout();
  if (!timeout) {
    return timeout.error();
  }
  return take(path, what, *timeout);
}

Result<WriteLock> WriteLock::acquire(const fs::path& git_dir, const fs::path& history,
                                     bool writing) {
  auto timeout = lock_timeout();
  if (!timeout) {
    return timeout.error();
  }
  WriteLock lock;
  lock.m_writing = writing;
  if (!git_dir.empty()) {
    auto taken = take(git_dir / "promote.lck", "in this checkout", *timeout, !writing);
    if (!taken) {
      return taken.error();
    }
    lock.m_checkout = *taken;
  }
  if (writing) {
    std::error_code ec;
    fs::create_directories(history.parent_path(), ec);
  }
  auto taken =
      take(history.string() + ".lck", "to the history " + history.string(), *timeout, !writing);
  if (!taken) {
    return taken.error();  // the checkout's lock is released with `lock`
  }
  lock.m_history = *taken;
  return lock;
}

WriteLock::WriteLock(WriteLock&& other) noexcept
    : m_checkout(std::exchange(other.m_checkout, -1)),
      m_history(std::exchange(other.m_history, -1)),
      m_writing(other.m_writing) {}

WriteLock& WriteLock::operator=(WriteLock&& other) noexcept {
  if (this != &other) {
    release();
    m_checkout = std::exchange(other.m_checkout, -1);
    m_history = std::exchange(other.m_history, -1);
    m_writing = other.m_writing;
  }
  return *this;
}

WriteLock::~WriteLock() { release(); }

void WriteLock::release() {
  // Closing the descriptor releases the lock; the history's first (the reverse order).
  for (int* fd : {&m_history, &m_checkout}) {
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  }
}

}  // namespace promote::promoter
