#include "engine/promoter/timeline.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

std::string target_in_repository(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const fs::path& root) {
  const fs::path base = pipeline.repository.is_local() ? pipeline.base_dir : root;
  const fs::path absolute = fs::weakly_canonical(base / stage.target.kustomize);
  return absolute.lexically_relative(fs::weakly_canonical(root)).generic_string();
}

RepositoryTimeline::RepositoryTimeline(const pipeline::Pipeline& pipeline,
                                       const git::Repository& repository,
                                       const history::History* history)
    : m_pipeline(pipeline), m_repository(repository), m_history(history) {}

Timeline::TimePoint RepositoryTimeline::now() const { return std::chrono::system_clock::now(); }

Result<std::optional<StageEntry>> RepositoryTimeline::entered(const std::string& stage_name,
                                                              const Candidate& candidate) const {
  const std::string id = candidate.id();
  if (m_history != nullptr) {
    auto at = m_history->entered(stage_name, id);
    if (!at) {
      return at.error();
    }
    if (at->has_value()) {
      return StageEntry{**at, "history"};
    }
  }
  std::optional<StageEntry> found;
  auto walked = m_repository.walk([&](const git::CommitInfo& commit) {
    if (git::trailer(commit.message, "Promote-Stage") != stage_name) {
      return true;
    }
    if (git::trailer(commit.message, "Promote-Candidate") == id) {
      found = StageEntry{commit.time, "commit " + commit.id.substr(0, 12) + " (Promote trailers)"};
    }
    return false;  // only the newest promotion into the stage tells what is there now
  });
  if (!walked) {
    return walked.error();
  }
  if (found) {
    return found;
  }
  const pipeline::Stage* stage = m_pipeline.find_stage(stage_name);
  if (stage == nullptr) {
    return std::optional<StageEntry>();
  }
  const std::string target = target_in_repository(m_pipeline, *stage, m_repository.workdir());
  auto change = m_repository.last_change({target});
  if (!change) {
    return change.error();
  }
  if (!change->has_value()) {
    return std::optional<StageEntry>();
  }
  return StageEntry{(*change)->time,
                    "commit " + (*change)->id.substr(0, 12) + " (last change of " + target + ")"};
}

}  // namespace promote::promoter
