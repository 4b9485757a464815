// Hostile external gates through the real binary: a plugin that prints invalid JSON, a
// response of hundreds of MB, never exits, prints NUL bytes or invalid UTF-8, an unknown
// status or wrong types, exits non-zero, closes its stdin at once or leaves a child
// holding its pipes. Each is an `error` verdict that says what went wrong, exit 4, within
// an address-space limit of 1 GiB, with the plugin's processes gone and nothing changed
// in the work tree or the remote (the history gains the attempt, as for every promotion).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
namespace test = promote::test;
using json = nlohmann::json;
using test::CommandResult;
using test::sh;
using test::write_text;

namespace {

using promote::test::k_examples;
// The cap on a plugin run's address space (not set in the sanitized build).
[[maybe_unused]] constexpr const char* k_address_space_kib = "1048576";  // 1 GiB

using promote::test::contains;

// Whether process `pid` has ended (gone, or a zombie) within five seconds: a bounded wait
// on a pidfd, not a sleep.
bool process_ends(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    return errno == ESRCH;
  }
  pollfd entry{fd, POLLIN, 0};
  const bool ended = ::poll(&entry, 1, 5000) == 1;
  ::close(fd);
  return ended;
}

// The demo repository with a local bare remote and a staging stage judged by one external
// gate, `promote-gate-hostile`, found on PATH in a directory outside the repository.
struct Hostile {
  test::TempDir dir;
  fs::path repo = dir / "repo";
  fs::path bin = dir / "bin";
  fs::path pids = dir / "pids";

  Hostile() {
    fs::create_directories(bin);
    fs::create_directories(pids);
    sh("git init -q --bare -b main remote.git && mkdir repo && cp -r '" + k_examples +
           "/k8s' repo/",
       dir.path());
    write_text(repo / "promote.yaml", R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: hostile}
repository: {url: ., branch: main}
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: dev
    target: {kustomize: k8s/overlays/dev}
  - name: staging
    from: dev
    target: {kustomize: k8s/overlays/staging}
    gates:
      - use: hostile
        timeout: 2s
)");
    sh("cd repo && git init -q -b main && git config user.name CI && "
       "git config user.email ci@example.org && printf '.promote/\\n' > .gitignore && "
       "git add -A && git commit -q -m init && git remote add origin ../remote.git && "
       "git push -q -u origin main",
       dir.path());
  }

  void plugin(const std::string& body) const {
    const fs::path program = bin / "promote-gate-hostile";
    write_text(program, "#!/bin/sh\n" + body);
    fs::permissions(program, fs::perms::owner_all);
  }

  // promote --to staging --output json, under an address-space limit.
  CommandResult promote() const {
    const std::vector<std::string> argv = {
#ifdef PROMOTE_SANITIZED  // ASan reserves more address space than any cap allows
        "/bin/sh", "-c", "exec \"$0\" \"$@\"",
#else
        "/bin/sh", "-c", std::string("ulimit -v ") + k_address_space_kib + " && exec \"$0\" \"$@\"",
#endif
        test::promote_binary().string(), "--to", "staging", "--output", "json"};
    return test::run(argv, repo,
                     {{"PATH", bin.string() + ":/usr/local/bin:/usr/bin:/bin"},
                      {"PROMOTE_ACTOR", "ci"}, {"PROMOTE_HISTORY", ""}, {"NO_COLOR", "1"},
                      {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}});
  }

  // What must not change: HEAD, the work tree and the remote's branch.
  std::string state() const {
    return sh("git rev-parse HEAD && git status --porcelain --untracked-files=all -- . "
              "':!.promote' && git ls-files -s && git --git-dir=../remote.git rev-parse main",
              repo);
  }

  std::vector<pid_t> recorded_pids() const {
    std::vector<pid_t> out;
    for (const auto& entry : fs::directory_iterator(pids)) {
      const std::string text = test::read_text(entry.path());
      if (!text.empty()) {
        out.push_back(static_cast<pid_t>(std::stol(text)));
      }
    }
    return out;
  }
};

