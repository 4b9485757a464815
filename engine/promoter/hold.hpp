#pragma once
// `promote hold` and `promote release`: stop and resume promotions into a stage. A held
// stage's promotions end `pending` with the hold's reason, without running its gates.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "engine/error.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

struct HoldRequest {
  std::filesystem::path pipeline_file = "promote.yaml";
  std::string stage;
  bool hold = true;    ///< false: release
  std::string reason;  ///< required for a hold
  std::optional<std::filesystem::path> history_path;
  /// Who holds: the one a service authenticated; default util::current_actor(). Where signed
  /// records count, always the signer.
  std::string actor = {};
};

struct HoldResult {
  std::string pipeline;
  std::string stage;
  bool hold = true;
  std::string actor;
  std::string reason;
  std::chrono::system_clock::time_point at;
  std::string warning{};  ///< why the git note (refs/notes/promote) was not written, or ""
};

/// Holds or releases a stage, as the current actor. Fails (usage) on an unknown stage, a
/// hold without a reason, holding a held stage or releasing one that is not held; (input)
/// when the history cannot be read or written.
Result<HoldResult> set_hold(const HoldRequest& request, const pipeline::GateCatalog& gates);

}  // namespace promote::promoter
