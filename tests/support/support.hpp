#pragma once
// Test helpers: corpus lookup, temporary directories, running programs.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promote::test {

namespace fs = std::filesystem;

/// The shared corpus: $PROMOTE_CORPUS, else ../shared/corpus beside the source tree;
/// nullopt when neither exists.
std::optional<fs::path> corpus_dir();

/// For `TEST_CASE("..." * doctest::skip(!has_corpus()))`: whether the corpus is here;
/// prints once to stderr why the corpus cases are skipped when it is not.
bool has_corpus();

/// Whether a program is on PATH; prints once to stderr why its cases are skipped when not.
bool has_program(const std::string& name);

/// Whether /usr/bin/python3 can import jsonschema and yaml (Debian's python3-jsonschema
/// and python3-yaml), for the schema cases; prints once why they are skipped when not.
bool has_python_jsonschema();

/// Whether Debian's prometheus and prometheus-pushgateway are installed; says so when not.
bool has_prometheus();

/// Sets an environment variable (or unsets it, with nullopt) until the end of the scope, then
/// puts back what it was.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::optional<std::string>& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string m_name;
  std::optional<std::string> m_old;
};

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return m_path; }
  fs::path operator/(const fs::path& child) const { return m_path / child; }

 private:
  fs::path m_path;
};

/// What a program printed and how it ended.
struct CommandResult {
  int exit_code = -1;  ///< the exit status, or 128 + signal
  std::string out;
  std::string err;
};

/// Runs argv (no shell) in `cwd` with `env` added to the environment ("" value unsets)
/// and `input` on stdin.
CommandResult run(const std::vector<std::string>& argv, const fs::path& cwd = {},
                  const std::map<std::string, std::string>& env = {},
                  const std::string& input = {});

/// Runs `bash -c script` in `cwd`; fails the test when it exits non-zero.
std::string sh(const std::string& script, const fs::path& cwd = {});

/// The promote binary built with the tests.
fs::path promote_binary();

/// Whether `part` occurs in `text`.
inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

/// Whole-file read and write.
std::string read_text(const fs::path& path);
void write_text(const fs::path& path, const std::string& text);

}  // namespace promote::test
