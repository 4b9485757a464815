// No secret leaves promote. Through the real binary, against a git remote served over HTTP
// with basic auth, a fake forge, webhook and Prometheus over HTTPS that quote back what
// they were sent, a real Prometheus and an external gate that prints what it was given,
// with a distinct token in every variable promote or its gates read as a secret: no
// stdout, stderr, verbose log, history database, GitHub Actions or GitLab CI file, git
// object (commits, notes) or file left behind holds any token, nor its percent-encoded or
// base64 form.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/git/repository.hpp"
#include "engine/util/secrets.hpp"
#include "tests/support/servers/git_http.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/servers/prometheus.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
namespace test = promote::test;
using json = nlohmann::json;
using test::CommandResult;
using test::sh;
using test::write_text;

namespace {

// Every variable promote reads as a secret (util::k_secret_variables), and those the
// pipeline below names: an http gate header, prometheus bearer and basic auth, a plugin's env.
const std::map<std::string, std::string> k_tokens = {
    {"PROMOTE_GIT_TOKEN", "tokPGT-5e1f9a2c"},
    {"PROMOTE_FORGE_TOKEN", "tokPFT+7b3d0e11"},
    {"GITHUB_TOKEN", "tokGHT-0c9d8e7f"},
    {"GITLAB_TOKEN", "tokGLT-6a5b4c3d"},
    {"CI_JOB_TOKEN", "tokCJT-2e1f0a9b"},
    {"GITEA_TOKEN", "tokGTE-8c7d6e5f"},
    {"PROMOTE_SSH_KEY_PASSPHRASE", "tokSSH-4a3b2c1d"},
    {"HOOK_TOKEN", "tokHOOK-9f8e7d6c"},
    {"PROM_BEARER", "tokPRB-1a2b3c4d"},
    {"PROM_PASSWORD", "tokPRP/5d6e7f8a"},
    {"PLUGIN_TOKEN", "tokPLG-3c4d5e6f"},
};
// Tokens a failing run is given instead: a refused git token, a refused forge token.
constexpr const char* k_bad_git_token = "tokBADG-0f1e2d3c";
constexpr const char* k_bad_forge_token = "tokBADF-4b5a6978";
constexpr const char* k_git_user = "x-access-token";
constexpr const char* k_prom_user = "prom-reader";

using promote::test::contains;

// Each secret as it may show: itself, percent-encoded (upper and lower case hex), base64,
// and base64 of the basic-auth pair it is sent in.
std::vector<std::pair<std::string, std::string>> forbidden_forms() {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::pair<std::string, std::string>> values(k_tokens.begin(), k_tokens.end());
  values.emplace_back("bad git token", k_bad_git_token);
  values.emplace_back("bad forge token", k_bad_forge_token);
  for (const auto& [name, value] : values) {
    out.emplace_back(name, value);
    std::string lower = promote::util::percent_encode(value);
    for (char& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    out.emplace_back(name + " (percent-encoded)", promote::util::percent_encode(value));
    out.emplace_back(name + " (percent-encoded, lower case)", lower);
    out.emplace_back(name + " (base64)", promote::util::base64(value));
    out.emplace_back(name + " (basic auth)",
                     promote::util::base64(std::string(k_git_user) + ":" + value));
  }
  out.emplace_back("PROM_PASSWORD (basic auth)",
                   promote::util::base64(std::string(k_prom_user) + ":" +
                                         k_tokens.at("PROM_PASSWORD")));
  return out;
}

// The lines of `text` that are not GitHub Actions `::add-mask::` commands: those hand the
// runner the values to hide from the job's log (and the runner never shows them).
std::string without_masks(const std::string& text, int& masks) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("::add-mask::", 0) == 0) {
      ++masks;
    } else {
      out += line + "\n";
    }
  }
  return out;
}

// An external gate that prints the token it was given in its verdict and on its stderr.
constexpr const char* k_echo_plugin =
    "#!/bin/sh\n"
    "cat >/dev/null\n"
    "echo \"logged in with $PLUGIN_TOKEN\" >&2\n"
    "printf '{\"status\":\"pass\",\"summary\":\"checked with %s\",\"details\":{\"%s\":\"%s\"}}\\n'"
    " \"$PLUGIN_TOKEN\" \"$PLUGIN_TOKEN\" \"$PLUGIN_TOKEN\"\n";
// One that fails, telling its token on stderr.
constexpr const char* k_failing_plugin =
    "#!/bin/sh\n"
    "cat >/dev/null\n"
    "echo \"login refused for token $PLUGIN_TOKEN\" >&2\n"
    "exit 2\n";

