// Each gate type end to end: the real promote binary, a real git repository with a bare
// remote, report files and plugin programs written here, the shared corpus, and a real
// Prometheus scraping a real Pushgateway on free 127.0.0.1 ports.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/support/servers/http_script.hpp"
#include "tests/support/servers/prometheus.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

const std::string k_source = PROMOTE_SOURCE_DIR;

// The pipeline every case uses: one image, one first stage `prod` whose gates the case
// supplies (YAML list items indented by six spaces). The first gate's `use:` value is on
// line 14, column 14.
std::string pipeline_with(const std::string& gates) {
  return "apiVersion: promote/v1\n"
         "kind: Pipeline\n"
         "metadata: { name: gates }\n"
         "repository: { url: ., branch: main }\n"
         "images:\n"
         "  - name: api\n"
         "    repository: ghcr.io/acme/api\n"
         "stages:\n"
         "  - name: prod\n"
         "    target:\n"
         "      kustomize: k8s/prod\n"
         "    fail_fast: false\n"
         "    gates:\n" +
         gates;
}

const char* k_kustomization =
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "images:\n"
    "  - name: ghcr.io/acme/api\n"
    "    newTag: 1.0.0\n";

// A scratch GitOps repository holding the pipeline, the given files (path -> content;
// paths under plugins/ are made executable), committed and pushed to a local bare remote.
struct GateRepo {
  promote::test::TempDir dir;
  fs::path remote = dir / "remote.git";
  fs::path repo = dir / "app";

  explicit GateRepo(const std::string& gates, const std::map<std::string, std::string>& files = {}) {
    fs::create_directories(repo / "k8s/prod");
    write_text(repo / "k8s/prod/kustomization.yaml", k_kustomization);
    write_text(repo / "promote.yaml", pipeline_with(gates));
    write_text(repo / ".gitignore", ".promote/\n");
    for (const auto& [path, content] : files) {
      fs::create_directories((repo / path).parent_path());
      write_text(repo / path, content);
      if (path.starts_with("plugins/")) {
        fs::permissions(repo / path, fs::perms::owner_all | fs::perms::group_read |
                                         fs::perms::group_exec | fs::perms::others_read |
                                         fs::perms::others_exec);
      }
    }
    sh("git init -q --bare -b main remote.git && cd app && git init -q -b main && "
       "git config user.name 'Gate CI' && git config user.email ci@gates.example && "
       "git add -A && git commit -q -m init && git remote add origin ../remote.git && "
       "git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args) const {
    args.insert(args.begin(), promote::test::promote_binary().string());
    return promote::test::run(args, repo,
                              {{"GITHUB_ACTOR", ""},
                               {"GITLAB_USER_LOGIN", ""},
                               {"GITHUB_ACTIONS", ""},
                               {"GITLAB_CI", ""},
                               {"PROMOTE_ACTOR", "gate-ci"},
                               {"PROMOTE_HISTORY", ""},
                               {"NO_COLOR", "1"}});
  }

  // `promote --to prod --image api=ghcr.io/acme/api:TAG ... --output json`.
  struct Run {
    int exit_code = -1;
    nlohmann::json doc;
    std::string err;
  };
  Run promote_prod(const std::string& tag = "1.1.0", std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--to", "prod", "--image", "api=ghcr.io/acme/api:" + tag,
                                     "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult result = promote(args);
    auto doc = nlohmann::json::parse(result.out, nullptr, false);
    if (doc.is_discarded()) {
      FAIL("promote printed no JSON (exit " << result.exit_code << ")\nstdout: " << result.out
                                            << "\nstderr: " << result.err);
    }
    return Run{result.exit_code, std::move(doc), result.err};
  }

  std::string remote_head() const { return sh("git --git-dir=remote.git rev-parse main", dir.path()); }
  std::string local_head() const { return sh("git rev-parse HEAD", repo); }
  std::string overlay() const { return read_text(repo / "k8s/prod/kustomization.yaml"); }

  // Nothing was committed, pushed or left changed in the working tree.
  void check_untouched(const std::string& remote_before, const std::string& local_before) const {
    CHECK(remote_head() == remote_before);
    CHECK(local_head() == local_before);
    CHECK(overlay() == k_kustomization);
    CHECK(sh("git status --porcelain", repo) == "");
  }

  // The overlay now holds `tag`, and the remote has the commit the output names.
  void check_promoted(const Run& run, const std::string& tag = "1.1.0") const {
    CHECK(run.exit_code == 0);
    CHECK(run.doc["outcome"] == "promoted");
    CHECK(run.doc["commit"] == remote_head().substr(0, 40));
    CHECK(overlay().find("    newTag: " + tag + "\n") != std::string::npos);
  }
};

using promote::test::contains;

// --- a real Prometheus ------------------------------------------------------------------

// A Pushgateway holding two error-rate series and a Prometheus scraping it every second;
// FAILs the test with the servers' logs when they do not come up.
struct Metrics {
  promote::test::TempDir dir;
  promote::test::PrometheusStack servers{dir.path(),
                                         promote::test::PrometheusStack::Scrape::pushgateway};
  std::string url = servers.url();

