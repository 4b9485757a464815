#pragma once
// The promotion history: every attempt, its gate verdicts and their evidence, in SQLite.
// The schema is documented in schemas/history-v1.sql and the migrations after it.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace SQLite {
class Database;
}

namespace promote::history {

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
  std::string outcome;       ///< promoted|proposed|no-op|blocked|pending|error
  std::string actor;
  std::string reason;        ///< free text, may be ""
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
};

/// One `promote hold` or `promote release` of a stage.
struct HoldRecord {
  std::string pipeline;
  std::string stage;
  std::string action;  ///< hold|release
  std::string actor;
  std::string reason;
  std::chrono::system_clock::time_point at;
};

/// Which promotions `History::list` returns; unset fields match everything.
struct Query {
  std::optional<std::string> id;  ///< one promotion, by its id
  std::optional<std::string> stage;
  std::optional<std::string> outcome;
  std::optional<std::string> candidate_id;
  std::optional<std::chrono::system_clock::time_point> since;  ///< started at or after
  std::size_t limit = 0;                                        ///< 0: no limit
};

/// The schema version this build creates and understands.
inline constexpr int k_schema_version = 4;

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

  /// When `candidate_id` last entered `stage`: the finished time of the newest promotion with
  /// outcome "promoted" for that stage and candidate, or nullopt when there is none.
  Result<std::optional<std::chrono::system_clock::time_point>> entered(
      const std::string& stage, const std::string& candidate_id) const;

  /// Adds an approval or a rejection. Fails (internal) when it breaks the schema (unknown
  /// decision, candidate id that is not 64 hex), (input) when the database cannot be written.
  Result<void> record_approval(const ApprovalRecord& approval);

  /// Every approval and rejection of `candidate_id` for `stage`, oldest first.
  Result<std::vector<ApprovalRecord>> approvals(const std::string& stage,
                                                const std::string& candidate_id) const;

  /// Adds a hold or a release. Fails (internal) when it breaks the schema (unknown action),
  /// (input) when the database cannot be written.
  Result<void> record_hold(const HoldRecord& hold);

  /// The hold in force on `stage` of `pipeline` (its newest row, when that is a hold).
  Result<std::optional<HoldRecord>> hold(const std::string& pipeline,
                                         const std::string& stage) const;

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
