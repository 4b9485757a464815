// Parses a generated 100,000-testcase JUnit report repeatedly with parse_junit and prints
// its size, throughput and the peak resident set size before and after parsing.
//
//   bench_junit [runs]          (default 20)
//   bench_junit --write FILE    writes the generated report to FILE instead

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gates/junit.hpp"

namespace {

constexpr int k_testcases = 100000;
constexpr int k_suite_size = 100;

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// A Maven-Surefire-like report: suites of 100 cases, every 20th failing with a multi-line
// message and stack trace, every 50th skipped, and a system-out block per suite.
std::string generate() {
  std::string xml;
  xml.reserve(std::size_t{160} * k_testcases);  // no reallocation: keeps the "before" peak honest
  xml += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"bench\">\n";
  for (int suite = 0; suite < k_testcases / k_suite_size; ++suite) {
    const std::string name = "com.example.module" + std::to_string(suite % 37) + ".Service" +
                             std::to_string(suite) + "Test";
    xml += "  <testsuite name=\"" + name +
           "\" tests=\"100\" time=\"1.234\" "
           "timestamp=\"2024-05-01T10:00:00\" hostname=\"ci-runner-7\">\n"
           "    <properties>\n      <property name=\"java.version\" value=\"17.0.11\"/>\n"
           "    </properties>\n";
    for (int i = 0; i < k_suite_size; ++i) {
      const int n = suite * k_suite_size + i;
      xml += "    <testcase name=\"shouldHandleCase" + std::to_string(n) +
             "WithInput\" classname=\"" + name + "\" time=\"0.0" + std::to_string(n % 90 + 10) +
             "\"";
      if (n % 20 == 7) {
        xml += ">\n      <failure message=\"expected:&lt;" + std::to_string(n) +
               "&gt; but was:&lt;" + std::to_string(n + 1) +
               "&gt;\" type=\"org.opentest4j.AssertionFailedError\">"
               "org.opentest4j.AssertionFailedError: expected: &lt;" +
               std::to_string(n) + "&gt; but was: &lt;" + std::to_string(n + 1) +
               "&gt;\n\tat org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)\n"
               "\tat org.junit.jupiter.api.AssertEquals.assertEquals(AssertEquals.java:150)\n"
               "\tat " +
               name + ".shouldHandleCase(" + name + ".java:" + std::to_string(40 + i) +
               ")\n\tat java.base/java.lang.reflect.Method.invoke(Method.java:568)\n"
               "</failure>\n    </testcase>\n";
      } else if (n % 50 == 13) {
        xml += ">\n      <skipped message=\"disabled until PROJ-" + std::to_string(n) +
               " is fixed\"/>\n    </testcase>\n";
      } else {
        xml += "/>\n";
      }
    }
    xml += "    <system-out><![CDATA[INFO  starting " + name +
           "\nDEBUG pool size 8\nINFO  finished]]></system-out>\n  </testsuite>\n";
  }
  xml += "</testsuites>\n";
  return xml;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write") {
    std::ofstream out(argv[2], std::ios::binary);
    out << generate();
    return out.good() ? 0 : 1;
  }
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  if (runs <= 0) {
    std::fprintf(stderr, "usage: bench_junit [runs > 0]\n");
    return 2;
  }
  const std::string xml = generate();
  const long rss_before = peak_rss_kib();

  promote::gates::JunitCounts counts;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < runs; ++run) {
    auto result = promote::gates::parse_junit(xml, "bench.xml");
    if (!result) {
      std::fprintf(stderr, "%s\n", result.error().message.c_str());
      return 1;
    }
    counts = *result;
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  const long rss_after = peak_rss_kib();

  const double mb = static_cast<double>(xml.size()) / (1024.0 * 1024.0);
  std::printf("%-28s %s\n", "measure", "value");
  std::printf("%-28s %.2f MiB (%zu bytes)\n", "file size", mb, xml.size());
  std::printf("%-28s %lld tests, %lld failures, %lld skipped\n", "counted", counts.tests,
              counts.failures, counts.skipped);
  std::printf("%-28s %d\n", "runs", runs);
  std::printf("%-28s %.2f ms\n", "time per parse", elapsed.count() * 1000.0 / runs);
  std::printf("%-28s %.0f MiB/s\n", "throughput", mb * runs / elapsed.count());
  std::printf("%-28s %.1f MiB\n", "peak RSS before parsing", rss_before / 1024.0);
  std::printf("%-28s %.1f MiB\n", "peak RSS after parsing", rss_after / 1024.0);
  std::printf("%-28s %.1f MiB (%.1fx the file)\n", "parse overhead",
              (rss_after - rss_before) / 1024.0, (rss_after - rss_before) / 1024.0 / mb);
  return counts.tests == k_testcases ? 0 : 1;
}
