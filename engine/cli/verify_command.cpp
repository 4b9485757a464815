// `promote verify --stage S`: the stage's verification gates on what it holds now.
#include <iostream>

#include "engine/cli/options.hpp"
#include "engine/promoter/verify.hpp"
#include "engine/report/report.hpp"
#include "engine/util/json.hpp"
#include "engine/util/log.hpp"
#include "engine/util/text.hpp"

namespace promote::cli {

int run_verify_stage(const Options& options) {
  const bool json = options.output == "json";
  auto loaded = load(options);
  if (!loaded) {
    return fail(loaded.error(), json);
  }
  promoter::VerifyRequest request;
  request.stage = options.stage;
  request.history_path = history_flag(options);
  request.actor = options.actor;
  if (util::verbosity() == util::Verbosity::verbose) {
    request.on_progress = [](const std::string& text) {
      std::cerr << "promote: " << util::one_line(text) << "\n";
    };
  }
  auto result = promoter::verify(*loaded, request);
  if (!result) {
    return fail(result.error(), json);
  }
  if (json) {
    std::cout << util::dump_json(report::verify_json(*result), 2) << "\n";
  } else if (util::verbosity() != util::Verbosity::quiet || result->exit_code() != 0) {
    std::cout << report::verify_text(*result, report::Style{report::use_color(1)});
  }
  return result->exit_code();
}

}  // namespace promote::cli
