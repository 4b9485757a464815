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
      where += step.in_array ? "[" + std::to_string(step.index) + "]" : "." + std::string(step.key);
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

  TEST_CASE("stream_json fails on malformed text as nlohmann's whole-document parser does") {
    Recorder recorder;
    const std::string text = "{\"take\": 1,\n \"b\": tru}";
    auto streamed = promote::gates::stream_json(text, "t.json", recorder);
    REQUIRE_FALSE(streamed.has_value());
    try {
      const nlohmann::json parsed = nlohmann::json::parse(text);
      FAIL("nlohmann's parser read " << parsed.dump());
    } catch (const nlohmann::json::parse_error& error) {
      CHECK(error.byte == 22);
      CHECK(std::string(error.what())
                .ends_with("syntax error while parsing value - invalid "
                           "literal; last read: '\"b\": tru}'"));
    }
    CHECK(streamed.error().message ==
          "t.json:2:10: malformed JSON at byte 22: syntax error while parsing value - invalid "
          "literal; last read: '\"b\": tru}'");
    Recorder empty;
    auto blank = promote::gates::stream_json(" \n", "t.json", empty);
    REQUIRE_FALSE(blank.has_value());
    CHECK(blank.error().message == "t.json: the file is empty");
  }

  TEST_CASE("stream_json checks the values it reads past as nlohmann's parser would") {
    const auto error = [](const std::string& text) {
      Recorder recorder;
      auto streamed = promote::gates::stream_json(text, "t.json", recorder);
      return streamed ? std::string("(read)") : streamed.error().message;
    };
    SUBCASE("a bad literal, a missing comma, a bad escape in a string or a key") {
      CHECK(error(R"({"skip": {"x": [1, tru]}})") ==
            "t.json:1:23: malformed JSON at byte 23: syntax error while parsing value - invalid "
            "literal; last read: '1, tru]'");
      CHECK(error(R"({"skip": [1 2]})") ==
            "t.json:1:13: malformed JSON at byte 13: syntax error while parsing array - unexpected "
            "number literal; expected ']'");
      CHECK(error(R"({"skip": "a\x"})") ==
            "t.json:1:13: malformed JSON at byte 13: syntax error while parsing value - invalid "
            "string: forbidden character after backslash; last read: '\"a\\x'");
      CHECK(error(R"({"skip": {"\ud800": 1}})") ==
            "t.json:1:18: malformed JSON at byte 18: syntax error while parsing object key - "
            "invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last "
            "read: '\"\\ud800\"'; expected string literal");
    }
    SUBCASE("a number beyond a double, text after the document") {
      // Found by fuzzing: text after a string at the root was not seen.
      CHECK(error("\"s\"\"t\"") ==
            "t.json:1:6: malformed JSON at byte 6: syntax error while parsing value - unexpected "
            "string literal; expected end of input");
      CHECK(error(R"({"skip": [1e630]})") ==
            "t.json: [json.exception.out_of_range.406] number overflow parsing '1e630'");
      CHECK(error(R"({"take": 1} {})") ==
            "t.json:1:13: malformed JSON at byte 13: syntax error while parsing value - unexpected "
            "'{'; expected end of input");
    }
    SUBCASE("nesting deeper than 512 levels, named where it starts") {
      const std::string deep = "{\"skip\": " + std::string(600, '[') + std::string(600, ']') + "}";
      CHECK(error(deep) == "t.json:1:521: the JSON nests more than 512 levels deep");
      const std::string at_limit =
          "{\"skip\": " + std::string(511, '[') + std::string(511, ']') + "}";
      CHECK(error(at_limit) == "(read)");
    }
    SUBCASE(
        "a number nlohmann reads and simdjson does not, a control character after a "
        "literal at the root (found by fuzzing)") {
      CHECK(error(R"({"skip": [0e99999999999999999999], "take": -0e99999999999999999999})") ==
            "(read)");
      CHECK(error("false\v") ==
            "t.json:1:6: malformed JSON at byte 6: syntax error while parsing value - invalid "
            "literal; last read: 'false<U+000B>'; expected end of input");
    }
    SUBCASE("a NUL byte ends the text, as it does for nlohmann's parser (found by fuzzing)") {
      CHECK(error(std::string("{\"take\": 1}\0{", 13)) == "(read)");
      CHECK(error(std::string("\"s\"\0\"", 5)) == "(read)");
      CHECK(error(std::string("{\"take\": \"a\0b\"}", 16)) ==
            "t.json:1:12: malformed JSON at byte 12: syntax error while parsing value - invalid "
            "string: control character U+0000 (NUL) must be escaped to \\u0000; last read: "
            "'\"a<U+0000>'");
    }
    SUBCASE("a byte order mark before the document, escapes in keys and strings") {
      Recorder recorder;
      REQUIRE(promote::gates::stream_json("\xEF\xBB\xBF{\"t\\u0061ke\": \"\\u00e9\\n\", "
                                          "\"skip\": {\"\\ud83d\\ude00\": \"\\\"\"}}",
                                          "t.json", recorder)
                  .has_value());
      CHECK(recorder.seen == std::vector<std::string>{".take=\"\u00e9\\n\""});
    }
  }

  TEST_CASE("stream_json reads a text followed by its padding where it is, as it reads a copy") {
    const std::string text = R"({"a": [{"take": {"x": [1, {"y": null}]}}, "s", -0.5e3],)"
                             R"( "take": "s\u0041", "b": {"take": 18446744073709551616}})";
    std::string padded = text + std::string(promote::gates::k_json_padding, '\0');
    Recorder in_place;
    Recorder copied;
    REQUIRE(promote::gates::stream_json(std::string_view(padded).substr(0, text.size()), "t.json",
                                        in_place, promote::gates::k_json_padding)
                .has_value());
    REQUIRE(promote::gates::stream_json(text, "t.json", copied).has_value());
    CHECK(in_place.seen == copied.seen);
    CHECK(in_place.seen == std::vector<std::string>{R"(.a[0].take={"x":[1,{"y":null}]})",
                                                    R"(.take="sA")",
                                                    ".b.take=1.8446744073709552e+19"});
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
