// The history at audit scale: a database of N promotions (default 1,000,000), each with two
// gate verdicts and their evidence, then the figures an auditor meets: size per promotion,
// insert rates, a filtered query and a full `audit verify`.
//   bench_history [N] [PROMOTE_BINARY]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/history/history.hpp"
#include "engine/util/hash.hpp"

namespace fs = std::filesystem;
namespace history = promote::history;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* k_stages[] = {"dev", "staging", "prod"};
const char* k_outcomes[] = {"promoted", "promoted", "promoted", "blocked", "pending", "no-op"};

// Promotion `i` of a pipeline with 3 stages and 4 images, one every ~60 s over the years
// before `end`.
history::PromotionRecord make(long long i, std::chrono::system_clock::time_point end, long long n,
                              std::mt19937& random) {
  history::PromotionRecord record;
  record.id = "20260101T000000Z-" + std::to_string(10'000'000 + i);
  record.pipeline = "shop";
  record.stage = k_stages[i % 3];
  record.from = i % 3 == 0 ? "" : k_stages[i % 3 - 1];
  record.candidate_id = promote::util::sha256_hex(std::to_string(i / 3));
  const std::string tag = "1." + std::to_string(i / 3000) + "." + std::to_string(i / 3 % 1000);
  record.images = {{"api", "ghcr.io/acme/api:" + tag},
                   {"web", "ghcr.io/acme/web:" + tag},
                   {"worker", "ghcr.io/acme/worker:" + tag},
                   {"image" + std::to_string(i % 50), "ghcr.io/acme/other:" + tag}};
  record.previous = {{"api", "ghcr.io/acme/api:1.0.0"}};
  record.files = {"k8s/overlays/" + record.stage + "/kustomization.yaml"};
  record.outcome = k_outcomes[random() % 6];
  record.actor = i % 17 == 0 ? "alice" : "ci-bot";
  record.reason = "";
  record.ci_provider = "github";
  record.ci_run_url = "https://github.com/acme/shop/actions/runs/" + std::to_string(i);
  record.commit = record.outcome == "promoted" ? promote::util::sha256_hex(record.id).substr(0, 40) : "";
  record.started = end - std::chrono::seconds((n - i) * 60);
  record.finished = record.started + std::chrono::seconds(4);
  for (const char* use : {"junit", "trivy"}) {
    history::GateRecord gate;
    gate.name = use;
    gate.use = use;
    gate.status = "pass";
    gate.summary = std::string(use) == "junit" ? "1520 passed, 3 skipped" : "0 critical, 1 high";
    gate.details = {{"passed", 1520}, {"failed", 0}, {"skipped", 3}, {"rate", 1.0}};
    gate.config = {{"path", "reports/*.xml"}, {"min_pass_rate", 1.0}};
    gate.evidence = {{"reports/" + std::string(use) + ".json",
                      promote::util::sha256_hex(record.id + use)}};
    record.gates.push_back(std::move(gate));
  }
  return record;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

double run_binary(const std::string& command) {
  const auto start = Clock::now();
  const int code = std::system(command.c_str());
  const double took = seconds_since(start);
  if (code != 0 && WEXITSTATUS(code) != 0) {
    std::fprintf(stderr, "command failed (%d): %s\n", code, command.c_str());
  }
  return took;
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const std::string binary = argc > 2 ? argv[2] : "";
  const fs::path dir = fs::temp_directory_path() / ("promote-bench-history-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "history.db";
  std::mt19937 random(42);
  const auto end = std::chrono::system_clock::now();

  // What promote does per attempt: one transaction per record.
  const long long one_by_one = std::min<long long>(n, 5'000);
  auto store = history::History::open(file).value();
  auto start = Clock::now();
  for (long long i = 0; i < one_by_one; ++i) {
    if (auto done = store.record(make(i, end, n, random)); !done) {
      std::fprintf(stderr, "%s\n", done.error().message.c_str());
      return 1;
    }
  }
  const double record_rate = one_by_one / seconds_since(start);

  // The rest as `history sync` adds them: one transaction per batch.
  start = Clock::now();
  const long long batch = 50'000;
  for (long long from = one_by_one; from < n; from += batch) {
    std::vector<history::PromotionRecord> records;
    for (long long i = from; i < std::min(n, from + batch); ++i) {
      records.push_back(make(i, end, n, random));
    }
    if (auto added = store.merge(std::move(records), {}, {}); !added) {
      std::fprintf(stderr, "%s\n", added.error().message.c_str());
      return 1;
    }
  }
  const double merge_rate = (n - one_by_one) / seconds_since(start);
  store = history::History::open(file).value();  // checkpoint the WAL on close of the old one
  const double size = static_cast<double>(fs::file_size(file)) +
                      (fs::exists(dir / "history.db-wal") ? fs::file_size(dir / "history.db-wal") : 0);

  // The query an auditor types: one image into prod in the last 30 days, newest 100.
  history::Query query;
  query.stage = "prod";
  query.image = "api";
  query.actor = "alice";
  query.since = end - std::chrono::hours(24 * 30);
  query.limit = 100;
  double best_query = 1e9;
  std::size_t found = 0;
  for (int round = 0; round < 5; ++round) {
    start = Clock::now();
    found = store.list(query).value().size();
    best_query = std::min(best_query, seconds_since(start));
  }
  start = Clock::now();
  const auto verified = store.verify().value();
  const double verify_time = seconds_since(start);

  std::printf("%-52s %14lld\n", "promotions", n);
  std::printf("%-52s %14.0f\n", "database bytes per promotion (2 gates, evidence)", size / n);
  std::printf("%-52s %14.1f\n", "database size (MiB)", size / 1048576.0);
  std::printf("%-52s %14.0f\n", "record(): promotions/s, one transaction each", record_rate);
  std::printf("%-52s %14.0f\n", "merge() (history sync): promotions/s", merge_rate);
  std::printf("%-52s %14.1f   (%zu rows)\n", "filtered query, library (ms)", best_query * 1000, found);
  std::printf("%-52s %14.2f   (%s)\n", "audit verify, library (s)", verify_time,
              verified.broken ? "BROKEN" : "chain holds");
  if (!binary.empty()) {
    const std::string history_flag = " --history '" + file.string() + "'";
    double best = 1e9;
    for (int round = 0; round < 5; ++round) {
      best = std::min(best, run_binary("'" + binary + "' history" + history_flag +
                                       " --stage prod --image api --actor alice --since 30d "
                                       "--limit 100 > /dev/null"));
    }
    std::printf("%-52s %14.1f\n", "promote history --stage --image --actor --since (ms)",
                best * 1000);
    std::printf("%-52s %14.2f\n", "promote audit verify (s)",
                run_binary("'" + binary + "' audit verify" + history_flag + " > /dev/null"));
  }
  std::printf("%-52s %14ld\n", "peak memory of this benchmark (MiB)", peak_rss_kib() / 1024);
  if (std::getenv("PROMOTE_BENCH_KEEP") == nullptr) {
    fs::remove_all(dir);
  } else {
    std::printf("kept %s\n", file.c_str());
  }
  return verified.broken ? 1 : 0;
}
