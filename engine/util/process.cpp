#include "engine/util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/util/children.hpp"

namespace promote::util {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Result<std::shared_ptr<ProcessCancel>> ProcessCancel::make() {
  auto made = std::make_shared<ProcessCancel>();
  made->m_wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!made->m_wake.valid()) {
    return make_error(ErrorKind::internal,
                      std::string("cannot create an eventfd: ") + std::strerror(errno));
  }
  return made;
}

void ProcessCancel::cancel() {
  if (!m_cancelled.exchange(true)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(m_wake.get(), &one, sizeof one);
  }
}

namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::internal, "cannot create a pipe: " + errno_text(errno));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Spawns the program with stdin/stdout/stderr on the pipes, in a process group (or session)
// of its own, with default signal dispositions and an empty signal mask.
Result<pid_t> spawn(const ProcessSpec& spec, bool new_session, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_adddup2(&actions, in, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  if (!spec.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  }
  // setsid makes the child the leader of a new group as well; setpgid on top would fail.
  const short group = new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attributes, group | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attributes, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attributes, &mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal :
       {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, signal);
  }
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  std::vector<char*> argv;
  for (const auto& argument : spec.argv) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : spec.environment) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    const std::string shown = spec.shown.empty() ? spec.argv[0] : spec.shown;
    return make_error(ErrorKind::input, "cannot run " + shown + ": " + errno_text(rc));
  }
  return pid;
}

// Waits until the process behind `pidfd` has exited, at most `timeout` (-1: forever).
bool wait_exit(int pidfd, int timeout_ms) {
  pollfd entry{pidfd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, timeout_ms);
    if (ready >= 0) {
      return ready > 0;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

// Terminates the whole group: SIGTERM, then SIGKILL once `grace` has passed or the
// leader has gone (stragglers that ignore SIGTERM must not outlive it).
void terminate_group(pid_t pid, int pidfd, std::chrono::milliseconds grace) {
  ::kill(-pid, SIGTERM);
  wait_exit(pidfd, static_cast<int>(grace.count()));
  ::kill(-pid, SIGKILL);
}

// Appends to the stderr tail, keeping at most `max` bytes (amortised trimming).
void append_tail(std::string& tail, bool& truncated, const char* data, std::size_t size,
                 std::size_t max) {
  tail.append(data, size);
  if (tail.size() > 2 * max) {
    tail.erase(0, tail.size() - max);
    truncated = true;
  }
}

// Blocks SIGPIPE on this thread while it lives; a SIGPIPE raised meanwhile (by a write to a
// program that closed its stdin) is taken before the mask is given back, so that it is not
// delivered then.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &m_previous);
  }
  ~SigpipeBlocked() {
    if (sigismember(&m_previous, SIGPIPE) == 0) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe_signal;
        sigemptyset(&pipe_signal);
        sigaddset(&pipe_signal, SIGPIPE);
        const timespec now{0, 0};
        ::sigtimedwait(&pipe_signal, nullptr, &now);
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_previous, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t m_previous;
};

}  // namespace

