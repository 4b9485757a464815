#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/pipeline/config_node.hpp"

namespace {

using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;
using promote::pipeline::did_you_mean;
using promote::pipeline::format_duration;
using promote::pipeline::parse_duration;
using std::chrono::seconds;

/// Parses `yaml` as the file "f.yaml" and returns the value under `key` of its root map.
struct Parsed {
  Diagnostics diagnostics;
  YAML::Node root;
  ConfigNode node() { return ConfigNode(root, "f.yaml", diagnostics); }
  ConfigNode at(const std::string& key) {
    auto value = node().get(key);
    REQUIRE(value.has_value());
    return *value;
  }
  explicit Parsed(const std::string& yaml) : root(YAML::Load(yaml)) {}
};

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("durations parse from units s, m, h, d and w") {
    CHECK(parse_duration("0s") == seconds(0));
    CHECK(parse_duration("90s") == seconds(90));
    CHECK(parse_duration("5m") == seconds(300));
    CHECK(parse_duration("2h") == seconds(7200));
    CHECK(parse_duration("1d") == seconds(86400));
    CHECK(parse_duration("1w") == seconds(604800));
    CHECK(parse_duration("1h30m") == seconds(5400));
    CHECK(parse_duration("1d12h") == seconds(129600));
    for (const char* bad : {"", "5", "m", "h1", "-1s", "1.5h", "1 h", "2hours", "1H", "1h 30m",
                            "99999999999999999999s", "9999999999w"}) {
      CAPTURE(bad);
      CHECK(parse_duration(bad) == std::nullopt);
    }
  }

  TEST_CASE("durations format with the largest units first") {
    CHECK(format_duration(seconds(0)) == "0s");
    CHECK(format_duration(seconds(-5)) == "0s");
    CHECK(format_duration(seconds(45)) == "45s");
    CHECK(format_duration(seconds(7200)) == "2h");
    CHECK(format_duration(seconds(5400)) == "1h30m");
    CHECK(format_duration(seconds(90061)) == "1d1h1m1s");
  }

  TEST_CASE("did_you_mean suggests the closest word within a third of its length") {
    const std::vector<std::string> fields = {"name", "from", "target", "strategy", "gates"};
    CHECK(did_you_mean("nmae", fields) == "name");
    CHECK(did_you_mean("form", fields) == "from");
    CHECK(did_you_mean("targte", fields) == "target");
    CHECK(did_you_mean("stratgey", fields) == "strategy");
    CHECK(did_you_mean("gate", fields) == "gates");
    CHECK(did_you_mean("x", fields) == "");
    CHECK(did_you_mean("approvers", fields) == "");
    CHECK(did_you_mean("tgrt", fields) == "");
    CHECK(did_you_mean("junti", {"junit", "soak"}) == "junit");
    CHECK(did_you_mean("soak", {}) == "");
  }

