#include "engine/promoter/ledger.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <type_traits>
#include <utility>

#include "engine/git/repository.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/promoter/write_lock.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/fault.hpp"
#include "engine/util/files.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"
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

// Visits each line of each note under `ref`: the annotated commit, the line's number in its note
// (from 1, blank lines counted) and the line apart from its signature, until `visit` returns
// false.
Result<void> each_note_line(const git::Repository& repository, const std::string& ref,
                            const std::function<bool(const std::string& commit_id, int number,
                                                     const NoteLine& line)>& visit) {
  bool going = true;
  return repository.for_each_note(ref, [&](const std::string& commit_id, const std::string& text) {
    std::size_t start = 0;
    int number = 0;
    while (going && start < text.size()) {
      const std::size_t end = std::min(text.find('\n', start), text.size());
      going = visit(commit_id, ++number, split_note_line(text.substr(start, end - start)));
      start = end + 1;
    }
  });
}

// Where a note line is, for messages: "note on 0123456789ab, line 3".
std::string note_place(const std::string& commit_id, int number) {
  return "note on " + commit_id.substr(0, 12) + ", line " + std::to_string(number);
}

// What the notes hold, to tell the records of a history they lack: the ids of the promotions,
// and the lines of the approvals and holds (each the canonical record, as the history's is).
struct Noted {
  std::set<std::string> promotions;
  std::set<std::string> others;
};

// `line` is a note line without its signature.
void take_line(Noted& noted, const std::string& line) {
  if (!line.starts_with("{\"promotion\":")) {
    noted.others.insert(line);
    return;
  }
  const auto value = nlohmann::json::parse(line, nullptr, false);
  if (value.is_object() && value.size() == 1) {
    const nlohmann::json& body = value.begin().value();
    if (body.is_object() && body.contains("id") && body["id"].is_string()) {
      noted.promotions.insert(body["id"].get<std::string>());
    }
  }
}

Result<Noted> read_noted(const git::Repository& repository) {
  Noted noted;
  auto read =
      each_note_line(repository, k_notes_ref, [&](const std::string&, int, const NoteLine& line) {
        if (!line.record.empty()) {
          take_line(noted, line.record);
        }
        return true;
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
  // Approvals and holds, on the head, by their lines.
  const auto add = [&](const auto& records) {
    for (const auto& record : records) {
      std::string line = history::note_line(record);
      if (history::belongs_to(record.pipeline, record.pipeline_file, backlog.pipeline) &&
          !noted.others.contains(line)) {
        lines[head].push_back(std::move(line));
        ++*count;
      }
    }
  };
  auto approvals = backlog.history.all_approvals();
  if (!approvals) {
    return approvals.error();
  }
  add(*approvals);
  auto holds = backlog.history.all_holds();
  if (!holds) {
    return holds.error();
  }
  add(*holds);
  return lines;
}

bool same(const history::MergeCount& a, const history::MergeCount& b) {
  return a.promotions == b.promotions && a.approvals == b.approvals && a.holds == b.holds;
}

// What a publish pushed: the notes commit, and how many records of the pipeline the history
// held (with the publish's own), kept in "<history>.noted", one entry per pipeline.
struct Seen {
  std::string notes;
  history::MergeCount count;
};

std::filesystem::path seen_file(const Backlog& backlog) {
  return backlog.history.path().string() + ".noted";
}

// Whether `entry` of the file is the one of `pipeline` (anything else in it is left alone).
bool is_entry(const nlohmann::json& entry, const history::PipelineId& pipeline) {
  const auto text = [&](const char* key) {
    const auto it = entry.find(key);
    return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string("\n");
  };
  return entry.is_object() && text("pipeline") == pipeline.name &&
         text("pipeline_file") == pipeline.file;
}

std::optional<Seen> read_seen(const Backlog& backlog) {
  auto text = util::read_file(seen_file(backlog));
  const auto value = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
  if (!value.is_array()) {
    return std::nullopt;
  }
  for (const auto& entry : value) {
    if (!is_entry(entry, backlog.pipeline)) {
      continue;
    }
    const auto number = [&](const char* key) -> std::optional<std::size_t> {
      const auto it = entry.find(key);
      if (it == entry.end() || !it->is_number_unsigned()) {
        return std::nullopt;
      }
      return it->get<std::size_t>();
    };
    const auto notes = entry.find("notes");
    const auto promotions = number("promotions");
    const auto approvals = number("approvals");
    const auto holds = number("holds");
    if (notes == entry.end() || !notes->is_string() || !promotions || !approvals || !holds) {
      return std::nullopt;
    }
    return Seen{notes->get<std::string>(), {*promotions, *approvals, *holds}};
  }
  return std::nullopt;
}

// Remembers `seen`; a failure only costs the next publish a read of the notes. Under the
// history's lock only this process writes the file: a temporary file of it is one a killed
// writer left, removed.
void write_seen(const Backlog& backlog, const Seen& seen) {
  const std::filesystem::path file = seen_file(backlog);
  const std::string prefix = util::hidden_name(file) + ".promote-";
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(file.parent_path(), ec)) {
    const std::string name = item.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".tmp")) {
      std::filesystem::remove(item.path(), ec);
    }
  }
  auto text = util::read_file(file);
  auto value = text ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json::array();
  if (!value.is_array()) {
    value = nlohmann::json::array();
  }
  nlohmann::json entry = {{"pipeline", backlog.pipeline.name},
                          {"pipeline_file", backlog.pipeline.file},
                          {"notes", seen.notes},
                          {"promotions", seen.count.promotions},
                          {"approvals", seen.count.approvals},
                          {"holds", seen.count.holds}};
  const auto old = std::find_if(value.begin(), value.end(), [&](const nlohmann::json& item) {
    return is_entry(item, backlog.pipeline);
  });
  if (old != value.end()) {
    *old = std::move(entry);
  } else {
    value.push_back(std::move(entry));
  }
  if (auto written = util::write_file_atomic(file, util::dump_json(value) + "\n"); !written) {
    util::debug(written.error().message);
  }
}

