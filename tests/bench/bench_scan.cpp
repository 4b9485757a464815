// Reads one report file as its gate does (the whole file, then the gate's parser) and
// prints what it counted, for tests/bench/run to time beside a peer tool:
//
//   bench_scan junit FILE   tests failures errors skipped
//   bench_scan trivy FILE   {"CRITICAL":N,"HIGH":N,...} (findings per severity, as jq -cS)

#include <cctype>
#include <cstdio>
#include <map>
#include <string>

#include "engine/util/files.hpp"
#include "gates/junit.hpp"
#include "gates/trivy.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_scan junit|trivy FILE\n");
    return 2;
  }
  const std::string kind = argv[1];
  auto bytes = promote::util::map_file(argv[2], promote::util::k_max_file_bytes,
                                       promote::gates::k_json_padding);
  if (!bytes) {
    std::fprintf(stderr, "%s\n", bytes.error().message.c_str());
    return 4;
  }
  const std::string_view text = bytes->view();
  if (kind == "junit") {
    auto counts = promote::gates::parse_junit(text, argv[2]);
    if (!counts) {
      std::fprintf(stderr, "%s\n", counts.error().message.c_str());
      return 4;
    }
    std::printf("%lld %lld %lld %lld\n", counts->tests, counts->failures, counts->errors,
                counts->skipped);
    return 0;
  }
  if (kind == "trivy") {
    auto report = promote::gates::parse_trivy(text, argv[2], promote::gates::k_json_padding);
    if (!report) {
      std::fprintf(stderr, "%s\n", report.error().message.c_str());
      return 4;
    }
    std::map<std::string, long long> counts;
    for (const auto& finding : report->findings) {
      std::string name = promote::gates::to_string(finding.severity);
      for (char& c : name) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      ++counts[name];
    }
    std::string out = "{";
    for (const auto& [name, count] : counts) {
      out += (out.size() > 1 ? ",\"" : "\"") + name + "\":" + std::to_string(count);
    }
    std::printf("%s}\n", out.c_str());
    return 0;
  }
  std::fprintf(stderr, "bench_scan: unknown kind %s\n", argv[1]);
  return 2;
}
