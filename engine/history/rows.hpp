#pragma once
// How engine/history reads its own rows back (internal: included only by engine/history/*.cpp):
// the columns each table is selected with, a reader that remembers the first value promote did
// not write, and scans of the promotions with their gates and evidence. history.cpp writes and
// queries rows; chain.cpp seals and verifies the hash chain.

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/history/canonical.hpp"
#include "engine/history/history.hpp"

namespace promote::history::detail {

using Clock = std::chrono::system_clock;

// The columns of a promotion row, in the order `RowReader::promotion` reads them; those of
// schema version 5 (which migration 5 reads) and the current ones, which add pipeline_file
// (version 6), places (version 7), charts and carried (version 9), healthy_since (version 10).
#define PROMOTE_PROMOTION_COLUMNS_V5                                                           \
  "p.id, p.pipeline, p.stage, p.from_stage, p.candidate_id, p.images, p.outcome, p.actor, "    \
  "p.reason, p.ci_provider, p.ci_run_url, p.commit_id, p.error, p.started_at, p.finished_at, " \
  "p.break_glass, p.pull_request, p.rollback_of, p.gates_skipped, p.previous, p.files, "       \
  "p.hash, p.seq"
inline constexpr const char* k_promotion_columns_v5 = PROMOTE_PROMOTION_COLUMNS_V5;
inline constexpr const char* k_promotion_columns =
    PROMOTE_PROMOTION_COLUMNS_V5
    ", p.pipeline_file, p.places, p.charts, p.carried, p.healthy_since";
#undef PROMOTE_PROMOTION_COLUMNS_V5
inline constexpr int k_pipeline_file_column = 23;
inline constexpr int k_places_column = 24;
inline constexpr int k_charts_column = 25;
inline constexpr int k_carried_column = 26;
inline constexpr int k_healthy_since_column = 27;

// Reads rows of a history that promote wrote, remembering the first value it did not write.
class RowReader {
 public:
  explicit RowReader(std::function<Error(const std::string&)> failure)
      : m_failure(std::move(failure)) {}

  nlohmann::json json(const std::string& owner, const char* column, const std::string& text) {
    auto value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) {
      fail(owner + ": " + column + ": invalid JSON");
    }
    return value;
  }

  Clock::time_point time(const std::string& owner, const char* column, const std::string& text) {
    auto value = parse_time(text);
    if (!value) {
      fail(owner + ": " + column + ": " + value.error().message);
      return {};
    }
    return *value;
  }

  // A row selected with k_promotion_columns, without its gates.
  PromotionRecord promotion(SQLite::Statement& row) {
    PromotionRecord record;
    record.id = row.getColumn(0).getString();
    const std::string owner = "promotion " + record.id;
    record.pipeline = row.getColumn(1).getString();
    record.stage = row.getColumn(2).getString();
    record.from = row.getColumn(3).getString();
    record.candidate_id = row.getColumn(4).getString();
    record.images = json(owner, "images", row.getColumn(5).getString());
    record.outcome = row.getColumn(6).getString();
    record.actor = row.getColumn(7).getString();
    record.reason = row.getColumn(8).getString();
    record.ci_provider = row.getColumn(9).getString();
    record.ci_run_url = row.getColumn(10).getString();
    record.commit = row.getColumn(11).getString();
    record.error = row.getColumn(12).getString();
    record.started = time(owner, "started_at", row.getColumn(13).getString());
    record.finished = time(owner, "finished_at", row.getColumn(14).getString());
    record.break_glass = row.getColumn(15).getInt() != 0;
    record.pull_request = row.getColumn(16).getString();
    record.rollback_of = row.getColumn(17).getString();
    record.gates_skipped = row.getColumn(18).getInt() != 0;
    record.previous = json(owner, "previous", row.getColumn(19).getString());
    const nlohmann::json files = json(owner, "files", row.getColumn(20).getString());
    if (files.is_array()) {
      for (const auto& file : files) {
        record.files.push_back(file.is_string() ? file.get<std::string>() : file.dump());
      }
    }
    record.hash = row.getColumn(21).getString();
    if (row.getColumnCount() > k_pipeline_file_column) {
      record.pipeline_file = row.getColumn(k_pipeline_file_column).getString();
    }
    if (row.getColumnCount() > k_places_column) {
      record.places = json(owner, "places", row.getColumn(k_places_column).getString());
      if (!is_places(record.places)) {
        fail(owner + ": places: not an array of objects of the strings file, image and value");
        record.places = nlohmann::json::array();
      }
    }
    if (row.getColumnCount() > k_carried_column) {
      record.charts = strings(owner, "charts", row.getColumn(k_charts_column).getString());
      record.carried = strings(owner, "carried", row.getColumn(k_carried_column).getString());
    }
    if (row.getColumnCount() > k_healthy_since_column) {
      if (const std::string since = row.getColumn(k_healthy_since_column).getString();
          !since.empty()) {
        record.healthy_since = time(owner, "healthy_since", since);
      }
    }
    return record;
  }

