#include "gates/soak.hpp"

#include "engine/util/time.hpp"

namespace promote::gates {
namespace {

using Status = Verdict::Status;

// How long to wait before looking again for a stage not yet seen healthy.
constexpr std::chrono::seconds k_unverified_retry{60};

class SoakGate : public Gate {
 public:
  SoakGate(std::chrono::seconds min, bool since_healthy)
      : m_min(min), m_since_healthy(since_healthy) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    co_return judge(context);
  }

  nlohmann::json config() const override {
    nlohmann::json out = {{"min", pipeline::format_duration(m_min)}};
    if (m_since_healthy) {
      out["since"] = "healthy";
    }
    return out;
  }

  bool needs_source() const override { return true; }
  bool after_verification() const override { return m_since_healthy; }

 private:
  Verdict judge(const GateContext& context) const {
    if (!context.from) {
      return Verdict::make(Status::error, "stage '" + context.stage +
                                              "' has no source stage (from:) to soak in");
    }
    const std::string& from = *context.from;
    auto entry = context.timeline.entered(from, context.candidate);
    if (!entry) {
      return Verdict::make(Status::error, "cannot tell when the candidate entered " + from +
                                              ": " + entry.error().message);
    }
    if (!entry->has_value()) {
      return Verdict::make(Status::error, "no record says when candidate " +
                                              context.candidate.short_id() + " entered " + from);
    }
    auto at = (*entry)->at;
    nlohmann::json details = {{"stage", from},
                              {"entered_at", util::format_utc(at)},
                              {"entered_source", (*entry)->source}};
    std::string counted = "in " + from;
    if (m_since_healthy) {
      details["since"] = "healthy";
      const std::string& commit = (*entry)->commit;
      if (commit.empty()) {
        return Verdict::make(Status::error,
                             "no record names the commit that brought candidate " +
                                 context.candidate.short_id() + " into " + from +
                                 ", whose healthy deployment the soak counts from",
                             std::move(details));
      }
      details["commit"] = commit;
      auto healthy = context.timeline.healthy(from, commit);
      if (!healthy) {
        return Verdict::make(Status::error,
                             "cannot tell since when " + from +
                                 " runs the candidate healthy: " + healthy.error().message,
                             std::move(details));
      }
      if (!healthy->has_value()) {
        Verdict verdict = Verdict::make(
            Status::pending,
            "not yet seen running healthy in " + from + " (commit " + commit.substr(0, 12) +
                "): the soak counts from a verification gate's pass (argocd, flux, kubernetes "
                "here, or `promote verify --stage " +
                from + "`)",
            std::move(details));
        verdict.retry_after = k_unverified_retry;
        return verdict;
      }
      // Never before the candidate entered: a soak is never over-counted.
      at = std::max(at, (*healthy)->at);
      details["healthy_at"] = util::format_utc((*healthy)->at);
      details["healthy_source"] = (*healthy)->source;
      counted = "healthy in " + from;
    }
    const auto elapsed = std::max(std::chrono::seconds(0),
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      context.timeline.now() - at));
    details["elapsed_seconds"] = elapsed.count();
    details["min_seconds"] = m_min.count();
    const std::string soaked = counted + " for " + pipeline::format_duration(elapsed) + " of " +
                               pipeline::format_duration(m_min);
    if (elapsed >= m_min) {
      return Verdict::make(Status::pass, soaked, std::move(details));
    }
    const auto left = m_min - elapsed;
    Verdict verdict = Verdict::make(
        Status::pending, soaked + "; " + pipeline::format_duration(left) + " left",
        std::move(details));
    verdict.retry_after = left;
    return verdict;
  }

  std::chrono::seconds m_min;
  bool m_since_healthy;
};

}  // namespace

std::unique_ptr<Gate> make_soak(const pipeline::ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'soak' needs 'with: { min: <duration> }'");
    return nullptr;
  }
  if (!with.expect_map("gate 'soak'", {"min", "since"})) {
    return nullptr;
  }
  auto min = with.require("min", "gate 'soak'");
  if (!min) {
    return nullptr;
  }
  auto duration = min->as_duration("min");
  if (!duration) {
    return nullptr;
  }
  bool since_healthy = false;
  if (auto since = with.get("since")) {
    auto text = since->as_string("since");
    if (!text) {
      return nullptr;
    }
    if (*text != "commit" && *text != "healthy") {
      since->error("'since' must be 'commit' or 'healthy', got '" + *text + "'");
      return nullptr;
    }
    since_healthy = *text == "healthy";
  }
  return std::make_unique<SoakGate>(*duration, since_healthy);
}

}  // namespace promote::gates
