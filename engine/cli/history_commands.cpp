// The commands that read and keep the history: `history`, `history sync`, `history show`
// (and `explain ID`), `audit verify` and `report`.
#include <iostream>

#include "engine/cli/options.hpp"
#include "engine/cli/when.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/promoter/write_lock.hpp"
#include "engine/report/dora.hpp"
#include "engine/report/report.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"
#include "gates/registry.hpp"

namespace promote::cli {

namespace fs = std::filesystem;

namespace {

// Every gate type, none of them built: for reading which pipeline a file is (its name) where
// its gates do not matter, so that `history` needs no gate plugin installed.
class AnyGate : public pipeline::GateCatalog {
 public:
  bool knows(std::string_view) const override { return true; }
  std::unique_ptr<Gate> make(std::string_view, const pipeline::ConfigNode&) const override {
    return nullptr;
  }
  std::vector<std::string> names() const override { return {}; }
};

// The history database of the pipeline, which must exist already.
Result<history::History> open_history(const Options& options) {
  if (auto place = promoter::check_history_place(options.file, history_flag(options)); !place) {
    return place.error();
  }
  const fs::path path = promoter::history_path(options.file, history_flag(options));
  if (!fs::exists(path)) {
    return make_error(ErrorKind::usage, "no history at " + path.string() +
                                            " (nothing promoted yet, or give --history; "
                                            "promote history sync rebuilds it from git)");
  }
  return history::History::open(path);
}

}  // namespace

int run_history(const Options& options) {
  const bool json = options.output == "json";
  history::Query query;
  const auto now = std::chrono::system_clock::now();
  for (const auto& [flag, text, bound, field] :
       {std::tuple{"--since", &options.since, Bound::since, &query.since},
        std::tuple{"--until", &options.until, Bound::until, &query.until}}) {
    if (!text->empty()) {
      auto when = parse_when(flag, *text, bound, now);
      if (!when) {
        return fail(when.error(), json);
      }
      *field = *when;
    }
  }
  // Whose records: --pipeline NAME, every pipeline's, or those of the pipeline of -f (every
  // pipeline's when there is no promote.yaml here and -f was not given).
  if (!options.pipeline.empty()) {
    query.pipeline = history::PipelineId{options.pipeline, ""};
  } else if (!options.all_pipelines && (options.file_given || fs::exists(options.file))) {
    auto loaded = pipeline::load(options.file, AnyGate());
    if (!loaded) {
      return fail(loaded.error(), json);
    }
    query.pipeline = promoter::pipeline_identity(*loaded);
  }
  auto history = open_history(options);
  if (!history) {
    return fail(history.error(), json);
  }
  const auto set = [](std::optional<std::string>& field, const std::string& value) {
    if (!value.empty()) {
      field = value;
    }
  };
  set(query.stage, options.stage);
  set(query.image, options.image);
  set(query.actor, options.actor);
  set(query.outcome, options.outcome);
  query.limit = options.limit;
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
    if (options.limit > 0 && records->size() == options.limit &&
        util::verbosity() != util::Verbosity::quiet) {
      std::cerr << "promote: the newest " << options.limit
                << " shown; --limit N for more, --limit 0 for all\n";
    }
  }
  return 0;
}

