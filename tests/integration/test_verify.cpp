// Soak measured from a healthy deployment: `promote verify --stage staging` runs staging's
// verification gates on what it holds, records the first time they see it healthy (the history
// and the git notes), and prod's `soak: {since: healthy}` counts from there; a promotion into
// prod whose own argocd gate sees staging healthy records it too. The real promote binary, a
// GitOps repository with a bare remote, and an Argo CD API server on 127.0.0.1 that answers as
// Argo CD does (the Application shape of argoproj/argo-cd's API, reduced to what is read).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/promoter/promotion.hpp"
#include "engine/util/time.hpp"
#include "gates/registry.hpp"
#include "tests/integration/argocd_app.hpp"
#include "tests/integration/scratch_repo.hpp"
#include "tests/support/servers/https_api.hpp"

namespace {

using nlohmann::json;
using promote::test::ScratchRepo;
using Clock = std::chrono::system_clock;

const char* const k_token_env = "PROMOTE_TEST_ARGOCD_TOKEN";

std::string argocd_gate(const std::string& indent, const std::string& server,
                        const std::string& ca_file) {
  return indent + "- use: argocd\n" + indent + "  with:\n" + indent + "    server: " + server +
         "\n" + indent + "    token_env: " + k_token_env + "\n" + indent +
         "    applications: [shop-staging]\n" + indent + "    ca_file: " + ca_file + "\n";
}

// staging verified by its own `verify:`, or (`on_prod`) by prod's argocd gate; prod soaks an
// hour from the healthy deployment.
std::string pipeline(const std::string& server, const std::string& ca_file, bool on_prod) {
  std::string text =
      "apiVersion: promote/v1\n"
      "kind: Pipeline\n"
      "metadata:\n"
      "  name: shop\n"
      "images:\n"
      "  - name: api\n"
      "    repository: ghcr.io/acme/api\n"
      "stages:\n"
      "  - name: staging\n"
      "    target:\n"
      "      kustomize: k8s/staging\n";
  if (!on_prod) {
    text += "    verify:\n" + argocd_gate("      ", server, ca_file);
  }
  text +=
      "  - name: prod\n"
      "    from: staging\n"
      "    target:\n"
      "      kustomize: k8s/prod\n"
      "    gates:\n"
      "      - use: soak\n"
      "        with: {min: 1h, since: healthy}\n";
  if (on_prod) {
    text += argocd_gate("      ", server, ca_file);
  }
  return text;
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

// staging gets api 1.4.2 by a commit of three hours ago (a soak never counts from before the
// candidate entered); returns the commit.
std::string release_in_staging(const ScratchRepo& repo) {
  promote::test::write_text(repo.repo / "k8s/staging/kustomization.yaml", overlay("1.4.2"));
  promote::test::sh(
      "git add -A && GIT_COMMITTER_DATE=\"$(date -u -d '3 hours ago' +%Y-%m-%dT%H:%M:%SZ)\" "
      "git commit -q -m 'staging: api 1.4.2' && git push -q origin main",
      repo.repo);
  return repo.head().substr(0, 40);
}

std::string rfc3339(Clock::time_point at) {
  return promote::util::format_utc(at);
}

// shop-staging once an automated sync of `revision` finished at `finished` Succeeded, its health
// reassessed a second later.
json application(const std::string& revision, Clock::time_point finished) {
  return promote::test::argocd_application(revision, rfc3339(finished - std::chrono::seconds(30)),
                                           rfc3339(finished),
                                           rfc3339(finished + std::chrono::seconds(1)));
}

// An Argo CD server whose shop-staging the test sets.
struct ArgoServer {
  promote::test::HttpsApi server;
  std::mutex mutex;
  json app;
  ArgoServer() {
    server.route("GET", "/api/v1/applications/*", [this](const promote::test::ApiRequest&) {
      const std::lock_guard lock(mutex);
      return promote::test::json_reply(200, app.dump());
    });
  }
  void set(json next) {
    const std::lock_guard lock(mutex);
    app = std::move(next);
  }
};

// What `promote ARGS --output json` printed, with its exit code as "exit_code" (an object).
json run_json(const ScratchRepo& repo, std::vector<std::string> args) {
  args.push_back("--output");
  args.push_back("json");
  const auto result = repo.promote(args);
  INFO(result.out << result.err);
  json doc = json::parse(result.out, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  if (doc.is_object()) {
    doc["exit_code"] = result.exit_code;
  }
  return doc;
}

// How many verifications the history holds (none when there is no history yet).
std::size_t verified_rows(const ScratchRepo& repo) {
  const json rows = run_json(repo, {"history", "--outcome", "verified"});
  return rows.is_array() ? rows.size() : 0;
}

// The JSON documents checked against their schema with tests/integration/validate_json.py.
void check_schema(const ScratchRepo& repo, const std::string& schema, const json& doc) {
  json clean = doc;
  if (clean.is_object()) {
    clean.erase("exit_code");
  }
  const auto file = repo.dir / "doc.json";
  promote::test::write_text(file, clean.dump());
  const auto checked = promote::test::run(
      {"/usr/bin/python3", std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
       std::string(PROMOTE_SOURCE_DIR) + "/schemas/" + schema, file.string()});
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);
}

// The Argo CD server of the test and a repository whose pipeline asks it (prod's own verify:
// list when `prod_verifies`), staging and prod both at 1.4.1.
struct ArgoRepo {
  const promote::test::ScopedEnv token{k_token_env, std::string("argocd-verify-t0ken")};
  ArgoServer argo;
  ScratchRepo repo;
  explicit ArgoRepo(bool prod_verifies)
      : repo({{"promote.yaml", pipeline(argo.server.url(), argo.server.ca_file(), prod_verifies)},
              {"k8s/base/kustomization.yaml", "resources: []\n"},
              {"k8s/staging/kustomization.yaml", overlay("1.4.1")},
              {"k8s/prod/kustomization.yaml", overlay("1.4.1")}}) {}
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "verify: the first healthy observation of staging is recorded, and prod soaks from it") {
    ArgoRepo fixture(false);
    ArgoServer& argo = fixture.argo;
    ScratchRepo& repo = fixture.repo;
    const std::string init = repo.head().substr(0, 40);
    const std::string commit = release_in_staging(repo);
    const auto synced = Clock::now() - std::chrono::minutes(10);

    // Argo CD still runs the commit before: not yet (exit 3), nothing recorded; prod's soak
    // has not started.
    argo.set(application(init, synced));
    json doc = run_json(repo, {"verify", "--stage", "staging"});
    CHECK(doc["exit_code"] == 3);
    CHECK(doc["outcome"] == "pending");
    CHECK(doc["commit"] == commit);
    CHECK(doc["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.2");
    CHECK(doc["gates"][0]["status"] == "pending");
    CHECK(doc["healthy_since"].is_null());
    CHECK(doc["recorded"].is_null());
    check_schema(repo, "verification.schema.json", doc);
    CHECK(verified_rows(repo) == 0);
    doc = run_json(repo, {"--to", "prod", "--dry-run"});
    CHECK(doc["exit_code"] == 3);
    CHECK(doc["gates"][0]["status"] == "pending");
    CHECK(doc["gates"][0]["summary"] ==
          "not yet seen running healthy in staging (commit " + commit.substr(0, 12) +
              "): the soak counts from a verification gate's pass (argocd, flux, kubernetes "
              "here, or `promote verify --stage staging`)");
    CHECK(doc["gates"][0]["retry_after_seconds"] == 60);

    // Synced to the commit ten minutes ago and healthy: verified (exit 0), recorded once.
    argo.set(application(commit, synced));
    doc = run_json(repo, {"verify", "--stage", "staging"});
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["outcome"] == "verified");
    CHECK(doc["healthy_since"] == rfc3339(synced));
    CHECK(doc["healthy_source"] == "this run");
    REQUIRE(doc["recorded"].is_string());
    const std::string recorded = doc["recorded"];
    check_schema(repo, "verification.schema.json", doc);
    const json rows = run_json(repo, {"history", "--outcome", "verified"});
    REQUIRE(rows.size() == 1);
    const json& row = rows[0];
    CHECK(row["id"] == recorded);
    CHECK(row["stage"] == "staging");
    CHECK(row["from"] == "");
    CHECK(row["commit"] == commit);
    CHECK(row["healthy_since"].get<std::string>().substr(0, 19) == rfc3339(synced).substr(0, 19));
    CHECK(row["gates"][0]["use"] == "argocd");
    check_schema(repo, "history.schema.json", rows);
    // In the remote's notes, on the commit that brought the release into staging.
    const std::string note = promote::test::sh(
        "git --git-dir=remote.git notes --ref=promote show " + commit, repo.dir.path());
    CHECK(note.find("\"outcome\":\"verified\"") != std::string::npos);
    CHECK(note.find(recorded) != std::string::npos);
    CHECK_FALSE(promote::test::contains(note, "argocd-verify-t0ken"));

    // Seen again: the first observation stands.
    argo.set(application(commit, Clock::now()));
    doc = run_json(repo, {"verify", "--stage", "staging"});
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["healthy_since"] == rfc3339(synced));
    CHECK(doc["healthy_source"] == "verification " + recorded + " (history)");
    CHECK(doc["recorded"].is_null());
    CHECK(verified_rows(repo) == 1);
    const auto text = repo.promote({"verify", "--stage", "staging"});
    CHECK(text.exit_code == 0);
    INFO(text.out);
    CHECK(text.out.find("verify shop: staging   candidate ") == 0);
    CHECK(text.out.find("  brought by commit " + commit.substr(0, 12) +
                        " (last change of k8s/staging)\n") != std::string::npos);
    CHECK(text.out.find("\noutcome: verified   healthy since " + rfc3339(synced) +
                        " (verification " + recorded + " (history))\n") != std::string::npos);

    // prod counts its hour from the healthy deployment, not from the commit.
    doc = run_json(repo, {"--to", "prod", "--dry-run"});
    CHECK(doc["exit_code"] == 3);
    const json& soak = doc["gates"][0];
    CHECK(soak["status"] == "pending");
    CHECK(soak["details"]["since"] == "healthy");
    CHECK(soak["details"]["healthy_source"] == "verification " + recorded + " (history)");
    CHECK(soak["summary"].get<std::string>().starts_with("healthy in staging for 10m"));
    CHECK(soak["config"] == json{{"min", "1h"}, {"since", "healthy"}});

    // Degraded: verify fails (exit 1) and records nothing more.
    json degraded = application(commit, synced);
    degraded["status"]["health"] = {{"status", "Degraded"}, {"message", "Back-off pulling image"}};
    argo.set(degraded);
    doc = run_json(repo, {"verify", "--stage", "staging"});
    CHECK(doc["exit_code"] == 1);
    CHECK(doc["outcome"] == "blocked");
    CHECK(verified_rows(repo) == 1);

    // A stage without verification gates, or an unknown one: exit 2, said so.
    doc = run_json(repo, {"verify", "--stage", "prod"});
    CHECK(doc["exit_code"] == 2);
    CHECK(doc["error"]["message"] ==
          "stage 'prod' has no verification gates: give it 'verify:' (argocd, flux or kubernetes "
          "gates that observe it), or a stage 'from: prod' gates of those kinds");
    check_schema(repo, "verification.schema.json", doc);
    doc = run_json(repo, {"verify", "--stage", "stagin"});
    CHECK(doc["exit_code"] == 2);
    CHECK(doc["error"]["message"] ==
          "the pipeline has no stage 'stagin' (did you mean 'staging'?)");
  }

