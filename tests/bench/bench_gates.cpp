// Evaluates one stage of 200 gates of mixed kinds through scheduler::evaluate: all at
// once, then one at a time (max_concurrency 1), then each gate alone, and prints the wall
// times, the slowest single gate and the peak resident set size.
//
// 100 of the gates are `prometheus` queries against a Prometheus this program starts on a
// free 127.0.0.1 port (scraping itself every second); some of them take several samples,
// so that their waits overlap when the gates run concurrently. The others read generated
// JUnit, Trivy, Grype and SARIF files, or judge soak and time windows.
//
//   bench_gates [prometheus]   (default: prometheus on PATH)

#include <sys/resource.h>
#include <unistd.h>


#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline.hpp"
#include "engine/scheduler/scheduler.hpp"
#include "gates/registry.hpp"
#include "tests/support/servers/prometheus.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int k_prometheus_gates = 100;
constexpr int k_sampled_gates = 10;  ///< of the prometheus gates: 3 samples, 1 s apart
constexpr int k_junit_gates = 25;
constexpr int k_trivy_gates = 20;
constexpr int k_grype_gates = 15;
constexpr int k_sarif_gates = 15;
constexpr int k_soak_gates = 15;
constexpr int k_window_gates = 10;

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A scratch directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device random;
    m_path = fs::temp_directory_path() / ("promote-bench-gates-" + std::to_string(random()));
    fs::create_directories(m_path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return m_path; }

 private:
  fs::path m_path;
};


// The clock is the real one; every candidate entered every stage three hours ago.
class BenchTimeline : public promote::Timeline {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  promote::Result<std::optional<promote::StageEntry>> entered(
      const std::string&, const promote::Candidate&) const override {
    return std::optional<promote::StageEntry>(
        promote::StageEntry{std::chrono::system_clock::now() - 3h, "bench"});
  }
};

// --- generated reports ---------------------------------------------------------------

std::string junit_report(int suite) {
  std::string xml = "<?xml version=\"1.0\"?>\n<testsuite name=\"suite" + std::to_string(suite) +
                    "\" tests=\"200\">\n";
  for (int i = 0; i < 200; ++i) {
    xml += "  <testcase classname=\"com.example.S" + std::to_string(suite) + "\" name=\"case" +
           std::to_string(i) + "\" time=\"0.01\"" +
           (i % 40 == 3 ? "><skipped/></testcase>\n" : "/>\n");
  }
  return xml + "</testsuite>\n";
}

std::string trivy_report(int n) {
  std::string vulns;
  for (int i = 0; i < 60; ++i) {
    const char* severity = i % 20 == 0 ? "HIGH" : (i % 3 == 0 ? "MEDIUM" : "LOW");
    vulns += std::string(vulns.empty() ? "" : ",\n") + "{\"VulnerabilityID\":\"CVE-2024-" +
             std::to_string(1000 + n * 100 + i) + "\",\"PkgName\":\"pkg" + std::to_string(i) +
             "\",\"InstalledVersion\":\"1.0\",\"FixedVersion\":\"1.1\",\"Severity\":\"" + severity +
             "\"}";
  }
  return "{\"SchemaVersion\":2,\"ArtifactName\":\"ghcr.io/acme/api:1.0.0\","
         "\"ArtifactType\":\"container_image\",\"Results\":[{\"Target\":\"api\","
         "\"Class\":\"os-pkgs\",\"Vulnerabilities\":[\n" +
         vulns + "]}]}\n";
}

std::string grype_report(int n) {
  std::string matches;
  for (int i = 0; i < 60; ++i) {
    const char* severity = i % 20 == 0 ? "High" : (i % 3 == 0 ? "Medium" : "Negligible");
    matches += std::string(matches.empty() ? "" : ",\n") +
               "{\"vulnerability\":{\"id\":\"GHSA-" + std::to_string(n) + "-" +
               std::to_string(i) + "\",\"severity\":\"" + severity +
               "\",\"fix\":{\"state\":\"fixed\",\"versions\":[\"2.0\"]}},"
               "\"artifact\":{\"name\":\"lib" + std::to_string(i) + "\",\"version\":\"1.0\"}}";
  }
  return "{\"matches\":[\n" + matches +
         "],\"source\":{\"type\":\"image\",\"target\":{\"userInput\":\"ghcr.io/acme/api:1.0.0\"}}}\n";
}

std::string sarif_report(int n) {
  std::string results;
  for (int i = 0; i < 60; ++i) {
    results += std::string(results.empty() ? "" : ",\n") + "{\"ruleId\":\"R" +
               std::to_string(i % 6) + "\",\"level\":\"" + (i % 6 == 0 ? "error" : "note") +
               "\",\"message\":{\"text\":\"finding " + std::to_string(i) +
               "\"},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":\"src/f" +
               std::to_string(n) + "_" + std::to_string(i) + ".c\"}}}]}";
  }
  return "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"lint\"}},"
         "\"results\":[\n" +
         results + "]}]}\n";
}

