#pragma once
// The promotion history: every attempt, its gate verdicts and their evidence, in SQLite.
// The schema is documented in schemas/history-v1.sql and the migrations after it; the hash
// chain that makes edits evident in schemas/history-v5.sql; the records of several pipelines
// in one database in schemas/history-v6.sql; what each place of a target held before in
// schemas/history-v7.sql; the database's id, for the anchors of its chains in git, in
// schemas/history-v8.sql (anchor.hpp).

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/history/anchor.hpp"

namespace SQLite {
class Database;
}

namespace promote::history {

/// Which pipeline records belong to: its metadata.name and its file, relative to the root of
/// the git working tree holding it, '/'-separated ("deploy/promote.yaml").
struct PipelineId {
  std::string name;
  std::string file;  ///< "": any file (a pipeline named by its name alone)
};

/// Whether a record of pipeline `name` written from `file` belongs to `pipeline`: the names
/// are equal, and the files are too unless one of them is "" (a record written before
/// promote recorded the file counts for every pipeline of its name).
bool belongs_to(const std::string& name, const std::string& file, const PipelineId& pipeline);

/// A file a gate read, with the digest of its bytes.
struct EvidenceRecord {
  std::string path;
  std::string sha256;
};

/// One gate's verdict in a promotion.
struct GateRecord {
  std::string name;     ///< the gate's name in the stage (defaults to its use)
  std::string use;      ///< gate type: "junit", "soak"
  std::string status;   ///< pass|warn|fail|pending|error
  std::string summary;
  nlohmann::json details;  ///< an object
  nlohmann::json config;   ///< the gate's validated config
  std::vector<EvidenceRecord> evidence;
  std::optional<long long> retry_after_seconds;
};

/// One attempt to move a candidate into a stage.
struct PromotionRecord {
  std::string id;            ///< promotion id, unique (the caller makes it)
  std::string pipeline;      ///< metadata.name
  std::string stage;         ///< target stage
  std::string from;          ///< source stage or ""
  std::string candidate_id;  ///< 64 hex
  nlohmann::json images;     ///< {"api": "ghcr.io/acme/api:1.4.2"}
  std::string outcome;       ///< promoted|proposed|no-op|blocked|pending|error|verified
  std::string actor;
  std::string reason;        ///< free text, may be ""
  std::string ci_provider;   ///< "github", "gitlab" or ""
  std::string ci_run_url;    ///< may be ""
  std::string commit;        ///< may be ""
  std::string error;         ///< error message when outcome is error, else ""
  std::chrono::system_clock::time_point started;
  std::chrono::system_clock::time_point finished;
  std::vector<GateRecord> gates;  ///< in declaration order
  bool break_glass = false;       ///< time windows were overridden (--break-glass)
  std::string pull_request;       ///< web URL of the pull/merge request, or ""
  std::string rollback_of;        ///< a rollback: the promotion whose candidate it put back
  bool gates_skipped = false;     ///< a rollback with --skip-gates
  nlohmann::json previous = nlohmann::json::object();  ///< image -> what the target held before
  /// When the target held an image at several values before: what each place held,
  /// [{"file": ..., "image": ..., "value": ...}] (PlaceValue); else an empty array.
  nlohmann::json places = nlohmann::json::array();
  std::vector<std::string> files;  ///< the files the promotion changed (or would have)
  std::string hash;  ///< the chain hash, set by History (ignored by `record`)
  std::string pipeline_file;  ///< PipelineId::file; "" in a record written before it was kept
  nlohmann::json charts = nlohmann::json::object();   ///< chart name -> version promoted
  nlohmann::json carried = nlohmann::json::object();  ///< carried file name -> sha256 (hex)
  /// Outcome "verified": since when the stage runs the release healthy (what a soak with
  /// `since: healthy` counts from); nullopt for every other outcome.
  std::optional<std::chrono::system_clock::time_point> healthy_since = std::nullopt;
};

/// One `promote approve` or `promote reject`.
struct ApprovalRecord {
  std::string pipeline;
  std::string stage;
  std::string candidate_id;  ///< 64 hex
  std::string decision;      ///< approve|reject
  std::string actor;
  std::string reason;
  std::chrono::system_clock::time_point at;
  std::string hash{};  ///< the chain hash, set by History (ignored by `record_approval`)
  std::string pipeline_file{};  ///< PipelineId::file; "" in a record written before it was kept
};

/// One `promote hold` or `promote release` of a stage.
struct HoldRecord {
  std::string pipeline;
  std::string stage;
  std::string action;  ///< hold|release
  std::string actor;
  std::string reason;
  std::chrono::system_clock::time_point at;
  std::string hash{};  ///< the chain hash, set by History (ignored by `record_hold`)
  std::string pipeline_file{};  ///< PipelineId::file; "" in a record written before it was kept
};

/// Which promotions `History::list` returns; unset fields match everything.
struct Query {
  std::optional<std::string> id;  ///< one promotion, by its id
  std::optional<PipelineId> pipeline;  ///< the records that belong to it (belongs_to)
  std::optional<std::string> stage;
  std::optional<std::string> outcome;
  std::optional<std::string> candidate_id;
  std::optional<std::string> actor;
  /// An image: its name in the pipeline ("api"), its repository ("ghcr.io/acme/api") or the
  /// whole reference.
  std::optional<std::string> image;
  std::optional<std::chrono::system_clock::time_point> since;  ///< started at or after
  std::optional<std::chrono::system_clock::time_point> until;  ///< started before
  std::size_t limit = 0;                                        ///< 0: no limit
  bool with_gates = true;  ///< false: leave `gates` empty (a listing that does not show them)
};

/// Where `History::verify` found the chain broken.
struct ChainBreak {
  std::string table;  ///< "promotions", "approvals" or "holds"
  long long seq = 0;  ///< the row's seq (for a missing row: the seq that is missing)
  std::string id;     ///< the promotion id, or "" for the other tables
  std::string why;    ///< "its hash does not match its content", "row 12 is missing", ...
};

/// What `History::verify` checked.
struct Verification {
  std::size_t promotions = 0;
  std::size_t approvals = 0;
  std::size_t holds = 0;
  std::string head;  ///< the hash of the newest promotion ("" when there is none)
  std::optional<ChainBreak> broken;  ///< the first break, in table order, then of the anchors
  std::string database;              ///< the database's id ("" when it has none)
  std::size_t anchors = 0;           ///< anchors of this database checked
  std::size_t other_anchors = 0;     ///< anchors of other databases, not checked
};

/// What `History::merge` did.
struct MergeCount {
  std::size_t promotions = 0;
  std::size_t approvals = 0;
  std::size_t holds = 0;
};

/// A record as the canonical JSON object promote hashes and writes to git notes: every field,
/// times as format_time text; a promotion with its gates and evidence in order. The
/// "pipeline_file" member is left out when it is "", and a promotion's "places" when it is
/// empty, so that a record written before they were kept has the canonical form (and hash) it
/// had then.
nlohmann::json to_json(const PromotionRecord& record);
nlohmann::json to_json(const ApprovalRecord& approval);
nlohmann::json to_json(const HoldRecord& hold);

/// The record a `to_json` object holds ("pipeline_file" may be missing: ""; "places" too: an
/// empty array); fails (input) on a missing field, a wrong type or a bad time, naming the
/// field.
Result<PromotionRecord> promotion_from_json(const nlohmann::json& value);
Result<ApprovalRecord> approval_from_json(const nlohmann::json& value);
Result<HoldRecord> hold_from_json(const nlohmann::json& value);

/// One line of the git note refs/notes/promote: {"promotion": {...}}, {"approval": {...}} or
/// {"hold": {...}}, compact, sorted keys, no newline.
std::string note_line(const PromotionRecord& record);
std::string note_line(const ApprovalRecord& approval);
std::string note_line(const HoldRecord& hold);

/// The next chain hash: sha256 hex of `previous` followed by `canonical`.
std::string chain_hash(const std::string& previous, const std::string& canonical);

/// The schema version this build creates and understands.
inline constexpr int k_schema_version = 10;

/// A time as ISO-8601 UTC with milliseconds ('2026-11-23T18:32:00.123Z'), truncated to the
/// millisecond; such strings sort as the times do.
std::string format_time(std::chrono::system_clock::time_point time);

/// Parses 'YYYY-MM-DDTHH:MM:SS.mmmZ' (the fraction may be left out); fails (input) on any
/// other text or an impossible date or time.
Result<std::chrono::system_clock::time_point> parse_time(std::string_view text);

/// A connection to a history database. Movable; a moved-from History must not be used.
/// Several History objects, in one process or several, may write the same file.
class History {
 public:
  /// Opens or creates the database at `path` (creating parent directories) in WAL mode with a
  /// busy timeout of 10 s and foreign keys on, then migrates it to `k_schema_version`, one
  /// transaction per step. Fails (input) when the file cannot be opened, is not a database, or
  /// has a schema version newer than this build knows.
  static Result<History> open(const std::filesystem::path& path);

