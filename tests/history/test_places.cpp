// What each place of a target held before (PromotionRecord::places, migration 7): stored, read
// back, kept through the JSON of the git notes, and in the canonical record only when there
// are some, so that every record written before keeps its hash.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <string>

#include "engine/history/canonical.hpp"
#include "engine/history/history.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/json.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace history = promote::history;
using nlohmann::json;
using promote::test::TempDir;

const std::string k_candidate(64, 'c');

// The places of a prod target that held api at 1.4.1 in one file and 1.4.0 in another.
const json k_places = json::array(
    {{{"file", "k8s/prod/api.yaml"}, {"image", "api"}, {"value", "ghcr.io/acme/api:1.4.1"}},
     {{"file", "k8s/prod/worker.yaml"}, {"image", "api"}, {"value", "ghcr.io/acme/api:1.4.0"}}});
const std::string k_places_text =
    R"([{"file":"k8s/prod/api.yaml","image":"api","value":"ghcr.io/acme/api:1.4.1"},)"
    R"({"file":"k8s/prod/worker.yaml","image":"api","value":"ghcr.io/acme/api:1.4.0"}])";

// A promotion into prod of pipeline shop (promote.yaml) whose target's places disagreed.
history::PromotionRecord disagreeing(const std::string& id, const std::string& started) {
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
  record.finished = record.started + std::chrono::seconds(3);
  record.previous = {{"api", "ghcr.io/acme/api:1.4.1"}};
  record.places = k_places;
  record.files = {"k8s/prod/api.yaml", "k8s/prod/worker.yaml"};
  return record;
}

history::PromotionRecord listed(const history::History& store, const std::string& id) {
  history::Query query;
  query.id = id;
  return store.list(query).value().at(0);
}

}  // namespace

