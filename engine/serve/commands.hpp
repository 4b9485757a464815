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
/// and "candidate"), as the command line does; then asks `loop` (may be null) to look at the
/// pipeline again. 200 with the command's JSON (a promotion's with its "exit_code"); 400 for a
/// refused command (a usage or configuration error, named), 503 when the repository or the
/// history fails.
http::Outgoing run_command(const Watched& watched, const std::string& stage,
                           const std::string& action, const std::string& actor,
                           const std::string& body_text,
                           const std::optional<std::filesystem::path>& history_path, Loop* loop);

}  // namespace promote::serve
