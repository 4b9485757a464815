#pragma once
// Who is running promote, the same everywhere an actor is recorded.

#include <string>

namespace promote::util {

/// The environment variables an actor is taken from, in order.
inline constexpr const char* k_actor_variables[] = {"PROMOTE_ACTOR", "GITHUB_ACTOR",
                                                    "GITLAB_USER_LOGIN"};

/// PROMOTE_ACTOR, else GITHUB_ACTOR, else GITLAB_USER_LOGIN (the first that is set and not
/// empty), else the name of the operating-system user, else "unknown".
std::string current_actor();

}  // namespace promote::util
