// The writing commands of `promote serve`'s API: promote, rollback, approve, reject, hold and
// release a stage, as the command line does, for the actor the request authenticated as.
#include "engine/serve/commands.hpp"

#include <future>
#include <nlohmann/json.hpp>

#include "engine/promoter/approve.hpp"
#include "engine/promoter/hold.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/report/report.hpp"
#include "engine/serve/loop.hpp"
#include "engine/util/time.hpp"
#include "gates/registry.hpp"

namespace promote::serve {

using nlohmann::json;

namespace {

// How long a promotion asked through the API is waited for before the answer says it runs on.
constexpr std::chrono::seconds k_answer_within{30};

unsigned status_of(const Error& error) {
  return error.kind == ErrorKind::usage || error.kind == ErrorKind::config ? 400 : 503;
}

http::Outgoing failed(const Error& error) {
  return error_response(status_of(error), to_string(error.kind), error.message);
}

// A promotion's result: its JSON and exit code, or the error that stopped it before an attempt.
http::Outgoing promotion_response(const Result<promoter::PromotionResult>& result) {
  if (!result) {
    return failed(result.error());
  }
  json document = report::to_json(*result);
  document["exit_code"] = result->exit_code();
  return json_response(200, document);
}

// A text member of the body, or "" when absent; false when present and not text.
bool text_of(const json& body, const char* key, std::string& out) {
  if (!body.contains(key)) {
    return true;
  }
  if (!body[key].is_string()) {
    return false;
  }
  out = body[key].get<std::string>();
  return true;
}

}  // namespace

http::Outgoing run_command(const Watched& watched, const std::string& stage,
                           const std::string& action, const std::string& actor,
                           const std::string& body_text,
                           const std::optional<std::filesystem::path>& history_path, Loop* loop) {
  const json body = body_text.empty() ? json::object() : json::parse(body_text, nullptr, false);
  std::string reason;
  std::string candidate;
  if (!body.is_object() || !text_of(body, "reason", reason) ||
      !text_of(body, "candidate", candidate)) {
    return error_response(400, "usage",
                          "the body is a JSON object with optional \"reason\" and \"candidate\" "
                          "(text)");
  }
  const auto& file = watched.file;
  const auto catalog = gates::Catalog::for_pipeline(file);
  http::Outgoing out;
  if (action == "approve" || action == "reject") {
    promoter::DecisionRequest request;
    request.pipeline_file = file;
    request.stage = stage;
    if (!candidate.empty()) {
      request.candidate = candidate;
    }
    request.approve = action == "approve";
    request.actor = actor;
    request.reason = reason;
    request.history_path = history_path;
    auto decided = promoter::decide(request, catalog);
    if (!decided) {
      return failed(decided.error());
    }
    out = json_response(200, {{"pipeline", decided->pipeline},
                              {"stage", decided->stage},
                              {"candidate_id", decided->candidate_id},
                              {"images", decided->images},
                              {"decision", decided->approve ? "approve" : "reject"},
                              {"actor", decided->actor},
                              {"reason", decided->reason},
                              {"at", util::format_utc(decided->at)}});
  } else if (action == "hold" || action == "release") {
    promoter::HoldRequest request{file, stage, action == "hold", reason, history_path, actor};
    auto done = promoter::set_hold(request, catalog);
    if (!done) {
      return failed(done.error());
    }
    out = json_response(200, {{"pipeline", done->pipeline},
                              {"stage", done->stage},
                              {"action", action},
                              {"actor", done->actor},
                              {"reason", done->reason},
                              {"at", util::format_utc(done->at)}});
  } else {  // promote, rollback
    promoter::Request request;
    request.pipeline_file = file;
    request.stage = stage;
    request.actor = actor;
    request.reason = reason;
    request.history_path = history_path;
    request.rollback = action == "rollback";
    request.workdir = watched.workdir;
    if (loop == nullptr) {
      return promotion_response(promoter::promote(request, catalog));
    }
    // On the loop's thread, as one of its evaluations: never beside another of the same stage.
    auto result = loop->submit(std::move(request));
    if (result.wait_for(k_answer_within) != std::future_status::ready) {
      return json_response(
          202, {{"pipeline", watched.pipeline.name},
                {"stage", stage},
                {"action", action},
                {"why", "still running after " + std::to_string(k_answer_within.count()) +
                            " s; its record will be in the history"}});
    }
    return promotion_response(result.get());
  }
  if (loop != nullptr) {
    loop->trigger(watched.pipeline.name);  // what it shows changed
  }
  return out;
}

}  // namespace promote::serve
