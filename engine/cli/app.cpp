#include "engine/cli/app.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>

#include "engine/cli/completion.hpp"
#include "engine/cli/options.hpp"
#include "engine/cli/when.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/approve.hpp"
#include "engine/promoter/hold.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/status.hpp"
#include "engine/promoter/target_check.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/report/ci.hpp"
#include "engine/report/dora.hpp"
#include "engine/report/report.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/ci.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"
#include "gates/registry.hpp"

#ifndef PROMOTE_VERSION
#define PROMOTE_VERSION "dev"
#endif

namespace promote::cli {

namespace fs = std::filesystem;

int fail(const Error& error, bool json) {
  if (json) {
    std::cout << util::dump_json(report::error_json(error), 2) << "\n";
  }
  std::cerr << "promote: " << util::printable(error.message) << "\n";
  return exit_code(error.kind);
}

std::optional<fs::path> history_flag(const Options& options) {
  if (options.history.empty()) {
    return std::nullopt;
  }
  return fs::path(options.history);
}

Result<pipeline::Pipeline> load(const Options& options) {
  return pipeline::load(options.file, gates::Catalog::for_pipeline(options.file));
}

namespace {

constexpr const char* k_examples = R"(
Examples:
  promote --to dev --image api=ghcr.io/acme/api:1.4.2    enter the first stage
  promote --to dev --tag 1.4.3                             every image of dev at tag 1.4.3
  promote --to dev --chart podinfo=6.5.0                   a Helm chart version into dev
  promote --to dev --images-from images.env                the images the build wrote
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
  promote report --since 90d --output html > dora.html   DORA figures per stage

Exit codes: 0 promoted, proposed (pull request open), no-op or passed; 1 blocked
by a gate; 2 usage or configuration error; 3 pending (run again later); 4 error.
)";

std::optional<std::chrono::seconds> duration_flag(const std::string& flag,
                                                  const std::string& text, Error& error) {
  auto parsed = pipeline::parse_duration(text);
  if (!parsed) {
    error = make_error(ErrorKind::usage, flag + " must be a duration such as 90s, 5m, 2h or 1d, got '" +
                                             text + "'");
  }
  return parsed;
}



/// A progress line on stderr: on a terminal one line redrawn in place (cleared at the end),
/// elsewhere one plain line per message, where a `tick` (the same wait, a second later) is
/// left out. Safe to call from the gates' threads.
class ProgressLine {
 public:
  explicit ProgressLine(bool live) : m_live(live) {}

  void show(const std::string& line, bool tick) {
    const std::lock_guard lock(m_mutex);
    if (m_live) {
      std::cerr << "\r\033[2Kpromote: " << util::one_line(line) << std::flush;
      m_shown = true;
    } else if (!tick) {
      std::cerr << "promote: " << util::one_line(line) << "\n";
    }
  }

  void clear() {
    const std::lock_guard lock(m_mutex);
    if (m_shown) {
      std::cerr << "\r\033[2K" << std::flush;
      m_shown = false;
    }
  }