  Metrics() {
    if (const std::string why = servers.wait_ready(); !why.empty()) {
      FAIL(why);
    }
    const std::string pushed = servers.push("checkout",
                                            "# TYPE checkout_error_rate gauge\n"
                                            "checkout_error_rate{pod=\"a\"} 0.004\n"
                                            "checkout_error_rate{pod=\"b\"} 0.002\n",
                                            "checkout_error_rate{pod=\"b\"}");
    if (!pushed.empty()) {
      FAIL(pushed);
    }
  }
};

// A gate list with one prometheus gate.
std::string prometheus_gate(const std::string& url, const std::string& query,
                            const std::string& condition, const std::string& more = "") {
  return "      - use: prometheus\n"
         "        name: error-rate\n"
         "        with:\n"
         "          url: " + url + "\n"
         "          query: " + query + "\n"
         "          condition: '" + condition + "'\n"
         "          interval: 1s\n"
         "          timeout: 5s\n" + more;
}

// --- report files ---------------------------------------------------------------------

// Trivy: one HIGH (fixable) and one LOW (no fix) vulnerability in the image.
const char* k_trivy_report = R"({
  "SchemaVersion": 2,
  "ArtifactName": "ghcr.io/acme/api:1.1.0",
  "ArtifactType": "container_image",
  "Results": [{
    "Target": "ghcr.io/acme/api:1.1.0 [debian 12.5]",
    "Class": "os-pkgs",
    "Vulnerabilities": [
      {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "Severity": "HIGH",
       "InstalledVersion": "3.0.11", "FixedVersion": "3.0.14"},
      {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "Severity": "LOW",
       "InstalledVersion": "1.2.13"}
    ]
  }]
})";

// Grype: one Critical match with a fix.
const char* k_grype_report = R"({
  "matches": [{
    "vulnerability": {"id": "CVE-2024-1000", "severity": "Critical",
                      "fix": {"state": "fixed", "versions": ["1.2.0"]}},
    "artifact": {"name": "libfoo", "version": "1.0.0", "type": "deb"}
  }],
  "source": {"type": "image", "target": {"userInput": "ghcr.io/acme/api:1.1.0"}}
})";

// SARIF: one result of a rule with security-severity 9.8 (critical), one warning-level
// result without a score (medium).
const char* k_sarif_report = R"({
  "version": "2.1.0",
  "runs": [{
    "tool": {"driver": {"name": "lint", "rules": [
      {"id": "SQLI", "properties": {"security-severity": "9.8"}},
      {"id": "STYLE"}
    ]}},
    "results": [
      {"ruleId": "SQLI", "level": "error", "message": {"text": "tainted query"},
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/db.c"}}}]},
      {"ruleId": "STYLE", "level": "warning", "message": {"text": "long line"},
       "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/ui.c"}}}]}
    ]
  }]
})";

std::string two_digits(long long n) {
  return (n < 10 ? "0" : "") + std::to_string(n);
}

// "HH:00" `hours` hours from now, on the UTC wall clock (24:00 written 00:00).
std::string utc_hour_from_now(int hours) {
  const auto now = std::chrono::system_clock::now();
  const auto since_midnight = now - std::chrono::floor<std::chrono::days>(now);
  const long long hour = std::chrono::duration_cast<std::chrono::hours>(since_midnight).count();
  return two_digits((hour + hours) % 24) + ":00";
}

// A window gate allowing only [now + 2h, now + 3h) on every day: closed now, open later.
std::string closed_window_gate() {
  return "      - use: window\n"
         "        with:\n"
         "          timezone: UTC\n"
         "          allow:\n"
         "            - { start: \"" + utc_hour_from_now(2) + "\", end: \"" +
         utc_hour_from_now(3) + "\" }\n";
}

