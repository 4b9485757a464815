#pragma once
// The canonical record of a promotion as text, built without a JSON tree: what the hash
// chain covers. It is byte for byte util::dump_json(to_json(record)) (a test holds the two
// together), built from the texts the database stores, so that `audit verify` need not
// parse a million rows to check them.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/history/history.hpp"

namespace promote::history::detail {

/// A gate verdict as stored: plain strings, and JSON texts as util::dump_json wrote them.
struct GateText {
  std::string name;
  std::string use;
  std::string status;
  std::string summary;
  std::string details_json;
  std::string config_json;
  std::optional<long long> retry_after_seconds;
  std::vector<std::pair<std::string, std::string>> evidence;  ///< path, sha256
};

/// A promotion as stored (without its hash).
struct PromotionText {
  std::string id;
  std::string pipeline;
  std::string stage;
  std::string from;
  std::string candidate_id;
  std::string images_json;
  std::string outcome;
  std::string actor;
  std::string reason;
  std::string ci_provider;
  std::string ci_run_url;
  std::string commit;
  std::string error;
  std::string started;   ///< format_time text
  std::string finished;  ///< format_time text
  bool break_glass = false;
  std::string pull_request;
  std::string rollback_of;
  bool gates_skipped = false;
  std::string previous_json;
  std::string files_json;
  std::vector<GateText> gates;
  std::string pipeline_file;  ///< "" in a record written before it was kept (then left out)
  std::string places_json = "[]";  ///< "[]" when there are none (then left out)
  std::string charts_json = "{}";  ///< "{}" when there are none (then left out)
  std::string carried_json = "{}";  ///< "{}" when there are none (then left out)
  std::string healthy_since;  ///< format_time text; "" unless verified (then left out)
};

/// The texts promote stores for `record`.
PromotionText text_of(const PromotionRecord& record);

/// The canonical record: compact JSON, keys sorted, the JSON texts embedded as they are.
std::string canonical(const PromotionText& text);

}  // namespace promote::history::detail
