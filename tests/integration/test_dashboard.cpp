// The dashboard of `promote serve` in a real headless Chromium (Debian's chromium, driven by
// playwright-core from tests/browser): the real binary on a repository of the test's own,
// looked at, used on a phone's screen, updated live, signed in to and approved through, as a
// person would; what the browser saw is checked against what `promote status` and the history
// say. `./setup.sh test` installs both and sets PROMOTE_REQUIRE_BROWSER=1, so that there a
// missing browser fails the test instead of skipping it.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/util/hash.hpp"
#include "tests/integration/scratch_repo.hpp"
#include "tests/integration/served.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
using nlohmann::json;

const std::string k_token = "dashboard-token-of-alice";

std::string chromium() {
  const char* given = std::getenv("PROMOTE_CHROMIUM");
  return given != nullptr ? given : "/usr/bin/chromium";
}

// Why the browser cannot run here, or "".
std::string browser_missing() {
  const fs::path modules =
      fs::path(PROMOTE_SOURCE_DIR) / "tests/browser/node_modules/playwright-core";
  if (!fs::exists(chromium())) {
    return chromium() + " is not installed (Debian package chromium)";
  }
  if (!fs::exists(modules)) {
    return "playwright-core is not installed (npm ci --prefix tests/browser)";
  }
  if (test::run({"/bin/sh", "-c", "command -v node"}, fs::current_path()).exit_code != 0) {
    return "node is not installed (Debian package nodejs)";
  }
  return "";
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "dashboard: a real browser sees each stage, a countdown moving, a hold arriving live, "
      "and approves through the form as the signed-in user") {
    if (const std::string missing = browser_missing(); !missing.empty()) {
      const char* required = std::getenv("PROMOTE_REQUIRE_BROWSER");
      if (required != nullptr && std::string(required) == "1") {
        FAIL("the browser test cannot run: " << missing);
      }
      MESSAGE("dashboard test skipped: " << missing);
      return;
    }
    const std::string overlay = "resources: []\nimages:\n  - name: ghcr.io/acme/api\n    newTag: ";
    test::ScratchRepo repo(
        {{"promote.yaml",
          "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\n"
          "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
          "stages:\n"
          "  - {name: dev, target: {kustomize: k8s/dev}}\n"
          "  - name: staging\n    from: dev\n    auto: true\n"
          "    target: {kustomize: k8s/staging}\n"
          "    gates:\n      - use: soak\n        with: {min: 2h}\n"
          "  - name: prod\n    from: staging\n    target: {kustomize: k8s/prod}\n"
          "    gates:\n      - use: approval\n        with: {approvers: [alice], min: 1}\n"},
         {"k8s/dev/kustomization.yaml", overlay + "1.0.0\n"},
         {"k8s/staging/kustomization.yaml", overlay + "1.0.0\n"},
         {"k8s/prod/kustomization.yaml", overlay + "1.0.0\n"}});
    test::write_text(repo.dir / "tokens.yaml", "tokens:\n  - actor: alice\n    sha256: " +
                                                   promote::util::sha256_hex(k_token) +
                                                   "\n    roles: [\"*:*\"]\n");
    REQUIRE(repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0"}).exit_code == 0);
    test::Served served(
        {"serve", "--listen", "127.0.0.1:0", "--tokens", (repo.dir / "tokens.yaml").string()},
        repo.repo);
    INFO(served.line());
    REQUIRE(served.line().ends_with(" (1 pipeline, 1 auto stage)"));
    // The loop has looked at staging once: its soak is pending, with a time to look again.
    bool evaluated = false;
    for (int i = 0; i < 600 && !evaluated; ++i) {  // up to a minute on a loaded machine
      const json stage = json::parse(served.get("/api/v1/pipelines/shop").body)["stages"][1];
      evaluated = stage["auto"].is_object() && stage["auto"]["evaluations"].get<int>() > 0;
      if (!evaluated) {
        ::usleep(100'000);
      }
    }
    REQUIRE(evaluated);

    const char* shots = std::getenv("PROMOTE_SCREENSHOT_DIR");
    const fs::path screenshot =
        (shots != nullptr ? fs::path(shots) : repo.dir.path()) / "dashboard.png";
    const auto driven = test::run(
        {"/usr/bin/env", "node", std::string(PROMOTE_SOURCE_DIR) + "/tests/browser/dashboard.mjs",
         served.url(), k_token, screenshot.string(), "shop", "prod", "dev"},
        repo.repo, {{"PROMOTE_CHROMIUM", chromium()}});
    INFO("browser: " << driven.out << driven.err);
    REQUIRE(driven.exit_code == 0);
    const json seen = json::parse(driven.out);
    CHECK(seen["errors"].empty());
    CHECK(seen["title"] == "Pipelines · promote");

    // Each column holds what `promote status` says the stage holds.
    const json status = json::parse(repo.promote({"status", "--output", "json"}).out);
    REQUIRE(seen["stages"].size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(seen["stages"][i]["name"].get<std::string>().starts_with(
          status["stages"][i]["name"].get<std::string>()));
      CHECK(seen["stages"][i]["candidate"] == status["stages"][i]["candidate"]["id"]);
    }
    // staging's soak counts down: the same countdown read 2.5 s later says less.
    const json& soon = seen["stages"][1]["countdowns"];
    const json& later = seen["stages_later"][1]["countdowns"];
    REQUIRE(!soon.empty());
    CHECK(soon[0].get<std::string>().starts_with("in 1h 59m"));
    CHECK(soon != later);
    // The page reads as a list of headed columns to a screen reader.
    const std::string aria = seen["aria"];
    CHECK(aria.find("heading \"Pipelines\" [level=1]") != std::string::npos);
    CHECK(aria.find("heading \"staging auto\" [level=3]") != std::string::npos);
    CHECK(aria.find("link \"Skip to the content\"") != std::string::npos);
    // On a phone nothing is wider than the screen.
    CHECK(seen["phone"]["scroll_width"].get<int>() <= seen["phone"]["width"].get<int>());
    // A hold given through the API showed up on the open page without a reload.
    CHECK(seen["hold_status"] == 200);
    CHECK(seen["live"]["held_shown"] == true);
    CHECK(seen["live"]["reloaded"] == false);
    CHECK(seen["live"]["updated_mark"].is_string());
    CHECK(seen["live"]["announced"].get<std::string>().starts_with("Updated at "));
    // Signed in with the token, the approval through the form is alice's, with her reason.
    CHECK(seen["signed_in"].get<std::string>().starts_with("Signed in as alice"));
    CHECK(seen["approved"]["heading"] == "approve prod");
    const std::string staging_id = status["stages"][1]["candidate"]["id"];
    CHECK(seen["approved"]["message"] ==
          "Approved candidate " + staging_id.substr(0, 12) + " for prod as alice.");
    const std::string approvals = test::sh(
        "sqlite3 .promote/history.db \"select actor || ' ' || decision || ' ' || "
        "candidate_id || ' ' || reason from approvals\"",
        repo.repo);
    CHECK(approvals == "alice approve " + staging_id + " looks good in staging\n");
    // The same form without its token (as another site would post it) is refused.
    CHECK(seen["forged_status"] == 403);
    // The page of dev's promotion shows the diff of its commit.
    const json dev_rows =
        json::parse(served.get("/api/v1/pipelines/shop/history?stage=dev").body)["promotions"];
    REQUIRE(dev_rows.size() == 1);
    const std::string promotion =
        served.get("/promotions/" + dev_rows[0]["id"].get<std::string>()).body;
    CHECK(promotion.find("<span class=\"d-del\">-    newTag: 1.0.0</span>") != std::string::npos);
    CHECK(promotion.find("<span class=\"d-add\">+    newTag: 1.1.0</span>") != std::string::npos);
    const std::string metrics = served.get("/metrics").body;
    CHECK(metrics.find("promote_stage_pending{pipeline=\"shop\",stage=\"staging\"} 1\n") !=
          std::string::npos);
    // The screenshot the README shows.
    const std::string png = test::read_text(screenshot);
    CHECK(png.size() > 10'000);
    CHECK(png.starts_with("\x89PNG"));
    CHECK(served.stop(SIGTERM, std::chrono::seconds(15)) != -1);
  }
}
