#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gates/security_policy.hpp"
#include "gates/trivy.hpp"

namespace {

using promote::gates::JsonAction;
using promote::gates::JsonKind;
using promote::gates::JsonStep;
using promote::gates::parse_trivy;

std::string error_of(const std::string& json) {
  auto report = parse_trivy(json, "trivy.json");
  return report ? std::string("(parsed)") : report.error().message;
}

// Captures the values at depth `depth` whose last key is `key`, skips everything else that
// is not on the way there, and records what it saw.
class Recorder : public promote::gates::JsonStreamHandler {
 public:
  JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) override {
    if (!path.empty() && !path.back().in_array && path.back().key == "take") {
      return JsonAction::capture;
    }
    if (!path.empty() && !path.back().in_array && path.back().key == "skip") {
      return JsonAction::skip;
    }
    return kind == JsonKind::scalar ? JsonAction::skip : JsonAction::descend;
  }
  void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) override {
    std::string where;
    for (const JsonStep& step : path) {
      where += step.in_array ? "[" + std::to_string(step.index) + "]" : "." + step.key;
    }
    seen.push_back(where + "=" + value.dump());
  }
  void on_end(const std::vector<JsonStep>& path) override { ends += path.size(); }

  std::vector<std::string> seen;
  std::size_t ends = 0;
};

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("stream_json hands over the values asked for, whole, with their paths") {
    Recorder recorder;
    const std::string text =
        R"({"a": [{"take": {"x": [1, {"y": null}]}}, {"skip": [[[{"take": 1}]]]}, 3],)"
        R"( "take": "s", "b": {"take": 2.5}})";
    REQUIRE(promote::gates::stream_json(text, "t.json", recorder).has_value());
    CHECK(recorder.seen == std::vector<std::string>{R"(.a[0].take={"x":[1,{"y":null}]})",
                                                    R"(.take="s")", ".b.take=2.5"});
    CHECK(recorder.ends == 0 + 1 + 2 + 2 + 1);  // root, a, a[0], a[1], b
  }

  TEST_CASE("stream_json fails on malformed text as the whole-document parser does") {
    Recorder recorder;
    auto streamed = promote::gates::stream_json("{\"take\": 1,\n \"b\": tru}", "t.json", recorder);
    auto whole = promote::gates::parse_json_text("{\"take\": 1,\n \"b\": tru}", "t.json");
    REQUIRE_FALSE(streamed.has_value());
    REQUIRE_FALSE(whole.has_value());
    CHECK(streamed.error().message == whole.error().message);
    CHECK(streamed.error().message.starts_with("t.json:2:"));
    Recorder empty;
    auto blank = promote::gates::stream_json(" \n", "t.json", empty);
    REQUIRE_FALSE(blank.has_value());
    CHECK(blank.error().message == "t.json: the file is empty");
  }

  TEST_CASE("the streamed Trivy reader answers as a reader of the whole document, in any key order") {
    SUBCASE("a Target after its lists still names the file of misconfigurations and secrets") {
      auto report = parse_trivy(R"({"Results": [{"Secrets": [{"RuleID": "aws-key",
          "Severity": "HIGH", "Match": "x"}], "Misconfigurations": [{"ID": "KSV001",
          "Status": "FAIL", "Severity": "LOW"}, {"ID": "KSV002", "Status": "PASS",
          "Severity": "LOW"}], "Target": "deploy.yaml"}]})",
                                "trivy.json");
      REQUIRE(report.has_value());
      REQUIRE(report->findings.size() == 2);
      CHECK(report->findings[0].id == "KSV001");  // misconfigurations before secrets
      CHECK(report->findings[0].package == "deploy.yaml");
      CHECK(report->findings[1].id == "aws-key");
      CHECK(report->findings[1].package == "deploy.yaml");
    }
    SUBCASE("a repeated key counts once, with its last value") {
      auto report = parse_trivy(R"({"Results": [{"Vulnerabilities": [{"VulnerabilityID": "A",
          "Severity": "LOW"}], "Vulnerabilities": [{"VulnerabilityID": "B",
          "Severity": "HIGH", "Severity": "CRITICAL"}]}]})",
                                "trivy.json");
      REQUIRE(report.has_value());
      REQUIRE(report->findings.size() == 1);
      CHECK(report->findings[0].id == "B");
      CHECK(report->findings[0].severity == promote::gates::Severity::critical);
    }
    SUBCASE("the root's errors come before the results', wherever they are written") {
      CHECK(error_of(R"({"Results": [{"Vulnerabilities": [{"Severity": "LOW"}]}],
          "SchemaVersion": 3})") == "trivy.json: unsupported Trivy SchemaVersion 3 (expected 2)");
      CHECK(error_of(R"({"Results": [{"Secrets": [7]}], "ArtifactType": 1})") ==
            "trivy.json: ArtifactType must be a string, got number");
    }
    SUBCASE("within a result: Target, then the lists in the order vulnerabilities, "
            "misconfigurations, secrets") {
      CHECK(error_of(R"({"Results": [{"Secrets": [{"RuleID": 7}],
          "Vulnerabilities": [{"Severity": "LOW"}]}]})") ==
            "trivy.json: Results[0].Vulnerabilities[0] has no VulnerabilityID");
      CHECK(error_of(R"({"Results": [{"Secrets": [3], "Target": ["x"]}]})") ==
            "trivy.json: Results[0].Target must be a string, got array");
      CHECK(error_of(R"({"Results": [{"Secrets": [{"RuleID": "r"}, 3]}, {"Secrets": 4}]})") ==
            "trivy.json: Results[0].Secrets[1] must be an object, got number");
      CHECK(error_of(R"({"Results": [{"Target": "a"}, 5]})") ==
            "trivy.json: Results[1] must be an object, got number");
    }
    SUBCASE("malformed JSON after a wrong shape is reported as malformed") {
      CHECK(error_of("{\"Results\": [{\"Secrets\": [7]}], \"x\": }").starts_with(
          "trivy.json:1:38: malformed JSON at byte 38:"));
    }
    SUBCASE("members a reader does not look at are read past, whatever they hold") {
      auto report = parse_trivy(R"({"SchemaVersion": 2, "Metadata": {"Results": 5},
          "Results": [{"Target": "t", "Packages": [{"Vulnerabilities": 1}],
          "Vulnerabilities": [{"VulnerabilityID": "A", "Severity": "LOW",
          "References": [[{"ID": 5}]], "CVSS": {"nvd": {"V3Score": 9.8}}}]}]})",
                                "trivy.json");
      REQUIRE(report.has_value());
      REQUIRE(report->findings.size() == 1);
      CHECK(report->findings[0].package == "");
      CHECK_FALSE(report->empty);
    }
  }
}
