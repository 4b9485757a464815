#pragma once
// What `promote validate` checks of the stages' targets on disk, beyond the pipeline file: that
// each path is there and is what its kind needs, that each Helm value path is in its values
// file, and that each setter marker names an image of the pipeline.

#include "engine/pipeline/config_node.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

/// Checks every stage's target under the pipeline file's directory, for a pipeline whose
/// repository is the one that holds it (url "."), and adds each problem to `problems` as
/// `FILE:LINE:COL: what`: at the path in the pipeline file when a target path does not exist,
/// when a kustomize path is a file or a directory without a kustomization file, when a Helm
/// values file is a directory, when a Helm value path of an image (a digest's aside, which an
/// edit adds beside its tag) is not in its file (naming the nearest part that is, as
/// FILE:LINE:COL of the values file), and when a values or setters file cannot be read; at the
/// marker in the setters file when a `$imagepolicy` marker names no image of the pipeline.
void check_targets(const pipeline::Pipeline& pipeline, pipeline::Diagnostics& problems);

}  // namespace promote::promoter
