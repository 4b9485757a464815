#include "engine/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

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

Result<void> write_file_atomic(const fs::path& path, const std::string& data) {
  const auto fail = [&](const std::string& what) -> Error {
    return make_error(ErrorKind::input, path.string() + ": " + what + ": " + std::strerror(errno));
  };
  std::random_device random;
  const fs::path temp = path.parent_path() / ("." + path.filename().string() + ".promote-" +
                                              std::to_string(random()) + ".tmp");
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
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Error error = fail("flush failed");
    ::unlink(temp.c_str());
    return error;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Error error = fail("rename failed");
    ::unlink(temp.c_str());
    return error;
  }
  return {};
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
  const fs::path resolved = fs::weakly_canonical(path.is_absolute() ? path : m_base / path, ec);
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

bool is_within(const fs::path& root, const fs::path& path) { return Within(root)(path); }

}  // namespace promote::util
