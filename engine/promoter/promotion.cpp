#include "engine/promoter/promotion.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

#include "engine/forge/forge.hpp"
#include "engine/git/diff.hpp"
#include "engine/git/repository.hpp"
#include "engine/history/history.hpp"
#include "engine/promoter/approve.hpp"
#include "engine/promoter/carried.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/promoter/proposal.hpp"
#include "engine/promoter/recovery.hpp"
#include "engine/promoter/rollback.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/targets.hpp"
#include "engine/promoter/timeline.hpp"
#include "engine/promoter/verification.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/promoter/write_lock.hpp"
#include "engine/scheduler/scheduler.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/ci.hpp"
#include "engine/util/fault.hpp"
#include "engine/util/files.hpp"
#include "engine/util/log.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;
using Status = Verdict::Status;

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::promoted: return "promoted";
    case Outcome::proposed: return "proposed";
    case Outcome::no_op: return "no-op";
    case Outcome::blocked: return "blocked";
    case Outcome::pending: return "pending";
    case Outcome::error: return "error";
    case Outcome::planned: return "planned";
  }
  return "error";
}

int PromotionResult::exit_code() const {
  switch (outcome) {
    case Outcome::promoted:
    case Outcome::proposed:
    case Outcome::no_op:
    case Outcome::planned:
      return error ? 4 : 0;  // it happened, but was not recorded in the history
    case Outcome::blocked: return 1;
    case Outcome::pending: return 3;
    case Outcome::error: return error ? promote::exit_code(error->kind) : 4;
  }
  return 4;
}

fs::path history_path(const fs::path& pipeline_file, const std::optional<fs::path>& explicit_path) {
  if (explicit_path) {
    return *explicit_path;
  }
  if (const char* env = std::getenv("PROMOTE_HISTORY"); env != nullptr && *env != '\0') {
    return env;
  }
  return fs::absolute(pipeline_file).parent_path() / ".promote" / "history.db";
}

Result<void> check_history_place(const fs::path& pipeline_file,
                                 const std::optional<fs::path>& explicit_path) {
  const char* env = std::getenv("PROMOTE_HISTORY");
  if (explicit_path || (env != nullptr && *env != '\0')) {
    return {};
  }
  const fs::path dir = fs::absolute(pipeline_file).parent_path() / ".promote";
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(dir, ec))) {
    return make_error(ErrorKind::input,
                      util::one_line(dir.string()) +
                          " is a symbolic link: promote keeps its history, journal and locks "
                          "there and does not follow a link (one committed to the repository "
                          "could lead them anywhere); remove it, or give --history");
  }
  return {};
}

std::string new_promotion_id(std::chrono::system_clock::time_point now) {
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
  return util::format_utc(now, "%Y%m%dT%H%M%SZ") + "-" + suffix;
}

namespace {

/// Pushes tried before a promotion gives up on a remote that keeps moving.
constexpr int k_push_attempts = 12;

// The promotion after the request and the pipeline have been checked.
class Attempt {
 public:
  Attempt(const Request& request, pipeline::Pipeline pipeline)
      : m_request(request), m_pipeline(std::move(pipeline)), m_id(pipeline_identity(m_pipeline)) {}