  // A JSON object of strings (PromotionRecord::charts, carried), or an empty one and a failure.
  nlohmann::json strings(const std::string& owner, const char* column, const std::string& text) {
    nlohmann::json value = json(owner, column, text);
    if (!value.is_object() ||
        !std::all_of(value.begin(), value.end(),
                     [](const nlohmann::json& member) { return member.is_string(); })) {
      fail(owner + ": " + column + ": not an object of strings");
      return nlohmann::json::object();
    }
    return value;
  }

  // Whether `value` is what PromotionRecord::places holds: an array of objects whose "file",
  // "image" and "value" are strings.
  static bool is_places(const nlohmann::json& value) {
    return value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const nlohmann::json& place) {
             return place.is_object() && place.size() == 3 &&
                    std::all_of(place.begin(), place.end(),
                                [](const nlohmann::json& member) { return member.is_string(); }) &&
                    place.contains("file") && place.contains("image") && place.contains("value");
           });
  }

  // A gate row (position, name, use, status, summary, details, config, retry_after_seconds
  // from column `first` on) appended to `record`.
  void gate(PromotionRecord& record, SQLite::Statement& row, int first) {
    GateRecord& gate = record.gates.emplace_back();
    if (row.getColumn(first).getInt64() != static_cast<long long>(record.gates.size() - 1)) {
      fail("promotion " + record.id + " has a gap in its gate positions");
    }
    gate.name = row.getColumn(first + 1).getString();
    gate.use = row.getColumn(first + 2).getString();
    gate.status = row.getColumn(first + 3).getString();
    gate.summary = row.getColumn(first + 4).getString();
    gate.details = json("promotion " + record.id, "details", row.getColumn(first + 5).getString());
    gate.config = json("promotion " + record.id, "config", row.getColumn(first + 6).getString());
    if (!row.getColumn(first + 7).isNull()) {
      gate.retry_after_seconds = row.getColumn(first + 7).getInt64();
    }
  }

  // An evidence row (gate_position, path, sha256 from column `first` on) added to `record`.
  void evidence(PromotionRecord& record, SQLite::Statement& row, int first) {
    const long long position = row.getColumn(first).getInt64();
    if (position < 0 || position >= static_cast<long long>(record.gates.size())) {
      fail("promotion " + record.id + " has evidence for a gate it does not have");
      return;
    }
    record.gates[static_cast<std::size_t>(position)].evidence.push_back(
        {row.getColumn(first + 1).getString(), row.getColumn(first + 2).getString()});
  }

  // A row selected with k_approval_columns (or its version 5 form, without pipeline_file).
  ApprovalRecord approval(SQLite::Statement& row) {
    ApprovalRecord approval{row.getColumn(0).getString(),
                            row.getColumn(1).getString(),
                            row.getColumn(2).getString(),
                            row.getColumn(3).getString(),
                            row.getColumn(4).getString(),
                            row.getColumn(5).getString(),
                            {},
                            row.getColumn(7).getString()};
    approval.at = time("approval by " + approval.actor, "at", row.getColumn(6).getString());
    if (row.getColumnCount() > 9) {
      approval.pipeline_file = row.getColumn(8).getString();
    }
    return approval;
  }

  // A row selected with k_hold_columns (or its version 5 form, without pipeline_file).
  HoldRecord hold(SQLite::Statement& row) {
    HoldRecord hold{row.getColumn(0).getString(), row.getColumn(1).getString(),
                    row.getColumn(2).getString(), row.getColumn(3).getString(),
                    row.getColumn(4).getString(), {},
                    row.getColumn(6).getString()};
    hold.at = time(hold.action + " of " + hold.stage, "at", row.getColumn(5).getString());
    if (row.getColumnCount() > 8) {
      hold.pipeline_file = row.getColumn(7).getString();
    }
    return hold;
  }

  void fail(const std::string& what) {
    if (!m_bad) {
      m_bad = m_failure(what);
    }
  }

  const std::optional<Error>& bad() const { return m_bad; }

 private:
  std::function<Error(const std::string&)> m_failure;
  std::optional<Error> m_bad;
};