  TEST_CASE(
      "verify: prod's own argocd gate records staging's healthy deployment, and its soak "
      "counts from it in the same run") {
    ArgoRepo fixture(true);
    ArgoServer& argo = fixture.argo;
    ScratchRepo& repo = fixture.repo;
    const std::string commit = release_in_staging(repo);

    // A dry run sees it, soaks from it, and records nothing.
    argo.set(application(commit, Clock::now() - std::chrono::minutes(90)));
    json doc = run_json(repo, {"--to", "prod", "--dry-run"});
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["gates"][0]["status"] == "pass");
    CHECK(doc["gates"][0]["details"]["healthy_source"] == "argocd (this run)");
    CHECK(doc["gates"][1]["status"] == "pass");
    CHECK(verified_rows(repo) == 0);

    // `promote verify --stage staging` takes prod's argocd gate (staging has no verify:).
    doc = run_json(repo, {"verify", "--stage", "staging", "--history", "other.db"});
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["gates"].size() == 1);
    CHECK(doc["gates"][0]["name"] == "argocd");

    // The promotion records the verification before itself; prod got the release.
    doc = run_json(repo, {"--to", "prod"});
    CHECK(doc["exit_code"] == 0);
    CHECK(doc["outcome"] == "promoted");
    const json rows = run_json(repo, {"history"});
    REQUIRE(rows.size() == 2);
    CHECK(rows[0]["outcome"] == "promoted");
    CHECK(rows[0]["stage"] == "prod");
    CHECK(rows[1]["outcome"] == "verified");
    CHECK(rows[1]["stage"] == "staging");
    CHECK(rows[1]["commit"] == commit);
    CHECK(run_json(repo, {"audit", "verify"})["exit_code"] == 0);
  }

  TEST_CASE(
      "verify: an attempt not recorded (unchanged, as the service skips) still records "
      "the first healthy observation") {
    ArgoRepo fixture(true);
    ArgoServer& argo = fixture.argo;
    ScratchRepo& repo = fixture.repo;
    const std::string commit = release_in_staging(repo);
    argo.set(application(commit, Clock::now() - std::chrono::minutes(10)));
    promote::promoter::Request request;
    request.pipeline_file = repo.repo / "promote.yaml";
    request.stage = "prod";
    request.actor = "promote-serve";
    bool asked = false;
    request.record_unchanged = [&](const promote::promoter::PromotionResult&) {
      asked = true;
      return false;
    };
    auto result = promote::promoter::promote(
        request, promote::gates::Catalog::for_pipeline(request.pipeline_file));
    REQUIRE(result.has_value());
    CHECK(result->outcome == promote::promoter::Outcome::pending);  // 10m of 1h
    CHECK(asked);
    // The pending attempt is not recorded; the observation is, once.
    const json rows = run_json(repo, {"history"});
    REQUIRE(rows.is_array());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0]["outcome"] == "verified");
    CHECK(rows[0]["stage"] == "staging");
  }
}
