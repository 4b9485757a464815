#pragma once
// What the release tests ask of a scratch repository, as JSON: a command's document, and a
// stage's row of `promote status`.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/scratch_repo.hpp"

namespace promote::test {

/// Runs promote with `--output json` in the checkout, checks that it exits with `status`, and
/// returns the document it printed.
inline nlohmann::json run_json(const ScratchRepo& repo, std::vector<std::string> args,
                               int status = 0) {
  args.push_back("--output");
  args.push_back("json");
  const auto result = repo.promote(args);
  INFO("stdout: " << result.out << "\nstderr: " << result.err);
  CHECK(result.exit_code == status);
  return nlohmann::json::parse(result.out);
}

/// The row of stage `name` in `promote status --output json`.
inline nlohmann::json stage_status(const ScratchRepo& repo, const std::string& name) {
  const nlohmann::json status = run_json(repo, {"status"});
  for (const auto& stage : status["stages"]) {
    if (stage["name"] == name) {
      return stage;
    }
  }
  FAIL("no stage " << name);
  return {};
}

}  // namespace promote::test
