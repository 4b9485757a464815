#include "engine/promoter/approve.hpp"

#include <algorithm>

#include "engine/history/history.hpp"
#include "engine/promoter/ledger.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/promoter/scope.hpp"
#include "engine/promoter/workspace.hpp"
#include "engine/util/actor.hpp"
#include "engine/util/text.hpp"

namespace promote::promoter {

namespace {

constexpr std::size_t k_min_prefix = 12;

bool is_hex(const std::string& text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<std::vector<Approval>> HistoryApprovals::decisions(const std::string& stage,
                                                          const std::string& candidate_id) const {
  std::vector<Approval> out;
  if (m_history != nullptr) {
    auto rows = m_history->approvals(m_pipeline, stage, candidate_id);
    if (!rows) {
      return rows.error();
    }
    for (auto& row : *rows) {
      out.push_back(Approval{std::move(row.actor), std::move(row.candidate_id),
                             std::move(row.stage), row.decision == "approve", std::move(row.reason),
                             row.at});
    }
  }
  for (const Approval& review : m_reviews) {
    if (review.stage == stage && review.candidate_id == candidate_id) {
      out.push_back(review);
    }
  }
  // Oldest first, whichever book a decision came from.
  std::stable_sort(out.begin(), out.end(),
                   [](const Approval& a, const Approval& b) { return a.at < b.at; });
  return out;
}

Result<DecisionResult> decide(const DecisionRequest& request, const pipeline::GateCatalog& gates) {
  auto loaded = pipeline::load(request.pipeline_file, gates);
  if (!loaded) {
    return loaded.error();
  }
  const pipeline::Pipeline& pipeline = *loaded;
  auto named = pipeline.stage_named(request.stage);
  if (!named) {
    return named.error();
  }
  const pipeline::Stage* stage = *named;
  const std::string verb = request.approve ? "approve" : "reject";
  DecisionResult result;
  result.pipeline = pipeline.name;
  result.stage = stage->name;
  result.approve = request.approve;
  auto trust = RecordTrust::for_pipeline(pipeline, true);
  if (!trust) {
    return trust.error();
  }
  // Where signed records count, a decision is its signer's: no one decides for someone else.
  auto signer = trust->own_principal();
  if (!signer) {
    return signer.error();
  }
  if (!signer->empty() && !request.actor.empty() && request.actor != *signer) {
    return usage("the pipeline counts signed records only (trust.signed), and the key of " +
                 std::string(git::k_signing_key_variable) + " is " + util::one_line(*signer) +
                 "'s: --actor " + util::one_line(request.actor) + " cannot " + verb + " with it");
  }
  result.actor = !signer->empty()        ? *signer
                 : request.actor.empty() ? util::current_actor()
                                         : request.actor;
  result.reason = request.reason;
  if (auto error = unrecordable(result.actor, result.reason)) {
    return *error;
  }

  if (request.candidate) {
    const std::string& id = *request.candidate;
    if (id.size() < k_min_prefix || id.size() > 64 || !is_hex(id)) {
      return usage("--candidate must be a candidate id: 12 to 64 lower-case hex digits, got '" +
                   id + "'");
    }
  } else if (!stage->from) {
    return usage("stage '" + stage->name + "' has no source stage: give the candidate to " + verb +
                 " with --candidate ID (promote --to " + stage->name + " --dry-run shows it)");
  }
  if (auto place = check_history_place(pipeline.file, request.history_path); !place) {
    return place.error();
  }
  result.history = history_path(pipeline.file, request.history_path);
  const std::string pipeline_file = pipeline_identity(pipeline).file;
  // Under the write lock: the candidate is read while no promotion in this checkout writes.
  auto warning = record_on_head(
      pipeline, *trust, result.history,
      [&](history::History& history, const Result<Workspace>& workspace) -> Result<std::string> {
        // The candidate the stage would get now, when it has a source stage.
        std::optional<Candidate> current;
        if (stage->from) {
          if (!workspace) {
            return workspace.error();
          }
          auto candidate = candidate_for(pipeline, *stage, workspace->root());
          if (!candidate) {
            return candidate.error();
          }
          current = std::move(*candidate);
        }
        if (!request.candidate) {
          result.candidate_id = current->id();
        } else if (const std::string& id = *request.candidate;
                   current && current->id().starts_with(id)) {
          result.candidate_id = current->id();
        } else if (id.size() == 64) {
          result.candidate_id = id;
        } else {
          return usage("--candidate " + id + " is not the candidate " + stage->name +
                       " would get now" +
                       (current ? " (" + current->short_id() + ")" : std::string()) +
                       "; give the full 64-hex id to " + verb + " another one");
        }
        if (current && current->id() == result.candidate_id) {
          result.images = current->to_json()["images"];
        }
        result.at = std::chrono::system_clock::now();
        const history::ApprovalRecord record{result.pipeline, result.stage, result.candidate_id,
                                             verb,            result.actor, result.reason,
                                             result.at,       "",           pipeline_file};
        if (auto recorded = history.record_approval(record); !recorded) {
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
