// Fuzzes the flux gate's judgement of a Kustomization or HelmRelease as the API returns it: any
// JSON gets a state and a message, only those two kinds can be ready, and a revision's commit is
// hex or nothing.
#include <nlohmann/json.hpp>

#include "gates/flux.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using promote::gates::FluxState;
  const auto object = nlohmann::json::parse(promote::fuzz::as_text(data, size), nullptr, false);
  if (object.is_discarded()) {
    return 0;
  }
  // Git knows the commits that start with a digit, and those with an even first digit hold it.
  const auto contains = [](const std::string& commit) -> std::optional<bool> {
    if (commit.empty() || commit[0] < '0' || commit[0] > '9') {
      return std::nullopt;
    }
    return (commit[0] - '0') % 2 == 0;
  };
  for (const std::string chart : {"", "6.5.0"}) {
    const FluxState state = promote::gates::flux_status(object, contains, chart);
    promote::fuzz::require(!state.message.empty(), "a state without a message");
    const std::string kind =
        object.is_object() && object.contains("kind") && object["kind"].is_string()
            ? object["kind"].get<std::string>()
            : "";
    if (kind != "Kustomization" && kind != "HelmRelease") {
      promote::fuzz::require(state.state == FluxState::State::unknown,
                             "a judgement of an object that is no Flux object");
    }
    const std::string commit = promote::gates::flux_commit(state.revision);
    promote::fuzz::require(commit.find_first_not_of("0123456789abcdef") == std::string::npos,
                           "a commit that is not hex");
  }
  return 0;
}
