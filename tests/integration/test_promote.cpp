// End-to-end: the real promote binary against real git repositories with a bare
// remote, real SQLite history files and the demo pipeline of examples/.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

namespace {

using promote::test::Shop;
using promote::test::k_examples;

using promote::test::contains;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a first stage is promoted from --image, committed with trailers and pushed") {
    Shop shop;
    const std::string before = shop.remote_head();
    const CommandResult result = shop.promote(
        {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3", "--reason", "hotfix for #42"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "api  ghcr.io/acme/api:1.4.2 -> ghcr.io/acme/api:1.4.3"));
    CHECK(contains(result.out, "-    newTag: 1.4.2\n+    newTag: 1.4.3\n"));
    CHECK(contains(shop.overlay("dev"), "    newTag: 1.4.3\n"));
    CHECK(shop.remote_head() != before);
    const std::string message = sh("git --git-dir=remote.git log -1 --format=%B main", shop.dir.path());
    CHECK(message.starts_with("promote(dev): api 1.4.2 -> 1.4.3\n"));
    CHECK(contains(message, "\nPromote-Stage: dev\n"));
    CHECK(contains(message, "\nPromote-Gates: none\n"));
    CHECK_FALSE(contains(message, "Promote-From"));
    const std::string files =
        sh("git --git-dir=remote.git show --name-only --format= main", shop.dir.path());
    CHECK(files == "k8s/overlays/dev/kustomization.yaml\n");
    const auto history = shop.history();
    REQUIRE(history.size() == 1);
    CHECK(history[0]["outcome"] == "promoted");
    CHECK(history[0]["stage"] == "dev");
    CHECK(history[0]["actor"] == "shop-ci");
    CHECK(history[0]["reason"] == "hotfix for #42");
    CHECK(history[0]["images"]["api"] == "ghcr.io/acme/api:1.4.3");
    CHECK(history[0]["commit"] == sh("git --git-dir=remote.git rev-parse main", shop.dir.path()).substr(0, 40));
    CHECK(contains(message, "\nPromote-Candidate: " + history[0]["candidate_id"].get<std::string>() + "\n"));
    CHECK(contains(message, "\nPromote-Id: " + history[0]["id"].get<std::string>() + "\n"));
  }

  TEST_CASE("promoting what a stage already holds is a no-op without a commit") {
    Shop shop;
    const std::string before = shop.remote_head();
    const auto doc = shop.promote_json({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.2"});
    CHECK(doc["outcome"] == "no-op");
    CHECK(doc["commit"].is_null());
    CHECK(shop.remote_head() == before);
    CHECK(shop.history()[0]["outcome"] == "no-op");
  }

  TEST_CASE("a later stage takes its candidate from the source stage and runs its gates") {
    Shop shop;
    const auto doc = shop.promote_json({"--to", "staging"});
    CHECK(doc["outcome"] == "promoted");
    CHECK(doc["stage"] == "staging");
    CHECK(doc["from"] == "dev");
    CHECK(doc["candidate"]["images"] ==
          nlohmann::json{{"api", "ghcr.io/acme/api:1.4.2"}, {"web", "ghcr.io/acme/web:2.3.0"}});
    CHECK(doc["candidate"]["id"].get<std::string>().size() == 64);
    CHECK(doc["candidate"]["short_id"] == doc["candidate"]["id"].get<std::string>().substr(0, 12));
    REQUIRE(doc["gates"].size() == 2);
    CHECK(doc["gates"][0]["name"] == "junit");
    CHECK(doc["gates"][0]["use"] == "junit");
    CHECK(doc["gates"][0]["status"] == "pass");
    CHECK(doc["gates"][0]["summary"] == "103 tests: 98 passed, 5 skipped");
    CHECK(doc["gates"][0]["details"]["totals"]["tests"] == 103);
    CHECK(doc["gates"][0]["evidence"].size() == 3);
    CHECK(doc["commit"] == shop.remote_head().substr(0, 40));
    CHECK(doc["promotion_id"].is_string());
    CHECK(contains(shop.overlay("staging"), "    newTag: 1.4.2\n"));
    const std::string message = sh("git --git-dir=remote.git log -1 --format=%B main", shop.dir.path());
    CHECK(contains(message, "\nPromote-From: dev\n"));
    CHECK(contains(message, "\nPromote-Gates: junit=pass, trivy=pass\n"));
    CHECK(doc["gates"][1]["summary"] ==
          "0 critical (max 0), 0 high (max 0), 1 medium (unique ids), within max; 1 accepted by "
          "exception");
  }

  TEST_CASE("a failing gate blocks the promotion and nothing is written") {
    Shop shop;
    write_text(shop.repo / "reports/junit/e2e.xml",
               "<testsuite name=\"e2e\"><testcase name=\"checkout\"><failure message=\"500\"/>"
               "</testcase></testsuite>");
    const std::string before = shop.overlay("staging");
    const std::string head = shop.remote_head();
    const CommandResult result = shop.promote({"--to", "staging"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.out, "outcome: blocked"));
    CHECK(shop.overlay("staging") == before);
    CHECK(shop.remote_head() == head);
    CHECK(sh("git status --porcelain k8s", shop.repo) == "");
    const auto history = shop.history();
    CHECK(history[0]["outcome"] == "blocked");
    CHECK(history[0]["gates"][0]["status"] == "fail");
    CHECK(history[0]["gates"][0]["evidence"].size() == 4);
  }

  TEST_CASE("soak not yet served is pending with exit 3 and nothing written") {
    Shop shop;
    const std::string head = shop.remote_head();
    const auto doc = shop.promote_json({"--to", "prod"});
    CHECK(doc["outcome"] == "pending");
    CHECK(doc["gates"][0]["status"] == "pending");
    CHECK(doc["gates"][0]["retry_after_seconds"].get<long long>() > 0);
    CHECK(shop.promote({"--to", "prod"}).exit_code == 3);
    CHECK(shop.remote_head() == head);
    CHECK(shop.history()[0]["outcome"] == "pending");
  }

  TEST_CASE("soak is read from the promote commit trailers in a fresh clone without history") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    const std::string id = shop.history()[0]["candidate_id"];
    // A clone elsewhere knows nothing of the first checkout's history database; the
    // staging promotion is made to look older by re-committing it with an old date.
    auto clone_and_age = [&](const std::string& age) {
      fs::remove_all(shop.dir / "clone");
      sh("git clone -q remote.git clone && cd clone && git config user.name CI && "
         "git config user.email ci@x && msg=$(git log -1 --format=%B) && git reset -q --soft HEAD~1 && "
         "GIT_COMMITTER_DATE=\"$(date -d '" + age + " ago' -R)\" git commit -q -m \"$msg\"",
         shop.dir.path());
    };
    SUBCASE("soaked long enough") {
      clone_and_age("3 hours");
      // alice's approval, kept apart from the clone: its history has no promotion at all.
      const std::string approvals = (shop.dir / "approvals.db").string();
      REQUIRE(promote::test::run({promote::test::promote_binary().string(), "approve", "--stage",
                                  "prod"},
                                 shop.dir / "clone",
                                 {{"PROMOTE_HISTORY", approvals}, {"PROMOTE_ACTOR", "alice"}})
                  .exit_code == 0);
      const CommandResult result = promote::test::run(
          {promote::test::promote_binary().string(), "--to", "prod", "--dry-run", "--output", "json"},
          shop.dir / "clone", {{"PROMOTE_HISTORY", approvals}});
      const auto doc = nlohmann::json::parse(result.out);
      CHECK(doc["gates"][0]["status"] == "pass");
      CHECK(contains(doc["gates"][0]["details"]["entered_source"].get<std::string>(),
                     "(Promote trailers)"));
      CHECK(doc["outcome"] == "planned");
      CHECK(result.exit_code == 0);
      CHECK_FALSE(fs::exists(shop.dir / "clone/.promote/history.db"));
    }
    SUBCASE("not yet") {
      clone_and_age("30 minutes");
      const CommandResult result = promote::test::run(
          {promote::test::promote_binary().string(), "--to", "prod", "--dry-run", "--output", "json"},
          shop.dir / "clone", {{"PROMOTE_HISTORY", ""}});
      const auto doc = nlohmann::json::parse(result.out);
      CHECK(doc["gates"][0]["status"] == "pending");
      // The commit is 30 minutes old when promote reads it, give or take the seconds the
      // test takes to get there.
      const auto elapsed = doc["gates"][0]["details"]["elapsed_seconds"].get<long long>();
      CHECK(elapsed >= 1800);
      CHECK(elapsed < 1800 + 60);
      const std::string summary = doc["gates"][0]["summary"].get<std::string>();
      CHECK((summary.ends_with("; 1h30m left") || summary.find("; 1h29m") != std::string::npos));
      CHECK(result.exit_code == 3);
    }
    CHECK(id.size() == 64);
  }

  TEST_CASE("a dry run prints the gates and the diff and writes nothing") {
    Shop shop;
    const std::string head = shop.remote_head();
    const CommandResult result = shop.promote({"--to", "staging", "--dry-run"});
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "junit  pass    103 tests: 98 passed, 5 skipped"));
    CHECK(contains(result.out, "diff it would commit\n"));
    CHECK(contains(result.out, "-    newTag: 1.4.1\n+    newTag: 1.4.2\n"));
    CHECK(contains(result.out, "outcome: planned"));
    CHECK(contains(shop.overlay("staging"), "    newTag: 1.4.1\n"));
    CHECK(shop.remote_head() == head);
    CHECK_FALSE(fs::exists(shop.repo / ".promote"));
  }

