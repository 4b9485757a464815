#include "engine/cli/app.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "engine/history/history.hpp"
#include "engine/promoter/approve.hpp"
#include "engine/promoter/hold.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/status.hpp"
#include "engine/report/report.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/json.hpp"
#include "engine/util/time.hpp"
#include "gates/registry.hpp"

#ifndef PROMOTE_VERSION
#define PROMOTE_VERSION "dev"
#endif

namespace promote::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_examples = R"(
Examples:
  promote --to dev --image api=ghcr.io/acme/api:1.4.2    enter the first stage
  promote --to staging                                     promote what dev holds
  promote --to prod --dry-run                              gates and diff, no write
  promote plan --to prod                                   the same
  promote explain --to prod                                why not now, and what would change it
  promote --to prod --wait 3h                              wait out the soak, then promote
  promote --to prod --wait-merged 1h                       pull-request stage: wait for the merge
  promote rollback --stage prod                            put back what prod held before
  promote approve --stage prod --reason "checked the canary"
  promote --to prod --break-glass --reason "INC-1234 hotfix"  through a closed window
  promote hold --stage prod --reason "INC-1234: payments down"
  promote validate -f promote.yaml
  promote status --output json
  promote history --stage prod --output csv

Exit codes: 0 promoted, proposed (pull request open), no-op or passed; 1 blocked
by a gate; 2 usage or configuration error; 3 pending (run again later); 4 error.
)";

struct Options {
  std::string file = "promote.yaml";
  std::string to;
  std::vector<std::string> images;
  bool dry_run = false;
  std::string output = "text";
  std::string history;
  std::string actor;
  std::string reason;
  std::string stage;
  std::string wait;
  std::string promotion_id;
  std::string candidate;
  bool break_glass = false;
  std::string wait_merged;
  std::string workdir;
  bool rollback = false;
  std::string rollback_to;
  bool skip_gates = false;
};

std::optional<std::chrono::seconds> duration_flag(const std::string& flag,
                                                  const std::string& text, Error& error) {
  auto parsed = pipeline::parse_duration(text);
  if (!parsed) {
    error = make_error(ErrorKind::usage, flag + " must be a duration such as 90s, 5m, 2h or 1d, got '" +
                                             text + "'");
  }
  return parsed;
}

int fail(const Error& error, bool json) {
  if (json) {
    std::cout << util::dump_json(report::error_json(error), 2) << "\n";
  }
  std::cerr << "promote: " << error.message << "\n";
  return exit_code(error.kind);
}

std::optional<fs::path> history_flag(const Options& options) {
  if (options.history.empty()) {
    return std::nullopt;
  }
  return fs::path(options.history);
}