// The lines of the backlog's records that the notes (ours, after the fetch) lack, by the commit
// they go to; `line` is the publish's own. Reads the notes only when what the last publish saw
// cannot tell that none is missing. Sets `count` to what the history holds once `line`'s record
// is in it.
Result<std::map<std::string, std::vector<std::string>>> backlog_lines(
    const git::Repository& repository, const Backlog& backlog, const std::string& head,
    const std::string& line, std::size_t* caught_up, history::MergeCount* count) {
  auto now = backlog.history.counts(backlog.pipeline);
  if (!now) {
    return now.error();
  }
  history::MergeCount own;
  own.promotions = line.starts_with("{\"promotion\":") ? 1 : 0;
  own.approvals = line.starts_with("{\"approval\":") ? 1 : 0;
  own.holds = line.starts_with("{\"hold\":") ? 1 : 0;
  *count = *now;
  if (!backlog.line_recorded) {
    count->promotions += own.promotions;
    count->approvals += own.approvals;
    count->holds += own.holds;
  }
  auto tip = repository.resolve(k_notes_ref);
  if (!tip) {
    return tip.error();
  }
  if (const auto seen = backlog.scan ? std::nullopt : read_seen(backlog);
      seen && *tip && repository.descends_from(**tip, seen->notes)) {
    history::MergeCount expected = seen->count;
    if (backlog.line_recorded) {
      expected.promotions += own.promotions;
      expected.approvals += own.approvals;
      expected.holds += own.holds;
    }
    if (same(expected, *now)) {
      return std::map<std::string, std::vector<std::string>>();
    }
  }
  auto noted = read_noted(repository);
  if (!noted) {
    return noted.error();
  }
  if (!line.empty()) {
    take_line(*noted, line);  // added by the publish, where it belongs
  }
  return missing_lines(repository, backlog, *noted, head, caught_up);
}

}  // namespace

