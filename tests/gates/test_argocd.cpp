// The argocd gate against an Argo CD API server on 127.0.0.1 that answers with the real
// Application documents of the shared corpus (argocd/, see its SOURCES.md), changed per
// scenario in code, and a real repository whose commits the revisions are judged against.

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "engine/git/repository.hpp"
#include "engine/util/time.hpp"
#include "gates/argocd.hpp"
#include "gates/registry.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/servers/http_script.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"
#include "tests/support/yaml_json.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using promote::Verdict;
using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;
using promote::test::ApiReply;
using promote::test::ApiRequest;
using promote::test::json_reply;
using promote::test::sh;
using Status = Verdict::Status;

namespace {

const char* const k_token_env = "PROMOTE_TEST_ARGOCD_TOKEN";
const std::string k_token = "argocd-t0ken-5e1f09c2";
const std::string k_git = "git -c user.name=t -c user.email=t@e -c commit.gpgsign=false ";

// The times of a sync operation and of the health assessments before and after it.
const std::string k_started = "2027-01-15T07:58:00Z";
const std::string k_finished = "2027-01-15T07:59:00Z";
const std::string k_stale = "2027-01-15T07:58:30Z";
const std::string k_fresh = "2027-01-15T07:59:30Z";

// The corpus directory of Argo CD documents, or nullopt (said once on stderr).
std::optional<fs::path> argocd_corpus() {
  const auto root = promote::test::corpus_dir();
  if (root &&
      fs::exists(*root / "argocd" / "argo-cd__app-healthy-synced-history-op-succeeded.yaml")) {
    return *root / "argocd";
  }
  static bool said = false;
  if (!said) {
    said = true;
    std::cerr << "argocd corpus cases skipped: no argocd/ in the shared corpus "
                 "($PROMOTE_CORPUS or ../shared/corpus)\n";
  }
  return std::nullopt;
}

bool has_argocd_corpus() {
  return argocd_corpus().has_value();
}

// A corpus document as JSON, named `name` (metadata.name).
json corpus_app(const std::string& file, const std::string& name = "shop-staging") {
  json app = promote::test::yaml_to_json(YAML::LoadFile((*argocd_corpus() / file).string()));
  app["metadata"]["name"] = name;
  return app;
}

std::string corpus_text(const std::string& file) {
  return promote::test::read_text(*argocd_corpus() / file);
}

// A repository with the commit graph the revisions are judged against:
//   base -- entered -- later      (main; `entered` brought the candidate into staging)
//       \-- side                  (a branch that never holds `entered`)
struct Commits : promote::CommitGraph {
  promote::test::TempDir dir;
  std::string base;
  std::string entered;
  std::string later;
  std::string side;
  std::optional<promote::git::Repository> repository;

  Commits() {
    auto commit = [&](const std::string& message) {
      sh(k_git + "commit -q --allow-empty -m '" + message + "'", dir.path());
      std::string id = sh("git rev-parse HEAD", dir.path());
      return id.substr(0, 40);
    };
    sh("git init -q -b main", dir.path());
    base = commit("base");
    sh("git checkout -q -b side", dir.path());
    side = commit("side");
    sh("git checkout -q main", dir.path());
    entered = commit("promote(staging): api 1.4.2");
    later = commit("later");
    repository.emplace(promote::git::Repository::open(dir.path()).value());
  }