// --- the pipeline --------------------------------------------------------------------

// The prometheus gates' queries: each passes against a Prometheus that scrapes itself.
struct Query {
  const char* expr;
  const char* condition;
  const char* reduce;
};
constexpr Query k_queries[] = {
    {"up{job=\"self\"}", "== 1", "each"},
    {"prometheus_build_info", "== 1", "each"},
    {"sum(up)", ">= 1", "each"},
    {"count(prometheus_http_requests_total)", "> 0", "each"},
    {"prometheus_tsdb_head_series", "> 0", "max"},
    {"rate(prometheus_http_requests_total[1m])", ">= 0", "sum"},
    {"go_goroutines{job=\"self\"}", "between 1 and 100000", "each"},
    {"scrape_duration_seconds", "< 10", "avg"},
};

std::string generate_pipeline(const std::string& prometheus_url) {
  std::string yaml =
      "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: bench }\n"
      "repository: { url: ., branch: main }\n"
      "images:\n  - name: api\n    repository: ghcr.io/acme/api\n"
      "stages:\n"
      "  - name: staging\n    target: { kustomize: k8s/staging }\n"
      "  - name: prod\n    from: staging\n    target: { kustomize: k8s/prod }\n"
      "    gates:\n";
  auto gate = [&](const std::string& use, int i, const std::string& with) {
    yaml += "      - use: " + use + "\n        name: " + use + "-" + std::to_string(i) +
            "\n        timeout: 1m\n        with:\n" + with;
  };
  for (int i = 0; i < k_prometheus_gates; ++i) {
    const Query& q = k_queries[i % std::size(k_queries)];
    std::string with = "          url: " + prometheus_url + "\n          query: '" + q.expr +
                       "'\n          condition: '" + q.condition + "'\n          reduce: " +
                       q.reduce + "\n          timeout: 10s\n";
    if (i % (k_prometheus_gates / k_sampled_gates) == 0) {
      with += "          samples: 3\n          interval: 1s\n";
    } else {
      with += "          interval: 0s\n";
    }
    gate("prometheus", i, with);
  }
  for (int i = 0; i < k_junit_gates; ++i) {
    gate("junit", i,
         "          path: reports/junit/" + std::to_string(i % 5) +
             "/*.xml\n          min_pass_rate: 1.0\n          min_tests: 100\n");
  }
  for (int i = 0; i < k_trivy_gates; ++i) {
    gate("trivy", i, "          report: reports/trivy-" + std::to_string(i % 5) +
                         ".json\n          max: { critical: 0, high: 5 }\n");
  }
  for (int i = 0; i < k_grype_gates; ++i) {
    gate("grype", i, "          report: reports/grype-" + std::to_string(i % 5) +
                         ".json\n          max: { critical: 0, high: 5 }\n          count: findings\n");
  }
  for (int i = 0; i < k_sarif_gates; ++i) {
    gate("sarif", i, "          report: reports/sarif-" + std::to_string(i % 5) +
                         ".sarif\n          max: { critical: 0, high: 10 }\n");
  }
  for (int i = 0; i < k_soak_gates; ++i) {
    gate("soak", i, "          min: " + std::to_string(i + 1) + "m\n");
  }
  for (int i = 0; i < k_window_gates; ++i) {
    gate("window", i,
         "          timezone: " + std::string(i % 2 == 0 ? "UTC" : "Europe/Berlin") +
             "\n          allow: [ { start: \"00:00\", end: \"24:00\" } ]\n"
             "          deny: [ { from: '2020-12-24', to: '2020-12-26', reason: holidays } ]\n");
  }
  return yaml;
}

struct Timed {
  std::vector<promote::Verdict> verdicts;
  double seconds = 0;
};

