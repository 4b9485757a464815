// SIGTERM and SIGINT sent to promote while a plugin runs: the plugin's process group, a child
// of it included, is gone within a bounded time, and promote ends by the signal. The test
// process is a child subreaper meanwhile, so that the group's members orphaned by promote's
// end come to it and are reaped here (whatever the machine's init does with zombies), and
// `kill(-group, 0)` answers ESRCH exactly when none is left.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;

// Starts promote with `args` in `cwd` (no output kept), returning its pid.
pid_t start_promote(const std::vector<std::string>& args, const fs::path& cwd) {
  std::vector<std::string> argv = {test::promote_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    for (const char* name : {"PROMOTE_HISTORY", "GITHUB_ACTIONS", "GITLAB_CI", "PROMOTE_FAULT"}) {
      ::unsetenv(name);
    }
    ::setenv("PROMOTE_ACTOR", "shop-ci", 1);
    std::vector<char*> pointers;
    for (auto& arg : argv) {
      pointers.push_back(arg.data());
    }
    pointers.push_back(nullptr);
    if (::chdir(cwd.c_str()) == 0) {
      ::execv(pointers[0], pointers.data());
    }
    ::_exit(127);
  }
  return pid;
}

// Whether the process behind `pid` exits within `timeout` (it need not be a child).
bool exits_within(pid_t pid, std::chrono::milliseconds timeout) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    return errno == ESRCH;
  }
  pollfd entry{pidfd, POLLIN, 0};
  const int ready = ::poll(&entry, 1, static_cast<int>(timeout.count()));
  ::close(pidfd);
  return ready > 0;
}

// Reaps the members of `group` that are this process's children and have exited.
void reap_group(pid_t group) {
  siginfo_t info{};
  while (::waitid(P_PGID, static_cast<id_t>(group), &info, WEXITED | WNOHANG) == 0 &&
         info.si_pid != 0) {
    info = {};
  }
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("SIGTERM or SIGINT reaches a running plugin's process group before it ends promote") {
    for (const int signal : {SIGTERM, SIGINT}) {
      // A plugin that dies of the signal, and one that ignores it (killed after the grace);
      // either way its child ignores it.
      for (const bool ignores : {false, true}) {
        INFO(::sigabbrev_np(signal) << (ignores ? ", a plugin that ignores it" : ""));
        test::Shop shop;
        const fs::path fifo = shop.dir / "plugin.fifo";
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        std::string pipeline = test::read_text(shop.repo / "promote.yaml");
        const std::string dev = "      kustomize: k8s/overlays/dev\n";
        pipeline.replace(pipeline.find(dev), dev.size(),
                         dev + "    gates:\n      - use: sleepy\n        timeout: 10m\n");
        test::write_text(shop.repo / "promote.yaml", pipeline);
        const fs::path plugin = shop.repo / "plugins/promote-gate-sleepy";
        test::write_text(plugin, std::string("#!/bin/sh\ncat >/dev/null\n") +
                                     (ignores ? "trap '' TERM INT\n" : "") +
                                     "(trap '' TERM INT; exec sleep 300) &\n"
                                     "echo \"$$ $!\" > '" + fifo.string() + "'\nwait\n");
        fs::permissions(plugin, fs::perms::owner_all);

        REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        REQUIRE(reader >= 0);
        const pid_t promote = start_promote(
            {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, shop.repo);
        REQUIRE(promote > 0);
        pollfd ready{reader, POLLIN, 0};
        REQUIRE(::poll(&ready, 1, 60000) == 1);  // the plugin runs, and its child
        char buffer[64] = {};
        REQUIRE(::read(reader, buffer, sizeof buffer - 1) > 0);
        ::close(reader);
        pid_t group = 0;
        pid_t child = 0;
        std::istringstream(buffer) >> group >> child;
        REQUIRE(group > 0);
        REQUIRE(child > 0);
        CHECK(::getpgid(child) == group);

        const auto sent = std::chrono::steady_clock::now();
        REQUIRE(::kill(promote, signal) == 0);
        REQUIRE(exits_within(promote, std::chrono::seconds(30)));
        int status = 0;
        REQUIRE(::waitpid(promote, &status, 0) == promote);
        const auto took = std::chrono::steady_clock::now() - sent;
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == signal);
        // Within the grace (2 s) and the time to reap, well under the bound checked here.
        CHECK(took < std::chrono::seconds(10));

        CHECK(exits_within(child, std::chrono::seconds(10)));
        reap_group(group);
        errno = 0;
        CHECK(::kill(-group, 0) == -1);
        CHECK(errno == ESRCH);

        // Whatever the outcome, nothing of the group outlives the test.
        if (::kill(-group, 0) == 0) {
          ::kill(-group, SIGKILL);
          siginfo_t info{};
          while (::waitid(P_PGID, static_cast<id_t>(group), &info, WEXITED) == 0) {
          }
        }
        REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 0) == 0);
      }
    }
  }

  TEST_CASE("a signal ends a promote that started no program at once, by the signal") {
    // The signal thread starts with the first program: before it, the handler lets the signal
    // end promote by its default action. Here promote waits on an HTTP gate whose server
    // accepts the connection and never answers.
    for (const int signal : {SIGTERM, SIGINT}) {
      INFO(::sigabbrev_np(signal));
      const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(listener >= 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof address;
      REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0);
      REQUIRE(::listen(listener, 4) == 0);
      REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
      const std::string url =
          "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/verdict";

      test::Shop shop;
      std::string pipeline = test::read_text(shop.repo / "promote.yaml");
      const std::string dev = "      kustomize: k8s/overlays/dev\n";
      pipeline.replace(pipeline.find(dev), dev.size(),
                       dev +
                           "    gates:\n      - use: http\n        timeout: 10m\n"
                           "        with: { url: '" +
                           url + "' }\n");
      test::write_text(shop.repo / "promote.yaml", pipeline);
      const pid_t promote =
          start_promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, shop.repo);
      REQUIRE(promote > 0);
      pollfd waiting{listener, POLLIN, 0};
      REQUIRE(::poll(&waiting, 1, 60000) == 1);  // the gate has connected
      const int connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      CHECK(connection >= 0);

      REQUIRE(::kill(promote, signal) == 0);
      REQUIRE(exits_within(promote, std::chrono::seconds(30)));
      int status = 0;
      REQUIRE(::waitpid(promote, &status, 0) == promote);
      CHECK(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == signal);
      ::close(connection);
      ::close(listener);
    }
  }
}
