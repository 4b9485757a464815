#pragma once
// Runs a program as a child process and measures it: wall time and the peak resident set
// size from wait4's rusage (the child's, or its largest waited-for descendant's).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace promote::bench {

/// What one run of a child process cost.
struct ChildRun {
  double seconds = 0;
  long max_rss_kib = 0;
  int exit_code = -1;  ///< -1 when it did not exit normally
};

/// Runs `argv` (found on PATH) with stdout sent to `stdout_path` (/dev/null when empty) and
/// stderr kept; waits for it and returns its cost.
inline ChildRun run_child(const std::vector<std::string>& argv,
                          const std::string& stdout_path = {}) {
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const std::string out = stdout_path.empty() ? "/dev/null" : stdout_path;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      close(fd);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  ChildRun run;
  if (pid < 0) {
    return run;
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.max_rss_kib = usage.ru_maxrss;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

}  // namespace promote::bench
