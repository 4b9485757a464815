// How a promotion whose target's places disagreed is shown: the report, its JSON, the GitHub
// step summary, and the record read back (`history --output json`, `explain ID`).
#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <sstream>

#include "engine/report/ci.hpp"
#include "engine/report/report.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/json.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using promote::promoter::PlaceValue;
using promote::promoter::PromotionResult;
using promote::test::contains;
using promote::test::TempDir;

// A promotion into prod whose target held api at 1.4.1 in one file and 1.4.0 in another.
PromotionResult disagreeing() {
  PromotionResult result;
  result.outcome = promote::promoter::Outcome::promoted;
  result.pipeline = "shop";
  result.stage = "prod";
  result.from = "staging";
  result.promotion_id = "20261130T100000Z-0000abcd";
  result.actor = "alice";
  result.candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.5.0").value();
  result.previous = {{"api", "ghcr.io/acme/api:1.4.1"}};
  result.places = {{"k8s/prod/api.yaml", "api", "ghcr.io/acme/api:1.4.1"},
                   {"k8s/prod/worker.yaml", "api", "ghcr.io/acme/api:1.4.0"}};
  return result;
}

// Sets (or, with nullopt, unsets) an environment variable for the life of the object.
class Env {
 public:
  Env(const char* name, const std::optional<std::string>& value) : m_name(name) {
    if (const char* old = std::getenv(name)) {
      m_old = old;
    }
    set(value);
  }
  ~Env() { set(m_old); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

 private:
  void set(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(m_name, value->c_str(), 1);
    } else {
      ::unsetenv(m_name);
    }
  }
  const char* m_name;
  std::optional<std::string> m_old;
};

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("the report of a promotion whose places disagreed lists what each place held") {
    PromotionResult result = disagreeing();
    CHECK(promote::report::render_text(result, {}) ==
          "promote shop: staging -> prod   candidate " + result.candidate.short_id() +
              "\n"
              "  api  ghcr.io/acme/api:1.4.1 -> ghcr.io/acme/api:1.5.0\n"
              "places that disagreed before:\n"
              "  k8s/prod/api.yaml: api ghcr.io/acme/api:1.4.1\n"
              "  k8s/prod/worker.yaml: api ghcr.io/acme/api:1.4.0\n"
              "outcome: promoted   id 20261130T100000Z-0000abcd\n");

    result.places.clear();
    CHECK_FALSE(contains(promote::report::render_text(result, {}), "places"));
  }

  TEST_CASE("what a place's file held reaches the terminal without an escape or a forged line") {
    CHECK(promote::report::places_text(
              {{"k8s/\x1b]0;pwned\x07.yaml", "api", "1.0\noutcome: promoted"},
               {"k8s/\xc2\x9b"
                "2J.yaml",
                "api", std::string("bad \xff utf-8 \x7f")},
               {"k8s/caf\xc3\xa9.yaml", "api", "ghcr.io/acme/api@sha256:" + std::string(64, 'a')}},
              "  ") ==
          "  places that disagreed before:\n"
          "    k8s/\\x1b]0;pwned\\x07.yaml: api 1.0\\x0aoutcome: promoted\n"
          "    k8s/\\u009b2J.yaml: api bad \\xff utf-8 \\x7f\n"
          "    k8s/caf\xc3\xa9.yaml: api ghcr.io/acme/api@sha256:aaaaaaaaaaaa\xe2\x80\xa6\n");
    CHECK(promote::report::places_text({}, "  ").empty());
  }

  TEST_CASE("the JSON of a promotion always holds places, and matches its schema") {
    PromotionResult result = disagreeing();
    const json document = promote::report::to_json(result);
    CHECK(document["places"] ==
          json::parse(R"([{"file":"k8s/prod/api.yaml","image":"api","value":"ghcr.io/acme/api:1.4.1"},
                          {"file":"k8s/prod/worker.yaml","image":"api","value":"ghcr.io/acme/api:1.4.0"}])"));
    result.places.clear();
    CHECK(promote::report::to_json(result)["places"] == json::array());

    if (promote::test::has_python_jsonschema()) {
      TempDir dir;
      const fs::path file = dir / "result.json";
      promote::test::write_text(file, document.dump());
      const auto checked = promote::test::run(
          {"/usr/bin/python3",
           std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
           std::string(PROMOTE_SOURCE_DIR) + "/schemas/promotion-result.schema.json",
           file.string()});
      INFO(checked.out << checked.err);
      CHECK(checked.exit_code == 0);
    }
  }

  TEST_CASE("the GitHub step summary lists what each place held") {
    TempDir dir;
    const Env actions("GITHUB_ACTIONS", "true");
    const Env gitlab("GITLAB_CI", std::nullopt);
    const Env summary("GITHUB_STEP_SUMMARY", (dir / "summary.md").string());
    const Env outputs("GITHUB_OUTPUT", (dir / "outputs").string());
    PromotionResult result = disagreeing();
    result.places.push_back({"k8s/prod/a|b.yaml", "api", "1.0`x"});
    std::ostringstream commands;
    CHECK(promote::report::write_ci_outputs(result, commands).empty());
    CHECK(contains(promote::test::read_text(dir / "summary.md"),
                   "| api | `ghcr.io/acme/api:1.4.1` | `ghcr.io/acme/api:1.5.0` |\n\n"
                   "Places that disagreed before:\n\n"
                   "- `k8s/prod/api.yaml`: api `ghcr.io/acme/api:1.4.1`\n"
                   "- `k8s/prod/worker.yaml`: api `ghcr.io/acme/api:1.4.0`\n"
                   "- `k8s/prod/a|b.yaml`: api ``1.0`x``\n\n"));
  }

  TEST_CASE("a record read back shows its places: explain ID, and history's JSON") {
    promote::history::PromotionRecord record;
    record.id = "20261130T100000Z-0000abcd";
    record.pipeline = "shop";
    record.stage = "prod";
    record.from = "staging";
    record.candidate_id = std::string(64, 'c');
    record.images = {{"api", "ghcr.io/acme/api:1.5.0"}};
    record.outcome = "promoted";
    record.actor = "alice";
    record.previous = {{"api", "ghcr.io/acme/api:1.4.1"}};
    record.places = json::array(
        {{{"file", "k8s/prod/api.yaml"}, {"image", "api"}, {"value", "ghcr.io/acme/api:1.4.1"}},
         {{"file", "k8s/prod/worker.yaml"}, {"image", "api"}, {"value", "ghcr.io/acme/api:1.4.0"}}});
    record.files = {"k8s/prod/api.yaml", "k8s/prod/worker.yaml"};
    CHECK(contains(promote::report::promotion_text(record),
                   "  candidate  " + record.candidate_id +
                       "\n"
                       "    api  ghcr.io/acme/api:1.4.1 -> ghcr.io/acme/api:1.5.0\n"
                       "  places that disagreed before:\n"
                       "    k8s/prod/api.yaml: api ghcr.io/acme/api:1.4.1\n"
                       "    k8s/prod/worker.yaml: api ghcr.io/acme/api:1.4.0\n"
                       "  files      2 changed\n"));
    CHECK(promote::report::history_json({record})[0]["places"] == record.places);

    record.places = json::array();
    CHECK_FALSE(contains(promote::report::promotion_text(record), "places"));
    CHECK(promote::report::history_json({record})[0]["places"] == json::array());
  }
}
