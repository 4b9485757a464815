#include "engine/git/diff.hpp"

#include <git2.h>

namespace promote::git {

std::string unified_diff(const std::string& path, const std::string& before,
                         const std::string& after) {
  if (before == after) {
    return "";
  }
  git_libgit2_init();  // reference counted; balanced below
  git_patch* patch = nullptr;
  std::string out;
  if (git_patch_from_buffers(&patch, before.data(), before.size(), path.c_str(), after.data(),
                             after.size(), path.c_str(), nullptr) == 0) {
    git_buf buffer = GIT_BUF_INIT;
    if (git_patch_to_buf(&buffer, patch) == 0) {
      out.assign(buffer.ptr, buffer.size);
    }
    git_buf_dispose(&buffer);
    git_patch_free(patch);
  }
  git_libgit2_shutdown();
  return out;
}

}  // namespace promote::git
