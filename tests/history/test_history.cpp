#include "engine/history/history.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/history/canonical.hpp"
#include "engine/util/json.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace history = promote::history;
using promote::ErrorKind;
using promote::test::TempDir;
using TimePoint = std::chrono::system_clock::time_point;

const std::string k_candidate_a(64, 'a');
const history::PipelineId k_shop{"shop", ""};  // the records of every file of pipeline shop
const std::string k_candidate_b =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TimePoint at(const std::string& text) {
  return history::parse_time(text).value();
}

history::PromotionRecord promotion(const std::string& id, const std::string& stage,
                                   const std::string& outcome, const std::string& started) {
  history::PromotionRecord record;
  record.id = id;
  record.pipeline = "shop";
  record.stage = stage;
  record.from = "dev";
  record.candidate_id = k_candidate_a;
  record.images = {{"api", "ghcr.io/acme/api:1.4.2"}};
  record.outcome = outcome;
  record.actor = "alice";
  record.started = at(started);
  record.finished = record.started + std::chrono::seconds(3);
  return record;
}

std::vector<std::string> ids(const std::vector<history::PromotionRecord>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) {
    out.push_back(record.id);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    out += part + "\n";
  }
  return out;
}

// Every object in sqlite_master, one line each, in a stable order.
std::string schema_of(SQLite::Database& db) {
  SQLite::Statement select(db,
                           "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
                           "ORDER BY type, name");
  std::vector<std::string> rows;
  while (select.executeStep()) {
    rows.push_back(select.getColumn(0).getString() + " " + select.getColumn(1).getString() +
                   " on " + select.getColumn(2).getString() + ": " +
                   select.getColumn(3).getString());
  }
  return join(rows);
}

long long count_rows(const fs::path& file, const std::string& table) {
  SQLite::Database db(file, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM " + table).getInt64();
}

}  // namespace

