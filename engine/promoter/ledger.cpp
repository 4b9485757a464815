#include "engine/promoter/ledger.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/git/repository.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/promoter/write_lock.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/fault.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"

namespace promote::promoter {

namespace {

// Where the remote's notes are fetched to before ours are laid on top.
constexpr const char* k_fetched_ref = "refs/promote/remote-notes";
constexpr int k_attempts = 12;

git::Signature signature(const git::Repository& repository) {
  if (auto configured = repository.default_signature()) {
    return *configured;
  }
  return {util::current_actor(), "promote@localhost"};
}

Result<bool> fetch_and_rebase(git::Repository& repository, const std::string& remote,
                              const git::Signature& who) {
  auto fetched = repository.fetch_ref(remote, k_notes_ref, k_fetched_ref);
  if (!fetched) {
    return fetched.error();
  }
  if (*fetched) {
    if (auto rebased = repository.rebase_notes(k_notes_ref, k_fetched_ref, who); !rebased) {
      return rebased.error();
    }
  }
  return *fetched;
}

// What the notes hold, to tell the records of a history they lack: the ids of the promotions,
// and the canonical text of the approvals and holds (History::merge tells them apart so too).
struct Noted {
  std::set<std::string> promotions;
  std::set<std::string> others;  ///< "approval " or "hold " and the canonical record
};

void take_line(Noted& noted, const std::string& line) {
  const auto value = nlohmann::json::parse(line, nullptr, false);
  if (!value.is_object() || value.size() != 1) {
    return;
  }
  const std::string& kind = value.begin().key();
  const nlohmann::json& body = value.begin().value();
  if (kind == "promotion" && body.is_object() && body.contains("id") && body["id"].is_string()) {
    noted.promotions.insert(body["id"].get<std::string>());
  } else if (kind == "approval") {
    if (auto record = history::approval_from_json(body)) {
      noted.others.insert("approval " + util::dump_json(history::to_json(*record)));
    }
  } else if (kind == "hold") {
    if (auto record = history::hold_from_json(body)) {
      noted.others.insert("hold " + util::dump_json(history::to_json(*record)));
    }
  }
}

Result<Noted> read_noted(const git::Repository& repository) {
  Noted noted;
  auto read = repository.for_each_note(k_notes_ref, [&](const std::string&, const std::string& text) {
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      if (end > start) {
        take_line(noted, text.substr(start, end - start));
      }
      start = end + 1;
    }
  });
  if (!read) {
    return read.error();
  }
  return noted;
}

// The lines of the backlog's records that `noted` lacks, oldest first, by the commit whose note
// they go to: a promotion's own commit when the repository has it, else `head`.
Result<std::map<std::string, std::vector<std::string>>> missing_lines(
    const git::Repository& repository, const Backlog& backlog, const Noted& noted,
    const std::string& head, std::size_t* count) {
  std::map<std::string, std::vector<std::string>> lines;
  history::Query query;
  query.pipeline = backlog.pipeline;
  query.with_gates = false;
  auto promotions = backlog.history.list(query);
  if (!promotions) {
    return promotions.error();
  }
  for (auto it = promotions->rbegin(); it != promotions->rend(); ++it) {
    if (noted.promotions.contains(it->id)) {
      continue;
    }
    history::Query one;
    one.id = it->id;
    auto full = backlog.history.list(one);
    if (!full) {
      return full.error();
    }
    std::string commit = head;
    if (!it->commit.empty()) {
      if (auto found = repository.resolve(it->commit); found && *found && **found == it->commit) {
        commit = it->commit;
      }
    }
    lines[commit].push_back(history::note_line(full->front()));
    ++*count;
  }
  auto approvals = backlog.history.all_approvals();
  if (!approvals) {
    return approvals.error();
  }
  for (const auto& record : *approvals) {
    if (history::belongs_to(record.pipeline, record.pipeline_file, backlog.pipeline) &&
        !noted.others.contains("approval " + util::dump_json(history::to_json(record)))) {
      lines[head].push_back(history::note_line(record));
      ++*count;
    }
  }
  auto holds = backlog.history.all_holds();
  if (!holds) {
    return holds.error();
  }
  for (const auto& record : *holds) {
    if (history::belongs_to(record.pipeline, record.pipeline_file, backlog.pipeline) &&
        !noted.others.contains("hold " + util::dump_json(history::to_json(record)))) {
      lines[head].push_back(history::note_line(record));
      ++*count;
    }
  }
  return lines;
}

}  // namespace

