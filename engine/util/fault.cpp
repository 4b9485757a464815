#include "engine/util/fault.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace promote::util {

#ifdef PROMOTE_FAULT_HOOKS

void fault_point(std::string_view point) {
  static const std::string wanted = [] {
    const char* value = std::getenv("PROMOTE_FAULT");
    return std::string(value == nullptr ? "" : value);
  }();
  if (!wanted.empty() && wanted == point) {
    std::raise(SIGKILL);
  }
  // "NAME:stop" stops the process there instead (SIGSTOP), for a test to act while it is
  // stopped and then let it go on (SIGCONT): another writer at that very instant.
  if (wanted.size() == point.size() + 5 && wanted.starts_with(point) && wanted.ends_with(":stop")) {
    std::raise(SIGSTOP);
  }
}

bool fault_hooks_built() { return true; }

#else

void fault_point(std::string_view) {}

bool fault_hooks_built() { return false; }

#endif

}  // namespace promote::util
