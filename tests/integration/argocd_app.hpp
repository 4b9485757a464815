#pragma once
// An Argo CD Application as its API answers for shop-staging once an automated sync of a
// revision has Succeeded (the shape of argoproj/argo-cd's API, reduced to the fields the argocd
// gate reads), for the integration tests' Argo CD servers.

#include <nlohmann/json.hpp>

#include <string>

namespace promote::test {

/// shop-staging Synced and Healthy at `revision`, its sync started at `started`, finished at
/// `finished`, its health assessed at `reconciled` (RFC 3339 texts).
inline nlohmann::json argocd_application(const std::string& revision, const std::string& started,
                                         const std::string& finished,
                                         const std::string& reconciled) {
  return {{"metadata", {{"name", "shop-staging"}, {"namespace", "argocd"}}},
          {"spec",
           {{"source",
             {{"repoURL", "https://git.example.com/shop/deploy.git"},
              {"path", "k8s/staging"},
              {"targetRevision", "main"}}}}},
          {"status",
           {{"sync", {{"status", "Synced"}, {"revision", revision}}},
            {"health", {{"status", "Healthy"}}},
            {"operationState",
             {{"phase", "Succeeded"},
              {"message", "successfully synced (all tasks run)"},
              {"startedAt", started},
              {"finishedAt", finished},
              {"syncResult", {{"revision", revision}}}}},
            {"reconciledAt", reconciled}}}};
}

}  // namespace promote::test