Result<std::size_t> publish_note(git::Repository& repository, const std::string& remote,
                                 const std::string& commit_id, const std::string& line,
                                 const Backlog* backlog) {
  const git::Signature who = signature(repository);
  auto fetched = fetch_and_rebase(repository, remote, who);
  if (!fetched) {
    return fetched.error();
  }
  std::map<std::string, std::vector<std::string>> lines;
  std::size_t caught_up = 0;
  if (backlog != nullptr) {
    auto noted = read_noted(repository);
    if (!noted) {
      return noted.error();
    }
    if (!line.empty()) {
      take_line(*noted, line);  // added below, where it belongs
    }
    auto missing = missing_lines(repository, *backlog, *noted, commit_id, &caught_up);
    if (!missing) {
      return missing.error();
    }
    lines = std::move(*missing);
  }
  if (!line.empty()) {
    lines[commit_id].push_back(line);
  }
  if (lines.empty()) {
    // Nothing new: push only what an earlier run left unpushed, if anything.
    auto ours = repository.resolve(k_notes_ref);
    auto theirs = repository.resolve(k_fetched_ref);
    if (!ours || !*ours || (*fetched && theirs && *theirs == *ours)) {
      return caught_up;
    }
  }
  std::mt19937 random(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    if (attempt > 1) {
      if (auto again = fetch_and_rebase(repository, remote, who); !again) {
        return again.error();
      }
    }
    for (const auto& [commit, text] : lines) {
      if (auto added = repository.append_note(k_notes_ref, commit, text, who); !added) {
        return added.error();
      }
    }
    util::fault_point("before-note-push");
    auto pushed = repository.push_ref(remote, k_notes_ref);
    if (pushed) {
      return caught_up;
    }
    if (pushed.error().kind != ErrorKind::conflict || attempt == k_attempts) {
      return pushed.error();
    }
    // Another run pushed its notes meanwhile: wait a little (jittered), then lay ours on theirs.
    const int base_ms = 50 << std::min(attempt, 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(base_ms / 2, base_ms)(random)));
  }
}

Result<std::optional<std::string>> noted_promotion(git::Repository& repository,
                                                   const std::string& remote,
                                                   const std::string& commit_id,
                                                   const std::string& promotion_id) {
  if (auto fetched = fetch_and_rebase(repository, remote, signature(repository)); !fetched) {
    return fetched.error();
  }
  auto note = repository.note(k_notes_ref, commit_id);
  if (!note) {
    return note.error();
  }
  std::optional<std::string> found;
  if (!*note) {
    return found;
  }
  std::size_t start = 0;
  const std::string& text = **note;
  while (start < text.size() && !found) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string line = text.substr(start, end - start);
    start = end + 1;
    const auto value = nlohmann::json::parse(line, nullptr, false);
    if (value.is_object() && value.contains("promotion") && value["promotion"].is_object() &&
        value["promotion"].value("id", "") == promotion_id) {
      found = std::move(line);
    }
  }
  return found;
}

