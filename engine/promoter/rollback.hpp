#pragma once
// promote rollback: which release a rollback puts back into a stage, found in the promote
// commits of the pipeline and, for an id git does not know, in the history.

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/candidate.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/targets.hpp"

namespace promote::promoter {

/// The release a rollback puts back, and how.
struct Rollback {
  std::string of;          ///< the promotion whose release it is ("before:ID": what preceded ID)
  Candidate candidate;     ///< the release
  std::string commit;      ///< the commit whose files hold it ("" when unknown)
  PlaceEdits place_edits;  ///< places put back one by one, when they disagreed before
  std::vector<std::string> warnings;
};

/// The release promotion `rollback_to` (an id) put into the stage, else the newest one the
/// stage held before what it holds now (`held`, read into `reading`): from the promote commits
/// of the pipeline `id` (their message lists the release) and, for an id git does not know,
/// the history at `history`. Fails (usage) when there is none, or the id is not a promotion
/// into the stage; as state_before and put_back_places.
Result<Rollback> find_rollback(const git::Repository& repository,
                               const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                               const std::filesystem::path& root, const history::PipelineId& id,
                               const TargetImages& held, const TargetReading& reading,
                               const std::string& rollback_to,
                               const std::filesystem::path& history);

}  // namespace promote::promoter
