// The evaluation of a stage's gates when a soak counts from a healthy deployment: the
// verification gates first, then the others told what they saw; the observation made only when
// every verification gate passed; and the record it becomes.
#include <doctest/doctest.h>

#include <atomic>

#include "engine/promoter/verification.hpp"
#include "tests/support/fakes.hpp"

namespace {

namespace asio = boost::asio;
using promote::Gate;
using promote::GateContext;
using promote::Verdict;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;

const std::string k_commit(40, 'c');

// A verification gate: judges `status`, healthy since `since` when it passes.
class SeeingGate : public Gate {
 public:
  SeeingGate(Status status, std::optional<promote::Timeline::TimePoint> since,
             std::atomic<int>& order)
      : m_status(status), m_since(since), m_order(order) {}
  asio::awaitable<Verdict> evaluate(const GateContext&) override {
    m_seen_at = ++m_order;
    Verdict verdict = Verdict::make(m_status, "seen");
    if (m_status == Status::pass) {
      verdict.healthy_since = m_since;
    }
    co_return verdict;
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  bool verifies() const override { return true; }
  int seen_at() const { return m_seen_at; }

 private:
  Status m_status;
  std::optional<promote::Timeline::TimePoint> m_since;
  std::atomic<int>& m_order;
  int m_seen_at = 0;
};

// Reads what the verification gates saw, as a soak with since: healthy does.
class ReadingGate : public Gate {
 public:
  ReadingGate(bool after, std::atomic<int>& order) : m_after(after), m_order(order) {}
  asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    m_read_at = ++m_order;
    auto healthy = context.timeline.healthy("staging", k_commit);
    if (healthy && *healthy) {
      m_source = (*healthy)->source;
      m_since = (*healthy)->at;
    }
    co_return Verdict::make(Status::pass, "read");
  }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  bool after_verification() const override { return m_after; }
  int read_at() const { return m_read_at; }
  const std::string& source() const { return m_source; }
  std::optional<promote::Timeline::TimePoint> since() const { return m_since; }

 private:
  bool m_after;
  std::atomic<int>& m_order;
  int m_read_at = 0;
  std::string m_source;
  std::optional<promote::Timeline::TimePoint> m_since;
};

promote::pipeline::GateSpec spec(std::string name, std::shared_ptr<Gate> gate) {
  promote::pipeline::GateSpec out;
  out.name = name;
  out.use = name;
  out.gate = std::move(gate);
  return out;
}

struct Stage {
  promote::test::FakeTimeline timeline;
  promote::Candidate candidate;
  std::atomic<int> order{0};
  Stage() { timeline.entries["staging"] = {timeline.now_value - 5h, "history", k_commit}; }
  promote::promoter::Evaluation evaluate(const std::vector<promote::pipeline::GateSpec>& gates,
                                         bool fail_fast = true) {
    GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
    promote::scheduler::Options options;
    options.fail_fast = fail_fast;
    options.max_concurrency = 1;  // in declaration order unless told otherwise
    return promote::promoter::evaluate_observing(gates, context, options);
  }
};

}  // namespace

