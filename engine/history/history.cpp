#include "engine/history/history.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "engine/history/canonical.hpp"
#include "engine/history/rows.hpp"
#include "engine/util/json.hpp"

namespace promote::history {

using namespace detail;

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
constexpr const char* k_schema_v5 =
#include "history-v5.sql.inc"
    ;
constexpr const char* k_schema_v6 =
#include "history-v6.sql.inc"
    ;
constexpr const char* k_schema_v7 =
#include "history-v7.sql.inc"
    ;
constexpr const char* k_schema_v8 =
#include "history-v8.sql.inc"
    ;
constexpr const char* k_schema_v9 =
#include "history-v9.sql.inc"
    ;
constexpr const char* k_schema_v10 =
#include "history-v10.sql.inc"
    ;
constexpr const char* k_migrations[] = {k_schema_v1, k_schema_v2, k_schema_v3,
                                        k_schema_v4, k_schema_v5, k_schema_v6,
                                        k_schema_v7, k_schema_v8, k_schema_v9,
                                        k_schema_v10};
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

bool belongs_to(const std::string& name, const std::string& file, const PipelineId& pipeline) {
  return name == pipeline.name && (file.empty() || pipeline.file.empty() || file == pipeline.file);
}

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

Result<std::optional<History>> History::open_existing(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    return std::optional<History>();
  }
  auto opened = open(path);
  if (!opened) {
    return opened.error();
  }
  return std::optional<History>(std::move(*opened));
}

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
      if (step + 1 == 5) {
        seal_v5(*db);
      }
      db->exec("PRAGMA user_version = " + std::to_string(step + 1));
      transaction.commit();
    }
    version = user_version(*db);
    if (version > k_schema_version) {
      return too_new();
    }
    db->exec("PRAGMA foreign_keys = ON");
    // A page cache of 64 MiB (SQLite's default is 2 MiB): an audit-sized history is gigabytes,
    // and its indexes are written and read all over.
    db->exec("PRAGMA cache_size = -65536");
    return History(path, std::move(db), version);
  } catch (const std::exception& e) {
    return open_error(path, e.what());
  }
}

namespace {

// The SQL condition that a row (its columns named with `prefix`: "p." or "") belongs to the
// pipeline bound to :pipeline and :pipeline_file (see belongs_to).
std::string belongs_sql(const std::string& prefix) {
  return "(" + prefix + "pipeline = :pipeline AND (:pipeline_file = '' OR " + prefix +
         "pipeline_file IN ('', :pipeline_file)))";
}

void bind_pipeline(SQLite::Statement& statement, const PipelineId& pipeline) {
  statement.bind(":pipeline", pipeline.name);
  statement.bind(":pipeline_file", pipeline.file);
}

// The reference without its digest and tag: "ghcr.io/acme/api".
std::string repository_of(std::string reference) {
  if (const auto at = reference.find('@'); at != std::string::npos) {
    reference.resize(at);
  }
  const auto slash = reference.rfind('/');
  if (const auto colon = reference.rfind(':');
      colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    reference.resize(colon);
  }
  return reference;
}

}  // namespace

std::string detail::last_hash(SQLite::Database& db, const std::string& table) {
  SQLite::Statement select(db, "SELECT hash FROM " + table + " ORDER BY seq DESC LIMIT 1");
  return select.executeStep() ? select.getColumn(0).getString() : std::string();
}

void detail::insert_images(SQLite::Database& db, const std::string& id,
                           const nlohmann::json& images) {
  if (!images.is_object()) {
    return;
  }
  SQLite::Statement insert(db,
                           "INSERT INTO promotion_images (promotion_id, name, reference, "
                           "repository) VALUES (?, ?, ?, ?)");
  for (const auto& [name, value] : images.items()) {
    const std::string reference = value.is_string() ? value.get<std::string>() : value.dump();
    insert.reset();
    insert.bind(1, id);
    insert.bind(2, name);
    insert.bind(3, reference);
    insert.bind(4, repository_of(reference));
    insert.exec();
  }
}

