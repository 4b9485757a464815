// Verification events (outcome "verified", PromotionRecord::healthy_since, migration 10): the
// promotions table rebuilt with every row, seq and hash kept; a verification stored, read back,
// carried by the notes' JSON, covered by the hash chain; and History::healthy, which a soak
// with `since: healthy` counts from.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <string>

#include "engine/history/canonical.hpp"
#include "engine/history/history.hpp"
#include "engine/util/json.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace history = promote::history;
using nlohmann::json;
using promote::test::TempDir;

const std::string k_candidate(64, 'c');
const std::string k_commit(40, 'a');
const history::PipelineId k_shop{"shop", "promote.yaml"};

history::PromotionRecord attempt(const std::string& id, const std::string& started) {
  history::PromotionRecord record;
  record.id = id;
  record.pipeline = "shop";
  record.pipeline_file = "promote.yaml";
  record.stage = "prod";
  record.from = "staging";
  record.candidate_id = k_candidate;
  record.images = {{"api", "ghcr.io/acme/api:1.5.0"}};
  record.outcome = "promoted";
  record.actor = "alice";
  record.started = history::parse_time(started).value();
  record.finished = record.started + std::chrono::seconds(2);
  return record;
}

// staging seen running the release of `commit` healthy since `since`.
history::PromotionRecord verified(const std::string& id, const std::string& commit,
                                  const std::string& since, const std::string& observed) {
  history::PromotionRecord record = attempt(id, observed);
  record.stage = "staging";
  record.from = "";
  record.outcome = "verified";
  record.commit = commit;
  record.healthy_since = history::parse_time(since).value();
  history::GateRecord& gate = record.gates.emplace_back();
  gate.name = "argocd";
  gate.use = "argocd";
  gate.status = "pass";
  gate.summary = "shop-staging: Synced and Healthy";
  gate.details = {{"applications", json::array()}};
  gate.config = {{"server", "https://argocd.example.com"}};
  return record;
}

history::PromotionRecord listed(const history::History& store, const std::string& id) {
  history::Query query;
  query.id = id;
  return store.list(query).value().at(0);
}

}  // namespace

