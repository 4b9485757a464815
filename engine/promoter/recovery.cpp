#include "engine/promoter/recovery.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/git/repository.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/json.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

namespace {

/// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat),
/// or "" when there is no such process. With the pid it names one process for good.
std::string process_start(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return "";
  }
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) {
      return field;
    }
  }
  return "";
}

bool alive(long pid, const std::string& start) {
  if (pid <= 0) {
    return false;
  }
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) {
    return false;
  }
  return process_start(pid) == start;
}

// Writes `data` to `path` by a temporary file named after this process, then a rename.
Result<void> write_owned(const fs::path& path, const std::string& data) {
  const fs::path temp = path.parent_path() /
                        (util::hidden_name(path) + "." + std::to_string(::getpid()) + ".tmp");
  const auto fail = [&](const std::string& what) -> Error {
    return make_error(ErrorKind::input, "cannot write the journal " + path.string() + ": " +
                                            what + ": " + std::strerror(errno));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail("open");
  }
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      Error error = fail("write");
      ::close(fd);
      ::unlink(temp.c_str());
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    Error error = fail("flush");
    ::unlink(temp.c_str());
    return error;
  }
  return {};
}

std::string text_in(const nlohmann::json& object, const char* key) {
  const auto found = object.is_object() ? object.find(key) : object.end();
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

long number_in(const nlohmann::json& object, const char* key) {
  const auto found = object.is_object() ? object.find(key) : object.end();
  return found != object.end() && found->is_number_integer() ? found->get<long>() : 0;
}

struct Entry {
  fs::path file;
  history::PromotionRecord record;
  std::string base;
  long pid = 0;                                            ///< the process that wrote it
  std::vector<std::pair<std::string, std::string>> files;  ///< path, sha256 of what was written
};

// The text of the journal file `name` in `dir` when this run may act on it: a regular file
// (not a symlink) owned by this user and not tracked by git. A journal is what a run on this
// machine left: one that came with the repository (committed, then cloned) or that another
// user wrote names paths and a record nobody here vouches for. nullopt, with a line in
// `notes` saying why, otherwise.
std::optional<std::string> trusted_text(const util::RootDir& dir, const std::string& name,
                                                std::vector<std::string>& notes) {
  const fs::path shown = dir.path() / name;
  const auto ignored = [&](const std::string& why) {
    notes.push_back("ignored the journal entry " + shown.string() + ": " + why);
    return std::optional<std::string>();
  };
  auto fd = dir.open_file(name, O_RDONLY | O_NONBLOCK);
  if (!fd) {
    return ignored(fd.error().message);
  }
  struct stat info {};
  if (::fstat(fd->get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return ignored("it is not a regular file");
  }
  if (info.st_uid != ::geteuid()) {
    return ignored("it is owned by user " + std::to_string(info.st_uid) + ", not by this one (" +
                   std::to_string(::geteuid()) + ")");
  }
  auto tracked = git::tracked_by_git(shown);
  if (!tracked) {
    return ignored(tracked.error().message);
  }
  if (*tracked) {
    return ignored(
        "it is tracked by git, so it came with the repository rather than from a run on this "
        "machine (remove it from the repository)");
  }
  auto text = util::read_open_file(*fd, shown.string());
  if (!text) {
    return ignored(text.error().message);
  }
  return std::optional<std::string>(std::move(*text));
}

// The entries of `pipeline` whose process is gone; removes the temporary files of writers
// that are gone. Journal files this run may not act on are left, each with a line in `notes`.
std::vector<Entry> orphans(const fs::path& path, const history::PipelineId& pipeline,
                                   std::vector<std::string>& notes) {
  std::vector<Entry> out;
  auto dir = util::RootDir::open(path);
  if (!dir) {
    return out;
  }
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(path, ec)) {
    const std::string name = item.path().filename().string();
    const bool temporary = name.starts_with(".") && name.ends_with(".tmp");
    if (!temporary && !name.ends_with(".json")) {
      continue;
    }
    const auto text = trusted_text(*dir, name, notes);
    if (!text) {
      continue;
    }
    if (temporary) {
      const auto dot = name.rfind('.', name.size() - 5);
      const long pid = std::atol(name.substr(dot + 1).c_str());
      if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
        (void)dir->remove(name);
      }
      continue;
    }
    const auto value = nlohmann::json::parse(*text, nullptr, false);
    if (!value.is_object() || !value.contains("record")) {
      continue;
    }
    auto record = history::promotion_from_json(value["record"]);
    const long pid = number_in(value, "pid");
    if (!record || !history::belongs_to(record->pipeline, record->pipeline_file, pipeline) ||
        alive(pid, text_in(value, "start"))) {
      continue;
    }
    Entry entry{item.path(), std::move(*record), text_in(value, "base"), pid, {}};
    if (const auto files = value.find("files"); files != value.end() && files->is_array()) {
      for (const auto& file : *files) {
        entry.files.emplace_back(text_in(file, "path"), text_in(file, "after_sha256"));
      }
    }
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.record.started < b.record.started; });
  return out;
}