const char* k_pass_plugin =
    "#!/bin/sh\n"
    "cat >/dev/null\n"
    "printf '%s\\n' '{\"status\":\"pass\",\"summary\":\"ok\"}'\n";

const char* k_garbage_plugin =
    "#!/bin/sh\n"
    "cat >/dev/null\n"
    "echo 'this is not a verdict'\n";

// Fails with a byte on stderr that is not UTF-8 (0xff).
const char* k_binary_stderr_plugin =
    "#!/bin/sh\n"
    "printf 'cannot read \\377 here\\n' >&2\n"
    "exit 1\n";

// The JUnit report the real `ctest --output-junit` writes for three tests: one passes, one
// fails, one has the DISABLED property (CTest writes it status="disabled", with no
// <skipped> child).
std::string ctest_junit_report() {
  promote::test::TempDir project;
  write_text(project / "CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.20)\n"
             "project(runner NONE)\n"
             "enable_testing()\n"
             "add_test(NAME passes COMMAND true)\n"
             "add_test(NAME fails COMMAND false)\n"
             "add_test(NAME off COMMAND true)\n"
             "set_tests_properties(off PROPERTIES DISABLED TRUE)\n");
  sh("cmake -S . -B build >/dev/null && (ctest --test-dir build --output-junit junit.xml "
     ">/dev/null 2>&1 || true)",
     project.path());
  return read_text(project / "build/junit.xml");
}

}  // namespace