  Result<PromotionResult> run() {
    m_result.started = std::chrono::system_clock::now();
    m_result.promotion_id = new_promotion_id(m_result.started);
    m_result.dry_run = m_request.dry_run;
    m_result.pipeline = m_pipeline.name;
    m_result.pipeline_file = m_id.file;
    m_result.stage = m_request.stage;
    m_result.branch = m_pipeline.repository.branch;

    auto stage = m_pipeline.stage_named(m_request.stage);
    if (!stage) {
      return stage.error();
    }
    m_stage = *stage;
    m_result.from = m_stage->from.value_or("");
    util::debug("pipeline " + m_pipeline.name + " (" + m_pipeline.file.string() + "): " +
                std::to_string(m_pipeline.stages.size()) + " stages; promotion " +
                m_result.promotion_id + " into " + m_stage->name);
    if (auto flags = parse_image_flags(m_pipeline, *m_stage, m_request, &m_result.warnings);
        !flags) {
      return flags.error();
    } else {
      m_flags = std::move(*flags);
    }
    if (auto charts = parse_chart_flags(m_pipeline, *m_stage, m_request.charts); !charts) {
      return charts.error();
    } else {
      m_chart_flags = std::move(*charts);
    }
    if (m_request.rollback) {
      if (!m_flags.empty() || !m_chart_flags.empty()) {
        return usage(
            "a rollback puts back an earlier candidate; --image, --chart, --tag and --images-from "
            "do not apply");
      }
      if (m_request.skip_gates && m_request.reason.empty()) {
        return usage("--skip-gates needs --reason: say why the gates are not run");
      }
    } else if (m_request.skip_gates) {
      return usage("--skip-gates is for promote rollback only");
    } else if (m_stage->from && (!m_flags.empty() || !m_chart_flags.empty())) {
      return usage("stage '" + m_stage->name + "' takes its candidate from '" + *m_stage->from +
                   "'; --image, --chart, --tag and --images-from are for stages without 'from'");
    } else if (!m_stage->from && m_flags.empty() && m_chart_flags.empty()) {
      return usage("stage '" + m_stage->name +
                   "' has no source stage: give the images with --image NAME=REFERENCE");
    }
    if (auto place = check_history_place(m_pipeline.file, m_request.history_path); !place) {
      return place.error();
    }
    if (auto trust = RecordTrust::for_pipeline(m_pipeline, !m_request.dry_run); !trust) {
      return trust.error();
    } else {
      m_trust = std::move(*trust);
    }
    if (auto opened = open_repository(); !opened) {
      return opened.error();
    }
    m_result.actor = m_request.actor.empty() ? util::current_actor() : m_request.actor;
    m_result.reason = m_request.reason;
    const util::CiRun ci = util::detect_ci();
    m_result.ci_provider = ci.provider;
    m_result.ci_run_url = ci.run_url;
    m_result.break_glass = m_request.break_glass;
    if (auto planned = plan(); !planned) {
      if (planned.error().kind == ErrorKind::usage || planned.error().kind == ErrorKind::config) {
        return planned.error();
      }
      return finish_with_error(planned.error());
    }
    if (m_result.changes.empty()) {
      m_result.outcome = Outcome::no_op;
      return finish();
    }
    m_lock.reset();  // not held while the gates run: a long gate must not hold up other writers
    evaluate_gates();
    m_result.outcome = judge(m_result.gates);
    while (m_result.outcome == Outcome::pending && wait_for_pending(m_request, m_result)) {
      evaluate_gates();
      m_result.outcome = judge(m_result.gates);
    }
    const bool for_review = awaits_reviews();
    if (m_result.outcome != Outcome::promoted && !for_review) {
      return finish();
    }
    if (m_request.dry_run) {
      m_result.outcome = Outcome::planned;
      return finish();
    }
    if (auto writing = begin_writing(); !writing) {
      // Without the lock, nothing is recorded (another writer holds it); a usage error (a
      // dirty target) is not an attempt, as in the plan.
      const ErrorKind kind = writing.error().kind;
      if (!m_lock || kind == ErrorKind::usage || kind == ErrorKind::config) {
        return writing.error();
      }
      return finish_with_error(writing.error());
    }
    if (m_result.changes.empty()) {
      m_result.outcome = Outcome::no_op;
      m_result.warnings.push_back("stage '" + m_stage->name +
                                  "' already holds this change (made meanwhile by another run)");
      return finish();
    }
    if (m_stage->strategy == pipeline::Strategy::pull_request) {
      auto proposed = propose(for_review);
      if (!proposed) {
        return finish_with_error(proposed.error());
      }
      m_result.outcome = for_review ? Outcome::pending : *proposed;
      return finish();
    }
    auto applied = apply();
    if (!applied) {
      return finish_with_error(applied.error());
    }
    m_result.outcome = *applied ? Outcome::promoted : Outcome::no_op;
    return finish();
  }

 private:
  // The remote to push to: the pipeline's for its own repository; a clone's is "origin".
  std::string remote() const {
    return m_pipeline.repository.is_local() ? m_pipeline.repository.remote : "origin";
  }

  Result<void> open_repository() {
    // A promotion an earlier run left half done (it crashed or was killed) is finished or
    // undone first, before this one looks at the repository (see recovery.hpp): under the
    // write lock, taken here and kept while the plan reads the working tree.
    auto workspace = Workspace::open(m_pipeline, m_request.workdir, [&](git::Repository& repository) {
      if (auto locked = lock(repository, false); !locked) {
        return locked;
      }
      return settle(repository);
    });
    if (!workspace) {
      return workspace.error();
    }
    m_workspace.emplace(std::move(*workspace));
    m_repository = &m_workspace->repository();
    m_root = m_workspace->root();
    return {};
  }

  // Takes the write lock of the checkout and the history (write_lock.hpp), unless held. Not
  // `writing` (settling and planning), it creates no history directory for its lock: where
  // there is none, there is no journal to settle either, and a refusal leaves nothing behind.
  Result<void> lock(git::Repository& repository, bool writing) {
    if (m_lock && (m_lock->for_writing() || !writing)) {
      return {};
    }
    m_lock.reset();
    auto taken = WriteLock::acquire(repository.git_dir(),
                                    history_path(m_pipeline.file, m_request.history_path), writing);
    if (!taken) {
      return taken.error();
    }
    m_lock.emplace(std::move(*taken));
    return {};
  }