TEST_SUITE("history") {
  TEST_CASE(
      "a version 9 database is migrated to 10: rows, seq, hashes and the highest seq given "
      "out are kept") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    {
      auto store = history::History::open(file).value();
      for (int i = 1; i <= 3; ++i) {
        REQUIRE(store.record(attempt("p-" + std::to_string(i),
                                     "2026-01-0" + std::to_string(i) + "T00:00:00.000Z"))
                    .has_value());
      }
    }
    std::string hashes;
    {
      // Back to version 9, as a database of the build before was: the table as it had it.
      SQLite::Database db(file, SQLite::OPEN_READWRITE);
      db.exec("DELETE FROM promotions WHERE outcome = 'verified'");
      db.exec("ALTER TABLE promotions DROP COLUMN healthy_since");
      db.exec("DROP INDEX promotions_by_commit");
      db.exec(
          "CREATE TABLE p9 AS SELECT * FROM promotions; DROP TABLE promotions; "
          "ALTER TABLE p9 RENAME TO promotions");
      db.exec("PRAGMA user_version = 9");
      // The newest row is gone, its seq given out: the chain must still say so after.
      db.exec("DELETE FROM promotions WHERE id = 'p-3'");
      db.exec("INSERT INTO sqlite_sequence (name, seq) VALUES ('promotions', 3)");
      hashes = db.execAndGet("SELECT group_concat(seq || hash, ',') FROM promotions").getString();
    }
    auto store = history::History::open(file).value();
    CHECK(store.schema_version() == 10);
    {
      SQLite::Database db(file, SQLite::OPEN_READONLY);
      CHECK(db.execAndGet("SELECT group_concat(seq || hash, ',') FROM promotions").getString() ==
            hashes);
      CHECK(db.execAndGet("SELECT seq FROM sqlite_sequence WHERE name = 'promotions'").getInt() ==
            3);
    }
    const auto checked = store.verify().value();
    REQUIRE(checked.broken.has_value());
    CHECK(checked.broken->why == "row 3 is missing");
    CHECK(listed(store, "p-1").healthy_since == std::nullopt);
  }

  TEST_CASE("a verification is stored, read back, chained, and found by stage and commit") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    REQUIRE(store.record(attempt("p-1", "2026-02-01T00:00:00.000Z")).has_value());
    const auto later =
        verified("v-2", k_commit, "2026-02-01T11:00:00.000Z", "2026-02-01T12:00:00.000Z");
    const auto first =
        verified("v-1", k_commit, "2026-02-01T10:00:00.000Z", "2026-02-01T13:00:00.000Z");
    REQUIRE(store.record(later).has_value());
    REQUIRE(store.record(first).has_value());
    REQUIRE(store.record(verified("v-3", std::string(40, 'b'), "2026-02-01T09:00:00.000Z",
                                  "2026-02-01T09:30:00.000Z"))
                .has_value());

    const auto back = listed(store, "v-2");
    CHECK(back.outcome == "verified");
    REQUIRE(back.healthy_since.has_value());
    CHECK(history::format_time(*back.healthy_since) == "2026-02-01T11:00:00.000Z");
    CHECK(listed(store, "p-1").healthy_since == std::nullopt);

    // The earliest time healthy of that stage and commit, whatever order they were seen in.
    const auto healthy = store.healthy(k_shop, "staging", k_commit).value();
    REQUIRE(healthy.has_value());
    CHECK(history::format_time(healthy->since) == "2026-02-01T10:00:00.000Z");
    CHECK(healthy->id == "v-1");
    CHECK_FALSE(store.healthy(k_shop, "prod", k_commit).value().has_value());
    CHECK_FALSE(store.healthy(k_shop, "staging", std::string(40, 'e')).value().has_value());
    CHECK_FALSE(store.healthy(k_shop, "staging", "").value().has_value());
    CHECK_FALSE(store.healthy({"other", ""}, "staging", k_commit).value().has_value());
    // A promotion into the stage at that commit is no verification.
    auto promoted = attempt("p-2", "2026-02-01T00:00:00.000Z");
    promoted.stage = "qa";
    promoted.commit = k_commit;
    REQUIRE(store.record(promoted).has_value());
    CHECK_FALSE(store.healthy(k_shop, "qa", k_commit).value().has_value());

    // In the canonical record only when set; covered by the chain.
    const std::string line = promote::util::dump_json(history::to_json(later));
    CHECK(line.find(R"("gates_skipped":false,"healthy_since":"2026-02-01T11:00:00.000Z","id")") !=
          std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(later)) == line);
    CHECK(promote::util::dump_json(history::to_json(attempt("p-1", "2026-02-01T00:00:00.000Z")))
              .find("healthy_since") == std::string::npos);
    CHECK_FALSE(store.verify().value().broken.has_value());
    {
      SQLite::Database db(dir / "history.db", SQLite::OPEN_READWRITE);
      db.exec("UPDATE promotions SET healthy_since = '2026-01-01T00:00:00.000Z' WHERE id = 'v-2'");
    }
    const auto edited = store.verify().value().broken;
    REQUIRE(edited.has_value());
    CHECK(edited->id == "v-2");
  }

  TEST_CASE("a verification survives the notes' JSON into another history, hash and all") {
    TempDir dir;
    const auto record =
        verified("v-1", k_commit, "2026-02-01T10:00:00.000Z", "2026-02-01T13:00:00.000Z");
    auto mine = history::History::open(dir / "mine.db").value();
    REQUIRE(mine.record(record).has_value());
    const auto note = json::parse(history::note_line(record));
    auto theirs = history::History::open(dir / "theirs.db").value();
    REQUIRE(theirs.merge({history::promotion_from_json(note["promotion"]).value()}, {}, {})
                .value()
                .promotions == 1);
    CHECK(listed(theirs, "v-1").healthy_since == record.healthy_since);
    CHECK(listed(theirs, "v-1").hash == listed(mine, "v-1").hash);
    CHECK(theirs.healthy(k_shop, "staging", k_commit).value().value().id == "v-1");

    json bad = note["promotion"];
    bad["healthy_since"] = "yesterday";
    const auto refused = history::promotion_from_json(bad);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message.find("healthy_since") != std::string::npos);
  }
}