  promote::Result<std::optional<bool>> contains(const std::string& revision,
                                                const std::string& commit) const override {
    return repository->contains(revision, commit);
  }
};

// Sets an environment variable for the life of the object.
class EnvVar {
 public:
  EnvVar(const char* name, const std::string& value) : m_name(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~EnvVar() { ::unsetenv(m_name); }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  const char* m_name;
};

// An Argo CD API server holding applications the test changes between evaluations.
class ArgoServer {
 public:
  ArgoServer() {
    m_api.route("GET", "/api/v1/applications/*", [this](const ApiRequest& request) {
      const std::lock_guard lock(m_mutex);
      const std::string name = promote::test::percent_decode(request.params.at(0));
      if (const auto reply = m_replies.find(name); reply != m_replies.end()) {
        return reply->second;
      }
      const auto app = m_apps.find(name);
      if (app == m_apps.end()) {
        const std::string message = "applications.argoproj.io \"" + name + "\" not found";
        return json_reply(404, json{{"error", message}, {"code", 5}, {"message", message}}.dump());
      }
      return json_reply(200, app->second.dump());
    });
    m_api.route("GET", "/api/v1/applications", [this](const ApiRequest& request) {
      const std::lock_guard lock(m_mutex);
      // A selector of key=value terms, as the tests write them.
      std::map<std::string, std::string> wanted;
      std::string selector = request.query_value("selector");
      for (std::size_t start = 0; start < selector.size();) {
        const auto end = std::min(selector.find(',', start), selector.size());
        const std::string term = selector.substr(start, end - start);
        const auto equals = term.find('=');
        wanted[term.substr(0, equals)] = term.substr(equals + 1);
        start = end + 1;
      }
      json items = json::array();
      for (const auto& [name, app] : m_apps) {
        const json labels = app["metadata"].value("labels", json::object());
        bool match = true;
        for (const auto& [key, value] : wanted) {
          match = match && labels.value(key, std::string()) == value;
        }
        if (match) {
          items.push_back(app);
        }
      }
      return json_reply(
          200, json{{"metadata", json::object()}, {"items", items.empty() ? json(nullptr) : items}}
                   .dump());
    });
  }

  void set(const std::string& name, json app) {
    const std::lock_guard lock(m_mutex);
    m_apps[name] = std::move(app);
  }
  void reply(const std::string& name, ApiReply reply) {
    const std::lock_guard lock(m_mutex);
    m_replies[name] = std::move(reply);
  }

  promote::test::HttpsApi& api() { return m_api; }

 private:
  std::mutex m_mutex;
  std::map<std::string, json> m_apps;
  std::map<std::string, ApiReply> m_replies;
  promote::test::HttpsApi m_api;
};

// The gate, its server, the repository and the timeline that says `entered` brought the
// candidate into staging.
class Harness {
 public:
  Harness() : m_token(k_token_env, k_token) {
    m_timeline.entries["staging"] = {m_timeline.now_value, "history", m_commits.entered};
  }

  // The gate built from `yaml` after the server's URL and CA file; fails the test when invalid.
  std::unique_ptr<promote::Gate> build(const std::string& yaml, const std::string& server = {}) {
    const std::string text = "server: " + (server.empty() ? m_server.api().url() : server) +
                             "\ntoken_env: " + k_token_env +
                             "\nca_file: " + m_server.api().ca_file() + "\n" + yaml;
    Diagnostics diagnostics;
    auto gate =
        promote::gates::make_argocd(ConfigNode(YAML::Load(text), "promote.yaml", diagnostics));
    REQUIRE_MESSAGE(gate != nullptr, diagnostics.to_error().message);
    return gate;
  }

  Verdict evaluate(promote::Gate& gate) {
    promote::GateContext context{m_candidate, "prod", std::string("staging"), ".", m_timeline};
    context.commits = &m_commits;
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, gate.evaluate(context), boost::asio::use_future);
    io.run();
    return future.get();
  }

  Verdict ask(const std::string& yaml = "applications: [shop-staging]",
              const std::string& server = {}) {
    auto gate = build(yaml, server);
    return evaluate(*gate);
  }

  // The full live application of the corpus, synced to `revision` by an operation that
  // Succeeded at k_finished, Healthy as assessed at `reconciled`.
  json synced(const std::string& revision, const std::string& reconciled = k_fresh) const {
    json app = corpus_app("argo-cd__app-healthy-synced-history-op-succeeded.yaml");
    app["status"]["sync"]["revision"] = revision;
    app["status"]["operationState"]["operation"]["sync"]["revision"] = revision;
    app["status"]["operationState"]["syncResult"]["revision"] = revision;
    app["status"]["operationState"]["startedAt"] = k_started;
    app["status"]["operationState"]["finishedAt"] = k_finished;
    app["status"]["reconciledAt"] = reconciled;
    return app;
  }

  ArgoServer& server() { return m_server; }
  const Commits& commits() const { return m_commits; }
  promote::test::FakeTimeline& timeline() { return m_timeline; }

