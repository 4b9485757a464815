// Several pipelines in one repository: two pipeline files in one directory share
// .promote/history.db and the git notes, and each reads only its own records (the history's
// rows, the Promote-Pipeline trailers of the commits, the notes).
#include <doctest/doctest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/history/history.hpp"
#include "engine/util/hash.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::sh;
using promote::test::Shop;
using promote::test::write_text;

namespace {

// The second pipeline of the shop, shop-eu: the same images and stage names as promote.yaml
// (pipeline shop), its own overlays under k8s/eu, and a soak of 2h and an approval by alice
// before prod.
constexpr const char* k_eu_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: shop-eu
repository:
  url: .
  branch: main
images:
  - name: api
    repository: ghcr.io/acme/api
  - name: web
    repository: ghcr.io/acme/web
stages:
  - name: dev
    target:
      kustomize: k8s/eu/dev
  - name: staging
    from: dev
    target:
      kustomize: k8s/eu/staging
  - name: prod
    from: staging
    target:
      kustomize: k8s/eu/prod
    gates:
      - use: soak
        with:
          min: 2h
      - use: approval
        with:
          approvers: [alice]
          min: 1
)";

// Adds eu.yaml and its overlays, copies of what the shop's overlays hold now, in a commit
// made three hours ago (so that a soak of 2h counted from that commit is over).
void add_eu(const Shop& shop) {
  write_text(shop.repo / "eu.yaml", k_eu_pipeline);
  const std::string three_hours_ago = std::to_string(std::time(nullptr) - 3 * 3600) + " +0000";
  sh("cp -r k8s/overlays k8s/eu && git add -A && GIT_AUTHOR_DATE='" + three_hours_ago +
         "' GIT_COMMITTER_DATE='" + three_hours_ago +
         "' git commit -q -m 'eu: overlays as the shop has them' && git push -q",
     shop.repo);
}

// The shop promotes api 1.5.0 into dev and staging; then eu.yaml is added, its staging
// holding the very candidate the shop's staging entered just now.
void shop_then_eu(const Shop& shop) {
  REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
  REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
  add_eu(shop);
}

// The verdict of gate `name` in a `plan --output json` of `args`.
nlohmann::json gate_of(const Shop& shop, std::vector<std::string> args, const std::string& name) {
  args.insert(args.end(), {"--output", "json"});
  const CommandResult result = shop.promote(args);
  INFO(result.out << result.err);
  const auto doc = nlohmann::json::parse(result.out);
  for (const auto& gate : doc["gates"]) {
    if (gate["name"] == name) {
      return gate;
    }
  }
  FAIL("no gate " << name);
  return {};
}