  TEST_CASE("uncommitted changes in the target are refused with exit 2") {
    Shop shop;
    write_text(shop.repo / "k8s/overlays/staging/kustomization.yaml", shop.overlay("staging") + "# local edit\n");
    const CommandResult result = shop.promote({"--to", "staging"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "promote: refusing to promote: k8s/overlays/staging/kustomization.yaml has "
                        "uncommitted changes; commit or stash them first\n");
    CHECK(contains(shop.overlay("staging"), "# local edit\n"));
    CHECK_FALSE(fs::exists(shop.repo / ".promote"));
  }

  TEST_CASE("usage and configuration errors exit 2 with a message and change nothing") {
    Shop shop;
    const std::string head = shop.remote_head();
    struct Case {
      std::vector<std::string> args;
      std::string message;
    };
    const std::vector<Case> cases = {
        {{"--to", "stagin"},
         "promote: the pipeline has no stage 'stagin' (did you mean 'staging'?)\n"},
        {{"--to", "dev", "--image", "api=ghcr.io/acme/API:1"},
         "promote: --image api: invalid image reference 'ghcr.io/acme/API:1': repository name must "
         "be "
         "lower-case\n"},
        {{"--to", "dev", "--image", "apx=ghcr.io/acme/api:1"},
         "promote: --image: the pipeline has no image 'apx' (did you mean 'api'?)\n"},
        {{"--to", "dev", "--image", "api=ghcr.io/other/api:1"},
         "promote: --image api: 'ghcr.io/other/api' is not the pipeline's repository for api "
         "('ghcr.io/acme/api')\n"},
        {{"--to", "dev", "--image", "api=ghcr.io/acme/api"},
         "promote: --image api: 'ghcr.io/acme/api' needs a tag or a digest to promote\n"},
        {{"--to", "dev"},
         "promote: stage 'dev' has no source stage: give the images with --image NAME=REFERENCE\n"},
        {{"--to", "staging", "--image", "api=ghcr.io/acme/api:9"},
         "promote: stage 'staging' takes its candidate from 'dev'; --image, --chart, --tag and "
         "--images-from are for stages without 'from'\n"},
        {{"--to", "dev", "--image", "api=ghcr.io/acme/api:1; rm -rf /"},
         "promote: --image api: invalid image reference 'ghcr.io/acme/api:1; rm -rf /': it must "
         "not "
         "contain whitespace or shell metacharacters\n"},
    };
    for (const auto& c : cases) {
      const CommandResult result = shop.promote(c.args);
      INFO(c.args[1]);
      CHECK(result.exit_code == 2);
      CHECK(result.err == c.message);
    }
    CHECK(shop.remote_head() == head);
    CHECK_FALSE(fs::exists(shop.repo / ".promote"));
    CHECK(sh("git status --porcelain", shop.repo) == "");
  }

  TEST_CASE("a broken pipeline file is reported with file:line:col and exit 2") {
    Shop shop;
    std::string pipeline = read_text(shop.repo / "promote.yaml");
    pipeline.replace(pipeline.find("      - use: junit\n"), 18, "      - use: jnuit\n");
    write_text(shop.repo / "bad.yaml", pipeline);
    const CommandResult validate = shop.promote({"validate", "-f", "bad.yaml"});
    CHECK(validate.exit_code == 2);
    CHECK(validate.err == "promote: bad.yaml:30:14: unknown gate 'jnuit' (did you mean 'junit'?)\n");
    const CommandResult run = shop.promote({"-f", "bad.yaml", "--to", "staging", "--output", "json"});
    CHECK(run.exit_code == 2);
    const auto doc = nlohmann::json::parse(run.out);
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "config");
    CHECK(shop.promote({"validate"}).out == "promote.yaml: ok (pipeline shop, 2 images, 3 stages, 5 gates)\n");
  }