 private:
  EnvVar m_token;
  Commits m_commits;
  ArgoServer m_server;
  promote::test::FakeTimeline m_timeline;
  promote::Candidate m_candidate;
};

std::string status(const Verdict& verdict) {
  return promote::to_string(verdict.status);
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

// The problems a `with:` block is reported with, one per line.
std::string problems(const std::string& yaml) {
  Diagnostics diagnostics;
  const ConfigNode with(YAML::Load(yaml), "promote.yaml", diagnostics);
  CHECK(promote::gates::make_argocd(with) == nullptr);
  return diagnostics.to_error().message;
}

// A CommitGraph that knows no revision.
struct NoCommits : promote::CommitGraph {
  promote::Result<std::optional<bool>> contains(const std::string&,
                                                const std::string&) const override {
    return std::optional<bool>();
  }
};

}  // namespace

TEST_SUITE("gates") {
  // --- scripted over time -------------------------------------------------------------------

  TEST_CASE("argocd: a sync in progress, then a stale health, then a healthy app" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    const auto& commits = harness.commits();
    const std::string entered = short_id(commits.entered);

    // 1. Auto-sync picked the commit up: the operation runs, the app is OutOfSync, Progressing.
    json running = corpus_app("argo-cd-metrics-test__op-running-outofsync-progressing.yaml");
    running["status"]["sync"]["revision"] = commits.base;
    harness.server().set("shop-staging", running);
    Verdict verdict = harness.ask();
    CHECK(status(verdict) == "pending");
    CHECK(verdict.summary ==
          "shop-staging: syncing: the operation is Running since 2025-01-29T08:42:34Z");
    REQUIRE(verdict.retry_after.has_value());
    CHECK(*verdict.retry_after == std::chrono::seconds(30));
    CHECK(verdict.details["commit"] == commits.entered);
    CHECK(verdict.details["entered_source"] == "history");
    CHECK(verdict.details["applications"][0] ==
          json{{"name", "shop-staging"},
               {"namespace", "argocd"},
               {"sync_status", "OutOfSync"},
               {"revision", commits.base},
               {"health", "Progressing"},
               {"operation_phase", "Running"},
               {"finished_at", ""},
               {"reconciled_at", ""},
               {"verdict", "pending"},
               {"why", "syncing: the operation is Running since 2025-01-29T08:42:34Z"}});

    // 2. The operation Succeeded, but the health was assessed before it finished.
    harness.server().set("shop-staging", harness.synced(commits.entered, k_stale));
    verdict = harness.ask();
    CHECK(status(verdict) == "pending");
    CHECK_FALSE(verdict.healthy_since.has_value());
    CHECK(verdict.summary == "shop-staging: Synced to " + entered +
                                 ", sync Succeeded at 2027-01-15T07:59:00Z, but the health was "
                                 "not assessed since the sync finished at 2027-01-15T07:59:00Z "
                                 "(reconciledAt 2027-01-15T07:58:30Z)");

    // 3. Reassessed after the operation: Healthy.
    harness.server().set("shop-staging", harness.synced(commits.entered, k_fresh));
    verdict = harness.ask();
    CHECK(status(verdict) == "pass");
    CHECK(verdict.summary == "shop-staging: Synced to " + entered +
                                 ", sync Succeeded at 2027-01-15T07:59:00Z, Healthy (assessed at "
                                 "2027-01-15T07:59:30Z)");
    CHECK_FALSE(verdict.retry_after.has_value());
    const json& app = verdict.details["applications"][0];
    CHECK(app["revision"] == commits.entered);
    CHECK(app["operation_revisions"] == json::array({commits.entered}));
    CHECK(app["operation_phase"] == "Succeeded");
    CHECK(app["finished_at"] == k_finished);
    CHECK(app["reconciled_at"] == k_fresh);
    CHECK(app["operation_message"] == "successfully synced (all tasks run)");
    // Healthy since the sync finished: what a soak with since: healthy counts from.
    REQUIRE(verdict.healthy_since.has_value());
    CHECK(promote::util::format_utc(*verdict.healthy_since) == k_finished);

    // 4. A later commit on the same branch contains the candidate's commit too.
    harness.server().set("shop-staging", harness.synced(commits.later));
    verdict = harness.ask();
    CHECK(status(verdict) == "pass");
    CHECK(verdict.summary.rfind("shop-staging: Synced to " + short_id(commits.later) + ",", 0) ==
          0);
  }

  TEST_CASE("argocd: a failed or errored sync fails with the operation's message" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    for (const std::string phase : {"Failed", "Error"}) {
      CAPTURE(phase);
      json app = harness.synced(harness.commits().entered);
      app["status"]["operationState"]["phase"] = phase;
      app["status"]["operationState"]["message"] =
          "one or more objects failed to apply, reason: Deployment.apps \"api\" is invalid";
      app["status"]["sync"]["status"] = "OutOfSync";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "shop-staging: the sync operation ended " + phase +
                                   " at 2027-01-15T07:59:00Z: one or more objects failed to "
                                   "apply, reason: Deployment.apps \"api\" is invalid");
      CHECK_FALSE(verdict.retry_after.has_value());
    }
  }

