#pragma once
// Which pipeline a record belongs to. Several pipeline files may share a repository and a
// history database; each reads only its own records: the rows of the history, the git
// notes, and the promote commits (their Promote-Pipeline trailers).

#include <string_view>

#include "engine/history/history.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

/// The trailers that name the pipeline of a promote commit.
inline constexpr const char* k_pipeline_trailer = "Promote-Pipeline";
inline constexpr const char* k_pipeline_file_trailer = "Promote-Pipeline-File";

/// The identity of `pipeline`: its name, and its file relative to the root of the git working
/// tree that holds it ('/'-separated, as git writes paths), or the file's name when no
/// working tree holds it.
history::PipelineId pipeline_identity(const pipeline::Pipeline& pipeline);

/// Whether the commit with `message` may be a promotion of `pipeline`: its Promote-Pipeline
/// trailer names it (and its Promote-Pipeline-File, when there is one, names its file), or it
/// has no Promote-Pipeline trailer at all (a commit made before promote wrote one).
bool commit_of(std::string_view message, const history::PipelineId& pipeline);

}  // namespace promote::promoter
