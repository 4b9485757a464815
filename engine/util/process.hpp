#pragma once
// Runs another program the one way promote does: argv only (never a shell), exactly the
// environment given, a process group of its own (recorded for util/children.hpp, so that a
// termination signal reaches it), stdin written from memory, stdout and stderr read with a
// bound, and a deadline or a cancel request that ends the whole group. The plugin host and the
// signing of records (engine/git/signing) run their programs through it.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/util/files.hpp"

namespace promote::util {

/// Limits for one run of a program.
struct ProcessLimits {
  std::size_t max_stdout = std::size_t{1} << 20;   ///< more is an error ("output too large")
  std::size_t max_stderr = std::size_t{64} << 10;  ///< only the last bytes are kept
  std::chrono::milliseconds kill_grace{2000};      ///< between SIGTERM and SIGKILL
  /// How long the program may run; then its group is ended as for a cancel (`timed_out`).
  std::optional<std::chrono::milliseconds> timeout;
  /// A session of its own (setsid) rather than only a process group: the program has no
  /// controlling terminal, so a prompt for a passphrase fails instead of waiting on the
  /// terminal. The group is the same (the session leader leads it).
  bool new_session = false;
};

/// How a run ended and what the program printed.
struct ProcessOutput {
  std::optional<int> exit_code;  ///< set when the program exited
  std::optional<int> signal;     ///< set when a signal ended it
  std::string out;               ///< stdout (at most max_stdout bytes)
  bool out_too_large = false;    ///< stdout exceeded max_stdout; the group was killed
  std::size_t max_stdout = 0;    ///< the limit it was run with
  std::string err_tail;          ///< the last max_stderr bytes of stderr
  bool err_truncated = false;    ///< stderr was longer than err_tail
  bool cancelled = false;        ///< a cancel request came; the group was killed
  bool timed_out = false;        ///< the timeout expired; the group was killed

  /// Whether the program exited with status 0.
  bool succeeded() const { return exit_code == 0; }
};

/// A cancel request that another thread makes while `run_process` waits.
class ProcessCancel {
 public:
  /// Fails (internal) when the eventfd that wakes the waiting thread cannot be made.
  static Result<std::shared_ptr<ProcessCancel>> make();
  /// Requests the cancel (once; later calls do nothing). Safe from any thread.
  void cancel();
  bool cancelled() const { return m_cancelled; }
  int fd() const { return m_wake.get(); }

 private:
  UniqueFd m_wake;
  std::atomic<bool> m_cancelled{false};
};

/// One program to run.
struct ProcessSpec {
  std::vector<std::string> argv;         ///< argv[0] is the program's path
  std::vector<std::string> environment;  ///< NAME=VALUE, exactly what the program gets
  std::filesystem::path cwd;             ///< empty: this process's
  std::string input;                     ///< written to its stdin, which is then closed
  std::string shown;                     ///< how messages name it; argv[0] when empty
};

/// Runs `spec` and waits for it on this thread: until it exits, `limits.timeout` expires or
/// `cancel` is requested (then the group gets SIGTERM, and SIGKILL after `kill_grace`). When
/// it exits, what is left of its group is killed. Reaps it before returning. A write to a
/// program that closed its stdin fails quietly instead of raising SIGPIPE. Fails (input)
/// "cannot run SHOWN: REASON" when the program cannot be started.
Result<ProcessOutput> run_process(const ProcessSpec& spec, const ProcessLimits& limits = {},
                                  ProcessCancel* cancel = nullptr);

/// The first executable regular file named `name` in the directories of `path_env` (a PATH
/// value; empty entries are skipped), absolute; nullopt when there is none.
std::optional<std::filesystem::path> find_program(const std::string& name,
                                                  const std::string& path_env);

/// The PATH of this process, or "/usr/local/bin:/usr/bin:/bin" when it is unset.
std::string path_variable();

}  // namespace promote::util
