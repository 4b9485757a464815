#pragma once
// The loader's part for a stage's `carry:` (README "Carried files"):
//
//   carry:
//     - envs/{stage}/settings.yaml                    # the file of the same pattern
//     - {from: config/dev.env, to: config/staging.env, name: env}
//     - {file: envs/{stage}/values.yaml, keys: [config.featureFlags], overwrite: true}
//
// In `from` (and `file`), {stage} is the source stage's name; in `to` (which defaults to `from`),
// this stage's.

#include <functional>
#include <optional>
#include <string>

#include "engine/pipeline/config_node.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::pipeline {

/// Checks a path the pipeline names (relative, inside the repository) and returns it normalised,
/// or reports the problem at the node and returns nullopt.
using PathCheck = std::function<std::optional<std::string>(const ConfigNode&, const std::string&)>;

/// Reads `carry:` (one entry or a list of them) into `stage.carry`, every problem reported at its
/// node: a stage without `from`, an unknown key, a pattern without {stage} and no `to` (the file
/// would be carried onto itself), a pair without `name`, a name that cannot go into a commit line,
/// a name twice, an empty or duplicate key, a path `check` refuses.
void read_carry(const ConfigNode& node, Stage& stage, const PathCheck& check);

/// Reports (into `diagnostics`, at the carry entry) a name that stands for two different files or
/// key sets in one stage: a stage's own carry and that of a stage coming from it must agree on
/// what the name is in the stage they share.
void check_carried(const Pipeline& pipeline, Diagnostics& diagnostics);

}  // namespace promote::pipeline
