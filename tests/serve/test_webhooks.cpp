// The webhooks of `promote serve`, with the real payloads GitHub and GitLab send (the corpus's
// webhooks/, from octokit/webhooks and xanzy/go-gitlab): authenticated first (a forged, missing
// or unconfigured signature or token is refused), replays ignored, and each event turned into
// what it should do: evaluate the pipelines again, or offer an image to an `auto` first stage.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine/serve/loop.hpp"
#include "engine/serve/webhooks.hpp"
#include "engine/util/hash.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using promote::promoter::PromotionResult;
using promote::serve::Deliveries;
using promote::serve::WebhookSecrets;

const WebhookSecrets k_secrets{"github-s3cret", "gitlab-t0ken", "image-s3cret"};

// Pipeline `shop` on branch master: dev (auto: images come from events) and staging (auto).
struct Fixture {
  promote::test::TempDir dir;
  std::optional<promote::serve::Service> service;
  std::optional<promote::serve::Loop> loop;
  std::vector<std::string> asked;  // what the loop was asked to promote (under its thread)
  std::mutex mutex;
  Fixture() {
    for (const char* stage : {"dev", "staging"}) {
      promote::test::write_text(dir / "k8s" / stage / "kustomization.yaml", "resources: []\n");
    }
    promote::test::write_text(
        dir / "promote.yaml",
        "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\n"
        "repository: {branch: master}\n"
        "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
        "  - {name: hello, repository: ghcr.io/codertocat/hello-world}\n"
        "stages:\n"
        "  - {name: dev, auto: true, target: {kustomize: k8s/dev}}\n"
        "  - {name: staging, from: dev, auto: true, target: {kustomize: k8s/staging}}\n");
    auto loaded = promote::serve::Service::load(
        {{dir / "promote.yaml"}, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(loaded.has_value());
    service.emplace(std::move(*loaded));
    promote::serve::LoopOptions options;
    options.promote = [this](const promote::promoter::Request& request) {
      const std::lock_guard lock(mutex);
      asked.push_back(request.stage + (request.images.empty() ? "" : " " + request.images[0]));
      PromotionResult result;
      result.outcome = promote::promoter::Outcome::no_op;
      return promote::Result<PromotionResult>(result);
    };
    loop.emplace(*service, options);
  }

  promote::http::Outgoing send(const std::string& kind, const std::string& body,
                               promote::http::Headers headers) {
    promote::http::Incoming request;
    request.method = "POST";
    request.path = "/hooks/" + kind;
    request.target = request.path;
    request.body = body;
    request.headers = std::move(headers);
    return promote::serve::receive_webhook(kind, request, service->pipelines(), k_secrets,
                                           deliveries, &*loop);
  }

  Deliveries deliveries;
};

std::string corpus(const std::string& name) {
  return promote::test::read_text(*promote::test::corpus_dir() / "webhooks" / name);
}

std::string signature(const std::string& secret, const std::string& body) {
  return "sha256=" + promote::util::hmac_sha256_hex(secret, body);
}

json body(const promote::http::Outgoing& response) {
  return json::parse(response.body);
}

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("GitHub deliveries are verified by their HMAC, and a replay does nothing" *
            doctest::skip(!promote::test::has_corpus())) {
    Fixture fixture;
    const std::string push = corpus("github__push-new-branch.json");
    const auto signed_push = [&](const std::string& id) {
      return promote::http::Headers{{"X-GitHub-Event", "push"},
                                    {"X-GitHub-Delivery", id},
                                    {"X-Hub-Signature-256", signature("github-s3cret", push)}};
    };
    // Forged, missing, and with another secret: refused before anything is read.
    const auto forged = fixture.send(
        "github", push, {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", "sha256=00"}});
    CHECK(forged.status == 401);
    CHECK(body(forged)["error"]["message"] == "X-Hub-Signature-256 does not match the body");
    CHECK(fixture.send("github", push, {{"X-GitHub-Event", "push"}}).status == 401);
    const auto other = fixture.send(
        "github", push,
        {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", signature("not-it", push)}});
    CHECK(other.status == 401);
    // A body changed after signing.
    auto tampered = signed_push("d-0");
    CHECK(fixture.send("github", push + " ", tampered).status == 401);

    // A push to the pipeline's branch: its stages are evaluated again.
    const auto accepted = fixture.send("github", push, signed_push("d-1"));
    CHECK(accepted.status == 202);
    CHECK(body(accepted) == json{{"event", "push"},
                                 {"action", "evaluate"},
                                 {"pipelines", {"shop"}},
                                 {"why", "a push to branch master"}});
    const auto replay = fixture.send("github", push, signed_push("d-1"));
    CHECK(replay.status == 200);
    CHECK(body(replay)["action"] == "replay");
    CHECK(body(replay)["why"] == "delivery d-1 was received before");
  }

  TEST_CASE("each GitHub event does what it means for promotions" *
            doctest::skip(!promote::test::has_corpus())) {
    Fixture fixture;
    int id = 0;
    const auto deliver = [&](const std::string& event, const std::string& file) {
      const std::string text = corpus(file);
      return body(fixture.send("github", text,
                               {{"X-GitHub-Event", event},
                                {"X-GitHub-Delivery", "d-" + std::to_string(++id)},
                                {"X-Hub-Signature-256", signature("github-s3cret", text)}}));
    };
    CHECK(deliver("workflow_run", "github__workflow_run-completed-success.json")["action"] ==
          "evaluate");
    const json closed = deliver("pull_request", "github__pull_request-closed-not-merged.json");
    CHECK(closed["action"] == "ignored");
    CHECK(closed["why"] == "a pull request closed without a merge");
    const json tag = deliver("push", "github__push-tag-deleted.json");
    CHECK(tag["action"] == "ignored");
    CHECK(tag["why"] == "a push to refs/tags/simple-tag, not to a branch");
    // GHCR's example publishes an untagged version: nothing to promote.
    const json package =
        deliver("registry_package", "github__registry_package-published-container.json");
    CHECK(package["action"] == "ignored");
    CHECK(package["why"] == "a package version without a tag (ghcr.io/Codertocat/hello-world:)");
    const json job = deliver("workflow_job", "github__workflow_job-completed-failure.json");
    CHECK(job["action"] == "ignored");
    CHECK(job["why"] == "event workflow_job (completed) does not concern promotions");

    // The same package with a tag: offered to dev, the auto first stage that promotes it.
    json tagged = json::parse(corpus("github__registry_package-published-container.json"));
    tagged["registry_package"]["package_version"]["package_url"] =
        "ghcr.io/codertocat/hello-world:1.2.0";
    const std::string text = tagged.dump();
    const json offered =
        body(fixture.send("github", text,
                          {{"X-GitHub-Event", "registry_package"},
                           {"X-GitHub-Delivery", "d-tagged"},
                           {"X-Hub-Signature-256", signature("github-s3cret", text)}}));
    CHECK(offered["action"] == "image");
    CHECK(offered["pipelines"] == json{"shop"});
    fixture.loop->start();
    REQUIRE(fixture.loop->wait_for_evaluations(1, 10s));
    fixture.loop->stop();
    const std::lock_guard lock(fixture.mutex);
    REQUIRE_FALSE(fixture.asked.empty());
    CHECK(fixture.asked.front() == "dev hello=ghcr.io/codertocat/hello-world:1.2.0");
  }

  TEST_CASE("GitLab deliveries need the token; their events evaluate the pipelines again" *
            doctest::skip(!promote::test::has_corpus())) {
    Fixture fixture;
    const std::string push = corpus("gitlab__push.json");
    const auto wrong = fixture.send("gitlab", push,
                                    {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", "guess"}});
    CHECK(wrong.status == 401);
    CHECK(body(wrong)["error"]["message"] == "X-Gitlab-Token is not the configured token");
    const auto ok = fixture.send("gitlab", push,
                                 {{"X-Gitlab-Event", "Push Hook"},
                                  {"X-Gitlab-Token", "gitlab-t0ken"},
                                  {"X-Gitlab-Event-UUID", "u-1"}});
    CHECK(ok.status == 202);
    CHECK(body(ok)["pipelines"] == json{"shop"});
    CHECK(fixture
              .send("gitlab", push,
                    {{"X-Gitlab-Event", "Push Hook"},
                     {"X-Gitlab-Token", "gitlab-t0ken"},
                     {"X-Gitlab-Event-UUID", "u-1"}})
              .status == 200);
    const std::string pipeline = corpus("gitlab__pipeline-success.json");
    CHECK(body(fixture.send("gitlab", pipeline,
                            {{"X-Gitlab-Event", "Pipeline Hook"},
                             {"X-Gitlab-Token", "gitlab-t0ken"}}))["action"] == "evaluate");
  }

  TEST_CASE("an image event, signed, offers the image to the first stage that takes it") {
    Fixture fixture;
    const std::string event = R"({"image": "ghcr.io/acme/api:2.0.0"})";
    const auto unsigned_event = fixture.send("image", event, {});
    CHECK(unsigned_event.status == 401);
    CHECK(body(unsigned_event)["error"]["message"] == "missing X-Promote-Signature-256");
    const auto ok = fixture.send("image", event,
                                 {{"X-Promote-Signature-256", signature("image-s3cret", event)}});
    CHECK(ok.status == 202);
    CHECK(body(ok)["why"] == "image ghcr.io/acme/api:2.0.0 offered to the first stage");
    // The same body again is a replay (no delivery id: the body's digest stands for it).
    CHECK(fixture
              .send("image", event, {{"X-Promote-Signature-256", signature("image-s3cret", event)}})
              .status == 200);
    const std::string other = R"({"image": "docker.io/library/redis:7"})";
    const auto ignored = fixture.send(
        "image", other, {{"X-Promote-Signature-256", signature("image-s3cret", other)}});
    CHECK(body(ignored)["action"] == "ignored");
    const std::string bad = R"({"image": "ghcr.io/acme/API:x"})";
    CHECK(fixture.send("image", bad, {{"X-Promote-Signature-256", signature("image-s3cret", bad)}})
              .status == 400);
    const std::string not_json = "image=ghcr.io/acme/api:2";
    const auto refused = fixture.send(
        "image", not_json, {{"X-Promote-Signature-256", signature("image-s3cret", not_json)}});
    CHECK(refused.status == 400);
    CHECK(body(refused)["error"]["message"] == "the body is not JSON");
  }

  TEST_CASE("a webhook without its secret configured is refused, as is an unknown one") {
    Fixture fixture;
    promote::http::Incoming request;
    request.method = "POST";
    request.body = "{}";
    Deliveries deliveries;
    const auto github = promote::serve::receive_webhook(
        "github", request, fixture.service->pipelines(), WebhookSecrets{}, deliveries, nullptr);
    CHECK(github.status == 403);
    CHECK(body(github)["error"]["message"] ==
          "this webhook is not configured: set PROMOTE_GITHUB_WEBHOOK_SECRET");
    const auto unknown = promote::serve::receive_webhook(
        "bitbucket", request, fixture.service->pipelines(), k_secrets, deliveries, nullptr);
    CHECK(unknown.status == 404);
  }

  TEST_CASE("deliveries are remembered up to their capacity") {
    Deliveries deliveries(2);
    CHECK(deliveries.first_time("a"));
    CHECK_FALSE(deliveries.first_time("a"));
    CHECK(deliveries.first_time("b"));
    CHECK(deliveries.first_time("c"));  // "a" is forgotten
    CHECK(deliveries.first_time("a"));
  }
}
