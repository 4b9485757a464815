// The runtime of `promote serve`: pipeline files read again when their bytes change (by a
// push webhook, or found by looking), what the old service remembered kept, and files that no
// longer load leaving the running service in place.
#include <doctest/doctest.h>

#include <thread>

#include "engine/serve/runtime.hpp"
#include "engine/util/hash.hpp"
#include "tests/serve/fixture.hpp"

namespace {

namespace test = promote::test;
using promote::serve::Runtime;
using test::serve::Repo;

const std::string k_secret = "push-secret-of-the-test";

// The loop's promotions are not this test's: each says so.
promote::serve::LoopOptions no_promotions() {
  promote::serve::LoopOptions options;
  options.promote = [](const promote::promoter::Request&) {
    return promote::Result<promote::promoter::PromotionResult>(
        promote::make_error(promote::ErrorKind::usage, "no promotion in this test"));
  };
  return options;
}

// A GitHub delivery of `event` with `body`, signed with the test's secret.
promote::http::Outgoing deliver(const Runtime& runtime, const std::string& event,
                                const std::string& id, const std::string& body) {
  promote::http::Incoming request;
  request.method = "POST";
  request.path = "/hooks/github";
  request.target = request.path;
  request.peer = "127.0.0.1";
  request.body = body;
  request.headers = {
      {"X-GitHub-Event", event},
      {"X-GitHub-Delivery", id},
      {"X-Hub-Signature-256", "sha256=" + promote::util::hmac_sha256_hex(k_secret, body)},
      {"Content-Type", "application/json"}};
  return runtime.handle(request);
}

// The serve tests' repository, and a runtime started on it with the test's webhook secret.
struct Started {
  test::ScopedEnv secret{"PROMOTE_GITHUB_WEBHOOK_SECRET", k_secret};
  Repo repo;
  std::unique_ptr<Runtime> runtime;
  Started() {
    auto started =
        Runtime::start({{repo.file}, std::nullopt, std::nullopt, std::nullopt}, no_promotions());
    REQUIRE(started.has_value());
    runtime = std::move(*started);
  }
};

std::string with_auto_prod(const std::string& pipeline) {
  const std::string from = "  - name: prod\n";
  std::string out = pipeline;
  out.replace(out.find(from), from.size(), from + "    auto: true\n");
  return out;
}

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("the runtime reads a changed pipeline file again and keeps the deliveries it saw") {
    Started started;
    const Repo& repo = started.repo;
    Runtime& runtime = *started.runtime;
    CHECK(runtime.auto_stages() == 0);
    CHECK(runtime.reload().value() == false);  // nothing changed
    CHECK(deliver(runtime, "ping", "d-1", R"({"zen": "x"})").status == 202);

    const std::string before = test::read_text(repo.file);
    test::write_text(repo.file, with_auto_prod(before));
    CHECK(runtime.reload().value() == true);
    CHECK(runtime.reloads() == 1);
    CHECK(runtime.auto_stages() == 1);
    const auto document =
        test::serve::body(test::serve::ask(*runtime.service(), "/api/v1/pipelines/shop"));
    CHECK(document["stages"][1]["auto"].is_object());
    // The same delivery again is a replay: the new service remembers what the old one saw.
    const auto replay = deliver(runtime, "ping", "d-1", R"({"zen": "x"})");
    CHECK(replay.status == 200);
    CHECK(test::serve::body(replay)["action"] == "replay");

    // A file that no longer loads: refused, named, and the running service goes on.
    test::write_text(repo.file, "apiVersion: promote/v1\nkind: Pipeline\n");
    const auto broken = runtime.reload();
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().kind == promote::ErrorKind::config);
    CHECK(broken.error().message.find("promote.yaml") != std::string::npos);
    CHECK(runtime.auto_stages() == 1);
    CHECK(runtime.reloads() == 1);
    CHECK(test::serve::ask(*runtime.service(), "/api/v1/pipelines/shop").status == 200);
    runtime.stop();
  }

  TEST_CASE("a push webhook makes the runtime read the pipeline files again at once") {
    Started started;
    const Repo& repo = started.repo;
    Runtime& runtime = *started.runtime;
    runtime.watch(std::chrono::hours(1));  // only a push makes it look before the hour
    test::write_text(repo.file, with_auto_prod(test::read_text(repo.file)));
    const auto pushed =
        deliver(runtime, "push", "d-push", R"({"ref": "refs/heads/main", "after": "abc"})");
    CHECK(pushed.status == 202);
    for (int i = 0; i < 100 && runtime.reloads() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(runtime.reloads() == 1);
    CHECK(runtime.auto_stages() == 1);
    runtime.stop();
  }
}
