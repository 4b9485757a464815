#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "engine/scheduler/blocking.hpp"
#include "engine/scheduler/scheduler.hpp"
#include "tests/support/fakes.hpp"

namespace asio = boost::asio;
using promote::Gate;
using promote::GateContext;
using promote::Verdict;
using Status = promote::Verdict::Status;

namespace {

// Passes straight away with a fixed summary.
class ImmediateGate : public Gate {
 public:
  ImmediateGate(Status status, std::string summary) : m_status(status), m_summary(std::move(summary)) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    co_return Verdict::make(m_status, m_summary);
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }

 private:
  Status m_status;
  std::string m_summary;
};

// Waits on a timer until another gate cancels it; passes when released, so it only
// passes when the gates run concurrently.
struct Rendezvous {
  std::optional<asio::steady_timer> timer;
  bool waiting = false;
};

class WaitingGate : public Gate {
 public:
  explicit WaitingGate(Rendezvous& rendezvous) : m_rendezvous(rendezvous) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    m_rendezvous.timer.emplace(co_await asio::this_coro::executor, std::chrono::hours(1));
    m_rendezvous.waiting = true;
    co_await m_rendezvous.timer->async_wait(asio::as_tuple(asio::use_awaitable));
    m_rendezvous.waiting = false;
    m_rendezvous.timer.reset();  // the timer must not outlive the scheduler's event loop
    co_return Verdict::make(Status::pass, "released");
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }

 private:
  Rendezvous& m_rendezvous;
};

class ReleasingGate : public Gate {
 public:
  explicit ReleasingGate(Rendezvous& rendezvous) : m_rendezvous(rendezvous) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    if (!m_rendezvous.waiting) {
      co_return Verdict::make(Status::fail, "the other gate was not running");
    }
    m_rendezvous.timer->cancel();
    co_return Verdict::make(Status::pass, "released the other gate");
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }

 private:
  Rendezvous& m_rendezvous;
};

// Errors a number of times, then passes; counts its calls.
class FlakyGate : public Gate {
 public:
  FlakyGate(int errors, Status last) : m_errors(errors), m_last(last) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    ++calls;
    if (calls <= m_errors) {
      co_return Verdict::make(Status::error, "unreachable (" + std::to_string(calls) + ")");
    }
    co_return Verdict::make(m_last, "judged on call " + std::to_string(calls));
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  int calls = 0;

 private:
  int m_errors;
  Status m_last;
};

// Never finishes on its own.
class HangingGate : public Gate {
 public:
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24));
    co_await forever.async_wait(asio::use_awaitable);
    co_return Verdict::make(Status::pass, "woke up");
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }
};

// Blocks a worker thread until the test lets it go.
class BlockingGate : public Gate {
 public:
  explicit BlockingGate(std::shared_ptr<std::atomic<bool>> release) : m_release(std::move(release)) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    auto work = [release = m_release] {
      while (!release->load()) {
        std::this_thread::yield();
      }
      return 42;
    };
    const int value = co_await promote::scheduler::run_blocking(std::move(work));
    co_return Verdict::make(Status::pass, "computed " + std::to_string(value));
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }

 private:
  std::shared_ptr<std::atomic<bool>> m_release;
};

class ThrowingGate : public Gate {
 public:
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    auto work = []() -> int { throw std::runtime_error("report vanished"); };
    auto value = co_await promote::scheduler::run_blocking(std::move(work));
    co_return Verdict::make(Status::pass, std::to_string(value));
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }
};

promote::pipeline::GateSpec spec(std::string name, std::shared_ptr<Gate> gate,
                                 std::chrono::seconds timeout = std::chrono::seconds(300),
                                 int retries = 0) {
  promote::pipeline::GateSpec out;
  out.retries = retries;
  out.name = name;
  out.use = name;
  out.gate = std::move(gate);
  out.timeout = timeout;
  return out;
}

struct Context {
  promote::Candidate candidate;
  promote::test::FakeTimeline timeline;
  GateContext context{candidate, "staging", std::string("dev"), ".", timeline};
};

}  // namespace

