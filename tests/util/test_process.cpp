// Running another program (util::run_process): argv, environment and stdin exactly as given,
// a deadline that ends the whole group, a session of its own on request, and the search of
// PATH.

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "engine/util/process.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using promote::test::TempDir;
using promote::test::write_text;
using promote::util::ProcessLimits;
using promote::util::ProcessSpec;
using promote::util::run_process;

namespace {

// A run of `sh -c script` with no environment.
ProcessSpec shell(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

}  // namespace

TEST_SUITE("util.process") {
  TEST_CASE("a program gets exactly its arguments, its environment and its input") {
    ProcessSpec spec = shell("printf '%s|' \"$@\"; printf '%s|' \"$ONLY\" \"$HOME\"; cat");
    spec.argv.insert(spec.argv.end(), {"sh", "a b", "$PATH;*"});
    spec.environment = {"ONLY=this"};
    spec.input = "from stdin\n";
    const auto output = run_process(spec).value();
    CHECK(output.succeeded());
    CHECK(output.out == "a b|$PATH;*|this||from stdin\n");
    CHECK_FALSE(output.timed_out);
  }

  TEST_CASE("a program that outlives its timeout is ended with its whole group") {
    TempDir dir;
    ProcessLimits limits;
    limits.timeout = 200ms;
    ProcessSpec spec = shell("sleep 1000 & echo $! > sleeper; echo started; wait");
    spec.cwd = dir.path();
    const auto started = std::chrono::steady_clock::now();
    const auto output = run_process(spec, limits).value();
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(output.timed_out);
    CHECK_FALSE(output.cancelled);
    CHECK(output.signal == SIGTERM);
    CHECK(output.out == "started\n");
    // The sleeper was in the group: it got the signal too.
    const pid_t sleeper = std::stoi(promote::test::read_text(dir / "sleeper"));
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, sleeper, 0));
    if (pidfd >= 0) {
      pollfd entry{pidfd, POLLIN, 0};
      CHECK(::poll(&entry, 1, 5000) == 1);
      ::close(pidfd);
    }
  }

  TEST_CASE("a program that exits with a status reports it, and what it wrote on stderr") {
    const auto output = run_process(shell("echo oops >&2; exit 3")).value();
    CHECK_FALSE(output.succeeded());
    CHECK(output.exit_code == 3);
    CHECK(output.err_tail == "oops\n");
  }

  TEST_CASE("a new session has no controlling terminal; a group alone keeps the session") {
    // Field 6 of /proc/PID/stat is the session id: the pid itself for a session leader.
    const std::string script =
        "read -r pid comm state ppid group session rest < /proc/$$/stat; "
        "[ \"$session\" = \"$$\" ] && [ \"$group\" = \"$$\" ]";
    ProcessLimits limits;
    limits.new_session = true;
    CHECK(run_process(shell(script), limits).value().exit_code == 0);
    limits.new_session = false;
    CHECK(run_process(shell(script), limits).value().exit_code == 1);
  }

  TEST_CASE("a program that cannot be started fails, named as the caller shows it") {
    TempDir dir;
    ProcessSpec spec;
    spec.argv = {(dir / "missing").string()};
    auto missing = run_process(spec);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().message ==
          "cannot run " + (dir / "missing").string() + ": No such file or directory");
    spec.shown = "the tool";
    CHECK(run_process(spec).error().message == "cannot run the tool: No such file or directory");
  }

  TEST_CASE("a program is found in the first directory of PATH that holds it executable") {
    TempDir dir;
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    write_text(dir / "a/tool", "not executable\n");
    write_text(dir / "b/tool", "#!/bin/sh\n");
    fs::permissions(dir / "b/tool", fs::perms::owner_all);
    const std::string path = ":" + (dir / "a").string() + "::" + (dir / "b").string();
    CHECK(promote::util::find_program("tool", path) == dir / "b/tool");
    CHECK_FALSE(promote::util::find_program("other", path));
    CHECK_FALSE(promote::util::find_program("tool", ""));
  }
}
