// The approval gate: distinct eligible approvers of this exact candidate, quorum over
// groups, valid_for, allow_self, rejections, and its configuration errors.

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "gates/approval.hpp"
#include "tests/support/fakes.hpp"

namespace {

using promote::Approval;
using promote::Verdict;
using Status = Verdict::Status;
using namespace std::chrono_literals;

struct Fixture {
  promote::Candidate candidate;
  promote::Candidate other;
  promote::test::FakeTimeline timeline;
  promote::test::FakeApprovals book;
  std::string actor = "ci";

  Fixture() {
    candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.2").value();
    other.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.3").value();
  }

  void decide(const std::string& who, bool approve = true, std::chrono::hours ago = 1h,
              const promote::Candidate* which = nullptr, const std::string& stage = "prod") {
    book.all.push_back(Approval{who, (which ? *which : candidate).id(), stage, approve,
                                approve ? "" : "not now", timeline.now_value - ago});
  }

  Verdict judge(const std::string& yaml, bool with_book = true) {
    promote::pipeline::Diagnostics diagnostics;
    YAML::Node node = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
    auto gate = promote::gates::make_approval(
        promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics));
    REQUIRE_MESSAGE(gate, (diagnostics.empty() ? "" : diagnostics.messages().front()));
    promote::GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
    context.actor = actor;
    context.approvals = with_book ? &book : nullptr;
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, gate->evaluate(context), boost::asio::use_future);
    io.run();
    return future.get();
  }
};

std::vector<std::string> errors(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  YAML::Node node = YAML::Load(yaml);
  CHECK_FALSE(promote::gates::make_approval(
      promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics)));
  return diagnostics.messages();
}

}  // namespace

