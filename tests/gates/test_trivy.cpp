#include <doctest/doctest.h>

#include <map>
#include <string>

#include "gates/trivy.hpp"
#include "tests/gates/scan_counts.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::test::fixable;
using promote::test::tally;

using promote::ErrorKind;
using promote::gates::parse_trivy;
using promote::gates::ScanReport;
using promote::gates::Severity;
namespace fs = std::filesystem;

std::string error_of(const std::string& json) {
  return promote::test::error_of(promote::gates::parse_trivy, json, "trivy.json");
}

}  // namespace

TEST_SUITE("gates") {
  struct TrivyCase {
    const char* file;
    const char* findings;  ///< critical/high/medium/low/unknown, each finding
    const char* unique;    ///< the same, each id once
    long long fixable;
    bool empty;
  };

  // Counts from reading each file (SOURCES.md describes them).
  const TrivyCase k_trivy[] = {
      // CVE-2019-1549/1551 in libcrypto and libssl (MEDIUM), CVE-2019-14697 in musl and
      // musl-utils (CRITICAL); all fixed
      {"alpine-39-critical-medium.json", "2/0/4/0/0", "1/0/2/0/0", 6, false},
      // no Results key: nothing was scanned
      {"alpine-39-skip-no-results.json", "0/0/0/0/0", "0/0/0/0/0", 0, true},
      {"fluentd-gems-critical-high-os-and-lang.json", "1/1/0/0/0", "1/1/0/0/0", 2, false},
      // GMS-2022-20 three times (UNKNOWN), CVE-2021-38561 (UNKNOWN), CVE-2022-23628 (MEDIUM)
      {"gomod-unknown-severity.json", "0/0/1/0/4", "0/0/1/0/2", 5, false},
      // six FAIL misconfigurations in templates/deployment.yaml
      {"helm-testchart-misconfig.json", "0/1/3/2/0", "0/1/3/2/0", 6, false},
      {"secrets.json", "1/1/0/0/0", "1/1/0/0/0", 2, false},
      // one os-pkgs Result without Vulnerabilities: scanned and clean
      {"sl-micro-rancher-clean-image.json", "0/0/0/0/0", "0/0/0/0/0", 0, false},
      {"terraform-critical-misconfig.json", "1/0/0/1/0", "1/0/0/1/0", 2, false},
      // bash LOW will_not_fix without FixedVersion; setuptools HIGH fixed
      {"ubi-7-comprehensive-high-low.json", "0/1/0/1/0", "0/1/0/1/0", 1, false},
  };

  TEST_CASE("every Trivy file of the corpus gives its counts" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "security" / "trivy";
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      (void)entry;
      ++seen;
    }
    CHECK(seen == std::size(k_trivy));
    for (const TrivyCase& item : k_trivy) {
      CAPTURE(item.file);
      auto report = parse_trivy(promote::test::read_text(dir / item.file), item.file);
      REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
      CHECK(tally(*report, false) == item.findings);
      CHECK(tally(*report, true) == item.unique);
      CHECK(fixable(*report) == item.fixable);
      CHECK(report->empty == item.empty);
    }
  }

  TEST_CASE("a Trivy container image report names the image on each finding" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path dir = *promote::test::corpus_dir() / "security" / "trivy";
    auto report = parse_trivy(promote::test::read_text(dir / "alpine-39-critical-medium.json"),
                              "alpine.json");
    REQUIRE(report.has_value());
    CHECK(report->findings[4].id == "CVE-2019-14697");
    CHECK(report->findings[4].package == "musl");
    CHECK(report->findings[4].image == "testdata/fixtures/images/alpine-39.tar.gz");
    auto repo = parse_trivy(promote::test::read_text(dir / "secrets.json"), "secrets.json");
    REQUIRE(repo.has_value());
    CHECK(repo->findings[0].id == "aws-access-key-id");
    CHECK(repo->findings[0].package == "deploy.sh");
    CHECK(repo->findings[0].image.empty());
  }

  TEST_CASE("Trivy severity comes from Severity, else VendorSeverity, else unknown") {
    const auto severity_of = [](const std::string& vulnerability) {
      auto report = parse_trivy(
          R"({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [)" + vulnerability + "]}]}",
          "trivy.json");
      REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
      REQUIRE(report->findings.size() == 1);
      return report->findings[0].severity;
    };
    CHECK(severity_of(R"({"VulnerabilityID": "A", "Severity": "HIGH",
                          "VendorSeverity": {"nvd": 4}})") == Severity::high);
    CHECK(severity_of(R"({"VulnerabilityID": "A", "SeveritySource": "redhat",
                          "VendorSeverity": {"nvd": 4, "redhat": 1}})") == Severity::low);
    CHECK(severity_of(R"({"VulnerabilityID": "A",
                          "VendorSeverity": {"nvd": 2, "ghsa": 3, "x": 0}})") == Severity::high);
    CHECK(severity_of(R"({"VulnerabilityID": "A"})") == Severity::unknown);
  }

  TEST_CASE("Trivy fixability: a FixedVersion or Status fixed") {
    auto report = parse_trivy(R"({"Results": [{"Vulnerabilities": [
        {"VulnerabilityID": "A", "Severity": "LOW", "FixedVersion": "1.2"},
        {"VulnerabilityID": "B", "Severity": "LOW", "Status": "fixed"},
        {"VulnerabilityID": "C", "Severity": "LOW", "Status": "affected", "FixedVersion": ""},
        {"VulnerabilityID": "D", "Severity": "LOW", "Status": "will_not_fix"}]},
        {"Misconfigurations": [{"ID": "KSV-1", "Severity": "HIGH", "Status": "PASS"}]}]})",
                              "trivy.json");
    REQUIRE(report.has_value());
    REQUIRE(report->findings.size() == 4);
    CHECK(report->findings[0].fixable);
    CHECK(report->findings[1].fixable);
    CHECK_FALSE(report->findings[2].fixable);
    CHECK_FALSE(report->findings[3].fixable);
  }

  TEST_CASE("a Trivy report of the wrong shape is refused clearly") {
    CHECK(error_of("[1]") == "trivy.json: not a Trivy JSON report: expected an object, got array");
    CHECK(error_of(R"({"matches": []})") ==
          "trivy.json: not a Trivy JSON report: no SchemaVersion, ArtifactName or Results");
    CHECK(error_of(R"({"SchemaVersion": 1})") ==
          "trivy.json: unsupported Trivy SchemaVersion 1 (expected 2)");
    CHECK(error_of(R"({"Results": {}})") == "trivy.json: Results must be a list, got object");
    CHECK(error_of(R"({"Results": [{"Vulnerabilities": [{"Severity": "LOW"}]}]})") ==
          "trivy.json: Results[0].Vulnerabilities[0] has no VulnerabilityID");
    CHECK(error_of(R"({"Results": [{"Vulnerabilities": [{"VulnerabilityID": "A",
          "Severity": "SEVERE"}]}]})") ==
          "trivy.json: Results[0].Vulnerabilities[0].Severity must be CRITICAL, HIGH, MEDIUM, "
          "LOW or UNKNOWN, got \"SEVERE\"");
    CHECK(error_of(R"({"Results": [{"Secrets": [{"RuleID": 7}]}]})") ==
          "trivy.json: Results[0].Secrets[0].RuleID must be a string, got number");
    CHECK(error_of("{\"Results\": [") ==
          "trivy.json:1:14: malformed JSON at byte 14: syntax error while parsing value - "
          "unexpected end of input; expected '[', '{', or a literal");
  }
}
