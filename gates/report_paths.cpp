// The report paths of a gate's `path:` (junit, and the security gates through it): globs with
// `*`, `?`, `[...]` per path segment and `**` for any depth, expanded below the pipeline's
// directory (see expand_report_paths in gates/junit.hpp).
#include <fnmatch.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <system_error>

#include "engine/util/files.hpp"
#include "gates/junit.hpp"

namespace promote::gates {

namespace fs = std::filesystem;

namespace {

bool has_wildcard(std::string_view segment) {
  return segment.find_first_of("*?[") != std::string_view::npos;
}

// Matches pattern segments below a directory. Paths are kept as written (relative to the
// base directory, or absolute) and resolved against the base only to touch the disk.
class Expander {
 public:
  explicit Expander(fs::path base) : m_base(std::move(base)) {}

  const std::set<std::string>& found() const { return m_found; }
  const std::optional<Error>& error() const { return m_error; }

  void match(const fs::path& dir, const std::vector<std::string>& segments, std::size_t index) {
    if (m_error || index >= segments.size()) {
      return;
    }
    const std::string& segment = segments[index];
    const bool last = index + 1 == segments.size();
    if (segment == "**") {
      if (last) {
        match_any_depth(dir, segments, index, "*");
        return;
      }
      match(dir, segments, index + 1);
      match_any_depth(dir, segments, index + 1, {});
      return;
    }
    if (!has_wildcard(segment)) {
      visit(dir / segment, segments, index);
      return;
    }
    for (const fs::path& entry : list(dir)) {
      if (::fnmatch(segment.c_str(), entry.filename().c_str(), FNM_PERIOD) == 0) {
        visit(entry, segments, index);
      }
    }
  }

 private:
  fs::path on_disk(const fs::path& path) const {
    if (m_base.empty() || path.is_absolute()) {
      return path;
    }
    return path.empty() ? m_base : m_base / path;
  }

  // `path` matched segments[index]: a file when that was the last one, else a directory
  // to look into.
  void visit(const fs::path& path, const std::vector<std::string>& segments, std::size_t index) {
    std::error_code ec;
    if (index + 1 == segments.size()) {
      if (fs::is_regular_file(on_disk(path), ec)) {
        m_found.insert(path.lexically_normal().generic_string());
      }
    } else if (fs::is_directory(on_disk(path), ec)) {
      match(path, segments, index + 1);
    }
  }

  // Every directory below `dir` (not `dir` itself), then segments[index..] in each; for a
  // trailing `**`, the files matching `final_segment` in `dir` and below instead.
  void match_any_depth(const fs::path& dir, const std::vector<std::string>& segments,
                       std::size_t index, const std::string& final_segment) {
    if (!final_segment.empty()) {
      match(dir, {final_segment}, 0);
    }
    std::error_code ec;
    for (const fs::path& entry : list(dir)) {
      if (m_error) {
        return;
      }
      const fs::path real = on_disk(entry);
      if (entry.filename().string().starts_with(".") || fs::is_symlink(real, ec) ||
          !fs::is_directory(real, ec)) {
        continue;
      }
      if (final_segment.empty()) {
        match(entry, segments, index);
      }
      match_any_depth(entry, segments, index, final_segment);
    }
  }

  // The entries of `dir` (as `dir/name`); none when it is no directory.
  std::vector<fs::path> list(const fs::path& dir) {
    std::vector<fs::path> entries;
    std::error_code ec;
    const fs::path real = on_disk(dir);
    if (m_error || !fs::is_directory(real, ec)) {
      return entries;
    }
    fs::directory_iterator it(real, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      entries.push_back(dir / it->path().filename());
    }
    if (ec) {
      m_error = make_error(ErrorKind::input,
                           "cannot list directory " + real.generic_string() + ": " + ec.message());
      return {};
    }
    return entries;
  }

  fs::path m_base;
  std::set<std::string> m_found;
  std::optional<Error> m_error;
};

std::vector<std::string> split_segments(const std::string& pattern) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= pattern.size()) {
    std::size_t end = pattern.find('/', start);
    if (end == std::string::npos) {
      end = pattern.size();
    }
    if (end > start) {
      segments.push_back(pattern.substr(start, end - start));
    }
    start = end + 1;
  }
  return segments;
}

}  // namespace

Result<std::vector<std::string>> expand_report_paths(const fs::path& base_dir,
                                                     const std::vector<std::string>& patterns) {
  std::set<std::string> paths;
  for (const std::string& pattern : patterns) {
    const bool absolute = pattern.starts_with("/");
    Expander expander(absolute ? fs::path() : base_dir.empty() ? fs::path(".") : base_dir);
    expander.match(absolute ? fs::path("/") : fs::path(), split_segments(pattern), 0);
    if (expander.error()) {
      return *expander.error();
    }
    if (expander.found().empty()) {
      return make_error(ErrorKind::input, "no JUnit report matches " + pattern);
    }
    paths.insert(expander.found().begin(), expander.found().end());
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

}  // namespace promote::gates