/// A promotion, or with `explain` a dry run told as an explanation.
int run_promote(const Options& options, bool explain = false) {
  promoter::Request request;
  request.pipeline_file = options.file;
  request.stage = options.to;
  request.images = options.images;
  request.dry_run = options.dry_run || explain;
  request.history_path = history_flag(options);
  request.actor = options.actor;
  request.reason = options.reason;
  request.break_glass = options.break_glass;
  const bool json = options.output == "json";
  bool waited = false;
  if (options.break_glass && options.reason.empty()) {
    return fail(make_error(ErrorKind::usage,
                           "--break-glass needs --reason: say why the time windows are overridden"),
                json);
  }
  request.rollback = options.rollback;
  request.rollback_to = options.rollback_to;
  request.skip_gates = options.skip_gates;
  if (!options.workdir.empty()) {
    request.workdir = fs::path(options.workdir);
  }
  Error bad_flag;
  if (!options.wait_merged.empty()) {
    request.wait_merged = duration_flag("--wait-merged", options.wait_merged, bad_flag);
    if (!request.wait_merged) {
      return fail(bad_flag, json);
    }
    // Ask about ten times over the wait, every 1 to 15 seconds.
    request.merge_poll = std::clamp(*request.wait_merged / 10, std::chrono::seconds(1),
                                    std::chrono::seconds(15));
  }
  if (!options.wait.empty()) {
    request.wait = duration_flag("--wait", options.wait, bad_flag);
    if (!request.wait) {
      return fail(bad_flag, json);
    }
  }
  if (request.wait || request.wait_merged) {
    request.on_wait = [live = isatty(STDERR_FILENO) == 1 && std::getenv("CI") == nullptr,
                       &waited](const promoter::WaitProgress& progress) {
      const std::string line = "waiting " + pipeline::format_duration(progress.next_check) +
                               " for " + progress.waiting_for + "; " +
                               pipeline::format_duration(progress.left) + " left";
      if (live) {
        // One line, redrawn every second, cleared when the wait ends.
        std::cerr << "\r\033[2Kpromote: " << line << std::flush;
        waited = true;
      } else if (!progress.tick) {
        std::cerr << "promote: " << line << "\n";
      }
    };
  }
  auto result = promoter::promote(request, gates::Catalog::for_pipeline(options.file));
  if (waited) {
    std::cerr << "\r\033[2K" << std::flush;
  }
  if (!result) {
    return fail(result.error(), json);
  }
  if (explain && !json) {
    std::cout << report::explain_text(*result);
  } else if (json) {
    std::cout << util::dump_json(report::to_json(*result), 2) << "\n";
  } else {
    std::cout << report::render_text(*result, {report::use_color(STDOUT_FILENO)});
  }
  return result->exit_code();
}

Result<pipeline::Pipeline> load(const Options& options) {
  return pipeline::load(options.file, gates::Catalog::for_pipeline(options.file));
}

int run_validate(const Options& options) {
  auto loaded = load(options);
  if (!loaded) {
    return fail(loaded.error(), false);
  }
  std::size_t gates = 0;
  for (const auto& stage : loaded->stages) {
    gates += stage.gates.size();
  }
  std::cout << options.file << ": ok (pipeline " << loaded->name << ", "
            << loaded->images.size() << " images, " << loaded->stages.size() << " stages, "
            << gates << " gates)\n";
  return 0;
}

int run_status(const Options& options) {
  const bool json = options.output == "json";
  auto loaded = load(options);
  if (!loaded) {
    return fail(loaded.error(), json);
  }
  auto stages = promoter::status(*loaded, history_flag(options));
  if (!stages) {
    return fail(stages.error(), json);
  }
  if (json) {
    std::cout << util::dump_json(report::status_json(loaded->name, *stages), 2) << "\n";
  } else {
    std::cout << report::status_table(*stages);
  }
  return 0;
}

int run_history(const Options& options) {
  const fs::path path = promoter::history_path(options.file, history_flag(options));
  const bool json = options.output == "json";
  if (!fs::exists(path)) {
    return fail(make_error(ErrorKind::usage, "no history at " + path.string() +
                                                 " (nothing promoted yet, or give --history)"),
                json);
  }
  auto history = history::History::open(path);
  if (!history) {
    return fail(history.error(), json);
  }
  history::Query query;
  if (!options.stage.empty()) {
    query.stage = options.stage;
  }
  auto records = history->list(query);
  if (!records) {
    return fail(records.error(), json);
  }
  if (json) {
    std::cout << util::dump_json(report::history_json(*records), 2) << "\n";
  } else if (options.output == "csv") {
    std::cout << report::history_csv(*records);
  } else {
    std::cout << report::history_table(*records);
  }
  return 0;
}

// `promote history show ID` and `promote explain ID`: a recorded attempt, read back.
int run_show(const Options& options) {
  const fs::path path = promoter::history_path(options.file, history_flag(options));
  const bool json = options.output == "json";
  if (!fs::exists(path)) {
    return fail(make_error(ErrorKind::usage, "no history at " + path.string()), json);
  }
  auto history = history::History::open(path);
  if (!history) {
    return fail(history.error(), json);
  }
  history::Query query;
  query.id = options.promotion_id;
  auto records = history->list(query);
  if (!records) {
    return fail(records.error(), json);
  }
  if (records->empty()) {
    return fail(make_error(ErrorKind::usage, "no promotion '" + options.promotion_id + "' in " +
                                                 path.string()),
                json);
  }
  if (json) {
    std::cout << util::dump_json(report::history_json(*records)[0], 2) << "\n";
  } else {
    std::cout << report::promotion_text(records->front());
  }
  return 0;
}

