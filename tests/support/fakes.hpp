#pragma once
// Fakes for the interfaces tests swap: a Timeline with a fixed clock and entries, and
// an ApprovalBook holding the decisions the test records.

#include <map>
#include <utility>
#include <vector>

#include "engine/gate.hpp"

namespace promote::test {

/// A Timeline whose clock and entries the test sets.
class FakeTimeline : public Timeline {
 public:
  TimePoint now_value = TimePoint(std::chrono::seconds(1'800'000'000));
  std::map<std::string, StageEntry> entries;  ///< stage -> entry, for any candidate
  /// "stage@commit" -> since when it runs healthy (a verification event)
  std::map<std::string, HealthyEntry> healthy_entries;
  std::optional<Error> failure;
  std::optional<Error> healthy_failure;

  TimePoint now() const override { return now_value; }
  Result<std::optional<StageEntry>> entered(const std::string& stage,
                                            const Candidate&) const override {
    if (failure) {
      return *failure;
    }
    if (auto it = entries.find(stage); it != entries.end()) {
      return std::optional<StageEntry>(it->second);
    }
    return std::optional<StageEntry>();
  }
  Result<std::optional<HealthyEntry>> healthy(const std::string& stage,
                                              const std::string& commit) const override {
    if (healthy_failure) {
      return *healthy_failure;
    }
    if (auto it = healthy_entries.find(stage + "@" + commit); it != healthy_entries.end()) {
      return std::optional<HealthyEntry>(it->second);
    }
    return std::optional<HealthyEntry>();
  }
};

/// An ApprovalBook holding decisions in memory.
class FakeApprovals : public ApprovalBook {
 public:
  std::vector<Approval> all;
  std::optional<Error> failure;

  Result<std::vector<Approval>> decisions(const std::string& stage,
                                          const std::string& candidate_id) const override {
    if (failure) {
      return *failure;
    }
    std::vector<Approval> out;
    for (const auto& approval : all) {
      if (approval.stage == stage && approval.candidate_id == candidate_id) {
        out.push_back(approval);
      }
    }
    return out;
  }
};

}  // namespace promote::test