namespace {

// Inserts one promotion with its gates, evidence and images, chained after the newest row.
void insert_promotion(SQLite::Database& db, const PromotionRecord& record) {
  const detail::PromotionText text = detail::text_of(record);
  const std::string hash = chain_hash(last_hash(db, "promotions"), detail::canonical(text));
  SQLite::Statement promotion(
      db,
      "INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, outcome, "
      "actor, reason, ci_provider, ci_run_url, commit_id, error, started_at, finished_at, "
      "break_glass, pull_request, rollback_of, gates_skipped, previous, files, hash, "
      "pipeline_file, places, charts, carried, healthy_since) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  promotion.bind(1, record.id);
  promotion.bind(2, record.pipeline);
  promotion.bind(3, record.stage);
  promotion.bind(4, record.from);
  promotion.bind(5, record.candidate_id);
  promotion.bind(6, text.images_json);
  promotion.bind(7, record.outcome);
  promotion.bind(8, record.actor);
  promotion.bind(9, record.reason);
  promotion.bind(10, record.ci_provider);
  promotion.bind(11, record.ci_run_url);
  promotion.bind(12, record.commit);
  promotion.bind(13, record.error);
  promotion.bind(14, text.started);
  promotion.bind(15, text.finished);
  promotion.bind(16, record.break_glass ? 1 : 0);
  promotion.bind(17, record.pull_request);
  promotion.bind(18, record.rollback_of);
  promotion.bind(19, record.gates_skipped ? 1 : 0);
  promotion.bind(20, text.previous_json);
  promotion.bind(21, text.files_json);
  promotion.bind(22, hash);
  promotion.bind(23, record.pipeline_file);
  promotion.bind(24, text.places_json);
  promotion.bind(25, text.charts_json);
  promotion.bind(26, text.carried_json);
  promotion.bind(27, text.healthy_since);
  promotion.exec();

  SQLite::Statement gate(
      db,
      "INSERT INTO gate_verdicts (promotion_id, position, name, use, status, summary, details, "
      "config, retry_after_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  SQLite::Statement evidence(
      db,
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
    gate.bind(7, text.gates[g].details_json);
    gate.bind(8, text.gates[g].config_json);
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
  insert_images(db, record.id, record.images);
}

void insert_approval(SQLite::Database& db, const ApprovalRecord& approval) {
  SQLite::Statement insert(db,
                           "INSERT INTO approvals (pipeline, stage, candidate_id, decision, "
                           "actor, reason, at, hash, pipeline_file) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, approval.pipeline);
  insert.bind(2, approval.stage);
  insert.bind(3, approval.candidate_id);
  insert.bind(4, approval.decision);
  insert.bind(5, approval.actor);
  insert.bind(6, approval.reason);
  insert.bind(7, format_time(approval.at));
  insert.bind(8, chain_hash(last_hash(db, "approvals"), util::dump_json(to_json(approval))));
  insert.bind(9, approval.pipeline_file);
  insert.exec();
}

void insert_hold(SQLite::Database& db, const HoldRecord& hold) {
  SQLite::Statement insert(db,
                           "INSERT INTO holds (pipeline, stage, action, actor, reason, at, hash, "
                           "pipeline_file) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  insert.bind(1, hold.pipeline);
  insert.bind(2, hold.stage);
  insert.bind(3, hold.action);
  insert.bind(4, hold.actor);
  insert.bind(5, hold.reason);
  insert.bind(6, format_time(hold.at));
  insert.bind(7, chain_hash(last_hash(db, "holds"), util::dump_json(to_json(hold))));
  insert.bind(8, hold.pipeline_file);
  insert.exec();
}

}  // namespace

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
    insert_promotion(*m_db, record);
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
  std::string sql = std::string("SELECT ") + k_promotion_columns + " FROM promotions p WHERE 1";
  if (query.id) {
    sql += " AND p.id = :id";
  }
  if (query.pipeline) {
    sql += " AND " + belongs_sql("p.");
  }
  if (query.stage) {
    sql += " AND p.stage = :stage";
  }
  if (query.outcome) {
    sql += " AND p.outcome = :outcome";
  }
  if (query.candidate_id) {
    sql += " AND p.candidate_id = :candidate";
  }
  if (query.actor) {
    sql += " AND p.actor = :actor";
  }
  if (query.image) {
    sql +=
        " AND EXISTS (SELECT 1 FROM promotion_images i WHERE i.promotion_id = p.id AND "
        "(i.name = :image OR i.repository = :image OR i.reference = :image))";
  }
  if (query.since) {
    sql += " AND p.started_at >= :since";
  }
  if (query.until) {
    sql += " AND p.started_at < :until";
  }
  sql += " ORDER BY p.started_at DESC, p.seq DESC";
  if (query.limit > 0) {
    sql += " LIMIT :limit";
  }
  try {
    // One read transaction, so that the promotions and their gates come from one snapshot.
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::DEFERRED);
    SQLite::Statement select(*m_db, sql);
    const auto bind = [&](const char* name, const std::optional<std::string>& value) {
      if (value) {
        select.bind(name, *value);
      }
    };
    bind(":id", query.id);
    if (query.pipeline) {
      bind_pipeline(select, *query.pipeline);
    }
    bind(":stage", query.stage);
    bind(":outcome", query.outcome);
    bind(":candidate", query.candidate_id);
    bind(":actor", query.actor);
    bind(":image", query.image);
    if (query.since) {
      select.bind(":since", format_time(*query.since));
    }
    if (query.until) {
      select.bind(":until", format_time(*query.until));
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

    RowReader reader(failure);
    std::vector<PromotionRecord> found;
    while (select.executeStep()) {
      PromotionRecord& record = found.emplace_back(reader.promotion(select));
      if (query.with_gates) {
        gates.reset();
        gates.bind(1, record.id);
        while (gates.executeStep()) {
          reader.gate(record, gates, 0);
        }
        evidence.reset();
        evidence.bind(1, record.id);
        while (evidence.executeStep()) {
          reader.evidence(record, evidence, 0);
        }
      }
      if (reader.bad()) {
        return *reader.bad();
      }
    }
    transaction.commit();
    return found;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<MergeCount> History::merge(std::vector<PromotionRecord> promotions,
                                  std::vector<ApprovalRecord> approvals,
                                  std::vector<HoldRecord> holds) {
  const auto failure = [&](ErrorKind kind, const std::string& what) {
    return make_error(kind, "cannot add records to history database " + m_path.string() +
                                ": " + what);
  };
  if (!m_db) {
    return failure(ErrorKind::internal, "the database is closed");
  }
  std::sort(promotions.begin(), promotions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.started, a.id) < std::tie(b.started, b.id);
  });
  const auto by_time = [](const auto& a, const auto& b) {
    return std::make_pair(a.at, util::dump_json(to_json(a))) <
           std::make_pair(b.at, util::dump_json(to_json(b)));
  };
  std::sort(approvals.begin(), approvals.end(), by_time);
  std::sort(holds.begin(), holds.end(), by_time);
  MergeCount added;
  try {
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement known(*m_db, "SELECT 1 FROM promotions WHERE id = ?");
    for (const PromotionRecord& record : promotions) {
      known.reset();
      known.bind(1, record.id);
      if (!known.executeStep()) {
        insert_promotion(*m_db, record);
        ++added.promotions;
      }
    }
    SQLite::Statement known_approval(
        *m_db,
        "SELECT 1 FROM approvals WHERE pipeline = ? AND stage = ? AND candidate_id = ? AND "
        "decision = ? AND actor = ? AND reason = ? AND at = ? AND pipeline_file = ?");
    for (const ApprovalRecord& approval : approvals) {
      known_approval.reset();
      known_approval.bind(1, approval.pipeline);
      known_approval.bind(2, approval.stage);
      known_approval.bind(3, approval.candidate_id);
      known_approval.bind(4, approval.decision);
      known_approval.bind(5, approval.actor);
      known_approval.bind(6, approval.reason);
      known_approval.bind(7, format_time(approval.at));
      known_approval.bind(8, approval.pipeline_file);
      if (!known_approval.executeStep()) {
        insert_approval(*m_db, approval);
        ++added.approvals;
      }
    }
    SQLite::Statement known_hold(*m_db,
                                 "SELECT 1 FROM holds WHERE pipeline = ? AND stage = ? AND "
                                 "action = ? AND actor = ? AND reason = ? AND at = ? AND "
                                 "pipeline_file = ?");
    for (const HoldRecord& hold : holds) {
      known_hold.reset();
      known_hold.bind(1, hold.pipeline);
      known_hold.bind(2, hold.stage);
      known_hold.bind(3, hold.action);
      known_hold.bind(4, hold.actor);
      known_hold.bind(5, hold.reason);
      known_hold.bind(6, format_time(hold.at));
      known_hold.bind(7, hold.pipeline_file);
      if (!known_hold.executeStep()) {
        insert_hold(*m_db, hold);
        ++added.holds;
      }
    }
    transaction.commit();
    return added;
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  } catch (const std::exception& e) {
    return failure(ErrorKind::internal, e.what());
  }
}

Result<MergeCount> History::counts(const PipelineId& pipeline) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::DEFERRED);
    MergeCount count;
    for (auto [table, into] : {std::pair{"promotions", &count.promotions},
                               std::pair{"approvals", &count.approvals},
                               std::pair{"holds", &count.holds}}) {
      SQLite::Statement select(
          *m_db, std::string("SELECT count(*) FROM ") + table + " WHERE " + belongs_sql(""));
      bind_pipeline(select, pipeline);
      select.executeStep();
      *into = static_cast<std::size_t>(select.getColumn(0).getInt64());
    }
    transaction.commit();
    return count;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::vector<History::StageOutcomes>> History::outcomes(const PipelineId& pipeline) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db,
                             "SELECT stage, outcome, count(*), max(finished_at) FROM promotions "
                             "WHERE " +
                                 belongs_sql("") +
                                 " GROUP BY stage, outcome ORDER BY stage, outcome");
    bind_pipeline(select, pipeline);
    std::vector<StageOutcomes> out;
    while (select.executeStep()) {
      StageOutcomes& row = out.emplace_back();
      row.stage = select.getColumn(0).getString();
      row.outcome = select.getColumn(1).getString();
      row.count = static_cast<std::size_t>(select.getColumn(2).getInt64());
      auto last = parse_time(select.getColumn(3).getString());
      if (!last) {
        return failure("stage " + row.stage + ": finished_at: " + last.error().message);
      }
      row.last_finished = *last;
    }
    return out;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::vector<ApprovalRecord>> History::all_approvals() const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input, "cannot read approvals from history database " +
                                            m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db, std::string("SELECT ") + k_approval_columns +
                                        " FROM approvals ORDER BY seq");
    RowReader reader(failure);
    std::vector<ApprovalRecord> found;
    while (select.executeStep()) {
      found.push_back(reader.approval(select));
    }
    if (reader.bad()) {
      return *reader.bad();
    }
    return found;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::vector<HoldRecord>> History::all_holds() const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input, "cannot read holds from history database " +
                                            m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db,
                             std::string("SELECT ") + k_hold_columns + " FROM holds ORDER BY seq");
    RowReader reader(failure);
    std::vector<HoldRecord> found;
    while (select.executeStep()) {
      found.push_back(reader.hold(select));
    }
    if (reader.bad()) {
      return *reader.bad();
    }
    return found;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::optional<Clock::time_point>> History::entered(const PipelineId& pipeline,
                                                          const std::string& stage,
                                                          const std::string& candidate_id,
                                                          std::string* commit) const {
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
        "SELECT id, finished_at, commit_id FROM promotions "
        "WHERE stage = :stage AND candidate_id = :candidate AND outcome = 'promoted' AND " +
            belongs_sql("") + " ORDER BY finished_at DESC, seq DESC LIMIT 1");
    select.bind(":stage", stage);
    select.bind(":candidate", candidate_id);
    bind_pipeline(select, pipeline);
    if (!select.executeStep()) {
      return std::optional<Clock::time_point>();
    }
    auto finished = parse_time(select.getColumn(1).getString());
    if (!finished) {
      return failure("promotion " + select.getColumn(0).getString() +
                     ": finished_at: " + finished.error().message);
    }
    if (commit != nullptr) {
      *commit = select.getColumn(2).isNull() ? std::string() : select.getColumn(2).getString();
    }
    return std::optional<Clock::time_point>(*finished);
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

