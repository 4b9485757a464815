#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include "engine/util/zone.hpp"
#include "gates/window.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/support.hpp"

using promote::Verdict;
using promote::util::LocalSeconds;
using promote::util::SysSeconds;
using promote::util::TimeZone;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;
namespace chr = std::chrono;

namespace {

SysSeconds utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  return SysSeconds(chr::sys_days(chr::year(year) / month / day)) + chr::hours(hour) +
         chr::minutes(minute);
}

LocalSeconds local(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  return LocalSeconds(chr::local_days(chr::year(year) / month / day)) + chr::hours(hour) +
         chr::minutes(minute);
}

TimeZone zone(const std::string& name) {
  auto loaded = TimeZone::load(name);
  REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().message));
  return *loaded;
}

std::unique_ptr<promote::Gate> make(const std::string& yaml,
                                    promote::pipeline::Diagnostics& diagnostics) {
  YAML::Node node = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
  return promote::gates::make_window(
      promote::pipeline::ConfigNode(node, "promote.yaml", diagnostics));
}

Verdict judge(promote::Gate& gate, SysSeconds now, bool break_glass = false) {
  promote::test::FakeTimeline timeline;
  timeline.now_value = now;
  promote::Candidate candidate;
  promote::GateContext context{candidate, "prod", std::string("staging"), ".", timeline};
  context.actor = "alice";
  context.break_glass = break_glass;
  boost::asio::io_context io;
  auto future = boost::asio::co_spawn(io, gate.evaluate(context), boost::asio::use_future);
  io.run();
  return future.get();
}

/// Builds the gate from `yaml` (which must be valid) and judges it at `now`.
Verdict judge(const std::string& yaml, SysSeconds now, bool break_glass = false) {
  promote::pipeline::Diagnostics diagnostics;
  auto gate = make(yaml, diagnostics);
  REQUIRE_MESSAGE(gate, (diagnostics.empty() ? "" : diagnostics.messages().front()));
  return judge(*gate, now, break_glass);
}

std::vector<std::string> errors(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  CHECK_FALSE(make(yaml, diagnostics));
  return diagnostics.messages();
}

