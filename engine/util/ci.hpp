#pragma once
// The CI system promote runs in, told by its environment variables.

#include <string>

namespace promote::util {

/// Where this run happens: a GitHub Actions job, a GitLab CI job, or neither.
struct CiRun {
  std::string provider;  ///< "github", "gitlab", or "" outside CI
  std::string run_url;   ///< the run (GitHub) or job (GitLab) page, or ""
};

/// GITHUB_ACTIONS=true: provider "github", run URL
/// $GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID (server default
/// https://github.com; "" when the repository or run id is unset). GITLAB_CI=true: provider
/// "gitlab", run URL $CI_JOB_URL. Otherwise both empty.
CiRun detect_ci();

/// The environment variables detect_ci() builds the run URL from.
inline constexpr const char* k_ci_run_variables[] = {"GITHUB_SERVER_URL", "GITHUB_REPOSITORY",
                                                     "GITHUB_RUN_ID", "CI_JOB_URL"};

}  // namespace promote::util