// `promote history sync`: the records in the git notes added to the history.
int run_sync(const Options& options) {
  const bool json = options.output == "json";
  auto loaded = load(options);
  if (!loaded) {
    return fail(loaded.error(), json);
  }
  auto workspace = promoter::Workspace::open(
      *loaded, options.workdir.empty() ? std::nullopt : std::optional<fs::path>(options.workdir));
  if (!workspace) {
    return fail(workspace.error(), json);
  }
  if (auto place = promoter::check_history_place(options.file, history_flag(options)); !place) {
    return fail(place.error(), json);
  }
  const fs::path path = promoter::history_path(options.file, history_flag(options));
  auto lock = promoter::WriteLock::acquire(workspace->repository().git_dir(), path);
  if (!lock) {
    return fail(lock.error(), json);
  }
  auto history = history::History::open(path);
  if (!history) {
    return fail(history.error(), json);
  }
  const std::string remote =
      loaded->repository.is_local() ? loaded->repository.remote : std::string("origin");
  const history::PipelineId id = promoter::pipeline_identity(*loaded);
  // Without a key a sync still reads; what it pushes is then unsigned (and counts nowhere
  // signed records are required).
  auto trust = promoter::RecordTrust::for_pipeline(*loaded, false);
  if (!trust) {
    return fail(trust.error(), json);
  }
  auto synced = promoter::sync_history(workspace->repository(), remote, *history, id, *trust);
  if (!synced) {
    return fail(synced.error(), json);
  }
  for (const auto& problem : synced->problems) {
    std::cerr << "promote: warning: " << util::one_line(problem) << "\n";
  }
  if (!synced->warning.empty()) {
    std::cerr << "promote: warning: the records the notes lack were not pushed to "
              << promoter::k_notes_ref << ": " << synced->warning << "\n";
  }
  if (json) {
    std::cout << util::dump_json({{"history", path.string()},
                                  {"pipeline", id.name},
                                  {"pipeline_file", id.file},
                                  {"other_pipelines", synced->other_pipelines},
                                  {"remote", remote},
                                  {"notes_ref", promoter::k_notes_ref},
                                  {"notes", synced->notes},
                                  {"records", synced->records},
                                  {"added",
                                   {{"promotions", synced->added.promotions},
                                    {"approvals", synced->added.approvals},
                                    {"holds", synced->added.holds}}},
                                  {"published", synced->published},
                                  {"problems", synced->problems}},
                                 2)
              << "\n";
  } else if (util::verbosity() != util::Verbosity::quiet) {
    std::cout << "synced " << util::one_line(path.string()) << " with " << promoter::k_notes_ref
              << " of " << util::one_line(remote) << ": " << synced->records << " records in "
              << synced->notes << " notes; added " << synced->added.promotions << " promotions, "
              << synced->added.approvals << " approvals, " << synced->added.holds
              << " holds or releases of pipeline " << id.name << " (" << util::one_line(id.file)
              << ")";
    if (synced->other_pipelines > 0) {
      std::cout << "; left out " << synced->other_pipelines << " records of other pipelines";
    }
    if (synced->published > 0) {
      std::cout << "; pushed " << synced->published << " records the notes lacked";
    }
    std::cout << "\n";
  }
  return 0;
}

namespace {

// What the anchors in git said of a database whose chains hold.
std::string anchored(const history::Verification& verified) {
  const std::string others =
      verified.other_anchors == 0
          ? ""
          : " (and " + std::to_string(verified.other_anchors) + " of other databases)";
  if (verified.anchors == 0) {
    return "no anchor of this database (" + verified.database + ") in git" + others;
  }
  return "it matches its " + std::to_string(verified.anchors) + " anchor" +
         (verified.anchors == 1 ? "" : "s") + " in git" + others;
}

// What the pipeline's repository says of the history: the anchors of history databases in it,
// and, where signed records count, the signatures of the pipeline's records.
struct InGit {
  promoter::FoundAnchors found;
  std::optional<promoter::SignatureCheck> signatures;
};

// Reads the repository of the pipeline of -f (nothing when there is no pipeline file): a local
// one as it is, a remote one cloned (or fetched into --workdir) with its notes.
Result<InGit> read_git(const Options& options) {
  InGit in_git;
  if (!options.file_given && !fs::exists(options.file)) {
    return in_git;
  }
  auto loaded = pipeline::load(options.file, AnyGate());
  if (!loaded) {
    return loaded.error();
  }
  auto trust = promoter::RecordTrust::for_pipeline(*loaded, false);
  if (!trust) {
    return trust.error();
  }
  std::optional<git::Repository> local;
  std::optional<promoter::Workspace> workspace;
  if (loaded->repository.is_local()) {
    auto repository = git::Repository::open(loaded->base_dir);
    if (!repository) {
      return repository.error();
    }
    local.emplace(std::move(*repository));
  } else {
    auto opened = promoter::Workspace::open(
        *loaded, options.workdir.empty() ? std::nullopt : std::optional<fs::path>(options.workdir));
    if (!opened) {
      return opened.error();
    }
    workspace.emplace(std::move(*opened));
  }
  git::Repository& repository = local ? *local : workspace->repository();
  auto found = promoter::find_anchors(
      repository, *trust, local ? std::nullopt : std::optional<std::string>(std::string("origin")));
  if (!found) {
    return found.error();
  }
  in_git.found = std::move(*found);
  if (trust->required()) {
    auto checked =
        promoter::check_signatures(repository, *trust, promoter::pipeline_identity(*loaded));
    if (!checked) {
      return checked.error();
    }
    in_git.signatures = std::move(*checked);
  }
  return in_git;
}

}  // namespace

