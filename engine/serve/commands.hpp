#pragma once
// The writing commands of `promote serve`'s API (commands.cpp).

#include <filesystem>
#include <optional>
#include <string>

#include "engine/http/server.hpp"
#include "engine/serve/service.hpp"

namespace promote::serve {

/// Runs `action` (promote, rollback, approve, reject, hold, release) on `stage` of `watched`
/// for `actor` (authenticated by the caller), with the request's JSON body (optional "reason"
/// and "candidate"), as the command line does. A promotion or a rollback runs on `loop`'s
/// thread (one evaluation at a time; directly without a loop): 200 with its JSON and
/// "exit_code" when it ends within 30 s, else 202 (it runs on). Another command makes the loop
/// look at the pipeline again. 400 for a refused command (a usage or configuration error,
/// named), 503 when the repository or the history fails.
http::Outgoing run_command(const Watched& watched, const std::string& stage,
                           const std::string& action, const std::string& actor,
                           const std::string& body_text,
                           const std::optional<std::filesystem::path>& history_path, Loop* loop);

}  // namespace promote::serve
