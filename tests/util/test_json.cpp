// JSON text from strings that are not valid UTF-8: replaced, never thrown.

#include <doctest/doctest.h>

#include "engine/util/json.hpp"

TEST_SUITE("util") {
  TEST_CASE("dump_json writes invalid UTF-8 as U+FFFD instead of throwing") {
    const nlohmann::json value = {{"stderr", "bad \xff byte"}, {"ok", "caf\xc3\xa9"}};
    CHECK_THROWS(value.dump());
    CHECK(promote::util::dump_json(value) == "{\"ok\":\"caf\xc3\xa9\",\"stderr\":\"bad \xef\xbf\xbd byte\"}");
    CHECK(promote::util::dump_json(nlohmann::json{{"a", 1}}, 2) == "{\n  \"a\": 1\n}");
  }

  TEST_CASE("valid_utf8 replaces bad bytes in strings, keys and nested values") {
    CHECK(promote::util::valid_utf8(std::string("a\xff\xfe" "b")) == "a\xef\xbf\xbd\xef\xbf\xbd" "b");
    CHECK(promote::util::valid_utf8(std::string("plain")) == "plain");
    const nlohmann::json fixed =
        promote::util::valid_utf8(nlohmann::json{{"k\xff", {1, "x\xc3"}}});
    CHECK(fixed.dump() == "{\"k\xef\xbf\xbd\":[1,\"x\xef\xbf\xbd\"]}");
  }
}
