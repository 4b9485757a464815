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

  TEST_CASE("a digest computed beside the caller's work is the digest of the bytes") {
    const std::string small = "hello\n";
    const std::string large(std::size_t{5} << 20, 'x');
    // Below the threshold (computed at get()), above it (on a thread), and the default 4 MiB.
    CHECK(promote::util::Sha256Beside(small).get() == promote::util::sha256_hex(small));
    CHECK(promote::util::Sha256Beside(small, 1).get() ==
          "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    CHECK(promote::util::Sha256Beside(large).get() == promote::util::sha256_hex(large));
    CHECK(promote::util::Sha256Beside("").get() ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
}
