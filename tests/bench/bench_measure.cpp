// Runs a command N times and prints the median wall time and the largest peak resident set
// size, measured with wait4 (see child.hpp), as "SECONDS MAX_RSS_KIB". The last run's
// stdout goes to OUT ("-": discarded). Exits 1 when a run fails.
//
//   bench_measure N OUT COMMAND [ARGS...]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/bench/child.hpp"

int main(int argc, char** argv) {
  if (argc < 4 || std::atoi(argv[1]) <= 0) {
    std::fprintf(stderr, "usage: bench_measure N OUT COMMAND [ARGS...]\n");
    return 2;
  }
  const int runs = std::atoi(argv[1]);
  const std::string out = std::string(argv[2]) == "-" ? std::string() : argv[2];
  const std::vector<std::string> command(argv + 3, argv + argc);
  std::vector<double> times;
  long max_rss = 0;
  for (int i = 0; i < runs; ++i) {
    const auto run = promote::bench::run_child(command, i + 1 == runs ? out : std::string());
    if (run.exit_code != 0) {
      std::fprintf(stderr, "bench_measure: %s exited with %d\n", argv[3], run.exit_code);
      return 1;
    }
    times.push_back(run.seconds);
    max_rss = std::max(max_rss, run.max_rss_kib);
  }
  std::sort(times.begin(), times.end());
  std::printf("%.6f %ld\n", times[times.size() / 2], max_rss);
  return 0;
}