  TEST_CASE("typed scalars report what they expected and what they got") {
    Parsed parsed(
        "n: 0.5\ni: 42\nb: true\ns: [a, b]\nm: {k: v}\nempty:\nlist: a\nmixed: [a, [b]]\n");
    CHECK(parsed.at("n").as_number("n") == 0.5);
    CHECK(parsed.at("i").as_integer("i") == 42);
    CHECK(parsed.at("i").as_number("i") == 42.0);
    CHECK(parsed.at("b").as_bool("b") == true);
    CHECK(parsed.at("i").as_string("i") == "42");
    CHECK(parsed.at("list").as_string_list("list") == std::vector<std::string>{"a"});
    CHECK(parsed.at("s").as_string_list("s") == std::vector<std::string>{"a", "b"});
    CHECK(parsed.diagnostics.empty());

    CHECK(parsed.at("n").as_integer("n") == std::nullopt);
    CHECK(parsed.at("b").as_number("b") == std::nullopt);
    CHECK(parsed.at("i").as_bool("i") == std::nullopt);
    CHECK(parsed.at("s").as_string("s") == std::nullopt);
    CHECK(parsed.at("m").as_duration("m") == std::nullopt);
    CHECK(parsed.at("empty").as_string("empty") == std::nullopt);
    CHECK(parsed.at("m").as_string_list("m") == std::nullopt);
    CHECK(parsed.at("mixed").as_string_list("mixed") == std::nullopt);
    CHECK(parsed.at("i").items("i").empty());
    CHECK(parsed.at("s").entries("s").empty());
    CHECK(parsed.diagnostics.messages() ==
          std::vector<std::string>{
              "f.yaml:1:4: 'n' must be an integer, got '0.5'",
              "f.yaml:3:4: 'b' must be a number, got 'true'",
              "f.yaml:2:4: 'i' must be true or false, got '42'",
              "f.yaml:4:4: 's' must be a string, got a list",
              "f.yaml:5:4: 'm' must be a duration such as 90s, 5m, 2h or 1d, got a mapping",
              "f.yaml:6:1: 'empty' must be a string, got nothing",
              "f.yaml:5:4: 'm' must be a string or a list of strings, got a mapping",
              "f.yaml:8:12: 'mixed' must be a string, got a list",
              "f.yaml:2:4: 'i' must be a list, got '42'",
              "f.yaml:4:4: 's' must be a mapping, got a list",
          });
  }

  TEST_CASE("numbers that are not finite are refused") {
    Parsed parsed("a: inf\nb: nan\nc: 1e3\n");
    CHECK(parsed.at("a").as_number("a") == std::nullopt);
    CHECK(parsed.at("b").as_number("b") == std::nullopt);
    CHECK(parsed.at("c").as_number("c") == 1000.0);
    CHECK(parsed.diagnostics.messages().size() == 2);
  }

  TEST_CASE("a missing or empty value reports where its key or parent is") {
    Parsed parsed("outer:\n  inner:\nnext: 1\n");
    const ConfigNode outer = parsed.at("outer");
    const auto inner = outer.get("inner");
    REQUIRE(inner.has_value());
    CHECK(inner->is_null());
    CHECK(inner->location().to_string() == "f.yaml:2:3");
    const ConfigNode absent = ConfigNode::absent(outer);
    CHECK(absent.is_null());
    CHECK(absent.location().to_string() == "f.yaml:2:3");
    CHECK(ConfigNode::absent(parsed.node()).location().to_string() == "f.yaml:1:1");
    CHECK(outer.get("missing") == std::nullopt);
    CHECK(outer.require("missing", "outer") == std::nullopt);
    CHECK(parsed.diagnostics.messages() ==
          std::vector<std::string>{"f.yaml:2:3: missing required field 'missing' in outer"});
  }

  TEST_CASE("expect_map reports keys that are unknown, repeated or not plain") {
    Parsed parsed("{name: a, nmae: b, name: c, [x]: d}\n");
    CHECK(parsed.node().expect_map("thing", {"name"}));
    CHECK(parsed.diagnostics.messages() ==
          std::vector<std::string>{
              "f.yaml:1:11: unknown field 'nmae' in thing (did you mean 'name'?)",
              "f.yaml:1:20: duplicate field 'name' in thing",
              "f.yaml:1:29: keys of thing must be plain names",
          });
    CHECK(parsed.diagnostics.to_error().kind == promote::ErrorKind::config);
    CHECK(parsed.diagnostics.to_error().message ==
          "f.yaml:1:11: unknown field 'nmae' in thing (did you mean 'name'?)\n"
          "f.yaml:1:20: duplicate field 'name' in thing\n"
          "f.yaml:1:29: keys of thing must be plain names");
    Parsed list("[a]\n");
    CHECK_FALSE(list.node().expect_map("thing", {"name"}));
    CHECK(list.diagnostics.messages() ==
          std::vector<std::string>{"f.yaml:1:1: thing must be a mapping, got a list"});
  }
}
