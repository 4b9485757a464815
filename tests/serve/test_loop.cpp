// The loop of `promote serve`: when an `auto` stage is evaluated again, that it sleeps until
// then, wakes when triggered, records what changed nothing only when it differs, and finishes
// the evaluation running when stopped. The promotion itself is a fake here (the engine's is
// driven end to end by tests/integration/test_serve.cpp).
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>

#include "engine/serve/loop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using promote::Verdict;
using promote::promoter::Outcome;
using promote::promoter::PromotionResult;
using Clock = std::chrono::system_clock;

PromotionResult result_of(
    Outcome outcome,
    std::vector<std::pair<Verdict::Status, std::optional<std::chrono::seconds>>> gates = {}) {
  PromotionResult result;
  result.outcome = outcome;
  int n = 0;
  for (const auto& [status, retry] : gates) {
    Verdict verdict = Verdict::make(status, "gate " + std::to_string(n));
    verdict.retry_after = retry;
    result.gates.push_back({"g" + std::to_string(n++), "soak", {}, verdict});
  }
  return result;
}

// A pipeline `shop`: dev, then staging (auto) and prod (auto, interval 10s), and qa (auto, but a
// first stage: nothing to take, not evaluated).
struct Pipelines {
  promote::test::TempDir dir;
  Pipelines() {
    for (const char* stage : {"dev", "staging", "prod", "qa"}) {
      promote::test::write_text(dir / "k8s" / stage / "kustomization.yaml", "resources: []\n");
    }
    promote::test::write_text(
        dir / "promote.yaml",
        "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\ninterval: 10s\n"
        "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
        "stages:\n"
        "  - {name: dev, target: {kustomize: k8s/dev}}\n"
        "  - {name: staging, from: dev, auto: true, target: {kustomize: k8s/staging}}\n"
        "  - {name: prod, from: staging, auto: true, target: {kustomize: k8s/prod}}\n"
        "  - {name: qa, auto: true, target: {kustomize: k8s/qa}}\n");
  }
  promote::serve::Service service() const {
    auto loaded = promote::serve::Service::load(
        {{dir / "promote.yaml"}, std::nullopt, std::nullopt, std::nullopt});
    REQUIRE(loaded.has_value());
    return std::move(*loaded);
  }
};

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE("a pending stage is looked at again when its gates say, else every interval") {
    const auto now = Clock::now();
    using promote::serve::next_evaluation;
    CHECK(next_evaluation(result_of(Outcome::promoted), 60s, now) == now + 60s);
    CHECK(next_evaluation(result_of(Outcome::blocked), 60s, now) == now + 60s);
    // A soak with an hour left: in an hour, not every minute.
    CHECK(next_evaluation(result_of(Outcome::pending, {{Verdict::Status::pending, 3600s}}), 60s,
                          now) == now + 3600s);
    // The earliest of the pending gates; one that names no time counts as the interval.
    CHECK(next_evaluation(result_of(Outcome::pending, {{Verdict::Status::pending, 3600s},
                                                       {Verdict::Status::pending, std::nullopt}}),
                          60s, now) == now + 60s);
    CHECK(next_evaluation(result_of(Outcome::pending,
                                    {{Verdict::Status::pass, 5s}, {Verdict::Status::pending, 90s}}),
                          60s, now) == now + 90s);
    // Never sooner than a second.
    CHECK(next_evaluation(result_of(Outcome::pending, {{Verdict::Status::pending, 0s}}), 60s,
                          now) == now + 1s);
  }

  TEST_CASE(
      "the loop evaluates each auto stage with a source, sleeps until due, and wakes when "
      "triggered") {
    Pipelines pipelines;
    const auto service = pipelines.service();
    std::mutex mutex;
    std::vector<std::string> asked;
    std::vector<bool> recorded;
    promote::serve::LoopOptions options;
    options.promote = [&](const promote::promoter::Request& request) {
      PromotionResult result = request.stage == "staging"
                                   ? result_of(Outcome::pending, {{Verdict::Status::pending, 1s}})
                                   : result_of(Outcome::no_op);
      const bool record = !request.record_unchanged || request.record_unchanged(result);
      const std::lock_guard lock(mutex);
      asked.push_back(request.stage + " as " + request.actor +
                      (request.images.empty() ? "" : " with " + request.images.front()));
      recorded.push_back(record);
      return promote::Result<PromotionResult>(result);
    };
    promote::serve::Loop loop(service, options);
    const auto runs = loop.runs();
    REQUIRE(runs.size() == 3);
    CHECK(runs[0].stage == "staging");
    CHECK(runs[1].stage == "prod");
    CHECK(runs[2].stage == "qa");  // a first stage: evaluated only when an image is offered
    CHECK(runs[2].next == Clock::time_point::max());
    loop.start();
    REQUIRE(loop.wait_for_evaluations(3, 10s));  // staging, prod, staging again a second later
    {
      const std::lock_guard lock(mutex);
      REQUIRE(asked.size() >= 3);
      CHECK(asked[0] == "staging as promote-serve");
      CHECK(asked[1] == "prod as promote-serve");
      CHECK(asked[2] == "staging as promote-serve");
      // The same pending verdicts a second time: not recorded again.
      CHECK(recorded[0]);
      CHECK(recorded[1]);
      CHECK_FALSE(recorded[2]);
    }
    const auto after = loop.runs();
    CHECK(after[0].outcome == "pending");
    CHECK(after[0].summary == "g0: gate 0");
    CHECK(after[1].outcome == "no-op");
    // prod is next due in its interval (10 s): triggering the pipeline evaluates it at once.
    CHECK(after[1].next > Clock::now() + 5s);
    const std::size_t before = after[0].evaluations + after[1].evaluations;
    CHECK(loop.trigger("shop"));
    CHECK_FALSE(loop.trigger("other"));
    REQUIRE(loop.wait_for_evaluations(before + 2, 10s));
    CHECK(loop.runs()[1].evaluations >= 2);
    CHECK(loop.runs()[2].evaluations == 0);

    // An image offered to the first stage is promoted with it, before any stage due.
    CHECK(loop.offer_image("shop", "qa", "api=ghcr.io/acme/api:2.0.0"));
    CHECK_FALSE(loop.offer_image("shop", "dev", "api=ghcr.io/acme/api:2.0.0"));  // not auto
    const std::size_t offered = [&] {
      std::size_t sum = 0;
      for (const auto& run : loop.runs()) {
        sum += run.evaluations;
      }
      return sum;
    }();
    REQUIRE(loop.wait_for_evaluations(offered + 1, 10s));
    {
      const std::lock_guard lock(mutex);
      CHECK(std::find(asked.begin(), asked.end(),
                      "qa as promote-serve with api=ghcr.io/acme/api:2.0.0") != asked.end());
    }
    CHECK(loop.runs()[2].next == Clock::time_point::max());  // waits for the next image
    loop.stop();
  }

  TEST_CASE("a trigger during an evaluation makes the stage be looked at again after it") {
    Pipelines pipelines;
    const auto service = pipelines.service();
    std::mutex mutex;
    std::condition_variable changed;
    bool inside = false;
    bool release = false;
    std::atomic<int> prod{0};
    promote::serve::LoopOptions options;
    options.promote = [&](const promote::promoter::Request& request) {
      if (request.stage == "prod" && ++prod == 1) {
        std::unique_lock lock(mutex);
        inside = true;
        changed.notify_all();
        changed.wait(lock, [&] { return release; });
      }
      return promote::Result<PromotionResult>(result_of(Outcome::no_op));
    };
    promote::serve::Loop loop(service, options);
    loop.start();
    {
      std::unique_lock lock(mutex);
      REQUIRE(changed.wait_for(lock, 10s, [&] { return inside; }));
    }
    // A push announced while prod is being evaluated: prod is looked at again at once after,
    // not only in its interval (10 s).
    CHECK(loop.trigger("shop"));
    {
      const std::lock_guard lock(mutex);
      release = true;
    }
    changed.notify_all();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (prod < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    CHECK(prod >= 2);
    loop.stop();
  }

  TEST_CASE("stop waits for the evaluation running, and none starts after") {
    Pipelines pipelines;
    const auto service = pipelines.service();
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    promote::serve::LoopOptions options;
    options.promote = [&](const promote::promoter::Request&) {
      ++started;
      std::this_thread::sleep_for(300ms);
      ++finished;
      return promote::Result<PromotionResult>(result_of(Outcome::no_op));
    };
    promote::serve::Loop loop(service, options);
    loop.start();
    while (started == 0) {
      std::this_thread::sleep_for(5ms);
    }
    loop.stop();
    CHECK(finished == started.load());
    const int count = started;
    std::this_thread::sleep_for(100ms);
    CHECK(started == count);
  }

  TEST_CASE("a promotion asked through the API runs on the loop's thread, one at a time") {
    Pipelines pipelines;
    const auto service = pipelines.service();
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::atomic<bool> on_loop_thread{true};
    std::thread::id loop_thread;
    std::mutex mutex;
    promote::serve::LoopOptions options;
    options.promote = [&](const promote::promoter::Request& request) {
      {
        const std::lock_guard lock(mutex);
        if (loop_thread == std::thread::id()) {
          loop_thread = std::this_thread::get_id();
        } else if (loop_thread != std::this_thread::get_id()) {
          on_loop_thread = false;
        }
      }
      most = std::max(most.load(), ++running);
      std::this_thread::sleep_for(20ms);
      --running;
      PromotionResult result = result_of(Outcome::no_op);
      result.stage = request.stage;
      result.actor = request.actor;
      return promote::Result<PromotionResult>(result);
    };
    promote::serve::Loop loop(service, options);
    loop.start();
    promote::promoter::Request asked;
    asked.stage = "prod";
    asked.actor = "carol";
    auto first = loop.submit(asked);
    auto second = loop.submit(asked);
    REQUIRE(first.wait_for(10s) == std::future_status::ready);
    REQUIRE(second.wait_for(10s) == std::future_status::ready);
    CHECK(first.get().value().actor == "carol");
    CHECK(most == 1);  // never two evaluations at once, whoever asked
    CHECK(on_loop_thread);
    loop.stop();
    // After the stop, nothing runs: the answer says why.
    const auto late = loop.submit(asked).get();
    REQUIRE_FALSE(late.has_value());
    CHECK(late.error().message == "the service is stopping");
  }

  TEST_CASE("an engine failure is an error outcome, looked at again in the interval") {
    Pipelines pipelines;
    const auto service = pipelines.service();
    promote::serve::LoopOptions options;
    options.promote = [&](const promote::promoter::Request&) {
      return promote::Result<PromotionResult>(
          promote::make_error(promote::ErrorKind::git, "cannot fetch origin"));
    };
    promote::serve::Loop loop(service, options);
    loop.start();
    REQUIRE(loop.wait_for_evaluations(2, 10s));
    loop.stop();
    const auto runs = loop.runs();
    CHECK(runs[0].outcome == "error");
    CHECK(runs[0].summary == "cannot fetch origin");
    CHECK(runs[0].next > Clock::now() + 5s);
  }
}