int run_decide(const Options& options, bool approve) {
  promoter::DecisionRequest request;
  request.pipeline_file = options.file;
  request.stage = options.stage;
  if (!options.candidate.empty()) {
    request.candidate = options.candidate;
  }
  request.approve = approve;
  request.reason = options.reason;
  request.history_path = history_flag(options);
  const bool json = options.output == "json";
  if (!options.actor.empty()) {
    // An approval is worth what its author is: never whoever a flag names.
    return fail(make_error(ErrorKind::usage, std::string(approve ? "approve" : "reject") +
                                                 " records who runs it; --actor does not apply"),
                json);
  }
  auto decided = promoter::decide(request, gates::Catalog::for_pipeline(options.file));
  if (!decided) {
    return fail(decided.error(), json);
  }
  if (json) {
    std::cout << util::dump_json(nlohmann::json{{"pipeline", decided->pipeline},
                                {"stage", decided->stage},
                                {"candidate_id", decided->candidate_id},
                                {"images", decided->images},
                                {"decision", approve ? "approve" : "reject"},
                                {"actor", decided->actor},
                                {"reason", decided->reason},
                                {"at", util::format_utc(decided->at)}},
                                 2)
              << "\n";
  } else {
    std::cout << (approve ? "approved" : "rejected") << " candidate "
              << decided->candidate_id.substr(0, 12) << " for " << decided->stage << " as "
              << decided->actor;
    if (decided->images.is_object()) {
      std::string images;
      for (const auto& [name, reference] : decided->images.items()) {
        images += (images.empty() ? "" : ", ") + name + "=" + reference.get<std::string>();
      }
      std::cout << " (" << images << ")";
    }
    std::cout << "\n";
  }
  return 0;
}

int run_hold(const Options& options, bool hold) {
  const bool json = options.output == "json";
  if (!options.actor.empty()) {
    return fail(make_error(ErrorKind::usage, std::string(hold ? "hold" : "release") +
                                                 " records who runs it; --actor does not apply"),
                json);
  }
  promoter::HoldRequest request{options.file, options.stage, hold, options.reason,
                                history_flag(options)};
  auto done = promoter::set_hold(request, gates::Catalog::for_pipeline(options.file));
  if (!done) {
    return fail(done.error(), json);
  }
  if (json) {
    std::cout << util::dump_json(nlohmann::json{{"pipeline", done->pipeline},
                                                {"stage", done->stage},
                                                {"action", hold ? "hold" : "release"},
                                                {"actor", done->actor},
                                                {"reason", done->reason},
                                                {"at", util::format_utc(done->at)}},
                                 2)
              << "\n";
  } else {
    std::cout << (hold ? "held " : "released ") << done->stage << " as " << done->actor
              << (done->reason.empty() ? "" : ": " + done->reason) << "\n";
  }
  return 0;
}

