// The audit trail end to end: the hash chain checked by `promote audit verify` after real
// edits with sqlite3, and the history rebuilt from the git notes by `promote history sync`.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::history_db;
using promote::test::Shop;
using promote::test::tamper;
using promote::test::sh;

namespace {

// A history with promotions of every kind, an approval, a rejection, a hold and a release.
void fill(const Shop& shop) {
  REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
  REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
  REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.1"}).exit_code == 0);
  REQUIRE(shop.promote({"--to", "prod"}).exit_code == 3);
  REQUIRE(shop.promote({"approve", "--stage", "prod", "--reason", "dashboards clean"},
                       {{"PROMOTE_ACTOR", "alice"}})
              .exit_code == 0);
  REQUIRE(shop.promote({"reject", "--stage", "prod", "--reason", "load test first"},
                       {{"PROMOTE_ACTOR", "bob"}})
              .exit_code == 0);
  REQUIRE(shop.promote({"hold", "--stage", "prod", "--reason", "INC-1"}).exit_code == 0);
  REQUIRE(shop.promote({"release", "--stage", "prod", "--reason", "INC-1 over"}).exit_code == 0);
  REQUIRE(shop.promote({"rollback", "--stage", "dev"}).exit_code == 0);
}

// Everything the history holds, as the commands print it (promotions, approvals, holds).
std::string dump(const Shop& shop) {
  const CommandResult promotions = shop.promote({"history", "--limit", "0", "--output", "json"});
  REQUIRE(promotions.exit_code == 0);
  const CommandResult others = promote::test::run(
      {"sqlite3", history_db(shop),
       "SELECT pipeline, stage, candidate_id, decision, actor, reason, at, hash FROM approvals "
       "ORDER BY seq; SELECT pipeline, stage, action, actor, reason, at, hash FROM holds ORDER "
       "BY seq;"});
  REQUIRE(others.exit_code == 0);
  return promotions.out + others.out;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("audit verify passes an untouched history and names the first edited, deleted or "
            "reordered row" * doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    fill(shop);
    const CommandResult clean = shop.promote({"audit", "verify"});
    INFO(clean.out << clean.err);
    CHECK(clean.exit_code == 0);
    CHECK(clean.out.find("the hash chain holds: 5 promotions") != std::string::npos);
    CHECK(clean.out.find("2 approvals, 2 holds or releases") != std::string::npos);
    const auto ids = shop.history();
    REQUIRE(ids.size() == 5);
    // Oldest first: dev, staging, dev again, prod (pending), the rollback of dev.
    const std::string second = ids[3]["id"];

    // The backup the auditor will compare against: each case starts from it.
    const std::string backup = history_db(shop) + ".bak";
    sh("sqlite3 '" + history_db(shop) + "' \".backup '" + backup + "'\"");
    const auto broken_by = [&](const std::string& sql) {
      fs::copy_file(backup, history_db(shop), fs::copy_options::overwrite_existing);
      fs::remove(history_db(shop) + "-wal");
      fs::remove(history_db(shop) + "-shm");
      tamper(shop, sql);
      return shop.promote({"audit", "verify"});
    };

    const CommandResult edited =
        broken_by("UPDATE promotions SET actor = 'mallory' WHERE id = '" + second + "'");
    CHECK(edited.exit_code == 1);
    CHECK(edited.out.find("broken at promotions row 2 (promotion " + second +
                          "): its hash does not match") != std::string::npos);

    const CommandResult verdict = broken_by(
        "UPDATE gate_verdicts SET status = 'pass', summary = 'all good' WHERE status != 'pass'");
    CHECK(verdict.exit_code == 1);
    CHECK(verdict.out.find("broken at promotions row 4") != std::string::npos);

    const CommandResult evidence =
        broken_by("UPDATE evidence SET sha256 = replace(sha256, 'a', 'b')");
    CHECK(evidence.exit_code == 1);
    CHECK(evidence.out.find("broken at promotions row 2") != std::string::npos);

    const CommandResult deleted =
        broken_by("DELETE FROM evidence WHERE promotion_id = '" + second +
                  "'; DELETE FROM gate_verdicts WHERE promotion_id = '" + second +
                  "'; DELETE FROM promotions WHERE id = '" + second + "'");
    CHECK(deleted.exit_code == 1);
    CHECK(deleted.out.find("promotions row 2: row 2 is missing") != std::string::npos);

    const CommandResult newest = broken_by("DELETE FROM promotions WHERE seq = 5");
    CHECK(newest.exit_code == 1);
    CHECK(newest.out.find("row 5 is missing") != std::string::npos);

    const CommandResult reordered = broken_by(
        "UPDATE promotions SET seq = 100 WHERE seq = 1; UPDATE promotions SET seq = 1 WHERE seq "
        "= 2; UPDATE promotions SET seq = 2 WHERE seq = 100;");
    CHECK(reordered.exit_code == 1);
    CHECK(reordered.out.find("broken at promotions row 1") != std::string::npos);

    const CommandResult approval =
        broken_by("UPDATE approvals SET decision = 'approve' WHERE actor = 'bob'");
    CHECK(approval.exit_code == 1);
    CHECK(approval.out.find("broken at approvals row 2") != std::string::npos);

    const CommandResult hold = broken_by("DELETE FROM holds WHERE action = 'release'");
    CHECK(hold.exit_code == 1);
    CHECK(hold.out.find("broken at holds row 2: row 2 is missing") != std::string::npos);

    // A forged row with a recomputed-looking hash is still caught: the hash covers the row
    // before it.
    const CommandResult forged = broken_by(
        "UPDATE promotions SET hash = (SELECT hash FROM promotions WHERE seq = 1) WHERE seq = 2");
    CHECK(forged.exit_code == 1);

    CHECK(broken_by("UPDATE promotions SET reason = 'x' WHERE seq = 3").exit_code == 1);
    const CommandResult as_json = shop.promote({"audit", "verify", "--output", "json"});
    CHECK(as_json.exit_code == 1);
    const auto json = nlohmann::json::parse(as_json.out);
    CHECK(json["ok"] == false);
    CHECK(json["broken"]["seq"] == 3);
    CHECK(json["broken"]["table"] == "promotions");
  }

  TEST_CASE("every record is a line of the git note refs/notes/promote, pushed to the remote") {
    Shop shop;
    fill(shop);
    // On the remote: one JSON line per record, on the commit that promoted (or the branch head).
    const std::string notes = sh(
        "for c in $(git --git-dir=remote.git notes --ref=promote list | cut -d' ' -f2); do "
        "git --git-dir=remote.git notes --ref=promote show $c; done",
        shop.dir.path());
    std::size_t promotions = 0;
    std::size_t approvals = 0;
    std::size_t holds = 0;
    std::size_t start = 0;
    while (start < notes.size()) {
      const std::size_t end = std::min(notes.find('\n', start), notes.size());
      const std::string line = notes.substr(start, end - start);
      start = end + 1;
      if (line.empty()) {
        continue;
      }
      const auto record = nlohmann::json::parse(line);
      promotions += record.contains("promotion") ? 1 : 0;
      approvals += record.contains("approval") ? 1 : 0;
      holds += record.contains("hold") ? 1 : 0;
    }
    CHECK(promotions == 5);
    CHECK(approvals == 2);
    CHECK(holds == 2);
    // The promoting commit carries its own record.
    const std::string head = sh("git --git-dir=remote.git rev-parse main", shop.dir.path());
    // Its first line; the history's anchor follows (history/anchor.hpp).
    const std::string lines =
        sh("git --git-dir=remote.git notes --ref=promote show " + head, shop.dir.path());
    const auto record = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
    CHECK(record["promotion"]["commit"] == head.substr(0, 40));
    CHECK(record["promotion"]["rollback_of"] != "");
  }

  TEST_CASE("history sync rebuilds a deleted history from git: same rows, a valid chain" *
            doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    fill(shop);
    const std::string before = dump(shop);
    fs::remove_all(shop.repo / ".promote");
    CHECK(shop.promote({"history"}).exit_code == 2);

    const CommandResult synced = shop.promote({"history", "sync"});
    INFO(synced.out << synced.err);
    REQUIRE(synced.exit_code == 0);
    CHECK(synced.out.find("added 5 promotions, 2 approvals, 2 holds or releases") !=
          std::string::npos);
    CHECK(dump(shop) == before);
    CHECK(shop.promote({"audit", "verify"}).exit_code == 0);
    // Again: nothing new.
    CHECK(shop.promote({"history", "sync"}).out.find("added 0 promotions, 0 approvals, 0 holds") !=
          std::string::npos);

    // Another CI runner: a fresh clone with no history syncs the same rows.
    sh("git clone -q remote.git runner2 && cd runner2 && git config user.name 'Runner 2' && "
       "git config user.email r2@shop.example",
       shop.dir.path());
    const CommandResult second = promote::test::run(
        {promote::test::promote_binary().string(), "history", "sync", "--output", "json"},
        shop.dir / "runner2", {{"PROMOTE_HISTORY", ""}, {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}});
    INFO(second.err);
    REQUIRE(second.exit_code == 0);
    const auto doc = nlohmann::json::parse(second.out);
    CHECK(doc["added"]["promotions"] == 5);
    CHECK(doc["records"] == 9);
    const CommandResult listed = promote::test::run(
        {promote::test::promote_binary().string(), "history", "--limit", "0", "--output", "json"},
        shop.dir / "runner2", {{"PROMOTE_HISTORY", ""}});
    CHECK(listed.out == shop.promote({"history", "--limit", "0", "--output", "json"}).out);
  }

  TEST_CASE("history queries filter by image, actor, outcome and time, with a limit") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "dev", "--image", "web=ghcr.io/acme/web:2.4.0"},
                         {{"PROMOTE_ACTOR", "alice"}})
                .exit_code == 0);
    REQUIRE(shop.promote({"--to", "prod"}).exit_code == 3);
    const auto ids = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "history");
      args.push_back("--output");
      args.push_back("json");
      const CommandResult result = shop.promote(args);
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
      std::vector<std::string> out;
      for (const auto& record : nlohmann::json::parse(result.out)) {
        out.push_back(record["stage"].get<std::string>() + ":" + record["outcome"].get<std::string>() +
                      ":" + record["actor"].get<std::string>());
      }
      return out;
    };
    using List = std::vector<std::string>;
    CHECK(ids({"--actor", "alice"}) == List{"dev:promoted:alice"});
    CHECK(ids({"--outcome", "pending"}) == List{"prod:pending:shop-ci"});
    CHECK(ids({"--image", "ghcr.io/acme/web:2.4.0"}) == List{"dev:promoted:alice"});
    CHECK(ids({"--image", "api", "--stage", "dev"}).size() == 2);
    CHECK(ids({"--since", "1h"}).size() == 3);
    CHECK(ids({"--until", "2001-01-01"}).empty());
    CHECK(ids({"--since", "2001-01-01", "--limit", "1"}) == List{"prod:pending:shop-ci"});
    const CommandResult bad = shop.promote({"history", "--since", "last tuesday"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("--since must be a duration ago") != std::string::npos);

    const CommandResult shown = shop.promote({"history", "show", shop.history()[1]["id"]});
    CHECK(shown.out.find("api  ghcr.io/acme/api:1.4.2 -> ghcr.io/acme/api:1.5.0") ==
          std::string::npos);  // the second newest is the web promotion
    CHECK(shown.out.find("web  ghcr.io/acme/web:2.3.0 -> ghcr.io/acme/web:2.4.0") !=
          std::string::npos);
    CHECK(shown.out.find("files      1 changed\n    k8s/overlays/dev/kustomization.yaml") !=
          std::string::npos);
    CHECK(shown.out.find("  hash       ") != std::string::npos);
  }

  TEST_CASE("actor, run URL and CI provider are recorded from the CI's variables") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"},
                         {{"PROMOTE_ACTOR", ""},
                          {"GITLAB_CI", "true"},
                          {"GITLAB_USER_LOGIN", "gl-user"},
                          {"CI_JOB_URL", "https://gitlab.example/acme/shop/-/jobs/42"},
                          {"PROMOTE_JUNIT_REPORT", (shop.dir / "gates.xml").string()},
                          {"PROMOTE_DOTENV", (shop.dir / "promote.env").string()}})
                .exit_code == 0);
    const auto record = shop.history()[0];
    CHECK(record["actor"] == "gl-user");
    CHECK(record["ci_provider"] == "gitlab");
    CHECK(record["ci_run_url"] == "https://gitlab.example/acme/shop/-/jobs/42");
  }
}
