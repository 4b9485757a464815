#include "engine/promoter/ledger.hpp"

#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/git/repository.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/fault.hpp"
#include "engine/util/text.hpp"

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

}  // namespace

Result<void> publish_note(git::Repository& repository, const std::string& remote,
                          const std::string& commit_id, const std::string& line) {
  const git::Signature who = signature(repository);
  std::mt19937 random(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    if (auto fetched = fetch_and_rebase(repository, remote, who); !fetched) {
      return fetched.error();
    }
    if (auto added = repository.append_note(k_notes_ref, commit_id, {line}, who); !added) {
      return added;
    }
    util::fault_point("before-note-push");
    auto pushed = repository.push_ref(remote, k_notes_ref);
    if (pushed || pushed.error().kind != ErrorKind::conflict || attempt == k_attempts) {
      return pushed;
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

std::optional<Error> unrecordable(const std::string& actor, const std::string& reason) {
  for (const auto& [what, text] :
       {std::pair{"the actor", &actor}, std::pair{"the reason", &reason}}) {
    if (auto problem = util::utf8_problem(what, *text); !problem.empty()) {
      return make_error(ErrorKind::usage, problem);
    }
  }
  return std::nullopt;
}

std::string publish_on_head(const pipeline::Pipeline& pipeline, const std::string& line) {
  const auto warning = [](const std::string& why) {
    return "the record was not written to the git notes (" + std::string(k_notes_ref) +
           "): " + why;
  };
  auto workspace = Workspace::open(pipeline);
  if (!workspace) {
    return warning(workspace.error().message);
  }
  auto head = workspace->repository().resolve("HEAD");
  if (!head || !*head) {
    return warning(head ? "the branch has no commit" : head.error().message);
  }
  const std::string remote = pipeline.repository.is_local() ? pipeline.repository.remote : "origin";
  if (auto published = publish_note(workspace->repository(), remote, **head, line); !published) {
    return warning(published.error().message);
  }
  return "";
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
  return result;
}

}  // namespace promote::promoter