// The columns RowReader::approval and RowReader::hold read, seq last; as of schema version 5
// (which migration 5 reads) and now.
inline constexpr const char* k_approval_columns_v5 =
    "pipeline, stage, candidate_id, decision, actor, reason, at, hash, seq";
inline constexpr const char* k_approval_columns =
    "pipeline, stage, candidate_id, decision, actor, reason, at, hash, pipeline_file, seq";
inline constexpr const char* k_hold_columns_v5 =
    "pipeline, stage, action, actor, reason, at, hash, seq";
inline constexpr const char* k_hold_columns =
    "pipeline, stage, action, actor, reason, at, hash, pipeline_file, seq";

// Walks the promotions in seq order with their gates and evidence, by three cursors that
// advance together (one pass over each table, whatever its size).
class PromotionScan {
 public:
  PromotionScan(SQLite::Database& db, RowReader& reader, const char* columns)
      : m_reader(reader),
        m_rows(db, std::string("SELECT ") + columns + " FROM promotions p ORDER BY p.seq"),
        m_gates(db,
                "SELECT p.seq, g.position, g.name, g.use, g.status, g.summary, g.details, "
                "g.config, g.retry_after_seconds FROM promotions p JOIN gate_verdicts g ON "
                "g.promotion_id = p.id ORDER BY p.seq, g.position"),
        m_evidence(db,
                   "SELECT p.seq, e.gate_position, e.path, e.sha256 FROM promotions p JOIN "
                   "evidence e ON e.promotion_id = p.id ORDER BY p.seq, e.gate_position, "
                   "e.position") {
    m_gate_row = m_gates.executeStep();
    m_evidence_row = m_evidence.executeStep();
  }

  // The next promotion and its seq, or false at the end.
  bool next(PromotionRecord& record, long long& seq) {
    if (!m_rows.executeStep()) {
      return false;
    }
    record = m_reader.promotion(m_rows);
    seq = m_rows.getColumn(22).getInt64();
    while (m_gate_row && m_gates.getColumn(0).getInt64() <= seq) {
      if (m_gates.getColumn(0).getInt64() == seq) {
        m_reader.gate(record, m_gates, 1);
      }
      m_gate_row = m_gates.executeStep();
    }
    while (m_evidence_row && m_evidence.getColumn(0).getInt64() <= seq) {
      if (m_evidence.getColumn(0).getInt64() == seq) {
        m_reader.evidence(record, m_evidence, 1);
      }
      m_evidence_row = m_evidence.executeStep();
    }
    return true;
  }

 private:
  RowReader& m_reader;
  SQLite::Statement m_rows;
  SQLite::Statement m_gates;
  SQLite::Statement m_evidence;
  bool m_gate_row = false;
  bool m_evidence_row = false;
};

// The promotions in seq order as the texts they store, with their gates and evidence: what
// the hash chain covers, read without parsing any JSON (three cursors, one pass each).
class TextScan {
 public:
  explicit TextScan(SQLite::Database& db)
      : m_rows(db,
               std::string("SELECT ") + k_promotion_columns + " FROM promotions p ORDER BY p.seq"),
        m_gates(db,
                "SELECT p.seq, g.position, g.name, g.use, g.status, g.summary, g.details, "
                "g.config, g.retry_after_seconds FROM promotions p JOIN gate_verdicts g ON "
                "g.promotion_id = p.id ORDER BY p.seq, g.position"),
        m_evidence(db,
                   "SELECT p.seq, e.gate_position, e.path, e.sha256 FROM promotions p JOIN "
                   "evidence e ON e.promotion_id = p.id ORDER BY p.seq, e.gate_position, "
                   "e.position") {
    m_gate_row = m_gates.executeStep();
    m_evidence_row = m_evidence.executeStep();
  }