  TEST_CASE("a target that leads out of the repository through a symlink is refused") {
    Shop shop;
    fs::create_directories(shop.dir / "outside");
    fs::copy(shop.repo / "k8s/overlays/dev/kustomization.yaml", shop.dir / "outside/kustomization.yaml");
    fs::remove_all(shop.repo / "k8s/overlays/dev");
    fs::create_directory_symlink(shop.dir / "outside", shop.repo / "k8s/overlays/dev");
    const CommandResult result = shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:2.0.0"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "target path 'k8s/overlays/dev' leads out of the repository through a symlink"));
    CHECK(contains(read_text(shop.dir / "outside/kustomization.yaml"), "newTag: 1.4.2"));
  }

  TEST_CASE("a promotion that cannot be recorded in the history says it happened, and exits 4") {
    Shop shop;
    fs::create_directories(shop.dir / "history-is-a-directory.db");
    const CommandResult result =
        shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:2.0.0"},
                     {{"PROMOTE_HISTORY", (shop.dir / "history-is-a-directory.db").string()}});
    CHECK(result.exit_code == 4);
    CHECK(contains(result.out, "outcome: promoted"));
    CHECK(contains(result.out, "error: cannot open history database"));
    // It did happen: the commit is on the remote.
    CHECK(contains(sh("git log -1 --format=%s origin/main", shop.repo), "promote(dev)"));
  }

  TEST_CASE("a refused push never drops local commits the remote lacks: exit 4, all kept") {
    Shop shop;
    // Someone else pushes first, and the local branch has a commit of its own, not pushed.
    sh("git clone -q remote.git other && cd other && git config user.name O && git config user.email o@x && "
       "echo note > NOTES && git add NOTES && git commit -q -m other && git push -q origin main",
       shop.dir.path());
    sh("echo mine > MINE && git add MINE && git commit -q -m mine", shop.repo);
    const std::string local_head = sh("git rev-parse HEAD", shop.repo);
    const std::string before = shop.overlay("dev");
    const auto doc = shop.promote_json({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"});
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "conflict");
    CHECK(contains(doc["error"]["message"], "the branch has commits that"));
    CHECK(doc["commit"].is_null());
    CHECK(sh("git rev-parse HEAD", shop.repo) == local_head);
    CHECK(shop.overlay("dev") == before);
    CHECK(sh("git status --porcelain", shop.repo) == "");
    CHECK(shop.history()[0]["outcome"] == "error");
    CHECK(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"}).exit_code == 4);
  }

  TEST_CASE("a pipeline with a remote repository URL clones it and pushes there") {
    Shop shop;
    std::string pipeline = read_text(shop.repo / "promote.yaml");
    pipeline.replace(pipeline.find("  url: ."), 8, "  url: " + shop.remote.string());
    fs::create_directories(shop.dir / "ci");
    write_text(shop.dir / "ci/promote.yaml", pipeline);
    fs::copy(shop.repo / "reports", shop.dir / "ci/reports", fs::copy_options::recursive);
    const CommandResult result = promote::test::run(
        {promote::test::promote_binary().string(), "--to", "staging", "--output", "json"}, shop.dir / "ci",
        {{"PROMOTE_HISTORY", ""}});
    INFO(result.err);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "promoted");
    CHECK(doc["commit"] == shop.remote_head().substr(0, 40));
    CHECK(contains(sh("git --git-dir=remote.git show main:k8s/overlays/staging/kustomization.yaml",
                      shop.dir.path()),
                   "    newTag: 1.4.2\n"));
    CHECK(fs::exists(shop.dir / "ci/.promote/history.db"));
  }

  TEST_CASE("status shows the candidate of every stage") {
    Shop shop;
    const auto doc = nlohmann::json::parse(shop.promote({"status", "--output", "json"}).out);
    CHECK(doc["pipeline"] == "shop");
    REQUIRE(doc["stages"].size() == 3);
    CHECK(doc["stages"][0]["name"] == "dev");
    CHECK(doc["stages"][0]["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.2");
    CHECK(doc["stages"][2]["candidate"]["images"]["web"] == "ghcr.io/acme/web:2.2.9");
    CHECK(doc["stages"][1]["from"] == "dev");
    const std::string table = shop.promote({"status"}).out;
    CHECK(table.starts_with("STAGE    FROM     CANDIDATE     IMAGES               SINCE"));
  }

  TEST_CASE("history filters by stage and prints csv") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "prod"}).exit_code == 3);
    const auto staging = nlohmann::json::parse(shop.promote({"history", "--stage", "staging", "--output", "json"}).out);
    REQUIRE(staging.size() == 1);
    CHECK(staging[0]["stage"] == "staging");
    const std::string csv = shop.promote({"history", "--output", "csv"}).out;
    CHECK(
        csv.starts_with("id,started_at,finished_at,pipeline,pipeline_file,stage,from,outcome,"
                        "candidate_id,images,gates,actor,commit,error\n"));
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 3);
    CHECK(contains(csv, ",prod,staging,pending,"));
  }

  TEST_CASE("the demo script runs end to end") {
    promote::test::TempDir tmp;
    const CommandResult result = promote::test::run(
        {"bash", k_examples + "/demo.sh", promote::test::promote_binary().string()}, {},
        {{"TMPDIR", tmp.path().string()}, {"NO_COLOR", "1"}});
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, "$ promote --to staging\n"));
    CHECK(contains(result.out, "outcome: promoted   commit"));
    CHECK(contains(result.out, "soak      pending in staging for 0s of 2h; 2h left (retry in 2h)"));
    CHECK(contains(result.out, "(exit 3)"));
    CHECK(contains(result.out, "approved candidate "));
    CHECK(contains(result.out, "approval  fail    rejected by bob (wait for the load test)"));
    CHECK(contains(result.out, "(exit 1)"));
  }
}