const std::string k_office_hours =
    "timezone: Europe/Paris\n"
    "allow:\n"
    "  - days: [mon-thu]\n"
    "    start: \"09:00\"\n"
    "    end: \"16:00\"\n"
    "deny:\n"
    "  - from: 2026-12-20\n"
    "    to: 2027-01-04\n"
    "    reason: year-end\n";

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("a time zone from the system's database gives the offsets of its DST transitions") {
    const TimeZone paris = zone("Europe/Paris");
    CHECK(paris.name() == "Europe/Paris");
    SUBCASE("2026, from the file's transitions") {
      CHECK(paris.type_at(utc(2026, 1, 15, 12)).offset == 1h);
      CHECK(paris.type_at(utc(2026, 1, 15, 12)).abbreviation == "CET");
      CHECK(paris.type_at(utc(2026, 3, 29, 1) - 1s).offset == 1h);
      CHECK(paris.type_at(utc(2026, 3, 29, 1)).offset == 2h);
      CHECK(paris.type_at(utc(2026, 3, 29, 1)).abbreviation == "CEST");
      CHECK(paris.type_at(utc(2026, 3, 29, 1)).is_dst);
      CHECK(paris.type_at(utc(2026, 10, 25, 1) - 1s).offset == 2h);
      CHECK(paris.type_at(utc(2026, 10, 25, 1)).offset == 1h);
    }
    SUBCASE("2040, from the POSIX TZ rule the zone's file ends with") {
      CHECK(paris.type_at(utc(2040, 3, 25, 1) - 1s).offset == 1h);
      CHECK(paris.type_at(utc(2040, 3, 25, 1)).offset == 2h);
      CHECK(paris.type_at(utc(2040, 10, 28, 1) - 1s).offset == 2h);
      CHECK(paris.type_at(utc(2040, 10, 28, 1)).offset == 1h);
    }
    SUBCASE("other hemispheres and sides of Greenwich in 2040") {
      const TimeZone new_york = zone("America/New_York");
      CHECK(new_york.type_at(utc(2040, 3, 11, 7) - 1s).offset == -5h);
      CHECK(new_york.type_at(utc(2040, 3, 11, 7)).offset == -4h);
      CHECK(new_york.type_at(utc(2040, 11, 4, 6)).offset == -5h);
      const TimeZone sydney = zone("Australia/Sydney");
      CHECK(sydney.type_at(utc(2040, 1, 10)).offset == 11h);
      CHECK(sydney.type_at(utc(2040, 3, 31, 16) - 1s).offset == 11h);
      CHECK(sydney.type_at(utc(2040, 3, 31, 16)).offset == 10h);
      CHECK(sydney.type_at(utc(2040, 10, 6, 16) - 1s).offset == 10h);
      CHECK(sydney.type_at(utc(2040, 10, 6, 16)).offset == 11h);
    }
    SUBCASE("a half-hour daylight saving time") {
      const TimeZone lord_howe = zone("Australia/Lord_Howe");
      CHECK(lord_howe.type_at(utc(2026, 4, 4, 15) - 1s).offset == 11h);
      CHECK(lord_howe.type_at(utc(2026, 4, 4, 15) - 1s).is_dst);
      CHECK(lord_howe.type_at(utc(2026, 4, 4, 15)).offset == 10h + 30min);
      CHECK(lord_howe.type_at(utc(2026, 4, 4, 15)).abbreviation == "+1030");
      CHECK_FALSE(lord_howe.type_at(utc(2026, 4, 4, 15)).is_dst);
      CHECK(lord_howe.type_at(utc(2040, 10, 6, 15, 30) - 1s).offset == 10h + 30min);
      CHECK(lord_howe.type_at(utc(2040, 10, 6, 15, 30)).offset == 11h);
    }
  }

  TEST_CASE("wall-clock times in a gap have no instant and those in a fold have two") {
    SUBCASE("an hour in Paris") {
      const TimeZone paris = zone("Europe/Paris");
      CHECK(paris.to_local(utc(2026, 7, 1, 10)) == local(2026, 7, 1, 12));
      CHECK(paris.to_sys_all(local(2026, 7, 1, 12)) ==
            std::vector<SysSeconds>{utc(2026, 7, 1, 10)});
      CHECK(paris.to_sys_all(local(2026, 3, 29, 2, 30)).empty());
      CHECK(paris.to_sys(local(2026, 3, 29, 2, 30)) == utc(2026, 3, 29, 1, 30));
      CHECK(paris.to_sys_all(local(2026, 10, 25, 2, 30)) ==
            std::vector<SysSeconds>{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)});
      CHECK(paris.to_sys(local(2026, 10, 25, 2, 30)) == utc(2026, 10, 25, 0, 30));
      CHECK(paris.to_sys_all(local(2040, 3, 25, 2, 30)).empty());
      CHECK(paris.to_sys_all(local(2040, 10, 28, 2, 30)) ==
            std::vector<SysSeconds>{utc(2040, 10, 28, 0, 30), utc(2040, 10, 28, 1, 30)});
    }
    SUBCASE("half an hour on Lord Howe Island") {
      const TimeZone lord_howe = zone("Australia/Lord_Howe");
      CHECK(lord_howe.to_sys_all(local(2026, 4, 5, 1, 45)) ==
            std::vector<SysSeconds>{utc(2026, 4, 4, 14, 45), utc(2026, 4, 4, 15, 15)});
      CHECK(lord_howe.to_sys_all(local(2026, 4, 5, 2)) ==
            std::vector<SysSeconds>{utc(2026, 4, 4, 15, 30)});
      CHECK(lord_howe.to_sys_all(local(2026, 10, 4, 2, 15)).empty());
      CHECK(lord_howe.to_sys(local(2026, 10, 4, 2, 15)) == utc(2026, 10, 3, 15, 45));
    }
    SUBCASE("a whole day in Samoa, which moved across the date line") {
      const TimeZone apia = zone("Pacific/Apia");
      CHECK(apia.to_sys_all(local(2011, 12, 29, 23, 59)) ==
            std::vector<SysSeconds>{utc(2011, 12, 30, 9, 59)});
      CHECK(apia.to_sys_all(local(2011, 12, 30, 12)).empty());
      CHECK(apia.to_sys(local(2011, 12, 30, 12)) == utc(2011, 12, 30, 22));
      CHECK(apia.to_sys_all(local(2011, 12, 31)) == std::vector<SysSeconds>{utc(2011, 12, 30, 10)});
    }
  }

  TEST_CASE("UTC needs no time zone database") {
    const TimeZone universal = TimeZone::utc();
    CHECK(universal.name() == "UTC");
    CHECK(universal.type_at(utc(2040, 7, 1)).offset == 0s);
    CHECK(universal.type_at(utc(2040, 7, 1)).abbreviation == "UTC");
    CHECK_FALSE(universal.type_at(utc(2040, 7, 1)).is_dst);
    CHECK(universal.to_sys_all(local(2040, 7, 1, 12)) ==
          std::vector<SysSeconds>{utc(2040, 7, 1, 12)});
    CHECK(zone("UTC").type_at(utc(2040, 7, 1)).abbreviation == "UTC");
    CHECK(zone("Etc/UTC").type_at(utc(2040, 7, 1)).abbreviation == "UTC");
  }

  TEST_CASE("an unknown time zone is reported clearly") {
    // zone.tab is a file of the database that is not a zone.
    for (const std::string name :
         {"Europe/Pariss", "../../etc/passwd", "Europe", "", "/etc/hosts", "zone.tab"}) {
      CAPTURE(name);
      auto loaded = TimeZone::load(name);
      REQUIRE_FALSE(loaded.has_value());
      CHECK(loaded.error().kind == promote::ErrorKind::config);
      CHECK(loaded.error().message == "unknown time zone '" + name + "'");
    }
  }

  TEST_CASE("inside an allowed window and outside every freeze the gate passes") {
    const Verdict verdict = judge(k_office_hours, utc(2026, 11, 24, 9, 15));
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.summary == "open: Tue 2026-11-24 10:15 Europe/Paris is inside mon-thu 09:00-16:00");
    CHECK(verdict.details["condition"] == "inside_allow_window");
    CHECK(verdict.details["now"] == "2026-11-24T09:15:00Z");
    CHECK(verdict.details["now_local"] == "Tue 2026-11-24 10:15 CET");
    CHECK(verdict.details["utc_offset_seconds"] == 3600);
    CHECK_FALSE(verdict.retry_after);
  }

  TEST_CASE("outside the allowed windows the gate is pending until the next opening") {
    const Verdict verdict = judge(k_office_hours, utc(2026, 11, 27, 16));
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary == "closed: Fri 2026-11-27 17:00 Europe/Paris is outside the allowed "
                             "windows; next opening Mon 2026-11-30 09:00 (in 2d 16h)");
    REQUIRE(verdict.retry_after);
    CHECK(*verdict.retry_after == 2 * 24h + 16h);
    CHECK(verdict.details["condition"] == "outside_allow_windows");
    CHECK(verdict.details["next_opening"] == "2026-11-30T08:00:00Z");
    CHECK(verdict.details["next_opening_local"] == "Mon 2026-11-30 09:00 CET");
    CHECK(verdict.details["retry_after_seconds"] == (2 * 24 + 16) * 3600);
  }

  TEST_CASE("break-glass turns a closed window into a warning that names the actor") {
    const Verdict verdict = judge(k_office_hours, utc(2026, 11, 27, 16), true);
    CHECK(verdict.status == Status::warn);
    CHECK(verdict.summary == "break-glass by alice: closed: Fri 2026-11-27 17:00 Europe/Paris is "
                             "outside the allowed windows; next opening Mon 2026-11-30 09:00 (in "
                             "2d 16h)");
    CHECK_FALSE(verdict.retry_after);
    CHECK(verdict.details["break_glass"]["actor"] == "alice");
    CHECK(verdict.details["break_glass"]["overridden_status"] == "pending");
    // An open window is a plain pass, break-glass or not.
    const Verdict open = judge(k_office_hours, utc(2026, 11, 26, 10), true);
    CHECK(open.status == Status::pass);
    CHECK_FALSE(open.details.contains("break_glass"));
  }

  TEST_CASE("during a freeze the gate names it and waits for the first window after it") {
    SUBCASE("a date range includes its last day") {
      const Verdict verdict = judge(k_office_hours, utc(2026, 12, 21, 9));
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary == "closed: freeze 'year-end' until 2027-01-04 23:59 Europe/Paris; "
                               "next opening Tue 2027-01-05 09:00 (in 14d 23h)");
      CHECK(verdict.details["condition"] == "inside_freeze");
      CHECK(verdict.details["freeze"] ==
            nlohmann::json{{"from", "2026-12-20"}, {"to", "2027-01-04"}, {"reason", "year-end"}});
      CHECK(*verdict.retry_after == 14 * 24h + 23h);
    }
    SUBCASE("the first day of the freeze is closed from midnight") {
      CHECK(judge(k_office_hours, utc(2026, 12, 19, 23)).details["condition"] == "inside_freeze");
      CHECK(judge(k_office_hours, utc(2026, 12, 19, 22, 59)).details["frozen"] == false);
    }
    SUBCASE("a date-time freeze ends at that moment, in UTC by default") {
      const Verdict verdict = judge(
          "deny:\n  - {from: \"2027-01-15 06:00\", to: \"2027-01-15T12:30\", reason: db migration}",
          utc(2027, 1, 15, 8));
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary == "closed: freeze 'db migration' until 2027-01-15 12:30 UTC; next "
                               "opening Fri 2027-01-15 12:30 (in 4h 30m)");
      CHECK(judge("deny:\n  - {from: \"2027-01-15 06:00\", to: \"2027-01-15 12:30\", reason: m}",
                  utc(2027, 1, 15, 12, 30))
                .summary == "open: Fri 2027-01-15 12:30 UTC is outside every freeze");
    }
  }

  TEST_CASE("a window whose end is before its start crosses midnight") {
    const std::string yaml =
        "timezone: UTC\nallow:\n  - {days: fri, start: \"22:00\", end: \"02:00\"}\n";
    CHECK(judge(yaml, utc(2027, 1, 15, 23)).status == Status::pass);
    const Verdict saturday = judge(yaml, utc(2027, 1, 16, 1, 59));
    CHECK(saturday.status == Status::pass);
    CHECK(saturday.summary == "open: Sat 2027-01-16 01:59 UTC is inside fri 22:00-02:00");
    const Verdict closed = judge(yaml, utc(2027, 1, 16, 2));
    CHECK(closed.status == Status::pending);
    CHECK(closed.summary == "closed: Sat 2027-01-16 02:00 UTC is outside the allowed windows; "
                            "next opening Fri 2027-01-22 22:00 (in 6d 20h)");
    CHECK(judge(yaml, utc(2027, 1, 15, 21, 59)).status == Status::pending);
  }

  TEST_CASE("day ranges wrap around the week and several windows combine") {
    const std::string yaml =
        "allow:\n  - {days: [fri-mon], start: \"10:00\", end: \"11:00\"}\n"
        "  - {days: [Wed], start: \"00:00\", end: \"24:00\"}\n";
    CHECK(judge(yaml, utc(2027, 1, 17, 10, 30)).status == Status::pass);  // Sunday
    CHECK(judge(yaml, utc(2027, 1, 18, 10, 30)).status == Status::pass);  // Monday
    CHECK(judge(yaml, utc(2027, 1, 19, 10, 30)).status == Status::pending);  // Tuesday
    const Verdict wednesday = judge(yaml, utc(2027, 1, 20, 23, 59));
    CHECK(wednesday.summary == "open: Wed 2027-01-20 23:59 UTC is inside Wed 00:00-24:00");
    const Verdict tuesday = judge(yaml, utc(2027, 1, 19, 10, 30));
    CHECK(tuesday.details["next_opening"] == "2027-01-20T00:00:00Z");
  }

  TEST_CASE("a window inside the spring-forward gap does not exist that day") {
    const std::string yaml =
        "timezone: Europe/Paris\nallow:\n  - {start: \"02:00\", end: \"03:00\"}\n";
    SUBCASE("2026, from the file's transitions") {
      const Verdict verdict = judge(yaml, utc(2026, 3, 28, 11));
      CHECK(verdict.status == Status::pending);
      CHECK(verdict.summary ==
            "closed: Sat 2026-03-28 12:00 Europe/Paris is outside the allowed windows; next "
            "opening Mon 2026-03-30 02:00 (in 1d 13h)");
      CHECK(verdict.details["next_opening"] == "2026-03-30T00:00:00Z");
      CHECK(verdict.details["next_opening_local"] == "Mon 2026-03-30 02:00 CEST");
      CHECK(judge(yaml, utc(2026, 3, 29, 0, 59)).status == Status::pending);
      CHECK(judge(yaml, utc(2026, 3, 29, 1)).summary.starts_with(
          "closed: Sun 2026-03-29 03:00 Europe/Paris"));
    }
    SUBCASE("2040, from the POSIX TZ footer") {
      const Verdict verdict = judge(yaml, utc(2040, 3, 24, 11));
      CHECK(verdict.details["next_opening"] == "2040-03-26T00:00:00Z");
      CHECK(*verdict.retry_after == 24h + 13h);
    }
  }

  TEST_CASE("a window that the spring-forward gap cuts opens at the transition") {
    const std::string yaml =
        "timezone: Europe/Paris\nallow:\n  - {start: \"02:30\", end: \"04:00\"}\n";
    const Verdict verdict = judge(yaml, utc(2026, 3, 29, 0, 30));
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary == "closed: Sun 2026-03-29 01:30 Europe/Paris is outside the allowed "
                             "windows; next opening Sun 2026-03-29 03:00 (in 30m)");
    CHECK(*verdict.retry_after == 30min);
  }

  TEST_CASE("a window in the fall-back fold opens twice") {
    const std::string yaml =
        "timezone: Europe/Paris\nallow:\n  - {days: sun, start: \"02:30\", end: \"03:00\"}\n";
    const Verdict first = judge(yaml, utc(2026, 10, 25, 0, 45));
    CHECK(first.status == Status::pass);
    CHECK(first.details["now_local"] == "Sun 2026-10-25 02:45 CEST");
    const Verdict between = judge(yaml, utc(2026, 10, 25, 1, 5));
    CHECK(between.status == Status::pending);
    CHECK(between.details["now_local"] == "Sun 2026-10-25 02:05 CET");
    CHECK(between.details["next_opening"] == "2026-10-25T01:30:00Z");
    CHECK(*between.retry_after == 25min);
  }

  TEST_CASE("a window on a day the zone skips does not open that week") {
    // Samoa went from 2011-12-29 straight to 2011-12-31.
    const Verdict verdict =
        judge("timezone: Pacific/Apia\nallow:\n  - {days: fri, start: \"09:00\", end: \"10:00\"}\n",
              utc(2011, 12, 29, 22));
    CHECK(verdict.status == Status::pending);
    CHECK(verdict.summary ==
          "closed: Thu 2011-12-29 12:00 Pacific/Apia is outside the allowed "
          "windows; next opening Fri 2012-01-06 09:00 (in 6d 21h)");
    CHECK(verdict.details["next_opening"] == "2012-01-05T19:00:00Z");
    CHECK(verdict.details["next_opening_local"] == "Fri 2012-01-06 09:00 +14");
  }

  TEST_CASE("when no time is allowed within 400 days the gate fails") {
    const Verdict verdict = judge(
        "allow:\n  - {days: mon, start: \"09:00\", end: \"10:00\"}\n"
        "deny:\n  - {from: 2026-01-01, to: 2030-01-01, reason: forever}\n",
        utc(2027, 1, 15, 8));
    CHECK(verdict.status == Status::fail);
    CHECK(verdict.summary ==
          "closed: freeze 'forever' until 2030-01-01 23:59 UTC; no allowed time in the next 400 "
          "days");
    CHECK(verdict.details["condition"] == "no_opening");
    CHECK_FALSE(verdict.retry_after);
  }

  TEST_CASE("bad configuration is reported with its position") {
    SUBCASE("unknown time zone") {
      CHECK(errors("timezone: Europe/Pariss\ndeny: []") ==
            std::vector<std::string>{"promote.yaml:1:11: unknown time zone 'Europe/Pariss'"});
    }
    SUBCASE("missing with") {
      CHECK(errors("") == std::vector<std::string>{
                              "promote.yaml: gate 'window' needs 'with:' with 'allow:' windows "
                              "or 'deny:' periods"});
    }
    SUBCASE("neither allow nor deny") {
      CHECK(errors("timezone: UTC") ==
            std::vector<std::string>{
                "promote.yaml:1:1: gate 'window' needs 'allow:' windows or 'deny:' periods"});
    }
    SUBCASE("unknown day") {
      CHECK(errors("allow:\n  - {days: [mon-thurs], start: \"09:00\", end: \"16:00\"}") ==
            std::vector<std::string>{
                "promote.yaml:2:13: unknown day 'thurs' (expected mon, tue, wed, thu, fri, sat "
                "or sun)"});
    }
    SUBCASE("unknown day close to a known one") {
      CHECK(errors("allow:\n  - {days: [mno], start: \"09:00\", end: \"16:00\"}") ==
            std::vector<std::string>{
                "promote.yaml:2:13: unknown day 'mno' (expected mon, tue, wed, thu, fri, sat "
                "or sun; did you mean 'mon'?)"});
    }
    SUBCASE("bad times") {
      CHECK(errors("allow:\n  - {start: \"9am\", end: \"24:30\"}") ==
            std::vector<std::string>{
                "promote.yaml:2:13: 'start' must be a time of day HH:MM, got '9am'",
                "promote.yaml:2:25: 'end' must be a time of day HH:MM (00:00 to 24:00), got "
                "'24:30'"});
    }
    SUBCASE("empty window") {
      CHECK(errors("allow:\n  - {start: \"09:00\", end: \"09:00\"}") ==
            std::vector<std::string>{
                "promote.yaml:2:5: allow window start and end must differ, got 09:00-09:00"});
    }
    SUBCASE("missing start and unknown field") {
      CHECK(errors("allow:\n  - {end: \"09:00\", day: mon}") ==
            std::vector<std::string>{
                "promote.yaml:2:20: unknown field 'day' in allow window (did you mean 'days'?)",
                "promote.yaml:2:5: missing required field 'start' in allow window"});
    }
    SUBCASE("bad dates and periods") {
      CHECK(errors("deny:\n  - {from: 2026-02-30, to: 2027-01-04, reason: x}\n"
                   "  - {from: 2026-12-20, to: 2026-12-19, reason: backwards}\n"
                   "  - {from: 2026-12-20, to: 2026-12-21}") ==
            std::vector<std::string>{
                "promote.yaml:2:12: 'from' must be a date YYYY-MM-DD or a date and time "
                "YYYY-MM-DD HH:MM, got '2026-02-30'",
                "promote.yaml:3:5: deny period 'backwards' ends (2026-12-19) before it starts "
                "(2026-12-20)",
                "promote.yaml:4:5: missing required field 'reason' in deny period"});
      CHECK(errors("deny:\n  - {from: 2026-12-20, to: 2026-12-21, reason: \"\"}") ==
            std::vector<std::string>{"promote.yaml:2:48: 'reason' must not be empty"});
    }
    SUBCASE("empty allow list") {
      CHECK(errors("allow: []") ==
            std::vector<std::string>{"promote.yaml:1:8: 'allow' must list at least one window"});
    }
  }

  TEST_CASE("the configuration is recorded as validated") {
    promote::pipeline::Diagnostics diagnostics;
    auto gate = make(k_office_hours, diagnostics);
    REQUIRE(gate);
    CHECK(gate->config() ==
          nlohmann::json::parse(R"({"timezone": "Europe/Paris",
            "allow": [{"days": ["mon-thu"], "start": "09:00", "end": "16:00"}],
            "deny": [{"from": "2026-12-20", "to": "2027-01-04", "reason": "year-end"}]})"));
    auto utc_gate = make("deny:\n  - {from: 2026-12-20, to: 2026-12-21, reason: x}", diagnostics);
    REQUIRE(utc_gate);
    CHECK(utc_gate->config()["timezone"] == "UTC");
  }
}
