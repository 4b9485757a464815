#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/util/hash.hpp"
#include "gates/security_policy.hpp"
#include "gates/trivy.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::ErrorKind;
using promote::Verdict;
using promote::gates::CountMode;
using promote::gates::Finding;
using promote::gates::judge_findings;
using promote::gates::parse_trivyignore;
using promote::gates::read_security_policy;
using promote::gates::ScanReport;
using promote::gates::SecurityException;
using promote::gates::SecurityPolicy;
using promote::gates::Severity;
using promote::gates::severity_from_name;
using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;
using promote::test::TempDir;
using promote::test::write_text;
using TimePoint = std::chrono::system_clock::time_point;
namespace fs = std::filesystem;

// 2027-01-15T08:00:00Z, the fake timeline's default clock.
const TimePoint k_now = TimePoint(std::chrono::seconds(1'800'000'000));

std::chrono::sys_days day(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days(std::chrono::year_month_day{
      std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)});
}

Finding finding(std::string id, Severity severity, bool fixable = true, std::string package = "pkg",
                std::string image = "") {
  return Finding{std::move(id), std::move(package), severity, fixable, std::move(image)};
}

SecurityPolicy policy_max(std::initializer_list<std::pair<Severity, long long>> limits) {
  SecurityPolicy policy;
  policy.reports = {"report.json"};
  for (const auto& [severity, limit] : limits) {
    policy.max[static_cast<std::size_t>(severity)] = limit;
  }
  return policy;
}

SecurityException exception(std::string id, std::optional<std::chrono::sys_days> expires,
                            std::string package = "", std::string image = "") {
  return SecurityException{
      std::move(id),      "accepted risk",    "alice", expires, std::move(image),
      std::move(package), "promote.yaml:9:11"};
}

Verdict judge(const SecurityPolicy& policy, std::vector<Finding> findings,
              std::vector<SecurityException> ignore = {}) {
  ScanReport report;
  report.findings = std::move(findings);
  return judge_findings(policy, report, ignore, k_now);
}

std::string status(const Verdict& verdict) {
  return promote::to_string(verdict.status);
}

std::optional<SecurityPolicy> read(const std::string& yaml, Diagnostics& diagnostics) {
  const ConfigNode with(YAML::Load(yaml), "promote.yaml", diagnostics);
  return read_security_policy(with, "trivy");
}

std::string problems(const std::string& yaml) {
  Diagnostics diagnostics;
  CHECK_FALSE(read(yaml, diagnostics).has_value());
  return diagnostics.to_error().message;
}

// A trivy gate configured by `with` (YAML), judging the files of `dir` for prod (from staging)
// on a clock the test sets.
struct TrivyGate {
  TempDir dir;
  promote::test::FakeTimeline timeline;
  std::unique_ptr<promote::Gate> gate;

  explicit TrivyGate(const std::string& with) {
    Diagnostics diagnostics;
    const ConfigNode config(YAML::Load(with), "promote.yaml", diagnostics);
    gate = promote::gates::make_trivy(config);
    REQUIRE_MESSAGE(gate != nullptr, diagnostics.to_error().message);
  }

  Verdict run() {
    const promote::Candidate candidate;
    const promote::GateContext context{candidate, "prod", "staging", dir.path(), timeline};
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, gate->evaluate(context), boost::asio::use_future);
    io.run();
    return future.get();
  }
};

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("severity names are read case-insensitively") {
    CHECK(severity_from_name("CRITICAL") == Severity::critical);
    CHECK(severity_from_name("High") == Severity::high);
    CHECK(severity_from_name("medium") == Severity::medium);
    CHECK(severity_from_name("LOW") == Severity::low);
    CHECK(severity_from_name("UNKNOWN") == Severity::unknown);
    CHECK_FALSE(severity_from_name("Negligible").has_value());
    CHECK_FALSE(severity_from_name("").has_value());
  }

  TEST_CASE("thresholds: the verdict fails naming every threshold broken, worst first") {
    const SecurityPolicy policy = policy_max({{Severity::critical, 0}, {Severity::high, 2}});
    SUBCASE("two thresholds broken") {
      const Verdict verdict =
          judge(policy, {finding("CVE-1", Severity::high), finding("CVE-2", Severity::high),
                         finding("CVE-3", Severity::high), finding("CVE-4", Severity::critical)});
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "1 critical > max 0; 3 high > max 2");
      CHECK(verdict.details["counts"] ==
            nlohmann::json(
                {{"critical", 1}, {"high", 3}, {"medium", 0}, {"low", 0}, {"unknown", 0}}));
      CHECK(verdict.details["findings_total"] == 4);
      CHECK(verdict.details["findings"][0] ==
            nlohmann::json(
                {{"id", "CVE-1"}, {"package", "pkg"}, {"severity", "high"}, {"fixable", true}}));
    }
    SUBCASE("at the limit passes; severities without a limit never fail") {
      const Verdict verdict =
          judge(policy, {finding("CVE-1", Severity::high), finding("CVE-2", Severity::high),
                         finding("CVE-3", Severity::low), finding("CVE-4", Severity::unknown)});
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary ==
            "0 critical (max 0), 2 high (max 2), 1 low, 1 unknown (unique ids), within max");
    }
    SUBCASE("no findings at all passes") {
      const Verdict verdict = judge(policy, {});
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "no findings counted, within max");
    }
  }

  TEST_CASE("count: unique counts each id once at its worst severity; findings counts each") {
    SecurityPolicy policy = policy_max({{Severity::critical, 0}, {Severity::medium, 1}});
    const std::vector<Finding> findings = {
        finding("CVE-1", Severity::medium, true, "libssl"),
        finding("CVE-1", Severity::critical, true, "libcrypto"),
        finding("CVE-2", Severity::medium, true, "libssl"),
        finding("CVE-2", Severity::medium, true, "libcrypto"),
    };
    SUBCASE("unique") {
      const Verdict verdict = judge(policy, findings);
      CHECK(verdict.summary == "1 critical > max 0");
      CHECK(verdict.details["counts"]["medium"] == 1);
      CHECK(verdict.details["count"] == "unique");
    }
    SUBCASE("findings") {
      policy.count = CountMode::findings;
      const Verdict verdict = judge(policy, findings);
      CHECK(verdict.summary == "1 critical > max 0; 3 medium > max 1");
    }
  }

  TEST_CASE("fixable_only leaves out findings without a fix and says how many") {
    SecurityPolicy policy = policy_max({{Severity::high, 0}});
    policy.fixable_only = true;
    const Verdict verdict = judge(
        policy, {finding("CVE-1", Severity::high, false), finding("CVE-2", Severity::low, true)});
    CHECK(status(verdict) == "pass");
    CHECK(verdict.details["not_fixable_skipped"] == 1);
    CHECK(verdict.details["findings_total"] == 1);
    policy.fixable_only = false;
    CHECK(judge(policy, {finding("CVE-1", Severity::high, false)}).summary == "1 high > max 0");
  }

  TEST_CASE("an empty report is judged by on_empty, never as a pass") {
    SecurityPolicy policy = policy_max({{Severity::critical, 0}});
    ScanReport report;
    report.empty = true;
    for (auto [on_empty, name] :
         {std::pair{Verdict::Status::error, "error"}, std::pair{Verdict::Status::fail, "fail"},
          std::pair{Verdict::Status::pending, "pending"}}) {
      const auto& case_name = name;  // clang 14 cannot capture a structured binding
      CAPTURE(case_name);
      policy.on_empty = on_empty;
      const Verdict verdict = judge_findings(policy, report, {}, k_now);
      CHECK(status(verdict) == name);
      CHECK(verdict.summary ==
            std::string("the report holds no scan results (on_empty: ") + name + ")");
      CHECK(verdict.details["empty"] == true);
    }
  }

  TEST_CASE("exceptions relative to today: active, expiring within warn_before, expired, stale") {
    SecurityPolicy policy = policy_max({{Severity::critical, 0}});
    const std::vector<Finding> findings = {finding("CVE-1", Severity::critical, true, "musl")};
    SUBCASE("an active exception hides the finding: pass") {
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1))};
      const Verdict verdict = judge(policy, findings);
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "no findings counted, within max; 1 accepted by exception");
      CHECK(verdict.details["ignored_total"] == 1);
      CHECK(verdict.details["ignored"][0]["exception"] == "promote.yaml:9:11");
      CHECK(verdict.details["exceptions"][0]["state"] == "active");
      CHECK(verdict.details["exceptions"][0]["matched"] == 1);
    }
    SUBCASE("one expiring within 14 days still applies but warns") {
      policy.exceptions = {exception("CVE-1", day(2027, 1, 29))};
      const Verdict verdict = judge(policy, findings);
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary ==
            "no findings counted, within max; 1 accepted by exception; exceptions expiring soon: "
            "CVE-1 (expires 2027-01-29)");
    }
    SUBCASE("an expiry far in the future applies (no overflow of the clock's range)") {
      for (const auto expires : {day(2262, 4, 12), day(2999, 1, 1), day(9999, 12, 31)}) {
        policy.exceptions = {exception("CVE-1", expires)};
        const Verdict verdict = judge(policy, findings);
        CHECK(status(verdict) == "pass");
        CHECK(verdict.details["exceptions"][0]["state"] == "active");
      }
    }
    SUBCASE("warn_before moves the warning horizon") {
      policy.exceptions = {exception("CVE-1", day(2027, 1, 29))};
      policy.warn_before = std::chrono::days(7);
      CHECK(status(judge(policy, findings)) == "pass");
    }
    SUBCASE("one that expired no longer applies and is named") {
      policy.exceptions = {exception("CVE-1", day(2027, 1, 15))};
      const Verdict verdict = judge(policy, findings);
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary ==
            "1 critical > max 0; exceptions no longer applied: CVE-1 (expired 2027-01-15)");
      CHECK(verdict.details["expired"][0]["id"] == "CVE-1");
    }
    SUBCASE("an expired one whose finding is gone still warns") {
      policy.exceptions = {exception("CVE-9", day(2026, 12, 1))};
      const Verdict verdict = judge(policy, {});
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary ==
            "no findings counted, within max; exceptions no longer applied: CVE-9 (expired "
            "2026-12-01)");
    }
    SUBCASE("one matching nothing is stale: warn, listed in details") {
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1)),
                           exception("CVE-7", day(2027, 6, 1))};
      const Verdict verdict = judge(policy, findings);
      CHECK(status(verdict) == "warn");
      CHECK(verdict.summary ==
            "no findings counted, within max; 1 accepted by exception; stale exceptions (match "
            "nothing): CVE-7");
      CHECK(verdict.details["stale"].size() == 1);
      CHECK(verdict.details["stale"][0]["source"] == "promote.yaml:9:11");
    }
    SUBCASE("a package scope applies only to that package") {
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1), "libssl")};
      const Verdict verdict = judge(policy, findings);
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "1 critical > max 0; stale exceptions (match nothing): CVE-1");
    }
    SUBCASE("an image scope matches the image, with or without tag and digest") {
      const std::vector<Finding> in_image = {
          finding("CVE-1", Severity::critical, true, "musl", "ghcr.io/acme/api:1.2@sha256:ab")};
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1), "", "ghcr.io/acme/api")};
      CHECK(status(judge(policy, in_image)) == "pass");
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1), "", "ghcr.io/acme/web")};
      CHECK(status(judge(policy, in_image)) == "fail");
      policy.exceptions = {exception("CVE-1", day(2027, 6, 1), "", "localhost:5000/api")};
      CHECK(status(judge(policy, {finding("CVE-1", Severity::critical, true, "musl",
                                          "localhost:5000/api:2")})) == "pass");
    }
    SUBCASE(".trivyignore entries without expiry apply forever") {
      const Verdict verdict = judge(policy, findings, {exception("CVE-1", std::nullopt)});
      CHECK(status(verdict) == "pass");
      CHECK(verdict.details["exceptions"][0]["expires"] == nullptr);
    }
  }

  TEST_CASE(".trivyignore lines are an id and an optional exp:YYYY-MM-DD") {
    auto entries = parse_trivyignore(
        "# accepted\nCVE-2019-1549\n\n  CVE-2019-1551 exp:2027-02-01 # until the rebuild\r\n"
        "AVD-KSV-0001 exp:2026-12-31",
        ".trivyignore");
    REQUIRE(entries.has_value());
    REQUIRE(entries->size() == 3);
    CHECK((*entries)[0].id == "CVE-2019-1549");
    CHECK_FALSE((*entries)[0].expires.has_value());
    CHECK((*entries)[0].source == ".trivyignore:2");
    CHECK((*entries)[1].id == "CVE-2019-1551");
    CHECK((*entries)[1].expires == day(2027, 2, 1));
    CHECK((*entries)[2].source == ".trivyignore:5");
    SUBCASE("a malformed expiry names the line and column") {
      auto bad = parse_trivyignore("CVE-1\nCVE-2 exp:2027-02-30\n", ".trivyignore");
      REQUIRE_FALSE(bad.has_value());
      CHECK(bad.error().kind == ErrorKind::input);
      CHECK(bad.error().message ==
            ".trivyignore:2:7: expiry must be exp:YYYY-MM-DD, got 'exp:2027-02-30'");
    }
    SUBCASE("an unknown field is refused") {
      auto bad = parse_trivyignore("CVE-1 until:2027-01-01\n", ".trivyignore");
      REQUIRE_FALSE(bad.has_value());
      CHECK(bad.error().message ==
            ".trivyignore:1:7: unexpected 'until:2027-01-01' (a line is 'ID [exp:YYYY-MM-DD]')");
    }
  }

  TEST_CASE("malformed JSON is an error naming the file, line, column and byte") {
    // What the JSON reader all report parsers share says (gates/report_json.cpp).
    const auto read = promote::gates::parse_trivy;
    SUBCASE("a bad literal") {
      auto result = read("{\n  \"a\": tru\n}", "scan.json", 0);
      REQUIRE_FALSE(result.has_value());
      CHECK(result.error().kind == ErrorKind::input);
      CHECK(result.error().message ==
            "scan.json:2:11: malformed JSON at byte 13: syntax error while parsing value - "
            "invalid literal; last read: '\"a\": tru<U+000A>'");
    }
    SUBCASE("a truncated document") {
      auto result = read("{\"a\": [1, 2", "scan.json", 0);
      REQUIRE_FALSE(result.has_value());
      CHECK(result.error().message ==
            "scan.json:1:12: malformed JSON at byte 12: syntax error while parsing array - "
            "unexpected end of input; expected ']'");
    }
    SUBCASE("an empty file") {
      auto result = read(" \n", "scan.json", 0);
      REQUIRE_FALSE(result.has_value());
      CHECK(result.error().message == "scan.json: the file is empty");
    }
  }

  TEST_CASE("the policy is read from with: and every problem is reported with its position") {
    SUBCASE("a full block") {
      Diagnostics diagnostics;
      auto policy = read(R"(
report: [a.json, b.json]
max: { critical: 0, high: 3 }
fixable_only: true
count: findings
ignore: .trivyignore
warn_before: 7d
on_empty: pending
exceptions:
  - { id: CVE-1, reason: no fix upstream, owner: alice, expires: 2027-03-01, package: musl }
)",
                         diagnostics);
      REQUIRE_MESSAGE(policy.has_value(), diagnostics.to_error().message);
      CHECK(promote::gates::policy_json(*policy) ==
            nlohmann::json::parse(R"({"report": ["a.json", "b.json"],
              "max": {"critical": 0, "high": 3}, "fixable_only": true, "count": "findings",
              "ignore": ".trivyignore", "warn_before": "7d", "on_empty": "pending",
              "exceptions": [{"id": "CVE-1", "reason": "no fix upstream", "owner": "alice",
                "expires": "2027-03-01", "package": "musl", "source": "promote.yaml:10:5"}]})"));
    }
    SUBCASE("defaults") {
      Diagnostics diagnostics;
      auto policy = read("{ report: r.json, max: { critical: 0 } }", diagnostics);
      REQUIRE(policy.has_value());
      CHECK(policy->count == CountMode::unique);
      CHECK_FALSE(policy->fixable_only);
      CHECK(policy->on_empty == Verdict::Status::error);
      CHECK(policy->warn_before == std::chrono::days(14));
    }
    SUBCASE("missing with:") {
      Diagnostics diagnostics;
      const ConfigNode with(YAML::Node(), "promote.yaml", diagnostics);
      CHECK_FALSE(read_security_policy(with, "grype").has_value());
      CHECK(diagnostics.to_error().message.ends_with(
          "gate 'grype' needs 'with: { report: <file>, max: { critical: 0 } }'"));
    }
    SUBCASE("required fields") {
      CHECK(problems("{ count: unique }") ==
            "promote.yaml:1:1: missing required field 'report' in gate 'trivy'\n"
            "promote.yaml:1:1: missing required field 'max' in gate 'trivy'");
    }
    SUBCASE("bad values") {
      CHECK(problems("report: r.json\n"
                     "max: { critcal: 0, high: -1, Low: 2 }\n"
                     "count: each\n"
                     "on_empty: pass\n"
                     "warn_before: soon\n") ==
            "promote.yaml:2:8: unknown severity 'critcal' in 'max' (did you mean 'critical'?)\n"
            "promote.yaml:2:26: 'max.high' must be 0 or more, got '-1'\n"
            "promote.yaml:2:30: unknown severity 'Low' in 'max' (did you mean 'low'?)\n"
            "promote.yaml:3:8: 'count' must be unique or findings, got 'each'\n"
            "promote.yaml:5:14: 'warn_before' must be a duration such as 90s, 5m, 2h or 1d, "
            "got 'soon'\n"
            "promote.yaml:4:11: 'on_empty' must be fail, pending or error, got 'pass'");
    }
    SUBCASE("exceptions need id, reason, owner and a real expiry date") {
      CHECK(problems("report: r.json\nmax: { critical: 0 }\nexceptions:\n"
                     "  - { id: CVE-1, owner: bob, expires: 2027-02-30 }\n"
                     "  - { id: CVE-2, reason: r, owner: o, expires: 2027-01-01, scope: x }\n") ==
            "promote.yaml:4:5: missing required field 'reason' in exception\n"
            "promote.yaml:4:39: 'expires' must be a date YYYY-MM-DD, got '2027-02-30'\n"
            "promote.yaml:5:60: unknown field 'scope' in exception");
    }
  }

  TEST_CASE("the gate reads report and ignore file, records both as evidence, uses the clock") {
    TrivyGate trivy("{ report: trivy.json, max: { critical: 0 }, ignore: .trivyignore }");
    const TempDir& dir = trivy.dir;
    const std::string report =
        R"({"SchemaVersion": 2, "ArtifactName": "ghcr.io/acme/api:1.0",
            "ArtifactType": "container_image", "Results": [{"Target": "x", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-1", "PkgName": "musl", "Severity": "CRITICAL",
             "FixedVersion": "1.2"}]}]})";
    write_text(dir / "trivy.json", report);
    write_text(dir / ".trivyignore", "CVE-1 exp:2027-01-20\n");
    Verdict verdict = trivy.run();
    CHECK(status(verdict) == "warn");
    CHECK(verdict.summary ==
          "no findings counted, within max; 1 accepted by exception; exceptions expiring soon: "
          "CVE-1 (expires 2027-01-20)");
    REQUIRE(verdict.evidence.size() == 2);
    CHECK(verdict.evidence[0].path == "trivy.json");
    CHECK(verdict.evidence[0].sha256 == promote::util::sha256_hex(report));
    CHECK(verdict.evidence[1].path == ".trivyignore");
    CHECK(verdict.details["ignored"][0]["exception"] == ".trivyignore:1");
    CHECK(verdict.details["files"][0]["findings"] == 1);

    trivy.timeline.now_value = TimePoint(day(2027, 1, 20));
    verdict = trivy.run();
    CHECK(status(verdict) == "fail");
    CHECK(verdict.summary ==
          "1 critical > max 0; exceptions no longer applied: CVE-1 (expired 2027-01-20)");

    fs::remove(dir / ".trivyignore");
    verdict = trivy.run();
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary.find(".trivyignore") != std::string::npos);
    CHECK(trivy.gate->config()["ignore"] == ".trivyignore");
  }

  TEST_CASE("a report nested too deep or malformed is an error naming the file and position") {
    TrivyGate trivy("{ report: trivy.json, max: { critical: 0 } }");
    const TempDir& dir = trivy.dir;
    // Malformed before it nests too deep: the depth is what is reported, as before parsing.
    write_text(dir / "trivy.json",
               "{\"Results\": [tru,\n" + std::string(600, '[') + std::string(600, ']') + "]}");
    Verdict verdict = trivy.run();
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary == "trivy.json:2:511: the JSON nests more than 512 levels deep");
    REQUIRE(verdict.evidence.size() == 1);
    write_text(dir / "trivy.json", "{\"Results\": [tru]}");
    verdict = trivy.run();
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary ==
          "trivy.json:1:17: malformed JSON at byte 17: syntax error while parsing value - "
          "invalid literal; last read: '\"Results\": [tru]'");
    // A report whose length is a whole number of pages is read in place to its last byte.
    const std::string head = R"({"Results": [{"Target": ")";
    const std::string tail =
        R"(", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "CRITICAL"}]}]})";
    write_text(dir / "trivy.json",
               head + std::string(4096 - head.size() - tail.size(), 'x') + tail);
    verdict = trivy.run();
    CHECK(verdict.summary == "1 critical > max 0");
  }
}