 private:
  std::mutex m_mutex;
  bool m_live;
  bool m_shown = false;
};

/// A promotion, or with `explain` a dry run told as an explanation.
int run_promote(const Options& options, bool explain = false) {
  promoter::Request request;
  request.pipeline_file = options.file;
  request.stage = options.to;
  request.images = options.images;
  request.charts = options.charts;
  request.tag = options.tag;
  request.group = options.group;
  if (!options.images_from.empty()) {
    request.images_from = options.images_from;
  }
  request.dry_run = options.dry_run || explain;
  request.history_path = history_flag(options);
  request.actor = options.actor;
  request.reason = options.reason;
  request.break_glass = options.break_glass;
  const bool json = options.output == "json";
  // In CI (not for explain): the step summary, outputs and annotations under GitHub Actions,
  // the JUnit report and dotenv file under GitLab CI. Workflow commands go to stderr, which
  // the runner reads as it reads stdout, so --output json stays one document on stdout. A
  // file that cannot be written is a warning and leaves the exit code alone.
  auto ci_warn = [](const std::vector<std::string>& problems) {
    for (const auto& problem : problems) {
      std::cerr << "promote: warning: " << util::one_line(problem) << "\n";
    }
  };
  auto failed = [&](const Error& error) {
    if (!explain) {
      ci_warn(report::write_ci_error(error, options.to, std::cerr));
    }
    return fail(error, json);
  };
  if (options.break_glass && options.reason.empty()) {
    return failed(make_error(
        ErrorKind::usage, "--break-glass needs --reason: say why the time windows are overridden"));
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
      return failed(bad_flag);
    }
    // Ask about ten times over the wait, every 1 to 15 seconds.
    request.merge_poll = std::clamp(*request.wait_merged / 10, std::chrono::seconds(1),
                                    std::chrono::seconds(15));
  }
  if (!options.wait.empty()) {
    request.wait = duration_flag("--wait", options.wait, bad_flag);
    if (!request.wait) {
      return failed(bad_flag);
    }
  }
  // What promote waits for (soak, a merge) and what a long gate does (metric samples): one
  // line redrawn in place on a terminal, plain lines in CI or into a file.
  ProgressLine progress(isatty(STDERR_FILENO) == 1 && std::getenv("CI") == nullptr);
  if (util::verbosity() != util::Verbosity::quiet) {
    if (request.wait || request.wait_merged) {
      request.on_wait = [&progress](const promoter::WaitProgress& wait) {
        progress.show("waiting " + pipeline::format_duration(wait.next_check) + " for " +
                          wait.waiting_for + "; " + pipeline::format_duration(wait.left) +
                          " left",
                      wait.tick);
      };
    }
    request.on_progress = [&progress](const std::string& line) { progress.show(line, false); };
  }
  auto result = promoter::promote(request, gates::Catalog::for_pipeline(options.file));
  progress.clear();
  if (!result) {
    return failed(result.error());
  }
  if (!explain) {
    ci_warn(report::write_ci_outputs(*result, std::cerr));
  }
  if (explain && !json) {
    std::cout << report::explain_text(*result);
  } else if (json) {
    std::cout << util::dump_json(report::to_json(*result), 2) << "\n";
  } else if (util::verbosity() != util::Verbosity::quiet) {
    std::cout << report::render_text(*result, {report::use_color(STDOUT_FILENO)});
  }
  return result->exit_code();
}


// `promote validate`: every problem of the pipeline file (exit 2), or what it defines.
int run_validate(const Options& options) {
  const bool json = options.output == "json";
  auto loaded = load(options);
  if (!loaded) {
    return fail(loaded.error(), json);
  }
  // The targets are checked on disk where they are: beside the pipeline file. A remote
  // repository is not cloned to validate it.
  std::vector<std::string> notes;
  if (loaded->repository.is_local()) {
    pipeline::Diagnostics problems;
    promoter::check_targets(*loaded, problems);
    if (!problems.empty()) {
      return fail(problems.to_error(), json);
    }
  } else {
    notes.push_back(
        "the repository is remote (repository.url): the stages' targets were not checked on "
        "disk");
  }
  for (const auto& note : notes) {
    std::cerr << "promote: note: " << util::one_line(note) << "\n";
  }
  if (json) {
    nlohmann::json images = nlohmann::json::array();
    for (const auto& image : loaded->images) {
      images.push_back({{"name", image.name}, {"repository", image.repository}});
    }
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& stage : loaded->stages) {
      nlohmann::json gates = nlohmann::json::array();
      for (const auto& gate : stage.gates) {
        gates.push_back(gate.name);
      }
      stages.push_back(
          {{"name", stage.name},
           {"from", stage.from ? nlohmann::json(*stage.from) : nlohmann::json()},
           {"strategy",
            stage.strategy == pipeline::Strategy::pull_request ? "pull-request" : "commit"},
           {"targets", stage.target.paths()},
           {"gates", gates}});
    }
    std::cout << util::dump_json({{"file", options.file},
                                  {"ok", true},
                                  {"pipeline", loaded->name},
                                  {"images", images},
                                  {"stages", stages},
                                  {"notes", notes}},
                                 2)
              << "\n";
    return 0;
  }
  std::size_t gates = 0;
  for (const auto& stage : loaded->stages) {
    gates += stage.gates.size();
  }
  std::cout << util::one_line(options.file) << ": ok (pipeline " << loaded->name << ", "
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
  // A stage that cannot be read is an error, named on stderr, whatever the output.
  int code = 0;
  for (const auto& stage : *stages) {
    if (!stage.candidate) {
      std::cerr << "promote: stage '" << stage.name
                << "' cannot be read: " << util::one_line(stage.problem) << "\n";
      code = exit_code(ErrorKind::input);
    }
  }
  return code;
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
  if (!decided->warning.empty()) {
    std::cerr << "promote: warning: " << util::one_line(decided->warning) << "\n";
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
  } else if (util::verbosity() != util::Verbosity::quiet) {
    std::cout << (approve ? "approved" : "rejected") << " candidate "
              << decided->candidate_id.substr(0, 12) << " for " << decided->stage << " as "
              << util::one_line(decided->actor);
    if (decided->images.is_object()) {
      std::string images;
      for (const auto& [name, reference] : decided->images.items()) {
        images += (images.empty() ? "" : ", ") + name + "=" + reference.get<std::string>();
      }
      std::cout << " (" << util::one_line(images) << ")";
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
  if (!done->warning.empty()) {
    std::cerr << "promote: warning: " << util::one_line(done->warning) << "\n";
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
  } else if (util::verbosity() != util::Verbosity::quiet) {
    std::cout << (hold ? "held " : "released ") << done->stage << " as "
              << util::one_line(done->actor)
              << (done->reason.empty() ? "" : ": " + util::one_line(done->reason)) << "\n";
  }
  return 0;
}

// `promote __complete stages`: the stage names of the pipeline file, one a line, for the
// completion scripts; prints nothing when the file cannot be loaded.
int run_complete_stages(const Options& options) {
  auto loaded = load(options);
  if (!loaded) {
    return 1;
  }
  for (const auto& stage : loaded->stages) {
    std::cout << stage.name << "\n";
  }
  return 0;
}

/// The first value given on the command line (an option or an argument of `app` or of the
/// commands parsed under it) that is not valid UTF-8, as a usage error naming it: promote
/// records and prints text as UTF-8, and would otherwise record what it cannot show.
std::optional<Error> non_utf8_argument(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_type_name() == "NAME=REF") {
      continue;  // an image reference: its grammar (ASCII) refuses it, naming the image
    }
    for (const std::string& value : option->results()) {
      if (auto problem = util::utf8_problem(option->get_name(), value); !problem.empty()) {
        return make_error(ErrorKind::usage, problem + ": give it as UTF-8 text");
      }
    }
  }
  for (const CLI::App* command : app.get_subcommands()) {
    if (auto error = non_utf8_argument(*command)) {
      return error;
    }
  }
  return std::nullopt;
}

