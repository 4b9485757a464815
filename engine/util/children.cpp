#include "engine/util/children.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace promote::util {

namespace {

constexpr int k_signals[] = {SIGTERM, SIGINT, SIGHUP};

struct Groups {
  std::mutex mutex;
  std::condition_variable forgotten;
  std::vector<pid_t> leaders;  ///< under mutex
  bool terminating = false;    ///< under mutex
};

Groups& groups() {
  static Groups* const all = new Groups();  // never destroyed: the thread outlives main
  return *all;
}

std::atomic<bool> g_terminating{false};  // set by the handler: async-signal-safe
int g_wake = -1;  // the write end of the pipe the handler wakes the thread through
int g_woken = -1;  // its read end, which the thread reads
std::chrono::milliseconds g_grace{0};
// Whether the thread runs: until a group is started or a hook set, a signal has nothing to do
// but end promote, and the handler lets it at once (a command that starts no program makes no
// thread).
std::atomic<bool> g_thread_running{false};

void on_signal(int signal) {
  const int saved = errno;
  if (!g_thread_running) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    ::sigaction(signal, &default_action, nullptr);
    ::raise(signal);  // delivered, by its default action, once the handler returns
    errno = saved;
    return;
  }
  g_terminating = true;
  const auto byte = static_cast<unsigned char>(signal);
  [[maybe_unused]] const ssize_t written = ::write(g_wake, &byte, 1);
  errno = saved;
}

std::mutex g_hook_mutex;
std::function<void()> g_hook;  // under g_hook_mutex

// Runs the hook of before_termination, then forwards `signal` to every group, waits up to
// `grace` for their leaders to exit, kills the groups still there and waits (as long again, at
// most) for their leaders to be reaped; then ends promote by `signal`.
[[noreturn]] void end_by(int signal, std::chrono::milliseconds grace) {
  std::function<void()> hook;
  {
    std::lock_guard lock(g_hook_mutex);
    hook = std::exchange(g_hook, nullptr);
  }
  if (hook) {
    hook();
  }
  Groups& all = groups();
  std::vector<int> pidfds;
  {
    std::lock_guard lock(all.mutex);
    all.terminating = true;
    for (const pid_t leader : all.leaders) {
      // While recorded, a leader is not reaped: its pid and group id are still its own.
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, leader, 0));
      ::kill(-leader, signal);
      if (pidfd >= 0) {
        pidfds.push_back(pidfd);
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<pollfd> waiting;
  for (const int pidfd : pidfds) {
    waiting.push_back(pollfd{pidfd, POLLIN, 0});
  }
  while (!waiting.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    const int ready = ::poll(waiting.data(), waiting.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    std::erase_if(waiting, [](const pollfd& entry) { return entry.revents != 0; });
  }
  for (const int pidfd : pidfds) {
    ::close(pidfd);
  }
  {
    std::unique_lock lock(all.mutex);
    for (const pid_t leader : all.leaders) {
      ::kill(-leader, SIGKILL);
    }
    // Their runners reap the leaders: no zombie is left to whoever inherits them.
    all.forgotten.wait_for(lock, grace, [&] { return all.leaders.empty(); });
  }
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal, &default_action, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal);
  ::pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  ::raise(signal);
  std::_Exit(128 + signal);  // not reached: the signal's default action ends the process
}

/// Starts the thread that a signal wakes, once, when handle_termination_signals was called.
void ensure_signal_thread() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (g_woken < 0) {
      return;
    }
    std::thread([read_end = g_woken, grace = g_grace] {
      for (;;) {
        unsigned char signal = 0;
        const ssize_t n = ::read(read_end, &signal, 1);
        if (n == 1) {
          end_by(signal, grace);
        }
        if (n < 0 && errno == EINTR) {
          continue;
        }
        return;
      }
    }).detach();
    g_thread_running = true;
  });
}

}  // namespace

pid_t start_child_group(const std::function<pid_t()>& start) {
  ensure_signal_thread();
  Groups& all = groups();
  std::lock_guard lock(all.mutex);
  if (all.terminating) {
    return -1;
  }
  const pid_t leader = start();
  if (leader > 0) {
    all.leaders.push_back(leader);
  }
  return leader;
}

void forget_child_group(pid_t leader) {
  Groups& all = groups();
  {
    std::lock_guard lock(all.mutex);
    std::erase(all.leaders, leader);
  }
  all.forgotten.notify_all();
}

void handle_termination_signals(std::chrono::milliseconds grace) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    return;  // signals then end promote at once, as without this
  }
  g_woken = ends[0];
  g_wake = ends[1];
  g_grace = grace;
  for (const int signal : k_signals) {
    struct sigaction before {};
    if (::sigaction(signal, nullptr, &before) == 0 && before.sa_handler == SIG_IGN) {
      continue;  // ignored by whoever started promote (nohup, a background job): kept so
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    ::sigaction(signal, &action, nullptr);
  }
}

void before_termination(std::function<void()> hook) {
  ensure_signal_thread();
  std::lock_guard lock(g_hook_mutex);
  g_hook = std::move(hook);
}

void await_termination() {
  if (!g_terminating) {
    return;
  }
  for (;;) {
    ::pause();
  }
}

}  // namespace promote::util