TEST_SUITE("integration") {
  TEST_CASE("every JSON output matches schemas/promotion-result.schema.json" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    Shop shop;
    std::vector<std::vector<std::string>> runs = {
        {"--to", "staging", "--dry-run"},                             // planned
        {"--to", "staging"},                                          // promoted
        {"--to", "staging"},                                          // no-op
        {"--to", "prod"},                                             // pending
        {"--to", "nowhere"},                                          // refused (usage)
        {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"},      // promoted, no gates
    };
    std::vector<std::string> files;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto args = runs[i];
      args.push_back("--output");
      args.push_back("json");
      const CommandResult result = shop.promote(args);
      const fs::path file = shop.dir / ("out-" + std::to_string(i) + ".json");
      write_text(file, result.out);
      files.push_back(file.string());
    }
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
                                     std::string(PROMOTE_SOURCE_DIR) + "/schemas/promotion-result.schema.json"};
    argv.insert(argv.end(), files.begin(), files.end());
    const CommandResult check = promote::test::run(argv);
    INFO(check.out << check.err);
    CHECK(check.exit_code == 0);
    CHECK(std::count(check.out.begin(), check.out.end(), '\n') == static_cast<long>(runs.size()));
  }

  TEST_CASE("the schema check fails on a document that breaks the schema" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    promote::test::TempDir tmp;
    write_text(tmp / "bad.json", R"({"outcome": "shipped", "error": null})");
    const CommandResult check = promote::test::run(
        {"/usr/bin/python3", std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
         std::string(PROMOTE_SOURCE_DIR) + "/schemas/promotion-result.schema.json",
         (tmp / "bad.json").string()});
    CHECK(check.exit_code == 1);
    CHECK(check.out.starts_with("INVALID "));
  }
}