  // Finishes or undoes what an interrupted run left (recovery.hpp), under the write lock.
  Result<void> settle(git::Repository& repository) {
    for (const auto& stale : remove_stale_locks(repository.git_dir())) {
      m_result.warnings.push_back("removed " + stale + ", left by a git writer that is gone");
    }
    // A run killed while it moved a ref of a remote on this machine (promote writes those
    // refs itself, see git::Repository::push_ref) leaves that remote's lock behind as well.
    if (auto url = repository.remote_url(remote()); url && *url) {
      if (auto path = git::local_path(**url)) {
        const fs::path git_dir = fs::exists(*path / ".git") ? *path / ".git" : *path;
        for (const auto& stale : remove_stale_locks(git_dir)) {
          m_result.warnings.push_back("removed " + stale + " of " + remote() +
                                      ", left by a git writer that is gone");
        }
      }
    }
    auto recovered = recover_interrupted(repository, remote(), m_pipeline.repository.branch, m_id,
                                         history_path(m_pipeline.file, m_request.history_path),
                                         m_request.dry_run);
    if (!recovered) {
      return recovered.error();
    }
    for (const auto& line : *recovered) {
      util::debug(line);
      m_result.warnings.push_back(line);
    }
    return {};
  }

  // The start of the write phase: takes the write lock (not held while the gates ran, so that
  // a long gate blocks no other writer), settles what a writer that died meanwhile left, and
  // plans again on the target as it is now: another writer in this checkout may have
  // committed meanwhile. Fails when an image this promotion sets was set to something else
  // since the plan (a conflict), or when the target's files have uncommitted changes.
  Result<void> begin_writing() {
    if (auto locked = lock(*m_repository, true); !locked) {
      return locked;
    }
    if (auto settled = settle(*m_repository); !settled) {
      return settled;
    }
    auto head = m_repository->resolve("HEAD");
    if (!head) {
      return head.error();
    }
    if (auto replanned = replan("in this checkout (commit " + head->value_or("").substr(0, 12) + ")");
        !replanned) {
      return replanned;
    }
    return check_clean();
  }

  // Whether the stage promotes the image (all of them, or those of its group).
  bool in_stage(const std::string& image) const {
    const pipeline::ImageSpec* spec = m_pipeline.find_image(image);
    return spec != nullptr && (m_stage->group.empty() || spec->group == m_stage->group);
  }

  // For the record: the value each place held, of the images whose places disagree.
  void note_places(const TargetImages& held) {
    m_result.places.clear();
    for (const auto& [place, images] : target_places(m_reading)) {
      for (const auto& [name, references] : images) {
        if (held.at(name).size() < 2) {
          continue;
        }
        for (const auto& reference : references) {
          m_result.places.push_back(PlaceValue{place, name, reference.to_string()});
        }
      }
    }
  }