/// The same for the environment variables promote records (the actor, the CI run's URL).
std::optional<Error> non_utf8_environment() {
  std::vector<const char*> names(std::begin(util::k_actor_variables),
                                 std::end(util::k_actor_variables));
  names.insert(names.end(), std::begin(util::k_ci_run_variables),
               std::end(util::k_ci_run_variables));
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value == nullptr) {
      continue;
    }
    if (auto problem = util::utf8_problem(name, value); !problem.empty()) {
      return make_error(ErrorKind::usage, problem + ": give it as UTF-8 text");
    }
  }
  return std::nullopt;
}

/// --chart, --tag, --group and --images-from: the release of a first stage, as a build gives it.
void add_image_options(CLI::App& app, Options& options) {
  app.add_option("--chart", options.charts,
                 "NAME=VERSION, a Helm chart version for a stage without 'from' (repeatable)")
      ->type_name("NAME=VERSION");
  app.add_option("--tag", options.tag,
                 "every image of the stage (or of --group) at this tag, for a stage without "
                 "'from'");
  app.add_option("--group", options.group, "with --tag: only the images of this group");
  app.add_option("--images-from", options.images_from,
                 "a file of NAME=REF lines, a JSON object or a dotenv file written by the build")
      ->type_name("FILE");
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
  // Given before or after a command: `promote -q --to prod`, `promote history sync -v`.
  app.fallthrough();
  bool quiet = false;
  bool verbose = false;
  app.add_flag("-q,--quiet", quiet,
               "print no report on success (errors and warnings still go to stderr)");
  app.add_flag("-v,--verbose", verbose, "tell each step on stderr, with the time");
  add_file_option(app, options);
  app.add_option("--to", options.to, "the stage to promote into");
  app.add_option("--image", options.images,
                 "NAME=REFERENCE, for a stage without 'from' (repeatable)")
      ->type_name("NAME=REF");
  add_image_options(app, options);
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
  validate->footer(
      "\nExamples:\n  promote validate -f promote.yaml\n  promote validate --output json\n");
  add_file_option(*validate, options);
  validate->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto* status = app.add_subcommand("status", "show the candidate each stage holds, and since when");
  status->footer("\nExamples:\n  promote status\n  promote status --output json\n");
  add_file_option(*status, options);
  status->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  status->add_option("--history", options.history, "history database");

  auto* verify_stage =
      app.add_subcommand("verify", "run a stage's verification gates on the release it holds now");
  verify_stage->footer(
      "\nExit codes: 0 verified (its running system runs the release healthy), 1 a gate "
      "failed,\n3 not yet (syncing, rolling out), 4 a gate could not judge.\n"
      "The first time it is seen healthy is recorded: a soak with since: healthy counts from "
      "it.\n\nExamples:\n  promote verify --stage staging\n"
      "  promote verify --stage prod --output json\n");
  add_file_option(*verify_stage, options);
  verify_stage->add_option("--stage", options.stage, "the stage to verify")->required();
  verify_stage->add_option("--history", options.history, "history database");
  verify_stage->add_option("--actor", options.actor,
                           "who verifies (default: from the environment)");
  verify_stage->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto* serve_command =
      app.add_subcommand("serve",
                         "run as a service: promote auto stages, receive webhooks, "
                         "serve the pipelines over HTTP (JSON API, dashboard)");
  serve_command->footer(
      "\nEndpoints: /healthz, /readyz, /metrics, /api/v1/pipelines, /api/v1/pipelines/NAME,\n"
      "/api/v1/pipelines/NAME/history, /api/v1/promotions/ID, POST\n"
      "/api/v1/pipelines/NAME/stages/STAGE/{promote,rollback,approve,reject,hold,release}\n"
      "(with --tokens), POST /hooks/{github,gitlab,image}; the dashboard at /.\n"
      "SIGTERM stops it gracefully.\n"
      "\nExamples:\n  promote serve --listen 127.0.0.1:8080\n"
      "  promote serve --listen :8080 -f eu/promote.yaml -f us/promote.yaml\n");
  serve_command->add_option("-f,--file", options.files, "pipeline file (repeat for several)");
  serve_command->add_option("--listen", options.listen, "HOST:PORT, [IPV6]:PORT or :PORT")
      ->capture_default_str();
  serve_command->add_option("--history", options.history, "history database");
  serve_command->add_option("--tokens", options.tokens,
                            "who may write through the API: tokens (as SHA-256) and roles");
  serve_command->add_option("--actor", options.actor,
                            "who the service promotes as (default: promote-serve)");
  serve_command->add_option("--workdir", options.workdir,
                            "where remote repositories are kept, one directory per pipeline");
  serve_command
      ->add_option("--log-format", options.log_format,
                   "stderr's lines: text, or json (one object a line, with a line per request)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  auto* history = app.add_subcommand("history", "list recorded promotion attempts, newest first");
  history->footer(
      "\nExamples:\n  promote history\n  promote history --stage prod --since 30d\n"
      "  promote history --image api --outcome promoted --output csv\n"
      "  promote history --actor alice --since 2026-11-01 --until 2026-11-30 --limit 0\n"
      "  promote history --all-pipelines\n  promote history -f eu.yaml --stage prod\n"
      "  promote history show 20261123T193339Z-62326450\n  promote history sync\n");
  add_file_option(*history, options);
  history->add_option("--history", options.history, "history database");
  history->add_option("--stage", options.stage, "only this stage");
  history->add_option("--image", options.image,
                      "only promotions of this image (its name, repository or reference)");
  history->add_option("--actor", options.actor, "only promotions by this actor");
  history->add_option("--outcome", options.outcome, "only this outcome")
      ->check(CLI::IsMember({"promoted", "proposed", "no-op", "blocked", "pending", "error", "verified"}));
  history->add_option("--since", options.since, "started at or after: 30d, 2026-11-01 or a UTC time")
      ->type_name("WHEN");
  history->add_option("--until", options.until, "started before (a date: up to its end)")
      ->type_name("WHEN");
  history->add_option("--limit", options.limit, "at most this many, newest first (0: all)")
      ->capture_default_str();
  history->add_option("--output", options.output, "table, json or csv")
      ->check(CLI::IsMember({"table", "text", "json", "csv"}));
  history->add_option("--pipeline", options.pipeline,
                      "the records of the pipeline of this name (default: the pipeline of -f)")
      ->type_name("NAME");
  history->add_flag("--all-pipelines", options.all_pipelines,
                    "the records of every pipeline in the database")
      ->excludes("--pipeline");

  auto* sync = history->add_subcommand(
      "sync", "add the records kept in git (refs/notes/promote) that the history lacks");
  sync->footer(
      "\nExamples:\n  promote history sync                  rebuild a lost history from the "
      "repository\n  promote history sync --output json\n");
  add_file_option(*sync, options);
  sync->add_option("--history", options.history, "history database");
  sync->add_option("--workdir", options.workdir, "where a remote repository is kept");
  sync->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto* audit = app.add_subcommand("audit", "check the history for tampering");
  audit->require_subcommand(1);
  audit->footer("\nExample:\n  promote audit verify\n");
  auto* verify = audit->add_subcommand(
      "verify",
      "recompute the history's hash chain and check it against its anchors in the pipeline's "
      "repository; exit 1 and name the first bad row if broken");
  verify->footer(
      "\nExamples:\n  promote audit verify\n  promote audit verify --history "
      "audit-copy.db --output json\n");
  add_file_option(*verify, options);
  verify->add_option("--history", options.history, "history database");
  verify->add_option("--workdir", options.workdir, "where a remote repository is kept");
  verify->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));

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
  add_image_options(*plan, options);
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
  add_image_options(*explain, options);
  explain->add_option("--output", options.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  add_file_option(*explain, options);
  explain->add_option("--history", options.history, "history database");

  auto* report_command = app.add_subcommand(
      "report", "DORA figures per stage from the history: deployment frequency, lead time, "
                "change failure rate, time to restore");
  report_command->footer(
      "\nExamples:\n  promote report                                    the last 90 days\n"
      "  promote report --since 30d --stage prod\n"
      "  promote report --since 2026-10-01 --until 2026-12-31 --output json\n"
      "  promote report --output html > dora.html          one file, charts included\n");
  add_file_option(*report_command, options);
  report_command->add_option("--history", options.history, "history database");
  report_command->add_option("--since", options.since,
                             "start of the window: 90d (default), 2026-11-01 or a UTC time");
  report_command->add_option("--until", options.until,
                             "end of the window (default now; a date: up to its end)");
  report_command->add_option("--stage", options.stage, "only this stage");
  report_command->add_option("--output", options.output, "text, json or html")
      ->check(CLI::IsMember({"text", "json", "html"}));

  std::string completion_shell;
  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->footer(
      "\nExamples:\n  source <(promote completion bash)                 in ~/.bashrc\n"
      "  source <(promote completion zsh)                  in ~/.zshrc\n"
      "  promote completion fish > ~/.config/fish/completions/promote.fish\n");
  completion->add_option("shell", completion_shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  auto* man = app.add_subcommand("man", "print the man page (roff), made from this help");
  man->footer("\nExamples:\n  promote man > promote.1 && man -l promote.1\n");
  // Hidden (no group): what the completion scripts ask at completion time.
  std::string complete_what;
  auto* complete = app.add_subcommand("__complete", "values for the completion scripts");
  complete->group("");
  complete->add_option("what", complete_what, "stages")->required()->check(CLI::IsMember({"stages"}));
  add_file_option(*complete, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A parse error quotes what was given (an unexpected argument, a bad value): shown, not
    // sent (util/text.hpp), like everything promote prints of text it did not write.
    std::ostringstream out;
    std::ostringstream err;
    const int code = app.exit(e, out, err);
    std::cout << util::printable(out.str());
    std::cerr << util::printable(err.str());
    return code == 0 ? 0 : 2;
  }
  if (quiet && verbose) {
    std::cerr << "promote: --quiet and --verbose do not go together\n";
    return 2;
  }
  util::set_verbosity(quiet     ? util::Verbosity::quiet
                      : verbose ? util::Verbosity::verbose
                                : util::Verbosity::normal);
  // Text that is not UTF-8 is refused before anything is read or written. The environment
  // matters to the commands that record an actor or a run: not to those that only read.
  const bool reads_only = *validate || *status || *history || *verify || *report_command ||
                          *completion || *man || *complete || (*explain && options.to.empty());
  if (auto error = non_utf8_argument(app)) {
    return fail(*error, options.output == "json");
  }
  if (auto error = reads_only && !*sync ? std::nullopt : non_utf8_environment()) {
    return fail(*error, options.output == "json");
  }
  if (*report_command) {
    return run_report(options);
  }
  if (*completion) {
    std::cout << (completion_shell == "bash"  ? bash_completion(app)
                  : completion_shell == "zsh" ? zsh_completion(app)
                                              : fish_completion(app));
    return 0;
  }
  if (*man) {
    std::cout << man_page(app, PROMOTE_VERSION);
    return 0;
  }
  if (*complete) {
    return run_complete_stages(options);
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
  if (*verify_stage) {
    return run_verify_stage(options);
  }
  if (*serve_command) {
    return run_serve(options);
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
  if (*sync) {
    return run_sync(options);
  }
  if (*verify) {
    return run_verify(options);
  }
  if (*history) {
    options.file_given = history->get_option("--file")->count() > 0;
    return run_history(options);
  }
  if (options.to.empty()) {
    std::cerr << "promote: give --to STAGE, or a command (validate, status, verify, serve, "
                 "history, approve, reject, hold, release, rollback, plan, explain, audit, "
                 "report, completion, man); see --help\n";
    return 2;
  }
  return run_promote(options);
}

}  // namespace promote::cli