  /// The database at `path` opened as `open` does when it exists; nullopt when there is none
  /// (nothing recorded yet), which is never created. Fails as `open` does.
  static Result<std::optional<History>> open_existing(const std::filesystem::path& path);

  History(History&& other) noexcept;
  History& operator=(History&& other) noexcept;
  ~History();

  /// Inserts the promotion with its gates and evidence in one transaction. JSON values are
  /// stored as text; invalid UTF-8 in their strings is replaced by U+FFFD. Fails (internal)
  /// when the record breaks the schema (duplicate id, unknown outcome or status, candidate id
  /// that is not 64 hex), (input) when the database cannot be written.
  Result<void> record(const PromotionRecord& record);

  /// Promotions matching `query`, newest first (by started, then insertion order), with their
  /// gates and evidence. Fails (input) when the database cannot be read or holds a value
  /// promote did not write.
  Result<std::vector<PromotionRecord>> list(const Query& query) const;

  /// When `candidate_id` last entered `stage` of `pipeline`: the finished time of the newest
  /// promotion of that pipeline with outcome "promoted" for that stage and candidate, or
  /// nullopt when there is none. `commit`, when given, is set to that promotion's commit ("" when
  /// it recorded none).
  Result<std::optional<std::chrono::system_clock::time_point>> entered(
      const PipelineId& pipeline, const std::string& stage, const std::string& candidate_id,
      std::string* commit = nullptr) const;