  Result<void> plan() {
    // The candidate: --image for a first stage (other images as the target has them),
    // else everything the source stage's target holds; for a rollback, an earlier one.
    if (m_stage->from && !m_request.rollback) {
      auto candidate = candidate_for(m_pipeline, *m_stage, m_root);
      if (!candidate) {
        return candidate.error();
      }
      m_result.candidate = std::move(*candidate);
      m_carry_source = carry_from_tree(m_pipeline, m_root);
    }
    EmptyValues empty;
    auto held = read_target(m_pipeline, *m_stage, m_root, &m_reading, &empty);
    if (!held) {
      return held.error();
    }
    if (m_request.rollback) {
      auto found = find_rollback(*m_repository, m_pipeline, *m_stage, m_root, m_id, *held,
                                 m_reading, m_request.rollback_to,
                                 history_path(m_pipeline.file, m_request.history_path));
      if (!found) {
        return found.error();
      }
      m_result.rollback_of = std::move(found->of);
      m_result.candidate = std::move(found->candidate);
      m_place_edits = std::move(found->place_edits);
      m_result.warnings.insert(m_result.warnings.end(), found->warnings.begin(),
                               found->warnings.end());
      // Carried files come back as the commit that held the release had them.
      m_carry_source =
          carry_from_commit(*m_repository, m_pipeline, m_root, *m_stage, found->commit);
    }
    m_planned = *held;
    note_places(*held);
    for (const auto& warning : target_warnings(m_reading)) {
      m_result.warnings.push_back(warning);
    }
    for (const pipeline::ImageSpec* spec : m_pipeline.images_of(*m_stage)) {
      const pipeline::ImageSpec& image = *spec;
      const auto current = held->find(image.name);
      if (current != held->end()) {
        m_result.previous[image.name] = current->second.front().to_string();
        if (current->second.size() > 1) {
          std::string values;
          for (const auto& reference : current->second) {
            values += (values.empty() ? "" : ", ") + reference.to_string();
          }
          m_result.warnings.push_back(
              "stage '" + m_stage->name + "' holds " + image.name + " at " +
              std::to_string(current->second.size()) + " values (" + values + "); " +
              (m_place_edits.values.empty() && m_place_edits.kept.empty()
                   ? "this promotion sets every place to one"
                   : "this rollback puts each place back as it was before promotion " +
                         m_result.rollback_of.substr(std::string_view("before:").size())));
        }
      }
      if (m_stage->from || m_request.rollback) {
        continue;
      }
      if (auto flag = m_flags.find(image.name); flag != m_flags.end()) {
        m_result.candidate.images[image.name] = flag->second;
      } else if (current != held->end()) {
        m_result.candidate.images[image.name] = current->second.front();
      } else if (const auto at = empty.find(image.name); at != empty.end()) {
        return usage("image '" + image.name + "' is not set in the target of stage '" +
                     m_stage->name + "': the value at " + at->second + " is empty (" +
                     k_empty_meaning + "); give it with --image " + image.name + "=REFERENCE");
      } else {
        return usage("image '" + image.name + "' is not set in the target of stage '" +
                     m_stage->name + "'; give it with --image " + image.name + "=REFERENCE");
      }
    }
    const TargetCharts pinned = target_charts(m_reading);
    for (const pipeline::ChartSpec* chart : m_pipeline.charts_of(*m_stage)) {
      if (const auto places = pinned.find(chart->name);
          places != pinned.end() && !places->second.empty()) {
        m_result.previous_charts[chart->name] = places->second.front().version;
      }
    }
    // A first stage's charts: the flagged ones, the others as the target pins them.
    if (!m_stage->from && !m_request.rollback) {
      for (const pipeline::ChartSpec* chart : m_pipeline.charts_of(*m_stage)) {
        const auto places = pinned.find(chart->name);
        if (auto flag = m_chart_flags.find(chart->name); flag != m_chart_flags.end()) {
          m_result.candidate.charts[chart->name] = flag->second;
        } else if (places != pinned.end() && !places->second.empty()) {
          m_result.candidate.charts[chart->name] = places->second.front().version;
        } else {
          return usage("chart '" + chart->name + "' is not pinned in the target of stage '" +
                       m_stage->name + "'; give it with --chart " + chart->name + "=VERSION");
        }
      }
    }
    m_carried.clear();
    if (m_stage->from || m_request.rollback) {
      for (const auto& carry : m_stage->carry) {
        if (const auto found = m_result.candidate.files.find(carry.name);
            found != m_result.candidate.files.end()) {
          m_carried.insert(*found);
        }
      }
    }
    // The edits are semantic: the flagged images for a first stage, all for the others.
    m_edits = m_stage->from || m_request.rollback ? m_result.candidate.images : m_flags;
    m_chart_edits = m_stage->from || m_request.rollback ? m_result.candidate.charts : m_chart_flags;
    if (auto changed = compute_changes(); !changed) {
      return changed.error();
    }
    util::debug("candidate " + m_result.candidate.short_id() + ": " +
                std::to_string(m_result.changes.size()) + " files to change");
    if (m_request.dry_run) {
      return {};
    }
    return check_clean();
  }

  // Refuses (usage) when a file the promotion changes has uncommitted changes.
  Result<void> check_clean() {
    if (!m_result.changes.empty()) {
      std::vector<std::string> paths;
      std::vector<std::string_view> as_read;
      for (const auto& change : m_result.changes) {
        paths.push_back(change.path);
        as_read.push_back(change.before);
      }
      auto dirty = m_repository->dirty_paths(paths, as_read);
      if (!dirty) {
        return dirty.error();
      }
      if (!dirty->empty()) {
        return usage("refusing to promote: " + dirty->front() +
                     " has uncommitted changes; commit or stash them first");
      }
    }
    return {};
  }

  // The texts the stage's carried files get (carried.hpp), for edit_target to start from.
  Result<void> plan_carried() {
    m_place_edits.carried.clear();
    if (auto before = carried_digests(m_pipeline, *m_stage, m_root); !before) {
      return before.error();
    } else {
      m_result.previous_files = std::move(*before);
    }
    if (m_carried.empty()) {
      return {};
    }
    auto recorded = recorded_carried(*m_repository, m_pipeline, *m_stage, m_id);
    if (!recorded) {
      return recorded.error();
    }
    std::vector<std::string> warnings;
    auto texts =
        carry_into(m_pipeline, *m_stage, m_root, m_carried, m_carry_source, *recorded, &warnings);
    if (!texts) {
      return texts.error();
    }
    for (auto& warning : warnings) {
      if (std::find(m_result.warnings.begin(), m_result.warnings.end(), warning) ==
          m_result.warnings.end()) {
        m_result.warnings.push_back(std::move(warning));
      }
    }
    m_place_edits.carried = std::move(*texts);
    return {};
  }

