#include "engine/promoter/hold.hpp"

#include "engine/history/history.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/time.hpp"

namespace promote::promoter {

Result<HoldResult> set_hold(const HoldRequest& request, const pipeline::GateCatalog& gates) {
  auto loaded = pipeline::load(request.pipeline_file, gates);
  if (!loaded) {
    return loaded.error();
  }
  auto named = loaded->stage_named(request.stage);
  if (!named) {
    return named.error();
  }
  const pipeline::Stage* stage = *named;
  if (request.hold && request.reason.empty()) {
    return make_error(ErrorKind::usage, "hold needs --reason: say why promotions into " +
                                            stage->name + " stop");
  }
  if (auto place = check_history_place(loaded->file, request.history_path); !place) {
    return place.error();
  }
  auto trust = RecordTrust::for_pipeline(*loaded, true);
  if (!trust) {
    return trust.error();
  }
  // Where signed records count, a hold is its signer's.
  auto signer = trust->own_principal();
  if (!signer) {
    return signer.error();
  }
  const history::PipelineId id = pipeline_identity(*loaded);
  HoldResult result{loaded->name,
                    stage->name,
                    request.hold,
                    !signer->empty()        ? *signer
                    : request.actor.empty() ? util::current_actor()
                                            : request.actor,
                    request.reason,
                    std::chrono::system_clock::now()};
  if (auto error = unrecordable(result.actor, result.reason)) {
    return *error;
  }
  // The check and the record under one lock: of two holds at once, the second sees the first.
  auto warning = record_on_head(
      *loaded, *trust, history_path(loaded->file, request.history_path),
      [&](history::History& history, const Result<Workspace>&) -> Result<std::string> {
        auto current = history.hold(id, stage->name);
        if (!current) {
          return current.error();
        }
        if (request.hold && current->has_value()) {
          return make_error(ErrorKind::usage, "stage " + stage->name + " is already held by " +
                                                  (*current)->actor + " since " +
                                                  util::format_utc((*current)->at) + ": " +
                                                  (*current)->reason);
        }
        if (!request.hold && !current->has_value()) {
          return make_error(ErrorKind::usage, "stage " + stage->name + " is not held");
        }
        result.at = std::chrono::system_clock::now();
        const history::HoldRecord record{result.pipeline, result.stage,
                                         request.hold ? "hold" : "release",
                                         result.actor, result.reason, result.at, "", id.file};
        if (auto recorded = history.record_hold(record); !recorded) {
          return recorded.error();
        }
        return history::note_line(record);
      });
  if (!warning) {
    return warning.error();
  }
  result.warning = std::move(*warning);
  return result;
}

}  // namespace promote::promoter
