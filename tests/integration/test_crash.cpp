// Crash safety end to end: the real promote binary killed with SIGKILL at each step of a
// promotion (the test-only fault hook, PROMOTE_FAULT) and at random moments (kill -9), then
// run again. After the rerun the remote branch, the working tree, the history and the git
// notes agree; no file is half-written or left behind; nothing is recorded that did not
// happen and nothing that happened is missing; `promote audit verify` passes.

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engine/util/fault.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
using json = nlohmann::json;
using test::CommandResult;
using test::sh;

bool hooks_built() {
  static const bool built = [] {
    if (!promote::util::fault_hooks_built()) {
      std::cerr << "crash tests skipped: promote is built without PROMOTE_FAULT_HOOKS "
                   "(configure with -DPROMOTE_FAULT_HOOKS=ON or -DBUILD_TESTING=ON)\n";
    }
    return promote::util::fault_hooks_built();
  }();
  return built;
}

using promote::test::contains;

std::string trim_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::string text_of(const json& value) { return value.is_string() ? value.get<std::string>() : ""; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

// Where promote works: the repository holding the pipeline file, a kept --workdir clone of
// a remote one, or a fresh temporary clone of it on every run.
enum class Mode { local, workdir, fresh };

const char* name_of(Mode mode) {
  switch (mode) {
    case Mode::local: return "local";
    case Mode::workdir: return "workdir";
    case Mode::fresh: return "fresh clone";
  }
  return "";
}

// A shop, and promote run on it in one of the modes; temporary clones go to a directory of
// the test's own (TMPDIR), so that none left behind goes unnoticed.
struct Rig {
  test::Shop shop;
  Mode mode;
  fs::path ci = shop.dir / "ci";
  fs::path kept = shop.dir / "kept";
  fs::path tmp = shop.dir / "tmp";

  explicit Rig(Mode chosen) : mode(chosen) {
    fs::create_directories(tmp);
    if (mode != Mode::local) {
      std::string pipeline = test::read_text(shop.repo / "promote.yaml");
      pipeline.replace(pipeline.find("  url: ."), 8, "  url: " + shop.remote.string());
      fs::create_directories(ci);
      test::write_text(ci / "promote.yaml", pipeline);
      fs::copy(shop.repo / "reports", ci / "reports", fs::copy_options::recursive);
    }
  }

  fs::path cwd() const { return mode == Mode::local ? shop.repo : ci; }
  fs::path history() const { return cwd() / ".promote/history.db"; }

  std::map<std::string, std::string> environment(
      const std::map<std::string, std::string>& extra = {}) const {
    std::map<std::string, std::string> env = {
        {"GITHUB_ACTOR", ""}, {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_ACTOR", "shop-ci"},
        {"PROMOTE_HISTORY", ""}, {"NO_COLOR", "1"},       {"GITHUB_ACTIONS", ""},
        {"GITLAB_CI", ""},       {"PROMOTE_FAULT", ""},    {"TMPDIR", tmp.string()}};
    for (const auto& [key, value] : extra) {
      env[key] = value;
    }
    return env;
  }

  // The argv of a promotion (with --workdir in that mode).
  std::vector<std::string> promotion(std::vector<std::string> args) const {
    args.insert(args.begin(), test::promote_binary().string());
    if (mode == Mode::workdir) {
      args.push_back("--workdir");
      args.push_back(kept.string());
    }
    return args;
  }

  CommandResult promote_to(const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env = {}) const {
    return test::run(promotion(args), cwd(), environment(env));
  }

  CommandResult command(std::vector<std::string> args) const {
    args.insert(args.begin(), test::promote_binary().string());
    return test::run(args, cwd(), environment());
  }

  // The working copy promote left (none for fresh clones).
  std::optional<fs::path> worktree() const {
    if (mode == Mode::local) {
      return shop.repo;
    }
    if (mode == Mode::workdir) {
      return kept;
    }
    return std::nullopt;
  }
};

std::string remote_git(const Rig& rig, const std::string& args) {
  return trim_end(sh("git --git-dir=remote.git " + args, rig.shop.dir.path()));
}

// Every invariant a crash must not break; `what` names the case in the failure messages.
void check_converged(const Rig& rig, const std::string& what) {
  INFO(what);
  const std::string head = remote_git(rig, "rev-parse main");

  // The working copy is at the remote's head, clean, with no temporary file.
  if (const auto tree = rig.worktree()) {
    CHECK(trim_end(sh("git rev-parse HEAD", *tree)) == head);
    CHECK(sh("git status --porcelain --untracked-files=all", *tree) == "");
  }
  for (const fs::path& dir : {rig.shop.repo, rig.kept, rig.ci}) {
    if (fs::exists(dir)) {
      CHECK(sh("find . -name '*.promote-*.tmp' -o -name '*.lock' -path './.git/*'", dir) == "");
    }
  }
  CHECK(sh("ls -A '" + rig.tmp.string() + "' | grep -v '^promote-workdir-.*\\.lock$' || true") ==
        "");
  const fs::path journal = rig.history().string() + ".pending";
  CHECK((!fs::exists(journal) || fs::is_empty(journal)));

  // A fresh clone of the remote has what its promote commits say.
  sh("rm -rf fresh && git clone -q remote.git fresh", rig.shop.dir.path());
  if (const auto tree = rig.worktree()) {
    for (const std::string stage : {"dev", "staging", "prod"}) {
      const std::string file = "k8s/overlays/" + stage + "/kustomization.yaml";
      CHECK(test::read_text(*tree / file) == test::read_text(rig.shop.dir / "fresh" / file));
    }
  }

  // Promote commits on the remote branch, by promotion id.
  std::map<std::string, std::string> pushed;
  for (const auto& line :
       lines_of(remote_git(rig, "log --format='%H %(trailers:key=Promote-Id,valueonly,separator=)' main"))) {
    const auto space = line.find(' ');
    if (space != std::string::npos && space + 1 < line.size()) {
      pushed[line.substr(space + 1)] = line.substr(0, space);
    }
  }

  // The history: every promoted row is a commit on the remote, and every promote commit on
  // the remote is a promoted row.
  const CommandResult listed = rig.command({"history", "--limit", "0", "--output", "json"});
  REQUIRE(listed.exit_code == 0);
  const json rows = json::parse(listed.out);
  std::map<std::string, std::pair<std::string, std::string>> recorded;  // id -> outcome, commit
  for (const auto& row : rows) {
    recorded[row["id"]] = {row["outcome"], text_of(row["commit"])};
    if (row["outcome"] == "promoted") {
      const auto found = pushed.find(row["id"]);
      CHECK_MESSAGE(found != pushed.end(),
                    "promoted row " << row["id"] << " has no commit on the remote");
      if (found != pushed.end()) {
        CHECK(row["commit"] == found->second);
      }
    }
  }
  for (const auto& [id, commit] : pushed) {
    const auto found = recorded.find(id);
    const auto& case_id = id;  // clang 14 cannot capture a structured binding
    CHECK_MESSAGE(found != recorded.end(),
                  "pushed promotion " << case_id << " is not in the history");
    if (found != recorded.end()) {
      CHECK(found->second.first == "promoted");
    }
  }

  // The notes on the remote hold exactly the history's promotions, once each.
  std::map<std::string, std::pair<std::string, std::string>> noted;
  std::size_t lines = 0;
  const std::string notes = sh(
      "git --git-dir=remote.git notes --ref=promote list | while read n c; do "
      "git --git-dir=remote.git notes --ref=promote show $c; done",
      rig.shop.dir.path());
  for (const auto& line : lines_of(notes)) {
    const json record = json::parse(line);
    if (record.contains("promotion")) {
      ++lines;
      const json& promotion = record["promotion"];
      noted[promotion["id"]] = {promotion["outcome"], text_of(promotion["commit"])};
    }
  }
  CHECK(lines == noted.size());
  CHECK(noted == recorded);

  const CommandResult verified = rig.command({"audit", "verify"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

// How many rows of the history have this outcome.
std::size_t rows_with(const Rig& rig, const std::string& outcome) {
  const json rows = json::parse(rig.command({"history", "--limit", "0", "--output", "json"}).out);
  std::size_t count = 0;
  for (const auto& row : rows) {
    count += row["outcome"] == outcome ? 1 : 0;
  }
  return count;
}

// The crash points of a commit promotion, in order, and whether the push had reached the
// remote when each is passed.
const std::vector<std::pair<std::string, bool>> k_points = {
    {"after-edit", false},      {"after-commit", false}, {"after-push", true},
    {"before-note-push", true}, {"after-note", true},    {"after-history", true}};

// Starts argv (no shell) in `cwd` with `env` set ("" unsets), returning its pid.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& cwd,
            const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> all;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto equals = text.find('=');
    if (equals != std::string::npos) {
      all[text.substr(0, equals)] = text.substr(equals + 1);
    }
  }
  for (const auto& [key, value] : env) {
    if (value.empty()) {
      all.erase(key);
    } else {
      all[key] = value;
    }
  }
  std::vector<std::string> texts;
  for (const auto& [key, value] : all) {
    texts.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& text : texts) {
    envp.push_back(text.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& arg : args) {
    argp.push_back(arg.data());
  }
  argp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (::chdir(cwd.c_str()) != 0) {
      ::_exit(127);
    }
    ::execve(argp[0], argp.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// GitHub's pulls API for acme/deploy, as much of it as opening and updating one pull request
// takes: list the open ones, create, update, read.
class PullsApi {
 public:
  static constexpr const char* k_token = "tok-crash-51d0c2";

  PullsApi() {
    const std::string pulls = "/repos/acme/deploy/pulls";
    route("GET", pulls, [this](const test::ApiRequest& request, const json&) {
      json items = json::array();
      for (const json& pr : m_prs) {
        if (pr["state"] == "open" && (request.query_value("head").empty() ||
                                      "acme:" + pr["head"]["ref"].get<std::string>() ==
                                          request.query_value("head"))) {
          items.push_back(pr);
        }
      }
      return test::json_reply(200, items.dump());
    });
    route("POST", pulls, [this](const test::ApiRequest&, const json& body) {
      for (const json& pr : m_prs) {
        if (pr["state"] == "open" && pr["head"]["ref"] == body.value("head", "")) {
          return test::json_reply(422, R"({"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists."}]})");
        }
      }
      const std::size_t number = m_prs.size() + 1;
      m_prs.push_back({{"number", number},
                       {"html_url", "https://github.example/acme/deploy/pull/" + std::to_string(number)},
                       {"state", "open"},
                       {"merged", false},
                       {"merged_at", nullptr},
                       {"title", body.value("title", "")},
                       {"body", body.value("body", "")},
                       {"head", {{"ref", body.value("head", "")}, {"label", "acme:" + body.value("head", "")},
                                 {"repo", {{"full_name", "acme/deploy"}}}}},
                       {"base", {{"ref", body.value("base", "")}, {"repo", {{"full_name", "acme/deploy"}}}}}});
      return test::json_reply(201, m_prs.back().dump());
    });
    const auto one = [this](const test::ApiRequest& request, const json& body) {
      const std::size_t number = std::stoul(request.params.at(0));
      if (number == 0 || number > m_prs.size()) {
        return test::json_reply(404, R"({"message":"Not Found"})");
      }
      json& pr = m_prs[number - 1];
      for (const char* key : {"title", "body", "state"}) {
        if (body.is_object() && body.contains(key)) {
          pr[key] = body[key];
        }
      }
      return test::json_reply(200, pr.dump());
    };
    route("PATCH", pulls + "/*", one);
    route("GET", pulls + "/*", one);
  }

  std::vector<json> prs() const {
    std::lock_guard lock(m_mutex);
    return m_prs;
  }
  std::size_t created() const { return server.requests("POST", "/repos/acme/deploy/pulls").size(); }

  test::HttpsApi server;

 private:
  void route(const std::string& method, const std::string& path,
             std::function<test::ApiReply(const test::ApiRequest&, const json&)> handler) {
    server.route(method, path, [this, handler](const test::ApiRequest& request) {
      std::lock_guard lock(m_mutex);
      if (request.header("Authorization") != std::string("Bearer ") + k_token) {
        return test::json_reply(401, R"({"message":"Bad credentials"})");
      }
      return handler(request, json::parse(request.body.empty() ? "null" : request.body, nullptr, false));
    });
  }

  mutable std::mutex m_mutex;
  std::vector<json> m_prs;
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a pull-request promotion killed around its branch push and pull request converges "
            "when run again" * doctest::skip(!hooks_built())) {
    for (const std::string point : {"pr-after-push", "pr-after-create"}) {
      INFO("killed at " << point);
      PullsApi api;
      Rig rig(Mode::local);
      std::string pipeline = test::read_text(rig.shop.repo / "promote.yaml");
      pipeline.replace(pipeline.find("  branch: main\n"), 15,
                       "  branch: main\n  provider: github\n  api: " + api.server.url() +
                           "\n  project: acme/deploy\n");
      pipeline.replace(pipeline.find("      kustomize: k8s/overlays/dev\n"), 34,
                       "      kustomize: k8s/overlays/dev\n    strategy: pull-request\n");
      test::write_text(rig.shop.repo / "promote.yaml", pipeline);
      sh("git commit -qam 'dev by pull request' && git push -q origin main", rig.shop.repo);
      const std::map<std::string, std::string> env = {
          {"GITHUB_TOKEN", PullsApi::k_token}, {"PROMOTE_FORGE_TOKEN", ""},
          {"PROMOTE_CA_FILE", api.server.ca_file()}, {"HTTPS_PROXY", ""}, {"https_proxy", ""}};
      std::map<std::string, std::string> crash_env = env;
      crash_env["PROMOTE_FAULT"] = point;
      const std::vector<std::string> args = {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0",
                                             "--output", "json"};
      const std::string main_before = remote_git(rig, "rev-parse main");
      const CommandResult crashed = rig.promote_to(args, crash_env);
      INFO(crashed.err);
      REQUIRE(crashed.exit_code == 128 + SIGKILL);
      const std::string branch_before =
          remote_git(rig, "for-each-ref --format='%(refname:short) %(objectname)' refs/heads/promote");
      CHECK(contains(branch_before, "promote/dev/"));
      CHECK(api.created() == (point == "pr-after-create" ? 1u : 0u));

      const CommandResult rerun = rig.promote_to(args, env);
      INFO(rerun.err);
      REQUIRE(rerun.exit_code == 0);
      const json doc = json::parse(rerun.out);
      CHECK(doc["outcome"] == "proposed");
      // One pull request, open, for the one branch, whose commit the rerun kept as it was.
      const auto prs = api.prs();
      REQUIRE(prs.size() == 1);
      CHECK(prs[0]["state"] == "open");
      CHECK(doc["pull_request"] == prs[0]["html_url"]);
      CHECK(remote_git(rig, "for-each-ref --format='%(refname:short) %(objectname)' refs/heads/promote") ==
            branch_before);
      // main is untouched; the history and the notes hold the one proposal.
      CHECK(remote_git(rig, "rev-parse main") == main_before);
      CHECK(rows_with(rig, "proposed") == 1);
      check_converged(rig, point);
    }
  }

  TEST_CASE("promote killed at each step of a promotion converges when run again" *
            doctest::skip(!hooks_built())) {
    const std::vector<std::string> args = {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"};
    for (const Mode mode : {Mode::local, Mode::workdir, Mode::fresh}) {
      for (const auto& [point, pushed] : k_points) {
        const std::string what = std::string(name_of(mode)) + ", killed at " + point;
        INFO(what);
        Rig rig(mode);
        const std::string before = remote_git(rig, "rev-parse main");
        const CommandResult crashed = rig.promote_to(args, {{"PROMOTE_FAULT", point}});
        INFO(crashed.err);
        REQUIRE(crashed.exit_code == 128 + SIGKILL);
        CHECK((remote_git(rig, "rev-parse main") != before) == pushed);

        std::vector<std::string> again = args;
        again.insert(again.end(), {"--output", "json"});
        const CommandResult rerun = rig.promote_to(again);
        INFO(rerun.err);
        REQUIRE(rerun.exit_code == 0);
        const json doc = json::parse(rerun.out);
        CHECK(doc["outcome"] == (pushed ? "no-op" : "promoted"));
        const std::string warnings = doc["warnings"].dump();
        CHECK(contains(warnings, pushed ? "was interrupted after its push reached origin/main"
                                        : "was interrupted before its push reached origin/main"));
        CHECK(contains(remote_git(rig, "show main:k8s/overlays/dev/kustomization.yaml"),
                       "newTag: 1.5.0"));
        // Exactly one promotion into dev: the interrupted one when its push landed (recovered),
        // else the rerun; the interrupted one is not recorded when it did not land.
        CHECK(rows_with(rig, "promoted") == 1);
        CHECK(rows_with(rig, "no-op") == (pushed ? 1 : 0));
        CHECK(remote_git(rig, "rev-list --count " + before + "..main") == "1");
        check_converged(rig, what);

        // And the next promotion goes through as usual.
        const CommandResult next =
            rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.1"});
        INFO(next.err);
        CHECK(next.exit_code == 0);
        CHECK(!contains(next.out + next.err, "interrupted"));
        check_converged(rig, what + ", then one more promotion");
      }
    }
  }

  TEST_CASE("lock files a killed push left in a remote on this machine are removed by the next run") {
    // promote moves the refs of a remote on this machine itself (under git's ref lock); a run
    // killed while it held the lock of the branch or of the notes leaves it behind, and every
    // later push would be refused as if the remote had moved on (found by the kill -9 loop).
    for (const Mode mode : {Mode::local, Mode::workdir, Mode::fresh}) {
      INFO(name_of(mode));
      Rig rig(mode);
      REQUIRE(rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}).exit_code == 0);
      const std::string main_id = remote_git(rig, "rev-parse main");
      const std::string notes_id = remote_git(rig, "rev-parse refs/notes/promote");
      test::write_text(rig.shop.remote / "refs/heads/main.lock", main_id + "\n");
      test::write_text(rig.shop.remote / "refs/notes/promote.lock", notes_id + "\n");
      const CommandResult next =
          rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.1", "--output", "json"});
      INFO(next.err);
      REQUIRE(next.exit_code == 0);
      const std::string warnings = json::parse(next.out)["warnings"].dump();
      CHECK(contains(warnings, "refs/heads/main.lock of origin, left by a git writer that is gone"));
      CHECK(contains(warnings, "refs/notes/promote.lock of origin"));
      CHECK(!fs::exists(rig.shop.remote / "refs/heads/main.lock"));
      CHECK(contains(remote_git(rig, "show main:k8s/overlays/dev/kustomization.yaml"),
                     "newTag: 1.5.1"));
      check_converged(rig, std::string(name_of(mode)) + ", stale remote locks");
    }
  }

  TEST_CASE("a crashed run's journal is left alone while its process lives" *
            doctest::skip(!hooks_built())) {
    Rig rig(Mode::fresh);
    // A journal entry owned by this (living) test process: no run may settle it.
    const fs::path journal = rig.history().string() + ".pending";
    REQUIRE(rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"},
                           {{"PROMOTE_FAULT", "after-push"}})
                .exit_code == 128 + SIGKILL);
    const fs::path entry = fs::directory_iterator(journal)->path();
    json text = json::parse(test::read_text(entry));
    const std::string stat = test::read_text("/proc/self/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {
      fields >> field;
    }
    text["pid"] = ::getpid();
    text["start"] = field;
    test::write_text(entry, text.dump());
    const CommandResult other =
        rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"});
    CHECK(other.exit_code == 0);
    CHECK(!contains(other.out + other.err, "interrupted"));
    CHECK(fs::exists(entry));
    // Once its owner is gone (another pid), the next run settles it.
    text["pid"] = 999999999;
    test::write_text(entry, text.dump());
    const CommandResult settled = rig.promote_to({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"});
    CHECK(settled.exit_code == 0);
    CHECK(contains(settled.out + settled.err, "was interrupted after its push"));
    check_converged(rig, "after the owner is gone");
  }

  TEST_CASE("promote killed with kill -9 at random moments converges when run again" *
            doctest::skip(!hooks_built())) {
    int iterations = 25;
    if (const char* given = std::getenv("PROMOTE_CRASH_ITERATIONS")) {
      iterations = std::max(1, std::atoi(given));
    }
    std::uint64_t seed = std::random_device{}();
    if (const char* given = std::getenv("PROMOTE_CRASH_SEED")) {
      seed = std::strtoull(given, nullptr, 10);
    }
    INFO("PROMOTE_CRASH_SEED=" << seed);
    std::mt19937_64 random(seed);
    std::vector<std::unique_ptr<Rig>> rigs;
    for (const Mode mode : {Mode::local, Mode::workdir, Mode::fresh}) {
      rigs.push_back(std::make_unique<Rig>(mode));
    }
    // How long an unkilled promotion takes, per rig: kills land within it.
    std::vector<long> typical_ms(rigs.size(), 300);
    int killed = 0;
    int landed = 0;
    int before_push = 0;
    int after_push = 0;
    for (int i = 0; i < iterations; ++i) {
      Rig& rig = *rigs[i % rigs.size()];
      const std::string tag = i % 2 == 0 ? "1.6.0" : "1.6.1";
      const std::vector<std::string> args = {"--to", "dev", "--image", "api=ghcr.io/acme/api:" + tag};
      const std::string what = std::string(name_of(rig.mode)) + ", iteration " + std::to_string(i);
      INFO(what);
      const bool kill_it = std::uniform_int_distribution<int>(0, 99)(random) < 60;
      const auto started = std::chrono::steady_clock::now();
      const pid_t pid = spawn(rig.promotion(args), rig.cwd(), rig.environment());
      REQUIRE(pid > 0);
      if (kill_it) {
        ++killed;
        const long delay = std::uniform_int_distribution<long>(0, typical_ms[i % rigs.size()])(random);
        // The random moment of the kill is the point of the test: this sleep is the delay.
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        ::kill(pid, SIGKILL);
      }
      int status = 0;
      REQUIRE(::waitpid(pid, &status, 0) == pid);
      const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      if (!was_killed) {
        CHECK_MESSAGE(WIFEXITED(status), what);
        CHECK_MESSAGE(WEXITSTATUS(status) == 0, what);
        typical_ms[i % rigs.size()] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count();
        continue;
      }
      ++landed;
      std::vector<std::string> again = args;
      again.insert(again.end(), {"--output", "json"});
      const CommandResult rerun = rig.promote_to(again);
      INFO(rerun.err);
      REQUIRE(rerun.exit_code == 0);
      const std::string warnings = json::parse(rerun.out)["warnings"].dump();
      before_push += contains(warnings, "interrupted before its push") ? 1 : 0;
      after_push += contains(warnings, "interrupted after its push") ? 1 : 0;
      CHECK(contains(remote_git(rig, "show main:k8s/overlays/dev/kustomization.yaml"),
                     "newTag: " + tag));
      check_converged(rig, what);
    }
    for (const auto& rig : rigs) {
      check_converged(*rig, std::string(name_of(rig->mode)) + ", at the end");
    }
    MESSAGE("kill -9 loop (seed " << seed << "): " << iterations << " promotions, " << killed
                                  << " kills sent, " << landed << " landed (" << before_push
                                  << " before the push, " << after_push
                                  << " after it, the rest before any journal)");
  }
}
