#include "engine/util/ci.hpp"

#include <cstdlib>
#include <string_view>

namespace promote::util {

namespace {

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

CiRun detect_ci() {
  CiRun run;
  if (variable("GITHUB_ACTIONS") == "true") {
    run.provider = "github";
    std::string server = variable("GITHUB_SERVER_URL");
    if (server.empty()) {
      server = "https://github.com";
    }
    while (!server.empty() && server.back() == '/') {
      server.pop_back();
    }
    const std::string repository = variable("GITHUB_REPOSITORY");
    const std::string run_id = variable("GITHUB_RUN_ID");
    if (!repository.empty() && !run_id.empty()) {
      run.run_url = server + "/" + repository + "/actions/runs/" + run_id;
    }
  } else if (variable("GITLAB_CI") == "true") {
    run.provider = "gitlab";
    run.run_url = variable("CI_JOB_URL");
  }
  return run;
}

}  // namespace promote::util
