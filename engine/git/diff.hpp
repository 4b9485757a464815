#pragma once
// Unified diffs of in-memory file contents, as `git diff` prints them.

#include <string>

namespace promote::git {

/// The unified diff (3 lines of context) turning `before` into `after`, with
/// a/<path> and b/<path> headers; "" when they are equal.
std::string unified_diff(const std::string& path, const std::string& before,
                         const std::string& after);

}  // namespace promote::git
