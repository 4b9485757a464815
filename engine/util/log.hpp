#pragma once
// What promote tells on stderr besides its report: nothing more by default, the steps it
// takes under --verbose, and only errors under --quiet.

#include <string_view>

namespace promote::util {

enum class Verbosity { quiet, normal, verbose };

/// Set once by the CLI (--quiet, --verbose); the default is normal.
void set_verbosity(Verbosity verbosity);
Verbosity verbosity();

/// One step, with the time, on stderr under --verbose; nothing otherwise. Never pass a
/// secret or a URL that may hold one (see git::redact); the values of the variables of
/// util::k_secret_variables are hidden all the same.
void debug(std::string_view message);

/// One line on stderr, "promote: MESSAGE", unless --quiet: what a person watching should know
/// while promote waits (for another writer's lock). The same hiding of secrets as `debug`.
void notice(std::string_view message);

}  // namespace promote::util