// `promote audit verify`: exit 0 when the hash chain holds and matches its anchors in git, 1
// when it does not.
int run_verify(const Options& options) {
  const bool json = options.output == "json";
  auto history = open_history(options);
  if (!history) {
    return fail(history.error(), json);
  }
  auto in_git = read_git(options);
  if (!in_git) {
    return fail(in_git.error(), json);
  }
  auto verified = history->verify(in_git->found.anchors);
  if (!verified) {
    return fail(verified.error(), json);
  }
  const auto& broken = verified->broken;
  const auto& signatures = in_git->signatures;
  const bool signed_ok = !signatures || signatures->bad.empty();
  if (json) {
    nlohmann::json document{{"history", history->path().string()},
                            {"ok", !broken.has_value() && signed_ok},
                            {"promotions", verified->promotions},
                            {"approvals", verified->approvals},
                            {"holds", verified->holds},
                            {"head", verified->head},
                            {"database", verified->database},
                            {"anchors", verified->anchors},
                            {"other_anchors", verified->other_anchors},
                            {"anchor_problems", in_git->found.problems},
                            {"signatures", nullptr},
                            {"broken", nullptr}};
    if (broken) {
      document["broken"] = {
          {"table", broken->table}, {"seq", broken->seq}, {"id", broken->id}, {"why", broken->why}};
    }
    if (signatures) {
      document["signatures"] = {{"checked", signatures->checked}, {"bad", signatures->bad}};
    }
    std::cout << util::dump_json(document, 2) << "\n";
  } else {
    const std::string shown = util::one_line(history->path().string());
    if (broken) {
      std::cout << shown << ": the hash chain is broken at " << broken->table
                << (broken->seq > 0 ? " row " + std::to_string(broken->seq) : "")
                << (broken->id.empty() ? "" : " (promotion " + util::one_line(broken->id) + ")")
                << ": " << util::one_line(broken->why) << "\n";
    } else {
      std::cout << shown << ": the hash chain holds: " << verified->promotions << " promotions"
                << (verified->head.empty() ? "" : " (head " + verified->head.substr(0, 12) + ")")
                << ", " << verified->approvals << " approvals, " << verified->holds
                << " holds or releases; " << anchored(*verified) << "\n";
    }
    if (signatures) {
      std::cout << shown << ": " << signatures->checked
                << " records in git checked for signatures (trust.signed): "
                << (signatures->bad.empty()
                        ? "all signed by allowed signers"
                        : std::to_string(signatures->bad.size()) + " do not count")
                << "\n";
      for (const auto& bad : signatures->bad) {
        std::cout << "  " << util::one_line(bad) << "\n";
      }
    }
    if (util::verbosity() != util::Verbosity::quiet) {
      for (const auto& problem : in_git->found.problems) {
        std::cerr << "promote: warning: " << util::one_line(problem) << "\n";
      }
    }
  }
  return broken || !signed_ok ? 1 : 0;
}