TEST_SUITE("history") {
  TEST_CASE("times format as ISO-8601 UTC with milliseconds and parse back") {
    const TimePoint epoch{};
    CHECK(history::format_time(epoch) == "1970-01-01T00:00:00.000Z");
    const TimePoint moment =
        std::chrono::sys_days(std::chrono::year(2026) / 11 / 23) + std::chrono::hours(18) +
        std::chrono::minutes(32) + std::chrono::milliseconds(123) + std::chrono::microseconds(999);
    CHECK(history::format_time(moment) == "2026-11-23T18:32:00.123Z");
    CHECK(history::parse_time("2026-11-23T18:32:00.123Z").value() ==
          std::chrono::floor<std::chrono::milliseconds>(moment));
    CHECK(history::parse_time("2026-11-23T18:32:00Z").value() ==
          at("2026-11-23T18:32:00.000Z"));
    CHECK(history::format_time(at("1969-12-31T23:59:59.999Z")) == "1969-12-31T23:59:59.999Z");
    CHECK(history::format_time(at("2024-02-29T00:00:00.001Z")) == "2024-02-29T00:00:00.001Z");
    CHECK(history::format_time(at("1999-12-31T23:59:59.999Z")) <
          history::format_time(at("2000-01-01T00:00:00.000Z")));
  }

  TEST_CASE("a malformed or impossible time is an input error that quotes it") {
    const auto error_of = [](const std::string& text) {
      auto parsed = history::parse_time(text);
      REQUIRE(parsed.has_error());
      CHECK(parsed.error().kind == ErrorKind::input);
      return parsed.error().message;
    };
    SUBCASE("shape") {
      CHECK(error_of("") == "invalid time '': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("yesterday") ==
            "invalid time 'yesterday': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("2026-11-23 18:32:00.123Z") ==
            "invalid time '2026-11-23 18:32:00.123Z': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("2026-11-23T18:32:00.123") ==
            "invalid time '2026-11-23T18:32:00.123': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("2026-11-23T18:32:00.12Z") ==
            "invalid time '2026-11-23T18:32:00.12Z': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("2026-1x-23T18:32:00.123Z") ==
            "invalid time '2026-1x-23T18:32:00.123Z': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
      CHECK(error_of("2026-11-23T18:32:00+01:00") ==
            "invalid time '2026-11-23T18:32:00+01:00': expected YYYY-MM-DDTHH:MM:SS.mmmZ");
    }
    SUBCASE("date") {
      CHECK(error_of("2026-02-29T00:00:00.000Z") ==
            "invalid time '2026-02-29T00:00:00.000Z': no such date");
      CHECK(error_of("2026-13-01T00:00:00.000Z") ==
            "invalid time '2026-13-01T00:00:00.000Z': no such date");
    }
    SUBCASE("time of day") {
      CHECK(error_of("2026-11-23T24:00:00.000Z") ==
            "invalid time '2026-11-23T24:00:00.000Z': no such time of day");
      CHECK(error_of("2026-11-23T23:60:00.000Z") ==
            "invalid time '2026-11-23T23:60:00.000Z': no such time of day");
      CHECK(error_of("2026-11-23T23:59:60.000Z") ==
            "invalid time '2026-11-23T23:59:60.000Z': no such time of day");
    }
    SUBCASE("range") {
      CHECK(error_of("9999-01-01T00:00:00.000Z") ==
            "invalid time '9999-01-01T00:00:00.000Z': out of the range this system's clock "
            "can hold");
    }
  }

  TEST_CASE("open creates the directories and a WAL database at the current schema version") {
    TempDir dir;
    const fs::path file = dir / "state" / "nested" / "history.db";
    auto opened = history::History::open(file);
    REQUIRE(opened.has_value());
    CHECK(opened->schema_version() == history::k_schema_version);
    CHECK(opened->path() == file);
    CHECK(fs::is_regular_file(file));

    SQLite::Database db(file, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == history::k_schema_version);
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
    CHECK(db.tableExists("promotions"));
    CHECK(db.tableExists("gate_verdicts"));
    CHECK(db.tableExists("evidence"));
    CHECK(db.tableExists("approvals"));
  }

  TEST_CASE("the schema the code migrates to is exactly schemas/history-v1.sql to v10") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    REQUIRE(history::History::open(file).has_value());
    SQLite::Database migrated(file, SQLite::OPEN_READONLY);

    SQLite::Database fresh(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    for (const char* name :
         {"history-v1.sql", "history-v2.sql", "history-v3.sql", "history-v4.sql", "history-v5.sql",
          "history-v6.sql", "history-v7.sql", "history-v8.sql", "history-v9.sql",
          "history-v10.sql"}) {
      fresh.exec(promote::test::read_text(fs::path(PROMOTE_SOURCE_DIR) / "schemas" / name));
    }

    const std::string expected = schema_of(fresh);
    CHECK(expected.find("table promotions on promotions: CREATE TABLE \"promotions\"") !=
          std::string::npos);
    CHECK(expected.find("pull_request TEXT NOT NULL DEFAULT ''") != std::string::npos);
    CHECK(expected.find("'proposed'") != std::string::npos);
    CHECK(expected.find("index promotions_by_stage on promotions") != std::string::npos);
    CHECK(expected.find("index promotions_by_candidate on promotions") != std::string::npos);
    CHECK(expected.find("table approvals on approvals: CREATE TABLE approvals") !=
          std::string::npos);
    CHECK(expected.find("break_glass INTEGER NOT NULL DEFAULT 0") != std::string::npos);
    CHECK(expected.find("table holds on holds: CREATE TABLE holds") != std::string::npos);
    CHECK(expected.find("places TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(places))") !=
          std::string::npos);
    CHECK(expected.find("table meta on meta: CREATE TABLE meta") != std::string::npos);
    CHECK(expected.find("charts TEXT NOT NULL DEFAULT '{}'") != std::string::npos);
    CHECK(expected.find("carried TEXT NOT NULL DEFAULT '{}'") != std::string::npos);
    CHECK(expected.find("'error', 'verified')") != std::string::npos);
    CHECK(expected.find("healthy_since TEXT NOT NULL DEFAULT ''") != std::string::npos);
    CHECK(expected.find("index promotions_by_commit on promotions") != std::string::npos);
    CHECK(schema_of(migrated) == expected);
  }

  TEST_CASE("a version 1 database is upgraded to the current version and keeps its rows") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    {
      // A database as a promote of schema version 1 left it, with one promotion.
      SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec(promote::test::read_text(fs::path(PROMOTE_SOURCE_DIR) / "schemas" /
                                       "history-v1.sql"));
      db.exec("PRAGMA user_version = 1");
      db.exec("INSERT INTO promotions (id, pipeline, stage, from_stage, candidate_id, images, "
              "outcome, actor, reason, ci_run_url, commit_id, error, started_at, finished_at) "
              "VALUES ('old-1', 'shop', 'prod', 'staging', '" + k_candidate_a +
              "', '{\"api\": \"ghcr.io/acme/api:1.0.0\"}', 'promoted', 'alice', 'first', '', "
              "'abc', '', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:03.000Z')");
      db.exec("INSERT INTO gate_verdicts VALUES ('old-1', 0, 'tests', 'junit', 'pass', '52 passed', "
              "'{}', '{}', NULL)");
    }
    auto store = history::History::open(file);
    REQUIRE(store.has_value());
    CHECK(store->schema_version() == history::k_schema_version);
    const auto rows = store->list({}).value();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].id == "old-1");
    CHECK(rows[0].reason == "first");
    CHECK_FALSE(rows[0].break_glass);
    CHECK(rows[0].pull_request.empty());
    CHECK(rows[0].rollback_of.empty());
    REQUIRE(rows[0].gates.size() == 1);  // migration 4 rebuilt promotions; its verdicts stay
    CHECK(rows[0].gates[0].summary == "52 passed");
    {
      SQLite::Database db(file, SQLite::OPEN_READONLY);
      SQLite::Statement violations(db, "PRAGMA foreign_key_check");
      CHECK_FALSE(violations.executeStep());
    }
    auto record = promotion("new-1", "prod", "promoted", "2026-02-01T00:00:00.000Z");
    record.break_glass = true;
    REQUIRE(store->record(record).has_value());
    history::Query by_id;
    by_id.id = "new-1";
    CHECK(store->list(by_id).value().at(0).break_glass);
    REQUIRE(store->record_approval({"shop", "prod", k_candidate_a, "approve", "bob", "ok",
                                    at("2026-02-01T00:00:00.000Z")})
                .has_value());
    CHECK(store->approvals(k_shop, "prod", k_candidate_a).value().size() == 1);
    // Migration 5 chained the old row and indexed its image.
    CHECK_FALSE(store->verify().value().broken.has_value());
    history::Query by_image;
    by_image.image = "ghcr.io/acme/api";
    CHECK(ids(store->list(by_image).value()) == std::vector<std::string>{"new-1", "old-1"});
  }

  TEST_CASE("a stage is held while its newest hold row is a hold") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    const auto act = [&](const std::string& pipeline, const std::string& stage,
                         const std::string& action, const std::string& actor,
                         const std::string& time) {
      return store.record_hold({pipeline, stage, action, actor, "incident 42", at(time)});
    };
    CHECK_FALSE(store.hold(k_shop, "prod").value().has_value());
    REQUIRE(act("shop", "prod", "hold", "alice", "2026-03-01T10:00:00.000Z").has_value());
    REQUIRE(act("other", "prod", "release", "bob", "2026-03-01T10:01:00.000Z").has_value());
    auto held = store.hold(k_shop, "prod").value();
    REQUIRE(held.has_value());
    CHECK(held->actor == "alice");
    CHECK(held->reason == "incident 42");
    CHECK(held->at == at("2026-03-01T10:00:00.000Z"));
    CHECK_FALSE(store.hold(k_shop, "staging").value().has_value());
    REQUIRE(act("shop", "prod", "release", "bob", "2026-03-01T11:00:00.000Z").has_value());
    CHECK_FALSE(store.hold(k_shop, "prod").value().has_value());
    auto bad = act("shop", "prod", "pause", "eve", "2026-03-01T12:00:00.000Z");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().kind == promote::ErrorKind::internal);
  }

  TEST_CASE("approvals and rejections list back oldest first, per stage and candidate") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    const auto decide = [&](const std::string& stage, const std::string& candidate,
                            const std::string& decision, const std::string& actor,
                            const std::string& time) {
      return store.record_approval({"shop", stage, candidate, decision, actor, "because", at(time)});
    };
    REQUIRE(decide("prod", k_candidate_a, "approve", "alice", "2026-03-01T10:00:00.000Z").has_value());
    REQUIRE(decide("prod", k_candidate_b, "approve", "bob", "2026-03-01T10:01:00.000Z").has_value());
    REQUIRE(decide("staging", k_candidate_a, "approve", "carol", "2026-03-01T10:02:00.000Z").has_value());
    REQUIRE(decide("prod", k_candidate_a, "reject", "dave", "2026-03-01T10:03:00.000Z").has_value());
    const auto found = store.approvals(k_shop, "prod", k_candidate_a).value();
    REQUIRE(found.size() == 2);
    CHECK(found[0].actor == "alice");
    CHECK(found[0].decision == "approve");
    CHECK(found[0].reason == "because");
    CHECK(found[0].at == at("2026-03-01T10:00:00.000Z"));
    CHECK(found[1].actor == "dave");
    CHECK(found[1].decision == "reject");
    CHECK(store.approvals(k_shop, "dev", k_candidate_a).value().empty());
    // The schema refuses what promote never writes.
    auto bad = decide("prod", k_candidate_a, "maybe", "eve", "2026-03-01T10:04:00.000Z");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().kind == promote::ErrorKind::internal);
    CHECK_FALSE(decide("prod", "not-hex", "approve", "eve", "2026-03-01T10:04:00.000Z").has_value());
    CHECK(store.approvals(k_shop, "prod", k_candidate_a).value().size() == 2);
  }

  TEST_CASE("a recorded promotion lists back with every field, gate and evidence") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();

    history::PromotionRecord record = promotion("p-1", "prod", "pending",
                                                "2026-11-23T18:32:00.123Z");
    record.pipeline = "shop";
    record.from = "staging";
    record.candidate_id = k_candidate_b;
    record.images = {{"api", "ghcr.io/acme/api:1.4.2@sha256:" + std::string(64, 'f')},
                     {"web", "ghcr.io/acme/web:2.0.0"}};
    record.actor = "github-actions[bot]";
    record.reason = "release 1.4.2 — «hotfix»";
    record.ci_run_url = "https://github.com/acme/shop/actions/runs/42";
    record.commit = "0123456789abcdef0123456789abcdef01234567";
    record.error = "";
    record.finished = at("2026-11-23T18:32:05.987Z");

    history::GateRecord junit;
    junit.name = "unit-tests";
    junit.use = "junit";
    junit.status = "pass";
    junit.summary = "412 passed, 0 failed";
    junit.details = {{"passed", 412}, {"failed", 0}, {"rate", 1.0},
                     {"suites", {"core", "api"}}, {"note", nullptr}};
    junit.config = {{"path", "reports/junit/*.xml"}, {"min_pass_rate", 1.0}};
    junit.evidence = {{"reports/junit/core.xml", std::string(64, '1')},
                      {"reports/junit/api.xml", std::string(64, '2')}};
    history::GateRecord soak;
    soak.name = "soak";
    soak.use = "soak";
    soak.status = "pending";
    soak.summary = "1h12m of 2h soaked";
    soak.details = {{"entered", "2026-11-23T17:20:00.000Z"}};
    soak.config = {{"min", "2h"}};
    soak.retry_after_seconds = 2880;
    history::GateRecord window;
    window.name = "window";
    window.use = "window";
    window.status = "warn";
    window.summary = "outside the preferred window";
    window.details = nlohmann::json::object();
    window.config = nlohmann::json::object();
    window.evidence = {{"calendar.ics", std::string(64, '3')}};
    record.gates = {junit, soak, window};

    REQUIRE(store.record(record).has_value());
    auto listed = store.list({});
    REQUIRE(listed.has_value());
    REQUIRE(listed->size() == 1);
    const history::PromotionRecord& got = listed->front();
    CHECK(got.id == "p-1");
    CHECK(got.pipeline == "shop");
    CHECK(got.stage == "prod");
    CHECK(got.from == "staging");
    CHECK(got.candidate_id == k_candidate_b);
    CHECK(got.images == record.images);
    CHECK(got.outcome == "pending");
    CHECK(got.actor == "github-actions[bot]");
    CHECK(got.reason == "release 1.4.2 — «hotfix»");
    CHECK(got.ci_run_url == "https://github.com/acme/shop/actions/runs/42");
    CHECK(got.commit == "0123456789abcdef0123456789abcdef01234567");
    CHECK(got.error == "");
    CHECK(got.started == record.started);
    CHECK(got.finished == record.finished);
    REQUIRE(got.gates.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      const history::GateRecord& want = record.gates[i];
      const history::GateRecord& have = got.gates[i];
      CHECK(have.name == want.name);
      CHECK(have.use == want.use);
      CHECK(have.status == want.status);
      CHECK(have.summary == want.summary);
      CHECK(have.details == want.details);
      CHECK(have.config == want.config);
      CHECK(have.retry_after_seconds == want.retry_after_seconds);
      REQUIRE(have.evidence.size() == want.evidence.size());
      for (std::size_t e = 0; e < want.evidence.size(); ++e) {
        CHECK(have.evidence[e].path == want.evidence[e].path);
        CHECK(have.evidence[e].sha256 == want.evidence[e].sha256);
      }
    }
    CHECK(count_rows(dir / "history.db", "gate_verdicts") == 3);
    CHECK(count_rows(dir / "history.db", "evidence") == 3);
  }

  TEST_CASE("a promotion of an error with no gates round-trips its error message") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    auto record = promotion("p-err", "staging", "error", "2026-01-02T03:04:05.006Z");
    record.from = "";
    record.error = "git push failed after 5 attempts: non-fast-forward";
    REQUIRE(store.record(record).has_value());
    auto listed = store.list({}).value();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].from == "");
    CHECK(listed[0].error == "git push failed after 5 attempts: non-fast-forward");
    CHECK(listed[0].gates.empty());
  }

  TEST_CASE("invalid UTF-8 in gate details is stored with replacement characters") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    auto record = promotion("p-utf8", "staging", "blocked", "2026-01-02T03:04:05.006Z");
    history::GateRecord gate;
    gate.name = "junit";
    gate.use = "junit";
    gate.status = "fail";
    gate.summary = "1 failed";
    gate.details = {{"message", std::string("bad \xff byte")}};
    gate.config = nlohmann::json::object();
    record.gates = {gate};
    REQUIRE(store.record(record).has_value());
    auto listed = store.list({}).value();
    REQUIRE(listed.size() == 1);
    REQUIRE(listed[0].gates.size() == 1);
    CHECK(listed[0].gates[0].details["message"] == "bad \xef\xbf\xbd byte");
  }

  TEST_CASE("list filters by stage, outcome, candidate and since, newest first, with a limit") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    auto other = promotion("s-3", "staging", "promoted", "2026-03-03T00:00:00.000Z");
    other.candidate_id = k_candidate_b;
    for (const auto& record : {
             promotion("s-1", "staging", "promoted", "2026-03-01T00:00:00.000Z"),
             promotion("p-1", "prod", "blocked", "2026-03-02T00:00:00.000Z"),
             other,
             promotion("p-2", "prod", "promoted", "2026-03-04T00:00:00.000Z"),
             // Same start as p-2, inserted later: it lists first.
             promotion("p-3", "prod", "pending", "2026-03-04T00:00:00.000Z"),
             // Inserted last but started earliest: it lists last.
             promotion("s-0", "staging", "blocked", "2026-02-28T23:59:59.999Z"),
         }) {
      REQUIRE(store.record(record).has_value());
    }
    const auto query = [&](const history::Query& q) { return ids(store.list(q).value()); };
    using Ids = std::vector<std::string>;

    SUBCASE("no filter") {
      CHECK(query({}) == Ids{"p-3", "p-2", "s-3", "p-1", "s-1", "s-0"});
    }
    SUBCASE("stage") {
      history::Query q;
      q.stage = "staging";
      CHECK(query(q) == Ids{"s-3", "s-1", "s-0"});
      q.stage = "qa";
      CHECK(query(q).empty());
    }
    SUBCASE("outcome") {
      history::Query q;
      q.outcome = "promoted";
      CHECK(query(q) == Ids{"p-2", "s-3", "s-1"});
      q.stage = "prod";
      CHECK(query(q) == Ids{"p-2"});
    }
    SUBCASE("candidate") {
      history::Query q;
      q.candidate_id = k_candidate_b;
      CHECK(query(q) == Ids{"s-3"});
    }
    SUBCASE("since is inclusive, to the millisecond") {
      history::Query q;
      q.since = at("2026-03-03T00:00:00.000Z");
      CHECK(query(q) == Ids{"p-3", "p-2", "s-3"});
      q.since = at("2026-03-03T00:00:00.001Z");
      CHECK(query(q) == Ids{"p-3", "p-2"});
      q.since = at("2026-02-28T23:59:59.999Z");
      CHECK(query(q).size() == 6);
    }
    SUBCASE("limit") {
      history::Query q;
      q.limit = 2;
      CHECK(query(q) == Ids{"p-3", "p-2"});
      q.stage = "staging";
      q.limit = 1;
      CHECK(query(q) == Ids{"s-3"});
      q.limit = 100;
      CHECK(query(q) == Ids{"s-3", "s-1", "s-0"});
    }
  }

  TEST_CASE("entered picks the newest promoted row for the stage and candidate") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    CHECK_FALSE(store.entered(k_shop, "prod", k_candidate_a).value().has_value());

    auto first = promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.000Z");
    first.finished = at("2026-03-01T00:01:00.000Z");
    auto second = promotion("p-2", "prod", "promoted", "2026-03-05T00:00:00.000Z");
    second.finished = at("2026-03-05T00:02:00.500Z");
    auto blocked = promotion("p-3", "prod", "blocked", "2026-03-06T00:00:00.000Z");
    auto pending = promotion("p-4", "prod", "pending", "2026-03-07T00:00:00.000Z");
    auto staging = promotion("s-1", "staging", "promoted", "2026-03-08T00:00:00.000Z");
    auto other = promotion("p-5", "prod", "promoted", "2026-03-09T00:00:00.000Z");
    other.candidate_id = k_candidate_b;
    for (const auto& record : {second, first, blocked, pending, staging, other}) {
      REQUIRE(store.record(record).has_value());
    }
    auto entered = store.entered(k_shop, "prod", k_candidate_a);
    REQUIRE(entered.has_value());
    REQUIRE(entered->has_value());
    CHECK(history::format_time(**entered) == "2026-03-05T00:02:00.500Z");
    CHECK(history::format_time(*store.entered(k_shop, "staging", k_candidate_a).value()) ==
          history::format_time(staging.finished));
    CHECK(history::format_time(*store.entered(k_shop, "prod", k_candidate_b).value()) ==
          history::format_time(other.finished));
    CHECK_FALSE(store.entered(k_shop, "staging", k_candidate_b).value().has_value());
    CHECK_FALSE(store.entered(k_shop, "qa", k_candidate_a).value().has_value());
  }

  TEST_CASE("reopening a database keeps its rows and does not migrate it again") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    {
      auto store = history::History::open(file).value();
      REQUIRE(store.record(promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.000Z"))
                  .has_value());
    }
    std::string before;
    {
      SQLite::Database db(file, SQLite::OPEN_READONLY);
      before = schema_of(db);
    }
    auto store = history::History::open(file).value();
    CHECK(store.schema_version() == history::k_schema_version);
    CHECK(ids(store.list({}).value()) == std::vector<std::string>{"p-1"});
    REQUIRE(store.record(promotion("p-2", "prod", "blocked", "2026-03-02T00:00:00.000Z"))
                .has_value());
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    CHECK(schema_of(db) == before);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == history::k_schema_version);
  }

  TEST_CASE("a database already at the current version is trusted and not migrated") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("CREATE TABLE marker (x INTEGER); PRAGMA user_version = " +
              std::to_string(history::k_schema_version));
    }
    auto store = history::History::open(file);
    REQUIRE(store.has_value());
    CHECK(store->schema_version() == history::k_schema_version);
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    CHECK(db.tableExists("marker"));
    CHECK_FALSE(db.tableExists("promotions"));
  }

  TEST_CASE("a file that is not SQLite is a clear input error and is left alone") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    const std::string text =
        "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: shop }\n"
        "this is a YAML file, not a database, and it is longer than an SQLite header\n";
    promote::test::write_text(file, text);
    auto store = history::History::open(file);
    REQUIRE(store.has_error());
    CHECK(store.error().kind == ErrorKind::input);
    CHECK(store.error().message ==
          "cannot open history database " + file.string() + ": file is not a database");
    CHECK(promote::test::read_text(file) == text);
  }

  TEST_CASE("a path that cannot hold a database is a clear input error") {
    TempDir dir;
    SUBCASE("a directory") {
      fs::create_directories(dir / "history.db");
      auto store = history::History::open(dir / "history.db");
      REQUIRE(store.has_error());
      CHECK(store.error().kind == ErrorKind::input);
      CHECK(store.error().message == "cannot open history database " +
                                         (dir / "history.db").string() +
                                         ": unable to open database file");
    }
    SUBCASE("a parent that is a file") {
      promote::test::write_text(dir / "state", "not a directory\n");
      const fs::path file = dir / "state" / "history.db";
      auto store = history::History::open(file);
      REQUIRE(store.has_error());
      CHECK(store.error().kind == ErrorKind::input);
      CHECK(store.error().message == "cannot open history database " + file.string() +
                                         ": cannot create directory " +
                                         (dir / "state").string() + ": Not a directory");
    }
    SUBCASE("an empty path") {
      auto store = history::History::open("");
      REQUIRE(store.has_error());
      CHECK(store.error().message == "cannot open history database : the path is empty");
    }
  }

  TEST_CASE("a database with a newer schema version is refused word for word") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("CREATE TABLE future (x INTEGER); PRAGMA user_version = " +
              std::to_string(history::k_schema_version + 1) + ";");
    }
    auto store = history::History::open(file);
    REQUIRE(store.has_error());
    CHECK(store.error().kind == ErrorKind::input);
    CHECK(store.error().message == "history database " + file.string() + " has schema version " +
                                       std::to_string(history::k_schema_version + 1) +
                                       "; this promote knows up to " +
                                       std::to_string(history::k_schema_version));
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == history::k_schema_version + 1);
    CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "delete");
  }

  TEST_CASE("a record that breaks the schema is refused whole") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    auto store = history::History::open(file).value();
    const auto error_of = [&](const history::PromotionRecord& record) {
      auto done = store.record(record);
      REQUIRE(done.has_error());
      CHECK(done.error().kind == ErrorKind::internal);
      return done.error().message;
    };
    const std::string prefix = "cannot record promotion p-1 in history database " +
                               file.string() + ": ";
    auto record = promotion("p-1", "prod", "blocked", "2026-03-01T00:00:00.000Z");
    history::GateRecord gate;
    gate.name = "junit";
    gate.use = "junit";
    gate.status = "fail";
    gate.summary = "3 failed";
    gate.details = nlohmann::json::object();
    gate.config = nlohmann::json::object();
    gate.evidence = {{"junit.xml", std::string(64, '0')}};

    SUBCASE("duplicate id") {
      REQUIRE(store.record(record).has_value());
      CHECK(error_of(record) == prefix + "UNIQUE constraint failed: promotions.id");
      CHECK(count_rows(file, "promotions") == 1);
    }
    SUBCASE("unknown outcome") {
      record.outcome = "planned";
      CHECK(error_of(record) ==
            prefix + "CHECK constraint failed: outcome IN ('promoted', 'proposed', 'no-op', "
                     "'blocked', 'pending', 'error', 'verified')");
    }
    SUBCASE("candidate id that is not 64 hex") {
      record.candidate_id = "abc123";
      CHECK(error_of(record) ==
            prefix + "CHECK constraint failed: length(candidate_id) = 64 AND candidate_id NOT "
                     "GLOB '*[^0-9a-f]*'");
    }
    SUBCASE("unknown status in the second gate leaves nothing behind") {
      auto bad = gate;
      bad.status = "skipped";
      record.gates = {gate, bad};
      CHECK(error_of(record) ==
            prefix + "CHECK constraint failed: status IN ('pass', 'warn', 'fail', 'pending', "
                     "'error')");
    }
    CHECK(count_rows(file, "gate_verdicts") == 0);
    CHECK(count_rows(file, "evidence") == 0);
    // The connection is usable after a refused record.
    REQUIRE(store.record(promotion("p-ok", "prod", "promoted", "2026-03-02T00:00:00.000Z"))
                .has_value());
    CHECK(store.list({}).value().front().id == "p-ok");
  }

  TEST_CASE("a row that promote did not write is a read error naming the promotion") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    auto store = history::History::open(file).value();
    REQUIRE(store.record(promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.000Z"))
                .has_value());
    {
      SQLite::Database db(file, SQLite::OPEN_READWRITE);
      db.exec("UPDATE promotions SET finished_at = 'yesterday'");
    }
    const std::string expected = "cannot read history database " + file.string() +
                                 ": promotion p-1: finished_at: invalid time 'yesterday': "
                                 "expected YYYY-MM-DDTHH:MM:SS.mmmZ";
    auto listed = store.list({});
    REQUIRE(listed.has_error());
    CHECK(listed.error().kind == ErrorKind::input);
    CHECK(listed.error().message == expected);
    auto entered = store.entered(k_shop, "prod", k_candidate_a);
    REQUIRE(entered.has_error());
    CHECK(entered.error().message == expected);
  }

  TEST_CASE("a moved History keeps working") {
    TempDir dir;
    auto opened = history::History::open(dir / "history.db");
    REQUIRE(opened.has_value());
    history::History store = std::move(*opened);
    REQUIRE(store.record(promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.000Z"))
                .has_value());
    history::History again = history::History::open(dir / "other.db").value();
    again = std::move(store);
    CHECK(ids(again.list({}).value()) == std::vector<std::string>{"p-1"});
  }

  TEST_CASE("two connections on one file write interleaved and both see every row") {
    TempDir dir;
    auto first = history::History::open(dir / "history.db").value();
    auto second = history::History::open(dir / "history.db").value();
    for (int i = 0; i < 20; ++i) {
      const std::string started = "2026-03-01T00:00:" + std::string(i < 10 ? "0" : "") +
                                  std::to_string(i) + ".000Z";
      auto& store = i % 2 == 0 ? first : second;
      REQUIRE(store.record(promotion("p-" + std::to_string(i), "prod", "blocked", started))
                  .has_value());
    }
    CHECK(first.list({}).value().size() == 20);
    CHECK(second.list({}).value().size() == 20);
    CHECK(first.list({}).value().front().id == "p-19");
  }

  TEST_CASE("two processes recording at once lose nothing") {
    TempDir dir;
    const fs::path file = dir / "shared" / "history.db";
    // Returns "" or the first error.
    const auto record_many = [&](const std::string& prefix) -> std::string {
      auto store = history::History::open(file);
      if (!store) {
        return store.error().message;
      }
      for (int i = 0; i < 50; ++i) {
        auto record = promotion(prefix + std::to_string(i), "prod", "promoted",
                                "2026-03-01T00:00:00.000Z");
        record.started += std::chrono::milliseconds(i);
        history::GateRecord gate;
        gate.name = "soak";
        gate.use = "soak";
        gate.status = "pass";
        gate.details = {{"i", i}};
        gate.config = nlohmann::json::object();
        gate.evidence = {{"e.json", std::string(64, 'e')}};
        record.gates = {gate};
        if (auto done = store->record(record); !done) {
          return done.error().message;
        }
      }
      return "";
    };
    // Both processes open the file only after the fork, and both may create it.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const std::string error = record_many("child-");
      if (!error.empty()) {
        std::fprintf(stderr, "child: %s\n", error.c_str());
      }
      ::_exit(error.empty() ? 0 : 1);
    }
    const std::string parent_error = record_many("parent-");
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(parent_error == "");
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);

    auto store = history::History::open(file).value();
    auto listed = store.list({}).value();
    CHECK(listed.size() == 100);
    std::size_t from_child = 0;
    for (const auto& record : listed) {
      CHECK(record.gates.size() == 1);
      from_child += record.id.rfind("child-", 0) == 0 ? 1 : 0;
    }
    CHECK(from_child == 50);
    CHECK(count_rows(file, "evidence") == 100);
    // Each insert chained after the row really before it, whoever wrote that.
    const auto verified = store.verify().value();
    CHECK(verified.promotions == 100);
    CHECK_FALSE(verified.broken.has_value());
  }

  TEST_CASE("every record chains: verify recomputes each table's hashes") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    auto first = promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.000Z");
    history::GateRecord gate;
    gate.name = "tests";
    gate.use = "junit";
    gate.status = "pass";
    gate.summary = "52 passed";
    gate.details = {{"passed", 52}, {"rate", 0.1}};
    gate.config = {{"path", "reports/*.xml"}};
    gate.evidence = {{"reports/a.xml", std::string(64, 'e')}};
    first.gates = {gate};
    first.previous = {{"api", "ghcr.io/acme/api:1.4.1"}};
    first.files = {"k8s/overlays/prod/kustomization.yaml"};
    REQUIRE(store.record(first).has_value());
    REQUIRE(store.record(promotion("p-2", "prod", "blocked", "2026-03-01T00:01:00.000Z"))
                .has_value());
    REQUIRE(store.record_approval({"shop", "prod", k_candidate_a, "approve", "bob", "ok",
                                   at("2026-03-01T00:02:00.000Z")})
                .has_value());
    REQUIRE(store.record_hold({"shop", "prod", "hold", "carol", "INC-1",
                               at("2026-03-01T00:03:00.000Z")})
                .has_value());

    const auto verified = store.verify().value();
    CHECK(verified.promotions == 2);
    CHECK(verified.approvals == 1);
    CHECK(verified.holds == 1);
    CHECK_FALSE(verified.broken.has_value());
    const auto rows = store.list({}).value();
    REQUIRE(rows.size() == 2);
    CHECK(verified.head == rows[0].hash);
    // The chain by hand: the first row's hash covers its canonical JSON alone.
    CHECK(rows[1].hash ==
          history::chain_hash("", promote::util::dump_json(history::to_json(rows[1]))));
    CHECK(rows[0].hash ==
          history::chain_hash(rows[1].hash, promote::util::dump_json(history::to_json(rows[0]))));
    CHECK(rows[1].previous == first.previous);
    CHECK(rows[1].files == first.files);
  }

  TEST_CASE("verify names the first edited, deleted or reordered row") {
    TempDir dir;
    const fs::path file = dir / "history.db";
    const auto fill = [&] {
      fs::remove(file);
      fs::remove(fs::path(file.string() + "-wal"));
      fs::remove(fs::path(file.string() + "-shm"));
      auto store = history::History::open(file).value();
      for (int i = 1; i <= 4; ++i) {
        auto record = promotion("p-" + std::to_string(i), "prod", "promoted",
                                "2026-03-01T00:0" + std::to_string(i) + ":00.000Z");
        history::GateRecord gate;
        gate.name = "tests";
        gate.use = "junit";
        gate.status = "pass";
        gate.details = {{"i", i}};
        gate.config = nlohmann::json::object();
        record.gates = {gate};
        REQUIRE(store.record(record).has_value());
      }
    };
    const auto broken_after = [&](const std::string& sql) {
      fill();
      {
        SQLite::Database db(file, SQLite::OPEN_READWRITE);
        db.exec(sql);
      }
      return history::History::open(file).value().verify().value().broken;
    };
    auto edited = broken_after("UPDATE promotions SET actor = 'mallory' WHERE id = 'p-2'");
    REQUIRE(edited.has_value());
    CHECK(edited->table == "promotions");
    CHECK(edited->seq == 2);
    CHECK(edited->id == "p-2");

    auto verdict = broken_after("UPDATE gate_verdicts SET status = 'fail' WHERE promotion_id = 'p-3'");
    REQUIRE(verdict.has_value());
    CHECK(verdict->id == "p-3");

    auto deleted = broken_after(
        "DELETE FROM gate_verdicts WHERE promotion_id = 'p-2'; DELETE FROM promotions WHERE id = 'p-2'");
    REQUIRE(deleted.has_value());
    CHECK(deleted->seq == 2);
    CHECK(deleted->why == "row 2 is missing");

    auto last = broken_after(
        "DELETE FROM gate_verdicts WHERE promotion_id = 'p-4'; DELETE FROM promotions WHERE id = 'p-4'");
    REQUIRE(last.has_value());
    CHECK(last->why == "row 4 is missing");

    // Two rows swap places, hashes and all.
    auto swapped = broken_after(
        "UPDATE promotions SET seq = 100 WHERE seq = 2; UPDATE promotions SET seq = 2 WHERE seq = 3;"
        "UPDATE promotions SET seq = 3 WHERE seq = 100;");
    REQUIRE(swapped.has_value());
    CHECK(swapped->seq == 2);
    CHECK(swapped->id == "p-3");

    auto rehashed = broken_after("UPDATE promotions SET hash = 'x' || substr(hash, 2) WHERE id = 'p-1'");
    REQUIRE(rehashed.has_value());
    CHECK(rehashed->seq == 1);

    CHECK_FALSE(broken_after("SELECT 1").has_value());
  }

  TEST_CASE("the canonical text is byte for byte the JSON writer's, whatever the strings hold") {
    auto record = promotion("p-\"1\"", "prod", "promoted", "2026-03-01T00:00:00.123Z");
    record.actor = "Zoë \\ \"the\" <admin>\n\t\x01\x7f";
    record.reason = std::string("bad \xff\xfe utf-8 \xe2\x82 cut");
    record.images = {{"api", "ghcr.io/acme/api:1.4.2@sha256:" + std::string(64, 'a')},
                     {"ünïcode", "x/y:1"}};
    record.previous = {{"api", "ghcr.io/acme/api:1.4.1"}};
    record.places = nlohmann::json::array(
        {{{"file", "k8s/a b.yaml"}, {"image", "api"}, {"value", "ghcr.io/acme/api:1.4.1"}},
         {{"file", "k8s/\u00e9 \"q\".yaml"},
          {"image", "ünïcode"},
          {"value", std::string("x/y:1\x1b]0;t\x07 \xff\xfe cut \xe2\x82")}}});
    record.files = {"k8s/a b.yaml", "k8s/\u00e9.yaml"};
    history::GateRecord gate;
    gate.name = "metrics \"p99\"";
    gate.use = "prometheus";
    gate.status = "warn";
    gate.summary = "0.1 < 0.5 \xe2\x9c\x93";
    gate.details = {{"value", 0.1}, {"big", 12345678901234LL}, {"neg", -0.0},
                    {"nested", {{"z", nullptr}, {"a", {1, 2.5, "three"}}}}};
    gate.config = nlohmann::json::object();
    gate.retry_after_seconds = 60;
    gate.evidence = {{"reports/\"q\".json", std::string(64, 'f')}};
    record.gates = {gate, gate};
    record.gates[1].retry_after_seconds.reset();
    record.gates[1].evidence.clear();
    CHECK(history::detail::canonical(history::detail::text_of(record)) ==
          promote::util::dump_json(history::to_json(record)));
    // And a row written with those strings verifies.
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    REQUIRE(store.record(record).has_value());
    CHECK_FALSE(store.verify().value().broken.has_value());
  }

  TEST_CASE("records survive their JSON: to_json and from_json round-trip") {
    auto record = promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.123Z");
    record.ci_provider = "github";
    record.ci_run_url = "https://github.com/acme/shop/actions/runs/1";
    record.pull_request = "https://github.com/acme/shop/pull/7";
    history::GateRecord gate;
    gate.name = "soak";
    gate.use = "soak";
    gate.status = "pending";
    gate.details = {{"left", "1h"}};
    gate.config = {{"min", "2h"}};
    gate.retry_after_seconds = 3600;
    gate.evidence = {{"a.json", std::string(64, 'a')}};
    record.gates = {gate};
    const auto back = history::promotion_from_json(history::to_json(record)).value();
    CHECK(history::to_json(back) == history::to_json(record));
    CHECK(back.gates.at(0).retry_after_seconds == 3600);

    auto missing = history::to_json(record);
    missing.erase("outcome");
    auto refused = history::promotion_from_json(missing);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "promotion p-1: outcome is missing");
    auto wrong = history::to_json(record);
    wrong["started"] = 5;
    CHECK(history::promotion_from_json(wrong).error().message ==
          "promotion p-1: started is not a string");

    const history::ApprovalRecord approval{"shop", "prod", k_candidate_a, "approve", "bob", "ok",
                                           at("2026-03-01T00:02:00.000Z")};
    CHECK(history::to_json(history::approval_from_json(history::to_json(approval)).value()) ==
          history::to_json(approval));
    CHECK(history::note_line(approval).find('\n') == std::string::npos);
  }

  TEST_CASE("the records of several pipelines in one database are read per pipeline") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    const history::PipelineId shop{"shop", "promote.yaml"};
    const history::PipelineId twin{"shop", "twin/promote.yaml"};
    const history::PipelineId eu{"shop-eu", "eu.yaml"};
    auto mine = promotion("shop-1", "staging", "promoted", "2026-03-01T00:00:00.000Z");
    mine.pipeline_file = shop.file;
    auto theirs = promotion("eu-1", "staging", "promoted", "2026-03-02T00:00:00.000Z");
    theirs.pipeline = eu.name;
    theirs.pipeline_file = eu.file;
    // Written before the file was kept: it counts for every pipeline named shop.
    auto old = promotion("old-1", "prod", "promoted", "2026-02-01T00:00:00.000Z");
    for (const auto& record : {mine, theirs, old}) {
      REQUIRE(store.record(record).has_value());
    }
    const auto entered = [&](const history::PipelineId& id, const std::string& stage) {
      auto at = store.entered(id, stage, k_candidate_a).value();
      return at ? history::format_time(*at) : std::string("never");
    };
    CHECK(entered(shop, "staging") == "2026-03-01T00:00:03.000Z");
    CHECK(entered(eu, "staging") == "2026-03-02T00:00:03.000Z");
    CHECK(entered(twin, "staging") == "never");
    CHECK(entered(twin, "prod") == "2026-02-01T00:00:03.000Z");
    CHECK(entered(eu, "prod") == "never");
    CHECK(entered({"shop", ""}, "staging") == "2026-03-01T00:00:03.000Z");

    const auto listed = [&](const std::optional<history::PipelineId>& id) {
      history::Query query;
      query.pipeline = id;
      return ids(store.list(query).value());
    };
    using List = std::vector<std::string>;
    CHECK(listed(shop) == List{"shop-1", "old-1"});
    CHECK(listed(twin) == List{"old-1"});
    CHECK(listed(eu) == List{"eu-1"});
    CHECK(listed(history::PipelineId{"shop", ""}) == List{"shop-1", "old-1"});
    CHECK(listed(std::nullopt) == List{"eu-1", "shop-1", "old-1"});
    history::Query by_id;
    by_id.id = "eu-1";
    CHECK(store.list(by_id).value().at(0).pipeline_file == "eu.yaml");

    history::ApprovalRecord approval{
        "shop", "prod", k_candidate_a, "approve", "bob", "ok", at("2026-03-01T00:02:00.000Z")};
    approval.pipeline_file = shop.file;
    REQUIRE(store.record_approval(approval).has_value());
    CHECK(store.approvals(shop, "prod", k_candidate_a).value().size() == 1);
    CHECK(store.approvals(shop, "prod", k_candidate_a).value().at(0).pipeline_file ==
          "promote.yaml");
    CHECK(store.approvals(twin, "prod", k_candidate_a).value().empty());
    CHECK(store.approvals(eu, "prod", k_candidate_a).value().empty());

    history::HoldRecord hold{"shop", "prod",  "hold",
                             "ops",  "INC-1", at("2026-03-01T00:03:00.000Z")};
    hold.pipeline_file = twin.file;
    REQUIRE(store.record_hold(hold).has_value());
    CHECK_FALSE(store.hold(shop, "prod").value().has_value());
    REQUIRE(store.hold(twin, "prod").value().has_value());
    CHECK(store.hold(twin, "prod").value()->pipeline_file == "twin/promote.yaml");
    // A hold written before the file was kept holds every file of its name.
    REQUIRE(
        store.record_hold({"shop", "dev", "hold", "ops", "INC-2", at("2026-03-01T00:04:00.000Z")})
            .has_value());
    CHECK(store.hold(shop, "dev").value().has_value());
    CHECK(store.hold(twin, "dev").value().has_value());
    CHECK_FALSE(store.hold(eu, "dev").value().has_value());
    CHECK_FALSE(store.verify().value().broken.has_value());
  }

  TEST_CASE("the pipeline file is in the canonical record only when it is known") {
    auto record = promotion("p-1", "prod", "promoted", "2026-03-01T00:00:00.123Z");
    const std::string without = promote::util::dump_json(history::to_json(record));
    CHECK(without.find("pipeline_file") == std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == without);
    record.pipeline_file = "deploy/promote.yaml";
    const std::string with = promote::util::dump_json(history::to_json(record));
    CHECK(with.find(R"("pipeline":"shop","pipeline_file":"deploy/promote.yaml","previous")") !=
          std::string::npos);
    CHECK(history::detail::canonical(history::detail::text_of(record)) == with);
    CHECK(history::promotion_from_json(history::to_json(record)).value().pipeline_file ==
          "deploy/promote.yaml");
    // A note line of an earlier promote has no pipeline_file: it reads back as "".
    record.pipeline_file.clear();
    CHECK(history::promotion_from_json(nlohmann::json::parse(without)).value().pipeline_file == "");
    const history::HoldRecord hold{
        "shop", "prod", "hold", "ops", "INC-1", at("2026-03-01T00:03:00.000Z"), "", "promote.yaml"};
    CHECK(promote::util::dump_json(history::to_json(hold)) ==
          R"({"action":"hold","actor":"ops","at":"2026-03-01T00:03:00.000Z","pipeline":"shop",)"
          R"("pipeline_file":"promote.yaml","reason":"INC-1","stage":"prod"})");
    CHECK(history::hold_from_json(history::to_json(hold)).value().pipeline_file == "promote.yaml");
    auto wrong = history::to_json(hold);
    wrong["pipeline_file"] = 7;
    CHECK(history::hold_from_json(wrong).error().message ==
          "hold record: pipeline_file is not a string");
  }

  TEST_CASE("merge adds only what the history lacks, oldest first, and keeps the chain") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    REQUIRE(store.record(promotion("p-2", "prod", "promoted", "2026-03-01T00:02:00.000Z"))
                .has_value());
    const history::ApprovalRecord approval{"shop", "prod", k_candidate_a, "approve", "bob", "ok",
                                           at("2026-03-01T00:02:00.000Z")};
    REQUIRE(store.record_approval(approval).has_value());
    auto added = store
                     .merge({promotion("p-3", "prod", "blocked", "2026-03-01T00:03:00.000Z"),
                             promotion("p-2", "prod", "promoted", "2026-03-01T00:02:00.000Z"),
                             promotion("p-1", "dev", "promoted", "2026-03-01T00:01:00.000Z")},
                            {approval}, {{"shop", "prod", "hold", "carol", "INC-1",
                                          at("2026-03-01T00:03:00.000Z")}})
                     .value();
    CHECK(added.promotions == 2);
    CHECK(added.approvals == 0);
    CHECK(added.holds == 1);
    CHECK(ids(store.list({}).value()) == std::vector<std::string>{"p-3", "p-2", "p-1"});
    CHECK_FALSE(store.verify().value().broken.has_value());
    // Again: nothing new.
    auto again = store.merge({promotion("p-1", "dev", "promoted", "2026-03-01T00:01:00.000Z")},
                             {approval}, {});
    CHECK(again.value().promotions == 0);
  }

  TEST_CASE("list filters by actor, image and until") {
    TempDir dir;
    auto store = history::History::open(dir / "history.db").value();
    auto a = promotion("a", "prod", "promoted", "2026-03-01T00:00:00.000Z");
    auto b = promotion("b", "prod", "promoted", "2026-03-02T00:00:00.000Z");
    b.actor = "bob";
    b.images = {{"web", "registry.example:5000/acme/web:2.0@sha256:" + std::string(64, 'd')}};
    REQUIRE(store.record(a).has_value());
    REQUIRE(store.record(b).has_value());
    history::Query query;
    query.actor = "bob";
    CHECK(ids(store.list(query).value()) == std::vector<std::string>{"b"});
    for (const std::string& image : std::vector<std::string>{"web", "registry.example:5000/acme/web",
          "registry.example:5000/acme/web:2.0@sha256:" + std::string(64, 'd')}) {
      history::Query by_image;
      by_image.image = image;
      CHECK(ids(store.list(by_image).value()) == std::vector<std::string>{"b"});
    }
    history::Query by_repository;
    by_repository.image = "ghcr.io/acme/api";
    CHECK(ids(store.list(by_repository).value()) == std::vector<std::string>{"a"});
    history::Query until;
    until.until = at("2026-03-02T00:00:00.000Z");
    CHECK(ids(store.list(until).value()) == std::vector<std::string>{"a"});
    history::Query bare;
    bare.with_gates = false;
    CHECK(store.list(bare).value().size() == 2);
  }
}
