#pragma once
// The host for external gate programs (exec protocol v1, plugins/PROTOCOL.md): finds
// `promote-gate-NAME`, runs it without a shell in its own process group with a minimal
// environment, writes the request JSON to its stdin and reads its verdict from stdout.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"
#include "engine/util/process.hpp"

namespace promote::plugins {

/// The protocol version this host speaks (the request's `protocol` field).
inline constexpr int k_protocol_version = 1;

/// The prefix of a plugin program's file name: `use: cosign` runs `promote-gate-cosign`.
inline constexpr const char* k_program_prefix = "promote-gate-";

/// Whether `name` may name a plugin: lower-case letters, digits, '-' and '_', starting
/// with a letter or digit, at most 64 characters (so it can never hold a path).
bool is_valid_plugin_name(const std::string& name);

/// Finds `promote-gate-NAME` in `<pipeline_dir>/plugins/`, then in each directory of
/// `path_env` (a PATH value; empty entries are skipped). Only executable regular files
/// (after following symlinks) count. Returns its absolute path, or nullopt when none is
/// found or `name` is not a valid plugin name.
std::optional<std::filesystem::path> find_plugin(const std::string& name,
                                                 const std::filesystem::path& pipeline_dir,
                                                 const std::string& path_env);

/// As above, searching the PATH of this process.
std::optional<std::filesystem::path> find_plugin(const std::string& name,
                                                 const std::filesystem::path& pipeline_dir);

/// The environment a plugin gets, as NAME=VALUE strings: PATH, HOME, LANG and TZ as
/// this process has them (PATH defaults to /usr/local/bin:/usr/bin:/bin), plus each
/// variable named in `pass_through` that is set. Nothing else.
std::vector<std::string> plugin_environment(const std::vector<std::string>& pass_through);

/// Limits for one run of a plugin program (no timeout of its own: the gate's timeout cancels
/// the run).
using RunLimits = util::ProcessLimits;

/// How a plugin run ended and what it printed.
struct RunOutput : util::ProcessOutput {
  std::string program_sha256;  ///< digest of the program file that was run
};

/// Runs `program` (argv is just the program; no shell) in `cwd`, in a new process group,
/// with exactly `environment`, writing `input` to its stdin. Waits on a thread of its own,
/// never on the awaiting executor. When the awaiting coroutine is cancelled (a timeout),
/// the whole group gets SIGTERM, then SIGKILL after `kill_grace`, and is reaped before
/// this completes (with `cancelled` set). When the program exits, what is left of its
/// group is killed. Fails (input) when the program cannot be started.
boost::asio::awaitable<Result<RunOutput>> run_plugin(std::filesystem::path program,
                                                     std::string input,
                                                     std::vector<std::string> environment,
                                                     std::filesystem::path cwd,
                                                     RunLimits limits = {});

/// Reads a plugin's verdict from how its run ended: a non-zero exit, a signal, output
/// too large, invalid JSON, a missing or unknown `status` or a missing `summary` give
/// `error` naming the reason with the last line of stderr; `details` then holds the
/// stderr tail. `program` names the plugin in messages.
Verdict interpret(const RunOutput& output, const std::string& program);

/// The gate configuration converted to JSON: plain YAML scalars become null, booleans,
/// integers or numbers when they read as such, everything else (and every quoted scalar)
/// a string. Reports non-scalar mapping keys into the diagnostics; nullopt then.
std::optional<nlohmann::json> to_json(const pipeline::ConfigNode& node);

/// Builds the gate for `use: NAME` run by `program`. `with` (null, or a mapping) is
/// passed to the plugin as its config, except the reserved `env:` (a list of variable
/// names passed through to the plugin). Reports problems into `with.diagnostics()` and
/// returns nullptr when invalid.
std::unique_ptr<Gate> make_plugin_gate(const std::string& name,
                                       const std::filesystem::path& program,
                                       const pipeline::ConfigNode& with);

}  // namespace promote::plugins