TEST_SUITE("approval gate") {
  TEST_CASE("pending while short, naming who is still needed; passes with enough approvers") {
    Fixture f;
    const std::string rules = "{approvers: [alice, bob, carol], min: 2}";
    Verdict verdict = f.judge(rules);
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary.starts_with("0 approvals; needs 2 more of alice, bob, carol "
                                      "(promote approve --stage prod --candidate " +
                                      f.candidate.short_id() + ")"));
    REQUIRE(verdict.retry_after);
    f.decide("alice");
    verdict = f.judge(rules);
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary.starts_with("1 approval (alice); needs 1 more of bob, carol"));
    f.decide("bob");
    verdict = f.judge(rules);
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.summary == "2 approvals (alice, bob)");
    CHECK(verdict.details["approvals"].size() == 2);
    CHECK_FALSE(verdict.retry_after);
  }

  TEST_CASE("the same person approving twice counts once") {
    Fixture f;
    f.decide("alice", true, 3h);
    f.decide("alice", true, 1h);
    CHECK(f.judge("{approvers: [alice, bob], min: 2}").status == Status::pending);
  }

  TEST_CASE("one name as raw bytes and as read back from a note (U+FFFD) counts once") {
    // Records of a version that let text that is not UTF-8 through: the history kept the raw
    // bytes, the note U+FFFD, and history sync added the second as another approval.
    Fixture f;
    f.decide("bob\xff");
    f.decide("bob\xef\xbf\xbd");
    const Verdict verdict = f.judge("{min: 2}");
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.details["approvals"].size() == 1);
  }

  TEST_CASE("only this exact candidate's approvals for this stage count") {
    Fixture f;
    f.decide("alice", true, 1h, &f.other);
    f.decide("bob", true, 1h, nullptr, "staging");
    const Verdict verdict = f.judge("{approvers: [alice, bob]}");
    CHECK(verdict.status == Status::pending);
    f.decide("bob");
    CHECK(f.judge("{approvers: [alice, bob]}").status == Status::pass);
  }

  TEST_CASE("people outside the approvers, and the promoting actor, do not count") {
    Fixture f;
    f.actor = "alice";
    f.decide("mallory");
    f.decide("alice");
    Verdict verdict = f.judge("{approvers: [alice, bob]}");
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary.starts_with("0 approvals; needs 1 more of bob "));
    REQUIRE(verdict.details["ignored"].size() == 2);
    CHECK(verdict.details["ignored"].dump().find("the promoting actor's own approval") !=
          std::string::npos);
    CHECK(verdict.details["ignored"].dump().find("not among the approvers") != std::string::npos);
    CHECK(f.judge("{approvers: [alice, bob], allow_self: true}").status == Status::pass);
  }

  TEST_CASE("without an approvers list anyone but the promoter counts") {
    Fixture f;
    f.decide("ci");
    CHECK(f.judge("").status == Status::pending);
    f.decide("someone");
    CHECK(f.judge("").status == Status::pass);
  }

  TEST_CASE("approvals older than valid_for have expired") {
    Fixture f;
    f.decide("alice", true, 30h);
    Verdict verdict = f.judge("{approvers: [alice], valid_for: 1d}");
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.details["ignored"][0]["why"] == "older than valid_for");
    CHECK(f.judge("{approvers: [alice], valid_for: 2d}").status == Status::pass);
  }

  TEST_CASE("a rejection blocks, and a later approval by the same person lifts it") {
    Fixture f;
    f.decide("alice");
    f.decide("bob", false, 2h);
    Verdict verdict = f.judge("{approvers: [alice, bob]}");
    CHECK(verdict.status == Status::fail);
    CHECK(verdict.summary == "rejected by bob (not now)");
    f.decide("bob", true, 1h);
    CHECK(f.judge("{approvers: [alice, bob]}").status == Status::pass);
  }

  TEST_CASE(
      "a rejection by someone who is not an approver does not block; an approver's own "
      "rejection does") {
    Fixture f;
    f.actor = "alice";
    f.decide("bob");
    f.decide("mallory", false);
    Verdict verdict = f.judge("{approvers: [alice, bob]}");
    CHECK(verdict.status == Status::pass);
    REQUIRE(verdict.details["ignored"].size() == 1);
    CHECK(verdict.details["ignored"][0]["actor"] == "mallory");
    CHECK(verdict.details["ignored"][0]["why"] ==
          "not among the approvers, whose rejections alone count");
    CHECK(verdict.details["rejections"].empty());
    // Without an approvers list anyone may approve, so anyone's rejection counts; and the
    // promoting actor's own rejection counts even where their approval would not.
    CHECK(f.judge("").status == Status::fail);
    f.decide("alice", false);
    CHECK(f.judge("{approvers: [alice, bob]}").summary == "rejected by alice (not now)");
  }

  TEST_CASE("quorum: 1 of leads and 2 of sre, each person filling one seat") {
    Fixture f;
    const std::string rules =
        "{groups: {leads: [erin, carol], sre: [carol, dave, frank]}, quorum: {leads: 1, sre: 2}}";
    f.decide("carol");
    f.decide("dave");
    Verdict verdict = f.judge(rules);
    // carol is in both groups but fills one seat: still one short.
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary.find("needs 1 more of ") != std::string::npos);
    f.decide("erin");
    verdict = f.judge(rules);
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.summary == "3 approvals (carol, dave, erin)");
  }

  TEST_CASE("quorum seats are filled the way that fits, whatever the order") {
    Fixture f;
    // carol could fill leads or sre; erin only leads. carol must take sre.
    f.decide("carol");
    f.decide("erin");
    f.decide("dave");
    CHECK(f.judge("{groups: {leads: [carol, erin], sre: [carol, dave]}, quorum: {leads: 1, sre: 2}}")
              .status == Status::pass);
  }

  TEST_CASE("min above the quorum's seats asks for more approvers from the approvers list") {
    Fixture f;
    f.decide("carol");
    const std::string rules =
        "{approvers: [alice, sre], groups: {sre: [carol, dave]}, quorum: {sre: 1}, min: 2}";
    Verdict verdict = f.judge(rules);
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary.find("needs 1 more of alice, dave") != std::string::npos);
    f.decide("alice");
    CHECK(f.judge(rules).status == Status::pass);
  }

  TEST_CASE("unreadable approvals are an error, never a pass") {
    Fixture f;
    CHECK(f.judge("{approvers: [alice]}", false).status == Status::error);
    f.book.failure = promote::make_error(promote::ErrorKind::input, "disk on fire");
    const Verdict verdict = f.judge("{approvers: [alice]}");
    CHECK(verdict.status == Status::error);
    CHECK(verdict.summary == "disk on fire");
  }

  TEST_CASE("bad configuration is reported with its position") {
    CHECK(errors("{approvers: [alice], mni: 1}").at(0) ==
          "promote.yaml:1:22: unknown field 'mni' in gate 'approval' (did you mean 'min'?)");
    CHECK(errors("{approvers: [alice], min: 0}").at(0) ==
          "promote.yaml:1:27: 'min' must be at least 1, got 0");
    CHECK(errors("{approvers: [alice], min: 2}").at(0) ==
          "promote.yaml:1:13: 'approvers' names 1 people, fewer than the 2 approvals needed");
    CHECK(errors("{quorum: {sre: 1}}").at(0) ==
          "promote.yaml:1:11: quorum names group 'sre', which 'groups' does not define");
    CHECK(errors("{groups: {sre: [a]}, quorum: {sre: 2}}").at(0) ==
          "promote.yaml:1:36: quorum.sre must be between 1 and 1 (the people in the group), got 2");
    CHECK(errors("{groups: {sre: [a, b]}, quorum: {sre: 2}, min: 1}").at(0) ==
          "promote.yaml:1:48: 'min' (1) is less than the quorum's 2 seats");
    CHECK(errors("{approvers: {alice: 1}}").size() == 1);
    CHECK(errors("{valid_for: soon}").size() == 1);
    CHECK(errors("{allow_self: maybe}").size() == 1);
  }

  TEST_CASE("the configuration is recorded with its defaults") {
    promote::pipeline::Diagnostics diagnostics;
    YAML::Node node = YAML::Load("{approvers: [alice, bob]}");
    auto gate = promote::gates::make_approval(
        promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics));
    REQUIRE(gate);
    CHECK(gate->config() == nlohmann::json{{"approvers", {"alice", "bob"}},
                                           {"min", 1},
                                           {"valid_for", "7d"},
                                           {"allow_self", false}});
  }
}
