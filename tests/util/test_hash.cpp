// The random tokens of util/hash (the dashboard's session ids and CSRF tokens).
#include <doctest/doctest.h>

#include <set>

#include "engine/util/hash.hpp"

TEST_SUITE("util") {
  TEST_CASE("random hex is as long as asked, lower-case hex, and different every time") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
      const std::string token = promote::util::random_hex(32);
      REQUIRE(token.size() == 64);
      CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
      seen.insert(token);
    }
    CHECK(seen.size() == 100);
    CHECK(promote::util::random_hex(0).empty());
  }
}
