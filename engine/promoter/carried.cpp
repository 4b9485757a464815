#include "engine/promoter/carried.hpp"

#include <algorithm>
#include <utility>

#include "engine/overlay/carry.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

// "sha256:" and the first 12 hex of a digest, as messages show one.
std::string shown(const std::string& digest) {
  return "sha256:" + digest.substr(0, 12);
}

Result<std::string> read_carried(const fs::path& root, const std::string& path,
                                 const pipeline::Stage& stage) {
  std::error_code error;
  if (!fs::is_regular_file(root / path, error)) {
    return make_error(ErrorKind::input, "stage '" + stage.name + "': carried file " + path +
                                            " does not exist (promote carries into files that "
                                            "exist: add it to the stage first)");
  }
  return util::read_file(root / path, k_max_target_file);
}

}  // namespace

Result<std::string> carried_digest(std::string_view text, const std::string& file,
                                   const std::vector<std::string>& keys) {
  if (keys.empty()) {
    return util::sha256_hex(text);
  }
  auto values = overlay::carried_values(text, file, keys);
  if (!values) {
    return values.error();
  }
  return util::sha256_hex(*values);
}

Result<std::string> carried_path(const pipeline::Pipeline& pipeline, const fs::path& root,
                                 const std::string& path) {
  std::error_code error;
  const fs::path canonical_root = fs::weakly_canonical(root, error);
  const fs::path canonical =
      error ? fs::path()
            : util::canonical_below(fs::weakly_canonical(target_base(pipeline, root)), path, error);
  const fs::path inside = canonical.lexically_relative(canonical_root);
  const std::string text = inside.generic_string();
  if (error || inside.empty() || text == "." || text == ".." || text.starts_with("../")) {
    return make_error(ErrorKind::config, "carried file '" + path + "' leads out of the repository");
  }
  return text;
}

Result<std::map<std::string, std::string>> carried_digests(const pipeline::Pipeline& pipeline,
                                                           const pipeline::Stage& stage,
                                                           const fs::path& root,
                                                           const std::vector<FileChange>* changes) {
  std::map<std::string, std::string> out;
  for (const auto& file : pipeline.carried_in(stage)) {
    auto path = carried_path(pipeline, root, file.path);
    if (!path) {
      return path.error();
    }
    std::string text;
    const FileChange* changed = nullptr;
    if (changes != nullptr) {
      const auto found =
          std::find_if(changes->begin(), changes->end(),
                       [&](const FileChange& change) { return change.path == *path; });
      changed = found == changes->end() ? nullptr : &*found;
    }
    if (changed != nullptr) {
      text = changed->after;
    } else if (auto read = read_carried(root, *path, stage); !read) {
      return read.error();
    } else {
      text = std::move(*read);
    }
    auto digest = carried_digest(text, *path, file.keys);
    if (!digest) {
      return digest.error();
    }
    out.emplace(file.name, std::move(*digest));
  }
  return out;
}

Result<std::map<std::string, std::string>> recorded_carried(const git::Repository& repository,
                                                            const pipeline::Pipeline& pipeline,
                                                            const pipeline::Stage& stage,
                                                            const history::PipelineId& id) {
  std::map<std::string, std::string> out;  // by the newest promotion into the stage
  auto walked = repository.walk([&](const git::CommitInfo& commit) {
    if (git::trailer(commit.message, "Promote-Stage") == stage.name &&
        commit_of(commit.message, id)) {
      for (auto& [name, digest] : images_in_message(pipeline, commit.message).files) {
        out.emplace(name, std::move(digest));
      }
    }
    return std::any_of(stage.carry.begin(), stage.carry.end(),
                       [&](const pipeline::CarrySpec& carry) { return !out.contains(carry.name); });
  });
  if (!walked) {
    return walked.error();
  }
  return out;
}

CarrySource carry_from_tree(const pipeline::Pipeline& pipeline, fs::path root) {
  return [&pipeline, root](const pipeline::CarrySpec& carry) -> Result<std::string> {
    auto path = carried_path(pipeline, root, carry.source);
    if (!path) {
      return path.error();
    }
    return util::read_file(root / *path, k_max_target_file);
  };
}

CarrySource carry_from_commit(const git::Repository& repository, const pipeline::Pipeline& pipeline,
                              fs::path root, const pipeline::Stage& stage, std::string commit) {
  return [&repository, &pipeline, &stage, root,
          commit](const pipeline::CarrySpec& carry) -> Result<std::string> {
    auto path = carried_path(pipeline, root, carry.target);
    if (!path) {
      return path.error();
    }
    auto text = commit.empty() ? Result<std::optional<std::string>>(std::optional<std::string>())
                               : repository.read_file(commit, *path);
    if (!text) {
      return text.error();
    }
    if (!text->has_value()) {
      return make_error(ErrorKind::input, "stage '" + stage.name +
                                              "': no commit of the release rolled back to holds "
                                              "carried file " +
                                              *path + "; nothing was written");
    }
    return std::move(**text);
  };
}

Result<std::map<std::string, std::string>> carry_into(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage, const fs::path& root,
    const std::map<std::string, std::string>& files, const CarrySource& source,
    const std::map<std::string, std::string>& recorded, std::vector<std::string>* warnings) {
  std::map<std::string, std::string> out;
  for (const auto& carry : stage.carry) {
    const auto wanted = files.find(carry.name);
    if (wanted == files.end()) {
      continue;
    }
    auto path = carried_path(pipeline, root, carry.target);
    if (!path) {
      return path.error();
    }
    auto now = read_carried(root, *path, stage);
    if (!now) {
      return now.error();
    }
    auto held = carried_digest(*now, *path, carry.keys);
    if (!held) {
      return held.error();
    }
    if (*held == wanted->second) {
      continue;
    }
    const std::string what = carry.keys.empty() ? *path : "the carried keys of " + *path;
    if (const auto last = recorded.find(carry.name);
        last != recorded.end() && last->second != *held) {
      if (!carry.overwrite) {
        return make_error(ErrorKind::conflict,
                          "stage '" + stage.name + "': " + what +
                              " changed since its last promotion (" + shown(*held) +
                              ", the promotion recorded " + shown(last->second) + "); carrying '" +
                              carry.name + "' from '" + stage.from.value_or("") +
                              "' would overwrite that edit: make it in " + carry.source +
                              " too, or let the carry overwrite it with overwrite: true (" +
                              carry.where.to_string() + ")");
      }
      if (warnings != nullptr) {
        warnings->push_back("stage '" + stage.name + "': " + what +
                            " changed since its last promotion; overwritten by the carry "
                            "(overwrite: true)");
      }
    }
    auto text = source(carry);
    if (!text) {
      return text.error();
    }
    auto given = carried_digest(*text, carry.source, carry.keys);
    if (!given) {
      return given.error();
    }
    if (*given != wanted->second) {
      return make_error(ErrorKind::input, "stage '" + stage.name + "': what '" + carry.name +
                                              "' is carried from holds " + shown(*given) +
                                              ", not the release's " + shown(wanted->second) +
                                              "; nothing was written");
    }
    if (carry.keys.empty()) {
      out[*path] = std::move(*text);
      continue;
    }
    auto carried = overlay::carry_values(*text, carry.source, *now, *path, carry.keys);
    if (!carried) {
      return carried.error();
    }
    out[*path] = std::move(carried->first);
  }
  return out;
}

}  // namespace promote::promoter
