#pragma once
// `promote status`: the candidate each stage holds now, and since when.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

struct StageStatus {
  std::string name;
  std::string from;
  std::string target;
  std::optional<Candidate> candidate;  ///< nullopt when the target cannot be read
  std::string problem;                 ///< why there is no candidate
  std::optional<StageEntry> entered;   ///< when the candidate entered the stage
};

/// The state of every stage of a pipeline, in pipeline order.
/// A remote repository is read in `workdir` when given (--workdir: a kept clone), else in a
/// clone of its own.
Result<std::vector<StageStatus>> status(const pipeline::Pipeline& pipeline,
                                        const std::optional<std::filesystem::path>& history,
                                        const std::optional<std::filesystem::path>& workdir = {});

}  // namespace promote::promoter
