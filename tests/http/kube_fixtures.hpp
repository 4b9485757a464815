#pragma once
// What the HTTP and Kubernetes client tests share: an environment free of the runner's CA
// file, proxies, kubeconfig and cluster, and plugin scripts.

#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/support/support.hpp"

namespace promote::test {

/// No CA file and no proxy from the environment of whoever runs the tests.
struct CleanEnv {
  ScopedEnv ca{"PROMOTE_CA_FILE", std::nullopt};
  ScopedEnv cert{"SSL_CERT_FILE", std::nullopt};
  ScopedEnv https{"HTTPS_PROXY", std::nullopt};
  ScopedEnv https_lower{"https_proxy", std::nullopt};
  ScopedEnv http{"HTTP_PROXY", std::nullopt};
  ScopedEnv http_lower{"http_proxy", std::nullopt};
  ScopedEnv no{"NO_PROXY", std::nullopt};
  ScopedEnv no_lower{"no_proxy", std::nullopt};
};

/// No kubeconfig, cluster, CA file or proxy from whoever runs the tests; HOME is `home`.
struct KubeEnv {
  explicit KubeEnv(const std::string& home) : home_dir{"HOME", home} {}
  CleanEnv clean;
  ScopedEnv kubeconfig{"KUBECONFIG", std::nullopt};
  ScopedEnv home_dir;
  ScopedEnv host{"KUBERNETES_SERVICE_HOST", std::nullopt};
  ScopedEnv port{"KUBERNETES_SERVICE_PORT", std::nullopt};
  ScopedEnv account{"PROMOTE_SERVICEACCOUNT_DIR", std::nullopt};
};

/// Writes an executable /bin/sh script.
inline void write_script(const fs::path& path, const std::string& body) {
  write_text(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

}  // namespace promote::test