// "stage:pipeline:file" of each record `history ARGS --output json` lists.
std::vector<std::string> listed(const Shop& shop, std::vector<std::string> args) {
  args.insert(args.begin(), "history");
  args.insert(args.end(), {"--output", "json"});
  const CommandResult result = shop.promote(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  std::vector<std::string> out;
  for (const auto& record : nlohmann::json::parse(result.out)) {
    out.push_back(record["stage"].get<std::string>() + ":" + record["pipeline"].get<std::string>() +
                  ":" + record["pipeline_file"].get<std::string>());
  }
  return out;
}

using List = std::vector<std::string>;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "the soak of a pipeline counts from its own promotions, not from another pipeline's "
      "into a stage of the same name") {
    Shop shop;
    shop_then_eu(shop);
    const std::string since_commit = "(last change of k8s/eu/staging)";

    // The shop's staging entered the candidate just now (the history says so): its prod soaks.
    const auto shop_soak = gate_of(shop, {"plan", "--to", "prod"}, "soak");
    CHECK(shop_soak["status"] == "pending");
    CHECK(shop_soak["details"]["entered_source"] == "history");

    // eu's staging holds that same candidate since eu's own commit, three hours ago.
    const auto eu_soak = gate_of(shop, {"-f", "eu.yaml", "plan", "--to", "prod"}, "soak");
    CHECK(eu_soak["status"] == "pass");
    CHECK(contains(eu_soak["details"]["entered_source"].get<std::string>(), since_commit));
    CHECK(contains(eu_soak["summary"].get<std::string>(), "in staging for 3h"));

    // Without a history, from the git log alone: the shop's promote commit into staging (its
    // Promote-Pipeline trailer names shop) does not count for eu either.
    const std::string none = (shop.dir / "none.db").string();
    const auto from_git =
        gate_of(shop, {"-f", "eu.yaml", "plan", "--to", "prod", "--history", none}, "soak");
    CHECK(from_git["status"] == "pass");
    CHECK(contains(from_git["details"]["entered_source"].get<std::string>(), since_commit));
    const auto shop_from_git = gate_of(shop, {"plan", "--to", "prod", "--history", none}, "soak");
    CHECK(shop_from_git["status"] == "pending");
    CHECK(contains(shop_from_git["details"]["entered_source"].get<std::string>(),
                   "(Promote trailers)"));
    CHECK_FALSE(fs::exists(none));
  }

  TEST_CASE("status of a pipeline shows when its own stages changed, not another pipeline's") {
    Shop shop;
    shop_then_eu(shop);
    const auto status = [&](std::vector<std::string> args) {
      args.insert(args.end(), {"status", "--output", "json"});
      const CommandResult result = shop.promote(args);
      INFO(result.err);
      REQUIRE(result.exit_code == 0);
      return nlohmann::json::parse(result.out);
    };
    const auto eu = status({"-f", "eu.yaml"});
    CHECK(eu["pipeline"] == "shop-eu");
    CHECK(eu["stages"][1]["name"] == "staging");
    CHECK(eu["stages"][1]["entered_source"].get<std::string>().ends_with(
        " (last change of k8s/eu/staging)"));
    const auto own = status({});
    CHECK(own["stages"][1]["entered_source"] == "history");
    CHECK(own["stages"][1]["candidate"]["id"] == eu["stages"][1]["candidate"]["id"]);
  }

  TEST_CASE("an approval counts for the pipeline it was given in only") {
    Shop shop;
    shop_then_eu(shop);
    // alice approves the candidate for the shop's prod: eu's prod, with the same candidate and
    // a stage of the same name, still waits for its own approval.
    REQUIRE(shop.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "alice"}}).exit_code ==
            0);
    const auto waiting = gate_of(shop, {"-f", "eu.yaml", "plan", "--to", "prod"}, "approval");
    CHECK(waiting["status"] == "pending");
    REQUIRE(
        shop.promote({"-f", "eu.yaml", "approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "alice"}})
            .exit_code == 0);
    CHECK(gate_of(shop, {"-f", "eu.yaml", "plan", "--to", "prod"}, "approval")["status"] == "pass");
    const CommandResult rows =
        promote::test::run({"sqlite3", (shop.repo / ".promote/history.db").string(),
                            "SELECT pipeline || ':' || pipeline_file FROM approvals ORDER BY seq"});
    if (rows.exit_code == 0) {
      CHECK(rows.out == "shop:promote.yaml\nshop-eu:eu.yaml\n");
    }
  }

  TEST_CASE(
      "two pipeline files with one name are two pipelines: a hold of one does not hold "
      "the other") {
    Shop shop;
    // twin/promote.yaml: the shop's pipeline file once more (its metadata.name too), over a
    // copy of the overlays beside it.
    sh("mkdir twin && cp -r promote.yaml k8s twin/ && git add -A && git commit -q -m twin && "
       "git push -q",
       shop.repo);
    REQUIRE(shop.promote({"hold", "--stage", "dev", "--reason", "INC-7"}).exit_code == 0);
    const CommandResult held =
        shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"});
    CHECK(held.exit_code == 3);
    const CommandResult twin_run = shop.promote(
        {"-f", "twin/promote.yaml", "--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0",
         "--history", (shop.repo / ".promote/history.db").string()});
    INFO(twin_run.out << twin_run.err);
    CHECK(twin_run.exit_code == 0);
    const std::string message = sh("git log -1 --format=%B", shop.repo);
    CHECK(contains(message,
                   "\nPromote-Pipeline: shop\nPromote-Pipeline-File: twin/promote.yaml\n"
                   "Promote-Stage: dev\n"));
    CHECK(listed(shop, {"--all-pipelines"}) ==
          List{"dev:shop:twin/promote.yaml", "dev:shop:promote.yaml"});
    // --pipeline names a pipeline by its name: both files.
    CHECK(listed(shop, {"--pipeline", "shop"}).size() == 2);
  }

  TEST_CASE("history lists the records of the pipeline of -f, of --pipeline NAME, or of all") {
    Shop shop;
    add_eu(shop);
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"-f", "eu.yaml", "--to", "dev", "--image", "web=ghcr.io/acme/web:2.4.0"})
                .exit_code == 0);
    const std::string message = sh("git log -1 --format=%B", shop.repo);
    CHECK(contains(
        message,
        "\nPromote-Pipeline: shop-eu\nPromote-Pipeline-File: eu.yaml\nPromote-Stage: dev\n"));

    CHECK(listed(shop, {}) == List{"dev:shop:promote.yaml"});
    CHECK(listed(shop, {"-f", "eu.yaml"}) == List{"dev:shop-eu:eu.yaml"});
    CHECK(listed(shop, {"--pipeline", "shop-eu"}) == List{"dev:shop-eu:eu.yaml"});
    CHECK(listed(shop, {"-f", "eu.yaml", "--pipeline", "shop"}) == List{"dev:shop:promote.yaml"});
    CHECK(listed(shop, {"--all-pipelines"}) ==
          List{"dev:shop-eu:eu.yaml", "dev:shop:promote.yaml"});
    CHECK(listed(shop, {"--pipeline", "nobody"}).empty());

    const CommandResult table = shop.promote({"history", "--all-pipelines"});
    CHECK(table.out.starts_with("STARTED               PIPELINE             STAGE  FROM"));
    CHECK(contains(table.out, "Z  shop-eu (eu.yaml)    dev    -     promoted  "));
    CHECK(contains(table.out, "Z  shop (promote.yaml)  dev    -     promoted  "));
    const CommandResult csv = shop.promote({"history", "--output", "csv"});
    CHECK(csv.out.starts_with("id,started_at,finished_at,pipeline,pipeline_file,stage,"));
    CHECK(contains(csv.out, ",shop,promote.yaml,dev,"));
    CHECK_FALSE(contains(csv.out, "eu.yaml"));

    const CommandResult both = shop.promote({"history", "--pipeline", "shop", "--all-pipelines"});
    CHECK(both.exit_code == 2);
    CHECK(contains(both.err, "--pipeline excludes --all-pipelines"));
    // Without a pipeline file here (and no -f), the history of every pipeline.
    fs::rename(shop.repo / "promote.yaml", shop.repo / "main.yaml");
    CHECK(listed(shop, {"--history", (shop.repo / ".promote/history.db").string()}).size() == 2);
    const CommandResult missing = shop.promote({"history", "-f", "promote.yaml"});
    CHECK(missing.exit_code == 2);
  }

  TEST_CASE("the git notes carry the pipeline, and history sync takes its own pipeline's records") {
    Shop shop;
    add_eu(shop);
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    const std::string shop_commit = sh("git rev-parse HEAD", shop.repo).substr(0, 40);
    REQUIRE(shop.promote({"-f", "eu.yaml", "--to", "dev", "--image", "web=ghcr.io/acme/web:2.4.0"})
                .exit_code == 0);
    // The record, then the history's anchor (history/anchor.hpp).
    const std::string lines =
        sh("git --git-dir=remote.git notes --ref=promote show " + shop_commit, shop.dir.path());
    const auto note = nlohmann::json::parse(lines.substr(0, lines.find('\n')));
    CHECK(nlohmann::json::parse(lines.substr(lines.find('\n') + 1)).contains("anchor"));
    CHECK(note["promotion"]["pipeline"] == "shop");
    CHECK(note["promotion"]["pipeline_file"] == "promote.yaml");
    const auto before = listed(shop, {"--all-pipelines"});

    fs::remove_all(shop.repo / ".promote");
    const CommandResult synced = shop.promote({"history", "sync"});
    INFO(synced.out << synced.err);
    REQUIRE(synced.exit_code == 0);
    CHECK(contains(synced.out,
                   "; added 1 promotions, 0 approvals, 0 holds or releases of "
                   "pipeline shop (promote.yaml); left out 1 records of other "
                   "pipelines\n"));
    CHECK(listed(shop, {"--all-pipelines"}) == List{"dev:shop:promote.yaml"});

    const CommandResult eu = shop.promote({"-f", "eu.yaml", "history", "sync", "--output", "json"});
    REQUIRE(eu.exit_code == 0);
    const auto doc = nlohmann::json::parse(eu.out);
    CHECK(doc["pipeline"] == "shop-eu");
    CHECK(doc["pipeline_file"] == "eu.yaml");
    CHECK(doc["added"]["promotions"] == 1);
    CHECK(doc["other_pipelines"] == 1);
    CHECK(listed(shop, {"--all-pipelines"}) == before);
    CHECK(shop.promote({"audit", "verify"}).exit_code == 0);
  }

  TEST_CASE(
      "a history database of schema version 5 is migrated, keeps verifying, and its "
      "records count for the pipeline of their name" *
      doctest::skip(!promote::test::has_program("sqlite3"))) {
    Shop shop;
    add_eu(shop);
    const fs::path db = shop.repo / ".promote/history.db";
    fs::create_directories(db.parent_path());
    // A database as promote left it at schema version 5: the DDL of schemas/history-v1.sql to
    // v5, one promotion, one approval and one hold, each chained as history-v5.sql says:
    // hash = sha256_hex(previous hash || canonical record), written out here by hand.
    const std::string candidate(64, 'c');
    const std::string promotion =
        R"({"actor":"alice","break_glass":false,"candidate_id":")" + candidate +
        R"(","ci_provider":"","ci_run_url":"","commit":"","error":"","files":[],)"
        R"("finished":"2026-01-01T00:00:03.000Z","from":"staging","gates":[],)"
        R"("gates_skipped":false,"id":"20260101T000000Z-0000aaaa",)"
        R"("images":{"api":"ghcr.io/acme/api:1.0.0"},"outcome":"promoted","pipeline":"shop",)"
        R"("previous":{},"pull_request":"","reason":"","rollback_of":"","stage":"prod",)"
        R"("started":"2026-01-01T00:00:00.000Z"})";
    const std::string approval =
        R"({"actor":"bob","at":"2026-01-01T00:00:01.000Z","candidate_id":")" + candidate +
        R"(","decision":"approve","pipeline":"shop","reason":"ok","stage":"prod"})";
    const std::string hold =
        R"({"action":"hold","actor":"ops","at":"2026-01-02T00:00:00.000Z","pipeline":"shop",)"
        R"("reason":"INC-1","stage":"prod"})";
    const auto hash = [](const std::string& canonical) {
      return promote::util::sha256_hex(canonical);
    };
    std::string sql;
    for (int version = 1; version <= 5; ++version) {
      sql += promote::test::read_text(fs::path(PROMOTE_SOURCE_DIR) / "schemas" /
                                      ("history-v" + std::to_string(version) + ".sql"));
    }
    sql +=
        "PRAGMA user_version = 5;\n"
        "INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, "
        "outcome, actor, reason, ci_run_url, commit_id, error, started_at, finished_at, hash) "
        "VALUES ('20260101T000000Z-0000aaaa', 'shop', 'prod', 'staging', '" +
        candidate +
        "', '{\"api\":\"ghcr.io/acme/api:1.0.0\"}', 'promoted', 'alice', '', '', '', '', "
        "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:03.000Z', '" +
        hash(promotion) +
        "');\n"
        "INSERT INTO promotion_images VALUES ('20260101T000000Z-0000aaaa', 'api', "
        "'ghcr.io/acme/api:1.0.0', 'ghcr.io/acme/api');\n"
        "INSERT INTO approvals (pipeline, stage, candidate_id, decision, actor, reason, at, "
        "hash) VALUES ('shop', 'prod', '" +
        candidate + "', 'approve', 'bob', 'ok', '2026-01-01T00:00:01.000Z', '" + hash(approval) +
        "');\n"
        "INSERT INTO holds (pipeline, stage, action, actor, reason, at, hash) VALUES ('shop', "
        "'prod', 'hold', 'ops', 'INC-1', '2026-01-02T00:00:00.000Z', '" +
        hash(hold) + "');\n";
    const CommandResult built = promote::test::run({"sqlite3", db.string()}, {}, {}, sql);
    INFO(built.err);
    REQUIRE(built.exit_code == 0);

    const CommandResult verified = shop.promote({"audit", "verify"});
    INFO(verified.out << verified.err);
    CHECK(verified.exit_code == 0);
    CHECK(contains(verified.out, "the hash chain holds: 1 promotions (head " +
                                     hash(promotion).substr(0, 12) +
                                     "), 1 approvals, 1 holds or releases; no anchor of this "
                                     "database ("));
    CHECK(sh("sqlite3 '" + db.string() + "' 'PRAGMA user_version'") ==
          std::to_string(promote::history::k_schema_version) + "\n");

    // The old record has no file: it counts for the pipeline of its name (whichever file).
    CHECK(listed(shop, {}) == List{"prod:shop:"});
    CHECK(listed(shop, {"-f", "eu.yaml"}).empty());
    const CommandResult table = shop.promote({"history"});
    CHECK(contains(table.out, "Z  shop      prod "));
    // So does its hold: the shop's prod is held, eu's is not.
    CHECK(contains(shop.promote({"hold", "--stage", "prod", "--reason", "again"}).err,
                   "stage prod is already held by ops since 2026-01-02"));
    REQUIRE(
        shop.promote({"-f", "eu.yaml", "hold", "--stage", "prod", "--reason", "INC-2"}).exit_code ==
        0);

    // New records carry their file and chain on from the old ones.
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    CHECK(listed(shop, {}) == List{"dev:shop:promote.yaml", "prod:shop:"});
    const CommandResult again = shop.promote({"audit", "verify"});
    INFO(again.out);
    CHECK(again.exit_code == 0);
    CHECK(contains(again.out, "the hash chain holds: 2 promotions"));
    // Checked against the anchors the new records wrote to git.
    CHECK(
        contains(again.out, "1 approvals, 2 holds or releases; it matches its 3 anchors in git\n"));
  }
}
