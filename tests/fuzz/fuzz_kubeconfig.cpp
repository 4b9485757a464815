// Fuzzes the kubeconfig reader: a text either reads into a kubeconfig, whose contexts can then be
// chosen, or fails with a message that names the file; no input crashes it. RFC 3339 times (an
// ExecCredential's expirationTimestamp) are read from the same bytes.
#include "engine/http/kube_exec.hpp"
#include "engine/http/kubeconfig.hpp"
#include "engine/util/time.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  namespace kube = promote::kube;
  const auto text = promote::fuzz::as_text(data, size);
  const auto config = kube::parse_kubeconfig(text, "kubeconfig", "/nonexistent/promote-fuzz");
  if (!config) {
    promote::fuzz::require(config.error().message.rfind("kubeconfig", 0) == 0,
                           "an error that does not name the file: " + config.error().message);
  } else {
    for (const std::string name : {"", "staging", "prod"}) {
      const auto connection = kube::select_context(*config, name);
      if (connection && connection->user.exec) {
        const std::string info = kube::exec_info(*connection->user.exec, connection->cluster);
        promote::fuzz::require(!info.empty(), "an empty KUBERNETES_EXEC_INFO");
      }
    }
  }
  (void)promote::util::parse_rfc3339(text);
  return 0;
}
