#include <doctest/doctest.h>

#include <map>
#include <string>

#include "gates/grype.hpp"
#include "tests/gates/scan_counts.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::test::fixable;
using promote::test::tally;

using promote::ErrorKind;
using promote::gates::parse_grype;
using promote::gates::ScanReport;
using promote::gates::Severity;
namespace fs = std::filesystem;

std::string error_of(const std::string& json) {
  return promote::test::error_of(promote::gates::parse_grype, json, "grype.json");
}

}  // namespace

TEST_SUITE("gates") {
  struct GrypeCase {
    const char* file;
    const char* findings;  ///< critical/high/medium/low/unknown, each match
    const char* unique;    ///< the same, each vulnerability id once
    long long fixable;
    bool empty;
  };

  const GrypeCase k_grype[] = {
      // CVE-2023-28755 in ruby-3.0 (fixed) and uri (state unknown), GHSA-hv5j-3h9f-99c2 (fixed)
      {"chainguard-ruby-high.json", "0/3/0/0/0", "0/2/0/0/0", 2, false},
      // CVE-2020-12413 in six nss/nspr rpms, all wont-fix
      {"keycloak-image-by-digest.json", "0/0/0/6/0", "0/0/0/1/0", 0, false},
      // "matches": [] and source type "unknown": nothing was scanned
      {"presenter-empty-matches.json", "0/0/0/0/0", "0/0/0/0/0", 0, true},
      // CVE-1999-0001 Low (fixed), CVE-1999-0002 Critical (state "")
      {"presenter-image-low-critical.json", "1/0/0/1/0", "1/0/0/1/0", 1, false},
  };

  TEST_CASE("every Grype file of the corpus gives its counts" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "security" / "grype";
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      (void)entry;
      ++seen;
    }
    CHECK(seen == std::size(k_grype));
    for (const GrypeCase& item : k_grype) {
      CAPTURE(item.file);
      auto report = parse_grype(promote::test::read_text(dir / item.file), item.file);
      REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
      CHECK(tally(*report, false) == item.findings);
      CHECK(tally(*report, true) == item.unique);
      CHECK(fixable(*report) == item.fixable);
      CHECK(report->empty == item.empty);
    }
  }

  TEST_CASE("a Grype image scan names the image and the package of each match" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "security" / "grype";
    auto report = parse_grype(promote::test::read_text(dir / "keycloak-image-by-digest.json"),
                              "keycloak.json");
    REQUIRE(report.has_value());
    CHECK(report->findings[0].id == "CVE-2020-12413");
    CHECK(report->findings[0].package == "nspr");
    CHECK(report->findings[0].image ==
          "docker.io/keycloak/keycloak:21.0.2@sha256:"
          "347a0d748d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50");
  }

  TEST_CASE("Grype: ignoredMatches do not count, Negligible is low, a clean image is not empty") {
    auto report = parse_grype(R"({"source": {"type": "image", "target": "alpine:3"},
        "matches": [{"vulnerability": {"id": "CVE-1", "severity": "Negligible",
                     "fix": {"state": "not-fixed"}}, "artifact": {"name": "zlib"}}],
        "ignoredMatches": [{"vulnerability": {"id": "CVE-2", "severity": "Critical"}}]})",
                              "grype.json");
    REQUIRE(report.has_value());
    REQUIRE(report->findings.size() == 1);
    CHECK(report->findings[0].severity == Severity::low);
    CHECK(report->findings[0].image == "alpine:3");
    CHECK_FALSE(report->findings[0].fixable);
    auto clean = parse_grype(R"({"source": {"type": "image"}, "matches": []})", "grype.json");
    REQUIRE(clean.has_value());
    CHECK_FALSE(clean->empty);
    auto nothing = parse_grype(R"({"matches": []})", "grype.json");
    REQUIRE(nothing.has_value());
    CHECK(nothing->empty);
  }

  TEST_CASE("the streamed Grype reader answers as a reader of the whole document") {
    SUBCASE("the source after the matches still names the image; ignored matches are counted") {
      auto report = parse_grype(R"({"matches": [{"vulnerability": {"id": "CVE-1"}}],
          "ignoredMatches": [{"x": [1]}, 2], "source": {"type": "image", "target":
          {"userInput": "alpine:3"}}})",
                                "grype.json");
      REQUIRE(report.has_value());
      REQUIRE(report->findings.size() == 1);
      CHECK(report->findings[0].image == "alpine:3");
      auto ignored_only = parse_grype(R"({"matches": [], "ignoredMatches": [{}]})", "grype.json");
      REQUIRE(ignored_only.has_value());
      CHECK_FALSE(ignored_only->empty);
    }
    SUBCASE("a repeated key counts once, with its last value") {
      auto report = parse_grype(R"({"matches": [{"vulnerability": {"id": "A"}}, 5],
          "matches": [{"vulnerability": {"id": "B", "severity": "High"}}],
          "ignoredMatches": [{}], "ignoredMatches": []})",
                                "grype.json");
      REQUIRE(report.has_value());
      REQUIRE(report->findings.size() == 1);
      CHECK(report->findings[0].id == "B");
      auto nothing = parse_grype(R"({"matches": [{"vulnerability": {"id": "A"}}], "matches": [],
          "ignoredMatches": [{}], "ignoredMatches": []})",
                                 "grype.json");
      REQUIRE(nothing.has_value());
      CHECK(nothing->empty);
    }
    SUBCASE("the root's errors come before the matches', wherever they are written") {
      CHECK(error_of(R"({"matches": [3], "source": {"type": 1}})") ==
            "grype.json: source.type must be a string, got number");
      CHECK(error_of(R"({"matches": [{"vulnerability": {}}, 3], "ignoredMatches": {}})") ==
            "grype.json: ignoredMatches must be a list, got object");
      CHECK(error_of(R"({"matches": [{"artifact": 1}, {"vulnerability": []}]})") ==
            "grype.json: matches[0] has no vulnerability");
    }
  }

  TEST_CASE("a Grype report of the wrong shape is refused clearly") {
    // Found by fuzzing: a number beyond a double threw out_of_range past the parse_error catch.
    CHECK(error_of(R"({"x": 1e630})") ==
          "grype.json: [json.exception.out_of_range.406] number overflow parsing '1e630'");
    CHECK(error_of("42") == "grype.json: not a Grype JSON report: expected an object, got number");
    CHECK(error_of(R"({"SchemaVersion": 2})") ==
          "grype.json: not a Grype JSON report: no 'matches' list");
    CHECK(error_of(R"({"matches": [{"artifact": {}}]})") ==
          "grype.json: matches[0] has no vulnerability");
    CHECK(error_of(R"({"matches": [{"vulnerability": {"id": "A", "severity": "Severe"}}]})") ==
          "grype.json: matches[0].vulnerability.severity must be Critical, High, Medium, Low, "
          "Negligible or Unknown, got \"Severe\"");
    CHECK(error_of(R"({"matches": [{"vulnerability": {"id": "A", "fix": []}}]})") ==
          "grype.json: matches[0].vulnerability.fix must be an object, got array");
    CHECK(error_of("{\"matches\": [}") ==
          "grype.json:1:14: malformed JSON at byte 14: syntax error while parsing value - "
          "unexpected '}'; expected '[', '{', or a literal");
  }
}