  /// When the verification gates of `stage` of `pipeline` first saw the release that `commit`
  /// brought into it running healthy: the healthy_since of the oldest "verified" promotion of
  /// that stage and commit, and its id; nullopt when there is none.
  struct Healthy {
    std::chrono::system_clock::time_point since;
    std::string id;
  };
  Result<std::optional<Healthy>> healthy(const PipelineId& pipeline, const std::string& stage,
                                         const std::string& commit) const;

  /// Adds an approval or a rejection. Fails (internal) when it breaks the schema (unknown
  /// decision, candidate id that is not 64 hex), (input) when the database cannot be written.
  Result<void> record_approval(const ApprovalRecord& approval);

  /// Every approval and rejection of `candidate_id` for `stage` of `pipeline`, oldest first.
  Result<std::vector<ApprovalRecord>> approvals(const PipelineId& pipeline,
                                                const std::string& stage,
                                                const std::string& candidate_id) const;

  /// Adds a hold or a release. Fails (internal) when it breaks the schema (unknown action),
  /// (input) when the database cannot be written.
  Result<void> record_hold(const HoldRecord& hold);

  /// The hold in force on `stage` of `pipeline` (the newest of its rows, when that is a hold).
  Result<std::optional<HoldRecord>> hold(const PipelineId& pipeline,
                                         const std::string& stage) const;

  /// Recomputes the hash chain of every table and checks that no row is missing (seq runs
  /// from 1 without a gap up to the highest ever given out), then that each of `anchors` of
  /// this database (the others are counted) names a row the database holds, with the hash
  /// anchored. Fails (input) only when the database cannot be read; a broken chain, or an
  /// anchor the database does not match, is reported in the result.
  Result<Verification> verify(const std::vector<PlacedAnchor>& anchors = {}) const;

  /// The database's id (meta.database_id), "" when it has none. Fails (input) when the
  /// database cannot be read.
  Result<std::string> database_id() const;

  /// The anchor of the database as it is now. Fails (input) when it cannot be read.
  Result<Anchor> anchor() const;

  /// The anchor the database will have once `record` is recorded with nothing else written
  /// before it: call it under the history's write lock (write_lock.hpp). Fails (input) when
  /// the database cannot be read.
  Result<Anchor> anchor_after(const PromotionRecord& record) const;

  /// Adds the records it does not hold yet (promotions by id, approvals and holds by their
  /// content), in the order of their times, in one transaction; returns how many were added.
  /// For `promote history sync`, which reads them from the git notes.
  Result<MergeCount> merge(std::vector<PromotionRecord> promotions,
                           std::vector<ApprovalRecord> approvals, std::vector<HoldRecord> holds);

  /// How many promotions, approvals and holds (or releases) of `pipeline` (belongs_to) the
  /// database holds. Fails (input) when it cannot be read.
  Result<MergeCount> counts(const PipelineId& pipeline) const;

  /// How many promotions of `pipeline` each stage has per outcome, and the finished time of
  /// the newest "promoted" one (for a service's metrics).
  struct StageOutcomes {
    std::string stage;
    std::string outcome;
    std::size_t count = 0;
    std::optional<std::chrono::system_clock::time_point> last_finished;
  };
  Result<std::vector<StageOutcomes>> outcomes(const PipelineId& pipeline) const;

  /// Every approval and every hold or release, oldest first.
  Result<std::vector<ApprovalRecord>> all_approvals() const;
  Result<std::vector<HoldRecord>> all_holds() const;

  /// The schema version of the database, after migration.
  int schema_version() const { return m_schema_version; }

  /// The path the database was opened at.
  const std::filesystem::path& path() const { return m_path; }

 private:
  History(std::filesystem::path path, std::unique_ptr<SQLite::Database> db, int version);

  std::filesystem::path m_path;
  std::unique_ptr<SQLite::Database> m_db;
  int m_schema_version = 0;
};

}  // namespace promote::history
