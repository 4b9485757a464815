#include "engine/promoter/target_check.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "engine/overlay/helm.hpp"
#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/setters.hpp"
#include "engine/promoter/targets.hpp"
#include "engine/util/files.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

/// What a target path must be.
enum class Want { directory, file, either };

class Checker {
 public:
  Checker(const pipeline::Pipeline& pipeline, pipeline::Diagnostics& problems)
      : m_pipeline(pipeline), m_problems(problems), m_base(pipeline.base_dir) {}

  void check(const pipeline::Stage& stage) {
    const pipeline::Target& target = stage.target;
    for (const auto& dir : target.kustomize) {
      check_kustomize(target.where_of("kustomize", dir), dir);
    }
    for (const auto& values : target.helm) {
      check_helm(values);
    }
    for (const auto& path : target.manifests) {
      exists(target.where_of("manifests", path), "target.manifests", path, Want::either);
    }
    for (const auto& path : target.setters) {
      const Location where = target.where_of("setters", path);
      if (exists(where, "target.setters", path, Want::either)) {
        check_setters(stage, where, path);
      }
    }
    for (const auto& applications : target.argocd) {
      exists(applications.where, "target.argocd", applications.path, Want::either);
    }
  }

 private:
  /// Whether `path` is there and is what `want` says; reports at `where` when it is not.
  bool exists(const Location& where, const std::string& what, const std::string& path, Want want) {
    std::error_code error;
    const fs::file_status status = fs::status(m_base / path, error);
    if (!fs::exists(status)) {
      m_problems.add(where, what + " '" + path + "' does not exist");
      return false;
    }
    if (want == Want::directory && !fs::is_directory(status)) {
      m_problems.add(where, what + " '" + path +
                                "' is a file, not an overlay directory; name the directory "
                                "that holds the kustomization");
      return false;
    }
    if (want == Want::file && fs::is_directory(status)) {
      m_problems.add(where, what + " '" + path + "' is a directory, not a values file");
      return false;
    }
    return true;
  }

  void check_kustomize(const Location& where, const std::string& dir) {
    if (!exists(where, "target.kustomize", dir, Want::directory)) {
      return;
    }
    const fs::path absolute = m_base / dir;
    if (auto found = overlay::find_kustomization(absolute); !found) {
      // The finder names the directory as it was given to it: name it as the pipeline does.
      std::string message = found.error().message;
      const std::string named = pipeline::in_quotes(absolute.string());
      if (const std::size_t at = message.find(named); at != std::string::npos) {
        message.replace(at, named.size(), pipeline::in_quotes(dir));
      }
      m_problems.add(where, "target.kustomize: " + message);
    } else if (!util::Within(m_base)(*found)) {
      m_problems.add(where, "target.kustomize '" + dir + "': its kustomization " +
                                found->filename().string() +
                                " leads out of the repository through a symlink");
    }
  }

  void check_helm(const pipeline::HelmTarget& values) {
    const Location& where = values.file_where.line > 0 ? values.file_where : values.where;
    if (!exists(where, "target.helm file", values.file, Want::file)) {
      return;
    }
    auto text = util::read_file(m_base / values.file, k_max_target_file);
    if (!text) {
      m_problems.add(where, text.error().message);
      return;
    }
    std::set<std::string> reported;  // a file that does not load fails the same for each image
    for (const auto& [name, paths] : values.images) {
      auto gaps = overlay::missing_helm_paths(*text, values.file, paths, values.document);
      if (!gaps) {
        if (reported.insert(gaps.error().message).second) {
          m_problems.add(where, gaps.error().message);
        }
        continue;
      }
      for (const auto& gap : *gaps) {
        const auto at = values.path_where.find({name, gap.part});
        m_problems.add(at == values.path_where.end() ? values.where : at->second,
                       "target.helm image '" + name + "': " + gap.part + " path '" + gap.path +
                           "' is not in " + values.file + ": " + gap.missing + " (" +
                           gap.parent.to_string() + ")");
      }
    }
  }

  void check_setters(const pipeline::Stage& stage, const Location& where, const std::string& path) {
    const auto names = m_pipeline.image_names();
    for (const auto& file : yaml_files(path)) {
      if (!m_setter_files.insert(file).second) {
        continue;  // a file of several stages: its markers are told once
      }
      auto text = util::read_file(m_base / file, k_max_target_file);
      if (!text) {
        m_problems.add(where, text.error().message);
        continue;
      }
      auto markers = overlay::list_markers(*text, file);
      if (!markers) {
        m_problems.add(where, markers.error().message);
        continue;
      }
      for (const auto& marker : *markers) {
        if (std::find(names.begin(), names.end(), marker.policy) != names.end()) {
          continue;
        }
        std::string message = "$imagepolicy marker names '" + marker.policy +
                              "', which is no image of pipeline '" + m_pipeline.name + "'";
        if (auto close = pipeline::did_you_mean(marker.policy, names); !close.empty()) {
          message += " (did you mean '" + close + "'?)";
        }
        m_problems.add(marker.where, message + "; a target.setters file of stage '" + stage.name +
                                         "' (" + where.to_string() + ")");
      }
    }
  }

  /// The file itself, or the *.yaml and *.yml files below a directory, relative to the base,
  /// sorted; symlinks that lead out of the repository are left out.
  std::vector<std::string> yaml_files(const std::string& path) const {
    const fs::path absolute = m_base / path;
    std::error_code error;
    if (!fs::is_directory(absolute, error)) {
      return {path};
    }
    const util::Within within(m_base);
    std::vector<std::string> out;
    for (fs::recursive_directory_iterator it(absolute, error), end; it != end && !error;
         it.increment(error)) {
      const std::string extension = it->path().extension().string();
      if ((extension == ".yaml" || extension == ".yml") && it->is_regular_file(error) &&
          within(it->path())) {
        out.push_back(it->path().lexically_relative(m_base).generic_string());
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  const pipeline::Pipeline& m_pipeline;
  pipeline::Diagnostics& m_problems;
  fs::path m_base;
  std::set<std::string> m_setter_files;
};

}  // namespace

void check_targets(const pipeline::Pipeline& pipeline, pipeline::Diagnostics& problems) {
  Checker checker(pipeline, problems);
  for (const auto& stage : pipeline.stages) {
    checker.check(stage);
  }
}

}  // namespace promote::promoter