TEST_SUITE("promoter") {
  TEST_CASE("verification gates run first when a gate reads what they saw, which it is told") {
    Stage stage;
    const auto t1 = stage.timeline.now_value - 2h;
    const auto t2 = stage.timeline.now_value - 1h;
    auto reader = std::make_shared<ReadingGate>(true, stage.order);
    auto argocd = std::make_shared<SeeingGate>(Status::pass, t1, stage.order);
    auto kubernetes = std::make_shared<SeeingGate>(Status::pass, t2, stage.order);
    // Declared first, read last.
    const auto evaluated =
        stage.evaluate({spec("soak", reader), spec("argocd", argocd), spec("k8s", kubernetes)});
    REQUIRE(evaluated.verdicts.size() == 3);
    CHECK(evaluated.verdicts[0].summary == "read");
    CHECK(evaluated.verdicts[1].summary == "seen");
    CHECK(reader->read_at() == 3);
    CHECK(argocd->seen_at() < reader->read_at());
    CHECK(kubernetes->seen_at() < reader->read_at());
    // Healthy since the later of the two: both had to see it.
    REQUIRE(evaluated.observed.has_value());
    CHECK(evaluated.observed->stage == "staging");
    CHECK(evaluated.observed->commit == k_commit);
    CHECK(evaluated.observed->since == t2);
    CHECK(evaluated.observed->gates == std::vector<std::string>{"argocd", "k8s"});
    CHECK(reader->since() == t2);
    CHECK(reader->source() == "argocd, k8s (this run)");
  }

  TEST_CASE("what the history recorded first wins over this run's observation") {
    Stage stage;
    const auto recorded = stage.timeline.now_value - 4h;
    stage.timeline.healthy_entries["staging@" + k_commit] = {recorded, "verification v-1"};
    auto reader = std::make_shared<ReadingGate>(true, stage.order);
    stage.evaluate({spec("soak", reader),
                    spec("argocd", std::make_shared<SeeingGate>(
                                       Status::pass, stage.timeline.now_value, stage.order))});
    CHECK(reader->since() == recorded);
    CHECK(reader->source() == "verification v-1");
  }

  TEST_CASE("no observation unless every verification gate passed") {
    Stage stage;
    auto reader = std::make_shared<ReadingGate>(true, stage.order);
    SUBCASE("one is pending") {
      const auto evaluated = stage.evaluate(
          {spec("soak", reader),
           spec("argocd", std::make_shared<SeeingGate>(Status::pass, std::nullopt, stage.order)),
           spec("k8s", std::make_shared<SeeingGate>(Status::pending, std::nullopt, stage.order))});
      CHECK_FALSE(evaluated.observed.has_value());
      CHECK(reader->source().empty());
      CHECK(evaluated.verdicts[0].status == Status::pass);
    }
    SUBCASE("one failed: with fail_fast the others are not evaluated") {
      const auto evaluated = stage.evaluate(
          {spec("soak", reader),
           spec("argocd", std::make_shared<SeeingGate>(Status::fail, std::nullopt, stage.order))});
      CHECK_FALSE(evaluated.observed.has_value());
      CHECK(reader->read_at() == 0);
      CHECK(evaluated.verdicts[0].status == Status::error);
      CHECK(evaluated.verdicts[0].summary ==
            "not evaluated: the stage is already blocked by 'argocd'");
    }
    SUBCASE("one failed, without fail_fast: the others are evaluated all the same") {
      const auto evaluated = stage.evaluate(
          {spec("soak", reader),
           spec("argocd", std::make_shared<SeeingGate>(Status::fail, std::nullopt, stage.order))},
          false);
      CHECK(reader->read_at() == 2);
      CHECK(evaluated.verdicts[0].status == Status::pass);
    }
  }

  TEST_CASE("without a reader the gates run as declared, and a pass is still an observation") {
    Stage stage;
    auto reader = std::make_shared<ReadingGate>(false, stage.order);
    auto argocd = std::make_shared<SeeingGate>(Status::pass, std::nullopt, stage.order);
    const auto evaluated = stage.evaluate({spec("soak", reader), spec("argocd", argocd)});
    CHECK(reader->read_at() == 1);
    CHECK(argocd->seen_at() == 2);
    REQUIRE(evaluated.observed.has_value());
    // A gate that says not since when: since now.
    CHECK(evaluated.observed->since == stage.timeline.now_value);
  }

  TEST_CASE("an observation becomes a verified record of the stage it saw") {
    promote::promoter::Observation seen{
        "staging", k_commit, promote::Timeline::TimePoint(1'700'000'000s), {"argocd"}};
    promote::Candidate candidate;
    std::vector<promote::promoter::GateResult> gates = {
        {"soak", "soak", nlohmann::json::object(), Verdict::make(Status::pending, "soaking")},
        {"argocd", "argocd", {{"server", "https://argocd"}}, Verdict::make(Status::pass, "seen")}};
    const auto started = promote::Timeline::TimePoint(1'700'000'100s);
    const auto record = promote::promoter::verification_record(
        seen, candidate, {"shop", "promote.yaml"}, gates, "ci", started);
    CHECK(record.outcome == "verified");
    CHECK(record.stage == "staging");
    CHECK(record.from == "");
    CHECK(record.commit == k_commit);
    CHECK(record.pipeline == "shop");
    CHECK(record.pipeline_file == "promote.yaml");
    CHECK(record.candidate_id == candidate.id());
    CHECK(record.healthy_since == seen.since);
    CHECK(record.started == started);
    CHECK(record.actor == "ci");
    REQUIRE(record.gates.size() == 1);  // the gates that saw it, not the soak
    CHECK(record.gates[0].name == "argocd");
    CHECK(record.gates[0].config == nlohmann::json{{"server", "https://argocd"}});
    CHECK(record.id.starts_with("20231114T221"));
  }
}