  Result<void> compute_changes() {
    if (auto carried = plan_carried(); !carried) {
      return carried;
    }
    auto changes = edit_target(m_pipeline, *m_stage, m_root, m_edits, &m_reading, &m_place_edits,
                               m_chart_edits.empty() ? nullptr : &m_chart_edits);
    if (!changes) {
      return changes.error();
    }
    // The carried files as the edits leave them: those the stage carries as the release says,
    // the others it holds (a later stage carries them from it) as they will be.
    auto files = carried_digests(m_pipeline, *m_stage, m_root, &*changes);
    if (!files) {
      return files.error();
    }
    for (const auto& [name, digest] : *files) {
      if (const auto wanted = m_carried.find(name);
          wanted != m_carried.end() && wanted->second != digest) {
        return make_error(ErrorKind::input,
                          "stage '" + m_stage->name + "': after its edits carried file '" + name +
                              "' would not be what the release carries (an image or chart edit "
                              "changed a file carried whole: carry its keys instead); nothing "
                              "was written");
      }
    }
    m_result.candidate.files = std::move(*files);
    m_result.changes = std::move(*changes);
    m_result.diff.clear();
    for (const auto& change : m_result.changes) {
      m_result.diff += git::unified_diff(change.path, change.before, change.after);
    }
    return {};
  }

  // Whether the stage opens a pull request and has an approval gate: then the reviews of its
  // pull request count as approvals, and the pull request is opened while approvals are all
  // that is missing, for reviewers to review.
  bool reviewed_on_forge() const {
    return m_stage->strategy == pipeline::Strategy::pull_request &&
           std::any_of(m_stage->gates.begin(), m_stage->gates.end(),
                       [](const pipeline::GateSpec& gate) { return gate.use == "approval"; });
  }

  // Whether a pending outcome waits only for approvals, which reviewers give on the pull
  // request: then it is opened all the same.
  bool awaits_reviews() const {
    return m_result.outcome == Outcome::pending && !m_request.dry_run && reviewed_on_forge() &&
           std::all_of(m_result.gates.begin(), m_result.gates.end(), [](const GateResult& gate) {
             return gate.verdict.status == Status::pass ||
                    (gate.use == "approval" && gate.verdict.status == Status::pending);
           });
  }

  void evaluate_gates() {
    std::optional<history::History> history;
    const fs::path path = history_path(m_pipeline.file, m_request.history_path);
    if (fs::exists(path)) {
      if (auto opened = history::History::open(path)) {
        history.emplace(std::move(*opened));
      } else {
        m_result.warnings.push_back(opened.error().message);
      }
    }
    if (m_request.skip_gates) {
      m_result.gates_skipped = true;
      return;
    }
    if (history && !m_request.rollback && held(*history, m_id, m_stage->name, m_result)) {
      return;
    }
    const RepositoryTimeline timeline(m_pipeline, *m_repository, history ? &*history : nullptr,
                                      &*m_trust);
    GateContext context{m_result.candidate, m_stage->name, m_stage->from, m_pipeline.base_dir,
                        timeline};
    const HistoryApprovals approvals(
        history ? &*history : nullptr, m_id,
        reviewed_on_forge() ? forge_reviews(*m_repository, remote(), m_pipeline, *m_stage, m_result)
                            : std::vector<Approval>());
    context.pipeline = m_pipeline.name;
    context.actor = m_result.actor;
    // Where signed records count, the promoter is also who its key is: their own approval
    // does not count unless allow_self.
    if (auto signer = m_trust->own_principal(); signer) {
      context.signer = *signer;
    } else {
      m_result.warnings.push_back(signer.error().message);
    }
    context.approvals = &approvals;
    context.commits = &timeline;
    context.break_glass = m_request.break_glass;
    context.progress = m_request.on_progress;
    auto evaluated = evaluate_observing(m_stage->gates, context, scheduler::options_for(*m_stage));
    m_observed = std::move(evaluated.observed);
    auto& verdicts = evaluated.verdicts;
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      const auto& spec = m_stage->gates[i];
      util::debug("gate " + spec.name + " (" + spec.use + "): " + to_string(verdicts[i].status) +
                  ": " + verdicts[i].summary);
      m_result.gates.push_back(GateResult{spec.name, spec.use,
                                          spec.gate ? spec.gate->config() : nlohmann::json(),
                                          std::move(verdicts[i])});
    }
  }