TEST_SUITE("integration") {
  TEST_CASE("--wait waits out a short soak, then promotes") {
    Shop shop;
    std::string pipeline = read_text(shop.repo / "promote.yaml");
    write_text(shop.repo / "promote.yaml",
               pipeline.replace(pipeline.find("min: 2h"), 7, "min: 2s"));
    sh("git commit -q -am 'soak 2s'", shop.repo);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(shop.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "alice"}}).exit_code ==
            0);
    const CommandResult result = shop.promote({"--to", "prod", "--wait", "1m", "--output", "json"});
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.err, "promote: waiting "));
    CHECK(contains(result.err, " for soak (in staging for "));
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "promoted");
    CHECK(doc["gates"][0]["status"] == "pass");
  }

  TEST_CASE("--wait gives up at once when the wait would outlast it") {
    Shop shop;
    REQUIRE(shop.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "alice"}}).exit_code ==
            0);
    const CommandResult result = shop.promote({"--to", "prod", "--wait", "1m", "--output", "json"});
    CHECK(result.exit_code == 3);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "pending");
    REQUIRE(doc["warnings"].size() == 1);
    CHECK(contains(doc["warnings"][0], "before soak (in staging for "));
    CHECK(doc["warnings"][0].get<std::string>().starts_with("--wait ends in "));
    CHECK((contains(doc["warnings"][0], ") can change in 1h59m") ||
           contains(doc["warnings"][0], ") can change in 2h")));
    CHECK(shop.promote({"--to", "prod", "--wait", "soon"}).err ==
          "promote: --wait must be a duration such as 90s, 5m, 2h or 1d, got 'soon'\n");
  }
}

