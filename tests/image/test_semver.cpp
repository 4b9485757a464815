#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/image/semver.hpp"

namespace {

using promote::image::compare;
using promote::image::is_version_range;
using promote::image::parse_semver;
using promote::image::SemVer;

SemVer version_of(const std::string& text) {
  auto parsed = parse_semver(text);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  return *parsed;
}

std::string error_of(const std::string& text) {
  auto parsed = parse_semver(text);
  REQUIRE_MESSAGE(parsed.has_error(), "accepted: " << text);
  CHECK(parsed.error().kind == promote::ErrorKind::usage);
  return parsed.error().message;
}

}  // namespace

TEST_SUITE("image") {
  TEST_CASE("parse_semver splits a version into its numbers, pre-release and build") {
    CHECK(version_of("1.4.2") == SemVer{1, 4, 2, {}, ""});
    CHECK(version_of("0.0.0") == SemVer{0, 0, 0, {}, ""});
    CHECK(version_of("10.20.30") == SemVer{10, 20, 30, {}, ""});
    CHECK(version_of("1.0.0-rc.1") == SemVer{1, 0, 0, {"rc", "1"}, ""});
    CHECK(version_of("1.0.0-alpha+001") == SemVer{1, 0, 0, {"alpha"}, "001"});
    CHECK(version_of("1.0.0+21AF26D3----117B344092BD") ==
          SemVer{1, 0, 0, {}, "21AF26D3----117B344092BD"});
    CHECK(version_of("1.0.0-x-y-z.--") == SemVer{1, 0, 0, {"x-y-z", "--"}, ""});
    CHECK(version_of("18446744073709551615.0.0").major == 18446744073709551615ULL);
  }

  TEST_CASE("parse_semver accepts the examples of semver.org and writes each back as it was") {
    for (const std::string text :
         {"1.9.0", "1.10.0", "1.11.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
          "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0-alpha+001", "1.0.0+20130313144700",
          "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD", "1.0.0-0A.is.legal",
          "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "2.0.0+build.1848"}) {
      CAPTURE(text);
      CHECK(version_of(text).to_string() == text);
    }
  }

  TEST_CASE("parse_semver says what keeps a text from being a version") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"1.2", "'1.2' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"", "'' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"1.2.3.4", "'1.2.3.4' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"1..3", "'1..3' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"latest", "'latest' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"1.2.3\n", "'1.2.3\\x0a' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"v1.2.3", "'v1.2.3' is not a SemVer 2.0 version: it starts with 'v' (write '1.2.3')"},
        {"V2.0.0-rc.1",
         "'V2.0.0-rc.1' is not a SemVer 2.0 version: it starts with 'V' (write '2.0.0-rc.1')"},
        {"v1.2", "'v1.2' is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)"},
        {"01.2.3",
         "'01.2.3' is not a SemVer 2.0 version: the major version '01' has a leading "
         "zero"},
        {"1.02.3",
         "'1.02.3' is not a SemVer 2.0 version: the minor version '02' has a leading "
         "zero"},
        {"1.2.00",
         "'1.2.00' is not a SemVer 2.0 version: the patch version '00' has a leading "
         "zero"},
        {"18446744073709551616.0.0",
         "'18446744073709551616.0.0' is not a SemVer 2.0 version: the major version "
         "'18446744073709551616' is too large"},
        {"1.2.3-", "'1.2.3-' is not a SemVer 2.0 version: the pre-release has an empty identifier"},
        {"1.2.3-rc..1",
         "'1.2.3-rc..1' is not a SemVer 2.0 version: the pre-release has an empty identifier"},
        {"1.2.3-01",
         "'1.2.3-01' is not a SemVer 2.0 version: the pre-release identifier '01' is "
         "a number with a leading zero"},
        {"1.2.3-rc_1",
         "'1.2.3-rc_1' is not a SemVer 2.0 version: the pre-release identifier 'rc_1' holds '_' "
         "(identifiers hold only 0-9, A-Z, a-z and '-')"},
        {"1.2.3+",
         "'1.2.3+' is not a SemVer 2.0 version: the build metadata has an empty "
         "identifier"},
        {"1.2.3+a+b",
         "'1.2.3+a+b' is not a SemVer 2.0 version: the build metadata identifier 'a+b' holds '+' "
         "(identifiers hold only 0-9, A-Z, a-z and '-')"},
        {">=1.0.0",
         "'>=1.0.0' is a version range, not a SemVer 2.0 version: an exact version is needed "
         "(e.g. 1.4.2)"},
        {"1.x",
         "'1.x' is a version range, not a SemVer 2.0 version: an exact version is needed "
         "(e.g. 1.4.2)"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.first);
      CHECK(error_of(c.first) == c.second);
    }
    // Build metadata may have leading zeros; a pre-release identifier with a letter too.
    CHECK(version_of("1.2.3+001").build == "001");
    CHECK(version_of("1.2.3-0a").prerelease == std::vector<std::string>{"0a"});
  }

  TEST_CASE("is_version_range tells the constraints of Helm, Flux and Argo CD from versions") {
    for (const std::string range : {">=1.0.0",
                                    ">= 1.8.0-rc.0",
                                    ">=1.0.0-alpha",
                                    "<2",
                                    "~1.2",
                                    "~1.2.3",
                                    "^1.2.3",
                                    "=1.2.3",
                                    "!=1.0.0",
                                    "1.x",
                                    "1.2.x",
                                    "1.2.*",
                                    "1.X",
                                    "*",
                                    "x",
                                    "v1.x",
                                    "18.x.x",
                                    ">=1.0.0 <2.0.0",
                                    ">= 1.2, < 3.0.0",
                                    "1.0.0 - 2.0.0",
                                    "^1.2 || ^2.0",
                                    "1.2.3 || 1.2.4",
                                    "  ~1.2  ",
                                    "~>1.2",
                                    "=>1.0.0",
                                    ">= 1.2 < 2",
                                    "1.2.3 1.2.4",
                                    "1.2.3-rc.1 - 2"}) {
      CAPTURE(range);
      CHECK(is_version_range(range));
    }
    for (const std::string version : {"1.2.3",
                                      "1.0.0-alpha",
                                      "1.0.0-x.7.z.92",
                                      "1.0.0+x",
                                      "v1.2.3",
                                      "1.2",
                                      "latest",
                                      "HEAD",
                                      "",
                                      "  ",
                                      "6.5.0",
                                      "1.2.3-rc.x",
                                      "main",
                                      "6.5.0 # note",
                                      "<",
                                      ">>1",
                                      "%1",
                                      "1.2.3 ||",
                                      "|| 1.2.3",
                                      "1.2.3.4",
                                      "a.b",
                                      "1..2",
                                      "1.2.3-",
                                      ">= ",
                                      "{{.chartVersion}}"}) {
      CAPTURE(version);
      CHECK_FALSE(is_version_range(version));
    }
  }

  TEST_CASE("compare ranks versions by the precedence of semver.org") {
    // The chains of semver.org, section 11.
    const std::vector<std::vector<std::string>> chains = {
        {"1.0.0", "2.0.0", "2.1.0", "2.1.1"},
        {"1.0.0-alpha", "1.0.0"},
        {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
        {"1.9.0", "1.10.0", "1.11.0"},
        {"1.0.0-2", "1.0.0-10", "1.0.0-10a", "1.0.0-A", "1.0.0-a"},
        {"1.0.0-99999999999999999999998", "1.0.0-99999999999999999999999"},
        {"0.9.99", "1.0.0-0", "1.0.0"},
    };
    for (const auto& chain : chains) {
      for (std::size_t i = 0; i < chain.size(); ++i) {
        for (std::size_t j = 0; j < chain.size(); ++j) {
          CAPTURE(chain[i]);
          CAPTURE(chain[j]);
          const int order = compare(version_of(chain[i]), version_of(chain[j]));
          CHECK(order == (i < j ? -1 : i > j ? 1 : 0));
        }
      }
    }
    // Build metadata does not count.
    CHECK(compare(version_of("1.0.0+20130313144700"), version_of("1.0.0+exp.sha.5114f85")) == 0);
    CHECK(compare(version_of("1.0.0-beta+exp.sha.5114f85"), version_of("1.0.0-beta")) == 0);
    CHECK(version_of("1.0.0+a") != version_of("1.0.0+b"));
  }
}
