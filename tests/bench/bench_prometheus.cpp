// 1,000 `prometheus` gates of one stage evaluated concurrently (scheduler::evaluate, the
// default max_concurrency: all at once) against a Prometheus this program starts on a free
// 127.0.0.1 port, beside the same 1,000 instant queries sent one after another by a shell
// loop of `curl`. Prints one line, "OURS_S OURS_RSS_KIB CURL_S CURL_RSS_KIB", and exits 1
// when a gate did not pass or a curl failed.
//
//   bench_prometheus [prometheus]   (default: prometheus on PATH)

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline.hpp"
#include "engine/scheduler/scheduler.hpp"
#include "gates/registry.hpp"
#include "tests/bench/child.hpp"
#include "tests/support/servers/prometheus.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int k_queries = 1000;

struct Query {
  const char* expr;
  const char* condition;
  const char* reduce;
};
constexpr Query k_kinds[] = {
    {"up{job=\"self\"}", "== 1", "each"},
    {"prometheus_build_info", "== 1", "each"},
    {"sum(up)", ">= 1", "each"},
    {"count(prometheus_http_requests_total)", "> 0", "each"},
    {"prometheus_tsdb_head_series", "> 0", "max"},
    {"rate(prometheus_http_requests_total[1m])", ">= 0", "sum"},
    {"go_goroutines{job=\"self\"}", "between 1 and 100000", "each"},
    {"scrape_duration_seconds", "< 10", "avg"},
};

// The clock is the real one; no stage was ever entered (prometheus gates do not ask).
class BenchTimeline : public promote::Timeline {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  promote::Result<std::optional<promote::StageEntry>> entered(
      const std::string&, const promote::Candidate&) const override {
    return std::optional<promote::StageEntry>();
  }
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = argc > 1 ? argv[1] : "prometheus";
  std::random_device random;
  const fs::path root = fs::temp_directory_path() / ("promote-bench-prom-" + std::to_string(random()));
  fs::create_directories(root);
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{root};

  promote::test::PrometheusStack prometheus(root, promote::test::PrometheusStack::Scrape::self,
                                            program);
  if (const std::string why = prometheus.wait_ready(); !why.empty()) {
    std::fprintf(stderr, "bench_prometheus: %s\n", why.c_str());
    return 1;
  }
  const std::string url = prometheus.url();

  std::string yaml =
      "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: bench }\n"
      "images:\n  - name: api\n    repository: ghcr.io/acme/api\n"
      "stages:\n  - name: staging\n    target: { kustomize: k8s/staging }\n"
      "  - name: prod\n    from: staging\n    target: { kustomize: k8s/prod }\n    gates:\n";
  std::string script = "set -e\n";
  for (int i = 0; i < k_queries; ++i) {
    const Query& q = k_kinds[i % std::size(k_kinds)];
    yaml += "      - use: prometheus\n        name: q" + std::to_string(i) +
            "\n        with:\n          url: " + url + "\n          query: '" + q.expr +
            "'\n          condition: '" + q.condition + "'\n          reduce: " + q.reduce +
            "\n          timeout: 30s\n";
    script += "curl -sf -o /dev/null --get --data-urlencode 'query=" + std::string(q.expr) +
              "' " + url + "/api/v1/query\n";
  }
  write_file(root / "promote.yaml", yaml);
  write_file(root / "curl-loop.sh", script);
  for (const char* stage : {"staging", "prod"}) {
    write_file(root / "k8s" / stage / "kustomization.yaml",
               "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
  }
  auto pipeline = promote::pipeline::load(root / "promote.yaml",
                                          promote::gates::Catalog::for_pipeline(root / "promote.yaml"));
  if (!pipeline) {
    std::fprintf(stderr, "bench_prometheus: %s\n", pipeline.error().message.c_str());
    return 1;
  }
  const auto& gates = pipeline->find_stage("prod")->gates;
  const promote::Candidate candidate;
  const BenchTimeline timeline;
  const promote::GateContext context{candidate, "prod", std::string("staging"),
                                     pipeline->base_dir, timeline, pipeline->name, "bench"};

  const auto start = std::chrono::steady_clock::now();
  const auto verdicts = promote::scheduler::evaluate(gates, context, {});
  const double ours = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  int failed = 0;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    if (!promote::passes(verdicts[i].status)) {
      if (failed++ < 5) {
        std::fprintf(stderr, "bench_prometheus: %s %s: %s\n", gates[i].name.c_str(),
                     promote::to_string(verdicts[i].status), verdicts[i].summary.c_str());
      }
    }
  }
  const auto curl = promote::bench::run_child({"bash", (root / "curl-loop.sh").string()});
  std::printf("%.6f %ld %.6f %ld\n", ours, usage.ru_maxrss, curl.seconds, curl.max_rss_kib);
  if (failed > 0 || curl.exit_code != 0 || verdicts.size() != k_queries) {
    std::fprintf(stderr, "bench_prometheus: %d gates did not pass; the curl loop exited %d\n",
                 failed, curl.exit_code);
    return 1;
  }
  return 0;
}
