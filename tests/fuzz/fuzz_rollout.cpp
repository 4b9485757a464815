// Fuzzes the kubernetes gate's judgement of a workload as the API returns it: any JSON object
// gets a rollout state and a message, and only a Deployment, StatefulSet or DaemonSet can be
// complete; the images of its pod template are strings of it.
#include <nlohmann/json.hpp>

#include "gates/kubernetes.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::gates::Rollout;
  const auto object = nlohmann::json::parse(promote::fuzz::as_text(data, size), nullptr, false);
  if (object.is_discarded()) {
    return 0;
  }
  const Rollout rollout = promote::gates::rollout_status(object);
  promote::fuzz::require(!rollout.message.empty(), "a rollout state without a message");
  const std::string kind =
      object.is_object() && object.contains("kind") && object["kind"].is_string()
          ? object["kind"].get<std::string>()
          : "";
  if (kind != "Deployment" && kind != "StatefulSet" && kind != "DaemonSet") {
    promote::fuzz::require(rollout.state == Rollout::State::unknown,
                           "a judgement of an object that is no workload");
  }
  for (const auto& image : promote::gates::workload_images(object)) {
    promote::fuzz::require(!image.empty(), "an empty image");
  }
  return 0;
}