  // The next promotion, its seq and stored hash, or false at the end.
  bool next(detail::PromotionText& text, long long& seq, std::string& hash) {
    if (!m_rows.executeStep()) {
      return false;
    }
    const auto column = [&](int index) { return m_rows.getColumn(index).getString(); };
    text.id = column(0);
    text.pipeline = column(1);
    text.stage = column(2);
    text.from = column(3);
    text.candidate_id = column(4);
    text.images_json = column(5);
    text.outcome = column(6);
    text.actor = column(7);
    text.reason = column(8);
    text.ci_provider = column(9);
    text.ci_run_url = column(10);
    text.commit = column(11);
    text.error = column(12);
    text.started = column(13);
    text.finished = column(14);
    text.break_glass = m_rows.getColumn(15).getInt() != 0;
    text.pull_request = column(16);
    text.rollback_of = column(17);
    text.gates_skipped = m_rows.getColumn(18).getInt() != 0;
    text.previous_json = column(19);
    text.files_json = column(20);
    hash = column(21);
    seq = m_rows.getColumn(22).getInt64();
    text.pipeline_file = column(k_pipeline_file_column);
    text.places_json = column(k_places_column);
    text.charts_json = column(k_charts_column);
    text.carried_json = column(k_carried_column);
    text.healthy_since = column(k_healthy_since_column);
    text.gates.clear();
    // A gate or evidence row out of place is left out; the hash then shows it.
    while (m_gate_row && m_gates.getColumn(0).getInt64() <= seq) {
      if (m_gates.getColumn(0).getInt64() == seq &&
          m_gates.getColumn(1).getInt64() == static_cast<long long>(text.gates.size())) {
        detail::GateText& gate = text.gates.emplace_back();
        gate.name = m_gates.getColumn(2).getString();
        gate.use = m_gates.getColumn(3).getString();
        gate.status = m_gates.getColumn(4).getString();
        gate.summary = m_gates.getColumn(5).getString();
        gate.details_json = m_gates.getColumn(6).getString();
        gate.config_json = m_gates.getColumn(7).getString();
        if (!m_gates.getColumn(8).isNull()) {
          gate.retry_after_seconds = m_gates.getColumn(8).getInt64();
        }
      }
      m_gate_row = m_gates.executeStep();
    }
    while (m_evidence_row && m_evidence.getColumn(0).getInt64() <= seq) {
      const long long position = m_evidence.getColumn(1).getInt64();
      if (m_evidence.getColumn(0).getInt64() == seq && position >= 0 &&
          position < static_cast<long long>(text.gates.size())) {
        text.gates[static_cast<std::size_t>(position)].evidence.emplace_back(
            m_evidence.getColumn(2).getString(), m_evidence.getColumn(3).getString());
      }
      m_evidence_row = m_evidence.executeStep();
    }
    return true;
  }

 private:
  SQLite::Statement m_rows;
  SQLite::Statement m_gates;
  SQLite::Statement m_evidence;
  bool m_gate_row = false;
  bool m_evidence_row = false;
};

/// Adds the rows of promotion_images for a promotion's images (pipeline name -> reference).
void insert_images(SQLite::Database& db, const std::string& id, const nlohmann::json& images);

// The hash of the newest row of `table` ('' when it is empty).
std::string last_hash(SQLite::Database& db, const std::string& table);

/// The database's id (meta.database_id), "" when it has none.
std::string read_database_id(SQLite::Database& db);

/// Checks `anchors` against the database (see History::verify), whose chains were found whole
/// and whose id is `result.database`: counts them and sets `result.broken` at the first the
/// database does not match.
void check_anchors(SQLite::Database& db, const std::vector<PlacedAnchor>& anchors,
                   Verification& result);

/// Migration 5 for the rows written before it: their images in promotion_images, and the hash
/// chain of each table.
void seal_v5(SQLite::Database& db);

}  // namespace promote::history::detail
