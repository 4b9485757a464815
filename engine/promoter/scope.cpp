#include "engine/promoter/scope.hpp"

#include <filesystem>
#include <system_error>

#include "engine/git/repository.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

history::PipelineId pipeline_identity(const pipeline::Pipeline& pipeline) {
  std::error_code ec;
  fs::path file = fs::weakly_canonical(pipeline.file, ec);
  if (ec) {
    file = pipeline.file;
  }
  history::PipelineId id{pipeline.name, file.filename().generic_string()};
  if (auto repository = git::Repository::open(file.parent_path())) {
    const fs::path root = fs::weakly_canonical(repository->workdir(), ec);
    const fs::path relative = file.lexically_relative(ec ? repository->workdir() : root);
    if (!relative.empty() && *relative.begin() != "..") {
      id.file = relative.generic_string();
    }
  }
  return id;
}

bool commit_of(std::string_view message, const history::PipelineId& pipeline) {
  const std::string name = git::trailer(message, k_pipeline_trailer);
  return name.empty() ||
         history::belongs_to(name, git::trailer(message, k_pipeline_file_trailer), pipeline);
}

}  // namespace promote::promoter
