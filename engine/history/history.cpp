#include "engine/history/history.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <system_error>
#include <thread>
#include <utility>

#include "engine/util/json.hpp"

namespace promote::history {

namespace {

namespace chrono = std::chrono;
using Clock = chrono::system_clock;

// schemas/history-v<N>.sql, embedded at build time (the files are the one source).
constexpr const char* k_schema_v1 =
#include "history-v1.sql.inc"
    ;
constexpr const char* k_schema_v2 =
#include "history-v2.sql.inc"
    ;
constexpr const char* k_schema_v3 =
#include "history-v3.sql.inc"
    ;

// The migrations, in order: applying step i brings the database to version i + 1.
constexpr const char* k_schema_v4 =
#include "history-v4.sql.inc"
    ;
constexpr const char* k_migrations[] = {k_schema_v1, k_schema_v2, k_schema_v3, k_schema_v4};
static_assert(std::size(k_migrations) == k_schema_version);

constexpr int k_busy_timeout_ms = 10'000;

Error open_error(const std::filesystem::path& path, const std::string& what) {
  return make_error(ErrorKind::input,
                    "cannot open history database " + path.string() + ": " + what);
}

// A write that breaks a rule of the schema is promote's own bug (internal); anything else
// (a locked, read-only or broken file) is the database's (input).
ErrorKind write_error_kind(const SQLite::Exception& e) {
  return (e.getErrorCode() & 0xff) == SQLITE_CONSTRAINT ? ErrorKind::internal : ErrorKind::input;
}

int user_version(SQLite::Database& db) {
  return db.execAndGet("PRAGMA user_version").getInt();
}

// Switches to WAL and returns the journal mode now in use. The switch upgrades a read lock, for
// which SQLite returns "database is locked" at once rather than risk a deadlock, so this waits
// and retries here, up to the busy timeout.
std::string use_wal(SQLite::Database& db) {
  const auto deadline = chrono::steady_clock::now() + chrono::milliseconds(k_busy_timeout_ms);
  auto pause = chrono::milliseconds(1);
  for (;;) {
    try {
      return db.execAndGet("PRAGMA journal_mode = WAL").getString();
    } catch (const SQLite::Exception& e) {
      if ((e.getErrorCode() & 0xff) != SQLITE_BUSY ||
          chrono::steady_clock::now() + pause > deadline) {
        throw;
      }
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, chrono::milliseconds(50));
  }
}

// The number written by `count` decimal digits at `at`, or nullopt.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::string format_time(Clock::time_point time) {
  const auto ms = chrono::floor<chrono::milliseconds>(time);
  const auto days = chrono::floor<chrono::days>(ms);
  const chrono::year_month_day date{days};
  const chrono::hh_mm_ss clock{ms - days};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(clock.hours().count()),
                static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()),
                static_cast<int>(clock.subseconds().count()));
  return text;
}

Result<Clock::time_point> parse_time(std::string_view text) {
  const auto invalid = [&](const std::string& why) {
    return make_error(ErrorKind::input, "invalid time '" + std::string(text) +
                                            "': " + why);
  };
  const std::string_view shape = "YYYY-MM-DDTHH:MM:SS";
  const bool with_fraction = text.size() == shape.size() + 5;
  if ((text.size() != shape.size() + 1 && !with_fraction) || text.back() != 'Z' ||
      text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || (with_fraction && text[19] != '.')) {
    return invalid("expected YYYY-MM-DDTHH:MM:SS.mmmZ");
  }
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  const auto milli = with_fraction ? digits(text, 20, 3) : std::optional<int>(0);
  if (!year || !month || !day || !hour || !minute || !second || !milli) {
    return invalid("expected YYYY-MM-DDTHH:MM:SS.mmmZ");
  }
  const chrono::year_month_day date{chrono::year(*year),
                                    chrono::month(static_cast<unsigned>(*month)),
                                    chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) {
    return invalid("no such date");
  }
  if (*hour > 23 || *minute > 59 || *second > 59) {
    return invalid("no such time of day");
  }
  const chrono::sys_time<chrono::milliseconds> value =
      chrono::sys_days(date) + chrono::hours(*hour) + chrono::minutes(*minute) +
      chrono::seconds(*second) + chrono::milliseconds(*milli);
  if (value < chrono::ceil<chrono::milliseconds>(Clock::time_point::min()) ||
      value > chrono::floor<chrono::milliseconds>(Clock::time_point::max())) {
    return invalid("out of the range this system's clock can hold");
  }
  return chrono::time_point_cast<Clock::duration>(value);
}

History::History(std::filesystem::path path, std::unique_ptr<SQLite::Database> db, int version)
    : m_path(std::move(path)), m_db(std::move(db)), m_schema_version(version) {}

History::History(History&& other) noexcept = default;
History& History::operator=(History&& other) noexcept = default;
History::~History() = default;

