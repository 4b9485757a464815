#pragma once
// How a promotion is shown: a terminal report and the JSON document of
// schemas/promotion-result.schema.json.

#include <nlohmann/json.hpp>
#include <string>

#include "engine/promoter/promotion.hpp"
#include "engine/promoter/verify.hpp"

namespace promote::report {

struct Style {
  bool color = false;  ///< ANSI colours (only on a TTY, never with NO_COLOR)
};

/// The human report of a promotion: stage, images, gates, diff, outcome.
std::string render_text(const promoter::PromotionResult& result, const Style& style);

/// One screen on why a planned promotion would not go ahead (`promote explain --to`): the
/// outcome, then each gate that holds it up with what would change that, then the gates
/// that pass.
std::string explain_text(const promoter::PromotionResult& result);

/// The JSON document of a promotion (schemas/promotion-result.schema.json).
nlohmann::json to_json(const promoter::PromotionResult& result);

/// The report of `promote verify`: the stage's candidate, the commit that brought it, the
/// gates, the outcome and since when the stage runs it healthy.
std::string verify_text(const promoter::VerifyResult& result, const Style& style);

/// The JSON document of `promote verify` (schemas/verification.schema.json).
nlohmann::json verify_json(const promoter::VerifyResult& result);

/// The JSON document for an error that stopped promote before any attempt.
nlohmann::json error_json(const Error& error);

/// Whether colour should be used on a stream: a TTY and NO_COLOR unset.
bool use_color(int fd);

}  // namespace promote::report