Result<std::optional<History::Healthy>> History::healthy(const PipelineId& pipeline,
                                                        const std::string& stage,
                                                        const std::string& commit) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db,
                             "SELECT id, healthy_since FROM promotions WHERE stage = :stage AND "
                             "commit_id = :commit AND outcome = 'verified' AND " +
                                 belongs_sql("") + " ORDER BY healthy_since, seq LIMIT 1");
    select.bind(":stage", stage);
    select.bind(":commit", commit);
    bind_pipeline(select, pipeline);
    if (commit.empty() || !select.executeStep()) {
      return std::optional<Healthy>();
    }
    const std::string id = select.getColumn(0).getString();
    auto since = parse_time(select.getColumn(1).getString());
    if (!since) {
      return failure("promotion " + id + ": healthy_since: " + since.error().message);
    }
    return std::optional<Healthy>(Healthy{*since, id});
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
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::IMMEDIATE);
    insert_approval(*m_db, approval);
    transaction.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  }
}

Result<std::vector<ApprovalRecord>> History::approvals(const PipelineId& pipeline,
                                                       const std::string& stage,
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
    SQLite::Statement select(*m_db, std::string("SELECT ") + k_approval_columns +
                                        " FROM approvals WHERE stage = :stage AND candidate_id = "
                                        ":candidate AND " +
                                        belongs_sql("") + " ORDER BY seq");
    select.bind(":stage", stage);
    select.bind(":candidate", candidate_id);
    bind_pipeline(select, pipeline);
    RowReader reader(failure);
    std::vector<ApprovalRecord> found;
    while (select.executeStep()) {
      found.push_back(reader.approval(select));
    }
    if (reader.bad()) {
      return *reader.bad();
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
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::IMMEDIATE);
    insert_hold(*m_db, hold);
    transaction.commit();
    return {};
  } catch (const SQLite::Exception& e) {
    return failure(write_error_kind(e), e.what());
  }
}

Result<std::optional<HoldRecord>> History::hold(const PipelineId& pipeline,
                                                const std::string& stage) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input, "cannot read holds from history database " +
                                            m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  try {
    SQLite::Statement select(*m_db, std::string("SELECT ") + k_hold_columns +
                                        " FROM holds WHERE stage = :stage AND " + belongs_sql("") +
                                        " ORDER BY seq DESC LIMIT 1");
    select.bind(":stage", stage);
    bind_pipeline(select, pipeline);
    if (!select.executeStep() || select.getColumn(2).getString() != "hold") {
      return std::optional<HoldRecord>();
    }
    RowReader reader(failure);
    HoldRecord hold = reader.hold(select);
    if (reader.bad()) {
      return *reader.bad();
    }
    return std::optional<HoldRecord>(std::move(hold));
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

}  // namespace promote::history
