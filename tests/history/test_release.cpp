// A release's charts and carried files (PromotionRecord::charts and carried, migration 9):
// stored, read back, kept through the JSON of the git notes, covered by the hash chain, and in
// the canonical record only when there are some, so that every record written before, and every
// record of a pipeline of images alone, keeps its hash.
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
const std::string k_settings(64, 'f');

// A promotion into staging of a release: an image, a chart and a carried settings file.
history::PromotionRecord release(const std::string& id, const std::string& started) {
  history::PromotionRecord record;
  record.id = id;
  record.pipeline = "shop";
  record.pipeline_file = "promote.yaml";
  record.stage = "staging";
  record.from = "dev";
  record.candidate_id = k_candidate;
  record.images = {{"api", "ghcr.io/acme/api:1.5.0"}};
  record.charts = {{"podinfo", "6.5.0"}};
  record.carried = {{"settings", k_settings}};
  record.outcome = "promoted";
  record.actor = "alice";
  record.started = history::parse_time(started).value();
  record.finished = record.started + std::chrono::seconds(2);
  record.previous = {{"api", "ghcr.io/acme/api:1.4.0"}};
  record.files = {"envs/staging/settings.yaml", "envs/staging/release.yaml"};
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
      "a version 8 database is migrated to the current version: its rows keep their hashes, and releases "
      "with charts and carried files chain on and verify") {
    TempDir dir;
    const fs::path file = dir / "history.db";
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
      for (int version = 1; version <= 8; ++version) {
        db.exec(promote::test::read_text(fs::path(PROMOTE_SOURCE_DIR) / "schemas" /
                                         ("history-v" + std::to_string(version) + ".sql")));
      }
      db.exec("PRAGMA user_version = 8");
      db.exec(
          "INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, "
          "outcome, actor, reason, ci_run_url, commit_id, error, started_at, finished_at, "
          "previous, files, hash, pipeline_file) VALUES ('old-1', 'shop', 'prod', 'staging', '" +
          k_candidate +
          "', '{\"api\":\"ghcr.io/acme/api:1.4.1\"}', 'promoted', 'alice', '', '', '', '', "
          "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:03.000Z', "
          "'{\"api\":\"ghcr.io/acme/api:1.4.0\"}', '[\"k8s/prod/api.yaml\"]', '" +
          old_hash + "', 'promote.yaml')");
      db.exec(
          "INSERT INTO promotion_images VALUES ('old-1', 'api', 'ghcr.io/acme/api:1.4.1', "
          "'ghcr.io/acme/api')");
    }
    auto store = history::History::open(file).value();
    CHECK(store.schema_version() == history::k_schema_version);
    const auto migrated = store.verify().value();
    CHECK_FALSE(migrated.broken.has_value());
    CHECK(migrated.head == old_hash);
    const history::PromotionRecord old = listed(store, "old-1");
    CHECK(old.charts == json::object());
    CHECK(old.carried == json::object());
    CHECK(promote::util::dump_json(history::to_json(old)) == canonical);

    const history::PromotionRecord record = release("new-1", "2026-02-01T00:00:00.000Z");
    REQUIRE(store.record(record).has_value());
    const history::PromotionRecord back = listed(store, "new-1");
    CHECK(back.charts == json{{"podinfo", "6.5.0"}});
    CHECK(back.carried == json{{"settings", k_settings}});
    CHECK(back.hash ==
          history::chain_hash(old_hash, promote::util::dump_json(history::to_json(record))));
    CHECK_FALSE(store.verify().value().broken.has_value());
    {
      // The chart version is covered by the hash: a row whose chart was changed breaks the chain.
      SQLite::Database db(file, SQLite::OPEN_READWRITE);
      CHECK(db.execAndGet("SELECT charts FROM promotions WHERE id = 'new-1'").getString() ==
            R"({"podinfo":"6.5.0"})");
      db.exec(R"(UPDATE promotions SET charts = '{"podinfo":"6.6.0"}' WHERE id = 'new-1')");
    }
    const auto edited = store.verify().value().broken;
    REQUIRE(edited.has_value());
    CHECK(edited->id == "new-1");
  }

  TEST_CASE(
      "charts and carried files are in the canonical record only when there are some, and "
      "survive the notes' JSON into another history") {
    history::PromotionRecord record = release("r-1", "2026-03-01T00:00:00.123Z");
    const std::string with = promote::util::dump_json(history::to_json(record));
    CHECK(with.find(R"("candidate_id":")" + k_candidate + R"(","carried":{"settings":")" +
                    k_settings + R"("},"charts":{"podinfo":"6.5.0"},"ci_provider")") !=
          std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == with);

    TempDir dir;
    auto mine = history::History::open(dir / "mine.db").value();
    REQUIRE(mine.record(record).has_value());
    const auto note = json::parse(history::note_line(record));
    auto theirs = history::History::open(dir / "theirs.db").value();
    REQUIRE(theirs.merge({history::promotion_from_json(note["promotion"]).value()}, {}, {})
                .value()
                .promotions == 1);
    CHECK(listed(theirs, "r-1").charts == record.charts);
    CHECK(listed(theirs, "r-1").carried == record.carried);
    CHECK(listed(theirs, "r-1").hash == listed(mine, "r-1").hash);

    // Images alone: neither member, as in every record written before.
    record.charts = json::object();
    record.carried = json::object();
    const std::string without = promote::util::dump_json(history::to_json(record));
    CHECK(without.find("charts") == std::string::npos);
    CHECK(without.find("carried") == std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == without);
  }

  TEST_CASE("charts or carried files that are not objects of strings are refused, naming them") {
    json value = history::to_json(release("r-2", "2026-03-01T00:00:00.000Z"));
    value["charts"] = {{"podinfo", 6}};
    const auto charts = history::promotion_from_json(value);
    REQUIRE_FALSE(charts.has_value());
    CHECK(charts.error().message == "promotion r-2: charts holds something that is not a string");
    value = history::to_json(release("r-2", "2026-03-01T00:00:00.000Z"));
    value["carried"] = json::array();
    const auto carried = history::promotion_from_json(value);
    REQUIRE_FALSE(carried.has_value());
    CHECK(carried.error().message == "promotion r-2: carried is not an object");
  }
}
