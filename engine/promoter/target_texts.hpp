#pragma once
// The files of a promotion's target as promote reads and edits them (internal to
// engine/promoter: included by targets.cpp and target_places.hpp only): each read once, kept
// with its edited text, under the path it is stored at, with what lies on each path's way (a
// symlink inside the repository is followed, one that leads out is refused).

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/overlay/kustomize_graph.hpp"
#include "engine/promoter/targets.hpp"
#include "engine/util/files.hpp"

namespace promote::promoter {

/// The target's files, read once, with their edited contents.
class Texts {
 public:
  explicit Texts(std::filesystem::path root) : m_root(std::move(root)), m_within(m_root) {}

  /// The text of `file` as edited so far, kept under the path it is stored at: a file of the
  /// target (a kustomization, a patch) may be a symlink, or lie below one, and an edit goes to
  /// the file the link leads to, inside the repository (the link stays a link).
  Result<std::string*> get(const std::string& file) {
    const auto stored = stored_at(file);
    if (!stored) {
      return make_error(ErrorKind::config,
                        file + ": leads out of the repository through a symlink");
    }
    auto it = m_files.find(*stored);
    if (it == m_files.end()) {
      auto text = util::read_file(m_root / *stored, k_max_target_file);
      if (!text) {
        return text.error();
      }
      it = m_files.emplace(*stored, std::pair{*text, *text}).first;
    }
    return &it->second.second;
  }

  const std::filesystem::path& root() const { return m_root; }

  /// Whether none of the files has been edited.
  bool unchanged(const std::vector<std::string>& files) const {
    return std::all_of(files.begin(), files.end(), [&](const std::string& file) {
      const auto stored = m_stored.find(file);
      const auto it = m_files.find(stored == m_stored.end() ? file : stored->second);
      return it == m_files.end() || it->second.first == it->second.second;
    });
  }

  /// The repository as the kustomize renderer reads it: files as edited so far.
  overlay::RepositoryFiles view() {
    overlay::RepositoryFiles files;
    files.read = [this](const std::string& file) -> Result<const std::string*> {
      auto text = get(file);
      if (!text) {
        return text.error();
      }
      return *text;
    };
    files.type = [this](const std::string& path) { return type(path); };
    return files;
  }

  /// What `path` (relative to the root, lexically normal) is on disk, once per path; fails
  /// (config) when it leads out of the repository through a symlink.
  Result<overlay::RepositoryFiles::Type> type(const std::string& path) {
    using Type = overlay::RepositoryFiles::Type;
    if (const auto found = m_types.find(path); found != m_types.end()) {
      return found->second;
    }
    if (!path.empty() && !inside(path)) {
      return make_error(ErrorKind::config,
                        path + ": leads out of the repository through a symlink");
    }
    std::error_code error;
    const auto status = std::filesystem::status(path.empty() ? m_root : m_root / path, error);
    const Type type = std::filesystem::is_directory(status)      ? Type::directory
                      : std::filesystem::is_regular_file(status) ? Type::file
                                                                 : Type::missing;
    m_types.emplace(path, type);
    return type;
  }

  std::vector<FileChange> changes() const {
    std::vector<FileChange> out;
    for (const auto& [file, texts] : m_files) {
      if (texts.first != texts.second) {
        out.push_back(FileChange{file, texts.first, texts.second});
      }
    }
    return out;
  }

 private:
  enum class Way { inside, linked, out };  ///< what lies on a path's way

  /// Whether `path` stays inside the root on disk, and whether a symlink is on its way: each
  /// directory on its way is looked at once (one lstat), and only a symlink is resolved.
  Way way(const std::string& path) {
    if (path.empty()) {
      return Way::inside;
    }
    if (const auto found = m_ways.find(path); found != m_ways.end()) {
      return found->second;
    }
    const auto slash = path.rfind('/');
    Way way_here = way(slash == std::string::npos ? std::string() : path.substr(0, slash));
    std::error_code error;
    if (way_here == Way::inside &&
        std::filesystem::is_symlink(std::filesystem::symlink_status(m_root / path, error))) {
      way_here = m_within(path) ? Way::linked : Way::out;
    }
    m_ways.emplace(path, way_here);
    return way_here;
  }

  bool inside(const std::string& path) { return way(path) != Way::out; }

  /// Where `file` is stored: itself, or where the symlinks on its way lead (inside the root);
  /// nullopt when they lead out.
  std::optional<std::string> stored_at(const std::string& file) {
    if (const auto found = m_stored.find(file); found != m_stored.end()) {
      return found->second;
    }
    const Way on_the_way = way(file);
    if (on_the_way == Way::out) {
      return std::nullopt;
    }
    std::string stored = file;
    if (on_the_way == Way::linked) {
      auto resolved = m_within.inside(file);
      if (!resolved) {
        return std::nullopt;
      }
      stored = std::move(*resolved);
    }
    m_stored.emplace(file, stored);
    return stored;
  }

  std::filesystem::path m_root;
  util::Within m_within;
  std::map<std::string, std::pair<std::string, std::string>> m_files;  // before, after
  std::map<std::string, Way> m_ways;                                   // path -> its way
  std::map<std::string, std::string> m_stored;  // path as named -> path where it is stored
  std::map<std::string, overlay::RepositoryFiles::Type> m_types;
};

}  // namespace promote::promoter
