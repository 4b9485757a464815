#pragma once
// The real Timeline: when did a candidate enter a stage? The history database
// answers first; a fresh clone without one reads the git history instead.

#include <filesystem>
#include <optional>
#include <string>

#include "engine/gate.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/trust.hpp"

namespace promote::promoter {

/// The real Timeline, and the CommitGraph of the same repository.
class RepositoryTimeline : public Timeline, public CommitGraph {
 public:
  /// `history` may be null (no database yet). Stage targets are read relative to the
  /// repository's working directory. `trust` (may be null: none required) says which promote
  /// commits count.
  RepositoryTimeline(const pipeline::Pipeline& pipeline, const git::Repository& repository,
                     const history::History* history, const RecordTrust* trust);

  TimePoint now() const override;
  /// In order, of this pipeline only (see scope.hpp): the newest "promoted" row of the
  /// history for (stage, candidate); the newest promote commit of the pipeline whose
  /// Promote-Stage trailer names the stage, when its Promote-Candidate is this candidate;
  /// the newest commit that changed the stage's target (never earlier than the real entry,
  /// so soak is never over-counted). Where signed records count (trust), a promote commit
  /// counts only when an allowed signer signed it (the others are named with util::notice and
  /// passed over: anyone who can push can write trailers and a date), and the last change of
  /// the target does not count.
  /// The entry's `commit` is the history row's commit, else that of the promote commit or of
  /// the last change found; "" when none of them names one.
  Result<std::optional<StageEntry>> entered(const std::string& stage,
                                            const Candidate& candidate) const override;
  /// The oldest verification event of the history for the stage and commit (History::healthy);
  /// nullopt without a history.
  Result<std::optional<HealthyEntry>> healthy(const std::string& stage,
                                              const std::string& commit) const override;
  /// Ancestry in the local clone (git::Repository::contains).
  Result<std::optional<bool>> contains(const std::string& revision,
                                       const std::string& commit) const override;

 private:
  const pipeline::Pipeline& m_pipeline;
  const git::Repository& m_repository;
  const history::History* m_history;
  const RecordTrust* m_trust;
  history::PipelineId m_id;
};

}  // namespace promote::promoter