Timed timed_evaluate(const std::vector<promote::pipeline::GateSpec>& gates,
                     const promote::GateContext& context, std::size_t max_concurrency) {
  promote::scheduler::Options options;
  options.max_concurrency = max_concurrency;
  const auto start = Clock::now();
  Timed out;
  out.verdicts = promote::scheduler::evaluate(gates, context, options);
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

// Counts the verdicts by status; prints the ones that did not pass. Returns whether all passed.
bool report_verdicts(const char* run, const std::vector<promote::pipeline::GateSpec>& gates,
                     const std::vector<promote::Verdict>& verdicts) {
  std::map<std::string, int> by_status;
  bool all_passed = true;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    ++by_status[promote::to_string(verdicts[i].status)];
    if (!promote::passes(verdicts[i].status)) {
      all_passed = false;
      std::fprintf(stderr, "%s: %s %s: %s\n", run, gates[i].name.c_str(),
                   promote::to_string(verdicts[i].status), verdicts[i].summary.c_str());
    }
  }
  if (!all_passed) {
    for (const auto& [status, count] : by_status) {
      std::fprintf(stderr, "%s: %d %s\n", run, count, status.c_str());
    }
  }
  return all_passed;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string prometheus_program = argc > 1 ? argv[1] : "prometheus";
  ScratchDir dir;
  const fs::path root = dir.path();

  for (int i = 0; i < 5; ++i) {
    for (int f = 0; f < 2; ++f) {
      write_file(root / "reports/junit" / std::to_string(i) / ("r" + std::to_string(f) + ".xml"),
                 junit_report(i * 2 + f));
    }
    write_file(root / ("reports/trivy-" + std::to_string(i) + ".json"), trivy_report(i));
    write_file(root / ("reports/grype-" + std::to_string(i) + ".json"), grype_report(i));
    write_file(root / ("reports/sarif-" + std::to_string(i) + ".sarif"), sarif_report(i));
  }
  for (const char* stage : {"staging", "prod"}) {
    write_file(root / "k8s" / stage / "kustomization.yaml",
               "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
               "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
  }

  const auto started = Clock::now();
  promote::test::PrometheusStack prometheus(root, promote::test::PrometheusStack::Scrape::self,
                                            prometheus_program);
  if (const std::string why = prometheus.wait_ready(); !why.empty()) {
    std::fprintf(stderr, "bench_gates: %s\n", why.c_str());
    return 1;
  }
  const std::string url = prometheus.url();
  const double startup = std::chrono::duration<double>(Clock::now() - started).count();

  const fs::path pipeline_file = root / "promote.yaml";
  write_file(pipeline_file, generate_pipeline(url));
  auto pipeline = promote::pipeline::load(pipeline_file,
                                          promote::gates::Catalog::for_pipeline(pipeline_file));
  if (!pipeline) {
    std::fprintf(stderr, "bench_gates: %s\n", pipeline.error().message.c_str());
    return 1;
  }
  const promote::pipeline::Stage* stage = pipeline->find_stage("prod");
  const std::vector<promote::pipeline::GateSpec>& gates = stage->gates;

  const promote::Candidate candidate;
  const BenchTimeline timeline;
  const promote::GateContext context{candidate, "prod", std::string("staging"), pipeline->base_dir,
                                     timeline, pipeline->name, "bench"};
  const long rss_before = peak_rss_kib();

  const Timed concurrent = timed_evaluate(gates, context, 0);
  const Timed sequential = timed_evaluate(gates, context, 1);
  bool ok = report_verdicts("concurrent", gates, concurrent.verdicts);
  ok = report_verdicts("sequential", gates, sequential.verdicts) && ok;

  double sum_single = 0;
  double slowest = 0;
  std::string slowest_name;
  std::map<std::string, std::pair<double, int>> by_kind;  // use -> (seconds, gates)
  for (const auto& gate : gates) {
    const Timed single = timed_evaluate({gate}, context, 0);
    ok = report_verdicts("single", {gate}, single.verdicts) && ok;
    sum_single += single.seconds;
    by_kind[gate.use].first += single.seconds;
    ++by_kind[gate.use].second;
    if (single.seconds > slowest) {
      slowest = single.seconds;
      slowest_name = gate.name;
    }
  }
  const long rss_after = peak_rss_kib();

  std::printf("%-34s %s\n", "measure", "value");
  std::printf("%-34s %zu (%d prometheus, %d of them 3 samples 1s apart; %d junit, %d trivy, "
              "%d grype, %d sarif, %d soak, %d window)\n",
              "gates", gates.size(), k_prometheus_gates, k_sampled_gates, k_junit_gates,
              k_trivy_gates, k_grype_gates, k_sarif_gates, k_soak_gates, k_window_gates);
  std::printf("%-34s %.2f s\n", "prometheus startup (not counted)", startup);
  std::printf("%-34s %.3f s\n", "wall time, all concurrent", concurrent.seconds);
  std::printf("%-34s %.3f s\n", "wall time, max_concurrency 1", sequential.seconds);
  std::printf("%-34s %.3f s (%s)\n", "slowest single gate", slowest, slowest_name.c_str());
  std::printf("%-34s %.3f s\n", "sum of single gate times", sum_single);
  for (const auto& [use, total] : by_kind) {
    std::printf("  %-32s %.2f ms mean over %d\n", ("single " + use).c_str(),
                total.first * 1000.0 / total.second, total.second);
  }
  std::printf("%-34s %.1f MiB\n", "peak RSS before evaluating", rss_before / 1024.0);
  std::printf("%-34s %.1f MiB\n", "peak RSS after all runs", rss_after / 1024.0);
  return ok ? 0 : 1;
}