  // Writes, commits and pushes; when the push is refused because the remote moved on,
  // takes the remote's new head and makes the same edits again, a bounded number of times.
  // Returns false when the remote already holds the change (nothing was committed).
  Result<bool> apply() {
    std::mt19937 random{std::random_device{}()};
    for (int attempt = 1;; ++attempt) {
      m_result.push_attempts = attempt;
      bool refused = false;  // by the remote, which moved on: plan there and try again
      auto landed = commit_and_push(&refused);
      if (landed) {
        util::debug("pushed " + m_result.commit.substr(0, 12) + " to " + remote() + "/" +
                    m_pipeline.repository.branch + " (push " + std::to_string(attempt) + ")");
        return true;
      }
      util::debug("push " + std::to_string(attempt) + " refused: " + landed.error().message);
      if (!refused || attempt >= k_push_attempts) {
        return landed.error();
      }
      // Jittered exponential backoff: 50-100% of 100 ms, 200 ms, 400 ms, ... (at most 3.2 s).
      const auto ceiling = std::chrono::milliseconds(100) * (1 << std::min(attempt - 1, 5));
      std::uniform_int_distribution<long> jitter(ceiling.count() / 2, ceiling.count());
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
      if (auto refreshed = replan_on_remote_head(); !refreshed) {
        return refreshed.error();
      }
      if (m_result.changes.empty()) {
        m_result.warnings.push_back(remote() + "/" +
                                    m_pipeline.repository.branch +
                                    " already holds this change (pushed meanwhile by another run)");
        return false;
      }
    }
  }

  // After a refused push: fetch, move to the remote's head, and plan again there.
  Result<void> replan_on_remote_head() {
    const auto& repository = m_pipeline.repository;
    if (auto fetched = m_repository->fetch(remote(), repository.branch); !fetched) {
      return fetched.error();
    }
    auto head = m_repository->resolve("refs/remotes/" + remote() + "/" + repository.branch);
    if (!head) {
      return head.error();
    }
    if (!head->has_value()) {
      return make_error(ErrorKind::git, "the remote branch " + repository.branch +
                                            " is gone after a fetch");
    }
    if (auto moved = m_repository->move_to(**head); !moved) {
      return moved.error();
    }
    return replan("on " + remote() + "/" + repository.branch + " (commit " +
                  (*head)->substr(0, 12) + ")");
  }

  // Reads the target again, checks that nobody set an image this promotion sets to something
  // else since the plan (`where` says where it was found so), and makes the edits again there.
  Result<void> replan(const std::string& where) {
    auto held = read_target(m_pipeline, *m_stage, m_root, &m_reading);
    if (!held) {
      return held.error();
    }
    note_places(*held);
    for (const auto& [name, wanted] : m_edits) {
      const auto now = held->find(name);
      if (now == held->end()) {
        continue;
      }
      const auto planned = m_planned.find(name);
      for (const image::Reference& current : now->second) {
        const bool as_planned =
            planned != m_planned.end() &&
            std::find(planned->second.begin(), planned->second.end(), current) !=
                planned->second.end();
        if (current == wanted || as_planned) {
          continue;
        }
        return make_error(
            ErrorKind::conflict,
            "stage '" + m_stage->name + "': image " + name + " is now " + current.to_string() +
                " " + where + ", but it was " +
                (planned == m_planned.end() ? std::string("not set")
                                            : planned->second.front().to_string()) +
                " when this promotion was planned; not overwriting it with " +
                wanted.to_string() + ": run promote again to plan on the new state");
      }
      m_result.previous[name] = now->second.front().to_string();
    }
    // Images this promotion does not set are taken as the remote has them now.
    for (const auto& [name, references] : *held) {
      if (!m_edits.contains(name) && in_stage(name)) {
        m_result.previous[name] = references.front().to_string();
        m_result.candidate.images[name] = references.front();
      }
    }
    return compute_changes();
  }