Result<History> History::open(const std::filesystem::path& path) {
  if (path.empty()) {
    return open_error(path, "the path is empty");
  }
  if (const auto parent = path.parent_path(); !parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return open_error(path, "cannot create directory " + parent.string() + ": " + ec.message());
    }
  }
  try {
    auto db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, k_busy_timeout_ms);
    // Foreign keys stay off while migrating: a migration may rebuild a table others refer to.
    db->exec("PRAGMA foreign_keys = OFF");
    int version = user_version(*db);
    const auto too_new = [&] {
      return make_error(ErrorKind::input, "history database " + path.string() +
                                              " has schema version " + std::to_string(version) +
                                              "; this promote knows up to " +
                                              std::to_string(k_schema_version));
    };
    if (version > k_schema_version) {
      return too_new();
    }
    if (version < 0) {
      return open_error(path, "invalid schema version " + std::to_string(version));
    }
    const std::string mode = use_wal(*db);
    if (mode != "wal") {
      return open_error(path, "cannot use the WAL journal mode (it stays '" + mode + "')");
    }
    for (int step = version; step < k_schema_version; ++step) {
      SQLite::Transaction transaction(*db, SQLite::TransactionBehavior::IMMEDIATE);
      // Another connection may have migrated while this one waited for the write lock.
      version = user_version(*db);
      if (version > step) {
        continue;
      }
      db->exec(k_migrations[step]);
      db->exec("PRAGMA user_version = " + std::to_string(step + 1));
      transaction.commit();
    }
    version = user_version(*db);
    if (version > k_schema_version) {
      return too_new();
    }
    db->exec("PRAGMA foreign_keys = ON");
    return History(path, std::move(db), version);
  } catch (const std::exception& e) {
    return open_error(path, e.what());
  }
}

