#include "engine/util/actor.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace promote::util {

std::string current_actor() {
  for (const char* name : k_actor_variables) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      return value;
    }
  }
  if (const passwd* user = getpwuid(geteuid()); user != nullptr && user->pw_name != nullptr &&
                                                 *user->pw_name != '\0') {
    return user->pw_name;
  }
  if (const char* value = std::getenv("USER"); value != nullptr && *value != '\0') {
    return value;
  }
  return "unknown";
}

}  // namespace promote::util
