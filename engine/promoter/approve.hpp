#pragma once
// `promote approve` and `promote reject`: a decision by the current actor on one exact
// candidate for one stage, kept in the history where the approval gate reads it.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

/// The approvals of one pipeline kept in a history database; with no database, there are none.
class HistoryApprovals : public ApprovalBook {
 public:
  /// `reviews`: decisions given on the forge (the reviews of a pull-request stage's pull
  /// request), which count beside the history's, each for its stage and candidate.
  HistoryApprovals(const history::History* history, history::PipelineId pipeline,
                   std::vector<Approval> reviews = {})
      : m_history(history), m_pipeline(std::move(pipeline)), m_reviews(std::move(reviews)) {}
  Result<std::vector<Approval>> decisions(const std::string& stage,
                                          const std::string& candidate_id) const override;

 private:
  const history::History* m_history;
  history::PipelineId m_pipeline;
  std::vector<Approval> m_reviews;
};

struct DecisionRequest {
  std::filesystem::path pipeline_file = "promote.yaml";
  std::string stage;
  /// The candidate id (64 hex, or a prefix of at least 12 of the candidate the stage
  /// would get now); default: the candidate the stage would get now (stages with `from`).
  std::optional<std::string> candidate;
  bool approve = true;  ///< false: reject
  std::string actor;    ///< default util::current_actor()
  std::string reason;
  std::optional<std::filesystem::path> history_path;
};

struct DecisionResult {
  std::string pipeline;
  std::string stage;
  std::string candidate_id;  ///< 64 hex
  nlohmann::json images;     ///< the candidate's images when known, else null
  bool approve = true;
  std::string actor;
  std::string reason;
  std::chrono::system_clock::time_point at;
  std::filesystem::path history;  ///< the database it was recorded in
  std::string warning;  ///< why the git note (refs/notes/promote) was not written, or ""
};

/// Records an approval or a rejection. Fails (usage) on an unknown stage, a malformed
/// candidate id, or a short id that is not the stage's current candidate; (input) when the
/// history cannot be written.
Result<DecisionResult> decide(const DecisionRequest& request, const pipeline::GateCatalog& gates);

}  // namespace promote::promoter