Result<ProcessOutput> run_process(const ProcessSpec& spec, const ProcessLimits& limits,
                                  ProcessCancel* cancel) {
  ProcessOutput output;
  output.max_stdout = limits.max_stdout;
  if (spec.argv.empty()) {
    return make_error(ErrorKind::internal, "no program to run");
  }
  const auto cancelled = [&] { return cancel != nullptr && cancel->cancelled(); };
  if (cancelled()) {
    output.cancelled = true;
    return output;
  }
  const SigpipeBlocked sigpipe_blocked;
  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  for (auto* pipe : {&in, &out, &err}) {
    if (!*pipe) {
      return pipe->error();
    }
  }
  // No timeout: a deadline never reached (a time point, not an optional one: GCC 12 at -O3
  // takes an engaged optional's value for maybe uninitialized).
  const bool has_deadline = limits.timeout.has_value();
  const Clock::time_point deadline =
      has_deadline ? Clock::now() + *limits.timeout : Clock::time_point::max();
  // Recorded as a child group, for a termination signal to reach it (util/children.hpp).
  std::optional<Result<pid_t>> spawned;
  start_child_group([&] {
    spawned = spawn(spec, limits.new_session, in->read.get(), out->write.get(), err->write.get());
    return *spawned ? **spawned : -1;
  });
  if (!spawned) {
    output.cancelled = true;  // promote is ending: nothing is started
    return output;
  }
  if (!*spawned) {
    return spawned->error();
  }
  const pid_t leader = **spawned;
  in->read.reset();
  out->write.reset();
  err->write.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, leader, 0)));
  if (!pidfd.valid()) {
    const int error = errno;
    ::kill(-leader, SIGKILL);
    forget_child_group(leader);
    ::waitpid(leader, nullptr, 0);
    return make_error(ErrorKind::internal, "cannot watch a child process: " + errno_text(error));
  }
  UniqueFd to_child = std::move(in->write);
  UniqueFd from_stdout = std::move(out->read);
  UniqueFd from_stderr = std::move(err->read);
  for (const UniqueFd* fd : {&to_child, &from_stdout, &from_stderr}) {
    set_nonblocking(fd->get());
  }
  if (spec.input.empty()) {
    to_child.reset();
  }

  std::size_t written = 0;
  bool exited = false;
  char buffer[65536];
  // Reads what `fd` has now; false at end of file (or a read error).
  const auto drain = [&](UniqueFd& fd, bool is_stdout) {
    for (;;) {
      const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n > 0) {
        const auto size = static_cast<std::size_t>(n);
        if (is_stdout) {
          if (output.out.size() + size > limits.max_stdout) {
            output.out_too_large = true;
            return true;
          }
          output.out.append(buffer, size);
        } else {
          append_tail(output.err_tail, output.err_truncated, buffer, size, limits.max_stderr);
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return true;
      }
      fd.reset();
      return false;
    }
  };

  while (!exited && !output.out_too_large && !cancelled() && !output.timed_out) {
    int wait_ms = -1;
    if (has_deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        output.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    pollfd fds[5];
    nfds_t count = 0;
    const auto watch = [&](int fd, short events) {
      if (fd >= 0) {
        fds[count++] = pollfd{fd, events, 0};
      }
    };
    watch(cancel != nullptr ? cancel->fd() : -1, POLLIN);
    watch(pidfd.get(), POLLIN);
    watch(from_stdout.get(), POLLIN);
    watch(from_stderr.get(), POLLIN);
    watch(to_child.get(), POLLOUT);
    if (::poll(fds, count, wait_ms) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == pidfd.get()) {
        exited = true;
      } else if (fds[i].fd == from_stdout.get()) {
        drain(from_stdout, true);
      } else if (fds[i].fd == from_stderr.get()) {
        drain(from_stderr, false);
      } else if (fds[i].fd == to_child.get()) {
        const ssize_t n =
            ::write(to_child.get(), spec.input.data() + written, spec.input.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == spec.input.size()) {
          to_child.reset();
        }
      }
    }
  }
  to_child.reset();
  if (exited) {
    // The leader is a zombie until reaped, so its group id still names its leftovers.
    ::kill(-leader, SIGKILL);
  } else {
    output.cancelled = cancelled() && !output.out_too_large && !output.timed_out;
    terminate_group(leader, pidfd.get(), limits.kill_grace);
  }
  // The leader has written everything it will write: take what is in the pipes.
  if (from_stdout.valid() && !output.out_too_large) {
    drain(from_stdout, true);
  }
  if (from_stderr.valid()) {
    drain(from_stderr, false);
  }
  forget_child_group(leader);  // the group has had its last signal from here
  int status = 0;
  while (::waitpid(leader, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    output.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    output.signal = WTERMSIG(status);
  }
  if (output.err_tail.size() > limits.max_stderr) {
    output.err_tail.erase(0, output.err_tail.size() - limits.max_stderr);
    output.err_truncated = true;
  }
  return output;
}

std::optional<fs::path> find_program(const std::string& name, const std::string& path_env) {
  std::size_t start = 0;
  while (start <= path_env.size()) {
    const std::size_t end = std::min(path_env.find(':', start), path_env.size());
    const std::string dir = path_env.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) {
      continue;
    }
    const fs::path candidate = fs::path(dir) / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return fs::absolute(candidate, ec).lexically_normal();
    }
  }
  return std::nullopt;
}

std::string path_variable() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
}

}  // namespace promote::util