// A GitOps repository whose origin is served over HTTP with basic auth (the git token),
// with a fake GitHub API, webhook and Prometheus over HTTPS that quote what they are sent.
struct World {
  test::TempDir dir;
  fs::path repo = dir / "repo";
  fs::path tmp = dir / "tmp";
  test::GitHttpServer git{dir / "srv", k_git_user, k_tokens.at("PROMOTE_GIT_TOKEN")};
  test::HttpsApi api;
  std::unique_ptr<test::PrometheusStack> prometheus;
  std::vector<std::pair<std::string, std::string>> outputs;  // what each run printed
  int masks = 0;

  World() {
    install_api();
    std::string prometheus_gate;
    if (test::has_prometheus()) {
      fs::create_directories(dir / "prom");
      prometheus =
          std::make_unique<test::PrometheusStack>(dir / "prom", test::PrometheusStack::Scrape::self);
      if (const std::string why = prometheus->wait_ready(); !why.empty()) {
        FAIL(why);
      }
      prometheus_gate = "      - use: prometheus\n"
                        "        with: {url: '" + prometheus->url() +
                        "', query: up, condition: '> 0', timeout: 10s,\n"
                        "               auth: {bearer_env: PROM_BEARER}}\n";
    }
    fs::create_directories(tmp);
    fs::create_directories(dir / "ci");
    for (const char* stage : {"dev", "staging", "qa", "metrics", "plugged", "prod"}) {
      write_text(repo / "overlays" / stage / "kustomization.yaml",
                 "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
    }
    write_text(repo / "plugins/promote-gate-echo", k_echo_plugin);
    write_text(repo / "plugins/promote-gate-refused", k_failing_plugin);
    fs::permissions(repo / "plugins/promote-gate-echo", fs::perms::owner_all);
    fs::permissions(repo / "plugins/promote-gate-refused", fs::perms::owner_all);
    write_text(repo / "promote.yaml", R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: leaky}
repository: {url: ., branch: main, provider: github, api: ')" + api.url() +
                                          R"(', project: acme/deploy}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: dev
    target: {kustomize: overlays/dev}
  - name: staging
    from: dev
    target: {kustomize: overlays/staging}
    gates:
      - use: http
        with: {url: ')" + api.url("/hook/ok") +
                                          R"(', headers: {Authorization: {env: HOOK_TOKEN, prefix: 'Bearer '}},
               json_pointer: /decision, equals: approved}
      - use: echo
        with: {env: [PLUGIN_TOKEN]}
)" + prometheus_gate + R"(  - name: qa
    from: dev
    target: {kustomize: overlays/qa}
    gates:
      - use: http
        with: {url: ')" + api.url("/hook/deny") +
                                          R"(', headers: {X-Hook-Token: {env: HOOK_TOKEN}}}
  - name: metrics
    from: dev
    target: {kustomize: overlays/metrics}
    gates:
      - use: prometheus
        with: {url: ')" + api.url("/prom") +
                                          R"(', query: up, condition: '> 0',
               auth: {username_env: PROM_USER, password_env: PROM_PASSWORD}}
  - name: plugged
    from: dev
    target: {kustomize: overlays/plugged}
    gates:
      - use: refused
        with: {env: [PLUGIN_TOKEN]}
  - name: prod
    from: staging
    target: {kustomize: overlays/prod}
    strategy: pull-request
)");
    sh("mkdir -p srv/acme && git init -q --bare -b main srv/acme/deploy.git && cd repo && "
       "git init -q -b main && git config user.name 'Leaky CI' && "
       "git config user.email ci@leaky.example && printf '.promote/\\n' > .gitignore && "
       "git add -A && git commit -q -m init && git push -q ../srv/acme/deploy.git main && "
       "git remote add origin '" + git.url("acme/deploy.git") + "' && "
       "git update-ref refs/remotes/origin/main HEAD",
       dir.path());
  }

  // The fake GitHub API of acme/deploy, a webhook and a Prometheus, all quoting the
  // credentials they were sent.
  void install_api() {
    api.route("GET", "/repos/acme/deploy/pulls", [](const test::ApiRequest& request) {
      if (request.header("Authorization") != "Bearer " + k_tokens.at("PROMOTE_FORGE_TOKEN")) {
        return test::json_reply(
            401, json{{"message", "Bad credentials: " + request.header("Authorization")}}.dump());
      }
      return test::json_reply(200, "[]");
    });
    api.route("POST", "/repos/acme/deploy/pulls", [](const test::ApiRequest& request) {
      const json body = json::parse(request.body, nullptr, false);
      const std::string head = body.is_object() ? body.value("head", "") : "";
      // A careless forge puts the caller's token in the link it hands back.
      return test::json_reply(
          201, json{{"number", 7},
                    {"html_url", "https://github.example/acme/deploy/pull/7?auth=" +
                                     request.header("Authorization")},
                    {"state", "open"},
                    {"head", {{"ref", head}, {"repo", {{"full_name", "acme/deploy"}}}}}}
                   .dump());
    });
    api.route("GET", "/hook/ok", [](const test::ApiRequest& request) {
      return test::json_reply(
          200, json{{"decision", "approved"}, {"seen", request.header("Authorization")}}.dump());
    });
    api.route("GET", "/hook/deny", [](const test::ApiRequest& request) {
      return test::json_reply(
          403, json{{"message", "denied: " + request.header("X-Hook-Token")}}.dump());
    });
    api.route("GET", "/prom/api/v1/query", [](const test::ApiRequest& request) {
      return test::json_reply(400, json{{"status", "error"},
                                        {"errorType", "bad_data"},
                                        {"error", "who is " + request.header("Authorization")}}
                                       .dump());
    });
  }

  // promote ARGS with every token set (`env` adds and overrides); what it printed is kept
  // for the final scan.
  CommandResult promote(const std::string& label, std::vector<std::string> args,
                        std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), test::promote_binary().string());
    std::map<std::string, std::string> environment = {
        {"PROMOTE_ACTOR", "leaky-ci"}, {"PROMOTE_HISTORY", ""}, {"NO_COLOR", "1"},
        {"CI", ""}, {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}, {"GITHUB_ACTOR", ""},
        {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_GIT_USER", ""}, {"PROMOTE_CA_FILE", api.ca_file()},
        {"SSL_CERT_FILE", ""}, {"HTTPS_PROXY", ""}, {"https_proxy", ""}, {"HTTP_PROXY", ""},
        {"http_proxy", ""}, {"ALL_PROXY", ""}, {"all_proxy", ""}, {"PROM_USER", k_prom_user},
        {"TMPDIR", tmp.string()}, {"PROMOTE_SSH_KEY", ""}, {"SSH_AUTH_SOCK", ""}};
    for (const auto& [name, value] : k_tokens) {
      environment[name] = value;
    }
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    CommandResult result = test::run(args, repo, environment);
    outputs.emplace_back(label + " stdout", result.out);
    outputs.emplace_back(label + " stderr", without_masks(result.err, masks));
    return result;
  }

  std::map<std::string, std::string> github_actions() const {
    return {{"GITHUB_ACTIONS", "true"},
            {"GITHUB_STEP_SUMMARY", (dir / "ci/summary.md").string()},
            {"GITHUB_OUTPUT", (dir / "ci/output").string()}};
  }
  std::map<std::string, std::string> gitlab_ci() const {
    return {{"GITLAB_CI", "true"},
            {"PROMOTE_JUNIT_REPORT", (dir / "ci/gates.xml").string()},
            {"PROMOTE_DOTENV", (dir / "ci/promote.env").string()}};
  }

  std::string remote_git(const std::string& args) const {
    return sh("git --git-dir=srv/acme/deploy.git " + args, dir.path());
  }
};

// Every place a secret could end up, each with what it holds.
std::vector<std::pair<std::string, std::string>> everything(const World& world) {
  std::vector<std::pair<std::string, std::string>> places = world.outputs;
  for (const auto& entry : fs::recursive_directory_iterator(world.dir.path())) {
    if (entry.is_regular_file()) {
      places.emplace_back(entry.path().string(), test::read_text(entry.path()));
    }
  }
  // Loose and packed objects are compressed: read every object of both repositories whole.
  places.emplace_back("objects of the work tree's repository",
                      sh("git cat-file --batch-all-objects --batch", world.repo));
  places.emplace_back("objects of the remote",
                      world.remote_git("cat-file --batch-all-objects --batch"));
  places.emplace_back("notes of the remote",
                      world.remote_git("log --all --format=%B%N"));
  return places;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("no token reaches an output, a log, the history, git or a file left behind") {
    World world;
    const auto code = [](const CommandResult& result) {
      INFO("stdout: " << result.out << "\nstderr: " << result.err);
      return result.exit_code;
    };
    auto env = [](std::map<std::string, std::string> a,
                  const std::map<std::string, std::string>& b) {
      a.insert(b.begin(), b.end());
      return a;
    };

    // Succeeding: a push over HTTP with the git token, under GitHub Actions, verbose.
    const CommandResult dev = world.promote(
        "dev", {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0", "-v", "--output", "json"},
        world.github_actions());
    CHECK(code(dev) == 0);
    CHECK(json::parse(dev.out, nullptr, false).value("outcome", "") == "promoted");
    CHECK(world.masks > 0);

    // Succeeding gates that are sent tokens (webhook, Prometheus) and a plugin that prints
    // its own, under GitLab CI.
    const CommandResult staging =
        world.promote("staging", {"--to", "staging", "-v"}, world.gitlab_ci());
    CHECK(code(staging) == 0);
    CHECK(contains(staging.out + staging.err, "checked with ***"));

    // A failing gate: the webhook refuses and quotes the token it was sent.
    const CommandResult qa =
        world.promote("qa", {"--to", "qa", "-v", "--output", "json"}, world.github_actions());
    CHECK(code(qa) == 1);
    CHECK(contains(qa.out, "denied: ***"));

    // A Prometheus that quotes the basic credentials it was sent, as an error.
    const CommandResult metrics = world.promote("metrics", {"--to", "metrics", "-v"},
                                                env(world.gitlab_ci(), {}));
    CHECK(code(metrics) == 4);
    CHECK(contains(metrics.out + metrics.err, "who is Basic ***"));

    // A plugin that fails, telling its token on stderr.
    const CommandResult plugged = world.promote(
        "plugged", {"--to", "plugged", "--output", "json", "-v"}, world.github_actions());
    CHECK(code(plugged) == 4);
    CHECK(contains(plugged.out, "login refused for token ***"));

    // A push refused for a bad token.
    const std::string head = world.remote_git("rev-parse main");
    const CommandResult refused =
        world.promote("refused push", {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.2.0", "-v"},
                      {{"PROMOTE_GIT_TOKEN", k_bad_git_token}});
    CHECK(code(refused) == 4);
    CHECK(contains(refused.out + refused.err, "PROMOTE_GIT_TOKEN"));
    CHECK(world.remote_git("rev-parse main") == head);

    // A pull request call refused (the forge quotes the token), then one that succeeds
    // (the forge hands back a link holding the token).
    const CommandResult pr_refused = world.promote(
        "refused pull request", {"--to", "prod", "-v", "--output", "json"},
        env(world.github_actions(), {{"PROMOTE_FORGE_TOKEN", k_bad_forge_token}}));
    CHECK(code(pr_refused) == 4);
    CHECK(contains(pr_refused.out, "Bad credentials: Bearer ***"));
    const CommandResult pr = world.promote("pull request", {"--to", "prod", "-v", "--output", "json"},
                                           world.github_actions());
    CHECK(code(pr) == 0);
    CHECK(contains(pr.out, "pull/7?auth=Bearer ***"));

    // What reads the records back.
    const CommandResult listed = world.promote("history", {"history", "--output", "json"});
    CHECK(code(listed) == 0);
    CHECK(code(world.promote("history csv", {"history", "--output", "csv"})) == 0);
    CHECK(code(world.promote("status", {"status", "-v"})) == 0);
    CHECK(code(world.promote("audit", {"audit", "verify"})) == 0);
    const json history = json::parse(listed.out, nullptr, false);
    REQUIRE(history.is_array());
    CHECK(history.size() >= 7);
    for (const auto& record : history) {
      if (record.contains("id") && record["id"].is_string()) {
        world.promote("show " + record["id"].get<std::string>(),
                      {"history", "show", record["id"].get<std::string>()});
        world.promote("explain " + record["id"].get<std::string>(),
                      {"explain", record["id"].get<std::string>()});
      }
    }
    CHECK(fs::exists(world.repo / ".promote/history.db"));
    CHECK(fs::exists(world.dir / "ci/summary.md"));
    CHECK(fs::exists(world.dir / "ci/gates.xml"));

    // The tokens did go out, to the servers they are for.
    bool forge_sent = false;
    bool hook_sent = false;
    for (const auto& request : world.api.log()) {
      forge_sent = forge_sent || request.header("Authorization") ==
                                     "Bearer " + k_tokens.at("PROMOTE_FORGE_TOKEN");
      hook_sent = hook_sent || request.header("X-Hook-Token") == k_tokens.at("HOOK_TOKEN");
    }
    CHECK(forge_sent);
    CHECK(hook_sent);
    CHECK(world.git.requests() > world.git.unauthorized());

    const auto places = everything(world);
    const auto forms = forbidden_forms();
    for (const auto& [place, text] : places) {
      for (const auto& [name, form] : forms) {
        if (contains(text, form)) {
          FAIL_CHECK(name << " is in " << place);
        }
      }
    }
    // Nothing is left in the temporary directory promote was given.
    CHECK(fs::is_empty(world.tmp));
  }

  TEST_CASE("a server with a self-signed certificate is refused, and no token sent, unless its "
            "CA is given") {
    test::HttpsApi api;
    api.route("GET", "/hook", [](const test::ApiRequest&) {
      return test::json_reply(200, R"({"decision":"approved"})");
    });
    api.route("GET", "/prom/api/v1/query", [](const test::ApiRequest&) {
      return test::json_reply(
          200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}})");
    });
    api.route("GET", "/repos/acme/deploy/pulls", [](const test::ApiRequest&) {
      return test::json_reply(200, "[]");
    });
    api.route("POST", "/repos/acme/deploy/pulls", [](const test::ApiRequest&) {
      return test::json_reply(201, R"({"number":1,"html_url":"https://github.example/acme/deploy/pull/1",
          "state":"open","head":{"ref":"x","repo":{"full_name":"acme/deploy"}}})");
    });
    // git over smart HTTP: a 401 asking for basic auth, so that a client sends its token.
    api.route("GET", "/acme/deploy.git/info/refs", [](const test::ApiRequest& request) {
      if (request.header("Authorization").empty()) {
        return test::ApiReply{401, "", {{"WWW-Authenticate", "Basic realm=\"git\""}}};
      }
      return test::ApiReply{404, "not here", {{"Content-Type", "text/plain"}}};
    });

    test::TempDir dir;
    const fs::path repo = dir / "repo";
    for (const char* stage : {"dev", "hooked", "metered", "prod"}) {
      write_text(repo / "overlays" / stage / "kustomization.yaml",
                 "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
    }
    write_text(repo / "overlays/dev/kustomization.yaml",
               "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.1.0\n");
    write_text(repo / "promote.yaml", R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: tls}
repository: {url: ., branch: main, provider: github, api: ')" + api.url() +
                                          R"(', project: acme/deploy}
images:
  - {name: api, repository: ghcr.io/acme/api}
stages:
  - name: dev
    target: {kustomize: overlays/dev}
  - name: hooked
    from: dev
    target: {kustomize: overlays/hooked}
    gates:
      - use: http
        with: {url: ')" + api.url("/hook") +
                                          R"(', headers: {Authorization: {env: HOOK_TOKEN, prefix: 'Bearer '}}}
  - name: metered
    from: dev
    target: {kustomize: overlays/metered}
    gates:
      - use: prometheus
        with: {url: ')" + api.url("/prom") +
                                          R"(', query: up, condition: '> 0', auth: {bearer_env: PROM_BEARER}}
  - name: prod
    from: dev
    target: {kustomize: overlays/prod}
    strategy: pull-request
)");
    write_text(dir / "remote/promote.yaml",
               "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: remote}\n"
               "repository: {url: 'https://localhost:" + std::to_string(api.port()) +
                   "/acme/deploy.git'}\n"
               "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
               "stages:\n  - name: dev\n    target: {kustomize: overlays/dev}\n");
    sh("git init -q --bare -b main remote.git && cd repo && git init -q -b main && "
       "git config user.name CI && git config user.email ci@example.org && "
       "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
       "git remote add origin ../remote.git && git push -q -u origin main",
       dir.path());

    struct Case {
      const char* name;
      std::vector<std::string> args;
      fs::path cwd;
      std::string header;  // the header that carries the token
      std::string token;
    };
    const std::vector<Case> cases = {
        {"http gate", {"--to", "hooked", "--dry-run"}, repo, "Authorization", "tokHOOK-9f8e7d6c"},
        {"prometheus gate", {"--to", "metered", "--dry-run"}, repo, "Authorization",
         "tokPRB-1a2b3c4d"},
        {"forge", {"--to", "prod"}, repo, "Authorization", "tokPFT+7b3d0e11"},
        {"git over https", {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.2.0"}, dir / "remote",
         "Authorization", promote::util::base64(std::string(k_git_user) + ":tokPGT-5e1f9a2c")},
    };
    const auto run = [&](const Case& c, const std::map<std::string, std::string>& ca) {
      std::vector<std::string> argv = {test::promote_binary().string(), "--output", "json"};
      argv.insert(argv.end(), c.args.begin(), c.args.end());
      std::map<std::string, std::string> env = {
          {"PROMOTE_ACTOR", "ci"},       {"PROMOTE_HISTORY", ""},       {"NO_COLOR", "1"},
          {"GITHUB_ACTIONS", ""},        {"GITLAB_CI", ""},             {"CI", ""},
          {"PROMOTE_CA_FILE", ""},       {"SSL_CERT_FILE", ""},         {"HTTPS_PROXY", ""},
          {"https_proxy", ""},           {"ALL_PROXY", ""},             {"all_proxy", ""},
          {"GITHUB_TOKEN", ""},          {"GITLAB_TOKEN", ""},          {"CI_JOB_TOKEN", ""},
          {"GITEA_TOKEN", ""},           {"HOOK_TOKEN", "tokHOOK-9f8e7d6c"},
          {"PROM_BEARER", "tokPRB-1a2b3c4d"}, {"PROMOTE_FORGE_TOKEN", "tokPFT+7b3d0e11"},
          {"PROMOTE_GIT_TOKEN", "tokPGT-5e1f9a2c"}, {"PROMOTE_GIT_USER", ""},
          {"TMPDIR", (dir / "tmp").string()}};
      fs::create_directories(dir / "tmp");
      for (const auto& [name, value] : ca) {
        env[name] = value;
      }
      return test::run(argv, c.cwd, env);
    };
    test::HttpsApi other;  // a CA that did not sign the server's certificate
    for (const Case& c : cases) {
      CAPTURE(c.name);
      {
        INFO("no CA given: the system store does not know the server's");
        api.clear_log();
        const int before = api.connections();
        const CommandResult result = run(c, {});
        INFO("stdout: " << result.out << "\nstderr: " << result.err);
        CHECK(result.exit_code == 4);
        CHECK(api.connections() > before);
        CHECK(api.log().empty());  // no request, so no token, went out
        CHECK_FALSE(contains(result.out + result.err, c.token));
        const json doc = json::parse(result.out, nullptr, false);
        REQUIRE_FALSE(doc.is_discarded());
        const std::string said = doc.dump();
        CHECK((contains(said, "certificate") || contains(said, "TLS")));
      }
      {
        INFO("another CA in PROMOTE_CA_FILE");
        api.clear_log();
        const CommandResult result = run(c, {{"PROMOTE_CA_FILE", other.ca_file()}});
        INFO("stdout: " << result.out << "\nstderr: " << result.err);
        CHECK(result.exit_code == 4);
        CHECK(api.log().empty());
      }
      for (const char* variable : {"PROMOTE_CA_FILE", "SSL_CERT_FILE"}) {
        INFO("the server's CA in " << variable);
        api.clear_log();
        const CommandResult result = run(c, {{variable, api.ca_file()}});
        INFO("stdout: " << result.out << "\nstderr: " << result.err);
        const auto log = api.log();
        REQUIRE_FALSE(log.empty());
        bool sent = false;
        for (const auto& request : log) {
          sent = sent || contains(request.header(c.header), c.token);
        }
        CHECK(sent);
        CHECK_FALSE(contains(result.out + result.err, c.token));
        if (std::string(c.name) != "git over https") {
          CHECK(result.exit_code == 0);
        }
      }
    }
  }

  TEST_CASE("a secret is scrubbed whole, in its encoded forms, and even when it is tiny") {
    ::setenv("GITEA_TOKEN", "s3cr+t/x", 1);
    ::setenv("PROMOTE_TEST_DECLARED", "line one\n  line two  ", 1);
    const auto secrets = promote::util::secret_values({"PROMOTE_TEST_DECLARED"});
    CHECK(promote::util::scrub("a s3cr+t/x b s3cr%2Bt%2Fx c " + promote::util::base64("s3cr+t/x"),
                               secrets) == "a *** b *** c ***");
    CHECK(promote::util::scrub("got line one\n  line two  ; line two", secrets) ==
          "got ***; ***");
    // A value the marker itself holds (git::redact looped forever on it).
    ::setenv("GITEA_TOKEN", "*", 1);
    CHECK(promote::git::redact("a * b") == "a *** b");
    ::unsetenv("GITEA_TOKEN");
    ::unsetenv("PROMOTE_TEST_DECLARED");
    CHECK(promote::util::scrub_secrets("nothing to hide") == "nothing to hide");
  }
}
