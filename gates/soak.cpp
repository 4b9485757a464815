#include "gates/soak.hpp"

#include "engine/util/time.hpp"


namespace promote::gates {
namespace {

using Status = Verdict::Status;

class SoakGate : public Gate {
 public:
  explicit SoakGate(std::chrono::seconds min) : m_min(min) {}

  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override {
    co_return judge(context);
  }

  nlohmann::json config() const override { return {{"min", pipeline::format_duration(m_min)}}; }

  bool needs_source() const override { return true; }

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
    const auto& at = (*entry)->at;
    const auto& source = (*entry)->source;
    const auto elapsed = std::max(std::chrono::seconds(0),
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      context.timeline.now() - at));
    nlohmann::json details = {{"stage", from},
                              {"entered_at", util::format_utc(at)},
                              {"entered_source", source},
                              {"elapsed_seconds", elapsed.count()},
                              {"min_seconds", m_min.count()}};
    const std::string soaked =
        "in " + from + " for " + pipeline::format_duration(elapsed) + " of " +
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
};

}  // namespace

std::unique_ptr<Gate> make_soak(const pipeline::ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'soak' needs 'with: { min: <duration> }'");
    return nullptr;
  }
  if (!with.expect_map("gate 'soak'", {"min"})) {
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
  return std::make_unique<SoakGate>(*duration);
}

}  // namespace promote::gates