TEST_SUITE("integration") {
  TEST_CASE("history show and explain print a recorded attempt without re-running it") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "staging", "--reason", "release train 42"}).exit_code == 0);
    const std::string id = shop.history()[0]["id"];
    // The reports change afterwards: what is shown is what was recorded.
    fs::remove_all(shop.repo / "reports");
    const CommandResult show = shop.promote({"history", "show", id});
    CHECK(show.exit_code == 0);
    CHECK(show.out.starts_with("promotion " + id +
                               "\n  pipeline   shop (promote.yaml)\n  stage      dev -> staging\n"
                               "  outcome    promoted\n"));
    CHECK(contains(show.out, "  reason     release train 42\n"));
    CHECK(contains(show.out, "  junit (junit): pass: 103 tests: 98 passed, 5 skipped\n"));
    CHECK(contains(show.out, "  reports/junit/api-unit.xml\n"));
    CHECK(contains(show.out, "\"min_tests\": 20"));
    const CommandResult explain = shop.promote({"explain", id, "--output", "json"});
    const auto doc = nlohmann::json::parse(explain.out);
    CHECK(doc["id"] == id);
    CHECK(doc["gates"][0]["details"]["totals"]["tests"] == 103);
    const CommandResult missing = shop.promote({"explain", "nope"});
    CHECK(missing.exit_code == 2);
    CHECK(contains(missing.err, "promote: no promotion 'nope' in "));
  }

  TEST_CASE("the approval gate waits for promote approve, counts only eligible others, and a "
            "rejection blocks") {
    Shop shop;
    std::string pipeline = read_text(shop.repo / "promote.yaml");
    const std::string prod_gates = pipeline.substr(pipeline.find("      # Two hours in staging"));
    pipeline.replace(pipeline.find(prod_gates), prod_gates.size(),
                     "      - use: approval\n        with: {approvers: [alice, bob], min: 1}\n");
    write_text(shop.repo / "promote.yaml", pipeline);
    sh("git commit -q -am 'prod needs an approval'", shop.repo);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);

    CommandResult result = shop.promote({"--to", "prod", "--output", "json"});
    CHECK(result.exit_code == 3);
    auto doc = nlohmann::json::parse(result.out);
    const std::string candidate = doc["candidate"]["short_id"].get<std::string>();
    CHECK(doc["outcome"] == "pending");
    CHECK(doc["gates"][0]["summary"] ==
          "0 approvals; needs 1 more of alice, bob (promote approve --stage prod --candidate " +
              candidate + ")");

    // Someone outside the approvers, then alice (named by GITHUB_ACTOR, as in Actions).
    REQUIRE(shop.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "mallory"}})
                .exit_code == 0);
    CHECK(shop.promote({"--to", "prod"}).exit_code == 3);
    result = shop.promote({"approve", "--stage", "prod", "--candidate", candidate, "--reason",
                           "canary is clean"},
                          {{"PROMOTE_ACTOR", ""}, {"GITHUB_ACTOR", "alice"}});
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.out == "approved candidate " + candidate +
                            " for prod as alice (api=ghcr.io/acme/api:1.4.2, "
                            "web=ghcr.io/acme/web:2.3.0)\n");
    result = shop.promote({"--to", "prod", "--output", "json"});
    CHECK(result.exit_code == 0);
    doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "promoted");
    CHECK(doc["gates"][0]["details"]["approvals"][0]["actor"] == "alice");
    CHECK(doc["gates"][0]["details"]["approvals"][0]["reason"] == "canary is clean");
    CHECK(doc["gates"][0]["details"]["ignored"][0]["actor"] == "mallory");

    // A new candidate for prod: bob rejects it, and it is blocked (exit 1) despite alice.
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(shop.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR", "alice"}}).exit_code ==
            0);
    REQUIRE(shop.promote({"reject", "--stage", "prod", "--reason", "error budget spent"},
                         {{"PROMOTE_ACTOR", "bob"}})
                .exit_code == 0);
    const std::string head = shop.remote_head();
    result = shop.promote({"--to", "prod", "--output", "json"});
    CHECK(result.exit_code == 1);
    doc = nlohmann::json::parse(result.out);
    CHECK(doc["gates"][0]["summary"] == "rejected by bob (error budget spent)");
    CHECK(shop.remote_head() == head);

    // Bad input changes nothing: exit 2 with a clear message.
    result = shop.promote({"approve", "--stage", "prod", "--candidate", "xyz"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "--candidate must be a candidate id"));
    result = shop.promote({"--actor", "bob", "approve", "--stage", "prod"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "promote: approve records who runs it; --actor does not apply\n");
    result = shop.promote({"approve", "--stage", "prdo"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "no stage 'prdo' (did you mean 'prod'?)"));
  }

  TEST_CASE("a held stage takes nothing until it is released; its gates do not run meanwhile") {
    Shop shop;
    CommandResult result = shop.promote({"hold", "--stage", "prod"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "promote: hold needs --reason: say why promotions into prod stop\n");
    result = shop.promote({"hold", "--stage", "prod", "--reason", "INC-7: payments down"});
    CHECK(result.exit_code == 0);
    CHECK(result.out == "held prod as shop-ci: INC-7: payments down\n");
    result = shop.promote({"hold", "--stage", "prod", "--reason", "again"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "stage prod is already held by shop-ci since "));

    CHECK(shop.promote({"--to", "staging"}).exit_code == 0);  // other stages go on
    const std::string head = shop.remote_head();
    result = shop.promote({"--to", "prod", "--output", "json"});
    CHECK(result.exit_code == 3);
    auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "pending");
    REQUIRE(doc["gates"].size() == 1);
    CHECK(doc["gates"][0]["name"] == "hold");
    CHECK(doc["gates"][0]["details"]["reason"] == "INC-7: payments down");
    const std::string summary = doc["gates"][0]["summary"];
    CHECK(summary.starts_with("held by shop-ci since "));
    CHECK(summary.ends_with(": INC-7: payments down (promote release --stage prod)"));
    CHECK(shop.remote_head() == head);
    CHECK(shop.history()[0]["gates"][0]["name"] == "hold");

    result = shop.promote({"release", "--stage", "prod", "--reason", "INC-7 resolved"});
    CHECK(result.exit_code == 0);
    CHECK(result.out == "released prod as shop-ci: INC-7 resolved\n");
    CHECK(shop.promote({"release", "--stage", "prod"}).err ==
          "promote: stage prod is not held\n");
    doc = nlohmann::json::parse(shop.promote({"--to", "prod", "--output", "json"}).out);
    CHECK(doc["gates"][0]["name"] == "soak");  // the gates run again
    CHECK(shop.promote({"hold", "--stage", "qa", "--reason", "x"}).exit_code == 2);
  }

  TEST_CASE("plan is a dry run; explain --to says what holds a promotion up and what would "
            "change it") {
    Shop shop;
    const CommandResult plan = shop.promote({"plan", "--to", "staging"});
    CHECK(plan.exit_code == 0);
    CHECK(contains(plan.out, "(dry run)"));
    CHECK(contains(plan.out, "diff it would commit"));
    CHECK_FALSE(fs::exists(shop.repo / ".promote/history.db"));

    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    const CommandResult why = shop.promote({"explain", "--to", "prod"});
    INFO(why.out << why.err);
    CHECK(why.exit_code == 3);
    CHECK(why.out.starts_with("prod would take candidate "));
    CHECK(contains(why.out, " from staging: not yet (exit 3)\n"));
    CHECK(contains(why.out, "\n  soak: in staging for "));
    CHECK(contains(why.out, "\n    staging got candidate "));
    CHECK(contains(why.out, " (from the history)\n"));
    CHECK(contains(why.out, "\n  approval: 0 approvals; needs 1 more of alice, bob, carol"));
    CHECK(contains(why.out, "promote --to prod --wait DURATION waits for it\n"));
    CHECK(contains(why.out, "\npassing: junit\n"));
    CHECK(shop.history().size() == 1);  // explain wrote nothing

    CHECK(shop.promote({"explain"}).exit_code == 2);
    CHECK(shop.promote({"explain", "some-id", "--to", "prod"}).exit_code == 2);
  }
}

