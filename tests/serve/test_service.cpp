// The API of `promote serve`, answered by Service::handle without a socket: a real git
// repository of kustomize overlays, a real history database, and every route with its errors.
// (tests/integration/test_serve.cpp drives the same over HTTP through the binary.)
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/serve/fixture.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using promote::test::write_text;
using promote::test::serve::ask;
using promote::test::serve::body;
using promote::test::serve::Repo;

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("health, readiness and the methods a path allows") {
    Repo repo;
    const auto service = repo.service();
    const auto health = ask(service, "/healthz");
    CHECK(health.status == 200);
    CHECK(health.body == "ok\n");
    const auto ready = ask(service, "/readyz");
    CHECK(ready.status == 200);
    CHECK(body(ready) == json{{"ready", true}, {"pipelines", 1}});
    const auto posted = ask(service, "/healthz", "POST");
    CHECK(posted.status == 405);
    CHECK(body(posted)["error"]["message"] == "POST /healthz: only GET is allowed here");
    CHECK(std::find(posted.headers.begin(), posted.headers.end(),
                    std::pair<std::string, std::string>{"Allow", "GET, HEAD"}) !=
          posted.headers.end());
    const auto unknown = ask(service, "/api/v1/nothing");
    CHECK(unknown.status == 404);
    CHECK(body(unknown)["error"]["message"] == "no such resource: /api/v1/nothing");
  }

  TEST_CASE("the pipelines: what each stage holds, as promote status says, and its gates") {
    Repo repo;
    const auto service = repo.service();
    const auto all = ask(service, "/api/v1/pipelines");
    REQUIRE(all.status == 200);
    const json pipelines = body(all)["pipelines"];
    REQUIRE(pipelines.size() == 1);
    CHECK(pipelines[0]["name"] == "shop");
    CHECK(pipelines[0]["error"].is_null());
    CHECK(pipelines[0]["stages"][0]["name"] == "staging");
    CHECK(pipelines[0]["stages"][0]["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.2");
    CHECK(pipelines[0]["stages"][1]["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.1");

    const auto one = ask(service, "/api/v1/pipelines/shop");
    REQUIRE(one.status == 200);
    const json shop = body(one);
    CHECK(shop["pipeline"] == "shop");
    CHECK(shop["stages"][1]["gates"] ==
          json::array({{{"name", "soak"}, {"use", "soak"}, {"config", {{"min", "1h"}}}}}));
    CHECK(shop["stages"][0]["verify"] == json::array());
    const auto missing = ask(service, "/api/v1/pipelines/shpo");
    CHECK(missing.status == 404);
    CHECK(body(missing)["error"]["message"] == "no pipeline 'shpo' is served here");
  }

  TEST_CASE("the history: filters, pages, one record, and refused parameters") {
    Repo repo;
    const auto service = repo.service();
    const auto first = ask(service, "/api/v1/pipelines/shop/history?limit=2");
    REQUIRE(first.status == 200);
    const json page = body(first);
    REQUIRE(page["promotions"].size() == 2);
    CHECK(page["promotions"][0]["id"] == "p-3");  // newest first
    CHECK(page["promotions"][1]["id"] == "p-2");
    CHECK(page["next"] == "until=2026-11-01T11:00:00.000Z");
    const json rest = body(
        ask(service, "/api/v1/pipelines/shop/history?limit=2&" + page["next"].get<std::string>()));
    REQUIRE(rest["promotions"].size() == 1);
    CHECK(rest["promotions"][0]["id"] == "p-1");
    CHECK(rest["next"].is_null());

    const json prod =
        body(ask(service, "/api/v1/pipelines/shop/history?stage=prod&outcome=promoted"));
    REQUIRE(prod["promotions"].size() == 1);
    CHECK(prod["promotions"][0]["id"] == "p-3");

    const auto record = ask(service, "/api/v1/promotions/p-2");
    REQUIRE(record.status == 200);
    CHECK(body(record)["outcome"] == "pending");
    CHECK(ask(service, "/api/v1/promotions/p-9").status == 404);

    const auto bad_limit = ask(service, "/api/v1/pipelines/shop/history?limit=0");
    CHECK(bad_limit.status == 400);
    CHECK(body(bad_limit)["error"]["message"] == "limit must be a number from 1 to 500, got '0'");
    const auto unknown = ask(service, "/api/v1/pipelines/shop/history?stag=prod");
    CHECK(unknown.status == 400);
    CHECK(body(unknown)["error"]["message"] ==
          "unknown parameter 'stag' (stage, outcome, candidate, image, actor, until, limit)");
    const auto twice = ask(service, "/api/v1/pipelines/shop/history?stage=a&stage=b");
    CHECK(twice.status == 400);
    CHECK(body(twice)["error"]["message"] == "parameter 'stage' is given twice");
    const auto until = ask(service, "/api/v1/pipelines/shop/history?until=yesterday");
    CHECK(until.status == 400);
  }

  TEST_CASE("metrics in the Prometheus text format, from the history") {
    Repo repo;
    const auto service = repo.service();
    const auto metrics = ask(service, "/metrics");
    REQUIRE(metrics.status == 200);
    CHECK(metrics.headers.at(0).second == "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = metrics.body;
    CHECK(text.find("promote_up 1\n") != std::string::npos);
    CHECK(text.find("promote_pipelines 1\n") != std::string::npos);
    CHECK(text.find("# TYPE promote_promotions_total counter\n") != std::string::npos);
    CHECK(
        text.find("promote_promotions_total{pipeline=\"shop\",stage=\"prod\",outcome=\"pending\"} "
                  "1\n") != std::string::npos);
    CHECK(text.find("promote_promotions_total{pipeline=\"shop\",stage=\"prod\",outcome="
                    "\"promoted\"} 1\n") != std::string::npos);
    // 2026-11-01T12:00:01Z, when the newest promotion into prod ended.
    CHECK(text.find("promote_last_promotion_timestamp_seconds{pipeline=\"shop\",stage=\"prod\"} "
                    "1793534401.000\n") != std::string::npos);
  }

  TEST_CASE("pipelines that do not load, or that share a name, are refused at start") {
    Repo repo;
    auto twice = promote::serve::Service::load(
        {{repo.file, repo.file}, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE_FALSE(twice.has_value());
    CHECK(twice.error().kind == promote::ErrorKind::usage);
    CHECK(twice.error().message == repo.file.string() + " and " + repo.file.string() +
                                       " both name pipeline 'shop': the service names pipelines "
                                       "by metadata.name");
    write_text(repo.dir / "broken.yaml", "apiVersion: promote/v1\nkind: Pipeline\n");
    auto broken = promote::serve::Service::load(
        {{repo.dir / "broken.yaml"}, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().kind == promote::ErrorKind::config);
    auto none = promote::serve::Service::load({{}, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error().message == "serve needs at least one pipeline file (-f)");
  }
}