// The commit of promotion `id` on the remote branch (from `head` back to `base`), if any.
Result<std::optional<std::string>> landed_commit(const git::Repository& repository,
                                                 const std::string& head, const Entry& entry) {
  std::optional<std::string> found;
  int visited = 0;
  auto walked = repository.walk_from(head, [&](const git::CommitInfo& commit) {
    if (git::trailer(commit.message, "Promote-Id") == entry.record.id) {
      found = commit.id;
      return false;
    }
    return commit.id != entry.base && ++visited < 100000;
  });
  if (!walked) {
    return walked.error();
  }
  return found;
}

// Undoes what a promotion that never reached the remote left in this working copy: its
// local commit (when HEAD is it), the files it wrote, and its temporary files. Files are
// reached from the working tree's root without following a symlink (util::RootDir), and a
// file is put back only while it holds what the promotion wrote; a path that cannot be
// reached so, or a file that holds neither what the promotion wrote nor what it held before
// (changed since), is left as it is, with a line in `notes`.
Result<void> undo_local(git::Repository& repository, const Entry& entry,
                        std::vector<std::string>& notes) {
  auto root = util::RootDir::open(repository.workdir());
  if (!root) {
    return root.error();
  }
  const std::string what = "promotion " + entry.record.id + " into " + entry.record.stage + ": ";
  std::optional<git::CommitInfo> head;
  auto walked = repository.walk([&](const git::CommitInfo& commit) {
    head = commit;
    return false;
  });
  if (!walked) {
    return walked.error();
  }
  // The files that can be reached, as they are now.
  struct File {
    std::string path;
    std::string after;                ///< sha256 of what the promotion wrote
    std::optional<std::string> now;  ///< nullopt: not there
  };
  std::vector<File> files;
  std::vector<std::string> paths;
  for (const auto& [path, after] : entry.files) {
    auto now = root->read(path);
    if (!now) {
      notes.push_back(what + now.error().message + ": left as it is");
      continue;
    }
    files.push_back(File{path, after, std::move(*now)});
    paths.push_back(path);
  }
  if (head && git::trailer(head->message, "Promote-Id") == entry.record.id) {
    auto parent = repository.resolve(head->id + "^");
    if (!parent) {
      return parent.error();
    }
    if (*parent) {
      if (auto reset = repository.reset_branch(**parent, paths); !reset) {
        return reset.error();
      }
    }
  }
  for (const auto& [path, after, now] : files) {
    if (auto removed = root->remove_temporaries(path, entry.pid); !removed) {
      notes.push_back(what + removed.error().message + ": its temporary files were left");
    }
    if (entry.base.empty()) {
      continue;
    }
    auto before = repository.read_file(entry.base, path);
    if (!before) {
      return before.error();
    }
    if (!now || util::sha256_hex(*now) != after) {
      if (now != *before) {
        notes.push_back(what + path +
                        " holds neither what the promotion wrote nor what it held before "
                        "(it was changed since): left as it is");
      }
      continue;  // not what the promotion wrote: someone else's, left alone
    }
    if (*before) {
      if (auto written = root->write(path, **before); !written) {
        return written.error();
      }
    } else if (auto removed = root->remove(path); !removed) {
      return removed.error();
    }
  }
  return {};
}