TEST_SUITE("integration") {
  TEST_CASE("rollback puts back what the stage held before, as a recorded promotion") {
    Shop shop;
    const auto first = shop.promote_json({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"});
    REQUIRE(first["outcome"] == "promoted");
    const auto second = shop.promote_json({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.4"});
    REQUIRE(second["outcome"] == "promoted");

    const auto back = shop.promote_json({"rollback", "--stage", "dev", "--reason", "5xx in 1.4.4"});
    CHECK(back["outcome"] == "promoted");
    CHECK(back["rollback_of"] == first["promotion_id"]);
    CHECK(back["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.3");
    CHECK(back["gates_skipped"] == false);
    CHECK(contains(shop.overlay("dev"), "    newTag: 1.4.3\n"));
    const std::string message =
        sh("git --git-dir=remote.git log -1 --format=%B main", shop.dir.path());
    CHECK(message.starts_with("rollback(dev): api 1.4.4 -> 1.4.3\n"));
    CHECK(contains(message, "\nPromote-Rollback-Of: " + first["promotion_id"].get<std::string>() + "\n"));
    const auto history = shop.history();
    CHECK(history[0]["rollback_of"] == first["promotion_id"]);
    const CommandResult text = shop.promote({"history", "show", back["promotion_id"].get<std::string>()});
    CHECK(contains(text.out, "  rollback   of " + first["promotion_id"].get<std::string>() + "\n"));
    CHECK(history[0]["reason"] == "5xx in 1.4.4");

    SUBCASE("a second rollback undoes the first: it puts back what the second promotion put") {
      const auto again = shop.promote_json({"rollback", "--stage", "dev"});
      CHECK(again["rollback_of"] == second["promotion_id"]);
      CHECK(contains(shop.overlay("dev"), "    newTag: 1.4.4\n"));
    }
    SUBCASE("--to names the promotion whose candidate to put back") {
      const auto named = shop.promote_json(
          {"rollback", "--stage", "dev", "--to", first["promotion_id"].get<std::string>()});
      CHECK(named["outcome"] == "no-op");  // dev already holds it again
      const CommandResult unknown =
          shop.promote({"rollback", "--stage", "dev", "--to", "20260101T000000Z-00000000"});
      CHECK(unknown.exit_code == 2);
      CHECK(contains(unknown.err, "no promotion 20260101T000000Z-00000000 into 'dev'"));
    }
    SUBCASE("a hold does not stop a rollback") {
      REQUIRE(shop.promote({"hold", "--stage", "dev", "--reason", "incident"}).exit_code == 0);
      CHECK(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 3);
      CHECK(shop.promote_json({"rollback", "--stage", "dev"})["outcome"] == "promoted");
    }
  }

  TEST_CASE("rollback runs the stage's gates unless --skip-gates, which needs a reason") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"}).exit_code == 0);
    const auto good = shop.promote_json({"--to", "staging"});
    REQUIRE(good["outcome"] == "promoted");
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.4"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "staging"}).exit_code == 0);
    // The tests break after the fact: staging's junit gate now fails.
    write_text(shop.repo / "reports/junit/api-unit.xml",
               "<testsuite name=\"u\" tests=\"1\" failures=\"1\"><testcase name=\"t\">"
               "<failure message=\"boom\"/></testcase></testsuite>");
    sh("git commit -qam 'red tests' && git push -q", shop.repo);
    const std::string before = shop.overlay("staging");

    const auto blocked = shop.promote_json({"rollback", "--stage", "staging"});
    CHECK(blocked["outcome"] == "blocked");
    CHECK(shop.overlay("staging") == before);

    const CommandResult no_reason = shop.promote({"rollback", "--stage", "staging", "--skip-gates"});
    CHECK(no_reason.exit_code == 2);
    CHECK(contains(no_reason.err, "--skip-gates needs --reason"));
    CHECK(shop.promote({"--to", "staging", "--skip-gates", "--reason", "x"}).exit_code == 2);

    const auto skipped = shop.promote_json(
        {"rollback", "--stage", "staging", "--skip-gates", "--reason", "INC-7: 1.4.4 corrupts carts"});
    CHECK(skipped["outcome"] == "promoted");
    CHECK(skipped["gates"].empty());
    CHECK(skipped["gates_skipped"] == true);
    CHECK(skipped["rollback_of"] == good["promotion_id"]);
    CHECK(contains(shop.overlay("staging"), "    newTag: 1.4.3\n"));
    const std::string message =
        sh("git --git-dir=remote.git log -1 --format=%B main", shop.dir.path());
    CHECK(contains(message, "\nPromote-Gates: skipped\n"));
    const auto recorded = shop.history()[0];
    CHECK(recorded["gates_skipped"] == true);
    CHECK(recorded["actor"] == "shop-ci");
    CHECK(recorded["reason"] == "INC-7: 1.4.4 corrupts carts");
  }

  TEST_CASE("a rollback's report says what it is") {
    Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"}).exit_code == 0);
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.4"}).exit_code == 0);
    const CommandResult result = shop.promote({"rollback", "--stage", "dev"});
    CHECK(result.exit_code == 0);
    CHECK(result.out.starts_with("promote shop: (rollback) -> dev"));
    CHECK(contains(result.out, "\nrollback of: "));
  }

  TEST_CASE("rollback with no earlier promotion into the stage is a usage error") {
    Shop shop;
    const CommandResult result = shop.promote({"rollback", "--stage", "prod"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err, "no earlier promotion into 'prod' is in the git log"));
  }
}
