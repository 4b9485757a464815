// A prod stage that waits for staging's Argo CD application to run the candidate: the real
// promote binary, a GitOps repository of kustomize overlays, and an Argo CD API server on
// 127.0.0.1 that answers for shop-staging as Argo CD does (the shape of the Application of
// argoproj/argo-cd's API, reduced to the fields the gate reads).
#include <doctest/doctest.h>

#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "tests/integration/argocd_app.hpp"
#include "tests/integration/scratch_repo.hpp"
#include "tests/support/servers/https_api.hpp"

namespace {

using nlohmann::json;
using promote::test::ScratchRepo;

const char* const k_token_env = "PROMOTE_TEST_ARGOCD_TOKEN";

std::string pipeline(const std::string& server, const std::string& ca_file) {
  return "apiVersion: promote/v1\n"
         "kind: Pipeline\n"
         "metadata:\n"
         "  name: shop\n"
         "images:\n"
         "  - name: api\n"
         "    repository: ghcr.io/acme/api\n"
         "stages:\n"
         "  - name: staging\n"
         "    target:\n"
         "      kustomize: k8s/staging\n"
         "  - name: prod\n"
         "    from: staging\n"
         "    target:\n"
         "      kustomize: k8s/prod\n"
         "    gates:\n"
         "      - use: argocd\n"
         "        with:\n"
         "          server: " +
         server +
         "\n"
         "          token_env: " +
         k_token_env +
         "\n"
         "          applications: [shop-staging]\n"
         "          ca_file: " +
         ca_file + "\n";
}

std::string overlay(const std::string& tag) {
  return "apiVersion: kustomize.config.k8s.io/v1beta1\n"
         "kind: Kustomization\n"
         "resources:\n"
         "  - ../base\n"
         "images:\n"
         "  - name: ghcr.io/acme/api\n"
         "    newTag: " +
         tag + "\n";
}

// shop-staging as Argo CD reports it once an automated sync of `revision` has Succeeded
// and the health was reassessed `reassessed` seconds after the operation finished.
json application(const std::string& revision, int reassessed) {
  const std::string reconciled = reassessed >= 0 ? "2027-01-15T07:59:30Z" : "2027-01-15T07:58:30Z";
  return promote::test::argocd_application(revision, "2027-01-15T07:58:00Z",
                                           "2027-01-15T07:59:00Z", reconciled);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("argocd: prod waits until staging's application runs the commit that promoted it") {
    const promote::test::ScopedEnv token(k_token_env, std::string("argocd-integration-t0ken"));
    promote::test::HttpsApi server;
    std::mutex mutex;
    json app;
    server.route("GET", "/api/v1/applications/*", [&](const promote::test::ApiRequest&) {
      const std::lock_guard lock(mutex);
      return promote::test::json_reply(200, app.dump());
    });
    auto set = [&](json next) {
      const std::lock_guard lock(mutex);
      app = std::move(next);
    };
    ScratchRepo repo({{"promote.yaml", pipeline(server.url(), server.ca_file())},
                      {"k8s/base/kustomization.yaml", "resources: []\n"},
                      {"k8s/staging/kustomization.yaml", overlay("1.4.1")},
                      {"k8s/prod/kustomization.yaml", overlay("1.4.1")}});
    const std::string init = repo.head().substr(0, 40);
    const auto staged = repo.promote({"--to", "staging", "--image", "api=ghcr.io/acme/api:1.4.2"});
    INFO(staged.out << staged.err);
    REQUIRE(staged.exit_code == 0);
    const std::string commit = repo.head().substr(0, 40);
    REQUIRE(commit != init);

    auto prod = [&]() {
      const auto result = repo.promote({"--to", "prod", "--dry-run", "--output", "json"});
      INFO(result.err);
      json doc = json::parse(result.out);
      doc["exit_code"] = result.exit_code;
      return doc;
    };

    // Argo CD still runs the first commit: prod waits (exit 3).
    set(application(init, 1));
    json doc = prod();
    CHECK(doc["exit_code"] == 3);
    CHECK(doc["outcome"] == "pending");
    CHECK(doc["gates"][0]["status"] == "pending");
    CHECK(doc["gates"][0]["summary"] == "shop-staging: Synced at " + init.substr(0, 12) +
                                            ", older than commit " + commit.substr(0, 12));
    CHECK(doc["gates"][0]["details"]["commit"] == commit);
    CHECK(doc["gates"][0]["details"]["entered_source"] == "history");

    // Synced to the commit, but the health predates the sync.
    set(application(commit, -1));
    doc = prod();
    CHECK(doc["exit_code"] == 3);
    CHECK(doc["gates"][0]["status"] == "pending");

    // Healthy after the sync: prod may go.
    set(application(commit, 1));
    doc = prod();
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["gates"][0]["status"] == "pass");
    CHECK(doc["gates"][0]["summary"] == "shop-staging: Synced to " + commit.substr(0, 12) +
                                            ", sync Succeeded at 2027-01-15T07:59:00Z, Healthy "
                                            "(assessed at 2027-01-15T07:59:30Z)");
    CHECK(doc["gates"][0]["config"]["token_env"] == k_token_env);
    CHECK_FALSE(promote::test::contains(doc.dump(), "argocd-integration-t0ken"));
    const auto requests = server.requests("GET", "/api/v1/applications/shop-staging");
    REQUIRE_FALSE(requests.empty());
    CHECK(requests.back().header("Authorization") == "Bearer argocd-integration-t0ken");

    // A fresh clone without a history database reads the commit from the promote commit.
    std::filesystem::remove_all(repo.repo / ".promote");
    doc = prod();
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["gates"][0]["details"]["commit"] == commit);
    CHECK(doc["gates"][0]["details"]["entered_source"] ==
          "commit " + commit.substr(0, 12) + " (Promote trailers)");
  }
}
