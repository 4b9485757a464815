#pragma once
// The process groups promote starts (external gate programs run in groups of their own), and
// what a termination signal does to them. Without this, SIGTERM or SIGINT ends promote at
// once and leaves a running plugin's group behind, orphaned. With it, SIGTERM, SIGINT and
// SIGHUP are forwarded to every group alive, each group gets a bounded time to exit, the
// groups still there are killed (SIGKILL), and then the signal ends promote as it would have.

#include <sys/types.h>

#include <chrono>
#include <functional>

namespace promote::util {

/// How long the groups get between the forwarded signal and SIGKILL.
inline constexpr std::chrono::milliseconds k_termination_grace{2000};

/// Runs `start` (it starts a process as the leader of a new process group and returns its
/// pid, or a negative number when it could not) so that no termination can begin meanwhile,
/// and records the group. Returns what `start` returned, or -1 without calling it once a
/// termination has begun: start nothing then.
pid_t start_child_group(const std::function<pid_t()>& start);

/// Forgets the group of `leader`: call it after the last signal to the group and before the
/// leader is reaped (while the group id is still the leader's).
void forget_child_group(pid_t leader);

/// Makes SIGTERM, SIGINT and SIGHUP end promote the way the file comment says, `grace` being
/// the bounded time. Call once, early in main. A thread of its own does the work (the handler
/// only wakes it), started with the first group or hook: before, a signal ends promote at once.
void handle_termination_signals(std::chrono::milliseconds grace = k_termination_grace);

/// Sets what a termination signal runs first, on the signal thread, before the groups are told
/// (a service's graceful stop: stop accepting, let the requests being answered finish); the
/// signal ends promote once it returns. A second signal meanwhile waits for it.
void before_termination(std::function<void()> hook);

/// When a termination has begun, blocks until it ends promote (by the signal); returns at
/// once otherwise. For main, before it exits: an exit code must not replace the signal.
void await_termination();

}  // namespace promote::util
