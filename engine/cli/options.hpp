#pragma once
// What the command line's handlers share (internal to engine/cli): the parsed flags, and the
// few steps every command takes the same way. app.cpp parses and dispatches; the history, audit
// and report commands are in history_commands.cpp.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::cli {

/// Every flag of every command, as parsed.
struct Options {
  std::string file = "promote.yaml";
  bool file_given = false;  ///< -f was on the command line
  std::string pipeline;     ///< history --pipeline NAME
  bool all_pipelines = false;
  std::string to;
  std::vector<std::string> images;
  std::vector<std::string> charts;  ///< --chart NAME=VERSION
  std::string tag;                  ///< --tag
  std::string group;                ///< --group
  std::string images_from;          ///< --images-from
  bool dry_run = false;
  std::string output = "text";
  std::string history;
  std::string actor;
  std::string reason;
  std::string stage;
  std::string wait;
  std::string promotion_id;
  std::string candidate;
  bool break_glass = false;
  std::string wait_merged;
  std::string workdir;
  bool rollback = false;
  std::string rollback_to;
  bool skip_gates = false;
  std::string image;
  std::string outcome;
  std::string since;
  std::string until;
  std::size_t limit = 100;
  std::vector<std::string> files;         ///< serve: -f, repeated
  std::string listen = "127.0.0.1:8080";  ///< serve --listen
  std::string tokens;                     ///< serve --tokens
  std::string log_format = "text";        ///< serve --log-format: text or json
};

/// `promote serve`'s graceful stop on SIGTERM: the requests being answered get this long...
inline constexpr std::chrono::seconds k_serve_request_grace{10};
/// ...then the promotion being made this long to finish, before the signal ends promote (a pod's
/// terminationGracePeriodSeconds must cover both, and util::k_termination_grace twice).
inline constexpr std::chrono::minutes k_serve_promotion_grace{5};

/// Prints the error (and, with `json`, its JSON document) and returns its exit code.
int fail(const Error& error, bool json);

/// --history as a path, when given.
std::optional<std::filesystem::path> history_flag(const Options& options);

/// The pipeline of -f, with the built-in gates and the plugins it names.
Result<pipeline::Pipeline> load(const Options& options);

/// `promote history`: the records of the pipeline (or of --pipeline NAME, or of all).
int run_history(const Options& options);
/// `promote history sync`: the records in the git notes added to the history.
int run_sync(const Options& options);
/// `promote audit verify`: the hash chain checked.
int run_verify(const Options& options);
/// `promote history show ID` (and `explain ID`): one recorded attempt.
int run_show(const Options& options);
/// `promote verify --stage S`: the stage's verification gates on what it holds now.
int run_verify_stage(const Options& options);
/// `promote serve`: the pipelines' HTTP API until a termination signal.
int run_serve(const Options& options);
/// `promote report`: DORA figures per stage.
int run_report(const Options& options);

}  // namespace promote::cli
