// schemas/pipeline.schema.json and the loader (with the real gate catalog) agree: every
// example and every file in tests/pipeline/valid/ passes both; every file in
// tests/pipeline/invalid/ fails both. The pipeline schema embeds schemas/gates/*.json.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline.hpp"
#include "gates/registry.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::test::run;

const fs::path k_source = PROMOTE_SOURCE_DIR;
const fs::path k_script = k_source / "tests" / "pipeline" / "check_schema.py";


/// Regular files under `dir` (recursively) whose name is `name`, or with extension `ext`.
std::vector<fs::path> files_under(const fs::path& dir, const std::string& name,
                                  const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() &&
        (entry.path().filename() == name || (!ext.empty() && entry.path().extension() == ext))) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> accepted_files() {
  auto files = files_under(k_source / "examples", "promote.yaml", "");
  const auto valid = files_under(k_source / "tests" / "pipeline" / "valid", "", ".yaml");
  files.insert(files.end(), valid.begin(), valid.end());
  return files;
}

std::vector<fs::path> rejected_files() {
  return files_under(k_source / "tests" / "pipeline" / "invalid", "", ".yaml");
}

/// Runs check_schema.py on `files`; returns its output lines, one per file.
std::vector<std::string> check_schema(const std::vector<fs::path>& files, int& exit_code) {
  std::vector<std::string> argv = {"/usr/bin/python3", k_script.string()};
  for (const auto& file : files) {
    argv.push_back(file.string());
  }
  const auto result = run(argv);
  INFO("stderr: " << result.err);
  exit_code = result.exit_code;
  std::vector<std::string> lines;
  std::string line;
  for (char c : result.out) {
    if (c == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  return lines;
}

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("the example and valid pipelines are found") {
    const auto accepted = accepted_files();
    CHECK(std::find(accepted.begin(), accepted.end(), k_source / "examples" / "promote.yaml") !=
          accepted.end());
    CHECK(accepted.size() >= 4);
    CHECK(rejected_files().size() >= 10);
  }

  TEST_CASE("the loader accepts every example and every valid pipeline") {
    for (const auto& file : accepted_files()) {
      CAPTURE(file);
      auto result = promote::pipeline::load(file, promote::gates::Catalog::for_pipeline(file));
      CHECK_MESSAGE(result.has_value(), (result ? std::string() : result.error().message));
    }
  }

  TEST_CASE("the loader rejects every invalid pipeline") {
    for (const auto& file : rejected_files()) {
      CAPTURE(file);
      auto result = promote::pipeline::load(file, promote::gates::Catalog::for_pipeline(file));
      REQUIRE_MESSAGE(result.has_error(), "accepted");
      CHECK(result.error().kind == promote::ErrorKind::config);
      CHECK(result.error().message.starts_with(file.string() + ":"));
    }
  }

  TEST_CASE("the pipeline schema embeds the gate schemas as they are (schemas/bundle.py)" *
            doctest::skip(!promote::test::has_program("python3"))) {
    const auto result = run({"/usr/bin/python3", (k_source / "schemas" / "bundle.py").string(),
                             "--check"});
    INFO(result.err);
    CHECK(result.exit_code == 0);
  }

  TEST_CASE("the schema accepts every example and every valid pipeline" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    const auto files = accepted_files();
    int exit_code = -1;
    const auto lines = check_schema(files, exit_code);
    REQUIRE(lines.size() == files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
      CHECK(lines[i] == "OK " + files[i].string());
    }
    CHECK(exit_code == 0);
  }

  TEST_CASE("the schema rejects every invalid pipeline" * doctest::skip(!promote::test::has_python_jsonschema())) {
    const auto files = rejected_files();
    int exit_code = -1;
    const auto lines = check_schema(files, exit_code);
    REQUIRE(lines.size() == files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
      CAPTURE(lines[i]);
      CHECK(lines[i].starts_with("INVALID " + files[i].string() + ": "));
    }
    CHECK(exit_code == 1);
  }

  TEST_CASE("check_schema.py says OK or INVALID per file and exits non-zero on any INVALID" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    promote::test::TempDir dir;
    promote::test::write_text(dir / "good.yaml",
                              promote::test::read_text(k_source / "examples" / "promote.yaml"));
    promote::test::write_text(dir / "bad.yaml", "apiVersion: promote/v1\n");
    promote::test::write_text(dir / "broken.yaml", "stages: [\n");
    int exit_code = -1;
    auto lines = check_schema({dir / "good.yaml"}, exit_code);
    CHECK(lines == std::vector<std::string>{"OK " + (dir / "good.yaml").string()});
    CHECK(exit_code == 0);

    lines = check_schema({dir / "good.yaml", dir / "bad.yaml", dir / "broken.yaml"}, exit_code);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "OK " + (dir / "good.yaml").string());
    CHECK(lines[1] == "INVALID " + (dir / "bad.yaml").string() +
                          ": (root): 'kind' is a required property (and 3 more)");
    CHECK(lines[2].starts_with("INVALID " + (dir / "broken.yaml").string() + ": "));
    CHECK(exit_code == 1);
  }
}