// Whether any process has `path` open (a writer holding a lock file keeps it open).
bool open_anywhere(const fs::path& path) {
  std::error_code ec;
  for (const auto& process : fs::directory_iterator("/proc", ec)) {
    const std::string pid = process.path().filename().string();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::error_code fd_ec;
    for (const auto& fd : fs::directory_iterator(process.path() / "fd", fd_ec)) {
      std::error_code link_ec;
      if (fs::read_symlink(fd.path(), link_ec) == path) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> remove_stale_locks(const fs::path& git_dir) {
  std::vector<std::string> removed;
  std::vector<fs::path> locks;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(git_dir, ec)) {
    if (item.path().extension() == ".lock") {
      locks.push_back(item.path());
    }
  }
  for (auto it = fs::recursive_directory_iterator(git_dir / "refs", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".lock") {
      locks.push_back(it->path());
    }
  }
  for (const fs::path& lock : locks) {
    const fs::path absolute = fs::weakly_canonical(lock, ec);
    if (!open_anywhere(absolute) && fs::remove(lock, ec)) {
      removed.push_back(lock.lexically_relative(git_dir.parent_path()).string());
    }
  }
  return removed;
}

fs::path journal_dir(const fs::path& history) {
  return fs::path(history.string() + ".pending");
}

Result<void> write_journal(const fs::path& history, const history::PromotionRecord& record,
                           const std::string& base, const std::vector<JournalFile>& files) {
  const fs::path dir = journal_dir(history);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorKind::input,
                      "cannot create the journal directory " + dir.string() + ": " + ec.message());
  }
  nlohmann::json entry = {{"pid", static_cast<long>(::getpid())},
                          {"start", process_start(::getpid())},
                          {"base", base},
                          {"files", nlohmann::json::array()},
                          {"record", history::to_json(record)}};
  for (const auto& file : files) {
    entry["files"].push_back({{"path", file.path}, {"after_sha256", util::sha256_hex(file.after)}});
  }
  return write_owned(dir / (record.id + ".json"), util::dump_json(entry));
}

void drop_journal(const fs::path& history, const std::string& id) {
  std::error_code ec;
  fs::remove(journal_dir(history) / (id + ".json"), ec);
}

Result<std::vector<std::string>> recover_interrupted(git::Repository& repository,
                                                     const std::string& remote,
                                                     const std::string& branch,
                                                     const history::PipelineId& pipeline,
                                                     const fs::path& history, bool dry_run) {
  std::vector<std::string> done;
  const fs::path dir = journal_dir(history);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return done;
  }
  const std::vector<Entry> entries = orphans(dir, pipeline, done);
  if (entries.empty()) {
    return done;
  }
  if (dry_run) {
    const Entry& first = entries.front();
    return make_error(ErrorKind::conflict,
                      "promotion " + first.record.id + " into " + first.record.stage +
                          " was interrupted and is not settled yet (" + first.file.string() +
                          "); a dry run changes nothing: run promote without --dry-run to "
                          "finish or undo it first");
  }
  if (auto fetched = repository.fetch(remote, branch); !fetched) {
    return fetched.error();
  }
  auto head = repository.resolve("refs/remotes/" + remote + "/" + branch);
  if (!head) {
    return head.error();
  }
  for (const Entry& entry : entries) {
    const std::string& id = entry.record.id;
    std::optional<std::string> landed;
    if (*head) {
      auto found = landed_commit(repository, **head, entry);
      if (!found) {
        return found.error();
      }
      landed = *found;
    }
    if (!landed) {
      std::vector<std::string> left;
      if (auto undone = undo_local(repository, entry, left); !undone) {
        return undone.error();
      }
      done.push_back("promotion " + id + " into " + entry.record.stage +
                     " was interrupted before its push reached " + remote + "/" + branch +
                     ": its local changes were undone and nothing was recorded");
      done.insert(done.end(), left.begin(), left.end());
      fs::remove(entry.file, ec);
      continue;
    }
    auto noted = noted_promotion(repository, remote, *landed, id);
    if (!noted) {
      return noted.error();
    }
    history::PromotionRecord record = entry.record;
    record.commit = *landed;
    std::string line = history::note_line(record);
    if (*noted) {
      // The note was written before the crash: the history takes that very record.
      const auto value = nlohmann::json::parse(**noted, nullptr, false);
      if (value.is_object() && value.contains("promotion")) {
        if (auto from_note = history::promotion_from_json(value["promotion"])) {
          record = std::move(*from_note);
          line = **noted;
        }
      }
    }
    if (auto published = publish_note(repository, remote, *landed, line); !published) {
      return published.error();
    }
    auto opened = history::History::open(history);
    if (!opened) {
      return opened.error();
    }
    if (auto merged = opened->merge({record}, {}, {}); !merged) {
      return merged.error();
    }
    done.push_back("promotion " + id + " into " + entry.record.stage +
                   " was interrupted after its push reached " + remote + "/" + branch +
                   " (commit " + landed->substr(0, 12) +
                   "): recorded as promoted in the history and the git notes");
    fs::remove(entry.file, ec);
  }
  return done;
}

}  // namespace promote::promoter
