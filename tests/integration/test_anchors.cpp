// The anchors of the history's hash chains in git (issue 15, defect 4): rows removed from the
// end of a table with sqlite_sequence lowered to match leave a valid, shorter chain, which
// `promote audit verify` used to pass; every record promote writes to git now carries the
// database's id and chain heads, and verify checks the database against them.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::sh;
using promote::test::history_db;
using promote::test::query;
using promote::test::Shop;
using promote::test::tamper;

namespace {

// The approval gate's verdict in a dry run of prod.
std::string approval_status(const Shop& shop) {
  const auto result = shop.promote_json({"--to", "prod", "--dry-run"});
  for (const auto& gate : result["gates"]) {
    if (gate["use"] == "approval") {
      return gate["status"];
    }
  }
  return "none";
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("audit verify finds a rejection deleted with sqlite_sequence lowered to match" *
            doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(shop.promote({"approve", "--stage", "prod", "--reason", "dashboards clean"},
                         {{"PROMOTE_ACTOR", "alice"}})
                .exit_code == 0);
    REQUIRE(shop.promote({"reject", "--stage", "prod", "--reason", "load test first"},
                         {{"PROMOTE_ACTOR", "bob"}})
                .exit_code == 0);
    CHECK(approval_status(shop) == "fail");
    REQUIRE(shop.promote({"audit", "verify"}).exit_code == 0);

    // Bob's rejection goes, and the sequence forgets it was ever given out.
    tamper(shop,
           "DELETE FROM approvals WHERE actor = 'bob'; "
           "UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'approvals'");
    CHECK(approval_status(shop) == "pass");  // what the attacker gains
    const CommandResult verified = shop.promote({"audit", "verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 1);
    const std::string head = sh("git rev-parse HEAD", shop.repo);
    CHECK(verified.out.find("the hash chain is broken at approvals row 2: row 2 is missing: "
                            "the note on " +
                            head.substr(0, 12) +
                            ", line 6 anchors row 2, and the database ends at row 1") !=
          std::string::npos);
    const auto json =
        nlohmann::json::parse(shop.promote({"audit", "verify", "--output", "json"}).out);
    CHECK(json["ok"] == false);
    CHECK(json["broken"]["table"] == "approvals");
    CHECK(json["broken"]["seq"] == 2);
  }

  TEST_CASE(
      "a promotion's commit anchors the history before it in its Promote-History trailer; "
      "verify reads it when the notes are gone" *
      doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.1"}).exit_code == 0);
    const std::string database = query(shop, "SELECT value FROM meta WHERE key = 'database_id'");
    REQUIRE(database.size() == 32);
    const std::string second = query(shop, "SELECT hash FROM promotions WHERE seq = 2");
    // The third commit's trailer: the history as it was before the third promotion.
    const std::string trailer =
        sh("git log -1 --format='%(trailers:key=Promote-History,valueonly)' HEAD", shop.repo);
    CHECK(trailer == database + " promotions=2:" + second + " approvals=0: holds=0:\n\n");
    // The note on that commit: its record, then the history once the record is in.
    const std::string note = sh("git notes --ref=promote show HEAD", shop.repo);
    const std::size_t newline = note.find('\n');
    REQUIRE(newline != std::string::npos);
    const auto anchor = nlohmann::json::parse(note.substr(newline + 1));
    CHECK(anchor["anchor"]["database"] == database);
    CHECK(anchor["anchor"]["promotions"]["seq"] == 3);
    CHECK(anchor["anchor"]["promotions"]["hash"] ==
          query(shop, "SELECT hash FROM promotions WHERE seq = 3"));
    CHECK(anchor["anchor"]["approvals"] == nlohmann::json{{"seq", 0}, {"hash", ""}});
    CHECK(shop.promote({"audit", "verify"}).out.find("it matches its 6 anchors in git") !=
          std::string::npos);

    // Someone removes the last two promotions, and the notes that anchor them.
    tamper(shop,
           "DELETE FROM gate_verdicts WHERE promotion_id IN (SELECT id FROM promotions WHERE seq "
           ">= 2); DELETE FROM evidence WHERE promotion_id IN (SELECT id FROM promotions WHERE seq "
           ">= 2); DELETE FROM promotion_images WHERE promotion_id IN (SELECT id FROM promotions "
           "WHERE seq >= 2); DELETE FROM promotions WHERE seq >= 2; "
           "UPDATE sqlite_sequence SET seq = 1 WHERE name = 'promotions'");
    sh("git update-ref -d refs/notes/promote && (git update-ref -d refs/promote/remote-notes || "
       "true)",
       shop.repo);
    const CommandResult verified = shop.promote({"audit", "verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 1);
    CHECK(verified.out.find("the hash chain is broken at promotions row 2: row 2 is missing: the "
                            "Promote-History trailer of commit " +
                            sh("git rev-parse HEAD", shop.repo).substr(0, 12) +
                            " anchors row 2, and the database ends at row 1") != std::string::npos);
  }

  TEST_CASE(
      "audit verify counts the anchors of another database, and fails on a database whose "
      "id is gone" *
      doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"hold", "--stage", "prod", "--reason", "INC-1"}).exit_code == 0);

    // A history rebuilt from the notes in a fresh runner is another database: the anchors of
    // the first are counted, not checked.
    fs::rename(history_db(shop), history_db(shop) + ".first");
    fs::remove(history_db(shop) + "-wal");
    fs::remove(history_db(shop) + "-shm");
    REQUIRE(shop.promote({"history", "sync"}).exit_code == 0);
    CommandResult verified = shop.promote({"audit", "verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    CHECK(verified.out.find("no anchor of this database (" +
                            query(shop, "SELECT value FROM meta WHERE key = 'database_id'") +
                            ") in git (and 3 of other databases)") != std::string::npos);

    // An id removed: the anchors can no longer be told apart, which verify says.
    tamper(shop, "DELETE FROM meta");
    verified = shop.promote({"audit", "verify"});
    CHECK(verified.exit_code == 1);
    CHECK(verified.out.find("the hash chain is broken at meta: the database has no id") !=
          std::string::npos);
  }
}
