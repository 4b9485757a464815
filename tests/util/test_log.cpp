// The lines promote writes on stderr: text as ever, or one JSON object a line (`promote serve
// --log-format json`), with the secrets hidden and hostile text escaped.

#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "engine/util/log.hpp"
#include "engine/util/time.hpp"
#include "tests/support/support.hpp"

namespace {

using namespace std::chrono_literals;
using promote::util::LogFormat;
using promote::util::Verbosity;

// Captures the lines written while it lives, in `format` and at `verbosity`; then puts back
// stderr, the text format and normal verbosity.
class Captured {
 public:
  explicit Captured(LogFormat format, Verbosity verbosity = Verbosity::normal) {
    promote::util::set_log_format(format);
    promote::util::set_verbosity(verbosity);
    promote::util::capture_log([this](std::string_view line) { lines.emplace_back(line); });
  }
  ~Captured() {
    promote::util::capture_log(nullptr);
    promote::util::set_log_format(LogFormat::text);
    promote::util::set_verbosity(Verbosity::normal);
  }
  Captured(const Captured&) = delete;
  Captured& operator=(const Captured&) = delete;

  std::vector<std::string> lines;
};

promote::util::AccessEntry entry(std::string_view path = "/api/v1/pipelines") {
  promote::util::AccessEntry out;
  out.method = "GET";
  out.path = path;
  out.status = 200;
  out.duration = 1'234'567ns;
  out.peer = "10.0.0.7";
  out.bytes = 512;
  return out;
}

}  // namespace