struct Row {
  const char* name;
  std::string body;      // the plugin's script after #!/bin/sh
  std::string expected;  // part of the gate's summary
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a hostile plugin is an error verdict, exit 4, in bounded memory, changing nothing") {
    Hostile hostile;
    const std::string pids = hostile.pids.string();
    const std::vector<Row> rows = {
        {"invalid JSON", "cat >/dev/null\necho '{\"status\": pass'\n",
         "promote-gate-hostile printed invalid JSON on stdout"},
        {"a response of hundreds of MB", "cat >/dev/null\nexec head -c 400000000 /dev/zero\n",
         "promote-gate-hostile output too large (more than 1 MiB on stdout)"},
        {"endless output", "cat >/dev/null\nexec yes '{\"status\":\"pass\",\"summary\":\"ok\"}'\n",
         "promote-gate-hostile output too large (more than 1 MiB on stdout)"},
        {"never exits", "echo $$ > '" + pids + "/leader'\ncat >/dev/null\nexec sleep 600\n",
         "timed out after 2s"},
        {"never exits and ignores SIGTERM",
         "trap '' TERM\necho $$ > '" + pids + "/leader'\ncat >/dev/null\n"
         "while :; do sleep 1; done\n",
         "timed out after 2s"},
        {"NUL bytes", "cat >/dev/null\nprintf '{\"status\":\"pass\",\"summary\":\"a\\000b\"}'\n",
         "promote-gate-hostile printed invalid JSON on stdout"},
        {"invalid UTF-8", "cat >/dev/null\nprintf '{\"status\":\"pass\",\"summary\":\"\\377\\376\"}'\n",
         "promote-gate-hostile printed invalid JSON on stdout"},
        {"NUL bytes and invalid UTF-8 on stderr, exit 1",
         "cat >/dev/null\nprintf 'bad \\000 and \\377 bytes\\n' >&2\nexit 1\n",
         "promote-gate-hostile exited with status 1: bad "},
        {"an unknown status", "cat >/dev/null\necho '{\"status\":\"maybe\",\"summary\":\"x\"}'\n",
         "promote-gate-hostile gave an unknown status \"maybe\" (expected pass, warn, fail, "
         "pending or error)"},
        {"a status that is a number", "cat >/dev/null\necho '{\"status\":1,\"summary\":\"x\"}'\n",
         "promote-gate-hostile gave an unknown status 1"},
        {"a summary that is a number", "cat >/dev/null\necho '{\"status\":\"pass\",\"summary\":42}'\n",
         "promote-gate-hostile gave no 'summary' string"},
        {"a retry_after_seconds that is text",
         "cat >/dev/null\necho '{\"status\":\"pending\",\"summary\":\"x\",\"retry_after_seconds\":\"soon\"}'\n",
         "promote-gate-hostile gave a 'retry_after_seconds' that is not a non-negative integer"},
        {"an array", "cat >/dev/null\necho '[]'\n",
         "promote-gate-hostile printed JSON that is not an object"},
        {"exits non-zero", "cat >/dev/null\necho 'cannot reach the registry' >&2\nexit 3\n",
         "promote-gate-hostile exited with status 3: cannot reach the registry"},
        {"killed by a signal", "cat >/dev/null\nkill -KILL $$\n",
         "promote-gate-hostile was killed by signal SIGKILL"},
        {"closes stdin at once", "exec 0<&-\necho 'closed early' >&2\nexit 0\n",
         "promote-gate-hostile printed nothing on stdout (expected a JSON verdict): closed early"},
        {"a child that keeps the pipes open",
         "cat >/dev/null\nsleep 600 &\necho $! > '" + pids + "/child'\nexit 0\n",
         "promote-gate-hostile printed nothing on stdout (expected a JSON verdict)"},
    };
    int records = 0;
    for (const Row& row : rows) {
      CAPTURE(row.name);
      for (const auto& entry : fs::directory_iterator(hostile.pids)) {
        fs::remove(entry.path());
      }
      hostile.plugin(row.body);
      const std::string before = hostile.state();
      const auto started = std::chrono::steady_clock::now();
      const CommandResult result = hostile.promote();
      const auto took = std::chrono::steady_clock::now() - started;
      INFO("stdout: " << result.out.substr(0, 4000) << "\nstderr: " << result.err.substr(0, 4000));
      CHECK(result.exit_code == 4);
      // A guard, not a target: the gate's timeout is 2 s and SIGKILL follows SIGTERM by 2 s.
      CHECK(took < std::chrono::seconds(30));
      const json doc = json::parse(result.out, nullptr, false);
      REQUIRE_FALSE(doc.is_discarded());
      CHECK(doc["outcome"] == "error");
      REQUIRE(doc["gates"].size() == 1);
      const json& gate = doc["gates"][0];
      CHECK(gate["status"] == "error");
      CHECK(contains(gate["summary"].get<std::string>(), row.expected));
      CHECK(result.out.size() < 64 * 1024);
      CHECK(hostile.state() == before);
      for (const pid_t pid : hostile.recorded_pids()) {
        CAPTURE(pid);
        CHECK(process_ends(pid));
      }
      ++records;
    }
    // Every attempt is recorded, as an error.
    const CommandResult history = test::run(
        {test::promote_binary().string(), "history", "--output", "json"}, hostile.repo,
        {{"PROMOTE_HISTORY", ""}});
    const json listed = json::parse(history.out, nullptr, false);
    REQUIRE(listed.is_array());
    CHECK(static_cast<int>(listed.size()) == records);
    for (const auto& record : listed) {
      CHECK(record["outcome"] == "error");
    }
  }
}