TEST_SUITE("integration") {
  // --- junit ----------------------------------------------------------------------------

  TEST_CASE("a CTest report: disabled tests are skipped, and max_failures alone allows one") {
    const std::string report = ctest_junit_report();
    REQUIRE(contains(report, "status=\"disabled\""));
    GateRepo repo("      - use: junit\n"
                  "        with: { path: Testing/junit.xml, max_failures: 1 }\n",
                  {{"Testing/junit.xml", report}});
    const auto run = repo.promote_prod();
    repo.check_promoted(run);
    REQUIRE(run.doc["gates"].size() == 1);
    CHECK(run.doc["gates"][0]["status"] == "pass");
    CHECK(run.doc["gates"][0]["summary"] == "3 tests: 1 passed, 1 failed, 1 skipped (1 disabled)");
    CHECK(run.doc["gates"][0]["details"]["totals"]["disabled"] == 1);
    CHECK_FALSE(run.doc["gates"][0]["details"]["thresholds"].contains("min_pass_rate"));
  }

  TEST_CASE("a CTest report's disabled test counts against max_skipped and blocks") {
    GateRepo repo("      - use: junit\n"
                  "        with: { path: Testing/junit.xml, max_failures: 1, max_skipped: 0 }\n",
                  {{"Testing/junit.xml", ctest_junit_report()}});
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const CommandResult result = repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"});
    CHECK(result.exit_code == 1);
    CHECK(contains(result.out, "1 test skipped, more than the 0 allowed (max_skipped)"));
    repo.check_untouched(remote, local);
  }

  // --- trivy ----------------------------------------------------------------------------

  TEST_CASE("a trivy report within its thresholds lets the promotion land") {
    GateRepo repo("      - use: trivy\n"
                  "        with: { report: reports/trivy.json, max: { critical: 0, high: 1 } }\n",
                  {{"reports/trivy.json", k_trivy_report}});
    const auto run = repo.promote_prod();
    repo.check_promoted(run);
    REQUIRE(run.doc["gates"].size() == 1);
    const auto& gate = run.doc["gates"][0];
    CHECK(gate["use"] == "trivy");
    CHECK(gate["status"] == "pass");
    CHECK(gate["summary"] ==
          "0 critical (max 0), 1 high (max 1), 1 low (unique ids), within max");
    CHECK(gate["details"]["counts"]["high"] == 1);
    CHECK(gate["details"]["counts"]["low"] == 1);
    REQUIRE(gate["evidence"].size() == 1);
    CHECK(gate["evidence"][0]["path"] == "reports/trivy.json");
    CHECK(gate["evidence"][0]["sha256"].get<std::string>().size() == 64);
  }

  TEST_CASE("a trivy report over a threshold blocks with exit 1 and commits nothing") {
    GateRepo repo("      - use: trivy\n"
                  "        with: { report: reports/trivy.json, max: { high: 0 } }\n",
                  {{"reports/trivy.json", k_trivy_report}});
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 1);
    CHECK(run.doc["outcome"] == "blocked");
    CHECK(run.doc["commit"].is_null());
    CHECK(run.doc["gates"][0]["status"] == "fail");
    CHECK(run.doc["gates"][0]["summary"] == "1 high > max 0");
    CHECK(run.doc["gates"][0]["details"]["condition"] == "1 high > max 0");
    repo.check_untouched(remote, local);
  }

  TEST_CASE("a missing trivy report is an error with exit 4, never a pass") {
    GateRepo repo("      - use: trivy\n"
                  "        with: { report: reports/absent.json, max: { critical: 0 } }\n");
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 4);
    CHECK(run.doc["outcome"] == "error");
    CHECK(run.doc["gates"][0]["status"] == "error");
    CHECK(contains(run.doc["gates"][0]["summary"], "reports/absent.json"));
    repo.check_untouched(remote, local);
  }

  TEST_CASE("a Trivy report of the corpus with a critical finding blocks" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path report = *promote::test::corpus_dir() / "security/trivy/alpine-39-critical-medium.json";
    GateRepo repo("      - use: trivy\n"
                  "        with: { report: '" + report.string() + "', max: { critical: 0 } }\n");
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 1);
    CHECK(run.doc["outcome"] == "blocked");
    const auto& gate = run.doc["gates"][0];
    CHECK(gate["summary"] == "1 critical > max 0");
    // CVE-2019-14697 (critical, in musl and musl-utils), CVE-2019-1549 and CVE-2019-1551
    // (medium, in libcrypto and libssl): counted by unique id.
    CHECK(gate["details"]["counts"] ==
          nlohmann::json{{"critical", 1}, {"high", 0}, {"medium", 2}, {"low", 0}, {"unknown", 0}});
    CHECK(gate["details"]["findings_in_report"] == 6);
    CHECK(gate["evidence"][0]["path"] == report.string());
    CHECK(gate["evidence"][0]["sha256"] ==
          sh("sha256sum '" + report.string() + "' | cut -c1-64 | tr -d '\\n'"));
    repo.check_untouched(remote, local);
  }

  // --- grype ----------------------------------------------------------------------------

  TEST_CASE("a grype report is judged by the severity policy") {
    SUBCASE("a critical match over max: blocked") {
      GateRepo repo("      - use: grype\n"
                    "        with: { report: reports/grype.json, max: { critical: 0 } }\n",
                    {{"reports/grype.json", k_grype_report}});
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod();
      CHECK(run.exit_code == 1);
      CHECK(run.doc["outcome"] == "blocked");
      CHECK(run.doc["gates"][0]["use"] == "grype");
      CHECK(run.doc["gates"][0]["status"] == "fail");
      CHECK(run.doc["gates"][0]["summary"] == "1 critical > max 0");
      repo.check_untouched(remote, local);
    }
    SUBCASE("the same match accepted by an exception with an owner: promoted") {
      GateRepo repo("      - use: grype\n"
                    "        with:\n"
                    "          report: reports/grype.json\n"
                    "          max: { critical: 0 }\n"
                    "          exceptions:\n"
                    "            - { id: CVE-2024-1000, reason: not reachable, owner: sec-team, "
                    "expires: '2200-01-01' }\n",
                    {{"reports/grype.json", k_grype_report}});
      const auto run = repo.promote_prod();
      repo.check_promoted(run);
      CHECK(run.doc["gates"][0]["status"] == "pass");
      CHECK(run.doc["gates"][0]["summary"] ==
            "no findings counted, within max; 1 accepted by exception");
      CHECK(run.doc["gates"][0]["details"]["ignored_total"] == 1);
    }
  }

  TEST_CASE("a Grype report of the corpus within its thresholds passes" *
            doctest::skip(!promote::test::has_corpus())) {
    // CVE-1999-0002 Critical and CVE-1999-0001 Low.
    const fs::path report =
        *promote::test::corpus_dir() / "security/grype/presenter-image-low-critical.json";
    GateRepo repo("      - use: grype\n"
                  "        with: { report: '" + report.string() + "', max: { critical: 1, low: 1 } }\n");
    const auto run = repo.promote_prod();
    repo.check_promoted(run);
    CHECK(run.doc["gates"][0]["status"] == "pass");
    CHECK(run.doc["gates"][0]["summary"] ==
          "1 critical (max 1), 1 low (max 1) (unique ids), within max");
  }

  // --- sarif ----------------------------------------------------------------------------

  TEST_CASE("a sarif log is judged by security-severity, else by level") {
    SUBCASE("the critical result breaks max: blocked") {
      GateRepo repo("      - use: sarif\n"
                    "        with: { report: reports/lint.sarif, max: { critical: 0, medium: 5 } }\n",
                    {{"reports/lint.sarif", k_sarif_report}});
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod();
      CHECK(run.exit_code == 1);
      CHECK(run.doc["outcome"] == "blocked");
      CHECK(run.doc["gates"][0]["status"] == "fail");
      CHECK(run.doc["gates"][0]["summary"] == "1 critical > max 0");
      repo.check_untouched(remote, local);
    }
    SUBCASE("within max: promoted") {
      GateRepo repo("      - use: sarif\n"
                    "        with: { report: reports/lint.sarif, max: { critical: 1, medium: 1 } }\n",
                    {{"reports/lint.sarif", k_sarif_report}});
      const auto run = repo.promote_prod();
      repo.check_promoted(run);
      CHECK(run.doc["gates"][0]["status"] == "pass");
      CHECK(run.doc["gates"][0]["summary"] ==
            "1 critical (max 1), 1 medium (max 1) (unique ids), within max");
    }
    SUBCASE("a file that is not SARIF: error, exit 4") {
      GateRepo repo("      - use: sarif\n"
                    "        with: { report: reports/lint.sarif, max: { critical: 0 } }\n",
                    {{"reports/lint.sarif", "{\"version\": \"2.1.0\"}"}});
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod();
      CHECK(run.exit_code == 4);
      CHECK(run.doc["outcome"] == "error");
      CHECK(run.doc["gates"][0]["status"] == "error");
      CHECK(run.doc["gates"][0]["summary"] == "reports/lint.sarif: not a SARIF log: no 'runs' list");
      repo.check_untouched(remote, local);
    }
  }

  TEST_CASE("a SARIF log of the corpus with two high findings blocks at max high 1" *
            doctest::skip(!promote::test::has_corpus())) {
    // Two rules with security-severity 8.2 and 8.5: high.
    const fs::path report = *promote::test::corpus_dir() / "security/sarif/grype-image.sarif";
    GateRepo repo("      - use: sarif\n"
                  "        with: { report: '" + report.string() + "', max: { high: 1 } }\n");
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 1);
    CHECK(run.doc["outcome"] == "blocked");
    CHECK(run.doc["gates"][0]["summary"] == "2 high > max 1");
    repo.check_untouched(remote, local);
  }

  // --- window ---------------------------------------------------------------------------

  TEST_CASE("a closed window is pending with exit 3 and a retry_after") {
    GateRepo repo(closed_window_gate());
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 3);
    CHECK(run.doc["outcome"] == "pending");
    const auto& gate = run.doc["gates"][0];
    CHECK(gate["status"] == "pending");
    const std::string summary = gate["summary"];
    CHECK(summary.starts_with("closed: "));
    CHECK(contains(summary, " UTC is outside the allowed windows; next opening "));
    REQUIRE(gate["retry_after_seconds"].is_number_integer());
    const long long retry = gate["retry_after_seconds"];
    CHECK(retry > 0);
    CHECK(retry <= 2 * 3600);
    CHECK(gate["details"]["condition"] == "outside_allow_windows");
    CHECK(gate["details"]["retry_after_seconds"] == retry);
    repo.check_untouched(remote, local);
  }

  TEST_CASE("a window open around the clock lets the promotion land") {
    GateRepo repo("      - use: window\n"
                  "        with: { timezone: UTC, allow: [ { start: \"00:00\", end: \"24:00\" } ] }\n");
    const auto run = repo.promote_prod();
    repo.check_promoted(run);
    CHECK(run.doc["gates"][0]["status"] == "pass");
    const std::string summary = run.doc["gates"][0]["summary"];
    CHECK(summary.starts_with("open: "));
    CHECK(summary.ends_with(" UTC is inside every day 00:00-24:00"));
  }

  TEST_CASE("--break-glass with a reason lets a closed window through as a recorded warning") {
    GateRepo repo(closed_window_gate());
    const auto run = repo.promote_prod("1.1.0", {"--break-glass", "--reason", "INC-1234 hotfix"});
    repo.check_promoted(run);
    CHECK(run.doc["break_glass"] == true);
    const auto& gate = run.doc["gates"][0];
    CHECK(gate["status"] == "warn");
    CHECK(gate["summary"].get<std::string>().starts_with("break-glass by gate-ci: closed: "));
    CHECK(gate["retry_after_seconds"].is_null());
    CHECK(gate["details"]["break_glass"] ==
          nlohmann::json{{"actor", "gate-ci"}, {"overridden_status", "pending"}});

    const std::string id = run.doc["promotion_id"];
    const CommandResult show = repo.promote({"history", "show", id, "--output", "json"});
    REQUIRE(show.exit_code == 0);
    const auto record = nlohmann::json::parse(show.out);
    CHECK(record["outcome"] == "promoted");
    CHECK(record["break_glass"] == true);
    CHECK(record["reason"] == "INC-1234 hotfix");
    CHECK(record["gates"][0]["status"] == "warn");
    CHECK(record["gates"][0]["details"]["break_glass"]["actor"] == "gate-ci");
    // The promotion row itself carries the override.
    CHECK(sh("sqlite3 .promote/history.db \"SELECT break_glass, actor, reason FROM promotions "
             "WHERE id = '" + id + "'\"",
             repo.repo) == "1|gate-ci|INC-1234 hotfix\n");
  }

  TEST_CASE("--break-glass without --reason is a usage error and changes nothing") {
    GateRepo repo(closed_window_gate());
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const CommandResult result = repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--break-glass"});
    CHECK(result.exit_code == 2);
    CHECK(result.err ==
          "promote: --break-glass needs --reason: say why the time windows are overridden\n");
    repo.check_untouched(remote, local);
    CHECK_FALSE(fs::exists(repo.repo / ".promote"));
  }

  // --- prometheus -----------------------------------------------------------------------

  TEST_CASE("prometheus gates judge metrics of a real Prometheus through the CLI" *
            doctest::skip(!promote::test::has_prometheus())) {
    Metrics metrics;
    {  // pass, every series under the threshold, sampled twice a second apart
      GateRepo repo(prometheus_gate(metrics.url, "checkout_error_rate", "< 0.01",
                                    "          samples: 2\n"));
      const auto run = repo.promote_prod();
      repo.check_promoted(run);
      const auto& gate = run.doc["gates"][0];
      CHECK(gate["name"] == "error-rate");
      CHECK(gate["use"] == "prometheus");
      CHECK(gate["status"] == "pass");
      CHECK(gate["summary"] == "2 of 2 samples satisfy < 0.01");
      CHECK(gate["details"]["samples"].size() == 2);
    }
    {  // fail: pod a breaks the threshold
      GateRepo repo(prometheus_gate(metrics.url, "checkout_error_rate", "< 0.003"));
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod();
      CHECK(run.exit_code == 1);
      CHECK(run.doc["outcome"] == "blocked");
      CHECK(run.doc["gates"][0]["status"] == "fail");
      CHECK(run.doc["gates"][0]["summary"] ==
            "checkout_error_rate{job=\"checkout\",pod=\"a\"} = 0.004 breaks < 0.003");
      repo.check_untouched(remote, local);
    }
    {  // a reduction over both series
      GateRepo repo(prometheus_gate(metrics.url, "checkout_error_rate", "< 0.01",
                                    "          reduce: sum\n"));
      const auto run = repo.promote_prod();
      repo.check_promoted(run);
      CHECK(run.doc["gates"][0]["summary"] == "sum 0.006 satisfies < 0.01");
    }
    {  // no data is an error, never a pass
      GateRepo repo(prometheus_gate(metrics.url, "checkout_absent_metric", "< 1"));
      const auto run = repo.promote_prod();
      CHECK(run.exit_code == 4);
      CHECK(run.doc["outcome"] == "error");
      CHECK(run.doc["gates"][0]["summary"] == "the query returned no data (on_empty: error)");
    }
  }

  // --- http ---------------------------------------------------------------------------

  TEST_CASE("an http gate asks a webhook: its answer lets the promotion land, blocks or waits") {
    using promote::test::http_response;
    const std::string hook_gate = "      - use: http\n"
                                  "        with:\n"
                                  "          url: URL\n"
                                  "          method: POST\n"
                                  "          headers: {Authorization: {env: HOOK_TOKEN, prefix: 'Bearer '}}\n"
                                  "          json_pointer: /decision\n"
                                  "          equals: approved\n";
    const auto with_url = [&](const promote::test::HttpScript& hook) {
      std::string gates = hook_gate;
      return gates.replace(gates.find("URL"), 3, hook.url("/verdict"));
    };
    {  // approved: the hook was sent the candidate and the stage, with the token
      promote::test::HttpScript hook(http_response("200 OK", R"({"decision": "approved"})"));
      GateRepo repo(with_url(hook));
      const auto run = repo.promote_prod("1.1.0", {});
      // No HOOK_TOKEN in promote's environment: an error naming the variable.
      CHECK(run.exit_code == 4);
      CHECK(contains(run.doc["gates"][0]["summary"], "HOOK_TOKEN"));
      CHECK(hook.requests() == 0);
      const CommandResult landed = promote::test::run(
          {promote::test::promote_binary().string(), "--to", "prod", "--image",
           "api=ghcr.io/acme/api:1.1.0", "--output", "json"},
          repo.repo, {{"PROMOTE_ACTOR", "gate-ci"}, {"HOOK_TOKEN", "t0ken-5ecret"}});
      INFO(landed.err);
      const auto doc = nlohmann::json::parse(landed.out);
      repo.check_promoted({landed.exit_code, doc, landed.err});
      CHECK(doc["gates"][0]["status"] == "pass");
      CHECK_FALSE(contains(landed.out, "t0ken-5ecret"));
      CHECK(contains(hook.received(), "Bearer t0ken-5ecret"));
      const auto sent = nlohmann::json::parse(hook.received_body());
      CHECK(sent["stage"] == "prod");
      CHECK(sent["candidate"]["id"] == doc["candidate"]["id"]);
      CHECK(sent["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0");
    }
    {  // a 409 blocks, and nothing is written
      promote::test::HttpScript hook(http_response("409 Conflict", "{}"));
      GateRepo repo(with_url(hook));
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod("1.1.0", {});
      CHECK(run.exit_code == 4);  // no token yet: error, checked before asking
      const CommandResult blocked = promote::test::run(
          {promote::test::promote_binary().string(), "--to", "prod", "--image",
           "api=ghcr.io/acme/api:1.1.0"},
          repo.repo, {{"PROMOTE_ACTOR", "gate-ci"}, {"HOOK_TOKEN", "x"}, {"NO_COLOR", "1"}});
      CHECK(blocked.exit_code == 1);
      CHECK(contains(blocked.out, "http  fail"));
      repo.check_untouched(remote, local);
    }
    {  // busy, come back in two minutes: pending, exit 3
      promote::test::HttpScript hook(
          http_response("503 Service Unavailable", "", "Retry-After: 120\r\n"));
      GateRepo repo(with_url(hook));
      const CommandResult later = promote::test::run(
          {promote::test::promote_binary().string(), "--to", "prod", "--image",
           "api=ghcr.io/acme/api:1.1.0", "--output", "json"},
          repo.repo, {{"PROMOTE_ACTOR", "gate-ci"}, {"HOOK_TOKEN", "x"}});
      CHECK(later.exit_code == 3);
      const auto doc = nlohmann::json::parse(later.out);
      CHECK(doc["gates"][0]["status"] == "pending");
      CHECK(doc["gates"][0]["retry_after_seconds"] == 120);
    }
  }

  // --- external plugins -----------------------------------------------------------------

  TEST_CASE("an external gate program beside the pipeline file is run and its verdict kept") {
    GateRepo repo("      - use: okay\n", {{"plugins/promote-gate-okay", k_pass_plugin}});
    const auto run = repo.promote_prod();
    repo.check_promoted(run);
    const auto& gate = run.doc["gates"][0];
    CHECK(gate["use"] == "okay");
    CHECK(gate["status"] == "pass");
    CHECK(gate["summary"] == "ok");
    const fs::path program = fs::canonical(repo.repo / "plugins/promote-gate-okay");
    CHECK(gate["details"]["program"] == program.string());
    CHECK(gate["details"]["exit_code"] == 0);
    REQUIRE(gate["evidence"].size() == 1);
    CHECK(gate["evidence"][0]["sha256"] == gate["details"]["program_sha256"]);
  }

  TEST_CASE("an external gate program that prints garbage is an error with exit 4") {
    GateRepo repo("      - use: garbage\n", {{"plugins/promote-gate-garbage", k_garbage_plugin}});
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const auto run = repo.promote_prod();
    CHECK(run.exit_code == 4);
    CHECK(run.doc["outcome"] == "error");
    CHECK(run.doc["gates"][0]["status"] == "error");
    CHECK(run.doc["gates"][0]["summary"] == "promote-gate-garbage printed invalid JSON on stdout");
    repo.check_untouched(remote, local);
  }

  TEST_CASE("a plugin's stderr that is not UTF-8 is recorded and printed with U+FFFD") {
    GateRepo repo("      - use: binary\n", {{"plugins/promote-gate-binary", k_binary_stderr_plugin}});
    const auto run = repo.promote_prod();  // --output json: parsed, so it must be valid JSON
    CHECK(run.exit_code == 4);
    CHECK(run.doc["gates"][0]["status"] == "error");
    CHECK(run.doc["gates"][0]["summary"] ==
          "promote-gate-binary exited with status 1: cannot read \xEF\xBF\xBD here");
    const CommandResult text = repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0",
                                             "--dry-run"});
    CHECK(text.exit_code == 4);
    CHECK(contains(text.out, "cannot read \xEF\xBF\xBD here"));
  }

  TEST_CASE("the shipped shell-example plugin judges the candidate's tags") {
    const std::string plugin = read_text(k_source + "/plugins/promote-gate-shell-example");
    const std::string gates =
        "      - use: shell-example\n"
        "        with: { tag_pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$' }\n";
    SUBCASE("a release tag passes") {
      GateRepo repo(gates, {{"plugins/promote-gate-shell-example", plugin}});
      const auto run = repo.promote_prod("1.1.0");
      repo.check_promoted(run);
      CHECK(run.doc["gates"][0]["status"] == "pass");
      CHECK(run.doc["gates"][0]["summary"] == "1 images pinned by a digest or a matching tag");
    }
    SUBCASE("another tag blocks") {
      GateRepo repo(gates, {{"plugins/promote-gate-shell-example", plugin}});
      const std::string remote = repo.remote_head();
      const std::string local = repo.local_head();
      const auto run = repo.promote_prod("nightly");
      CHECK(run.exit_code == 1);
      CHECK(run.doc["outcome"] == "blocked");
      CHECK(run.doc["gates"][0]["status"] == "fail");
      CHECK(run.doc["gates"][0]["summary"] ==
            "not pinned by a digest and tag not matching ^[0-9]+\\.[0-9]+\\.[0-9]+$: api:nightly");
      repo.check_untouched(remote, local);
    }
  }

  // --- configuration errors -------------------------------------------------------------

  TEST_CASE("an unknown gate is a configuration error with FILE:LINE:COL and exit 2") {
    GateRepo repo("      - use: trivvy\n"
                  "        with: { report: r.json, max: { critical: 0 } }\n");
    const std::string remote = repo.remote_head();
    const std::string local = repo.local_head();
    const CommandResult result = repo.promote(
        {"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"});
    CHECK(result.exit_code == 2);
    CHECK(result.err == "promote: promote.yaml:14:14: unknown gate 'trivvy' (did you mean 'trivy'?)\n");
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "config");
    const CommandResult validate = repo.promote({"validate"});
    CHECK(validate.exit_code == 2);
    CHECK(validate.err == result.err);
    repo.check_untouched(remote, local);
    CHECK_FALSE(fs::exists(repo.repo / ".promote"));
  }

  TEST_CASE("an invalid with: block of a built-in gate is reported at load with exit 2") {
    GateRepo repo("      - use: trivy\n"
                  "        with: { report: r.json }\n"
                  "      - use: window\n"
                  "        with: { timezone: Mars/Olympus, allow: [ { start: \"09:00\", end: \"17:00\" } ] }\n");
    const CommandResult result = repo.promote({"validate"});
    CHECK(result.exit_code == 2);
    CHECK(result.err ==
          "promote: promote.yaml:15:15: missing required field 'max' in gate 'trivy'\n"
          "promote.yaml:17:27: unknown time zone 'Mars/Olympus'\n");
  }
}
