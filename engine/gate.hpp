#pragma once
// The vocabulary shared by gates, the scheduler and the reports: Verdict, Evidence,
// the Gate interface and what a gate is told about the promotion it judges.

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/pipeline/candidate.hpp"

namespace promote {

/// A file a gate read, with the digest of the bytes it judged.
struct Evidence {
  std::string path;    ///< as configured (relative to the pipeline file) or absolute
  std::string sha256;  ///< hex digest of the file's content
};

/// A gate's judgement of (candidate, stage).
struct Verdict {
  enum class Status { pass, warn, fail, pending, error };
  Status status = Status::error;
  std::string summary;     ///< one line a person reads
  nlohmann::json details;  ///< what an auditor reads
  std::optional<std::chrono::seconds> retry_after;  ///< when pending: when to look again
  std::vector<Evidence> evidence;
  /// A verification gate's pass: since when the stage it observes runs the candidate healthy
  /// (Argo CD's operation finishedAt, Flux's Ready lastTransitionTime, the time a rollout was
  /// seen complete); what a soak with `since: healthy` counts from.
  std::optional<std::chrono::system_clock::time_point> healthy_since = std::nullopt;
  /// How long the scheduler spent on the gate, its retries included (set by the scheduler;
  /// nullopt for a gate it did not run). Not recorded: it is for the service's metrics.
  std::optional<std::chrono::duration<double>> took = std::nullopt;

  static Verdict make(Status status, std::string summary, nlohmann::json details = {}) {
    return Verdict{status, std::move(summary), std::move(details), std::nullopt,
                   {},     std::nullopt,       std::nullopt};
  }
};

/// "pass", "warn", "fail", "pending", "error".
const char* to_string(Verdict::Status status);

/// Whether a status lets the promotion go ahead (pass or warn).
inline bool passes(Verdict::Status status) {
  return status == Verdict::Status::pass || status == Verdict::Status::warn;
}

/// When a candidate entered a stage, and which record says so.
struct StageEntry {
  std::chrono::system_clock::time_point at;
  std::string source;  ///< "history", "commit <sha> (Promote trailers)", "commit <sha> (last change)"
  std::string commit = {};  ///< the commit that brought the candidate into the stage; "" unknown
};

/// Since when a stage runs the release a commit brought into it healthy, and what says so.
struct HealthyEntry {
  std::chrono::system_clock::time_point at;
  std::string source;  ///< "verification <id>" (the history), "argocd, kubernetes (this run)"
};

/// Answers when a candidate entered a stage; abstract so tests can use a fake clock.
class Timeline {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Timeline() = default;
  /// The current time.
  virtual TimePoint now() const = 0;
  /// When `candidate` last entered `stage` (its images became what they are now), or
  /// nullopt when nothing says so; fails when the record could not be read.
  virtual Result<std::optional<StageEntry>> entered(const std::string& stage,
                                                    const Candidate& candidate) const = 0;
  /// When the verification gates of `stage` first saw the release that `commit` brought into
  /// it running healthy (a verification event), or nullopt when none did yet; fails when the
  /// record could not be read.
  virtual Result<std::optional<HealthyEntry>> healthy(const std::string& /*stage*/,
                                                      const std::string& /*commit*/) const {
    return std::optional<HealthyEntry>();
  }
};

/// Answers questions about the commits of the pipeline's repository (the local clone);
/// abstract so that gates need not open a repository.
class CommitGraph {
 public:
  virtual ~CommitGraph() = default;
  /// Whether `commit` is `revision` or one of its ancestors (both commit ids, 40 hex); nullopt
  /// when the repository does not know `revision` (not fetched yet, another repository's, or
  /// not a commit id). Fails when the repository cannot be read.
  virtual Result<std::optional<bool>> contains(const std::string& revision,
                                               const std::string& commit) const = 0;
};

/// One recorded decision on a candidate for a stage: an approval or a rejection.
struct Approval {
  std::string actor;
  std::string candidate_id;  ///< 64 hex
  std::string stage;
  bool approve = true;       ///< false: a rejection
  std::string reason;
  std::chrono::system_clock::time_point at;
};

/// Where approvals are kept (the history); abstract so tests can use a fake.
class ApprovalBook {
 public:
  virtual ~ApprovalBook() = default;
  /// Every decision on `candidate_id` for `stage`, oldest first.
  virtual Result<std::vector<Approval>> decisions(const std::string& stage,
                                                  const std::string& candidate_id) const = 0;
};

/// What a gate knows about the promotion it judges.
struct GateContext {
  const Candidate& candidate;
  std::string stage;                  ///< the stage being entered
  std::optional<std::string> from;    ///< its source stage, if any
  std::filesystem::path base_dir;     ///< relative paths in `with:` resolve here
  const Timeline& timeline;
  std::string pipeline = {};          ///< the pipeline's metadata.name
  std::string actor = {};             ///< who promotes (util::current_actor unless --actor)
  const ApprovalBook* approvals = nullptr;  ///< null: approvals cannot be read
  bool break_glass = false;           ///< an override of time windows was asked for
  /// Told one line on what a long evaluation is doing ("prometheus: sample 2 of 5 ..."), for
  /// a progress line; may be empty. Called on the gate's own thread.
  std::function<void(const std::string&)> progress = {};
  /// Where the pipeline counts signed records only (trust.signed): who the promoter's signing
  /// key is in allowed_signers, whose approval is the promoter's own too; else "".
  std::string signer = {};
  /// The commits of the pipeline's repository (for gates that compare a deployed revision
  /// with the commit that brought the candidate into a stage); null: they cannot be read.
  const CommitGraph* commits = nullptr;

  /// The same context with another timeline.
  GateContext with_timeline(const Timeline& other) const {
    return GateContext{candidate, stage,     from,        base_dir, other,  pipeline,
                       actor,     approvals, break_glass, progress, signer, commits};
  }
};

/// One configured gate (one `use:` entry of a stage). Built by a factory that has
/// already validated its `with:` block; evaluation never throws for an expected
/// failure: it returns a verdict with status `error` instead.
class Gate {
 public:
  virtual ~Gate() = default;
  virtual boost::asio::awaitable<Verdict> evaluate(const GateContext& context) = 0;
  /// The gate's validated configuration, as recorded with its verdict.
  virtual nlohmann::json config() const = 0;
  /// Whether the gate judges the stage the candidate comes from (soak), so that it cannot
  /// apply to a stage without `from`; the pipeline loader refuses it there.
  virtual bool needs_source() const { return false; }
  /// Whether the gate verifies the running system of the stage it judges (argocd, flux,
  /// kubernetes): such a gate may stand in a stage's `verify:`, and its pass says since when
  /// the stage runs the candidate healthy (Verdict::healthy_since).
  virtual bool verifies() const { return false; }
  /// Whether the gate reads what the verification gates of its stage saw in the same run (a
  /// soak counted from a healthy deployment): it is evaluated after them.
  virtual bool after_verification() const { return false; }
};

}  // namespace promote
