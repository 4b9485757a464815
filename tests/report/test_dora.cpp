// The DORA figures of `promote report`, computed on synthetic histories with known answers,
// and their text, JSON and HTML renderings.
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

#include "engine/report/dora.hpp"
#include "engine/util/time.hpp"

namespace chrono = std::chrono;
using promote::history::GateRecord;
using promote::history::PromotionRecord;
using promote::report::dora;
using promote::report::DoraReport;
using promote::report::StageFigures;
using promote::report::TimePoint;

namespace {

TimePoint at(const std::string& iso) { return promote::history::parse_time(iso).value(); }

std::string candidate(char c) { return std::string(64, c); }

// A history built oldest first: each attempt starts `took` before it finishes.
struct Builder {
  std::vector<PromotionRecord> records;
  int next = 0;

  PromotionRecord& add(const std::string& stage, const std::string& outcome, char cand,
                       const std::string& finished, chrono::seconds took = chrono::seconds(60)) {
    PromotionRecord& record = records.emplace_back();
    record.id = "p" + std::to_string(++next);
    record.pipeline = "shop";
    record.stage = stage;
    record.candidate_id = candidate(cand);
    record.images = {{"api", std::string("ghcr.io/acme/api:") + cand}};
    record.outcome = outcome;
    record.actor = "ci";
    record.finished = at(finished);
    record.started = record.finished - took;
    return record;
  }
};

const std::vector<std::string> k_stages = {"dev", "staging", "prod"};

const StageFigures& stage(const DoraReport& report, const std::string& name) {
  for (const auto& figures : report.stages) {
    if (figures.name == name) {
      return figures;
    }
  }
  FAIL("no stage " << name);
  throw std::logic_error("unreachable");
}

// A four-week history: candidates a..d through dev, staging and prod, one prod rollback,
// one prod error, blocked and pending attempts with failing gates.
Builder shop_history() {
  Builder b;
  // a: dev Mon 2 Nov 10:00, staging +2h, prod +1d.
  b.add("dev", "promoted", 'a', "2026-11-02T10:00:00Z");
  b.add("staging", "promoted", 'a', "2026-11-02T12:00:00Z");
  b.add("prod", "pending", 'a', "2026-11-02T13:00:00Z");
  b.add("prod", "promoted", 'a', "2026-11-03T10:00:00Z");
  // b: dev 9 Nov, staging blocked once by junit, then promoted; prod after 3 days.
  b.add("dev", "promoted", 'b', "2026-11-09T09:00:00Z");
  auto& blocked = b.add("staging", "blocked", 'b', "2026-11-09T10:00:00Z");
  blocked.gates = {GateRecord{"junit", "junit", "fail", "1 failed", {}, {}, {}, {}},
                   GateRecord{"trivy", "trivy", "pass", "ok", {}, {}, {}, {}}};
  b.add("staging", "promoted", 'b', "2026-11-09T15:00:00Z");
  b.add("prod", "promoted", 'b', "2026-11-12T09:00:00Z", chrono::hours(1));  // started 08:00
  // prod rolled back to a at 10:30, 2h30m after b's promotion started.
  auto& rollback = b.add("prod", "promoted", 'a', "2026-11-12T10:30:00Z");
  rollback.rollback_of = "p4";
  rollback.reason = "5xx since b";
  // c: dev, staging, prod errors once (push failed), then promoted 5 days after dev.
  b.add("dev", "promoted", 'c', "2026-11-16T08:00:00Z");
  auto& staging_blocked = b.add("staging", "blocked", 'c', "2026-11-16T09:00:00Z");
  staging_blocked.gates = {GateRecord{"junit", "junit", "fail", "2 failed", {}, {}, {}, {}},
                           GateRecord{"trivy", "trivy", "error", "no report", {}, {}, {}, {}}};
  b.add("staging", "promoted", 'c', "2026-11-16T10:00:00Z");
  b.add("prod", "error", 'c', "2026-11-20T08:00:00Z");
  b.add("prod", "promoted", 'c', "2026-11-21T08:00:00Z");
  // d: dev only, and a no-op.
  b.add("dev", "promoted", 'd', "2026-11-23T08:00:00Z");
  b.add("dev", "no-op", 'd', "2026-11-23T09:00:00Z");
  return b;
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("deployment frequency counts promoted records in the window, rollbacks included") {
    const Builder b = shop_history();
    // 28 days: Monday 2 Nov 00:00 to Monday 30 Nov 00:00.
    const auto report = dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    REQUIRE(report.stages.size() == 3);
    CHECK(report.pipeline == "shop");
    REQUIRE(report.weeks.size() == 5);  // the week of 30 Nov meets the window at its end
    CHECK(promote::util::format_utc(report.weeks[0]) == "2026-11-02T00:00:00Z");
    const auto& dev = stage(report, "dev");
    CHECK(dev.deployments == 4);
    CHECK(dev.rollback_count == 0);
    CHECK(dev.per_week == doctest::Approx(1.0));
    CHECK(dev.per_day == doctest::Approx(4.0 / 28.0));
    CHECK(dev.frequency_band == "high");
    CHECK(dev.weekly == std::vector<std::size_t>{1, 1, 1, 1, 0});
    const auto& prod = stage(report, "prod");
    CHECK(prod.deployments == 4);
    CHECK(prod.rollback_count == 1);
    CHECK(prod.weekly == std::vector<std::size_t>{1, 2, 1, 0, 0});
    CHECK(prod.weekly_rollbacks == std::vector<std::size_t>{0, 1, 0, 0, 0});
    CHECK(prod.outcomes.at("pending") == 1);
    CHECK(prod.outcomes.at("error") == 1);
    CHECK(prod.outcomes.at("promoted") == 4);
    CHECK(dev.outcomes.at("no-op") == 1);
    CHECK(stage(report, "staging").outcomes.at("blocked") == 2);
  }

  TEST_CASE("lead time runs from the candidate's first entry into the first stage") {
    const Builder b = shop_history();
    const auto report = dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    const auto& dev = stage(report, "dev");
    CHECK(dev.first_stage);
    CHECK(dev.lead_times.empty());
    CHECK_FALSE(dev.lead_time_median);
    CHECK_FALSE(dev.lead_time_band);

    const auto& staging = stage(report, "staging");
    // a 2h, b 6h, c 2h: median 2h, p90 (nearest rank: the 3rd of 3) 6h.
    REQUIRE(staging.lead_times.size() == 3);
    CHECK(staging.lead_times[1].lead_time == chrono::hours(6));
    CHECK(staging.lead_time_median == chrono::hours(2));
    CHECK(staging.lead_time_p90 == chrono::hours(6));
    CHECK(staging.lead_time_band == "elite");

    const auto& prod = stage(report, "prod");
    // a 1d, b 3d, c 5d; the rollback is not a change and has no lead time.
    REQUIRE(prod.lead_times.size() == 3);
    CHECK(prod.lead_times[0].promotion_id == "p4");
    CHECK(prod.lead_time_median == chrono::hours(72));
    CHECK(prod.lead_time_p90 == chrono::hours(120));
    CHECK(prod.lead_time_band == "high");
  }

  TEST_CASE("the median of an even count is the mean of the two middle values") {
    Builder b;
    b.add("dev", "promoted", 'a', "2026-11-02T10:00:00Z");
    b.add("dev", "promoted", 'b', "2026-11-02T11:00:00Z");
    b.add("prod", "promoted", 'a', "2026-11-02T11:00:00Z");  // 1h
    b.add("prod", "promoted", 'b', "2026-11-02T14:00:00Z");  // 3h
    const auto report = dora(b.records, {"dev", "prod"}, at("2026-11-01T00:00:00Z"), at("2026-11-08T00:00:00Z"));
    CHECK(stage(report, "prod").lead_time_median == chrono::hours(2));
    CHECK(stage(report, "prod").lead_time_p90 == chrono::hours(3));
  }

  TEST_CASE("a candidate whose first-stage entry predates the window still has its lead time") {
    const Builder b = shop_history();
    // Only the week of 9 Nov: b entered dev inside it, but a (rolled back to) did not.
    const auto report = dora(b.records, k_stages, at("2026-11-12T00:00:00Z"), at("2026-11-13T00:00:00Z"));
    const auto& prod = stage(report, "prod");
    REQUIRE(prod.lead_times.size() == 1);
    CHECK(prod.lead_times[0].lead_time == chrono::hours(72));
    CHECK(prod.deployments == 2);
  }

  TEST_CASE("a promotion whose candidate never entered the first stage has an unknown lead time") {
    Builder b;
    b.add("staging", "promoted", 'x', "2026-11-03T10:00:00Z");
    const auto report = dora(b.records, k_stages, at("2026-11-01T00:00:00Z"), at("2026-11-08T00:00:00Z"));
    CHECK(stage(report, "staging").lead_time_unknown == 1);
    CHECK(stage(report, "staging").lead_times.empty());
    CHECK_FALSE(stage(report, "staging").lead_time_median);
  }

  TEST_CASE("change failure rate is rollbacks and errors over changes and errors") {
    const Builder b = shop_history();
    const auto report = dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    const auto& prod = stage(report, "prod");
    // 1 rollback + 1 error over 3 non-rollback promotions + 1 error.
    CHECK(prod.errors == 1);
    CHECK(prod.changes == 4);
    REQUIRE(prod.change_failure_rate);
    CHECK(*prod.change_failure_rate == doctest::Approx(0.5));
    CHECK(prod.change_failure_band == "low");
    const auto& staging = stage(report, "staging");
    CHECK(staging.change_failure_rate == doctest::Approx(0.0));
    CHECK(staging.change_failure_band == "elite");
  }

  TEST_CASE("time to restore runs from the start of the replaced promotion to the rollback's end") {
    const Builder b = shop_history();
    const auto report = dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    const auto& prod = stage(report, "prod");
    REQUIRE(prod.rollbacks.size() == 1);
    CHECK(prod.rollbacks[0].promotion_id == "p9");
    CHECK(prod.rollbacks[0].rollback_of == "p4");
    CHECK(prod.rollbacks[0].replaced == "p8");
    CHECK(prod.rollbacks[0].restore == chrono::minutes(150));
    CHECK(prod.rollbacks[0].reason == "5xx since b");
    CHECK(prod.restore_median == chrono::minutes(150));
    CHECK(prod.restore_band == "high");
    CHECK_FALSE(stage(report, "staging").restore_median);
  }

  TEST_CASE("the gates that failed most come first, and errors do not count") {
    const Builder b = shop_history();
    const auto report = dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
    const auto& gates = stage(report, "staging").failing_gates;
    REQUIRE(gates.size() == 1);
    CHECK(gates[0].name == "junit");
    CHECK(gates[0].count == 2);
    CHECK(stage(report, "prod").failing_gates.empty());
  }

  TEST_CASE("an empty window and a stage without promotions have no figures and no band") {
    const Builder b = shop_history();
    SUBCASE("a window before the history") {
      const auto report = dora(b.records, k_stages, at("2026-01-01T00:00:00Z"), at("2026-01-31T00:00:00Z"));
      for (const auto& figures : report.stages) {
        CHECK(figures.deployments == 0);
        CHECK(figures.per_week == 0);
        CHECK_FALSE(figures.frequency_band);
        CHECK_FALSE(figures.change_failure_rate);
        CHECK_FALSE(figures.lead_time_median);
        CHECK_FALSE(figures.restore_median);
        CHECK(figures.outcomes.at("promoted") == 0);
      }
    }
    SUBCASE("a stage the history never saw") {
      const auto report = dora(b.records, {"dev", "staging", "prod", "dr"},
                               at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
      const auto& dr = stage(report, "dr");
      CHECK(dr.deployments == 0);
      CHECK(dr.weekly == std::vector<std::size_t>(5, 0));
      CHECK(dr.lead_times.empty());
      CHECK_FALSE(dr.frequency_band);
      CHECK(promote::report::dora_json(report)["stages"][3]["change_failure_rate"]["rate"].is_null());
    }
    SUBCASE("no history at all") {
      const auto report = dora({}, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
      CHECK(report.pipeline.empty());
      CHECK(report.stages.size() == 3);
      CHECK(promote::report::dora_text(report).find("dev      0") != std::string::npos);
    }
  }

  TEST_CASE("the figures do not depend on the local time zone") {
    const Builder b = shop_history();
    const auto since = at("2026-11-02T00:00:00Z");
    const auto until = at("2026-11-30T00:00:00Z");
    const char* saved = std::getenv("TZ");
    const std::string before = saved ? saved : "";
    setenv("TZ", "UTC", 1);
    tzset();
    const std::string json_utc =
        promote::report::dora_json(dora(b.records, k_stages, since, until)).dump();
    const std::string html_utc = promote::report::dora_html(dora(b.records, k_stages, since, until));
    const std::string text_utc = promote::report::dora_text(dora(b.records, k_stages, since, until));
    for (const char* zone : {"Pacific/Kiritimati", "America/Adak", "Asia/Kathmandu"}) {
      CAPTURE(zone);
      setenv("TZ", zone, 1);
      tzset();
      const auto report = dora(b.records, k_stages, since, until);
      CHECK(promote::report::dora_json(report).dump() == json_utc);
      CHECK(promote::report::dora_html(report) == html_utc);
      CHECK(promote::report::dora_text(report) == text_utc);
    }
    if (saved) {
      setenv("TZ", before.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

  TEST_CASE("the bands follow the DORA thresholds") {
    using namespace promote::report;
    CHECK(frequency_band(0, 0) == std::nullopt);
    CHECK(frequency_band(30, 1.0) == "elite");
    CHECK(frequency_band(4, 1.0 / 7.0) == "high");
    CHECK(frequency_band(3, 1.0 / 10.0) == "medium");  // 0.7 a week
    CHECK(frequency_band(1, 1.0 / 30.0) == "medium");
    CHECK(frequency_band(1, 1.0 / 90.0) == "low");
    CHECK(lead_time_band(chrono::hours(23)) == "elite");
    CHECK(lead_time_band(chrono::hours(24)) == "high");
    CHECK(lead_time_band(chrono::hours(24 * 7)) == "high");
    CHECK(lead_time_band(chrono::hours(24 * 8)) == "medium");
    CHECK(lead_time_band(chrono::hours(24 * 31)) == "low");
    CHECK(change_failure_band(0.05) == "elite");
    CHECK(change_failure_band(0.08) == "high");
    CHECK(change_failure_band(0.15) == "medium");
    CHECK(change_failure_band(0.16) == "low");
    CHECK(restore_band(chrono::minutes(59)) == "elite");
    CHECK(restore_band(chrono::hours(1)) == "high");
    CHECK(restore_band(chrono::hours(24)) == "medium");
    CHECK(restore_band(chrono::hours(24 * 8)) == "low");
  }

  TEST_CASE("stages come in the order they first appear in the history") {
    Builder b;
    b.add("staging", "blocked", 'a', "2026-11-03T10:00:00Z");
    b.add("dev", "promoted", 'a', "2026-11-02T10:00:00Z");
    b.add("staging", "promoted", 'a', "2026-11-04T10:00:00Z");
    b.add("prod", "promoted", 'a', "2026-11-05T10:00:00Z");
    CHECK(promote::report::stages_in_history(b.records) ==
          std::vector<std::string>{"dev", "staging", "prod"});
  }

  TEST_CASE("the text table shows each stage's figures with their bands") {
    const Builder b = shop_history();
    const std::string text = promote::report::dora_text(
        dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z")));
    INFO(text);
    CHECK(text.starts_with("report shop: 2026-11-02T00:00:00Z .. 2026-11-30T00:00:00Z (28 days)\n"));
    CHECK(text.find("prod     4 (1 rollback)  1.0 (high)") != std::string::npos);
    CHECK(text.find("3d / 5d (high)") != std::string::npos);
    CHECK(text.find("50% of 4 (low)") != std::string::npos);
    CHECK(text.find("2h 30m (high)") != std::string::npos);
    CHECK(text.find("top failing gates:\n  staging: junit 2\n") != std::string::npos);
  }

  TEST_CASE("the JSON document carries every figure, in seconds and ISO times") {
    const Builder b = shop_history();
    const auto doc = promote::report::dora_json(
        dora(b.records, k_stages, at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z")));
    CHECK(doc["pipeline"] == "shop");
    CHECK(doc["weeks"][0] == "2026-11-02");
    const auto& prod = doc["stages"][2];
    CHECK(prod["name"] == "prod");
    CHECK(prod["deployment_frequency"]["deployments"] == 4);
    CHECK(prod["deployment_frequency"]["band"] == "high");
    CHECK(prod["lead_time"]["median_seconds"] == 72 * 3600);
    CHECK(prod["lead_time"]["points"][0]["entered_at"] == "2026-11-03T10:00:00Z");
    CHECK(prod["change_failure_rate"]["rate"] == 0.5);
    CHECK(prod["time_to_restore"]["median_seconds"] == 150 * 60);
    CHECK(prod["time_to_restore"]["rollbacks"][0]["replaced"] == "p8");
    CHECK(prod["outcomes"]["pending"] == 1);
    CHECK(doc["stages"][0]["lead_time"]["median_seconds"].is_null());
  }

  TEST_CASE("the HTML page is self-contained and escapes every string from the history") {
    Builder b;
    const std::string nasty = "<script>alert('x')</script>&\"";
    b.add("dev", "promoted", 'a', "2026-11-02T10:00:00Z");
    b.add("staging", "promoted", 'a', "2026-11-02T12:00:00Z");
    b.add("staging", "promoted", 'b', "2026-11-03T12:00:00Z").id = "<img src=x onerror=alert(1)>";
    auto& rollback = b.add("staging", "promoted", 'a', "2026-11-04T12:00:00Z");
    rollback.rollback_of = "p2";
    rollback.actor = nasty;
    rollback.reason = "<b>down</b>";
    auto& blocked = b.add("staging", "blocked", 'c', "2026-11-05T12:00:00Z");
    blocked.gates = {GateRecord{"<i>gate</i>", "junit", "fail", "", {}, {}, {}, {}}};
    for (auto& record : b.records) {
      record.pipeline = nasty;
    }
    const std::string html = promote::report::dora_html(
        dora(b.records, {"dev", "staging", "<u>prod</u>"}, at("2026-11-01T00:00:00Z"), at("2026-11-08T00:00:00Z")));
    CHECK(html.starts_with("<!DOCTYPE html>"));
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("<img") == std::string::npos);
    CHECK(html.find("<b>down") == std::string::npos);
    CHECK(html.find("<i>gate") == std::string::npos);
    CHECK(html.find("<u>prod") == std::string::npos);
    CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;") != std::string::npos);
    CHECK(html.find("&lt;b&gt;down&lt;/b&gt;") != std::string::npos);
    CHECK(html.find("&lt;i&gt;gate&lt;/i&gt;") != std::string::npos);
    CHECK(html.find("&lt;u&gt;prod&lt;/u&gt;") != std::string::npos);
    CHECK(html.find("http") == std::string::npos);
    CHECK(html.find("prefers-color-scheme: dark") != std::string::npos);
  }

  TEST_CASE("html_escape replaces the five characters that matter in HTML") {
    CHECK(promote::report::html_escape("a<b>&\"c'd") == "a&lt;b&gt;&amp;&quot;c&#39;d");
    CHECK(promote::report::html_escape("plain") == "plain");
    // A name reads as it is written: controls and bidirectional overrides shown.
    CHECK(promote::report::html_escape("\xe2\x80\xae" "ecila\n<b>") == "\\u202eecila\\x0a&lt;b&gt;");
  }
}