  TEST_CASE("argocd: Degraded fails once assessed after the operation, pending before" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    SUBCASE("the corpus's degraded application, with no operation") {
      json app = corpus_app("argo-cd-metrics-test__outofsync-degraded-conditions.yaml");
      app["status"]["health"]["message"] = "Deployment \"api\" exceeded its progress deadline";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary ==
            "shop-staging: Degraded: Deployment \"api\" exceeded its progress deadline");
      CHECK(verdict.details["applications"][0]["health_message"] ==
            "Deployment \"api\" exceeded its progress deadline");
    }
    SUBCASE("degraded after the sync of the commit") {
      json app = harness.synced(harness.commits().entered);
      app["status"]["health"]["status"] = "Degraded";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "shop-staging: Degraded");
    }
    SUBCASE("a Degraded health assessed before the operation finished is not trusted yet") {
      json app = harness.synced(harness.commits().entered, k_stale);
      app["status"]["health"]["status"] = "Degraded";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary ==
            "shop-staging: Degraded, but the health was not assessed since the sync finished at "
            "2027-01-15T07:59:00Z (reconciledAt 2027-01-15T07:58:30Z)");
    }
  }

  TEST_CASE("argocd: a revision judged by the repository's commit graph" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    const auto& commits = harness.commits();
    const std::string entered = short_id(commits.entered);
    SUBCASE("synced to a revision on another branch: it can never contain the commit") {
      harness.server().set("shop-staging", harness.synced(commits.side));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "shop-staging: Synced to " + short_id(commits.side) +
                                   ", which can never contain commit " + entered +
                                   " (it is not an ancestor)");
    }
    SUBCASE("OutOfSync at such a revision: it is moving") {
      json app = harness.synced(commits.side);
      app["status"]["sync"]["status"] = "OutOfSync";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: OutOfSync at " + short_id(commits.side) +
                                   ", which does not contain commit " + entered);
    }
    SUBCASE("synced to an older revision: Argo CD has not seen the commit yet") {
      harness.server().set("shop-staging", harness.synced(commits.base));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary ==
            "shop-staging: Synced at " + short_id(commits.base) + ", older than commit " + entered);
    }
    SUBCASE("a revision this clone does not have") {
      const std::string unknown = "041eab7439ece92c99b043f0e171788185b8fc1d";
      harness.server().set("shop-staging", harness.synced(unknown));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary ==
            "shop-staging: revision 041eab7439ec is not in this clone yet; fetch");
    }
    SUBCASE("the corpus's revision that is no commit id (rev1)") {
      harness.server().set("shop-staging",
                           corpus_app("argo-cd__app-healthy-synced-history-op-succeeded.yaml"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: revision rev1 is not in this clone yet; fetch");
    }
    SUBCASE("the commit, but OutOfSync (a newer commit waits)") {
      json app = harness.synced(commits.entered);
      app["status"]["sync"]["status"] = "OutOfSync";
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: OutOfSync at " + entered + "; waiting for a sync");
    }
    SUBCASE("synced without any operation recorded") {
      json app = harness.synced(commits.entered);
      app["status"].erase("operationState");
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: Synced to " + entered +
                                   ", but no sync operation has finished and Succeeded");
    }
  }

  TEST_CASE("argocd: a multi-source application is judged by the source this clone knows" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    const auto& commits = harness.commits();
    // The corpus holds the operation's revisions; status.sync.revisions is added as Argo CD
    // writes it for spec.sources (one per source, in order).
    json app = corpus_app("argo-cd-appcontroller-test__multi-source-op-succeeded-revisions.yaml");
    json revisions = app["status"]["operationState"]["syncResult"]["revisions"];
    revisions[1] = commits.later;
    app["status"]["operationState"]["syncResult"]["revisions"] = revisions;
    app["status"]["sync"] = {{"status", "Synced"}, {"revisions", revisions}};
    app["status"]["health"] = {{"status", "Healthy"}};
    app["status"]["reconciledAt"] = "2018-09-21T23:50:30Z";
    SUBCASE("the pipeline's repository's source holds a later commit") {
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "shop-staging: Synced to " + short_id(commits.later) +
                                   ", sync Succeeded at 2018-09-21T23:50:29Z, Healthy (assessed "
                                   "at 2018-09-21T23:50:30Z)");
      CHECK(verdict.details["applications"][0]["revisions"] == revisions);
      CHECK_FALSE(verdict.details["applications"][0].contains("revision"));
    }
    SUBCASE("that source on another branch") {
      revisions[1] = commits.side;
      app["status"]["sync"]["revisions"] = revisions;
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "shop-staging: Synced to " + short_id(commits.side) +
                                   ", which can never contain commit " + short_id(commits.entered) +
                                   " (it is not an ancestor)");
    }
    SUBCASE("no source this clone knows") {
      revisions[1] = "dddddddddddddddddddddddddddddddddddddddd";
      app["status"]["sync"]["revisions"] = revisions;
      harness.server().set("shop-staging", app);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary ==
            "shop-staging: revisions aaaaaaaaaaaa, dddddddddddd, cccccccccccc are not in this "
            "clone yet; fetch");
    }
  }

  TEST_CASE("argocd: Suspended means what 'suspended' says" * doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    json app = harness.synced(harness.commits().entered);
    app["status"]["health"] = {{"status", "Suspended"}, {"message", "Rollout is paused"}};
    harness.server().set("shop-staging", app);
    const std::string synced = "shop-staging: Synced to " + short_id(harness.commits().entered) +
                               ", sync Succeeded at 2027-01-15T07:59:00Z";
    SUBCASE("pending by default") {
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == synced + ", but Suspended: Rollout is paused (suspended: pending)");
    }
    SUBCASE("fail") {
      const Verdict verdict = harness.ask("applications: [shop-staging]\nsuspended: fail");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == synced + ", but Suspended: Rollout is paused (suspended: fail)");
    }
    SUBCASE("pass, once assessed after the operation") {
      CHECK(status(harness.ask("applications: [shop-staging]\nsuspended: pass")) == "pass");
      app["status"]["reconciledAt"] = k_stale;
      harness.server().set("shop-staging", app);
      CHECK(status(harness.ask("applications: [shop-staging]\nsuspended: pass")) == "pending");
    }
  }

  TEST_CASE("argocd: the corpus's other states" * doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    SUBCASE("an application being deleted fails") {
      harness.server().set(
          "shop-staging",
          corpus_app("argo-cd-metrics-test__outofsync-degraded-being-deleted.yaml"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "shop-staging: the application is being deleted");
    }
    SUBCASE("a requested operation that has not started is pending") {
      harness.server().set(
          "shop-staging",
          corpus_app("argo-cd-metrics-test__synced-healthy-pending-dryrun-operation.yaml"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: a sync operation is requested and has not started");
    }
    SUBCASE("a status without a revision is pending") {
      harness.server().set("shop-staging",
                           corpus_app("gitops-engine__application-healthy-status-only.yaml"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary == "shop-staging: no revision is synced yet (sync status unknown)");
    }
  }

  // --- several applications -----------------------------------------------------------------

  TEST_CASE("argocd: several applications: the worst verdict wins and each is recorded" *
            doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    const auto& commits = harness.commits();
    json api = harness.synced(commits.entered);
    api["metadata"]["name"] = "shop-api";
    api["metadata"]["labels"] = {{"env", "staging"}, {"team", "shop"}};
    json web = harness.synced(commits.entered, k_stale);
    web["metadata"]["name"] = "shop-web";
    web["metadata"]["labels"] = {{"env", "staging"}, {"team", "shop"}};
    json other = harness.synced(commits.side);
    other["metadata"]["name"] = "billing";
    other["metadata"]["labels"] = {{"env", "staging"}, {"team", "billing"}};
    harness.server().set("shop-api", api);
    harness.server().set("shop-web", web);
    harness.server().set("billing", other);
    SUBCASE("by selector, in an app namespace") {
      const Verdict verdict =
          harness.ask("selector: env=staging,team=shop\napp_namespace: argo-apps");
      CHECK(status(verdict) == "pending");
      CHECK(verdict.summary ==
            "1 of 2 applications ready; shop-web: Synced to " + short_id(commits.entered) +
                ", sync Succeeded at 2027-01-15T07:59:00Z, but the health was not assessed "
                "since the sync finished at 2027-01-15T07:59:00Z (reconciledAt "
                "2027-01-15T07:58:30Z)");
      REQUIRE(verdict.details["applications"].size() == 2);
      CHECK(verdict.details["applications"][0]["verdict"] == "pass");
      CHECK(verdict.details["applications"][1]["verdict"] == "pending");
      const auto requests = harness.server().api().requests("GET", "/api/v1/applications");
      REQUIRE(requests.size() == 1);
      CHECK(requests[0].target ==
            "/api/v1/applications?selector=env%3Dstaging%2Cteam%3Dshop&appNamespace=argo-apps");
      CHECK(requests[0].header("Authorization") == "Bearer " + k_token);
    }
    SUBCASE("by name: a fail beats a pending") {
      const Verdict verdict = harness.ask("applications: [shop-web, billing, shop-api]");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary.rfind("1 of 3 applications ready; billing: Synced to " +
                                      short_id(commits.side) + ", which can never contain",
                                  0) == 0);
    }
    SUBCASE("all ready") {
      harness.server().set("shop-web", harness.synced(commits.later));
      const Verdict verdict = harness.ask("applications: [shop-api, shop-web]");
      CHECK(status(verdict) == "pass");
      CHECK(verdict.summary == "2 of 2 applications ready at commit " + short_id(commits.entered));
    }
    SUBCASE("a selector that matches nothing fails") {
      const Verdict verdict = harness.ask("selector: env=prod");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "no application on Argo CD server " + harness.server().api().url() +
                                   " matches selector 'env=prod'");
    }
  }

  // --- the API's failures -------------------------------------------------------------------

  TEST_CASE("argocd: 401, 403, 404 and 5xx" * doctest::skip(!has_argocd_corpus())) {
    Harness harness;
    const std::string server = harness.server().api().url();
    SUBCASE("401 is an error naming the server and the application") {
      harness.server().reply("shop-staging",
                             json_reply(401, R"({"error":"invalid session: token is expired",)"
                                             R"("code":16,"message":"invalid session: token is )"
                                             R"(expired"})"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "Argo CD server " + server +
                                   " refused the token for application shop-staging (HTTP 401: "
                                   "invalid session: token is expired)");
    }
    SUBCASE("403 with the corpus's bodies") {
      harness.server().reply(
          "shop-staging",
          json_reply(403, corpus_text("argocd-api-error__permission-denied-detailed.json")));
      Verdict verdict = harness.ask();
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary ==
            "Argo CD server " + server +
                " refused the token for application shop-staging (HTTP 403: permission denied: "
                "clusters, get, , sub: alice, iat: 2022-11-04T20:25:44Z; Argo CD says so for an "
                "application that does not exist too)");
      harness.server().reply(
          "shop-staging",
          json_reply(403, corpus_text("argocd-api-error__permission-denied-generic.json")));
      verdict = harness.ask();
      CHECK(verdict.summary == "Argo CD server " + server +
                                   " refused the token for application shop-staging (HTTP 403: "
                                   "permission denied; Argo CD says so for an application that "
                                   "does not exist too)");
    }
    SUBCASE("404 fails: there is no such application") {
      const Verdict verdict = harness.ask("applications: [shop-stagign]");
      CHECK(status(verdict) == "fail");
      CHECK(verdict.summary == "no application shop-stagign on Argo CD server " + server +
                                   " (HTTP 404: applications.argoproj.io \"shop-stagign\" not "
                                   "found)");
      CHECK(verdict.details["error"] == verdict.summary);
    }
    SUBCASE("500 is an error the scheduler retries") {
      harness.server().reply("shop-staging",
                             json_reply(500, R"({"message":"etcdserver: leader changed"})"));
      const Verdict verdict = harness.ask("applications: [shop-staging]\napp_namespace: argocd");
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "GET " + server +
                                   "/api/v1/applications/shop-staging?appNamespace=argocd: HTTP "
                                   "500: etcdserver: leader changed (application shop-staging)");
    }
    SUBCASE("a body that is no application") {
      harness.server().reply("shop-staging",
                             json_reply(200, R"({"status":{"reconciledAt":"yesterday"}})"));
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "GET " + server +
                                   "/api/v1/applications/shop-staging: status.reconciledAt "
                                   "'yesterday' is not an RFC 3339 time");
    }
  }

  TEST_CASE("argocd: a timeout and a closed connection are errors") {
    Harness harness;
    SUBCASE("a server that never answers") {
      promote::test::HttpScript silent("");
      const Verdict verdict =
          harness.ask("applications: [shop-staging]\ntimeout: 1s", silent.url(""));
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "GET " + silent.url("") +
                                   "/api/v1/applications/shop-staging: timed out after 1s "
                                   "(application shop-staging)");
    }
    SUBCASE("a server that closes the connection mid-body") {
      promote::test::HttpScript closing(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
          "{\"metadata\":");
      const Verdict verdict = harness.ask("applications: [shop-staging]", closing.url(""));
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "GET " + closing.url("") +
                                   "/api/v1/applications/shop-staging: reading the response "
                                   "failed: partial message (application shop-staging)");
    }
  }

  TEST_CASE("argocd: the token never reaches the verdict") {
    Harness harness;
    // A server (or a proxy before it) that quotes the request's Authorization header back.
    harness.server().api().route("GET", "/api/v1/applications/*", [](const ApiRequest& request) {
      return json_reply(403,
                        json{{"message", "denied for " + request.header("Authorization")}}.dump());
    });
    const Verdict verdict = harness.ask();
    CHECK(status(verdict) == "error");
    CHECK(verdict.summary == "Argo CD server " + harness.server().api().url() +
                                 " refused the token for application shop-staging (HTTP 403: "
                                 "denied for Bearer ***; Argo CD says so for an application that "
                                 "does not exist too)");
    const std::string everything = verdict.summary + verdict.details.dump();
    CHECK_FALSE(promote::test::contains(everything, k_token));
    auto gate = harness.build("applications: [shop-staging]");
    CHECK_FALSE(promote::test::contains(gate->config().dump(), k_token));
    CHECK(gate->config()["token_env"] == k_token_env);
  }

  TEST_CASE("argocd: what the gate cannot judge without is an error") {
    Harness harness;
    SUBCASE("no token") {
      ::unsetenv(k_token_env);
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary ==
            std::string("environment variable ") + k_token_env + " (token_env) is not set");
      CHECK(harness.server().api().log().empty());
    }
    SUBCASE("no commit for the candidate's entry into staging") {
      harness.timeline().entries["staging"].commit.clear();
      const Verdict verdict = harness.ask();
      CHECK(status(verdict) == "error");
      CHECK(verdict.summary == "no record names the commit that brought candidate " +
                                   promote::Candidate().short_id() + " into staging");
    }
  }

  // --- parsing and judging without HTTP -------------------------------------------------------

  TEST_CASE("argocd: every corpus application parses") {
    if (!has_argocd_corpus()) {
      return;
    }
    for (const auto& entry : fs::directory_iterator(*argocd_corpus())) {
      if (entry.path().extension() != ".yaml") {
        continue;
      }
      CAPTURE(entry.path().filename().string());
      const json document = promote::test::yaml_to_json(YAML::LoadFile(entry.path().string()));
      const auto parsed = promote::gates::parse_applications(document.dump(), false, "test");
      REQUIRE(parsed.has_value());
      CHECK(parsed->size() == 1);
    }
    const auto list =
        promote::gates::parse_applications(R"({"metadata":{},"items":null})", true, "GET x");
    REQUIRE(list.has_value());
    CHECK(list->empty());
  }

  TEST_CASE("argocd: malformed application bodies are errors naming the field") {
    auto error = [](const std::string& body, bool list = false) {
      auto parsed = promote::gates::parse_applications(body, list, "GET x");
      REQUIRE_FALSE(parsed.has_value());
      return parsed.error().message;
    };
    CHECK(error("[]") == "GET x: the response is not a JSON object");
    CHECK(error("{") == "GET x: the response is not a JSON object");
    CHECK(error(R"({"status":{"sync":{"revision":7}}})") ==
          "GET x: status.sync.revision is not a string");
    CHECK(error(R"({"status":{"sync":{"revisions":"abc"}}})") ==
          "GET x: status.sync.revisions is not a list");
    CHECK(error(R"({"status":{"operationState":[]}})") ==
          "GET x: status.operationState is not an object");
    CHECK(error(R"({"spec":{"sources":[1]}})") ==
          "GET x: spec.sources holds something that is not an object");
    CHECK(error(R"({"items":{}})", true) == "GET x: 'items' is not a list");
    CHECK(error(R"({"items":[1]})", true) == "GET x: an application is not a JSON object");
    CHECK(error(std::string(600, '[') + std::string(600, ']')) ==
          "GET x: the response nests more than 512 levels deep (at byte 512)");
  }

  TEST_CASE("argocd: RFC 3339 times with fractions and offsets compare as instants") {
    const auto parsed = promote::gates::parse_applications(
        R"({"status":{"reconciledAt":"2027-01-15T09:59:30.5+02:00",)"
        R"("operationState":{"phase":"Succeeded","finishedAt":"2027-01-15T07:59:30Z"}}})",
        false, "x");
    REQUIRE(parsed.has_value());
    const auto& app = parsed->front();
    REQUIRE(app.reconciled_at.has_value());
    REQUIRE(app.finished_at.has_value());
    CHECK(*app.reconciled_at - *app.finished_at == std::chrono::milliseconds(500));
  }

  TEST_CASE("argocd: a revision the graph cannot read is judged pending, without HTTP") {
    promote::gates::ArgoApplication app;
    app.revisions = {"0123456789012345678901234567890123456789"};
    app.sync_status = "Synced";
    const auto judged = promote::gates::judge_application(
        app, "9876543210987654321098765432109876543210", NoCommits{}, Status::pending);
    REQUIRE(judged.has_value());
    CHECK(judged->status == Status::pending);
    CHECK(judged->why == "revision 012345678901 is not in this clone yet; fetch");
  }

  // --- configuration ------------------------------------------------------------------------

  TEST_CASE("argocd: the configuration is checked at load, every problem at its place") {
    CHECK(problems("") ==
          "promote.yaml: gate 'argocd' needs 'with: { server: <URL>, applications: [...] }'");
    CHECK(problems("server: https://argocd.example.com") ==
          "promote.yaml:1:1: gate 'argocd' needs 'applications' (names) or 'selector' (a label "
          "selector)");
    CHECK(problems("server: ftp://argocd\napplications: [a]") ==
          "promote.yaml:1:9: 'server' must be an http:// or https:// URL, got 'ftp://argocd'");
    CHECK(problems("server: https://u:p@argocd\napplications: [a]") ==
          "promote.yaml:1:9: 'server' must not hold credentials; the token comes from "
          "'token_env'");
    CHECK(problems("server: https://argocd\napplications: [a]\nselector: env=staging") ==
          "promote.yaml:3:11: 'selector' and 'applications' exclude each other: give one");
    CHECK(problems("server: https://argocd\napplications: [a, a]") ==
          "promote.yaml:2:15: application 'a' is named twice in 'applications'");
    CHECK(problems("server: https://argocd\napplications: []") ==
          "promote.yaml:2:15: 'applications' must name at least one application");
    CHECK(problems("server: https://argocd\nselector: a\nsuspended: maybe") ==
          "promote.yaml:3:12: 'suspended' must be fail, pending or pass, got 'maybe'");
    CHECK(problems("server: https://argocd\nselector: a\ntoken_env: MY-TOKEN") ==
          "promote.yaml:3:12: 'token_env' must name an environment variable (letters, digits "
          "and _), got 'MY-TOKEN'");
    CHECK(problems("server: https://argocd\nselector: a\ntimeout: 0s") ==
          "promote.yaml:3:10: 'timeout' must be longer than 0s");
    CHECK(problems("server: https://argocd\nselector: a\nappnamespace: x") ==
          "promote.yaml:3:1: unknown field 'appnamespace' in gate 'argocd' (did you mean "
          "'app_namespace'?)");
  }

  TEST_CASE("argocd: the gate is built in, judges the source stage, and records no secret") {
    const auto* type = promote::gates::find("argocd");
    REQUIRE(type != nullptr);
    Diagnostics diagnostics;
    auto gate = type->make(ConfigNode(YAML::Load("server: https://argocd.example.com/\n"
                                                 "applications: shop-staging"),
                                      "promote.yaml", diagnostics));
    REQUIRE(gate != nullptr);
    CHECK(gate->needs_source());
    CHECK(gate->config() == json{{"server", "https://argocd.example.com"},
                                 {"token_env", "ARGOCD_AUTH_TOKEN"},
                                 {"suspended", "pending"},
                                 {"timeout", "30s"},
                                 {"applications", {"shop-staging"}}});
  }
}
