// Many writers at once in one checkout, through the real binary: promotions behind a gate that
// takes a moment, approvals and rejections, holds. One writer at a time per checkout and per
// history database (the write lock), and every record of the history reaches the remote's
// git notes, once.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <future>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::sh;

namespace {

constexpr int k_images = 6;

// A pipeline of six images; dev behind a gate (a plugin) that takes half a second, staging
// from dev.
std::map<std::string, std::string> busy_files() {
  std::string pipeline =
      "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: busy}\n"
      "repository: {url: ., branch: main}\nimages:\n";
  std::string dev = "images:\n";
  for (int i = 0; i < k_images; ++i) {
    const std::string name = "img" + std::to_string(i);
    pipeline += "  - {name: " + name + ", repository: ghcr.io/acme/" + name + "}\n";
    dev += "  - name: ghcr.io/acme/" + name + "\n    newTag: 1.0.0\n";
  }
  pipeline +=
      "stages:\n  - name: dev\n    target: {kustomize: overlays/dev}\n"
      "    gates:\n      - use: slow\n"
      "  - name: staging\n    from: dev\n    target: {kustomize: overlays/staging}\n";
  return {{"promote.yaml", pipeline},
          {"overlays/dev/kustomization.yaml", dev},
          {"overlays/staging/kustomization.yaml", dev},
          {"plugins/promote-gate-slow",
           "#!/bin/sh\ncat > /dev/null\nsleep 0.5\n"
           "printf '%s\\n' '{\"status\":\"pass\",\"summary\":\"checked\"}'\n"}};
}

struct Busy {
  promote::test::ScratchRepo scratch{busy_files()};
  const fs::path& repo = scratch.repo;

  Busy() {
    sh("chmod +x plugins/promote-gate-slow && git commit -qam 'the gate runs' && git push -q",
       repo);
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), promote::test::promote_binary().string());
    std::map<std::string, std::string> environment = {
        {"GITHUB_ACTOR", ""},     {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_ACTOR", "deploy-ci"},
        {"PROMOTE_HISTORY", ""},  {"NO_COLOR", "1"},         {"GITHUB_ACTIONS", ""},
        {"GITLAB_CI", ""},        {"PROMOTE_LOCK_TIMEOUT", ""}};
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    return promote::test::run(args, repo, environment);
  }

  // Runs each argument list at once, each as its own process; their results in order.
  std::vector<CommandResult> at_once(const std::vector<std::vector<std::string>>& runs,
                                     const std::vector<std::string>& actors = {}) const {
    std::vector<std::future<CommandResult>> futures;
    for (std::size_t k = 0; k < runs.size(); ++k) {
      futures.push_back(std::async(std::launch::async, [&, k] {
        return promote(runs[k], {{"PROMOTE_ACTOR", k < actors.size() ? actors[k] : "deploy-ci"}});
      }));
    }
    std::vector<CommandResult> results;
    for (auto& future : futures) {
      results.push_back(future.get());
    }
    return results;
  }

  std::string remote(const std::string& command) const {
    return sh("git --git-dir=remote.git " + command, scratch.dir.path());
  }

  // Every record of every note of refs/notes/promote on the remote (the anchors of the history
  // that follow them, history/anchor.hpp, left out).
  std::vector<nlohmann::json> remote_notes() const {
    const std::string notes = sh(
        "if git --git-dir=remote.git rev-parse -q --verify refs/notes/promote > /dev/null; then "
        "for c in $(git --git-dir=remote.git notes --ref=promote list | cut -d' ' -f2); do "
        "git --git-dir=remote.git notes --ref=promote show $c; done; fi",
        scratch.dir.path());
    std::vector<nlohmann::json> lines;
    std::istringstream stream(notes);
    for (std::string line; std::getline(stream, line);) {
      if (!line.empty() && !line.starts_with("{\"anchor\":")) {
        lines.push_back(nlohmann::json::parse(line));
      }
    }
    return lines;
  }
};

// Each image's tag, as the first and second groups of `entry` match in `text`.
std::map<std::string, std::string> tags_matching(const std::string& text, const std::regex& entry) {
  std::map<std::string, std::string> tags;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry);
       it != std::sregex_iterator(); ++it) {
    tags[(*it)[1].str()] = (*it)[2].str();
  }
  return tags;
}

