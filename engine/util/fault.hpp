#pragma once
// Test-only crash points. A build with PROMOTE_FAULT_HOOKS (on with BUILD_TESTING) lets
// PROMOTE_FAULT=NAME make the process kill itself with SIGKILL at the point named NAME, as
// a real crash would: no destructor, no flush, no cleanup; PROMOTE_FAULT=NAME:stop makes it
// stop itself there (SIGSTOP) until it is continued (SIGCONT), for a test to play another
// writer at that instant. In other builds the points do nothing and the variable is never
// read.

#include <string_view>

namespace promote::util {

/// Kills the process with SIGKILL when fault hooks are built in and PROMOTE_FAULT names
/// `point` (stops it, when it names "`point`:stop"); returns otherwise.
void fault_point(std::string_view point);

/// Whether this build has the fault hooks (the crash tests skip without them).
bool fault_hooks_built();

}  // namespace promote::util
