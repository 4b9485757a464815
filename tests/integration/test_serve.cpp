// `promote serve` as its users run it: the real binary on the demo repository, asked over HTTP
// on 127.0.0.1 (a port it chose, which it prints), answering what `promote status` and
// `promote history` answer, and stopped by SIGTERM as a container runtime stops it.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/util/hash.hpp"
#include "tests/integration/scratch_repo.hpp"
#include "tests/integration/served.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
using nlohmann::json;
using test::check_schema;
using test::Served;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("serve: the API answers what status and history answer, and SIGTERM stops it") {
    test::Shop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3", "--image",
                          "web=ghcr.io/acme/web:2.3.1"})
                .exit_code == 0);
    Served served({"serve", "--listen", "127.0.0.1:0", "-f", "promote.yaml"}, shop.repo);
    INFO(served.line());
    REQUIRE(served.line().starts_with("promote serve: listening on http://127.0.0.1:"));
    CHECK(served.line().ends_with(" (1 pipeline, 0 auto stages)"));

    const auto health = served.get("/healthz");
    CHECK(health.status == 200);
    CHECK(health.body == "ok\n");

    // What each stage holds, as `promote status --output json` says it.
    const json status = shop.promote_json({"status"});
    const auto pipelines = served.get("/api/v1/pipelines");
    REQUIRE(pipelines.status == 200);
    CHECK(pipelines.header("Content-Type") == "application/json");
    const json listed = json::parse(pipelines.body)["pipelines"];
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["name"] == status["pipeline"]);
    CHECK(listed[0]["stages"] == status["stages"]);

    check_schema(shop.dir.path(), "serve-pipelines.schema.json", pipelines.body);
    check_schema(shop.dir.path(), "serve-pipeline.schema.json",
                 served.get("/api/v1/pipelines/shop").body);
    const auto page = served.get("/api/v1/pipelines/shop/history");
    check_schema(shop.dir.path(), "serve-history.schema.json", page.body);
    const json history = json::parse(page.body);
    REQUIRE(history["promotions"].size() == 1);
    CHECK(history["promotions"][0]["stage"] == "dev");
    CHECK(history["promotions"][0]["outcome"] == "promoted");
    const std::string id = history["promotions"][0]["id"];
    const auto record = served.get("/api/v1/promotions/" + id);
    CHECK(json::parse(record.body)["id"] == id);
    check_schema(shop.dir.path(), "history-record.schema.json", record.body);

    const auto metrics = served.get("/metrics");
    CHECK(metrics.body.find("promote_promotions_total{pipeline=\"shop\",stage=\"dev\",outcome="
                            "\"promoted\"} 1\n") != std::string::npos);
    const auto missing = served.get("/api/v1/pipelines/nope");
    CHECK(missing.status == 404);
    check_schema(shop.dir.path(), "serve-error.schema.json", missing.body);

    // SIGTERM: it stops accepting and ends by the signal, promptly.
    const int status_code = served.stop(SIGTERM, std::chrono::seconds(15));
    REQUIRE(status_code != -1);
    CHECK(WIFSIGNALED(status_code));
    CHECK(WTERMSIG(status_code) == SIGTERM);
  }

  TEST_CASE("serve: an address it cannot listen on, and a pipeline that does not load") {
    test::Shop shop;
    const auto taken = shop.promote({"serve", "--listen", "localhost", "-f", "promote.yaml"});
    CHECK(taken.exit_code == 2);
    CHECK(taken.err.find("'localhost' is not an address to listen on") != std::string::npos);
    test::write_text(shop.repo / "broken.yaml", "apiVersion: promote/v1\nkind: Pipeline\n");
    const auto broken = shop.promote({"serve", "--listen", "127.0.0.1:0", "-f", "broken.yaml"});
    CHECK(broken.exit_code == 2);
    CHECK(broken.err.find("broken.yaml") != std::string::npos);
  }

  TEST_CASE("serve: a soak ends and the service promotes the stage without anyone calling it") {
    const std::string overlay = "resources: []\nimages:\n  - name: ghcr.io/acme/api\n    newTag: ";
    test::ScratchRepo repo({{"promote.yaml",
                             "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\n"
                             "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
                             "stages:\n"
                             "  - {name: dev, target: {kustomize: k8s/dev}}\n"
                             "  - name: staging\n    from: dev\n    auto: true\n"
                             "    target: {kustomize: k8s/staging}\n"
                             "    gates:\n      - use: soak\n        with: {min: 3s}\n"},
                            {"k8s/dev/kustomization.yaml", overlay + "1.0.0\n"},
                            {"k8s/staging/kustomization.yaml", overlay + "1.0.0\n"}});
    REQUIRE(repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0"}).exit_code == 0);
    Served served({"serve", "--listen", "127.0.0.1:0"}, repo.repo);
    INFO(served.line());
    REQUIRE(served.line().ends_with(" (1 pipeline, 1 auto stage)"));

    // Nobody calls promote: the service waits out the soak and promotes staging.
    json staging;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      staging = json::parse(served.get("/api/v1/pipelines/shop").body)["stages"][1];
      if (staging["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0") {
        break;
      }
      ::usleep(200'000);
    }
    INFO(staging.dump());
    REQUIRE(staging["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0");
    CHECK(repo.file("k8s/staging/kustomization.yaml") == overlay + "1.1.0\n");
    // The commit reached the remote, as a promotion from the command line does.
    CHECK(test::sh("git --git-dir=remote.git log -1 --format=%s main", repo.dir.path())
              .starts_with("promote(staging): api "));
    const json rows =
        json::parse(served.get("/api/v1/pipelines/shop/history?stage=staging").body)["promotions"];
    REQUIRE(rows.size() >= 2);
    CHECK(rows[0]["outcome"] == "promoted");
    CHECK(rows[0]["actor"] == "promote-serve");
    CHECK(rows[0]["reason"] == "auto: true");
    // While it soaked, one pending record: the same verdicts again are not recorded again.
    std::size_t pending = 0;
    for (const auto& row : rows) {
      pending += row["outcome"] == "pending" ? 1 : 0;
    }
    CHECK(pending == 1);
    // The metrics: the soak's evaluations timed, and staging's lead time from dev (over 3 s).
    const std::string metrics = served.get("/metrics").body;
    CHECK(metrics.find("promote_gate_duration_seconds_bucket{use=\"soak\",le=\"+Inf\"} ") !=
          std::string::npos);
    CHECK(metrics.find("promote_stage_pending{pipeline=\"shop\",stage=\"staging\"} 0\n") !=
          std::string::npos);
    const auto lead =
        metrics.find("promote_lead_time_seconds{pipeline=\"shop\",stage=\"staging\"} ");
    REQUIRE(lead != std::string::npos);
    CHECK(std::stod(metrics.substr(metrics.find("} ", lead) + 2)) >= 3.0);
    CHECK(served.stop(SIGTERM, std::chrono::seconds(15)) != -1);
  }

  TEST_CASE(
      "serve --workdir: a pipeline on a remote repository is read and promoted in a kept "
      "clone of its own") {
    test::TempDir dir;
    const std::string overlay = "resources: []\nimages:\n  - name: ghcr.io/acme/api\n    newTag: ";
    test::sh(
        "git init -q --bare -b main remote.git && mkdir seed && cd seed && git init -q -b main && "
        "mkdir -p k8s/dev k8s/staging && printf '" +
            overlay +
            "1.1.0\\n' > k8s/dev/kustomization.yaml && "
            "printf '" +
            overlay +
            "1.0.0\\n' > k8s/staging/kustomization.yaml && git add -A && "
            "git -c user.name=t -c user.email=t@e commit -q -m init && "
            "git push -q ../remote.git main",
        dir.path());
    test::write_text(dir / "config/promote.yaml",
                     "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\n"
                     "repository: {url: " +
                         (dir / "remote.git").string() +
                         ", branch: main}\n"
                         "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
                         "stages:\n"
                         "  - {name: dev, target: {kustomize: k8s/dev}}\n"
                         "  - name: staging\n    from: dev\n    auto: true\n"
                         "    target: {kustomize: k8s/staging}\n");
    Served served({"serve", "--listen", "127.0.0.1:0", "--workdir", (dir / "kept").string()},
                  dir / "config");
    INFO(served.line());
    REQUIRE(served.line().ends_with(" (1 pipeline, 1 auto stage)"));
    json staging;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const json document = json::parse(served.get("/api/v1/pipelines/shop").body);
      staging = document.contains("stages") ? document["stages"][1] : document;
      if (staging.contains("candidate") && staging["candidate"].is_object() &&
          staging["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0") {
        break;
      }
      ::usleep(200'000);
    }
    INFO(staging.dump());
    REQUIRE(staging["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0");
    // The promotion went to the remote, made in the kept clone.
    CHECK(test::sh("git --git-dir=remote.git log -1 --format=%s main", dir.path())
              .starts_with("promote(staging): api "));
    CHECK(test::read_text(dir / "kept/shop/k8s/staging/kustomization.yaml") == overlay + "1.1.0\n");
    CHECK(served.stop(SIGTERM, std::chrono::seconds(15)) != -1);
  }

  TEST_CASE(
      "serve over its socket: forged and missing webhook signatures refused, a replay "
      "ignored, an oversized body refused, a write without the role refused") {
    const std::string secret = "webhook-secret-of-the-test";
    test::ScopedEnv configured("PROMOTE_GITHUB_WEBHOOK_SECRET", secret);
    test::Shop shop;
    test::write_text(shop.dir / "tokens.yaml", "tokens:\n  - actor: bob\n    sha256: " +
                                                   promote::util::sha256_hex("token-of-bob") +
                                                   "\n    roles: [\"hold:dev\"]\n");
    Served served(
        {"serve", "--listen", "127.0.0.1:0", "--tokens", (shop.dir / "tokens.yaml").string()},
        shop.repo);
    INFO(served.line());
    const std::string ping = R"({"zen": "Keep it logically awesome.", "hook_id": 1})";
    const auto signed_by = [&](const std::string& key, const std::string& id) {
      return promote::http::Headers{
          {"X-GitHub-Event", "ping"},
          {"X-GitHub-Delivery", id},
          {"Content-Type", "application/json"},
          {"X-Hub-Signature-256", "sha256=" + promote::util::hmac_sha256_hex(key, ping)}};
    };
    CHECK(served.post("/hooks/github", ping, {{"X-GitHub-Event", "ping"}}).status == 401);
    CHECK(served.post("/hooks/github", ping, signed_by("not-the-secret", "d-1")).status == 401);
    const auto first = served.post("/hooks/github", ping, signed_by(secret, "d-1"));
    CHECK(first.status == 202);
    const auto again = served.post("/hooks/github", ping, signed_by(secret, "d-1"));
    CHECK(again.status == 200);
    CHECK(json::parse(again.body)["action"] == "replay");
    // A body over 1 MiB is refused before it is read whole.
    const std::string huge(2 * 1024 * 1024, 'x');
    CHECK(served.post("/hooks/github", huge, signed_by(secret, "d-2")).status == 413);
    // Writes: none without a token, none beyond the token's roles.
    const std::string reason = R"({"reason": "freeze"})";
    CHECK(served.post("/api/v1/pipelines/shop/stages/prod/hold", reason, {}).status == 401);
    const auto refused = served.post("/api/v1/pipelines/shop/stages/prod/hold", reason,
                                     {{"Authorization", "Bearer token-of-bob"}});
    CHECK(refused.status == 403);
    CHECK(json::parse(refused.body)["error"]["message"] == "bob may not hold shop/prod");
    CHECK(served
              .post("/api/v1/pipelines/shop/stages/dev/hold", reason,
                    {{"Authorization", "Bearer token-of-bob"}})
              .status == 200);
    CHECK(served.stop(SIGTERM, std::chrono::seconds(15)) != -1);
  }
}