  // Strategy pull-request: commits the edits on promote/<stage>/<candidate> on top of the
  // branch's head (the working tree is not touched), pushes that branch, and opens the pull
  // request or updates the one already open for it; under --wait-merged, waits for the merge.
  // Opens (or updates) the pull request; `for_review`: only approvals are missing, so it is
  // opened for reviewers and not waited on.
  Result<Outcome> propose(bool for_review = false) {
    auto proposed =
        open_proposal(*m_repository, remote(), m_pipeline, *m_stage, m_trust->signer(), m_result);
    if (!proposed) {
      return proposed.error();
    }
    const auto& settings = proposed->settings;
    const auto& opened = proposed->pull_request;
    if (!m_request.wait_merged || for_review) {
      return Outcome::proposed;
    }
    m_lock.reset();  // the wait writes nothing; finish() takes the lock again to record
    const auto started = std::chrono::steady_clock::now();
    auto waited = forge::wait_merged(
        settings, opened.number, *m_request.wait_merged, m_request.merge_poll,
        [&](std::chrono::seconds left) {
          if (m_request.on_wait) {
            const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::steady_clock::now() - started);
            m_request.on_wait(WaitProgress{"the merge of " + opened.url,
                                           std::min(m_request.merge_poll, left), left,
                                           elapsed.count() > 0});
          }
        });
    if (!waited) {
      return waited.error();
    }
    switch (waited->state) {
      case forge::PullRequest::State::merged:
        return Outcome::promoted;
      case forge::PullRequest::State::closed:
        return make_error(ErrorKind::conflict,
                          opened.url + " was closed without being merged; nothing was promoted");
      case forge::PullRequest::State::open:
        break;
    }
    m_result.warnings.push_back(opened.url + " is not merged after " +
                                pipeline::format_duration(*m_request.wait_merged));
    return Outcome::pending;
  }

  // Sets `refused` when the push was refused because the remote moved on (a conflict).
  Result<void> commit_and_push(bool* refused) {
    auto head = m_repository->resolve("HEAD");
    if (!head) {
      return head.error();
    }
    // Each file is written from the working tree's root without following a symlink: the
    // paths were resolved inside the repository when planned, and whatever is swapped on
    // disk since cannot lead a write out of it.
    auto root = util::RootDir::open(m_root);
    if (!root) {
      return root.error();
    }
    // The journal first: a crash from here on is finished or undone by the next run.
    history::PromotionRecord intent = to_record(m_result);
    intent.finished = std::chrono::system_clock::now();
    std::vector<JournalFile> journal;
    for (const auto& change : m_result.changes) {
      journal.push_back({change.path, change.after});
    }
    if (auto journaled =
            write_journal(history_path(m_pipeline.file, m_request.history_path), intent,
                          head->value_or(""), journal);
        !journaled) {
      return journaled.error();
    }
    std::vector<std::string> paths;
    util::PendingFlush flushing;
    {
      util::DeferredFlush flush;  // one flush for all the files: the journal can undo them
      for (const auto& change : m_result.changes) {
        if (auto written = root->write(change.path, change.after); !written) {
          restore();
          return written.error();
        }
        paths.push_back(change.path);
      }
      flushing = flush.flush_in_background();  // while the commit is made
    }
    util::fault_point("after-edit");
    git::Signature who{m_result.actor, "promote@localhost"};
    if (auto configured = m_repository->default_signature()) {
      who = *configured;
    }
    // Exactly what was written, on the head it was planned on: else something other than
    // promote wrote meanwhile, and the commit would not hold what its message says.
    git::Repository::Expected expected{head->value_or(""), {}};
    for (const auto& change : m_result.changes) {
      expected.contents.push_back(change.after);
    }
    auto commit = m_repository->commit(paths, commit_message(m_result, history_anchor()), who,
                                       &expected, m_trust->signer());
    if (auto flushed = flushing.wait(); !flushed) {
      if (commit && head->has_value()) {
        if (auto reset = m_repository->reset_branch(**head, paths); !reset) {
          m_result.warnings.push_back("could not undo the local commit: " + reset.error().message);
        }
      }
      restore();
      return flushed.error();
    }
    if (!commit) {
      restore();
      return commit.error();
    }
    m_result.commit = *commit;
    util::fault_point("after-commit");
    if (auto pushed = m_repository->push(remote(), m_pipeline.repository.branch);
        !pushed) {
      // Nothing reached the remote: take the local commit back, so a rerun starts clean.
      if (head->has_value()) {
        if (auto reset = m_repository->reset_branch(**head, paths); !reset) {
          m_result.warnings.push_back("could not undo the local commit: " + reset.error().message);
        }
      }
      restore();
      m_result.commit.clear();
      *refused = pushed.error().kind == ErrorKind::conflict;
      return pushed.error();
    }
    util::fault_point("after-push");
    return {};
  }

  // The trailer value of the history's anchor as it is (under the write lock, the promotion's
  // row comes next), or "" when the history cannot be read: then recording fails too.
  std::string history_anchor() const {
    auto history = history::History::open(history_path(m_pipeline.file, m_request.history_path));
    auto anchor = history ? history->anchor() : Result<history::Anchor>(history.error());
    if (!anchor || anchor->database.empty()) {
      util::debug("no Promote-History trailer: " +
                  (anchor ? std::string("the history has no id") : anchor.error().message));
      return "";
    }
    return history::trailer_value(*anchor);
  }

  // The record in the git notes (publish_record); a failure is a warning.
  void publish(const history::PromotionRecord& record, const history::History* history) {
    if (m_repository == nullptr) {
      return;
    }
    if (std::string warning = publish_record(*m_repository, remote(), m_result.commit, record,
                                             history, m_id, m_trust->signer());
        !warning.empty()) {
      m_result.warnings.push_back(std::move(warning));
    }
  }

  // Puts back the files this promotion wrote, each only while it holds what was written: a
  // file something else wrote meanwhile is left as that writer left it.
  void restore() {
    auto root = util::RootDir::open(m_root);
    if (!root) {
      return;
    }
    for (const auto& change : m_result.changes) {
      if (auto now = root->read(change.path, k_max_target_file);
          now && now->has_value() && **now == change.after) {
        (void)root->write(change.path, change.before);
      }
    }
  }

  Result<PromotionResult> finish_with_error(Error error) {
    m_result.outcome = Outcome::error;
    m_result.error = std::move(error);
    return finish();
  }

  // Whether the attempt is recorded: every one but a dry run, and, for a caller that asks,
  // those that changed nothing only when it says so.
  bool recorded() const {
    const bool unchanged =
        (m_result.outcome == Outcome::no_op || m_result.outcome == Outcome::blocked ||
         m_result.outcome == Outcome::pending) &&
        m_result.commit.empty() && m_result.pull_request.empty();
    return !m_request.dry_run &&
           (!unchanged || !m_request.record_unchanged || m_request.record_unchanged(m_result));
  }

  Result<PromotionResult> finish() {
    m_result.finished = std::chrono::system_clock::now();
    // What the verification gates saw is recorded even when the attempt is not (it changed
    // nothing since the last): the first healthy observation is what a soak counts from.
    const bool attempt = recorded();
    if (attempt || (!m_request.dry_run && m_observed)) {
      if (m_repository != nullptr) {
        if (auto locked = lock(*m_repository, true); !locked) {
          m_result.warnings.push_back("the attempt was not recorded: " + locked.error().message);
          if (attempt && m_result.outcome != Outcome::error) {
            m_result.error = locked.error();
          }
          return std::move(m_result);
        }
      }
      const fs::path path = history_path(m_pipeline.file, m_request.history_path);
      const history::PromotionRecord record = to_record(m_result);
      auto history = history::History::open(path);
      // What the verification gates saw first goes in before, and so into the notes with it.
      if (auto seen = history && m_observed ? record_first_observation(
                                                  *history, *m_observed, m_result.candidate, m_id,
                                                  m_result.gates, m_result.actor, m_result.started)
                                            : Result<bool>(false);
          !seen) {
        m_result.warnings.push_back("what the verification gates saw was not recorded: " +
                                    seen.error().message);
      }
      if (!attempt) {
        return std::move(m_result);  // the next record's publish carries it into the notes
      }
      publish(record, history ? &*history : nullptr);
      util::fault_point("after-note");
      util::debug("record " + record.id + " in " + path.string());
      Result<void> recorded = history ? history->record(record) : Result<void>(history.error());
      util::fault_point("after-history");
      if (recorded) {
        drop_journal(path, record.id);
      } else {
        m_result.warnings.push_back("the attempt was not recorded in the history: " +
                                    recorded.error().message);
        if (m_result.outcome != Outcome::error) {
          m_result.error = recorded.error();
        }
      }
    }
    return std::move(m_result);
  }

  const Request& m_request;
  pipeline::Pipeline m_pipeline;
  history::PipelineId m_id;  ///< whose records count (scope.hpp)
  const pipeline::Stage* m_stage = nullptr;
  std::map<std::string, image::Reference> m_flags;
  std::map<std::string, image::Reference> m_edits;  ///< what the promotion sets: image -> reference
  std::map<std::string, std::string> m_chart_flags;  ///< --chart
  std::map<std::string, std::string> m_chart_edits;  ///< the chart versions the promotion pins
  TargetImages m_planned;  ///< what the target held when the promotion was planned
  TargetReading m_reading;  ///< the target as last read, for the edits made on it
  PlaceEdits m_place_edits;  ///< a rollback that puts each place back as it was
  /// The carried files the stage gets (its own `carry:` the candidate holds): name -> digest.
  std::map<std::string, std::string> m_carried;
  CarrySource m_carry_source;  ///< where they are carried from
  std::optional<Workspace> m_workspace;
  std::optional<RecordTrust> m_trust;  ///< set first in run()
  std::optional<Observation> m_observed;  ///< what the verification gates saw healthy
  /// Held from the settling through the plan (not for writing), and again from
  /// begin_writing() through the record (write_lock.hpp); not while the gates run.
  std::optional<WriteLock> m_lock;
  git::Repository* m_repository = nullptr;
  fs::path m_root;
  PromotionResult m_result;
};

}  // namespace

Result<Candidate> candidate_in(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                               const fs::path& root) {
  TargetReading reading;
  return read_candidate(pipeline, stage, root, &reading, nullptr);
}

Result<PromotionResult> promote(const Request& request, const pipeline::GateCatalog& gates) {
  auto loaded = pipeline::load(request.pipeline_file, gates);
  if (!loaded) {
    return loaded.error();
  }
  return Attempt(request, std::move(*loaded)).run();
}

}  // namespace promote::promoter
