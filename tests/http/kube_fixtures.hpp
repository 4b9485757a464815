#pragma once
// What the Kubernetes client tests share: environment variables set for a scope, an
// environment free of the runner's kubeconfig, cluster and proxies, and plugin scripts.

#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/support/support.hpp"

namespace promote::test {

/// Sets an environment variable (or unsets it, with nullopt) until the end of the scope.
class ScopedVariable {
 public:
  ScopedVariable(std::string name, const std::optional<std::string>& value)
      : m_name(std::move(name)) {
    if (const char* old = std::getenv(m_name.c_str())) {
      m_old = old;
    }
    if (value) {
      setenv(m_name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(m_name.c_str());
    }
  }
  ~ScopedVariable() {
    if (m_old) {
      setenv(m_name.c_str(), m_old->c_str(), 1);
    } else {
      unsetenv(m_name.c_str());
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  std::string m_name;
  std::optional<std::string> m_old;
};

/// No kubeconfig, cluster, CA file or proxy from whoever runs the tests; HOME is `home`.
struct KubeEnv {
  explicit KubeEnv(const std::string& home) : home_dir{"HOME", home} {}
  ScopedVariable kubeconfig{"KUBECONFIG", std::nullopt};
  ScopedVariable home_dir;
  ScopedVariable host{"KUBERNETES_SERVICE_HOST", std::nullopt};
  ScopedVariable port{"KUBERNETES_SERVICE_PORT", std::nullopt};
  ScopedVariable account{"PROMOTE_SERVICEACCOUNT_DIR", std::nullopt};
  ScopedVariable ca{"PROMOTE_CA_FILE", std::nullopt};
  ScopedVariable cert{"SSL_CERT_FILE", std::nullopt};
  ScopedVariable https{"HTTPS_PROXY", std::nullopt};
  ScopedVariable https_lower{"https_proxy", std::nullopt};
  ScopedVariable http{"HTTP_PROXY", std::nullopt};
  ScopedVariable http_lower{"http_proxy", std::nullopt};
};

/// Writes an executable /bin/sh script.
inline void write_script(const fs::path& path, const std::string& body) {
  write_text(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

}  // namespace promote::test
