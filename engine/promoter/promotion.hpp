#pragma once
// One promotion, end to end: load the pipeline, resolve the candidate, plan the
// overlay edits, evaluate the gates, write, commit and push, record the attempt.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/candidate.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/targets.hpp"

namespace promote::promoter {

/// What the user asked for.
/// What a --wait is waiting for, and how long is left.
struct WaitProgress {
  std::string waiting_for;             ///< "soak (in staging for 10m of 2h; 1h50m left)"
  std::chrono::seconds next_check{0};  ///< until the gates are evaluated again
  std::chrono::seconds left{0};        ///< of --wait
  bool tick = false;                   ///< false: a new wait begins
};

struct PromotionResult;

struct Request {
  std::filesystem::path pipeline_file = "promote.yaml";
  std::string stage;
  std::vector<std::string> images;  ///< "NAME=REF" as given to --image
  std::vector<std::string> charts;  ///< "NAME=VERSION" as given to --chart
  std::string tag;                  ///< --tag: every image of the stage (or of `group`) at this tag
  std::string group;                ///< --group: the images --tag sets
  /// --images-from: a file of NAME=REF lines, a JSON object or a dotenv file (images_from.hpp)
  std::optional<std::filesystem::path> images_from;
  bool dry_run = false;
  std::optional<std::filesystem::path> history_path;  ///< default: .promote/history.db beside the pipeline
  /// --workdir: where a remote repository is cloned and kept between runs (default: a
  /// temporary clone per run).
  std::optional<std::filesystem::path> workdir;
  std::string actor;   ///< who asks; default from the environment
  std::string reason;  ///< free text recorded with the attempt
  /// --break-glass: time windows may be overridden (needs a reason); recorded.
  bool break_glass = false;
  /// --wait: while the outcome is pending, wait for the earliest retry_after and
  /// evaluate again, until this much time has passed since the start.
  std::optional<std::chrono::seconds> wait;
  /// Told, under --wait, what is being waited for: once when a wait starts (`tick` false),
  /// then about once a second while it lasts (`tick` true), for a live progress line.
  std::function<void(const WaitProgress&)> on_wait;
  /// Told what a long gate evaluation is doing (metric samples), one line at a time, from
  /// the gate's thread; may be empty.
  std::function<void(const std::string&)> on_progress;
  /// --wait-merged: for strategy pull-request, wait this long for the pull request to be
  /// merged (promoted) or closed (error); still open then: pending.
  std::optional<std::chrono::seconds> wait_merged;
  /// How often --wait-merged asks the forge (default 15 s).
  std::chrono::seconds merge_poll{15};
  /// promote rollback: put back the candidate the stage held before its current one, or the
  /// one promotion `rollback_to` (an id) put there; through the stage's gates unless
  /// `skip_gates` (which needs a reason). A hold does not stop a rollback.
  bool rollback = false;
  std::string rollback_to;
  bool skip_gates = false;
  /// Asked, when set, whether to record an attempt that changed nothing (no-op, blocked or
  /// pending, without a commit or a pull request): `promote serve` evaluates a stage again and
  /// again, and records only what differs from its last evaluation. Unset: every attempt is.
  std::function<bool(const PromotionResult&)> record_unchanged;
};

enum class Outcome { promoted, proposed, no_op, blocked, pending, error, planned };

/// "promoted", "proposed", "no-op", "blocked", "pending", "error", "planned".
const char* to_string(Outcome outcome);

/// One gate's verdict with the gate's identity and configuration.
struct GateResult {
  std::string name;
  std::string use;
  nlohmann::json config;
  Verdict verdict;
};

/// What one place of a stage's target (a file it names; for an overlay, its kustomization)
/// held for an image before a promotion.
struct PlaceValue {
  std::string file;   ///< relative to the repository root
  std::string image;  ///< pipeline image name
  std::string value;  ///< the reference as read
};

/// Everything that happened, for the report and the history.
struct PromotionResult {
  Outcome outcome = Outcome::error;
  bool dry_run = false;
  std::string promotion_id;
  std::string pipeline;
  std::string pipeline_file;  ///< the pipeline file, relative to its repository (scope.hpp)
  std::string stage;
  std::string from;
  Candidate candidate;
  std::map<std::string, std::string> previous;  ///< image name -> reference in the target before
  std::map<std::string, std::string> previous_charts;  ///< chart name -> version pinned before
  /// carried file name -> the digest the stage's file had before (carried.hpp)
  std::map<std::string, std::string> previous_files;
  /// When the target held an image at several values (its places disagreed): the value each
  /// place held before, for those images, in the order of the target's files. Else empty.
  std::vector<PlaceValue> places;
  std::vector<GateResult> gates;
  std::vector<FileChange> changes;
  std::string diff;  ///< unified diff of `changes`
  std::string commit;
  int push_attempts = 0;  ///< pushes tried (more than 1: the remote moved on meanwhile)
  std::string pull_request;  ///< strategy pull-request: the web URL of the pull/merge request
  std::vector<std::string> superseded;  ///< older pull requests of the stage closed (or kept)
  std::string rollback_of;   ///< promote rollback: the promotion whose candidate is put back
  bool gates_skipped = false;  ///< promote rollback --skip-gates
  std::string actor;
  std::string reason;
  std::string ci_provider;  ///< "github", "gitlab" or "" (see util::detect_ci)
  std::string ci_run_url;   ///< the CI run or job page, or ""
  bool break_glass = false;  ///< --break-glass was given
  std::string branch;
  std::optional<Error> error;
  std::vector<std::string> warnings;
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point finished;

  /// 0 promoted/proposed/no-op/planned, 1 blocked, 3 pending, 4 error (or 2 for config errors);
  /// 4 also when it happened but could not be recorded in the history (`error` says why).
  int exit_code() const;
};

/// Runs one promotion. Fails (usage, config) before anything is attempted when the
/// request or the pipeline is wrong; every attempt after that returns a result,
/// recorded in the history unless it is a dry run.
Result<PromotionResult> promote(const Request& request, const pipeline::GateCatalog& gates);

/// The candidate as it stands in a stage's target (all pipeline images); fails when
/// the target lacks an image. `root` is the repository's working directory.
Result<Candidate> candidate_in(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                               const std::filesystem::path& root);

/// The history file for a pipeline: `explicit_path`, else $PROMOTE_HISTORY, else
/// .promote/history.db beside the pipeline file.
std::filesystem::path history_path(const std::filesystem::path& pipeline_file,
                                   const std::optional<std::filesystem::path>& explicit_path);

/// Fails (input) when the history would be the default one (no explicit path, no
/// PROMOTE_HISTORY) and `.promote` beside the pipeline file is a symbolic link: a link
/// committed to the repository would take promote's writes (the history, its journal, its
/// locks) wherever it points. Every command that opens the history checks it first.
Result<void> check_history_place(const std::filesystem::path& pipeline_file,
                                 const std::optional<std::filesystem::path>& explicit_path);

/// A new promotion id: UTC time and 8 random hex, e.g. 20261123T183200Z-3f9a1c2b.
std::string new_promotion_id(std::chrono::system_clock::time_point now);

}  // namespace promote::promoter
