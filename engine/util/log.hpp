#pragma once
// What promote tells on stderr besides its report: nothing more by default, the steps it
// takes under --verbose, and only errors under --quiet. `promote serve --log-format json`
// makes the same lines, and one line per HTTP request, JSON objects, one a line:
//
//   {"time":"2026-11-23T18:32:00.123Z","level":"info","message":"GET /healthz 200",
//    "method":"GET","path":"/healthz","status":200,"duration_ms":0.412,"peer":"10.0.0.7",
//    "bytes":3}

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace promote::util {

enum class Verbosity { quiet, normal, verbose };

/// Set once by the CLI (--quiet, --verbose); the default is normal.
void set_verbosity(Verbosity verbosity);
Verbosity verbosity();

/// How a line is written: text ("promote: MESSAGE", "promote [12:00:01.234] STEP") or one JSON
/// object a line ({"time": RFC 3339 UTC with milliseconds, "level", "message", then fields}).
enum class LogFormat { text, json };

/// Set once by `promote serve --log-format`; the default is text.
void set_log_format(LogFormat format);
LogFormat log_format();

/// One step, with the time, on stderr under --verbose; nothing otherwise. Never pass a
/// secret or a URL that may hold one (see git::redact); the values of the variables of
/// util::k_secret_variables are hidden all the same. Level "debug" in JSON.
void debug(std::string_view message);

/// One line on stderr, "promote: MESSAGE", unless --quiet: what a person watching should know
/// while promote waits (for another writer's lock). The same hiding of secrets as `debug`.
/// Level "info" in JSON.
void notice(std::string_view message);

/// One request a server answered (or refused), for the access log.
struct AccessEntry {
  std::string_view method;  ///< "GET"; "" when the request was refused before its line was read
  std::string_view path;    ///< the target before '?': a query is never logged (it may hold tokens)
  unsigned status = 0;
  std::chrono::steady_clock::duration duration{};  ///< from the request read to its answer sent
  std::string_view peer;                           ///< the client's address, without its port
  std::uint64_t bytes = 0;                         ///< of the response's body sent
};

/// Whether `access` writes anything now: in JSON unless --quiet, in text under --verbose only (a
/// person at a terminal asks for a line per request). A caller may skip gathering an entry when
/// it does not.
bool access_logged();

/// The access log line of `entry` on stderr, when access_logged(): in text as a step, "promote
/// [12:00:01.234] 127.0.0.1 GET /healthz 200 3 B 0.4 ms" (method and path as one_line shows
/// them, "-" for what is not known); in JSON level "info", message "GET /healthz 200", and the
/// fields method, path, status, duration_ms, peer and bytes. The same hiding of secrets as
/// `debug`.
void access(const AccessEntry& entry);

/// Hands every line that would go to stderr, without its line feed, to `capture` instead (for
/// tests); nullptr: stderr again. Lines are never handed over two at once.
void capture_log(std::function<void(std::string_view line)> capture);

}  // namespace promote::util