TEST_SUITE("util") {
  TEST_CASE(
      "a JSON line begins with the time in RFC 3339 UTC with milliseconds, the level and "
      "the message") {
    Captured log(LogFormat::json);
    const auto before = std::chrono::system_clock::now();
    promote::util::notice("waiting for another promote");
    const auto after = std::chrono::system_clock::now();
    REQUIRE(log.lines.size() == 1);
    const std::string& line = log.lines[0];
    CHECK(line.starts_with("{\"time\":\""));
    CHECK(line.find("\",\"level\":\"info\",\"message\":\"waiting for another promote\"}") !=
          std::string::npos);
    const auto parsed = nlohmann::json::parse(line);
    CHECK(parsed.size() == 3);
    const std::string time = parsed["time"];
    CHECK(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    const auto at = promote::util::parse_rfc3339(time);
    REQUIRE(at.has_value());
    CHECK(*at >= std::chrono::floor<std::chrono::milliseconds>(before));
    CHECK(*at <= after);
  }

  TEST_CASE("a hostile message is one line of JSON, all ASCII, that holds it byte for byte") {
    Captured log(LogFormat::json);
    const std::string hostile =
        "she said \"done\"}\n{\"level\":\"error\",\"message\":\"forged\"}\r\n"
        "tab\there back\\slash nul" +
        std::string(1, '\0') + " bell\a esc\x1b[31mred del\x7f sep\u2028 café";
    promote::util::notice(hostile);
    REQUIRE(log.lines.size() == 1);
    const std::string& line = log.lines[0];
    for (const char c : line) {
      const auto byte = static_cast<unsigned char>(c);
      CHECK_MESSAGE((byte >= 0x20 && byte < 0x7f), "byte " << static_cast<int>(byte));
    }
    CHECK(line.find("\\\"done\\\"}\\n{\\\"level\\\"") != std::string::npos);
    CHECK(line.find("\\u001b[31mred") != std::string::npos);
    CHECK(line.find("sep\\u2028 caf\\u00e9") != std::string::npos);
    const auto parsed = nlohmann::json::parse(line);
    CHECK(parsed["message"] == hostile);
    CHECK(parsed["level"] == "info");
  }

  TEST_CASE("bytes that are not UTF-8 come out as U+FFFD, not as a line that does not parse") {
    Captured log(LogFormat::json);
    promote::util::notice("latin-1 caf\xe9 and a cut \xe2\x82");
    REQUIRE(log.lines.size() == 1);
    CHECK(nlohmann::json::parse(log.lines[0])["message"] ==
          "latin-1 caf\xef\xbf\xbd and a cut \xef\xbf\xbd");
  }

  TEST_CASE("a secret's value is hidden in a JSON line, in its message and in its fields") {
    promote::test::ScopedEnv token("PROMOTE_GIT_TOKEN", "ghp_s3cr3tValue0123456789");
    Captured log(LogFormat::json);
    promote::util::notice("pushing with ghp_s3cr3tValue0123456789 to origin");
    promote::util::access(entry("/hooks/ghp_s3cr3tValue0123456789"));
    REQUIRE(log.lines.size() == 2);
    for (const auto& line : log.lines) {
      CHECK(line.find("s3cr3t") == std::string::npos);
    }
    CHECK(nlohmann::json::parse(log.lines[0])["message"] == "pushing with *** to origin");
    const auto access = nlohmann::json::parse(log.lines[1]);
    CHECK(access["path"] == "/hooks/***");
    CHECK(access["message"] == "GET /hooks/*** 200");
  }

  TEST_CASE("the service's webhook secrets are hidden as the other secrets are") {
    promote::test::ScopedEnv github("PROMOTE_GITHUB_WEBHOOK_SECRET", "whsec-github-0123456789");
    promote::test::ScopedEnv gitlab("PROMOTE_GITLAB_WEBHOOK_TOKEN", "whsec-gitlab-0123456789");
    promote::test::ScopedEnv image("PROMOTE_IMAGE_WEBHOOK_SECRET", "whsec-image-0123456789");
    Captured log(LogFormat::json);
    promote::util::notice(
        "echoed whsec-github-0123456789, whsec-gitlab-0123456789 and "
        "whsec-image-0123456789");
    REQUIRE(log.lines.size() == 1);
    CHECK(nlohmann::json::parse(log.lines[0])["message"] == "echoed ***, *** and ***");
  }

  TEST_CASE("a secret's value is hidden in the text lines as before") {
    promote::test::ScopedEnv token("PROMOTE_GIT_TOKEN", "ghp_s3cr3tValue0123456789");
    Captured log(LogFormat::text, Verbosity::verbose);
    promote::util::notice("pushing with ghp_s3cr3tValue0123456789 to origin");
    promote::util::debug("fetching with ghp_s3cr3tValue0123456789");
    promote::util::access(entry("/hooks/ghp_s3cr3tValue0123456789"));
    REQUIRE(log.lines.size() == 3);
    CHECK(log.lines[0] == "promote: pushing with *** to origin");
    CHECK(std::regex_match(
        log.lines[1], std::regex(R"(promote \[\d\d:\d\d:\d\d\.\d{3}\] fetching with \*\*\*)")));
    CHECK(std::regex_match(
        log.lines[2], std::regex(R"(promote \[[0-9:.]{12}\] 10\.0\.0\.7 GET /hooks/\*\*\* 200 )"
                                 R"(512 B 1\.2 ms)")));
  }

  TEST_CASE("an access line in JSON carries method, path, status, duration_ms, peer and bytes") {
    Captured log(LogFormat::json);
    promote::util::access(entry());
    REQUIRE(log.lines.size() == 1);
    const auto parsed = nlohmann::json::parse(log.lines[0]);
    CHECK(parsed["level"] == "info");
    CHECK(parsed["message"] == "GET /api/v1/pipelines 200");
    CHECK(parsed["method"] == "GET");
    CHECK(parsed["path"] == "/api/v1/pipelines");
    CHECK(parsed["status"] == 200);
    CHECK(parsed["status"].is_number_unsigned());
    CHECK(parsed["duration_ms"].get<double>() == doctest::Approx(1.235));
    CHECK(parsed["peer"] == "10.0.0.7");
    CHECK(parsed["bytes"] == 512);
    CHECK(parsed.size() == 9);
  }

  TEST_CASE(
      "an access line in text is a step of --verbose that shows a hostile path on one line, "
      "and '-' for what is not known") {
    Captured log(LogFormat::text, Verbosity::verbose);
    promote::util::access(entry("/a\nb\x1b[2J"));
    promote::util::AccessEntry refused;
    refused.status = 503;
    refused.peer = "10.0.0.8";
    promote::util::access(refused);
    REQUIRE(log.lines.size() == 2);
    REQUIRE(log.lines[0].size() > 23);
    CHECK(log.lines[0].substr(23) == "10.0.0.7 GET /a\\x0ab\\x1b[2J 200 512 B 1.2 ms");
    CHECK(log.lines[1].substr(23) == "10.0.0.8 - - 503 0 B 0.0 ms");
  }

  TEST_CASE("debug lines come out under --verbose only, with the level debug in JSON") {
    SUBCASE("normal") {
      Captured log(LogFormat::json);
      promote::util::debug("fetched origin");
      CHECK(log.lines.empty());
    }
    SUBCASE("verbose") {
      Captured log(LogFormat::json, Verbosity::verbose);
      promote::util::debug("fetched origin");
      REQUIRE(log.lines.size() == 1);
      const auto parsed = nlohmann::json::parse(log.lines[0]);
      CHECK(parsed["level"] == "debug");
      CHECK(parsed["message"] == "fetched origin");
    }
  }

  TEST_CASE("in text an access line needs --verbose, in JSON it needs no --quiet") {
    for (const auto verbosity : {Verbosity::quiet, Verbosity::normal, Verbosity::verbose}) {
      {
        Captured log(LogFormat::text, verbosity);
        promote::util::access(entry());
        CHECK(promote::util::access_logged() == (verbosity == Verbosity::verbose));
        CHECK(log.lines.size() == (verbosity == Verbosity::verbose ? 1 : 0));
      }
      Captured log(LogFormat::json, verbosity);
      promote::util::access(entry());
      CHECK(promote::util::access_logged() == (verbosity != Verbosity::quiet));
      CHECK(log.lines.size() == (verbosity != Verbosity::quiet ? 1 : 0));
    }
  }

  TEST_CASE("--quiet hides notices and access lines in either format") {
    for (const auto format : {LogFormat::text, LogFormat::json}) {
      Captured log(format, Verbosity::quiet);
      CHECK_FALSE(promote::util::access_logged());
      promote::util::notice("waiting");
      promote::util::access(entry());
      promote::util::debug("step");
      CHECK(log.lines.empty());
    }
  }
}
