// `--output json` of every command, checked against its JSON Schema in schemas/: the real
// promote binary run on the demo repository, each document it prints validated with
// tests/integration/validate_json.py (Python's jsonschema, references resolved offline),
// and each schema shown to reject a document with one wrong field.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::Shop;
using promote::test::write_text;

const std::string k_schema_dir = std::string(PROMOTE_SOURCE_DIR) + "/schemas/";
const std::string k_checker =
    std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py";

// Runs the schema checker: `schema` (a file name in schemas/) against `files`.
CommandResult check_schema(const std::string& schema, const std::vector<std::string>& files) {
  std::vector<std::string> argv = {"/usr/bin/python3", k_checker, k_schema_dir + schema};
  argv.insert(argv.end(), files.begin(), files.end());
  return promote::test::run(argv);
}

std::size_t count_lines(const std::string& text, const std::string& prefix) {
  std::size_t found = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    found += text.compare(at, prefix.size(), prefix) == 0 ? 1 : 0;
    at = end + 1;
  }
  return found;
}

// The JSON documents the commands printed, each saved to a file with the schema it must match.
class Documents {
 public:
  explicit Documents(const Shop& shop) : m_shop(shop) {}

  // Runs `promote ARGS --output json`, checks its exit code and keeps what it printed for
  // `schemas` (every schema the document must match).
  nlohmann::json run(std::vector<std::string> args, int exit_code,
                     const std::vector<std::string>& schemas,
                     const std::map<std::string, std::string>& env = {}) {
    args.push_back("--output");
    args.push_back("json");
    const CommandResult result = m_shop.promote(args, env);
    std::string command;
    for (const auto& arg : args) {
      command += " " + arg;
    }
    INFO("promote" << command << "\nstdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code == exit_code);
    const fs::path file = m_shop.dir / ("doc-" + std::to_string(++m_count) + ".json");
    write_text(file, result.out);
    for (const auto& schema : schemas) {
      m_files[schema].push_back(file.string());
    }
    const auto document = nlohmann::json::parse(result.out, nullptr, false);
    CHECK_FALSE(document.is_discarded());
    return document;
  }

  // Every document against its schemas: all valid.
  void check_all() const {
    for (const auto& [schema, files] : m_files) {
      const CommandResult checked = check_schema(schema, files);
      const auto& case_schema = schema;  // clang 14 cannot capture a structured binding
      INFO(case_schema << ":\n" << checked.out << checked.err);
      CHECK(checked.exit_code == 0);
      CHECK(count_lines(checked.out, "OK ") == files.size());
    }
  }

  // Which schemas have documents.
  std::vector<std::string> schemas() const {
    std::vector<std::string> out;
    for (const auto& [schema, files] : m_files) {
      out.push_back(schema);
    }
    return out;
  }

 private:
  const Shop& m_shop;
  int m_count = 0;
  std::map<std::string, std::vector<std::string>> m_files;
};

// A copy of the demo pipeline with two problems: an unknown gate and a bad duration.
std::string broken_pipeline(const Shop& shop) {
  std::string text = promote::test::read_text(shop.repo / "promote.yaml");
  text.replace(text.find("use: trivy"), 10, "use: trivvy");
  text.replace(text.find("min: 2h"), 7, "min: soon");
  return text;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("every command's --output json document matches its schema in schemas/" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    Shop shop;
    Documents docs(shop);
    const std::vector<std::string> result = {"promotion-result.schema.json"};
    const std::vector<std::string> decision = {"decision.schema.json"};
    const std::vector<std::string> hold = {"hold.schema.json"};
    const std::vector<std::string> error = {"error.schema.json"};

    docs.run({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, 0, result);
    const auto staged = docs.run({"--to", "staging"}, 0, result);
    CHECK(staged["places"] == nlohmann::json::array());  // the places of its target agree
    docs.run({"--to", "prod"}, 3, result);

    const auto approved = docs.run({"approve", "--stage", "prod", "--reason", "dashboards clean"},
                                   0, decision, {{"PROMOTE_ACTOR", "alice"}});
    CHECK(approved["decision"] == "approve");
    CHECK(approved["actor"] == "alice");
    CHECK(approved["images"]["api"] == "ghcr.io/acme/api:1.5.0");
    const auto rejected = docs.run({"reject", "--stage", "prod", "--reason", "load test first"}, 0,
                                   decision, {{"PROMOTE_ACTOR", "bob"}});
    CHECK(rejected["decision"] == "reject");
    CHECK(rejected["candidate_id"] == approved["candidate_id"]);

    const auto held = docs.run({"hold", "--stage", "prod", "--reason", "INC-1"}, 0, hold);
    CHECK(held["action"] == "hold");
    CHECK(held["reason"] == "INC-1");
    const auto released = docs.run({"release", "--stage", "prod"}, 0, hold);
    CHECK(released["action"] == "release");
    CHECK(released["reason"] == "");

    const auto status = docs.run({"status"}, 0, {"status.schema.json"});
    REQUIRE(status["stages"].size() == 3);
    CHECK(status["stages"][1]["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.5.0");
    CHECK(status["stages"][0]["from"].is_null());

    const auto listed = docs.run({"history"}, 0, {"history.schema.json"});
    REQUIRE(listed.size() == 3);  // newest first: prod (pending), staging, dev
    CHECK(listed[0]["outcome"] == "pending");
    CHECK(listed[1]["gates"].size() == 2);
    CHECK(listed[1]["files"] == nlohmann::json{"k8s/overlays/staging/kustomization.yaml"});
    CHECK(listed[1]["places"] == nlohmann::json::array());
    const std::string staging = listed[1]["id"];
    const std::string prod = listed[0]["id"];

    const auto shown = docs.run({"history", "show", staging}, 0, {"history-record.schema.json"});
    CHECK(shown == listed[1]);
    const auto explained = docs.run({"explain", prod}, 0, {"history-record.schema.json"});
    CHECK(explained == listed[0]);

    const auto verified = docs.run({"audit", "verify"}, 0, {"audit-verify.schema.json"});
    CHECK(verified["ok"] == true);
    CHECK(verified["promotions"] == 3);
    CHECK(verified["approvals"] == 2);
    CHECK(verified["holds"] == 2);
    CHECK(verified["head"] == listed[0]["hash"]);
    CHECK(verified["broken"].is_null());
    CHECK(verified["anchors"].get<int>() > 0);

    const auto valid = docs.run({"validate"}, 0, {"validate.schema.json"});
    CHECK(valid == nlohmann::json::parse(R"({
      "file": "promote.yaml", "ok": true, "pipeline": "shop",
      "images": [{"name": "api", "repository": "ghcr.io/acme/api"},
                 {"name": "web", "repository": "ghcr.io/acme/web"}],
      "stages": [
        {"name": "dev", "from": null, "strategy": "commit",
         "targets": ["k8s/overlays/dev"], "gates": []},
        {"name": "staging", "from": "dev", "strategy": "commit",
         "targets": ["k8s/overlays/staging"], "gates": ["junit", "trivy"]},
        {"name": "prod", "from": "staging", "strategy": "commit",
         "targets": ["k8s/overlays/prod"], "gates": ["soak", "junit", "approval"]}],
      "notes": []})"));

    // A pipeline with two problems: one error document, every problem a line of its message.
    write_text(shop.repo / "broken.yaml", broken_pipeline(shop));
    const auto invalid = docs.run({"validate", "-f", "broken.yaml"}, 2,
                                  {"validate.schema.json", "error.schema.json"});
    CHECK(invalid["outcome"] == "error");
    CHECK(invalid["error"]["kind"] == "config");
    CHECK(invalid["error"]["message"] ==
          "broken.yaml:38:14: unknown gate 'trivvy' (did you mean 'trivy'?)\n"
          "broken.yaml:56:16: 'min' must be a duration such as 90s, 5m, 2h or 1d, got 'soon'");

    // Failures before any work: the error document, whatever the command.
    const auto unknown = docs.run({"history", "show", "20990101T000000Z-deadbeef"}, 2,
                                  {"history-record.schema.json", "error.schema.json"});
    CHECK(unknown["error"]["kind"] == "usage");
    const auto nowhere = docs.run({"approve", "--stage", "nowhere"}, 2,
                                  {"decision.schema.json", "error.schema.json"});
    CHECK(nowhere["error"]["kind"] == "usage");
    const auto missing =
        docs.run({"status", "-f", "missing.yaml"}, 2, {"status.schema.json", "error.schema.json"});
    CHECK(
        missing["error"] ==
        nlohmann::json{{"kind", "config"}, {"message", "missing.yaml: No such file or directory"}});
    docs.run({"--to", "nowhere"}, 2, {"promotion-result.schema.json", "error.schema.json"});

    // A runner that lost its history rebuilds it from the notes in git.
    fs::remove_all(shop.repo / ".promote");
    const auto synced = docs.run({"history", "sync"}, 0, {"history-sync.schema.json"});
    CHECK(synced["notes_ref"] == "refs/notes/promote");
    CHECK(synced["remote"] == "origin");
    CHECK(synced["records"] == 7);
    CHECK(synced["added"] == nlohmann::json{{"promotions", 3}, {"approvals", 2}, {"holds", 2}});
    CHECK(synced["problems"] == nlohmann::json::array());

    docs.check_all();
    CHECK(docs.schemas() ==
          std::vector<std::string>{"audit-verify.schema.json", "decision.schema.json",
                                   "error.schema.json", "history-record.schema.json",
                                   "history-sync.schema.json", "history.schema.json",
                                   "hold.schema.json", "promotion-result.schema.json",
                                   "status.schema.json", "validate.schema.json"});
  }

  TEST_CASE("audit verify --output json on a tampered history is a valid document naming the row" *
            doctest::skip(!promote::test::has_python_jsonschema() ||
                          !promote::test::has_program("sqlite3"))) {
    Shop shop;
    Documents docs(shop);
    docs.run({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, 0,
             {"promotion-result.schema.json"});
    const auto listed = docs.run({"history"}, 0, {"history.schema.json"});
    REQUIRE(listed.size() == 1);
    const CommandResult tampered =
        promote::test::run({"sqlite3", (shop.repo / ".promote/history.db").string(),
                            "UPDATE promotions SET actor = 'mallory' WHERE seq = 1"});
    REQUIRE(tampered.exit_code == 0);
    const auto verified = docs.run({"audit", "verify"}, 1, {"audit-verify.schema.json"});
    CHECK(verified["ok"] == false);
    CHECK(verified["head"] == "");
    CHECK(verified["broken"] ==
          nlohmann::json{{"table", "promotions"},
                         {"seq", 1},
                         {"id", listed[0]["id"]},
                         {"why", "its hash does not match its content or the row before it"}});
    docs.check_all();
  }

  TEST_CASE("each JSON output schema rejects a document with one wrong field" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    promote::test::TempDir tmp;
    const std::string candidate(64, 'a');
    const std::string time = "2026-11-23T18:32:00.123Z";
    const nlohmann::json record = {
        {"id", "20261123T183200Z-3f9a1c2b"},
        {"pipeline", "shop"},
        {"pipeline_file", "promote.yaml"},
        {"stage", "staging"},
        {"from", "dev"},
        {"candidate_id", candidate},
        {"images", {{"api", "ghcr.io/acme/api:1.5.0"}}},
        {"charts", {{"podinfo", "6.5.0"}}},
        {"carried", nlohmann::json::object()},
        {"outcome", "promoted"},
        {"healthy_since", nullptr},
        {"actor", "ci"},
        {"reason", ""},
        {"break_glass", false},
        {"ci_provider", "github"},
        {"ci_run_url", "https://ci.example/run/1"},
        {"commit", std::string(40, 'c')},
        {"pull_request", ""},
        {"rollback_of", ""},
        {"gates_skipped", false},
        {"error", ""},
        {"started_at", time},
        {"finished_at", time},
        {"previous", {{"api", "ghcr.io/acme/api:1.4.2"}}},
        {"places",
         {{{"file", "k8s/overlays/staging/kustomization.yaml"},
           {"image", "api"},
           {"value", "ghcr.io/acme/api:1.4.2"}},
          {{"file", "k8s/overlays/staging/worker.yaml"},
           {"image", "api"},
           {"value", "ghcr.io/acme/api:1.4.1"}}}},
        {"files", {"k8s/overlays/staging/kustomization.yaml"}},
        {"hash", std::string(64, 'b')},
        {"gates",
         {{{"name", "junit"},
           {"use", "junit"},
           {"status", "pass"},
           {"summary", "3 tests"},
           {"details", nlohmann::json::object()},
           {"config", {{"path", "*.xml"}}},
           {"retry_after_seconds", nullptr},
           {"evidence", {{{"path", "a.xml"}, {"sha256", std::string(64, 'd')}}}}}}}};
    const nlohmann::json verification = {{"outcome", "verified"},
                                         {"pipeline", "shop"},
                                         {"stage", "staging"},
                                         {"candidate",
                                          {{"id", candidate},
                                           {"short_id", candidate.substr(0, 12)},
                                           {"images", {{"api", "ghcr.io/acme/api:1.4.2"}}},
                                           {"charts", nlohmann::json::object()},
                                           {"files", nlohmann::json::object()}}},
                                         {"commit", std::string(40, 'e')},
                                         {"entered_source", "history"},
                                         {"gates", record["gates"]},
                                         {"healthy_since", "2026-11-23T18:32:00Z"},
                                         {"healthy_source", "this run"},
                                         {"recorded", "20261123T183300Z-0a1b2c3d"},
                                         {"actor", "ci"},
                                         {"warnings", nlohmann::json::array()},
                                         {"started_at", "2026-11-23T18:33:00Z"}};
    const nlohmann::json stage = {{"name", "dev"},
                                  {"from", nullptr},
                                  {"target", "k8s/overlays/dev"},
                                  {"candidate",
                                   {{"id", candidate},
                                    {"images", {{"api", "x"}}},
                                    {"charts", nlohmann::json::object()},
                                    {"files", nlohmann::json::object()}}},
                                  {"entered_at", time},
                                  {"entered_source", "history"}};
    const nlohmann::json error = {{"outcome", "error"},
                                  {"error", {{"kind", "usage"}, {"message", "no stage 'x'"}}}};
    struct Case {
      std::string schema;
      nlohmann::json valid;
      std::string pointer;  // the field made wrong
      nlohmann::json wrong;
      std::string at;  // where the checker must say the document breaks the schema
    };
    const std::vector<Case> cases = {
        {"history.schema.json", nlohmann::json::array({record}), "/0/outcome", "planned",
         "$[0].outcome"},
        {"history-record.schema.json", record, "/gates/0/evidence/0/sha256", "abc",
         "$.gates[0].evidence[0].sha256"},
        {"history-record.schema.json", record, "/places/1/value", nullptr, "$.places[1].value"},
        {"verification.schema.json", verification, "/outcome", "promoted", "$.outcome"},
        {"verification.schema.json", verification, "/healthy_since", "yesterday",
         "$.healthy_since"},
        {"status.schema.json",
         {{"pipeline", "shop"}, {"stages", {stage}}},
         "/stages/0/candidate/id",
         "1.5.0",
         "$.stages[0].candidate.id"},
        {"decision.schema.json",
         {{"pipeline", "shop"},
          {"stage", "prod"},
          {"candidate_id", candidate},
          {"images", nullptr},
          {"decision", "approve"},
          {"actor", "alice"},
          {"reason", ""},
          {"at", "2026-11-23T18:32:00Z"}},
         "/decision",
         "maybe",
         "$.decision"},
        {"hold.schema.json",
         {{"pipeline", "shop"},
          {"stage", "prod"},
          {"action", "release"},
          {"actor", "alice"},
          {"reason", ""},
          {"at", "2026-11-23T18:32:00Z"}},
         "/at",
         time,
         "$.at"},
        {"audit-verify.schema.json",
         {{"history", ".promote/history.db"},
          {"ok", true},
          {"promotions", 1},
          {"approvals", 0},
          {"holds", 0},
          {"head", std::string(64, 'e')},
          {"database", std::string(32, 'd')},
          {"anchors", 2},
          {"other_anchors", 0},
          {"anchor_problems", nlohmann::json::array()},
          {"signatures", nullptr},
          {"broken", nullptr}},
         "/ok",
         false,
         "$.broken"},
        {"history-sync.schema.json",
         {{"history", ".promote/history.db"},
          {"pipeline", "shop"},
          {"pipeline_file", "promote.yaml"},
          {"other_pipelines", 0},
          {"remote", "origin"},
          {"notes_ref", "refs/notes/promote"},
          {"notes", 1},
          {"records", 2},
          {"added", {{"promotions", 1}, {"approvals", 1}, {"holds", 0}}},
          {"problems", nlohmann::json::array()}},
         "/added/holds",
         -1,
         "$.added.holds"},
        {"validate.schema.json",
         {{"file", "promote.yaml"},
          {"ok", true},
          {"pipeline", "shop"},
          {"images", {{{"name", "api"}, {"repository", "ghcr.io/acme/api"}}}},
          {"stages",
           {{{"name", "dev"},
             {"from", nullptr},
             {"strategy", "commit"},
             {"targets", {"k8s/overlays/dev"}},
             {"gates", nlohmann::json::array()}}}},
          {"notes", nlohmann::json::array()}},
         "/stages/0/strategy",
         "merge",
         "$.stages[0].strategy"},
        {"error.schema.json", error, "/error/kind", "oops", "$.error.kind"},
    };
    for (const auto& test : cases) {
      CAPTURE(test.schema);
      const fs::path good = tmp / "good.json";
      const fs::path bad = tmp / "bad.json";
      write_text(good, test.valid.dump());
      nlohmann::json broken = test.valid;
      broken[nlohmann::json::json_pointer(test.pointer)] = test.wrong;
      write_text(bad, broken.dump());
      const CommandResult checked = check_schema(test.schema, {good.string(), bad.string()});
      INFO(checked.out << checked.err);
      CHECK(checked.exit_code == 1);
      CHECK(checked.out.starts_with("OK " + good.string() + "\nINVALID " + bad.string() + ": "));
      CHECK(checked.out.ends_with(" (at " + test.at + ")\n"));
    }
  }
}
