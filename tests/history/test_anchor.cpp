// Anchors of the hash chains (engine/history/anchor.hpp): their forms in git, the database's
// own, and History::verify against them.
#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/history/anchor.hpp"
#include "engine/history/history.hpp"
#include "tests/support/support.hpp"

namespace {

namespace history = promote::history;
using promote::test::TempDir;

history::PromotionRecord promotion(const std::string& id, const std::string& started) {
  history::PromotionRecord record;
  record.id = id;
  record.pipeline = "shop";
  record.stage = "dev";
  record.candidate_id = std::string(64, 'a');
  record.images = {{"api", "ghcr.io/acme/api:1.4.2"}};
  record.outcome = "promoted";
  record.actor = "alice";
  record.started = history::parse_time(started).value();
  record.finished = record.started;
  return record;
}

history::ApprovalRecord approval(const std::string& decision, const std::string& actor) {
  history::ApprovalRecord record;
  record.pipeline = "shop";
  record.stage = "prod";
  record.candidate_id = std::string(64, 'a');
  record.decision = decision;
  record.actor = actor;
  record.at = history::parse_time("2026-12-01T10:00:00Z").value();
  return record;
}

const std::string k_hash(64, 'e');

}  // namespace

TEST_SUITE("history") {
  TEST_CASE("an anchor is the same after a round trip through a note line or a trailer") {
    history::Anchor anchor;
    anchor.database = "0123456789abcdef0123456789abcdef";
    anchor.promotions = {12, k_hash};
    anchor.holds = {1, std::string(64, '0')};
    CHECK(
        history::note_line(anchor) ==
        R"({"anchor":{"approvals":{"hash":"","seq":0},"database":"0123456789abcdef0123456789abcdef",)"
        R"("holds":{"hash":"0000000000000000000000000000000000000000000000000000000000000000","seq":1},)"
        R"("promotions":{"hash":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","seq":12}}})");
    const std::string trailer = history::trailer_value(anchor);
    CHECK(trailer == "0123456789abcdef0123456789abcdef promotions=12:" + k_hash +
                         " approvals=0: holds=1:" + std::string(64, '0'));
    for (const auto& back :
         {history::anchor_from_trailer(trailer),
          history::anchor_from_json(nlohmann::json::parse(history::note_line(anchor))["anchor"])}) {
      REQUIRE(back.has_value());
      CHECK(back->database == anchor.database);
      CHECK(back->promotions.seq == 12);
      CHECK(back->promotions.hash == k_hash);
      CHECK(back->approvals.seq == 0);
      CHECK(back->approvals.hash.empty());
      CHECK(back->holds.seq == 1);
    }
  }

  TEST_CASE("anchors promote did not write are refused, naming what is wrong") {
    const std::string id = "0123456789abcdef0123456789abcdef";
    const std::string good = " promotions=1:" + k_hash + " approvals=0: holds=0:";
    CHECK(history::anchor_from_trailer(id + good).has_value());
    for (const auto& [text, why] : std::vector<std::pair<std::string, std::string>>{
             {"0123" + good, "the database id is not 32 hex digits"},
             {id, "'promotions=' is missing"},
             {id + " promotions=1:" + k_hash, "'approvals=' is missing"},
             {id + " promotions=1:abc approvals=0: holds=0:", "'promotions' holds a seq or hash"},
             {id + " promotions=0:" + k_hash + " approvals=0: holds=0:",
              "'promotions' holds a seq or hash"},
             {id + " promotions=-1:" + k_hash + " approvals=0: holds=0:",
              "'promotions' holds a seq or hash"},
             {id + " promotions=x:" + k_hash + " approvals=0: holds=0:",
              "'promotions' holds a seq or hash"},
             {id + " holds=0: promotions=1:" + k_hash + " approvals=0:",
              "'promotions=SEQ:HASH' is missing"},
             {id + good + " more", "text follows the holds"},
         }) {
      auto parsed = history::anchor_from_trailer(text);
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().message.find("not an anchor promote wrote: " + why) == 0);
    }
    auto body = nlohmann::json::parse(
        history::note_line(history::Anchor{id, {1, k_hash}, {}, {}}))["anchor"];
    CHECK(history::anchor_from_json(body).has_value());
    body["extra"] = 1;
    CHECK_FALSE(history::anchor_from_json(body).has_value());
    body.erase("extra");
    body["approvals"]["seq"] = "1";
    CHECK_FALSE(history::anchor_from_json(body).has_value());
    body["approvals"] = {{"seq", 2}, {"hash", ""}};
    CHECK_FALSE(history::anchor_from_json(body).has_value());
  }

  TEST_CASE(
      "a database has an id from its creation or migration, and anchor_after foresees the "
      "anchor a promotion's row makes") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    const std::string id = store.database_id().value();
    CHECK(id.size() == 32);
    CHECK(id != history::History::open(dir / "other.db").value().database_id().value());
    CHECK(history::History::open(dir / "history.db").value().database_id().value() == id);

    const auto empty = store.anchor().value();
    CHECK(empty.database == id);
    CHECK(empty.promotions.seq == 0);
    CHECK(empty.promotions.hash.empty());
    for (const char* started : {"2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z"}) {
      const auto record = promotion(std::string("p-") + started, started);
      const auto foreseen = store.anchor_after(record).value();
      REQUIRE(store.record(record).has_value());
      const auto now = store.anchor().value();
      CHECK(foreseen.promotions.seq == now.promotions.seq);
      CHECK(foreseen.promotions.hash == now.promotions.hash);
      CHECK(now.promotions.hash.size() == 64);
    }
    CHECK(store.anchor().value().promotions.seq == 2);
    // After the newest row was deleted, AUTOINCREMENT still gives out seq 3 next.
    {
      SQLite::Database db((dir / "history.db").string(), SQLite::OPEN_READWRITE);
      db.exec("DELETE FROM promotions WHERE seq = 2");
    }
    CHECK(store.anchor_after(promotion("p-3", "2026-12-01T12:00:00Z")).value().promotions.seq == 3);
  }

  TEST_CASE(
      "verify checks a database against the anchors of its id: rows missing at the end, "
      "a chain rebuilt under them, and anchors of other databases") {
    TempDir dir;
    const auto path = dir / "history.db";
    auto store = history::History::open(path).value();
    std::vector<history::PlacedAnchor> anchors;
    for (const auto& [decision, actor] : {std::pair{"approve", "alice"}, {"reject", "bob"}}) {
      REQUIRE(store.record_approval(approval(decision, actor)).has_value());
      anchors.push_back({store.anchor().value(), std::string("the note of ") + actor});
    }
    history::Anchor other = anchors.back().anchor;
    other.database = std::string(32, 'f');
    other.approvals.seq = 9;
    anchors.push_back({other, "another database's note"});

    auto verified = store.verify(anchors).value();
    CHECK_FALSE(verified.broken);
    CHECK(verified.anchors == 2);
    CHECK(verified.other_anchors == 1);
    CHECK(verified.database == store.database_id().value());

    // The rejection deleted, and sqlite_sequence lowered: the chain alone is whole.
    {
      SQLite::Database db(path.string(), SQLite::OPEN_READWRITE);
      db.exec(
          "DELETE FROM approvals WHERE actor = 'bob'; UPDATE sqlite_sequence SET seq = 1 WHERE "
          "name = 'approvals'");
    }
    CHECK_FALSE(store.verify().value().broken);
    verified = store.verify(anchors).value();
    REQUIRE(verified.broken);
    CHECK(verified.broken->table == "approvals");
    CHECK(verified.broken->seq == 2);
    CHECK(verified.broken->why ==
          "row 2 is missing: the note of bob anchors row 2, and the database ends at row 1");

    // Another row 2 in its place (what a rebuilt chain looks like): the chain holds, the
    // anchored hash does not.
    REQUIRE(store.record_approval(approval("approve", "mallory")).has_value());
    CHECK_FALSE(store.verify().value().broken);
    verified = store.verify(anchors).value();
    REQUIRE(verified.broken);
    CHECK(verified.broken->seq == 2);
    CHECK(verified.broken->why ==
          "it does not hold what the note of bob anchors (its hash there is " +
              anchors[1].anchor.approvals.hash.substr(0, 12) + ")");
  }
}