void add_file_option(CLI::App& app, Options& options) {
  app.add_option("-f,--file", options.file, "pipeline file")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"promote: move container images through dev -> staging -> prod behind quality gates",
               "promote"};
  app.footer(k_examples);
  app.set_version_flag("--version", std::string("promote ") + PROMOTE_VERSION);
  add_file_option(app, options);
  app.add_option("--to", options.to, "the stage to promote into");
  app.add_option("--image", options.images,
                 "NAME=REFERENCE, for a stage without 'from' (repeatable)")
      ->type_name("NAME=REF");
  app.add_flag("--dry-run", options.dry_run, "evaluate the gates and print the diff; write nothing");
  app.add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--history", options.history,
                 "history database (default .promote/history.db beside the pipeline, or "
                 "$PROMOTE_HISTORY)");
  app.add_option("--wait", options.wait,
                 "while pending (soak, ...), wait and evaluate again, up to this long (e.g. 3h)")
      ->type_name("DURATION");
  app.add_option("--actor", options.actor,
                 "who promotes (default $PROMOTE_ACTOR, $GITHUB_ACTOR, $GITLAB_USER_LOGIN, "
                 "else the OS user)");
  app.add_option("--reason", options.reason, "why, recorded in the history");
  app.add_flag("--break-glass", options.break_glass,
               "let closed time windows through as warnings; needs --reason; recorded");
  app.add_option("--wait-merged", options.wait_merged,
                 "strategy pull-request: wait up to this long for the merge (else exit 3)")
      ->type_name("DURATION");
  app.add_option("--workdir", options.workdir,
                 "a remote repository is cloned here and kept between runs (default: a "
                 "temporary clone)")
      ->type_name("DIR");

  auto* rollback = app.add_subcommand(
      "rollback", "put back the candidate a stage held before (or the one a promotion put there)");
  rollback->footer(
      "\nExamples:\n  promote rollback --stage prod                          the one before, "
      "through the gates\n"
      "  promote rollback --stage prod --to 20261123T183200Z-3f9a1c2b\n"
      "  promote rollback --stage prod --skip-gates --reason \"INC-1234: 5xx since 1.4.3\"\n");
  add_file_option(*rollback, options);
  rollback->add_option("--stage", options.to, "the stage to roll back")->required();
  rollback->add_option("--to", options.rollback_to,
                       "the promotion id whose candidate to put back (default: the one before)");
  rollback->add_flag("--skip-gates", options.skip_gates,
                     "do not run the stage's gates; needs --reason; recorded");
  rollback->add_option("--reason", options.reason, "why, recorded in the history");
  rollback->add_flag("--dry-run", options.dry_run, "gates and diff; write nothing");
  rollback->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  rollback->add_option("--history", options.history, "history database");
  rollback->add_option("--workdir", options.workdir, "where a remote repository is kept");

  CLI::App* decide[2] = {
      app.add_subcommand("approve", "approve a candidate for a stage (the approval gate reads it)"),
      app.add_subcommand("reject", "reject a candidate for a stage; blocks its approval gate")};
  decide[0]->footer(
      "\nExamples:\n  promote approve --stage prod                      what staging holds now\n"
      "  promote approve --stage prod --candidate 3f9a1c2b7d4e --reason \"canary is clean\"\n");
  decide[1]->footer("\nExample:\n  promote reject --stage prod --reason \"error budget spent\"\n");
  CLI::App* holds[2] = {
      app.add_subcommand("hold", "stop promotions into a stage (they end pending, with the reason)"),
      app.add_subcommand("release", "resume promotions into a held stage")};
  holds[0]->footer("\nExample:\n  promote hold --stage prod --reason \"INC-1234: payments down\"\n");
  holds[1]->footer("\nExample:\n  promote release --stage prod --reason \"INC-1234 resolved\"\n");
  for (CLI::App* command : holds) {
    add_file_option(*command, options);
    command->add_option("--stage", options.stage, "the stage")->required();
    command->add_option("--reason", options.reason, "why (required to hold)");
    command->add_option("--history", options.history, "history database");
    command->add_option("--output", options.output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
  }
  for (CLI::App* command : decide) {
    add_file_option(*command, options);
    command->add_option("--stage", options.stage, "the stage the decision is for")->required();
    command->add_option("--candidate", options.candidate,
                        "candidate id (12 to 64 hex); default: what the stage would get now");
    command->add_option("--reason", options.reason, "why, recorded with the decision");
    command->add_option("--history", options.history, "history database");
    command->add_option("--output", options.output, "text or json")
        ->check(CLI::IsMember({"text", "json"}));
  }

  auto* validate = app.add_subcommand("validate", "check a pipeline file and report every problem");
  validate->footer("\nExample:\n  promote validate -f promote.yaml\n");
  add_file_option(*validate, options);

  auto* status = app.add_subcommand("status", "show the candidate each stage holds, and since when");
  status->footer("\nExamples:\n  promote status\n  promote status --output json\n");
  add_file_option(*status, options);
  status->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  status->add_option("--history", options.history, "history database");

  auto* history = app.add_subcommand("history", "list recorded promotion attempts, newest first");
  history->footer(
      "\nExamples:\n  promote history\n  promote history --stage prod --output csv\n");
  add_file_option(*history, options);
  history->add_option("--history", options.history, "history database");
  history->add_option("--stage", options.stage, "only this stage");
  history->add_option("--output", options.output, "table, json or csv")
      ->check(CLI::IsMember({"table", "text", "json", "csv"}));

  auto* show = history->add_subcommand("show", "one recorded attempt: gates, details, evidence");
  show->footer("\nExample:\n  promote history show 20261123T193339Z-62326450\n");
  show->add_option("id", options.promotion_id, "the promotion id")->required();
  show->add_option("--output", options.output, "text or json")->check(CLI::IsMember({"text", "json"}));
  add_file_option(*show, options);
  show->add_option("--history", options.history, "history database");

  auto* plan = app.add_subcommand("plan", "the gates' verdicts and the exact diff; writes nothing");
  plan->footer("\nExamples:\n  promote plan --to prod\n  promote plan --to prod --output json\n");
  add_file_option(*plan, options);
  plan->add_option("--to", options.to, "the stage to plan a promotion into")->required();
  plan->add_option("--image", options.images, "NAME=REFERENCE, for a stage without 'from'")
      ->type_name("NAME=REF");
  plan->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  plan->add_option("--history", options.history, "history database");
  plan->add_option("--workdir", options.workdir, "where a remote repository is kept");

  auto* explain = app.add_subcommand(
      "explain", "why a promotion would not go ahead now (--to), or why a recorded one ended "
                 "as it did (ID)");
  explain->footer(
      "\nExamples:\n  promote explain --to prod\n  promote explain 20261123T193339Z-62326450\n");
  explain->add_option("id", options.promotion_id, "a recorded promotion's id");
  explain->add_option("--to", options.to, "the stage: explain what a promotion now would meet");
  explain->add_option("--image", options.images, "NAME=REFERENCE, for a stage without 'from'")
      ->type_name("NAME=REF");
  explain->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  add_file_option(*explain, options);
  explain->add_option("--history", options.history, "history database");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*validate) {
    return run_validate(options);
  }
  if (*rollback) {
    Options rolled = options;
    rolled.rollback = true;
    return run_promote(rolled);
  }
  if (holds[0]->parsed() || holds[1]->parsed()) {
    return run_hold(options, holds[0]->parsed());
  }
  if (*decide[0] || *decide[1]) {
    return run_decide(options, decide[0]->parsed());
  }
  if (*status) {
    return run_status(options);
  }
  if (*plan) {
    Options planned = options;
    planned.dry_run = true;
    return run_promote(planned);
  }
  if (*explain && !options.to.empty()) {
    if (!options.promotion_id.empty()) {
      std::cerr << "promote: explain takes a promotion id or --to STAGE, not both\n";
      return 2;
    }
    return run_promote(options, true);
  }
  if (*explain && options.promotion_id.empty()) {
    std::cerr << "promote: explain needs a promotion id or --to STAGE; see --help\n";
    return 2;
  }
  if (*show || *explain) {
    return run_show(options);
  }
  if (*history) {
    return run_history(options);
  }
  if (options.to.empty()) {
    std::cerr << "promote: give --to STAGE, or a command (validate, status, history, approve, "
                 "reject, hold, release, rollback, plan, explain); see --help\n";
    return 2;
  }
  return run_promote(options);
}

}  // namespace promote::cli