Result<std::string> record_on_head(const pipeline::Pipeline& pipeline,
                                   const std::filesystem::path& history_path,
                                   const std::function<Result<void>(history::History&)>& write) {
  const auto warning = [](const std::string& why) {
    return "the record was not written to the git notes (" + std::string(k_notes_ref) +
           "): " + why;
  };
  auto workspace = Workspace::open(pipeline);
  auto lock = WriteLock::acquire(workspace ? workspace->repository().git_dir() : std::filesystem::path(),
                                 history_path);
  if (!lock) {
    return lock.error();
  }
  auto history = history::History::open(history_path);
  if (!history) {
    return history.error();
  }
  if (auto written = write(*history); !written) {
    return written.error();
  }
  if (!workspace) {
    return warning(workspace.error().message);
  }
  auto head = workspace->repository().resolve("HEAD");
  if (!head || !*head) {
    return warning(head ? "the branch has no commit" : head.error().message);
  }
  const std::string remote = pipeline.repository.is_local() ? pipeline.repository.remote : "origin";
  const Backlog backlog{*history, pipeline_identity(pipeline)};
  auto published = publish_note(workspace->repository(), remote, **head, "", &backlog);
  if (!published) {
    return warning(published.error().message);
  }
  util::debug("pushed " + std::to_string(*published) + " records to " + k_notes_ref + " of " + remote);
  return std::string();
}

Result<SyncResult> sync_history(git::Repository& repository, const std::string& remote,
                                history::History& history, const history::PipelineId& pipeline) {
  SyncResult result;
  auto fetched = fetch_and_rebase(repository, remote, signature(repository));
  if (!fetched) {
    return fetched.error();
  }
  result.fetched = *fetched;
  std::vector<history::PromotionRecord> promotions;
  std::vector<history::ApprovalRecord> approvals;
  std::vector<history::HoldRecord> holds;
  auto read = repository.for_each_note(
      k_notes_ref, [&](const std::string& commit_id, const std::string& text) {
        ++result.notes;
        std::size_t start = 0;
        int line_number = 0;
        while (start < text.size()) {
          const std::size_t end = std::min(text.find('\n', start), text.size());
          const std::string line = text.substr(start, end - start);
          start = end + 1;
          ++line_number;
          if (line.empty()) {
            continue;
          }
          const std::string where =
              "note on " + commit_id.substr(0, 12) + ", line " + std::to_string(line_number);
          const auto value = nlohmann::json::parse(line, nullptr, false);
          if (value.is_discarded() || !value.is_object() || value.size() != 1) {
            result.problems.push_back(where + ": not a record promote wrote");
            continue;
          }
          const std::string kind = value.begin().key();
          const nlohmann::json& body = value.begin().value();
          std::optional<Error> bad;
          // Adds a record read back, when it is of this pipeline.
          const auto take = [&](auto record, auto& into) {
            if (!record) {
              bad = record.error();
            } else if (!history::belongs_to(record->pipeline, record->pipeline_file, pipeline)) {
              ++result.other_pipelines;
            } else {
              into.push_back(std::move(*record));
            }
          };
          if (kind == "promotion") {
            take(history::promotion_from_json(body), promotions);
          } else if (kind == "approval") {
            take(history::approval_from_json(body), approvals);
          } else if (kind == "hold") {
            take(history::hold_from_json(body), holds);
          } else {
            result.problems.push_back(where + ": unknown record kind '" + kind + "'");
            continue;
          }
          if (bad) {
            result.problems.push_back(where + ": " + bad->message);
            continue;
          }
          ++result.records;
        }
      });
  if (!read) {
    return read.error();
  }
  auto added = history.merge(std::move(promotions), std::move(approvals), std::move(holds));
  if (!added) {
    return added.error();
  }
  result.added = *added;
  // And the other way: what the history holds and the notes lack goes to the notes.
  auto head = repository.resolve("HEAD");
  if (!head || !*head) {
    result.warning = head ? "the branch has no commit to write notes on" : head.error().message;
    return result;
  }
  const Backlog backlog{history, pipeline};
  if (auto published = publish_note(repository, remote, **head, "", &backlog); published) {
    result.published = *published;
  } else {
    result.warning = published.error().message;
  }
  return result;
}

}  // namespace promote::promoter