// The tag each image has in a kustomization's text.
std::map<std::string, std::string> tags_in(const std::string& kustomization) {
  return tags_matching(kustomization,
                       std::regex("name: ghcr.io/acme/(img[0-9]+)\n    newTag: ([0-9.]+)\n"));
}

// The image lines of a promote commit's message ("img0: ghcr.io/acme/img0:2.0.0"), as tags.
std::map<std::string, std::string> tags_in_message(const std::string& message) {
  return tags_matching(message, std::regex("(img[0-9]+): ghcr\\.io/acme/img[0-9]+:([0-9.]+)\n"));
}

std::string trailer(const std::string& message, const std::string& name) {
  const auto at = message.find("\n" + name + ": ");
  if (at == std::string::npos) {
    return "";
  }
  const auto start = at + name.size() + 3;
  return message.substr(start, message.find('\n', start) - start);
}

// Holds the lock of the file `path` as another promote would (a POSIX record lock on the
// whole file) while it lives.
struct HeldLock {
  int fd;
  explicit HeldLock(const fs::path& path)
      : fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
    REQUIRE(fd >= 0);
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    REQUIRE(::fcntl(fd, F_SETLK, &lock) == 0);
  }
  ~HeldLock() { ::close(fd); }
};

// Starts promote in `cwd` with `env` added, its stdout and stderr into `out` and `err`; the
// caller waits for it (waitpid).
pid_t start_promote(const std::vector<std::string>& args, const fs::path& cwd,
                    const std::map<std::string, std::string>& env, const fs::path& out,
                    const fs::path& err) {
  std::vector<std::string> argv = {promote::test::promote_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& arg : argv) {
    pointers.push_back(arg.data());
  }
  pointers.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls and exec from here on, but setenv: the child is one thread.
    for (const auto& [name, value] : env) {
      value.empty() ? ::unsetenv(name.c_str()) : ::setenv(name.c_str(), value.c_str(), 1);
    }
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out_fd < 0 || err_fd < 0 || ::chdir(cwd.c_str()) != 0) {
      ::_exit(127);
    }
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("8 promotions at once in one checkout behind a slow gate: every commit holds what "
            "its message, trailers and history row say, and the checkout stays clean") {
    Busy busy;
    // Runners 0 to 5 set image k to 2.0.k; runners 6 and 7 set img0 too (3.0.6, 3.0.7).
    std::vector<std::vector<std::string>> runs;
    for (int k = 0; k < 8; ++k) {
      const std::string image = "img" + std::to_string(k < k_images ? k : 0);
      const std::string tag = (k < k_images ? "2.0." : "3.0.") + std::to_string(k);
      runs.push_back({"--to", "dev", "--image", image + "=ghcr.io/acme/" + image + ":" + tag,
                      "--output", "json"});
    }
    const std::vector<CommandResult> results = busy.at_once(runs);
    std::set<std::string> promoted;  // the commits of the runs that promoted
    for (std::size_t k = 0; k < results.size(); ++k) {
      INFO("runner " << k << ": exit " << results[k].exit_code << "\n"
                     << results[k].out << results[k].err);
      const auto doc = nlohmann::json::parse(results[k].out);
      if (doc["outcome"] == "promoted") {
        CHECK(results[k].exit_code == 0);
        promoted.insert(doc["commit"].get<std::string>());
      } else {
        // Only the runs that set img0 race each other: the later ones find img0 changed.
        CHECK((k == 0 || k >= k_images));
        CHECK(results[k].exit_code == 4);
        CHECK(doc["error"]["kind"] == "conflict");
        CHECK(contains(doc["error"]["message"].get<std::string>(),
                       "stage 'dev': image img0 is now ghcr.io/acme/img0:"));
      }
      if (k >= 1 && k < static_cast<std::size_t>(k_images)) {
        CHECK(doc["outcome"] == "promoted");
      }
    }
    CHECK(promoted.size() >= k_images);

    // Every promote commit on the remote: its files hold exactly what its message names, and
    // its history row says the same (candidate, commit, images).
    const auto history = nlohmann::json::parse(
        busy.promote({"history", "--limit", "0", "--output", "json"}).out);
    std::map<std::string, nlohmann::json> rows;
    for (const auto& row : history) {
      rows[row["id"].get<std::string>()] = row;
    }
    std::set<std::string> on_remote;
    std::istringstream log(busy.remote("log --format=%H main"));
    for (std::string commit; std::getline(log, commit);) {
      const std::string message = busy.remote("log -1 --format=%B " + commit);
      const std::string id = trailer(message, "Promote-Id");
      if (id.empty()) {
        continue;
      }
      on_remote.insert(commit);
      INFO("commit " << commit << ":\n" << message);
      const auto files = tags_in(busy.remote("show " + commit + ":overlays/dev/kustomization.yaml"));
      CHECK(files.size() == k_images);
      CHECK(tags_in_message(message) == files);
      REQUIRE(rows.contains(id));
      const nlohmann::json& row = rows[id];
      CHECK(row["outcome"] == "promoted");
      CHECK(row["commit"] == commit);
      CHECK(row["candidate_id"] == trailer(message, "Promote-Candidate"));
      std::map<std::string, std::string> recorded;
      for (const auto& [name, reference] : row["images"].items()) {
        const std::string text = reference.get<std::string>();
        recorded[name] = text.substr(text.rfind(':') + 1);
      }
      CHECK(recorded == files);
    }
    CHECK(on_remote == promoted);
    std::size_t promoted_rows = 0;
    for (const auto& row : history) {
      promoted_rows += row["outcome"] == "promoted" ? 1 : 0;
    }
    CHECK(promoted_rows == promoted.size());

    // The checkout is clean, on the remote's head, and the next promotion works.
    CHECK(sh("git status --porcelain", busy.repo) == "");
    CHECK(sh("git rev-parse HEAD", busy.repo) == busy.remote("rev-parse main"));
    const CommandResult next =
        busy.promote({"--to", "dev", "--image", "img5=ghcr.io/acme/img5:9.9.9", "--output", "json"});
    INFO(next.out << next.err);
    CHECK(next.exit_code == 0);
    CHECK(nlohmann::json::parse(next.out)["outcome"] == "promoted");
    CHECK(sh("git status --porcelain", busy.repo) == "");
  }

  TEST_CASE("12 approvals and rejections at once, twice: every record of the history reaches "
            "the remote's notes, once") {
    Busy busy;
    std::vector<std::string> actors;
    std::vector<std::vector<std::string>> runs;
    for (int k = 0; k < 12; ++k) {
      actors.push_back("reviewer" + std::to_string(k));
      runs.push_back({k % 3 == 2 ? "reject" : "approve", "--stage", "staging", "--reason",
                      "look " + std::to_string(k)});
    }
    for (int round = 0; round < 2; ++round) {
      for (const CommandResult& result : busy.at_once(runs, actors)) {
        INFO(result.out << result.err);
        CHECK(result.exit_code == 0);
      }
    }
    // The next writing command carries whatever an earlier one could not push.
    const CommandResult hold = busy.promote({"hold", "--stage", "staging", "--reason", "freeze"});
    INFO(hold.out << hold.err);
    REQUIRE(hold.exit_code == 0);

    const CommandResult rows = promote::test::run(
        {"sqlite3", (busy.repo / ".promote/history.db").string(),
         "SELECT actor || '|' || decision || '|' || reason || '|' || at FROM approvals"});
    REQUIRE(rows.exit_code == 0);
    std::multiset<std::string> in_history;
    std::istringstream lines(rows.out);
    for (std::string line; std::getline(lines, line);) {
      in_history.insert(line);
    }
    CHECK(in_history.size() == 24);
    std::multiset<std::string> in_notes;
    std::size_t holds = 0;
    for (const auto& line : busy.remote_notes()) {
      if (line.contains("approval")) {
        const auto& a = line["approval"];
        in_notes.insert(a["actor"].get<std::string>() + "|" + a["decision"].get<std::string>() +
                        "|" + a["reason"].get<std::string>() + "|" + a["at"].get<std::string>());
      }
      holds += line.contains("hold") ? 1 : 0;
    }
    CHECK(in_notes == in_history);
    CHECK(holds == 1);
  }

  TEST_CASE("records whose notes could not be pushed are pushed by the next writing command, "
            "once; so are notes lost from the remote") {
    Busy busy;
    REQUIRE(busy.promote({"--to", "dev", "--image", "img0=ghcr.io/acme/img0:2.0.0"}).exit_code == 0);
    // The remote is out of reach: the records go to the history, with a warning.
    sh("git remote set-url origin ../gone.git", busy.repo);
    const CommandResult approve =
        busy.promote({"approve", "--stage", "staging", "--reason", "looks fine"});
    CHECK(approve.exit_code == 0);
    CHECK(contains(approve.err, "promote: warning: the record was not written to the git notes "
                                "(refs/notes/promote): "));
    CHECK(contains(approve.err, "; the next command that writes pushes it from the history\n"));
    CHECK(busy.promote({"hold", "--stage", "staging", "--reason", "freeze"}).exit_code == 0);
    sh("git remote set-url origin ../remote.git", busy.repo);
    const auto kinds = [&] {
      std::map<std::string, int> count;
      for (const auto& line : busy.remote_notes()) {
        count[line.begin().key()] += 1;
      }
      return count;
    };
    CHECK(kinds() == std::map<std::string, int>{{"promotion", 1}});
    // The next writer carries them.
    const CommandResult next =
        busy.promote({"--to", "dev", "--image", "img1=ghcr.io/acme/img1:2.0.1"});
    INFO(next.out << next.err);
    REQUIRE(next.exit_code == 0);
    CHECK(kinds() == std::map<std::string, int>{{"approval", 1}, {"hold", 1}, {"promotion", 2}});
    // Notes lost on both sides: history sync pushes every record again, once.
    sh("git update-ref -d refs/notes/promote && git --git-dir=../remote.git update-ref -d "
       "refs/notes/promote",
       busy.repo);
    const CommandResult sync = busy.promote({"history", "sync"});
    INFO(sync.out << sync.err);
    CHECK(sync.exit_code == 0);
    CHECK(contains(sync.out, "; pushed 4 records the notes lacked\n"));
    CHECK(kinds() == std::map<std::string, int>{{"approval", 1}, {"hold", 1}, {"promotion", 2}});
    CHECK(busy.promote({"history", "sync"}).out.find("pushed") == std::string::npos);
    // Lost again: the next approval sees that the notes are not those it last pushed to.
    sh("git update-ref -d refs/notes/promote && git --git-dir=../remote.git update-ref -d "
       "refs/notes/promote",
       busy.repo);
    CHECK(busy.promote({"approve", "--stage", "staging", "--reason", "again"}).exit_code == 0);
    CHECK(kinds() == std::map<std::string, int>{{"approval", 2}, {"hold", 1}, {"promotion", 2}});
  }

  TEST_CASE("8 holds of one stage at once: one holds it, the others are told it is held") {
    Busy busy;
    std::vector<std::vector<std::string>> runs(8, {"hold", "--stage", "dev", "--reason", "freeze"});
    int held = 0;
    for (const CommandResult& result : busy.at_once(runs)) {
      INFO(result.out << result.err);
      if (result.exit_code == 0) {
        ++held;
      } else {
        CHECK(result.exit_code == 2);
        CHECK(contains(result.err, "stage dev is already held by deploy-ci since "));
      }
    }
    CHECK(held == 1);
    std::size_t holds = 0;
    for (const auto& line : busy.remote_notes()) {
      holds += line.contains("hold") ? 1 : 0;
    }
    CHECK(holds == 1);
  }

  TEST_CASE("a writer waits for the one holding the checkout's lock, up to "
            "PROMOTE_LOCK_TIMEOUT, then fails saying who holds it; nothing changes") {
    Busy busy;
    // A dry run creates nothing for its lock where there is no history yet.
    CHECK(busy.promote({"--to", "dev", "--image", "img1=ghcr.io/acme/img1:2.0.1", "--dry-run"})
              .exit_code == 0);
    CHECK(!fs::exists(busy.repo / ".promote"));
    const std::string head = busy.remote("rev-parse main");
    const fs::path lock = busy.repo / ".git/promote.lck";
    const std::string pid = std::to_string(::getpid());
    {
      const HeldLock held(lock);
      const CommandResult waited =
          busy.promote({"--to", "dev", "--image", "img1=ghcr.io/acme/img1:2.0.1"},
                       {{"PROMOTE_LOCK_TIMEOUT", "1"}});
      INFO(waited.err);
      CHECK(waited.exit_code == 4);
      CHECK(contains(waited.err,
                     "promote: waiting for another promote writing in this checkout (pid " + pid +
                         "), at most 1s\n"));
      CHECK(contains(waited.err, "promote: gave up after 1s waiting for another promote (pid " +
                                     pid + ") writing in this checkout (" +
                                     lock.string() +
                                     "); run again when it is done (PROMOTE_LOCK_TIMEOUT sets "
                                     "the wait)"));
      const CommandResult approve = busy.promote(
          {"approve", "--stage", "staging", "--reason", "ok"}, {{"PROMOTE_LOCK_TIMEOUT", "0"}});
      CHECK(approve.exit_code == 4);
      CHECK(contains(approve.err, "gave up after 0s waiting for another promote (pid " + pid + ")"));
      const CommandResult sync =
          busy.promote({"history", "sync"}, {{"PROMOTE_LOCK_TIMEOUT", "0"}});
      CHECK(sync.exit_code == 4);
    }
    CHECK(busy.remote("rev-parse main") == head);
    CHECK(sh("git status --porcelain", busy.repo) == "");
    CHECK(busy.remote_notes().empty());
    // The history database has a lock of its own, beside it.
    fs::create_directories(busy.repo / ".promote");
    {
      const HeldLock held(busy.repo / ".promote/history.db.lck");
      const CommandResult waited = busy.promote({"hold", "--stage", "dev", "--reason", "x"},
                                                {{"PROMOTE_LOCK_TIMEOUT", "0"}});
      CHECK(waited.exit_code == 4);
      CHECK(contains(waited.err, "gave up after 0s waiting for another promote (pid " + pid +
                                     ") writing to the history " +
                                     (busy.repo / ".promote/history.db").string()));
    }
    // Released: the next writer goes ahead at once.
    const CommandResult free = busy.promote({"--to", "dev", "--image", "img1=ghcr.io/acme/img1:2.0.1"},
                                            {{"PROMOTE_LOCK_TIMEOUT", "0"}});
    INFO(free.out << free.err);
    CHECK(free.exit_code == 0);
  }

  TEST_CASE("a target file written by something else between promote's write and its commit: "
            "no commit, a conflict, and that file left as the other writer left it") {
    Busy busy;
    const std::string head = busy.remote("rev-parse main");
    const fs::path out = busy.scratch.dir / "out";
    const fs::path err = busy.scratch.dir / "err";
    const pid_t pid = start_promote(
        {"--to", "dev", "--image", "img3=ghcr.io/acme/img3:2.0.3", "--output", "json"}, busy.repo,
        {{"PROMOTE_FAULT", "after-edit:stop"}, {"PROMOTE_ACTOR", "deploy-ci"},
         {"PROMOTE_HISTORY", ""}, {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}},
        out, err);
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);
    REQUIRE(WIFSTOPPED(status));
    // Stopped after writing its files, before its commit: someone edits the same file.
    const fs::path file = busy.repo / "overlays/dev/kustomization.yaml";
    std::string text = promote::test::read_text(file);
    REQUIRE(contains(text, "img3\n    newTag: 2.0.3\n"));
    text += "# edited by hand\n";
    promote::test::write_text(file, text);
    REQUIRE(::kill(pid, SIGCONT) == 0);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    INFO(promote::test::read_text(out) << promote::test::read_text(err));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 4);
    const auto doc = nlohmann::json::parse(promote::test::read_text(out));
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "conflict");
    CHECK(doc["error"]["message"] ==
          "cannot commit in " + fs::canonical(busy.repo).string() +
              ": 'overlays/dev/kustomization.yaml' does not hold what was written; something "
              "else wrote in the repository meanwhile");
    CHECK(promote::test::read_text(file) == text);
    CHECK(busy.remote("rev-parse main") == head);
    CHECK(sh("git rev-parse HEAD", busy.repo) == head);
  }

  TEST_CASE("a writer killed while it holds the lock does not block the next one") {
    Busy busy;
    const CommandResult killed =
        busy.promote({"--to", "dev", "--image", "img2=ghcr.io/acme/img2:2.0.2"},
                     {{"PROMOTE_FAULT", "after-commit"}});
    REQUIRE(killed.exit_code == 128 + 9);
    const CommandResult next =
        busy.promote({"--to", "dev", "--image", "img2=ghcr.io/acme/img2:2.0.2", "--output", "json"},
                     {{"PROMOTE_LOCK_TIMEOUT", "0"}});
    INFO(next.out << next.err);
    CHECK(next.exit_code == 0);
    CHECK(nlohmann::json::parse(next.out)["outcome"] == "promoted");
    CHECK(sh("git status --porcelain", busy.repo) == "");
  }
}
