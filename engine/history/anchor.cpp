// Anchors: their forms in git (a note line, a trailer), the database's own, and the check of a
// database against those found in git (part of `promote audit verify`).
#include "engine/history/anchor.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "engine/history/canonical.hpp"
#include "engine/history/history.hpp"
#include "engine/history/rows.hpp"
#include "engine/util/json.hpp"

namespace promote::history {

namespace {

using json = nlohmann::json;

constexpr const char* k_tables[] = {"promotions", "approvals", "holds"};

ChainHead& head_of(Anchor& anchor, std::string_view table) {
  return table == "promotions"  ? anchor.promotions
         : table == "approvals" ? anchor.approvals
                                : anchor.holds;
}

const ChainHead& head_of(const Anchor& anchor, std::string_view table) {
  return head_of(const_cast<Anchor&>(anchor), table);
}

bool is_hex(std::string_view text, std::size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Whether `head` is a head promote writes: seq 0 with no hash, or a positive seq with a
// sha256 hex hash.
bool well_formed(const ChainHead& head) {
  return head.seq == 0 ? head.hash.empty() : head.seq > 0 && is_hex(head.hash, 64);
}

Error bad_anchor(const std::string& what) {
  return make_error(ErrorKind::input, "not an anchor promote wrote: " + what);
}

// The newest row of `table`.
ChainHead newest(SQLite::Database& db, const std::string& table) {
  SQLite::Statement select(db, "SELECT seq, hash FROM " + table + " ORDER BY seq DESC LIMIT 1");
  if (!select.executeStep()) {
    return {};
  }
  return {select.getColumn(0).getInt64(), select.getColumn(1).getString()};
}

Error read_failure(const std::filesystem::path& path, const std::string& what) {
  return make_error(ErrorKind::input,
                    "cannot read history database " + path.string() + ": " + what);
}

}  // namespace

std::string note_line(const Anchor& anchor) {
  json body{{"database", anchor.database}};
  for (const char* table : k_tables) {
    const ChainHead& head = head_of(anchor, table);
    body[table] = {{"seq", head.seq}, {"hash", head.hash}};
  }
  return util::dump_json(json{{"anchor", std::move(body)}});
}

Result<Anchor> anchor_from_json(const json& body) {
  if (!body.is_object() || body.size() != 4) {
    return bad_anchor("it is not an object of database, promotions, approvals and holds");
  }
  Anchor anchor;
  const auto database = body.find("database");
  if (database == body.end() || !database->is_string() ||
      !is_hex(database->get<std::string>(), 32)) {
    return bad_anchor("'database' is not 32 hex digits");
  }
  anchor.database = database->get<std::string>();
  for (const char* table : k_tables) {
    const auto head = body.find(table);
    if (head == body.end() || !head->is_object() || head->size() != 2 || !head->contains("seq") ||
        !(*head)["seq"].is_number_integer() || !head->contains("hash") ||
        !(*head)["hash"].is_string()) {
      return bad_anchor(std::string("'") + table + "' is not {seq, hash}");
    }
    ChainHead& into = head_of(anchor, table);
    into.seq = (*head)["seq"].get<long long>();
    into.hash = (*head)["hash"].get<std::string>();
    if (!well_formed(into)) {
      return bad_anchor(std::string("'") + table + "' holds a seq or hash promote does not write");
    }
  }
  return anchor;
}

std::string trailer_value(const Anchor& anchor) {
  std::string value = anchor.database;
  for (const char* table : k_tables) {
    const ChainHead& head = head_of(anchor, table);
    value += std::string(" ") + table + "=" + std::to_string(head.seq) + ":" + head.hash;
  }
  return value;
}

Result<Anchor> anchor_from_trailer(std::string_view value) {
  Anchor anchor;
  std::size_t space = value.find(' ');
  anchor.database = std::string(value.substr(0, space));
  if (!is_hex(anchor.database, 32)) {
    return bad_anchor("the database id is not 32 hex digits");
  }
  for (const char* table : k_tables) {
    if (space == std::string_view::npos) {
      return bad_anchor(std::string("'") + table + "=' is missing");
    }
    value.remove_prefix(space + 1);
    space = value.find(' ');
    const std::string_view part = value.substr(0, space);
    const std::string prefix = std::string(table) + "=";
    const std::size_t colon = part.find(':');
    if (!part.starts_with(prefix) || colon == std::string_view::npos) {
      return bad_anchor(std::string("'") + table + "=SEQ:HASH' is missing");
    }
    ChainHead& head = head_of(anchor, table);
    const std::string_view seq = part.substr(prefix.size(), colon - prefix.size());
    const auto [end, code] = std::from_chars(seq.data(), seq.data() + seq.size(), head.seq);
    head.hash = std::string(part.substr(colon + 1));
    if (seq.empty() || code != std::errc() || end != seq.data() + seq.size() ||
        !well_formed(head)) {
      return bad_anchor(std::string("'") + table + "' holds a seq or hash promote does not write");
    }
  }
  if (space != std::string_view::npos) {
    return bad_anchor("text follows the holds");
  }
  return anchor;
}

Result<std::string> History::database_id() const {
  if (!m_db) {
    return read_failure(m_path, "it is closed");
  }
  try {
    return detail::read_database_id(*m_db);
  } catch (const std::exception& e) {
    return read_failure(m_path, e.what());
  }
}

Result<Anchor> History::anchor() const {
  if (!m_db) {
    return read_failure(m_path, "it is closed");
  }
  try {
    SQLite::Transaction transaction(*m_db, SQLite::TransactionBehavior::DEFERRED);
    Anchor anchor;
    anchor.database = detail::read_database_id(*m_db);
    for (const char* table : k_tables) {
      head_of(anchor, table) = newest(*m_db, table);
    }
    return anchor;
  } catch (const std::exception& e) {
    return read_failure(m_path, e.what());
  }
}

Result<Anchor> History::anchor_after(const PromotionRecord& record) const {
  auto anchor = this->anchor();
  if (!anchor) {
    return anchor;
  }
  try {
    // AUTOINCREMENT gives the next row the seq after the highest ever given out.
    SQLite::Statement highest(*m_db, "SELECT seq FROM sqlite_sequence WHERE name = 'promotions'");
    const long long given = highest.executeStep() ? highest.getColumn(0).getInt64() : 0;
    anchor->promotions.seq = std::max(given, anchor->promotions.seq) + 1;
    anchor->promotions.hash =
        chain_hash(anchor->promotions.hash, detail::canonical(detail::text_of(record)));
    return anchor;
  } catch (const std::exception& e) {
    return read_failure(m_path, e.what());
  }
}

namespace detail {

std::string read_database_id(SQLite::Database& db) {
  if (!db.tableExists("meta")) {
    return {};  // dropped
  }
  SQLite::Statement select(db, "SELECT value FROM meta WHERE key = 'database_id'");
  return select.executeStep() ? select.getColumn(0).getString() : std::string();
}

// Checks `anchors` of `result.database` against the database whose chains verify() found
// whole; sets result.broken at the first that does not match: the highest anchored row of
// each table first (a database that ends before it lost its newest rows), then every hash.
void check_anchors(SQLite::Database& db, const std::vector<PlacedAnchor>& anchors,
                   Verification& result) {
  std::vector<const PlacedAnchor*> ours;
  for (const auto& placed : anchors) {
    if (placed.anchor.database == result.database && !result.database.empty()) {
      ours.push_back(&placed);
    } else {
      ++result.other_anchors;
    }
  }
  result.anchors = ours.size();
  if (result.database.empty()) {
    if (!anchors.empty()) {
      result.broken = ChainBreak{"meta", 0, "",
                                 "the database has no id (meta.database_id), so the anchors of "
                                 "its chains in git cannot be told from others"};
    }
    return;
  }
  for (const char* table : k_tables) {
    const PlacedAnchor* highest = nullptr;
    for (const PlacedAnchor* placed : ours) {
      if (highest == nullptr ||
          head_of(placed->anchor, table).seq > head_of(highest->anchor, table).seq) {
        highest = placed;
      }
    }
    const long long ends = newest(db, table).seq;
    if (highest != nullptr && head_of(highest->anchor, table).seq > ends) {
      const long long anchored = head_of(highest->anchor, table).seq;
      result.broken = ChainBreak{
          table, ends + 1, "",
          (ends + 1 == anchored
               ? "row " + std::to_string(anchored) + " is"
               : "rows " + std::to_string(ends + 1) + " to " + std::to_string(anchored) + " are") +
              " missing: " + highest->where + " anchors row " + std::to_string(anchored) +
              ", and the database ends at row " + std::to_string(ends)};
      return;
    }
  }
  std::map<std::pair<std::string, long long>, std::string> hashes;
  for (const char* table : k_tables) {
    SQLite::Statement select(db, std::string("SELECT hash FROM ") + table + " WHERE seq = ?");
    for (const PlacedAnchor* placed : ours) {
      const ChainHead& head = head_of(placed->anchor, table);
      if (head.seq == 0) {
        continue;
      }
      auto [known, added] = hashes.try_emplace({table, head.seq});
      if (added) {
        select.reset();
        select.bind(1, static_cast<std::int64_t>(head.seq));
        known->second = select.executeStep() ? select.getColumn(0).getString() : std::string();
      }
      if (known->second != head.hash) {
        result.broken =
            ChainBreak{table, head.seq, "",
                       "it does not hold what " + placed->where + " anchors (its hash there is " +
                           head.hash.substr(0, 12) + ")"};
        return;
      }
    }
  }
}

}  // namespace detail

}  // namespace promote::history
