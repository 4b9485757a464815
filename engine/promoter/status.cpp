#include "engine/promoter/status.hpp"

#include "engine/history/history.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/timeline.hpp"
#include "engine/promoter/workspace.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

Result<std::vector<StageStatus>> status(const pipeline::Pipeline& pipeline,
                                        const std::optional<fs::path>& history_file,
                                        const std::optional<fs::path>& workdir) {
  if (auto place = check_history_place(pipeline.file, history_file); !place) {
    return place.error();
  }
  auto workspace = Workspace::open(pipeline, workdir);
  if (!workspace) {
    return workspace.error();
  }
  auto history = history::History::open_existing(history_path(pipeline.file, history_file));
  if (!history) {
    return history.error();
  }
  auto trust = RecordTrust::for_pipeline(pipeline, false);
  if (!trust) {
    return trust.error();
  }
  const RepositoryTimeline timeline(pipeline, workspace->repository(),
                                    *history ? &**history : nullptr, &*trust);
  std::vector<StageStatus> out;
  for (const auto& stage : pipeline.stages) {
    StageStatus row;
    row.name = stage.name;
    row.from = stage.from.value_or("");
    for (const auto& path : stage.target.paths()) {
      row.target += (row.target.empty() ? "" : ", ") + path;
    }
    auto candidate = candidate_in(pipeline, stage, workspace->root());
    if (!candidate) {
      row.problem = candidate.error().message;
    } else {
      auto entered = timeline.entered(stage.name, *candidate);
      if (!entered) {
        return entered.error();
      }
      row.entered = *entered;
      row.candidate = std::move(*candidate);
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace promote::promoter
