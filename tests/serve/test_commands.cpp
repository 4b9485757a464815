// The writing commands of `promote serve`'s API: no anonymous write (no tokens file, no token, an
// unknown token), roles per action and stage, the trusted proxy's user header only from its
// addresses, and the commands themselves recorded for the authenticated actor.
#include <doctest/doctest.h>

#include "engine/serve/access.hpp"
#include "engine/serve/loop.hpp"
#include "engine/util/hash.hpp"
#include "tests/serve/fixture.hpp"

namespace {

namespace fs = std::filesystem;
namespace history = promote::history;
using nlohmann::json;
using promote::test::write_text;
using promote::test::serve::body;
using promote::test::serve::Repo;

// alice may approve and hold prod; bob may only promote staging; the proxy at 127.0.0.1 vouches
// for carol, who may do anything to prod.
fs::path tokens_file(const Repo& repo) {
  const fs::path file = repo.dir / ".promote/tokens.yaml";
  write_text(file,
             "tokens:\n"
             "  - actor: alice\n    sha256: " +
                 promote::util::sha256_hex("alice-t0ken") +
                 "\n    roles: [\"approve:prod\", \"hold:shop/prod\", \"release:*\"]\n"
                 "  - actor: bob\n    sha256: " +
                 promote::util::sha256_hex("bob-t0ken") +
                 "\n    roles: [\"promote:staging\"]\n"
                 "proxy:\n  from: [127.0.0.1]\n  users:\n"
                 "    - {actor: carol, roles: [\"*:prod\"]}\n");
  return file;
}

promote::http::Outgoing post(const promote::serve::Service& service, const std::string& path,
                             promote::http::Headers headers, const std::string& payload = "",
                             const std::string& peer = "127.0.0.1") {
  promote::http::Incoming request;
  request.method = "POST";
  request.path = path;
  request.target = path;
  request.headers = std::move(headers);
  request.body = payload;
  request.peer = peer;
  return service.handle(request);
}

const std::string k_approve = "/api/v1/pipelines/shop/stages/prod/approve";

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("no anonymous write: without a tokens file, a token, or a known one, nothing is done") {
    Repo repo;
    const auto closed = repo.service();
    const auto off = post(closed, k_approve, {{"Authorization", "Bearer alice-t0ken"}});
    CHECK(off.status == 401);
    CHECK(body(off)["error"]["message"] ==
          "writes are off: the service has no tokens file (--tokens)");

    const auto service = repo.service(tokens_file(repo));
    const auto anonymous = post(service, k_approve, {});
    CHECK(anonymous.status == 401);
    CHECK(body(anonymous)["error"]["message"] == "a write needs Authorization: Bearer TOKEN");
    CHECK(std::find(anonymous.headers.begin(), anonymous.headers.end(),
                    std::pair<std::string, std::string>{"WWW-Authenticate", "Bearer"}) !=
          anonymous.headers.end());
    const auto unknown = post(service, k_approve, {{"Authorization", "Bearer mallory"}});
    CHECK(unknown.status == 401);
    CHECK(body(unknown)["error"]["message"] == "the bearer token is not one of the service's");
    const auto wrong_role = post(service, k_approve, {{"Authorization", "Bearer bob-t0ken"}});
    CHECK(wrong_role.status == 403);
    CHECK(body(wrong_role)["error"]["message"] == "bob may not approve shop/prod");
    // The proxy's header counts from the proxy's address only.
    const auto spoofed =
        post(service, k_approve, {{"X-Forwarded-User", "carol"}}, "", "203.0.113.7");
    CHECK(spoofed.status == 401);
    const auto stranger = post(service, k_approve, {{"X-Forwarded-User", "dave"}});
    CHECK(stranger.status == 403);
    CHECK(body(stranger)["error"]["message"] == "the proxy's user dave has no roles here");
    const auto get = promote::test::serve::ask(service, k_approve);
    CHECK(get.status == 405);
    auto store = history::History::open(repo.dir / ".promote/history.db").value();
    CHECK(store.all_approvals().value().empty());
  }