Result<void> History::record(const PromotionRecord& record) {
  const auto failure = [&](ErrorKind kind, const std::string& what) {
    return make_error(kind, "cannot record promotion " + record.id + " in history database " +
                                m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure(ErrorKind::internal, "the database is closed");
  }
  try {
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement promotion(
        *m_db,
        "INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, outcome, "
        "actor, reason, ci_run_url, commit_id, error, started_at, finished_at, break_glass, "
        "pull_request, rollback_of, gates_skipped) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    promotion.bind(1, record.id);
    promotion.bind(2, record.pipeline);
    promotion.bind(3, record.stage);
    promotion.bind(4, record.from);
    promotion.bind(5, record.candidate_id);
    promotion.bind(6, util::dump_json(record.images));
    promotion.bind(7, record.outcome);
    promotion.bind(8, record.actor);
    promotion.bind(9, record.reason);
    promotion.bind(10, record.ci_run_url);
    promotion.bind(11, record.commit);
    promotion.bind(12, record.error);
    promotion.bind(13, format_time(record.started));
    promotion.bind(14, format_time(record.finished));
    promotion.bind(15, record.break_glass ? 1 : 0);
    promotion.bind(16, record.pull_request);
    promotion.bind(17, record.rollback_of);
    promotion.bind(18, record.gates_skipped ? 1 : 0);
    promotion.exec();

    SQLite::Statement gate(
        *m_db,
        "INSERT INTO gate_verdicts (promotion_id, position, name, use, status, summary, details, "
        "config, retry_after_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    SQLite::Statement evidence(
        *m_db,
        "INSERT INTO evidence (promotion_id, gate_position, position, path, sha256) "
        "VALUES (?, ?, ?, ?, ?)");
    for (std::size_t g = 0; g < record.gates.size(); ++g) {
      const GateRecord& verdict = record.gates[g];
      gate.reset();
      gate.bind(1, record.id);
      gate.bind(2, static_cast<std::int64_t>(g));
      gate.bind(3, verdict.name);
      gate.bind(4, verdict.use);
      gate.bind(5, verdict.status);
      gate.bind(6, verdict.summary);
      gate.bind(7, util::dump_json(verdict.details));
      gate.bind(8, util::dump_json(verdict.config));
      if (verdict.retry_after_seconds) {
        gate.bind(9, static_cast<std::int64_t>(*verdict.retry_after_seconds));
      } else {
        gate.bind(9);
      }
      gate.exec();
      for (std::size_t e = 0; e < verdict.evidence.size(); ++e) {
        evidence.reset();
        evidence.bind(1, record.id);
        evidence.bind(2, static_cast<std::int64_t>(g));
        evidence.bind(3, static_cast<std::int64_t>(e));
        evidence.bind(4, verdict.evidence[e].path);
        evidence.bind(5, verdict.evidence[e].sha256);
        evidence.exec();
      }
    }
    transaction.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  } catch (const std::exception& e) {
    return failure(ErrorKind::internal, e.what());
  }
}

Result<std::vector<PromotionRecord>> History::list(const Query& query) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return make_error(ErrorKind::internal,
                      "cannot read history database " + m_path.string() + ": it is closed");
  }
  std::string sql =
      "SELECT id, pipeline, stage, from_stage, candidate_id, images, outcome, actor, reason, "
      "ci_run_url, commit_id, error, started_at, finished_at, break_glass, pull_request, "
      "rollback_of, gates_skipped FROM promotions "
      "WHERE 1";
  if (query.id) {
    sql += " AND id = :id";
  }
  if (query.stage) {
    sql += " AND stage = :stage";
  }
  if (query.outcome) {
    sql += " AND outcome = :outcome";
  }
  if (query.candidate_id) {
    sql += " AND candidate_id = :candidate";
  }
  if (query.since) {
    sql += " AND started_at >= :since";
  }
  sql += " ORDER BY started_at DESC, seq DESC";
  if (query.limit > 0) {
    sql += " LIMIT :limit";
  }
  try {
    // One read transaction, so that the promotions and their gates come from one snapshot.
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::DEFERRED);
    SQLite::Statement select(*m_db, sql);
    if (query.id) {
      select.bind(":id", *query.id);
    }
    if (query.stage) {
      select.bind(":stage", *query.stage);
    }
    if (query.outcome) {
      select.bind(":outcome", *query.outcome);
    }
    if (query.candidate_id) {
      select.bind(":candidate", *query.candidate_id);
    }
    if (query.since) {
      select.bind(":since", format_time(*query.since));
    }
    if (query.limit > 0) {
      select.bind(":limit", static_cast<std::int64_t>(query.limit));
    }
    SQLite::Statement gates(
        *m_db,
        "SELECT position, name, use, status, summary, details, config, retry_after_seconds "
        "FROM gate_verdicts WHERE promotion_id = ? ORDER BY position");
    SQLite::Statement evidence(
        *m_db,
        "SELECT gate_position, path, sha256 FROM evidence WHERE promotion_id = ? "
        "ORDER BY gate_position, position");

    std::vector<PromotionRecord> found;
    std::optional<Error> bad;
    const auto json_column = [&](const std::string& id, const char* column,
                                 const std::string& text) {
      auto value = nlohmann::json::parse(text, nullptr, false);
      if (value.is_discarded()) {
        bad = failure("promotion " + id + ": " + column + ": invalid JSON");
      }
      return value;
    };
    const auto time_column = [&](const std::string& id, const char* column,
                                 const std::string& text) {
      auto value = parse_time(text);
      if (!value) {
        bad = failure("promotion " + id + ": " + column + ": " + value.error().message);
        return Clock::time_point{};
      }
      return *value;
    };
    while (select.executeStep()) {
      PromotionRecord& record = found.emplace_back();
      record.id = select.getColumn(0).getString();
      record.pipeline = select.getColumn(1).getString();
      record.stage = select.getColumn(2).getString();
      record.from = select.getColumn(3).getString();
      record.candidate_id = select.getColumn(4).getString();
      record.images = json_column(record.id, "images", select.getColumn(5).getString());
      record.outcome = select.getColumn(6).getString();
      record.actor = select.getColumn(7).getString();
      record.reason = select.getColumn(8).getString();
      record.ci_run_url = select.getColumn(9).getString();
      record.commit = select.getColumn(10).getString();
      record.error = select.getColumn(11).getString();
      record.started = time_column(record.id, "started_at", select.getColumn(12).getString());
      record.finished = time_column(record.id, "finished_at", select.getColumn(13).getString());
      record.break_glass = select.getColumn(14).getInt() != 0;
      record.pull_request = select.getColumn(15).getString();
      record.rollback_of = select.getColumn(16).getString();
      record.gates_skipped = select.getColumn(17).getInt() != 0;

      gates.reset();
      gates.bind(1, record.id);
      while (gates.executeStep()) {
        GateRecord& gate = record.gates.emplace_back();
        if (gates.getColumn(0).getInt64() != static_cast<long long>(record.gates.size() - 1)) {
          bad = failure("promotion " + record.id + " has a gap in its gate positions");
        }
        gate.name = gates.getColumn(1).getString();
        gate.use = gates.getColumn(2).getString();
        gate.status = gates.getColumn(3).getString();
        gate.summary = gates.getColumn(4).getString();
        gate.details = json_column(record.id, "details", gates.getColumn(5).getString());
        gate.config = json_column(record.id, "config", gates.getColumn(6).getString());
        if (!gates.getColumn(7).isNull()) {
          gate.retry_after_seconds = gates.getColumn(7).getInt64();
        }
      }
      evidence.reset();
      evidence.bind(1, record.id);
      while (evidence.executeStep()) {
        const long long position = evidence.getColumn(0).getInt64();
        if (position < 0 || position >= static_cast<long long>(record.gates.size())) {
          bad = failure("promotion " + record.id + " has evidence for a gate it does not have");
          continue;
        }
        record.gates[static_cast<std::size_t>(position)].evidence.push_back(
            {evidence.getColumn(1).getString(), evidence.getColumn(2).getString()});
      }
      if (bad) {
        return *bad;
      }
    }
    transaction.commit();
    return found;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::optional<Clock::time_point>> History::entered(const std::string& stage,
                                                          const std::string& candidate_id) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return make_error(ErrorKind::internal,
                      "cannot read history database " + m_path.string() + ": it is closed");
  }
  try {
    SQLite::Statement select(
        *m_db,
        "SELECT id, finished_at FROM promotions "
        "WHERE stage = ? AND candidate_id = ? AND outcome = 'promoted' "
        "ORDER BY finished_at DESC, seq DESC LIMIT 1");
    select.bind(1, stage);
    select.bind(2, candidate_id);
    if (!select.executeStep()) {
      return std::optional<Clock::time_point>();
    }
    auto finished = parse_time(select.getColumn(1).getString());
    if (!finished) {
      return failure("promotion " + select.getColumn(0).getString() +
                     ": finished_at: " + finished.error().message);
    }
    return std::optional<Clock::time_point>(*finished);
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<void> History::record_approval(const ApprovalRecord& approval) {
  const auto failure = [&](ErrorKind kind, const std::string& what) {
    return make_error(kind, "cannot record the " + approval.decision + " of " + approval.actor +
                                " in history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure(ErrorKind::internal, "the database is closed");
  }
  try {
    SQLite::Statement insert(*m_db,
                             "INSERT INTO approvals (pipeline, stage, candidate_id, decision, "
                             "actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, approval.pipeline);
    insert.bind(2, approval.stage);
    insert.bind(3, approval.candidate_id);
    insert.bind(4, approval.decision);
    insert.bind(5, approval.actor);
    insert.bind(6, approval.reason);
    insert.bind(7, format_time(approval.at));
    insert.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  }
}

Result<std::vector<ApprovalRecord>> History::approvals(const std::string& stage,
                                                       const std::string& candidate_id) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read approvals from history database " + m_path.string() + ": " +
                          what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db,
                             "SELECT pipeline, stage, candidate_id, decision, actor, reason, at "
                             "FROM approvals WHERE stage = ? AND candidate_id = ? ORDER BY seq");
    select.bind(1, stage);
    select.bind(2, candidate_id);
    std::vector<ApprovalRecord> found;
    while (select.executeStep()) {
      ApprovalRecord& approval = found.emplace_back();
      approval.pipeline = select.getColumn(0).getString();
      approval.stage = select.getColumn(1).getString();
      approval.candidate_id = select.getColumn(2).getString();
      approval.decision = select.getColumn(3).getString();
      approval.actor = select.getColumn(4).getString();
      approval.reason = select.getColumn(5).getString();
      auto at = parse_time(select.getColumn(6).getString());
      if (!at) {
        return failure("approval by " + approval.actor + ": at: " + at.error().message);
      }
      approval.at = *at;
    }
    return found;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<void> History::record_hold(const HoldRecord& hold) {
  const auto failure = [&](ErrorKind kind, const std::string& what) {
    return make_error(kind, "cannot record the " + hold.action + " of stage " + hold.stage +
                                " in history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure(ErrorKind::internal, "the database is closed");
  }
  try {
    SQLite::Statement insert(*m_db,
                             "INSERT INTO holds (pipeline, stage, action, actor, reason, at) "
                             "VALUES (?, ?, ?, ?, ?, ?)");
    insert.bind(1, hold.pipeline);
    insert.bind(2, hold.stage);
    insert.bind(3, hold.action);
    insert.bind(4, hold.actor);
    insert.bind(5, hold.reason);
    insert.bind(6, format_time(hold.at));
    insert.exec();
    return {};
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  }
}

Result<std::optional<HoldRecord>> History::hold(const std::string& pipeline,
                                                const std::string& stage) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input, "cannot read holds from history database " +
                                            m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db,
                             "SELECT action, actor, reason, at FROM holds WHERE pipeline = ? AND "
                             "stage = ? ORDER BY seq DESC LIMIT 1");
    select.bind(1, pipeline);
    select.bind(2, stage);
    if (!select.executeStep() || select.getColumn(0).getString() != "hold") {
      return std::optional<HoldRecord>();
    }
    HoldRecord hold{pipeline, stage, "hold", select.getColumn(1).getString(),
                    select.getColumn(2).getString(), {}};
    auto at = parse_time(select.getColumn(3).getString());
    if (!at) {
      return failure("hold of " + stage + ": at: " + at.error().message);
    }
    hold.at = *at;
    return std::optional<HoldRecord>(std::move(hold));
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

}  // namespace promote::history
