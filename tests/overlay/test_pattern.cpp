// Patch target patterns, matched as kustomize's Go regexp matches them, in linear time.
#include <doctest/doctest.h>

#include <string>

#include "engine/overlay/pattern.hpp"

using promote::overlay::match_pattern;

TEST_SUITE("overlay") {
  TEST_CASE("a target pattern matches the whole name, as kustomize anchors it") {
    CHECK(match_pattern("api", "api") == true);
    CHECK(match_pattern("api", "api-v2") == false);
    CHECK(match_pattern(".*-api", "shop-api") == true);
    CHECK(match_pattern(".*-api", "shop-api-2") == false);
    CHECK(match_pattern("Deployment|StatefulSet", "StatefulSet") == true);
    CHECK(match_pattern("Deployment|StatefulSet", "DaemonSet") == false);
    CHECK(match_pattern("^web-[a-z0-9]+$", "web-7f") == true);
    CHECK(match_pattern("web-[^.]+", "web-a.b") == false);
    CHECK(match_pattern("v\\d+beta\\d?", "v1beta") == true);
    CHECK(match_pattern("apps\\.example", "apps.example") == true);
    CHECK(match_pattern("apps\\.example", "appsxexample") == false);
    CHECK(match_pattern("a[|]b|c", "a|b") == true);
  }

  TEST_CASE("syntax promote does not read is said, not guessed") {
    CHECK_FALSE(match_pattern("(api|web)", "api").has_value());
    CHECK_FALSE(match_pattern("a{2}", "aa").has_value());
    CHECK_FALSE(match_pattern("*api", "api").has_value());
    CHECK_FALSE(match_pattern("a**", "a").has_value());
    CHECK_FALSE(match_pattern("[a-", "a").has_value());
  }

  TEST_CASE("a pattern that backtracking would take exponential time on is matched at once") {
    // (a*)*b style blow-ups cannot be written; a*a*...a*b on a long run of a's is the worst the
    // grammar allows, and is quadratic here.
    std::string pattern;
    for (int i = 0; i < 200; ++i) {
      pattern += "a*";
    }
    pattern += "b";
    CHECK(match_pattern(pattern, std::string(5000, 'a')) == false);
    CHECK(match_pattern(pattern, std::string(5000, 'a') + "b") == true);
  }
}