  TEST_CASE("an approval, a hold and a release through the API are the authenticated actor's") {
    Repo repo;
    const auto service = repo.service(tokens_file(repo));
    const auto approved = post(service, k_approve, {{"Authorization", "Bearer alice-t0ken"}},
                               R"({"reason": "canary clean"})");
    INFO(approved.body);
    REQUIRE(approved.status == 200);
    CHECK(body(approved)["actor"] == "alice");
    CHECK(body(approved)["decision"] == "approve");
    CHECK(body(approved)["reason"] == "canary clean");
    auto store = history::History::open(repo.dir / ".promote/history.db").value();
    const auto approvals = store.all_approvals().value();
    REQUIRE(approvals.size() == 1);
    CHECK(approvals[0].actor == "alice");
    CHECK(approvals[0].stage == "prod");

    // carol, vouched for by the proxy.
    const auto held = post(service, "/api/v1/pipelines/shop/stages/prod/hold",
                           {{"X-Forwarded-User", "carol"}}, R"({"reason": "INC-7"})");
    REQUIRE(held.status == 200);
    CHECK(body(held)["actor"] == "carol");
    CHECK(store.hold({"shop", "promote.yaml"}, "prod").value().value().actor == "carol");
    // A hold needs a reason: the command's own refusal, as a 400.
    const auto no_reason =
        post(service, "/api/v1/pipelines/shop/stages/prod/hold", {{"X-Forwarded-User", "carol"}});
    CHECK(no_reason.status == 400);
    CHECK(body(no_reason)["error"]["message"] ==
          "hold needs --reason: say why promotions into prod stop");
    const auto released = post(service, "/api/v1/pipelines/shop/stages/prod/release",
                               {{"Authorization", "Bearer alice-t0ken"}});
    REQUIRE(released.status == 200);
    CHECK_FALSE(store.hold({"shop", "promote.yaml"}, "prod").value().has_value());

    const auto bad_body =
        post(service, k_approve, {{"Authorization", "Bearer alice-t0ken"}}, R"({"reason": 7})");
    CHECK(bad_body.status == 400);
    const auto no_command = post(service, "/api/v1/pipelines/shop/stages/prod/deploy",
                                 {{"Authorization", "Bearer alice-t0ken"}});
    CHECK(no_command.status == 404);
  }

  TEST_CASE("a promotion through the API runs the stage's gates, as the command line does") {
    Repo repo;
    const auto service = repo.service(tokens_file(repo));
    // carol may promote prod; its soak has not begun (staging's candidate entered now or
    // never): pending, exit code 3, recorded as carol's.
    const auto promoted = post(service, "/api/v1/pipelines/shop/stages/prod/promote",
                               {{"X-Forwarded-User", "carol"}}, R"({"reason": "release 1.4.2"})");
    INFO(promoted.body);
    REQUIRE(promoted.status == 200);
    const json result = body(promoted);
    CHECK(result["actor"] == "carol");
    CHECK(result["reason"] == "release 1.4.2");
    CHECK(result["stage"] == "prod");
    CHECK(result["gates"][0]["name"] == "soak");
    CHECK(result["exit_code"] == (result["outcome"] == "promoted" ? 0 : 3));
  }

  TEST_CASE("with the service's loop running, a promotion through the API runs on it") {
    Repo repo;
    auto service = repo.service(tokens_file(repo));
    promote::serve::Loop loop(service, {});
    service.set_loop(&loop);
    loop.start();
    // A rollback of prod, which never took a release: refused by the engine, named, a 400.
    const auto rolled = post(service, "/api/v1/pipelines/shop/stages/prod/rollback",
                             {{"X-Forwarded-User", "carol"}}, R"({"reason": "INC-9"})");
    INFO(rolled.body);
    CHECK(rolled.status == 400);
    const auto promoted = post(service, "/api/v1/pipelines/shop/stages/prod/promote",
                               {{"X-Forwarded-User", "carol"}});
    REQUIRE(promoted.status == 200);
    CHECK(body(promoted)["actor"] == "carol");
    CHECK(loop.wait_for_evaluations(2, std::chrono::seconds(10)));
    loop.stop();
  }

  TEST_CASE("a tokens file that is wrong is refused at start, naming the place") {
    Repo repo;
    const fs::path file = repo.dir / ".promote/tokens.yaml";
    write_text(
        file, "tokens:\n  - actor: alice\n    sha256: alice-t0ken\n    roles: [\"deploy:prod\"]\n");
    auto loaded = promote::serve::Access::load(file);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().message ==
          file.string() +
              ":3:13: 'sha256' must be the SHA-256 of the token, 64 lower-case hex digits (never "
              "the token itself)\n" +
              file.string() +
              ":4:13: a role is ACTION:STAGE or ACTION:PIPELINE/STAGE (ACTION one of promote, "
              "approve, reject, hold, release, rollback, or *), got 'deploy:prod'");
  }

  TEST_CASE("roles: an action and a stage, in one pipeline or all") {
    using promote::serve::allows;
    CHECK(allows({"approve:prod"}, "approve", "shop", "prod"));
    CHECK_FALSE(allows({"approve:prod"}, "reject", "shop", "prod"));
    CHECK_FALSE(allows({"approve:prod"}, "approve", "shop", "staging"));
    CHECK(allows({"*:prod"}, "hold", "any", "prod"));
    CHECK(allows({"hold:shop/prod"}, "hold", "shop", "prod"));
    CHECK_FALSE(allows({"hold:shop/prod"}, "hold", "blog", "prod"));
    CHECK(allows({"promote:*/*"}, "promote", "blog", "dev"));
    CHECK_FALSE(allows({}, "promote", "shop", "dev"));
  }
}
