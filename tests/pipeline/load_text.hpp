#pragma once
// Loading pipeline texts in the pipeline tests: written to promote.yaml in a temporary directory
// and loaded with the fake gate catalog of test_pipeline.cpp (junit and soak).

#include <doctest/doctest.h>

#include <string>

#include "engine/pipeline/pipeline.hpp"
#include "tests/support/support.hpp"

namespace promote::test {

/// The gate catalog of the pipeline tests (test_pipeline.cpp): junit and soak, validated.
const pipeline::GateCatalog& fake_catalog();

/// Writes `text` to DIR/promote.yaml and loads it.
inline Result<pipeline::Pipeline> load_text(const TempDir& dir, const std::string& text) {
  write_text(dir / "promote.yaml", text);
  return pipeline::load(dir / "promote.yaml", fake_catalog());
}

/// Loads `text`, which must be invalid (a config error), and returns the message with the
/// temporary directory cut from the file names, so that they read "promote.yaml:LINE:COL: ...".
inline std::string load_errors(const std::string& text) {
  TempDir dir;
  auto result = load_text(dir, text);
  REQUIRE_MESSAGE(result.has_error(), "accepted:\n" << text);
  CHECK(result.error().kind == ErrorKind::config);
  std::string message = result.error().message;
  const std::string prefix = dir.path().string() + "/";
  for (auto at = message.find(prefix); at != std::string::npos; at = message.find(prefix)) {
    message.erase(at, prefix.size());
  }
  return message;
}

}  // namespace promote::test
