#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include "gates/soak.hpp"
#include "tests/support/fakes.hpp"

using promote::Verdict;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<promote::Gate> make(const std::string& yaml, promote::pipeline::Diagnostics& diagnostics) {
  YAML::Node node = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
  return promote::gates::make_soak(promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics));
}

Verdict judge(promote::Gate& gate, const promote::test::FakeTimeline& timeline,
              std::optional<std::string> from = std::string("dev")) {
  promote::Candidate candidate;
  promote::GateContext context{candidate, "staging", std::move(from), ".", timeline};
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, gate.evaluate(context), boost::asio::use_future);
  io.run();
  return future.get();
}

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("a candidate that has soaked long enough passes") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 2h", diagnostics);
    REQUIRE(gate);
    promote::test::FakeTimeline timeline;
    timeline.entries["dev"] = {timeline.now_value - 3h, "history"};
    const Verdict verdict = judge(*gate, timeline);
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.summary == "in dev for 3h of 2h");
    CHECK(verdict.details["elapsed_seconds"] == 3 * 3600);
    CHECK(verdict.details["entered_source"] == "history");
  }

  TEST_CASE("a candidate still soaking is pending with the time left") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 2h", diagnostics);
    promote::test::FakeTimeline timeline;
    timeline.entries["dev"] = {timeline.now_value - 12min, "history"};
    const Verdict verdict = judge(*gate, timeline);
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary == "in dev for 12m of 2h; 1h48m left");
    REQUIRE(verdict.retry_after);
    CHECK(*verdict.retry_after == 108min);
  }

  TEST_CASE("exactly the minimum passes") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 90m", diagnostics);
    promote::test::FakeTimeline timeline;
    timeline.entries["dev"] = {timeline.now_value - 90min, "history"};
    CHECK(judge(*gate, timeline).status == Status::pass);
  }

  TEST_CASE("not knowing when the candidate arrived is an error, never a pass") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 1h", diagnostics);
    promote::test::FakeTimeline timeline;
    SUBCASE("no record") {
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "no record says when candidate " +
                                   promote::Candidate{}.short_id() + " entered dev");
    }
    SUBCASE("the record cannot be read") {
      timeline.failure = promote::make_error(promote::ErrorKind::input, "database is locked");
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "cannot tell when the candidate entered dev: database is locked");
    }
    SUBCASE("no source stage") {
      const Verdict verdict = judge(*gate, timeline, std::nullopt);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "stage 'staging' has no source stage (from:) to soak in");
    }
  }

  TEST_CASE("bad configuration is reported with its position") {
    promote::pipeline::Diagnostics diagnostics;
    SUBCASE("missing with") {
      CHECK_FALSE(make("", diagnostics));
      CHECK(diagnostics.messages() ==
            std::vector<std::string>{"promote.yaml: gate 'soak' needs 'with: { min: <duration> }'"});
    }
    SUBCASE("not a duration") {
      CHECK_FALSE(make("min: soon", diagnostics));
      CHECK(diagnostics.messages() ==
            std::vector<std::string>{"promote.yaml:1:6: 'min' must be a duration such as 90s, 5m, "
                                     "2h or 1d, got 'soon'"});
    }
    SUBCASE("unknown field") {
      make("min: 1h\nmim: 2h", diagnostics);
      CHECK(diagnostics.messages() ==
            std::vector<std::string>{"promote.yaml:2:1: unknown field 'mim' in gate 'soak' (did "
                                     "you mean 'min'?)"});
    }
    SUBCASE("missing min") {
      CHECK_FALSE(make("{}", diagnostics));
      CHECK(diagnostics.messages() ==
            std::vector<std::string>{"promote.yaml:1:1: missing required field 'min' in gate 'soak'"});
    }
  }

  TEST_CASE("the configuration is recorded as written") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 1h30m", diagnostics);
    CHECK(gate->config() == nlohmann::json{{"min", "1h30m"}});
    CHECK_FALSE(gate->after_verification());
    CHECK(make("min: 1h\nsince: commit", diagnostics)->config() == nlohmann::json{{"min", "1h"}});
    auto healthy = make("min: 1h\nsince: healthy", diagnostics);
    CHECK(healthy->config() == nlohmann::json{{"min", "1h"}, {"since", "healthy"}});
    CHECK(healthy->after_verification());
    CHECK(diagnostics.messages().empty());
    CHECK_FALSE(make("min: 1h\nsince: synced", diagnostics));
    CHECK(diagnostics.messages() ==
          std::vector<std::string>{
              "promote.yaml:2:8: 'since' must be 'commit' or 'healthy', got 'synced'"});
  }

  TEST_CASE("since: healthy counts from the first time the source stage was seen healthy") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make("min: 2h\nsince: healthy", diagnostics);
    REQUIRE(gate);
    promote::test::FakeTimeline timeline;
    const std::string commit(40, 'c');
    timeline.entries["dev"] = {timeline.now_value - 5h, "commit cccccccccccc (Promote trailers)",
                               commit};
    SUBCASE("not seen healthy yet: pending, looked at again in a minute") {
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary ==
            "not yet seen running healthy in dev (commit cccccccccccc): the soak counts from a "
            "verification gate's pass (argocd, flux, kubernetes here, or `promote verify "
            "--stage dev`)");
      CHECK(verdict.retry_after == 60s);
      CHECK(verdict.details["commit"] == commit);
    }
    SUBCASE("healthy for an hour: an hour left, however long ago the commit was") {
      timeline.healthy_entries["dev@" + commit] = {timeline.now_value - 1h,
                                                   "verification v-1 (history)"};
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary == "healthy in dev for 1h of 2h; 1h left");
      CHECK(verdict.retry_after == 1h);
      CHECK(verdict.details["healthy_source"] == "verification v-1 (history)");
      CHECK(verdict.details["since"] == "healthy");
    }
    SUBCASE("healthy for three hours: passes") {
      timeline.healthy_entries["dev@" + commit] = {timeline.now_value - 3h, "argocd (this run)"};
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::pass);
      CHECK(verdict.summary == "healthy in dev for 3h of 2h");
    }
    SUBCASE("seen healthy before the commit (a clock ahead): counted from the commit") {
      timeline.entries["dev"].at = timeline.now_value - 90min;
      timeline.healthy_entries["dev@" + commit] = {timeline.now_value - 3h, "argocd (this run)"};
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary == "healthy in dev for 1h30m of 2h; 30m left");
    }
    SUBCASE("the commit that brought it is unknown: an error, never a pass") {
      timeline.entries["dev"].commit = "";
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "no record names the commit that brought candidate " +
                                   promote::Candidate{}.short_id() +
                                   " into dev, whose healthy deployment the soak counts from");
    }
    SUBCASE("the record cannot be read") {
      timeline.healthy_failure = promote::make_error(promote::ErrorKind::input, "disk I/O error");
      const Verdict verdict = judge(*gate, timeline);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "cannot tell since when dev runs the candidate healthy: disk I/O "
            "error");
    }
  }
}