Result<std::size_t> publish_note(git::Repository& repository, const std::string& remote,
                                 const std::string& commit_id, const std::string& line,
                                 const Backlog* backlog, const git::Signer* signer) {
  const git::Signature who = signature(repository);
  auto fetched = fetch_and_rebase(repository, remote, who);
  if (!fetched) {
    return fetched.error();
  }
  std::map<std::string, std::vector<std::string>> lines;
  std::size_t caught_up = 0;
  history::MergeCount count;
  if (backlog != nullptr) {
    auto missing = backlog_lines(repository, *backlog, commit_id, line, &caught_up, &count);
    if (!missing) {
      return missing.error();
    }
    lines = std::move(*missing);
  }
  // Remembers, once the remote holds our notes, that they hold every record of the backlog.
  const auto seen = [&]() -> Result<std::size_t> {
    if (backlog != nullptr) {
      if (auto tip = repository.resolve(k_notes_ref); tip && *tip) {
        write_seen(*backlog, Seen{**tip, count});
      }
    }
    return caught_up;
  };
  if (!line.empty()) {
    lines[commit_id].push_back(line);
  }
  if (backlog != nullptr && !lines.empty()) {
    auto anchor = backlog->pending != nullptr ? backlog->history.anchor_after(*backlog->pending)
                                              : backlog->history.anchor();
    if (!anchor) {
      return anchor.error();
    }
    if (!anchor->database.empty()) {
      lines[commit_id].push_back(history::note_line(*anchor));
    }
  }
  if (signer != nullptr) {
    for (auto& [commit, texts] : lines) {
      for (std::string& text : texts) {
        auto signed_line = sign_note_line(*signer, text);
        if (!signed_line) {
          return signed_line.error();
        }
        text = std::move(*signed_line);
      }
    }
  }
  if (lines.empty()) {
    // Nothing new: push only what an earlier run left unpushed, if anything.
    auto ours = repository.resolve(k_notes_ref);
    auto theirs = repository.resolve(k_fetched_ref);
    if (!ours || !*ours) {
      return caught_up;
    }
    if (*fetched && theirs && *theirs == *ours) {
      return seen();
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
      return seen();
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

std::optional<Error> unrecordable(const std::string& actor, const std::string& reason) {
  for (const auto& [what, text] :
       {std::pair{"the actor", &actor}, std::pair{"the reason", &reason}}) {
    if (auto problem = util::utf8_problem(what, *text); !problem.empty()) {
      return make_error(ErrorKind::usage, problem);
    }
  }
  return std::nullopt;
}

std::string publish_record(git::Repository& repository, const std::string& remote,
                           std::string commit, const history::PromotionRecord& record,
                           const history::History* history, const history::PipelineId& pipeline,
                           const git::Signer* signer) {
  if (commit.empty()) {
    auto head = repository.resolve("HEAD");
    if (!head || !*head) {
      return "";
    }
    commit = **head;
  }
  util::debug("record " + record.id + " (" + record.outcome + ") to " + k_notes_ref + " on " +
              commit.substr(0, 12) + ", pushed to " + remote);
  std::optional<Backlog> backlog;
  if (history != nullptr) {
    backlog.emplace(Backlog{*history, pipeline});
    backlog->pending = &record;
  }
  auto published = publish_note(repository, remote, commit, history::note_line(record),
                                backlog ? &*backlog : nullptr, signer);
  if (!published) {
    return "the record was not written to the git notes (" + std::string(k_notes_ref) +
           "): " + published.error().message +
           "; the next command that writes pushes it from the history";
  }
  if (*published > 0) {
    util::debug("pushed " + std::to_string(*published) + " earlier records the notes lacked");
  }
  return "";
}

Result<std::string> record_on_head(
    const pipeline::Pipeline& pipeline, const RecordTrust& trust,
    const std::filesystem::path& history_path,
    const std::function<Result<std::string>(history::History&, const Result<Workspace>&)>& write) {
  const auto warning = [](const std::string& why) {
    return "the record was not written to the git notes (" + std::string(k_notes_ref) +
           "): " + why + "; the next command that writes pushes it from the history";
  };
  auto workspace = Workspace::open(pipeline);
  auto lock = WriteLock::acquire(
      workspace ? workspace->repository().git_dir() : std::filesystem::path(), history_path);
  if (!lock) {
    return lock.error();
  }
  auto history = history::History::open(history_path);
  if (!history) {
    return history.error();
  }
  auto line = write(*history, workspace);
  if (!line) {
    return line.error();
  }
  if (!workspace) {
    return warning(workspace.error().message);
  }
  auto head = workspace->repository().resolve("HEAD");
  if (!head || !*head) {
    return warning(head ? "the branch has no commit" : head.error().message);
  }
  const std::string remote = pipeline.repository.is_local() ? pipeline.repository.remote : "origin";
  const Backlog backlog{*history, pipeline_identity(pipeline), true};
  auto published =
      publish_note(workspace->repository(), remote, **head, *line, &backlog, trust.signer());
  if (!published) {
    return warning(published.error().message);
  }
  if (*published > 0) {
    util::debug("pushed " + std::to_string(*published) + " earlier records the notes lacked");
  }
  return std::string();
}

Result<FoundAnchors> find_anchors(git::Repository& repository, const RecordTrust& trust,
                                  const std::optional<std::string>& fetch_from) {
  if (fetch_from) {
    if (auto fetched = repository.fetch_ref(*fetch_from, k_notes_ref, k_fetched_ref); !fetched) {
      return fetched.error();
    }
  }
  FoundAnchors found;
  std::optional<Error> failed;
  std::set<std::string> seen;  // the same line in both refs is one anchor
  // Whether a record of git counts by `trust`: else it is named in the problems.
  const auto counts = [&](const std::string& where, Result<std::optional<std::string>> signer,
                          const std::string& why) {
    if (!signer) {
      failed = signer.error();
      return false;
    }
    if (!why.empty()) {
      found.problems.push_back(where + ": left out: " + why);
      return false;
    }
    return true;
  };
  for (const char* ref : {k_notes_ref, k_fetched_ref}) {
    auto read = each_note_line(
        repository, ref, [&](const std::string& commit_id, int number, const NoteLine& note) {
          if (!note.record.starts_with("{\"anchor\":") || !seen.insert(note.record).second) {
            return true;
          }
          const std::string where = "the " + note_place(commit_id, number);
          std::string why;
          if (!counts(where, trust.line_signer(note, why), why)) {
            return !failed;
          }
          const auto value = nlohmann::json::parse(note.record, nullptr, false);
          auto anchor = value.is_object() && value.size() == 1
                            ? history::anchor_from_json(value.begin().value())
                            : Result<history::Anchor>(make_error(ErrorKind::input, "not JSON"));
          if (anchor) {
            found.anchors.push_back({std::move(*anchor), where});
          } else {
            found.problems.push_back(where + ": " + anchor.error().message);
          }
          return true;
        });
    if (!read) {
      return read.error();
    }
  }
  auto walked = repository.walk([&](const git::CommitInfo& commit) {
    for (const auto& [key, value] : git::trailers(commit.message)) {
      if (key != history::k_anchor_trailer) {
        continue;
      }
      const std::string where = "the " + key + " trailer of commit " + commit.id.substr(0, 12);
      std::string why;
      if (!counts(where, trust.commit_signer(repository, commit.id, why), why)) {
        if (failed) {
          return false;
        }
        continue;
      }
      if (auto anchor = history::anchor_from_trailer(value)) {
        found.anchors.push_back({std::move(*anchor), where});
      } else {
        found.problems.push_back(where + ": " + anchor.error().message);
      }
    }
    return true;
  });
  if (!walked) {
    return walked.error();
  }
  if (failed) {
    return *failed;
  }
  return found;
}

Result<SignatureCheck> check_signatures(const git::Repository& repository, const RecordTrust& trust,
                                        const history::PipelineId& pipeline) {
  SignatureCheck result;
  std::optional<Error> failed;
  const auto check = [&](const std::string& where, Result<std::optional<std::string>> signer,
                         const std::string& why) {
    if (!signer) {
      failed = signer.error();
      return;
    }
    ++result.checked;
    if (!why.empty()) {
      result.bad.push_back(where + ": " + why);
    }
  };
  auto read = each_note_line(
      repository, k_notes_ref, [&](const std::string& commit_id, int number, const NoteLine& note) {
        const auto value = nlohmann::json::parse(note.record, nullptr, false);
        if (!value.is_object() || value.size() != 1 || !value.begin()->is_object()) {
          return true;  // not a record: history sync names it
        }
        const nlohmann::json& body = *value.begin();
        // A record of another pipeline is that pipeline's to check; an anchor is the history's.
        if (body.contains("pipeline") &&
            !history::belongs_to(body.value("pipeline", ""), body.value("pipeline_file", ""),
                                 pipeline)) {
          return true;
        }
        std::string why;
        check("the " + note_place(commit_id, number), trust.line_signer(note, why), why);
        return !failed;
      });
  if (!read) {
    return read.error();
  }
  auto walked = repository.walk([&](const git::CommitInfo& commit) {
    if (git::trailer(commit.message, "Promote-Id").empty() ||
        !commit_of(commit.message, pipeline)) {
      return true;
    }
    std::string why;
    check("commit " + commit.id.substr(0, 12), trust.commit_signer(repository, commit.id, why),
          why);
    return !failed;
  });
  if (!walked) {
    return walked.error();
  }
  if (failed) {
    return *failed;
  }
  return result;
}

Result<SyncResult> sync_history(git::Repository& repository, const std::string& remote,
                                history::History& history, const history::PipelineId& pipeline,
                                const RecordTrust& trust) {
  SyncResult result;
  auto fetched = fetch_and_rebase(repository, remote, signature(repository));
  if (!fetched) {
    return fetched.error();
  }
  result.fetched = *fetched;
  std::vector<history::PromotionRecord> promotions;
  std::vector<history::ApprovalRecord> approvals;
  std::vector<history::HoldRecord> holds;
  std::optional<Error> failed;
  auto read = each_note_line(
      repository, k_notes_ref,
      [&](const std::string& commit_id, int line_number, const NoteLine& note) {
        if (line_number == 1) {
          ++result.notes;
        }
        if (note.record.empty()) {
          return true;
        }
        const std::string where = note_place(commit_id, line_number);
        const auto value = nlohmann::json::parse(note.record, nullptr, false);
        if (value.is_discarded() || !value.is_object() || value.size() != 1) {
          result.problems.push_back(where + ": not a record promote wrote");
          return true;
        }
        const std::string kind = value.begin().key();
        const nlohmann::json& body = value.begin().value();
        std::optional<Error> bad;
        // Adds a record read back, when it is of this pipeline and counts by `trust`.
        const auto take = [&](auto record, auto& into) {
          if (!record) {
            bad = record.error();
            return;
          }
          if (!history::belongs_to(record->pipeline, record->pipeline_file, pipeline)) {
            ++result.other_pipelines;
            return;
          }
          std::string why;
          auto signer = trust.line_signer(note, why);
          if (!signer) {
            failed = signer.error();
            return;
          }
          if constexpr (std::is_same_v<std::decay_t<decltype(*record)>,
                                       history::ApprovalRecord>) {
            // An approval counts as its signer's only: no one approves for someone else.
            if (*signer && **signer != record->actor) {
              why = "it is signed by " + **signer + ", not by its actor " + record->actor;
            }
          }
          if (!why.empty()) {
            bad = make_error(ErrorKind::input, "left out: " + util::one_line(why));
            return;
          }
          into.push_back(std::move(*record));
        };
        if (kind == "anchor") {
          // Not a record: what a history held when a record was written (audit verify).
          if (auto anchor = history::anchor_from_json(body); !anchor) {
            result.problems.push_back(where + ": " + anchor.error().message);
          }
          return true;
        }
        if (kind == "promotion") {
          take(history::promotion_from_json(body), promotions);
        } else if (kind == "approval") {
          take(history::approval_from_json(body), approvals);
        } else if (kind == "hold") {
          take(history::hold_from_json(body), holds);
        } else {
          result.problems.push_back(where + ": unknown record kind '" + kind + "'");
          return true;
        }
        if (bad) {
          result.problems.push_back(where + ": " + bad->message);
          return true;
        }
        ++result.records;
        return !failed;
      });
  if (!read) {
    return read.error();
  }
  if (failed) {
    return *failed;
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
  const Backlog backlog{history, pipeline, false, true};
  if (auto published = publish_note(repository, remote, **head, "", &backlog, trust.signer());
      published) {
    result.published = *published;
  } else {
    result.warning = published.error().message;
  }
  return result;
}

}  // namespace promote::promoter