// `promote history show ID` and `promote explain ID`: a recorded attempt, read back.
int run_show(const Options& options) {
  const bool json = options.output == "json";
  if (auto place = promoter::check_history_place(options.file, history_flag(options)); !place) {
    return fail(place.error(), json);
  }
  const fs::path path = promoter::history_path(options.file, history_flag(options));
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
    return fail(make_error(ErrorKind::usage,
                           "no promotion '" + options.promotion_id + "' in " + path.string()),
                json);
  }
  if (json) {
    std::cout << util::dump_json(report::history_json(*records)[0], 2) << "\n";
  } else {
    std::cout << report::promotion_text(records->front());
  }
  return 0;
}

// `promote report`: the DORA figures of each stage over --since .. --until, from the history.
int run_report(const Options& options) {
  const bool json = options.output == "json";
  const auto now = std::chrono::system_clock::now();
  auto since =
      parse_when("--since", options.since.empty() ? "90d" : options.since, Bound::since, now);
  if (!since) {
    return fail(since.error(), json);
  }
  auto until = options.until.empty() ? Result<std::chrono::system_clock::time_point>(now)
                                     : parse_when("--until", options.until, Bound::until, now);
  if (!until) {
    return fail(until.error(), json);
  }
  if (*until < *since) {
    return fail(make_error(ErrorKind::usage, "--until " + util::format_utc(*until) +
                                                 " is before --since " + util::format_utc(*since)),
                json);
  }
  // The stage order is the pipeline's; without a pipeline file, the history's.
  std::optional<pipeline::Pipeline> loaded;
  if (fs::exists(options.file)) {
    auto pipeline = load(options);
    if (!pipeline) {
      return fail(pipeline.error(), json);
    }
    loaded = std::move(*pipeline);
  }
  if (auto place = promoter::check_history_place(options.file, history_flag(options)); !place) {
    return fail(place.error(), json);
  }
  const fs::path path = promoter::history_path(options.file, history_flag(options));
  if (!fs::exists(path)) {
    return fail(make_error(ErrorKind::usage, "no history at " + path.string() +
                                                 " (nothing promoted yet, or give --history)"),
                json);
  }
  auto history = history::History::open(path);
  if (!history) {
    return fail(history.error(), json);
  }
  // Every record of the pipeline, not only the window's: lead times reach back to the first
  // stage.
  history::Query query;
  if (loaded) {
    query.pipeline = promoter::pipeline_identity(*loaded);
  }
  auto records = history->list(query);
  if (!records) {
    return fail(records.error(), json);
  }
  std::vector<std::string> stages;
  if (loaded) {
    for (const auto& stage : loaded->stages) {
      stages.push_back(stage.name);
    }
  } else {
    stages = report::stages_in_history(*records);
  }
  auto dora = report::dora(*records, stages, *since, *until);
  if (loaded) {
    dora.pipeline = loaded->name;
  }
  if (!options.stage.empty()) {
    std::erase_if(dora.stages, [&](const report::StageFigures& figures) {
      return figures.name != options.stage;
    });
    if (dora.stages.empty()) {
      std::string known;
      for (const auto& name : stages) {
        known += (known.empty() ? "" : ", ") + name;
      }
      return fail(make_error(ErrorKind::usage, "no stage '" + options.stage + "' (stages: " +
                                                   (known.empty() ? "none" : known) + ")"),
                  json);
    }
  }
  if (json) {
    std::cout << util::dump_json(report::dora_json(dora), 2) << "\n";
  } else if (options.output == "html") {
    std::cout << report::dora_html(dora);
  } else {
    std::cout << report::dora_text(dora);
  }
  return 0;
}

}  // namespace promote::cli
