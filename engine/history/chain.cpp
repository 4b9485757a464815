// The hash chain of the history: sealing the rows written before it existed (migration 5) and
// verifying it (`promote audit verify`).
#include <SQLiteCpp/SQLiteCpp.h>

#include "engine/history/rows.hpp"
#include "engine/util/json.hpp"

namespace promote::history {

namespace detail {

// Migration 5 for the rows written before it: their images in promotion_images, and the
// hash chain of each table.
void seal_v5(SQLite::Database& db) {
  RowReader reader([](const std::string& what) {
    return make_error(ErrorKind::input, "cannot migrate the history: " + what);
  });
  std::vector<std::pair<long long, PromotionRecord>> promotions;
  {
    PromotionScan scan(db, reader, k_promotion_columns_v5);
    PromotionRecord record;
    long long seq = 0;
    while (scan.next(record, seq)) {
      promotions.emplace_back(seq, std::move(record));
    }
  }
  if (reader.bad()) {
    throw std::runtime_error(reader.bad()->message);
  }
  // Each row's JSON texts are rewritten as promote writes them now (compact, keys sorted), so
  // that the canonical record can embed them as they are.
  std::string previous;
  SQLite::Statement update(
      db, "UPDATE promotions SET images = ?, previous = ?, files = ?, hash = ? WHERE seq = ?");
  SQLite::Statement update_gate(
      db,
      "UPDATE gate_verdicts SET details = ?, config = ? WHERE promotion_id = ? AND position = ?");
  for (const auto& [seq, record] : promotions) {
    insert_images(db, record.id, record.images);
    const detail::PromotionText text = detail::text_of(record);
    previous = chain_hash(previous, detail::canonical(text));
    update.reset();
    update.bind(1, text.images_json);
    update.bind(2, text.previous_json);
    update.bind(3, text.files_json);
    update.bind(4, previous);
    update.bind(5, static_cast<std::int64_t>(seq));
    update.exec();
    for (std::size_t g = 0; g < text.gates.size(); ++g) {
      update_gate.reset();
      update_gate.bind(1, text.gates[g].details_json);
      update_gate.bind(2, text.gates[g].config_json);
      update_gate.bind(3, record.id);
      update_gate.bind(4, static_cast<std::int64_t>(g));
      update_gate.exec();
    }
  }
  const auto seal = [&](const std::string& table, const char* columns, auto read) {
    SQLite::Statement select(db,
                             "SELECT " + std::string(columns) + " FROM " + table + " ORDER BY seq");
    std::vector<std::pair<long long, std::string>> rows;
    const int seq_column = select.getColumnCount() - 1;
    while (select.executeStep()) {
      rows.emplace_back(select.getColumn(seq_column).getInt64(),
                        util::dump_json(to_json(read(select))));
    }
    if (reader.bad()) {
      throw std::runtime_error(reader.bad()->message);
    }
    SQLite::Statement set(db, "UPDATE " + table + " SET hash = ? WHERE seq = ?");
    std::string last;
    for (const auto& [seq, canonical] : rows) {
      last = chain_hash(last, canonical);
      set.reset();
      set.bind(1, last);
      set.bind(2, static_cast<std::int64_t>(seq));
      set.exec();
    }
  };
  seal("approvals", k_approval_columns_v5,
       [&](SQLite::Statement& row) { return reader.approval(row); });
  seal("holds", k_hold_columns_v5, [&](SQLite::Statement& row) { return reader.hold(row); });
}

}  // namespace detail

using namespace detail;

Result<Verification> History::verify(const std::vector<PlacedAnchor>& anchors) const {
  const auto failure = [&](const std::string& what) {
    return make_error(ErrorKind::input,
                      "cannot read history database " + m_path.string() + ": " + what);
  };
  if (!m_db) {
    return failure("it is closed");
  }
  Verification result;
  try {
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::DEFERRED);
    std::optional<std::string> unreadable;  // an approval or hold promote cannot read back
    RowReader reader([&](const std::string& what) {
      unreadable = what;
      return failure(what);
    });
    // Checks one row against the chain; false once the chain is broken.
    std::string previous;
    long long expected_seq = 1;
    const auto check = [&](const std::string& table, long long seq, const std::string& id,
                           const std::string& canonical, const std::string& stored) {
      if (seq != expected_seq) {
        result.broken = ChainBreak{table, expected_seq, "",
                                   "row " + std::to_string(expected_seq) + " is missing"};
        return false;
      }
      ++expected_seq;
      previous = chain_hash(previous, canonical);
      if (unreadable) {
        result.broken = ChainBreak{table, seq, id,
                                   "it holds a value promote did not write (" + *unreadable + ")"};
        return false;
      }
      if (previous != stored) {
        result.broken =
            ChainBreak{table, seq, id, "its hash does not match its content or the row before it"};
        return false;
      }
      return true;
    };
    // Rows may not be missing at the end either: AUTOINCREMENT remembers the highest seq.
    const auto check_end = [&](const std::string& table) {
      SQLite::Statement highest(*m_db, "SELECT seq FROM sqlite_sequence WHERE name = ?");
      highest.bind(1, table);
      if (highest.executeStep() && highest.getColumn(0).getInt64() >= expected_seq) {
        const long long last = highest.getColumn(0).getInt64();
        result.broken =
            ChainBreak{table, expected_seq, "",
                       expected_seq == last ? "row " + std::to_string(last) + " is missing"
                                            : "rows " + std::to_string(expected_seq) + " to " +
                                                  std::to_string(last) + " are missing"};
        return false;
      }
      return true;
    };

    {
      TextScan scan(*m_db);
      detail::PromotionText text;
      long long seq = 0;
      std::string hash;
      while (scan.next(text, seq, hash)) {
        ++result.promotions;
        if (!check("promotions", seq, text.id, detail::canonical(text), hash)) {
          return result;
        }
      }
      result.head = previous;
    }
    // Gate verdicts and evidence whose promotion is gone or was renamed.
    for (const char* table : {"gate_verdicts", "evidence"}) {
      SQLite::Statement orphans(*m_db, std::string("SELECT promotion_id FROM ") + table +
                                           " WHERE promotion_id NOT IN (SELECT id FROM "
                                           "promotions) LIMIT 1");
      if (orphans.executeStep()) {
        result.broken = ChainBreak{table, 0, orphans.getColumn(0).getString(),
                                   "it holds rows of a promotion that is not in the history"};
        return result;
      }
    }
    if (!check_end("promotions")) {
      return result;
    }
    const auto walk = [&](const std::string& table, const char* columns, std::size_t& count,
                          auto read) {
      previous.clear();
      expected_seq = 1;
      SQLite::Statement select(
          *m_db, "SELECT " + std::string(columns) + " FROM " + table + " ORDER BY seq");
      const int seq_column = select.getColumnCount() - 1;
      while (select.executeStep()) {
        ++count;
        const auto value = read(select);
        if (!check(table, select.getColumn(seq_column).getInt64(), "",
                   util::dump_json(to_json(value)), value.hash)) {
          return false;
        }
      }
      return check_end(table);
    };
    if (walk("approvals", k_approval_columns, result.approvals,
             [&](SQLite::Statement& row) { return reader.approval(row); }) &&
        walk("holds", k_hold_columns, result.holds,
             [&](SQLite::Statement& row) { return reader.hold(row); })) {
      result.database = read_database_id(*m_db);
      check_anchors(*m_db, anchors, result);
    }
    return result;
  } catch (const std::exception& e) {
    return failure(e.what());
  }
}

}  // namespace promote::history
