#include "engine/promoter/timeline.hpp"

#include "engine/promoter/scope.hpp"
#include "engine/promoter/targets.hpp"
#include "engine/util/log.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

RepositoryTimeline::RepositoryTimeline(const pipeline::Pipeline& pipeline,
                                       const git::Repository& repository,
                                       const history::History* history, const RecordTrust* trust)
    : m_pipeline(pipeline),
      m_repository(repository),
      m_history(history),
      m_trust(trust != nullptr && trust->required() ? trust : nullptr),
      m_id(pipeline_identity(pipeline)) {}

Timeline::TimePoint RepositoryTimeline::now() const { return std::chrono::system_clock::now(); }

Result<std::optional<HealthyEntry>> RepositoryTimeline::healthy(const std::string& stage,
                                                                const std::string& commit) const {
  if (m_history == nullptr) {
    return std::optional<HealthyEntry>();
  }
  auto found = m_history->healthy(m_id, stage, commit);
  if (!found) {
    return found.error();
  }
  if (!found->has_value()) {
    return std::optional<HealthyEntry>();
  }
  return std::optional<HealthyEntry>(
      HealthyEntry{(*found)->since, "verification " + (*found)->id + " (history)"});
}

Result<std::optional<StageEntry>> RepositoryTimeline::entered(const std::string& stage_name,
                                                              const Candidate& candidate) const {
  const std::string id = candidate.id();
  // A history row without a commit keeps its time; the commit comes from the git history.
  std::optional<StageEntry> recorded;
  if (m_history != nullptr) {
    std::string commit;
    auto at = m_history->entered(m_id, stage_name, id, &commit);
    if (!at) {
      return at.error();
    }
    if (at->has_value()) {
      recorded = StageEntry{**at, "history", commit};
      if (!commit.empty()) {
        return recorded;
      }
    }
  }
  const auto keep_recorded = [&](std::optional<StageEntry> entry) {
    if (recorded) {
      recorded->commit = entry ? entry->commit : std::string();
      return recorded;
    }
    return entry;
  };
  std::optional<StageEntry> found;
  std::optional<Error> failed;
  auto walked = m_repository.walk([&](const git::CommitInfo& commit) {
    // Another pipeline's promotion into a stage of the same name says nothing of this one.
    if (git::trailer(commit.message, "Promote-Stage") != stage_name ||
        !commit_of(commit.message, m_id)) {
      return true;
    }
    if (m_trust != nullptr) {
      std::string why;
      auto signer = m_trust->commit_signer(m_repository, commit.id, why);
      if (!signer) {
        failed = signer.error();
        return false;
      }
      if (!why.empty()) {
        util::notice("commit " + commit.id.substr(0, 12) +
                     ": its Promote trailers do not count (trust.signed): " + why);
        return true;
      }
    }
    if (git::trailer(commit.message, "Promote-Candidate") == id) {
      found = StageEntry{commit.time, "commit " + commit.id.substr(0, 12) + " (Promote trailers)",
                         commit.id};
    }
    return false;  // only the newest promotion into the stage tells what is there now
  });
  if (!walked) {
    return walked.error();
  }
  if (failed) {
    return *failed;
  }
  if (found || m_trust != nullptr) {
    return keep_recorded(found);
  }
  const pipeline::Stage* stage = m_pipeline.find_stage(stage_name);
  if (stage == nullptr) {
    return keep_recorded(std::nullopt);
  }
  auto targets = target_paths(m_pipeline, *stage, m_repository.workdir());
  if (!targets) {
    return targets.error();
  }
  std::string target;
  for (const auto& path : *targets) {
    target += (target.empty() ? "" : ", ") + path;
  }
  auto change = m_repository.last_change(*targets);
  if (!change) {
    return change.error();
  }
  if (!change->has_value()) {
    return keep_recorded(std::nullopt);
  }
  return keep_recorded(StageEntry{
      (*change)->time, "commit " + (*change)->id.substr(0, 12) + " (last change of " + target + ")",
      (*change)->id});
}

Result<std::optional<bool>> RepositoryTimeline::contains(const std::string& revision,
                                                         const std::string& commit) const {
  return m_repository.contains(revision, commit);
}

}  // namespace promote::promoter