TEST_SUITE("scheduler") {
  TEST_CASE("verdicts come back in declaration order") {
    Context c;
    promote::scheduler::Options options;
    options.fail_fast = false;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("a", std::make_shared<ImmediateGate>(Status::fail, "first")),
         spec("b", std::make_shared<ImmediateGate>(Status::pass, "second")),
         spec("c", std::make_shared<ImmediateGate>(Status::pending, "third"))},
        c.context, options);
    REQUIRE(verdicts.size() == 3);
    CHECK(verdicts[0].summary == "first");
    CHECK(verdicts[0].status == Status::fail);
    CHECK(verdicts[1].summary == "second");
    CHECK(verdicts[2].status == Status::pending);
  }

  TEST_CASE("gates run concurrently") {
    Context c;
    Rendezvous rendezvous;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("waits", std::make_shared<WaitingGate>(rendezvous), std::chrono::seconds(30)),
         spec("releases", std::make_shared<ReleasingGate>(rendezvous))},
        c.context);
    CHECK(verdicts[0].summary == "released");
    CHECK(verdicts[1].summary == "released the other gate");
  }

  TEST_CASE("a gate that outlives its timeout is judged error") {
    Context c;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("hangs", std::make_shared<HangingGate>(), std::chrono::seconds(1)),
         spec("quick", std::make_shared<ImmediateGate>(Status::pass, "ok"))},
        c.context);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "timed out after 1s");
    CHECK(verdicts[1].status == Status::pass);
  }

  TEST_CASE("a timeout cancels blocking work without waiting for it") {
    Context c;
    auto release = std::make_shared<std::atomic<bool>>(false);
    const auto verdicts = promote::scheduler::evaluate(
        {spec("blocks", std::make_shared<BlockingGate>(release), std::chrono::seconds(1))},
        c.context);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "timed out after 1s");
    release->store(true);  // the abandoned work ends; its result is dropped
  }

  TEST_CASE("blocking work returns its value") {
    Context c;
    auto release = std::make_shared<std::atomic<bool>>(true);
    const auto verdicts = promote::scheduler::evaluate(
        {spec("blocks", std::make_shared<BlockingGate>(release))}, c.context);
    CHECK(verdicts[0].status == Status::pass);
    CHECK(verdicts[0].summary == "computed 42");
  }

  TEST_CASE("a gate that throws is judged error with the reason") {
    Context c;
    const auto verdicts =
        promote::scheduler::evaluate({spec("throws", std::make_shared<ThrowingGate>())}, c.context);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "gate failed: report vanished");
  }

  TEST_CASE("a gate without a configuration is judged error") {
    Context c;
    const auto verdicts = promote::scheduler::evaluate({spec("empty", nullptr)}, c.context);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "gate was not configured");
  }

  TEST_CASE("a failing gate cancels the others when fail_fast is on") {
    Context c;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("hangs", std::make_shared<HangingGate>(), std::chrono::seconds(3600)),
         spec("fails", std::make_shared<ImmediateGate>(Status::fail, "2 tests failed"))},
        c.context);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "cancelled: the stage is already blocked by 'fails'");
    CHECK(verdicts[0].details["stopped_by"] == "fails");
    CHECK(verdicts[1].summary == "2 tests failed");
  }

  TEST_CASE("gates not yet started when the stage is blocked are not evaluated") {
    Context c;
    promote::scheduler::Options options;
    options.max_concurrency = 1;
    auto later = std::make_shared<FlakyGate>(0, Status::pass);
    const auto verdicts = promote::scheduler::evaluate(
        {spec("fails", std::make_shared<ImmediateGate>(Status::fail, "no")), spec("later", later)},
        c.context, options);
    CHECK(verdicts[1].status == Status::error);
    CHECK(verdicts[1].summary == "not evaluated: the stage is already blocked by 'fails'");
    CHECK(later->calls == 0);
  }

  TEST_CASE("without fail_fast every gate runs to its own end") {
    Context c;
    promote::scheduler::Options options;
    options.fail_fast = false;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("hangs", std::make_shared<HangingGate>(), std::chrono::seconds(1)),
         spec("fails", std::make_shared<ImmediateGate>(Status::fail, "no"))},
        c.context, options);
    CHECK(verdicts[0].summary == "timed out after 1s");
  }

  TEST_CASE("max_concurrency limits how many gates run at once") {
    Context c;
    Rendezvous rendezvous;
    promote::scheduler::Options options;
    options.max_concurrency = 1;
    const auto verdicts = promote::scheduler::evaluate(
        {spec("waits", std::make_shared<WaitingGate>(rendezvous), std::chrono::seconds(1)),
         spec("releases", std::make_shared<ReleasingGate>(rendezvous))},
        c.context, options);
    // One at a time: the waiting gate cannot be released, and times out first.
    CHECK(verdicts[0].summary == "timed out after 1s");
    CHECK(verdicts[1].summary == "the other gate was not running");
  }

  TEST_CASE("an error is retried up to the gate's retries") {
    Context c;
    promote::scheduler::Options options;
    options.retry_backoff = std::chrono::milliseconds(1);
    SUBCASE("and passes in the end") {
      auto gate = std::make_shared<FlakyGate>(2, Status::pass);
      const auto verdicts = promote::scheduler::evaluate(
          {spec("flaky", gate, std::chrono::seconds(300), 2)}, c.context, options);
      CHECK(verdicts[0].status == Status::pass);
      CHECK(verdicts[0].summary == "judged on call 3");
      CHECK(verdicts[0].details["attempts"] == 3);
      CHECK(gate->calls == 3);
    }
    SUBCASE("and stays an error when the retries run out") {
      auto gate = std::make_shared<FlakyGate>(5, Status::pass);
      const auto verdicts = promote::scheduler::evaluate(
          {spec("down", gate, std::chrono::seconds(300), 1)}, c.context, options);
      CHECK(verdicts[0].status == Status::error);
      CHECK(verdicts[0].summary == "unreachable (2)");
      CHECK(verdicts[0].details["attempts"] == 2);
    }
    SUBCASE("but a failure is never retried") {
      auto gate = std::make_shared<FlakyGate>(0, Status::fail);
      promote::scheduler::evaluate({spec("fails", gate, std::chrono::seconds(300), 3)}, c.context,
                                   options);
      CHECK(gate->calls == 1);
    }
  }
}