TEST_SUITE("history") {
  TEST_CASE("a version 6 database is migrated to 7: its rows keep their hashes, and records "
            "with places chain on and verify") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    // A database as promote left it at schema version 6: the DDL of schemas/history-v1.sql to
    // v6 and one promotion, chained as history-v5.sql says, its canonical record (with the
    // pipeline_file of version 6) written out here by hand.
    const std::string canonical =
        R"({"actor":"alice","break_glass":false,"candidate_id":")" + k_candidate +
        R"(","ci_provider":"","ci_run_url":"","commit":"","error":"",)"
        R"("files":["k8s/prod/api.yaml"],"finished":"2026-01-01T00:00:03.000Z","from":"staging",)"
        R"("gates":[],"gates_skipped":false,"id":"old-1","images":{"api":"ghcr.io/acme/api:1.4.1"},)"
        R"("outcome":"promoted","pipeline":"shop","pipeline_file":"promote.yaml",)"
        R"("previous":{"api":"ghcr.io/acme/api:1.4.0"},"pull_request":"","reason":"",)"
        R"("rollback_of":"","stage":"prod","started":"2026-01-01T00:00:00.000Z"})";
    const std::string old_hash = promote::util::sha256_hex(canonical);
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      for (int version = 1; version <= 6; ++version) {
        db.exec(promote::test::read_text(fs::path(PROMOTE_SOURCE_DIR) / "schemas" /
                                         ("history-v" + std::to_string(version) + ".sql")));
      }
      db.exec("PRAGMA user_version = 6");
      db.exec(
          "INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, "
          "outcome, actor, reason, ci_run_url, commit_id, error, started_at, finished_at, "
          "previous, files, hash, pipeline_file) VALUES ('old-1', 'shop', 'prod', 'staging', '" +
          k_candidate +
          "', '{\"api\":\"ghcr.io/acme/api:1.4.1\"}', 'promoted', 'alice', '', '', '', '', "
          "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:03.000Z', "
          "'{\"api\":\"ghcr.io/acme/api:1.4.0\"}', '[\"k8s/prod/api.yaml\"]', '" +
          old_hash + "', 'promote.yaml')");
      db.exec("INSERT INTO promotion_images VALUES ('old-1', 'api', 'ghcr.io/acme/api:1.4.1', "
              "'ghcr.io/acme/api')");
    }
    auto store = history::History::open(file).value();
    CHECK(store.schema_version() == history::k_schema_version);
    const auto migrated = store.verify().value();
    CHECK_FALSE(migrated.broken.has_value());
    CHECK(migrated.promotions == 1);
    CHECK(migrated.head == old_hash);
    const history::PromotionRecord old = listed(store, "old-1");
    CHECK(old.places == json::array());
    CHECK(promote::util::dump_json(history::to_json(old)) == canonical);

    const history::PromotionRecord record = disagreeing("new-1", "2026-02-01T00:00:00.000Z");
    REQUIRE(store.record(record).has_value());
    const auto verified = store.verify().value();
    CHECK_FALSE(verified.broken.has_value());
    CHECK(verified.promotions == 2);
    const history::PromotionRecord back = listed(store, "new-1");
    CHECK(back.places == k_places);
    CHECK(verified.head == back.hash);
    CHECK(back.hash ==
          history::chain_hash(old_hash, promote::util::dump_json(history::to_json(record))));
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE);
      CHECK(db.execAndGet("SELECT places FROM promotions WHERE id = 'old-1'").getString() == "[]");
      CHECK(db.execAndGet("SELECT places FROM promotions WHERE id = 'new-1'").getString() ==
            k_places_text);
      // The places are covered by the hash: a row whose places were emptied breaks the chain.
      db.exec("UPDATE promotions SET places = '[]' WHERE id = 'new-1'");
    }
    const auto edited = store.verify().value().broken;
    REQUIRE(edited.has_value());
    CHECK(edited->seq == 2);
    CHECK(edited->id == "new-1");
  }

  TEST_CASE("places are in the canonical record only when there are some, and survive the "
            "notes' JSON into another history") {
    history::PromotionRecord record = disagreeing("p-1", "2026-03-01T00:00:00.123Z");
    const std::string with = promote::util::dump_json(history::to_json(record));
    CHECK(with.find(R"("pipeline_file":"promote.yaml","places":)" + k_places_text +
                    R"(,"previous")") != std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == with);

    // history sync reads the note line back and adds the record with its places: the same
    // row, and the same hash, as the history that wrote it.
    TempDir dir;
    auto mine = history::History::open(dir / "mine.db").value();
    REQUIRE(mine.record(record).has_value());
    const auto note = json::parse(history::note_line(record));
    auto theirs = history::History::open(dir / "theirs.db").value();
    REQUIRE(theirs.merge({history::promotion_from_json(note["promotion"]).value()}, {}, {})
                .value()
                .promotions == 1);
    CHECK(listed(theirs, "p-1").places == k_places);
    CHECK(listed(theirs, "p-1").hash == listed(mine, "p-1").hash);
    CHECK_FALSE(theirs.verify().value().broken.has_value());

    // None: no "places" member, as in the records written before it was kept.
    record.places = json::array();
    const std::string without = promote::util::dump_json(history::to_json(record));
    CHECK(without.find("places") == std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == without);
    CHECK(history::promotion_from_json(json::parse(without)).value().places == json::array());
  }

  TEST_CASE("places that are not what promote writes are refused, naming the field") {
    const json record = history::to_json(disagreeing("p-1", "2026-03-01T00:00:00.000Z"));
    const auto refused = [&](const json& places) {
      json value = record;
      value["places"] = places;
      auto read = history::promotion_from_json(value);
      REQUIRE(read.has_error());
      CHECK(read.error().kind == promote::ErrorKind::input);
      return read.error().message;
    };
    CHECK(refused(5) == "promotion p-1: places is not an array");
    CHECK(refused(json::array({"k8s/prod/api.yaml"})) == "promotion p-1: place is not an object");
    CHECK(refused(json::array({{{"file", "k8s/prod/api.yaml"}, {"image", "api"}}})) ==
          "promotion p-1: place: value is missing");
    CHECK(refused(json::array({{{"file", 1}, {"image", "api"}, {"value", "x"}}})) ==
          "promotion p-1: place: file is not a string");

    // A row of the database: read back, it is an error naming the promotion.
    TempDir dir;
    const fs::path file = dir / "history.db";
    auto store = history::History::open(file).value();
    REQUIRE(store.record(disagreeing("p-1", "2026-03-01T00:00:00.000Z")).has_value());
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE);
      db.exec(R"(UPDATE promotions SET places = '[{"file": "k8s/prod/api.yaml"}]')");
    }
    auto read = store.list({});
    REQUIRE(read.has_error());
    CHECK(read.error().message ==
          "cannot read history database " + file.string() +
              ": promotion p-1: places: not an array of objects of the strings file, image and "
              "value");
  }
}
