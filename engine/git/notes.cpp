// Repository's git notes (refs/notes/promote): note, append_note (compare-and-swap of the
// notes ref), rebase_notes (onto the remote's notes before a push) and for_each_note.
#include <git2.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "engine/git/libgit2.hpp"
#include "engine/git/repository.hpp"

namespace promote::git {

using namespace detail;  // the helpers of libgit2.hpp

namespace {

/// The commit `ref` points at, or null when the ref does not exist.
Result<CommitPtr> ref_commit(git_repository* repository, const std::string& ref,
                             const std::string& doing) {
  git_oid id;
  const int code = git_reference_name_to_id(&id, repository, ref.c_str());
  if (code == GIT_ENOTFOUND) {
    return CommitPtr(nullptr);
  }
  git_commit* raw = nullptr;
  if (code < 0 || git_commit_lookup(&raw, repository, &id) < 0) {
    return failure(doing);
  }
  return CommitPtr(raw);
}

/// The note of `annotated` in the notes commit `notes` ("" when it has none).
Result<std::string> note_text(git_repository* repository, git_commit* notes,
                              const git_oid& annotated, const std::string& doing) {
  if (notes == nullptr) {
    return std::string();
  }
  git_note* raw = nullptr;
  const int code = git_note_commit_read(&raw, repository, notes, &annotated);
  if (code == GIT_ENOTFOUND) {
    return std::string();
  }
  if (code < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_note, void (*)(git_note*)> note(raw, git_note_free);
  const char* text = git_note_message(note.get());
  return std::string(text == nullptr ? "" : text);
}

/// Calls `visit` with each commit annotated in the notes commit `notes`, until it fails.
Result<void> each_note(git_commit* notes, const std::string& doing,
                       const std::function<Result<void>(const git_oid&)>& visit) {
  git_note_iterator* raw_iterator = nullptr;
  if (git_note_commit_iterator_new(&raw_iterator, notes) < 0) {
    return failure(doing);
  }
  const std::unique_ptr<git_note_iterator, void (*)(git_note_iterator*)> iterator(
      raw_iterator, git_note_iterator_free);
  git_oid blob;
  git_oid annotated;
  int code = 0;
  while ((code = git_note_next(&blob, &annotated, iterator.get())) == 0) {
    if (auto visited = visit(annotated); !visited) {
      return visited;
    }
  }
  if (code != GIT_ITEROVER) {
    return failure(doing);
  }
  return {};
}

std::vector<std::string> note_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) {
      lines.push_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return lines;
}

/// `existing` with each of `lines` it lacks appended, one per line; "" when nothing is new.
std::string with_lines(const std::string& existing, const std::vector<std::string>& lines) {
  const std::vector<std::string> have = note_lines(existing);
  std::string text;
  for (const std::string& line : have) {
    text += line + "\n";
  }
  bool added = false;
  for (const std::string& line : lines) {
    if (std::find(have.begin(), have.end(), line) == have.end() &&
        text.find(line + "\n") == std::string::npos) {
      text += line + "\n";
      added = true;
    }
  }
  return added ? text : std::string();
}

/// Writes notes commits on top of `parent` (may be null), one per note, and returns the last
/// (`parent`'s id when `notes` is empty).
Result<std::optional<git_oid>> write_notes(git_repository* repository, git_commit* parent,
                                           const std::vector<std::pair<git_oid, std::string>>& notes,
                                           const Signature& who, const std::string& doing) {
  std::optional<git_oid> tip;
  if (parent != nullptr) {
    tip = *git_commit_id(parent);
  }
  git_signature* raw_signature = nullptr;
  if (git_signature_now(&raw_signature, who.name.c_str(), who.email.c_str()) < 0) {
    return failure(doing);
  }
  const SignaturePtr signature(raw_signature);
  CommitPtr current(nullptr);
  for (const auto& [annotated, text] : notes) {
    git_oid commit_id;
    git_oid blob_id;
    git_commit* base = current ? current.get() : parent;
    if (git_note_commit_create(&commit_id, &blob_id, repository, base, signature.get(),
                               signature.get(), &annotated, text.c_str(), 1) < 0) {
      return failure(doing);
    }
    git_commit* raw = nullptr;
    if (git_commit_lookup(&raw, repository, &commit_id) < 0) {
      return failure(doing);
    }
    current.reset(raw);
    tip = commit_id;
  }
  return tip;
}

/// Points `ref` at `id` if it still points at `expected` (or, with no `expected`, does not
/// exist); false when someone moved it meanwhile.
Result<bool> swap_ref(git_repository* repository, const std::string& ref, const git_oid& id,
                      const git_commit* expected, const std::string& doing) {
  git_reference* moved = nullptr;
  const int code =
      expected == nullptr
          ? git_reference_create(&moved, repository, ref.c_str(), &id, 0, "promote: notes")
          : git_reference_create_matching(&moved, repository, ref.c_str(), &id, 1,
                                          git_commit_id(expected), "promote: notes");
  git_reference_free(moved);
  if (code == GIT_EMODIFIED || code == GIT_EEXISTS || code == GIT_ELOCKED) {
    return false;
  }
  if (code < 0) {
    return failure(doing);
  }
  return true;
}

}  // namespace

Result<std::optional<std::string>> Repository::note(const std::string& notes_ref,
                                                    const std::string& commit_id) const {
  const std::string doing = "cannot read the note of " + commit_id + " in " + notes_ref;
  auto notes = ref_commit(m_repository.get(), notes_ref, doing);
  if (!notes) {
    return notes.error();
  }
  git_oid annotated;
  if (git_oid_fromstr(&annotated, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  auto text = note_text(m_repository.get(), notes->get(), annotated, doing);
  if (!text) {
    return text.error();
  }
  if (text->empty()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::move(*text));
}

Result<void> Repository::append_note(const std::string& notes_ref, const std::string& commit_id,
                                     const std::vector<std::string>& lines,
                                     const Signature& who) {
  const std::string doing = "cannot add a note to " + commit_id + " in " + notes_ref;
  git_oid annotated;
  if (git_oid_fromstr(&annotated, commit_id.c_str()) < 0) {
    return failure(doing);
  }
  // Another writer may move the ref between the read and the swap: then read again.
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto notes = ref_commit(m_repository.get(), notes_ref, doing);
    if (!notes) {
      return notes.error();
    }
    auto existing = note_text(m_repository.get(), notes->get(), annotated, doing);
    if (!existing) {
      return existing.error();
    }
    const std::string text = with_lines(*existing, lines);
    if (text.empty()) {
      return {};
    }
    auto tip = write_notes(m_repository.get(), notes->get(), {{annotated, text}}, who, doing);
    if (!tip) {
      return tip.error();
    }
    auto swapped = swap_ref(m_repository.get(), notes_ref, **tip, notes->get(), doing);
    if (!swapped) {
      return swapped.error();
    }
    if (*swapped) {
      return {};
    }
  }
  return problem(doing, "the notes kept changing under this write");
}

Result<void> Repository::rebase_notes(const std::string& notes_ref, const std::string& other_ref,
                                      const Signature& who) {
  const std::string doing = "cannot combine the notes of " + other_ref + " with " + notes_ref;
  auto other = ref_commit(m_repository.get(), other_ref, doing);
  if (!other) {
    return other.error();
  }
  if (!*other) {
    return {};
  }
  // Another writer may add a note between the read of ours and the move: then read again, so
  // that its line is not dropped.
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto ours = ref_commit(m_repository.get(), notes_ref, doing);
    if (!ours) {
      return ours.error();
    }
    // Ours is theirs (as after our own last push), or was laid on it and only added lines
    // since: ours holds every line of theirs, there is nothing to combine, and the ref stays
    // where it is (moving it anyway would make a writer appending meanwhile start over, again
    // and again). Reading every note of both would cost as much as the history is long.
    if (*ours) {
      const git_oid* mine = git_commit_id(ours->get());
      const git_oid* theirs = git_commit_id(other->get());
      const int descends = git_oid_equal(mine, theirs) != 0
                               ? 1
                               : git_graph_descendant_of(m_repository.get(), mine, theirs);
      if (descends < 0) {
        return failure(doing);
      }
      if (descends == 1) {
        return {};
      }
    }
    // The lines only ours holds, note by note.
    std::vector<std::pair<git_oid, std::string>> missing;
    if (*ours) {
      auto walked = each_note(ours->get(), doing, [&](const git_oid& annotated) -> Result<void> {
        auto mine = note_text(m_repository.get(), ours->get(), annotated, doing);
        auto theirs = note_text(m_repository.get(), other->get(), annotated, doing);
        if (!mine || !theirs) {
          return !mine ? mine.error() : theirs.error();
        }
        if (std::string text = with_lines(*theirs, note_lines(*mine)); !text.empty()) {
          missing.emplace_back(annotated, std::move(text));
        }
        return {};
      });
      if (!walked) {
        return walked;
      }
    }
    auto tip = write_notes(m_repository.get(), other->get(), missing, who, doing);
    if (!tip) {
      return tip.error();
    }
    auto swapped = swap_ref(m_repository.get(), notes_ref, **tip, ours->get(), doing);
    if (!swapped) {
      return swapped.error();
    }
    if (*swapped) {
      return {};
    }
  }
  return problem(doing, "the notes kept changing under this write");
}

Result<void> Repository::for_each_note(
    const std::string& notes_ref,
    const std::function<void(const std::string&, const std::string&)>& visit) const {
  const std::string doing = "cannot read the notes in " + notes_ref;
  auto notes = ref_commit(m_repository.get(), notes_ref, doing);
  if (!notes) {
    return notes.error();
  }
  if (!*notes) {
    return {};
  }
  return each_note(notes->get(), doing, [&](const git_oid& annotated) -> Result<void> {
    auto text = note_text(m_repository.get(), notes->get(), annotated, doing);
    if (!text) {
      return text.error();
    }
    visit(to_hex(&annotated), *text);
    return {};
  });
}

}  // namespace promote::git
