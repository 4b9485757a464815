// End-to-end: strategy pull-request through the real promote binary, against a real git
// repository with a local bare remote and a fake GitHub (or GitLab) REST API served over
// HTTPS on 127.0.0.1, with its pull requests in memory.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/servers/https_api.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
namespace test = promote::test;
using json = nlohmann::json;
using test::CommandResult;
using test::read_text;
using test::sh;
using test::write_text;

namespace {

constexpr const char* k_token = "tok-PR-7c1e5a93d0";
using promote::test::k_examples;

using promote::test::contains;

std::string str(const json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

// object[key] as a string, "" when absent or not a string.
std::string text(const json& object, const char* key) {
  return object.is_object() && object.contains(key) ? str(object.at(key)) : std::string();
}

// A pull request as the fake forge keeps it.
struct FakePr {
  std::uint64_t number = 0;
  std::string head;
  std::string base;
  std::string title;
  std::string body;
  std::string state = "open";  // open, closed, merged
  std::vector<std::string> labels;
  std::vector<std::string> reviewers;
  std::vector<std::string> comments;
  std::vector<json> reviews;  // GitHub's review objects, oldest first
};

// GitHub's pulls API for acme/deploy at the server's root (as GitHub Enterprise would have
// it under /api/v3), or GitLab's merge requests API for group/deploy under /api/v4. The
// handlers run on the server's thread; the state is read by the test between runs of the
// binary, under the mutex.
class FakeForge {
 public:
  enum class Kind { github, gitlab };

  explicit FakeForge(Kind kind) : m_kind(kind) {
    if (kind == Kind::github) {
      install_github();
    } else {
      install_gitlab();
    }
  }

  std::string api_url() const { return server.url(m_kind == Kind::github ? "" : "/api/v4"); }
  std::string pulls_path() const {
    return m_kind == Kind::github ? "/repos/acme/deploy/pulls"
                                  : "/api/v4/projects/group%2Fdeploy/merge_requests";
  }
  std::string web_url(std::uint64_t number) const {
    return m_kind == Kind::github
               ? "https://github.example/acme/deploy/pull/" + std::to_string(number)
               : "https://gitlab.example/group/deploy/-/merge_requests/" + std::to_string(number);
  }

  std::vector<FakePr> prs() const {
    std::lock_guard lock(m_mutex);
    return m_prs;
  }
  std::vector<std::string> problems() const {
    std::lock_guard lock(m_mutex);
    return m_problems;
  }
  int gets() const {
    std::lock_guard lock(m_mutex);
    return m_gets;
  }
  /// The Nth GET of one pull request (counted over all of them) finds it `state` (merged or
  /// closed); 0: never.
  void finish_on_get(int n, const std::string& state = "merged") {
    std::lock_guard lock(m_mutex);
    m_finish_on_get = n;
    m_finish_state = state;
  }
  /// A review of pull request `number` (GitHub's shape:
  /// https://docs.github.com/en/rest/pulls/reviews).
  void add_review(std::uint64_t number, const std::string& login, const std::string& state) {
    std::lock_guard lock(m_mutex);
    for (FakePr& pr : m_prs) {
      if (pr.number == number) {
        pr.reviews.push_back({{"id", pr.reviews.size() + 1},
                              {"user", {{"login", login}}},
                              {"state", state},
                              {"submitted_at", "2026-12-07T05:00:00Z"}});
      }
    }
  }
  /// Every answer is a 401 that quotes the credentials it was sent, as a careless proxy might.
  void echo_credentials() {
    std::lock_guard lock(m_mutex);
    m_echo = true;
  }
  std::size_t count(const std::string& method, const std::string& path) const {
    return server.requests(method, path).size();
  }
  std::vector<json> bodies(const std::string& method, const std::string& path) const {
    std::vector<json> out;
    for (const auto& request : server.requests(method, path)) {
      out.push_back(json::parse(request.body, nullptr, false));
    }
    return out;
  }

  test::HttpsApi server;

 private:
  using Handler = std::function<test::ApiReply(const test::ApiRequest&, const json&)>;

  void on(const std::string& method, const std::string& path, Handler handler) {
    server.route(method, path, [this, handler](const test::ApiRequest& request) {
      std::lock_guard lock(m_mutex);
      const std::string sent = m_kind == Kind::github ? request.header("Authorization")
                                                      : request.header("PRIVATE-TOKEN");
      const std::string wanted =
          m_kind == Kind::github ? "Bearer " + std::string(k_token) : std::string(k_token);
      if (sent != wanted) {
        std::string message = m_kind == Kind::github ? "Bad credentials" : "401 Unauthorized";
        if (m_echo) {
          message += " (you sent '" + sent + "')";
        }
        return test::json_reply(401, json{{"message", message}}.dump());
      }
      expect(request, "Accept",
             m_kind == Kind::github ? "application/vnd.github+json" : "application/json");
      if (m_kind == Kind::github) {
        expect(request, "X-GitHub-Api-Version", "2022-11-28");
      }
      json body;
      if (!request.body.empty()) {
        expect(request, "Content-Type", "application/json");
        body = json::parse(request.body, nullptr, false);
        if (body.is_discarded()) {
          m_problems.push_back(request.method + " " + request.target + ": the body is not JSON");
          return test::json_reply(400, R"({"message":"Problems parsing JSON"})");
        }
      }
      return handler(request, body);
    });
  }

  void expect(const test::ApiRequest& request, const char* name, const std::string& value) {
    if (request.header(name) != value) {
      m_problems.push_back(request.method + " " + request.target + ": " + name + " is '" +
                           request.header(name) + "', not '" + value + "'");
    }
  }

  FakePr* find(const test::ApiRequest& request) {
    const std::string& number = request.params.at(0);
    for (FakePr& pr : m_prs) {
      if (std::to_string(pr.number) == number) {
        return &pr;
      }
    }
    return nullptr;
  }

  FakePr& add(const std::string& head, const std::string& base, const std::string& title,
              const std::string& body) {
    FakePr pr;
    pr.number = m_prs.size() + 1;
    pr.head = head;
    pr.base = base;
    pr.title = title;
    pr.body = body;
    m_prs.push_back(std::move(pr));
    return m_prs.back();
  }

  void count_get(FakePr& pr) {
    ++m_gets;
    if (m_finish_on_get > 0 && m_gets >= m_finish_on_get) {
      pr.state = m_finish_state;
    }
  }

  static test::ApiReply not_found() { return test::json_reply(404, R"({"message":"Not Found"})"); }

  static void add_unique(std::vector<std::string>& to, const std::string& value) {
    if (std::find(to.begin(), to.end(), value) == to.end()) {
      to.push_back(value);
    }
  }

  // --- GitHub --------------------------------------------------------------------------------

  json github_json(const FakePr& pr) const {
    return {{"number", pr.number},
            {"html_url", web_url(pr.number)},
            {"state", pr.state == "open" ? "open" : "closed"},
            {"merged", pr.state == "merged"},
            {"merged_at", pr.state == "merged" ? json("2026-11-23T18:32:00Z") : json()},
            {"title", pr.title},
            {"body", pr.body},
            {"head",
             {{"ref", pr.head},
              {"label", "acme:" + pr.head},
              {"repo", {{"full_name", "acme/deploy"}}}}},
            {"base", {{"ref", pr.base}, {"repo", {{"full_name", "acme/deploy"}}}}}};
  }

  void install_github() {
    const std::string repo = "/repos/acme/deploy";
    on("GET", repo + "/pulls", [this](const test::ApiRequest& request, const json&) {
      if (request.query_value("state") != "open") {
        m_problems.push_back("GET pulls without state=open");
      }
      const std::string head = request.query_value("head");  // OWNER:BRANCH
      const std::string base = request.query_value("base");
      json items = json::array();
      for (const FakePr& pr : m_prs) {
        if (pr.state == "open" && (head.empty() || "acme:" + pr.head == head) &&
            (base.empty() || pr.base == base)) {
          items.push_back(github_json(pr));
        }
      }
      return test::json_reply(200, items.dump());
    });
    on("POST", repo + "/pulls", [this](const test::ApiRequest&, const json& body) {
      for (const FakePr& pr : m_prs) {
        if (pr.state == "open" && pr.head == text(body, "head")) {
          return test::json_reply(
              422,
              json{{"message", "Validation Failed"},
                   {"errors",
                    {{{"resource", "PullRequest"},
                      {"code", "custom"},
                      {"message", "A pull request already exists for acme:" + pr.head + "."}}}}}
                  .dump());
        }
      }
      FakePr& pr =
          add(text(body, "head"), text(body, "base"), text(body, "title"), text(body, "body"));
      return test::json_reply(201, github_json(pr).dump());
    });
    on("PATCH", repo + "/pulls/*", [this](const test::ApiRequest& request, const json& body) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      if (body.contains("title")) {
        pr->title = text(body, "title");
      }
      if (body.contains("body")) {
        pr->body = text(body, "body");
      }
      if (body.contains("state")) {
        pr->state = text(body, "state");
      }
      return test::json_reply(200, github_json(*pr).dump());
    });
    on("GET", repo + "/pulls/*", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      count_get(*pr);
      return test::json_reply(200, github_json(*pr).dump());
    });
    on("POST", repo + "/issues/*/labels",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         json out = json::array();
         for (const auto& label : body.value("labels", json::array())) {
           add_unique(pr->labels, str(label));
         }
         for (const auto& label : pr->labels) {
           out.push_back({{"name", label}});
         }
         return test::json_reply(200, out.dump());
       });
    on("GET", repo + "/pulls/*/reviews", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      return test::json_reply(200, json(pr->reviews).dump());
    });
    on("POST", repo + "/pulls/*/requested_reviewers",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         for (const auto& reviewer : body.value("reviewers", json::array())) {
           add_unique(pr->reviewers, str(reviewer));
         }
         return test::json_reply(201, github_json(*pr).dump());
       });
    on("POST", repo + "/issues/*/comments",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         pr->comments.push_back(text(body, "body"));
         return test::json_reply(201, json{{"id", 1}, {"body", text(body, "body")}}.dump());
       });
  }

  // --- GitLab --------------------------------------------------------------------------------

  json gitlab_json(const FakePr& pr) const {
    json reviewers = json::array();
    for (const auto& id : pr.reviewers) {
      reviewers.push_back({{"id", std::stoull(id)}});
    }
    return {{"id", 1000 + pr.number},
            {"iid", pr.number},
            {"web_url", web_url(pr.number)},
            {"state", pr.state == "open" ? "opened" : pr.state},
            {"title", pr.title},
            {"description", pr.body},
            {"source_branch", pr.head},
            {"target_branch", pr.base},
            {"source_project_id", 7},
            {"target_project_id", 7},
            {"labels", pr.labels},
            {"reviewers", reviewers}};
  }

  void set_gitlab(FakePr& pr, const json& body) {
    if (body.contains("labels") || body.contains("add_labels")) {
      const std::string labels = text(body, body.contains("labels") ? "labels" : "add_labels");
      for (std::size_t start = 0; start <= labels.size();) {
        const std::size_t end = std::min(labels.find(',', start), labels.size());
        add_unique(pr.labels, labels.substr(start, end - start));
        start = end + 1;
      }
    }
    if (body.contains("reviewer_ids")) {
      pr.reviewers.clear();
      for (const auto& id : body["reviewer_ids"]) {
        pr.reviewers.push_back(id.dump());
      }
    }
  }

  void install_gitlab() {
    const std::string project = "/api/v4/projects/group%2Fdeploy";
    on("GET", project + "/merge_requests", [this](const test::ApiRequest& request, const json&) {
      if (request.query_value("state") != "opened") {
        m_problems.push_back("GET merge_requests without state=opened");
      }
      const std::string source = request.query_value("source_branch");
      json items = json::array();
      for (const FakePr& pr : m_prs) {
        if (pr.state == "open" && (source.empty() || pr.head == source)) {
          items.push_back(gitlab_json(pr));
        }
      }
      return test::json_reply(200, items.dump());
    });
    on("POST", project + "/merge_requests", [this](const test::ApiRequest&, const json& body) {
      for (const FakePr& pr : m_prs) {
        if (pr.state == "open" && pr.head == text(body, "source_branch")) {
          return test::json_reply(
              409, json{{"message",
                         {"Another open merge request already exists for this source branch: !" +
                          std::to_string(pr.number)}}}
                       .dump());
        }
      }
      FakePr& pr = add(text(body, "source_branch"), text(body, "target_branch"),
                       text(body, "title"), text(body, "description"));
      set_gitlab(pr, body);
      return test::json_reply(201, gitlab_json(pr).dump());
    });
    on("PUT", project + "/merge_requests/*",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         pr->title = body.contains("title") ? text(body, "title") : pr->title;
         pr->body = body.contains("description") ? text(body, "description") : pr->body;
         set_gitlab(*pr, body);
         if (str(body.value("state_event", json())) == "close") {
           pr->state = "closed";
         }
         return test::json_reply(200, gitlab_json(*pr).dump());
       });
    on("GET", project + "/merge_requests/*", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      count_get(*pr);
      return test::json_reply(200, gitlab_json(*pr).dump());
    });
    on("POST", project + "/merge_requests/*/notes",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         pr->comments.push_back(text(body, "body"));
         return test::json_reply(201, json{{"id", 1}}.dump());
       });
    on("GET", "/api/v4/users", [](const test::ApiRequest& request, const json&) {
      json users = json::array();
      if (request.query_value("username") == "alice") {
        users.push_back({{"id", 101}, {"username", "alice"}});
      }
      return test::json_reply(200, users.dump());
    });
  }

  Kind m_kind;
  mutable std::mutex m_mutex;
  std::vector<FakePr> m_prs;
  std::vector<std::string> m_problems;
  int m_gets = 0;
  int m_finish_on_get = 0;
  std::string m_finish_state;
  bool m_echo = false;
};

// A port on 127.0.0.1 that refuses connections: bound, never listening.
class ClosedPort {
 public:
  ClosedPort() {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    m_port = ntohs(address.sin_port);
  }
  ~ClosedPort() { ::close(m_fd); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  unsigned short port() const { return m_port; }

 private:
  int m_fd = -1;
  unsigned short m_port = 0;
};

// What `promote ... --output json` ended with.
struct Run {
  int code = -1;
  json doc;
};

// The demo GitOps repository with a pipeline whose prod stage opens pull requests, pushed to
// a local bare remote. `repository` is the pipeline's repository block after `url` and
// `branch`.
struct Deploy {
  test::TempDir dir;
  fs::path remote = dir / "remote.git";
  fs::path repo = dir / "deploy";
  std::string ca_file;

  // `gates`: more gates of prod (YAML list items, six spaces in).
  Deploy(const std::string& repository, std::string ca, const std::string& gates = "")
      : ca_file(std::move(ca)) {
    sh("git init -q --bare -b main remote.git && mkdir deploy && cp -r '" + k_examples + "/k8s' '" +
           k_examples + "/reports' deploy/",
       dir.path());
    write_text(repo / "promote.yaml", R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: deploy}
repository:
  url: .
  branch: main
)" + repository + R"(
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: dev
    target: {kustomize: k8s/overlays/dev}
  - name: prod
    from: dev
    target: {kustomize: k8s/overlays/prod}
    strategy: pull-request
    pull_request: {labels: [release], reviewers: [alice]}
    gates:
      - use: soak
        with: {min: 0s}
      - use: junit
        with: {path: "reports/junit/*.xml", min_pass_rate: 1.0}
)" + gates);
    sh("cd deploy && git init -q -b main && git config user.name 'Deploy CI' && "
       "git config user.email ci@deploy.example && printf '.promote/\\n' > .gitignore && "
       "git add -A && git commit -q -m init && git remote add origin ../remote.git && "
       "git push -q -u origin main",
       dir.path());
  }

  static std::string github(const std::string& api) {
    return "  provider: github\n  api: " + api + "\n  project: acme/deploy";
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), test::promote_binary().string());
    std::map<std::string, std::string> environment = {
        {"GITHUB_ACTOR", ""},      {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_ACTOR", "deploy-ci"},
        {"PROMOTE_HISTORY", ""},   {"NO_COLOR", "1"},         {"CI", ""},
        {"GITHUB_ACTIONS", ""},    {"GITLAB_CI", ""},         {"PROMOTE_FORGE_TOKEN", ""},
        {"GITHUB_TOKEN", k_token}, {"GITLAB_TOKEN", ""},      {"CI_JOB_TOKEN", ""},
        {"GITEA_TOKEN", ""},       {"PROMOTE_GIT_TOKEN", ""}, {"PROMOTE_CA_FILE", ca_file},
        {"SSL_CERT_FILE", ""},     {"HTTPS_PROXY", ""},       {"https_proxy", ""},
        {"ALL_PROXY", ""},         {"all_proxy", ""}};
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    return test::run(args, repo, environment);
  }

  // promote ARGS --output json: the exit code and the document.
  Run promote_json(std::vector<std::string> args,
                   const std::map<std::string, std::string>& env = {}) const {
    args.push_back("--output");
    args.push_back("json");
    const CommandResult result = promote(args, env);
    INFO("stdout: " << result.out << "\nstderr: " << result.err);
    json doc = json::parse(result.out, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    return Run{result.exit_code, std::move(doc)};
  }

  json history() const {
    const CommandResult result = promote({"history", "--output", "json"});
    REQUIRE(result.exit_code == 0);
    return json::parse(result.out);
  }

  // `git ARGS` in the bare remote, without the final newline.
  std::string remote_git(const std::string& args) const {
    std::string out = sh("git --git-dir=remote.git " + args, dir.path());
    while (!out.empty() && out.back() == '\n') {
      out.pop_back();
    }
    return out;
  }
  std::string remote_head() const { return remote_git("rev-parse main"); }
  // The remote's branches under promote/, one a line.
  std::string remote_promote_branches() const {
    return remote_git("for-each-ref '--format=%(refname:short)' refs/heads/promote");
  }
  std::string overlay(const std::string& stage) const {
    return read_text(repo / "k8s/overlays" / stage / "kustomization.yaml");
  }
  std::string status() const { return sh("git status --porcelain", repo); }
};

void check_no_problems(const FakeForge& forge) {
  for (const auto& problem : forge.problems()) {
    FAIL_CHECK(problem);
  }
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a pull-request stage pushes a branch and opens a pull request, leaving main alone") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file());
    const std::string main_before = deploy.remote_head();
    const std::string prod_before = deploy.overlay("prod");

    const Run doc_run = deploy.promote_json({"--to", "prod"});
    const int code = doc_run.code;
    const json& doc = doc_run.doc;
    INFO(doc.dump(2));
    CHECK(code == 0);
    CHECK(doc["outcome"] == "proposed");
    CHECK(doc["pull_request"] == forge.web_url(1));
    CHECK(doc["superseded"] == json::array());
    CHECK(doc["error"].is_null());
    REQUIRE(doc["candidate"]["short_id"].is_string());
    const std::string branch = "promote/prod/" + str(doc["candidate"]["short_id"]);

    // The remote: a new branch with the one commit, main as it was.
    CHECK(deploy.remote_promote_branches() == branch);
    CHECK(deploy.remote_head() == main_before);
    const std::string tip = deploy.remote_git("rev-parse " + branch);
    CHECK(doc["commit"] == tip);
    CHECK(deploy.remote_git("rev-parse " + branch + "^") == main_before);
    CHECK(deploy.remote_git("show --name-only --format= " + branch) ==
          "k8s/overlays/prod/kustomization.yaml");
    const std::string prod_after =
        deploy.remote_git("show " + branch + ":k8s/overlays/prod/kustomization.yaml") + "\n";
    CHECK(contains(prod_after, "  - name: ghcr.io/acme/api\n    newTag: 1.4.2\n"));
    CHECK(contains(prod_after, "  - name: ghcr.io/acme/web\n    newTag: 2.3.0\n"));
    const std::string message = deploy.remote_git("log -1 --format=%B " + branch) + "\n";
    CHECK(message.starts_with("promote(prod): api 1.4.0 -> 1.4.2, web 2.2.9 -> 2.3.0\n"));
    CHECK(contains(message, "\nPromote-Stage: prod\n"));
    CHECK(contains(message, "\nPromote-From: dev\n"));
    CHECK(contains(message, "\nPromote-Candidate: " + str(doc["candidate"]["id"]) + "\n"));
    CHECK(contains(message, "\nPromote-Id: " + str(doc["promotion_id"]) + "\n"));
    CHECK(contains(message, "\nPromote-Gates: soak=pass, junit=pass\n"));

    // The working tree: untouched, on main.
    CHECK(deploy.status() == "");
    CHECK(deploy.overlay("prod") == prod_before);
    CHECK(sh("git rev-parse HEAD", deploy.repo) == main_before + "\n");

    // The forge: one pull request, labelled, with a reviewer asked, as the API documents.
    check_no_problems(forge);
    const auto posts = forge.server.requests("POST", forge.pulls_path());
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].header("Authorization") == std::string("Bearer ") + k_token);
    CHECK(posts[0].header("Accept") == "application/vnd.github+json");
    CHECK(posts[0].header("X-GitHub-Api-Version") == "2022-11-28");
    json sent = json::parse(posts[0].body);
    CHECK(sent["head"] == branch);
    CHECK(sent["base"] == "main");
    CHECK(sent["title"] == "promote(prod): api 1.4.0 -> 1.4.2, web 2.2.9 -> 2.3.0");
    const std::string body = str(sent["body"]);
    CHECK(contains(body, "| gate | verdict | summary |\n|---|---|---|\n| `soak` | pass | `"));
    CHECK(contains(body, "\n| `junit` | pass | `103 tests: 98 passed, 5 skipped` |\n"));
    CHECK(contains(body, "| api | `ghcr.io/acme/api:1.4.0` | `ghcr.io/acme/api:1.4.2` |\n"));
    CHECK(contains(body, "- `k8s/overlays/prod/kustomization.yaml` (+2 -2)\n"));
    CHECK(contains(body, "-    newTag: 1.4.0\n+    newTag: 1.4.2\n"));
    CHECK(contains(body, "Promote-Id: `" + str(doc["promotion_id"]) + "`"));
    CHECK(forge.count("PATCH", forge.pulls_path() + "/1") == 0);
    CHECK(forge.bodies("POST", "/repos/acme/deploy/issues/1/labels") ==
          std::vector<json>{json::parse(R"({"labels":["release"]})")});
    CHECK(forge.bodies("POST", "/repos/acme/deploy/pulls/1/requested_reviewers") ==
          std::vector<json>{json::parse(R"({"reviewers":["alice"]})")});
    const auto prs = forge.prs();
    REQUIRE(prs.size() == 1);
    CHECK(prs[0].state == "open");
    CHECK(prs[0].labels == std::vector<std::string>{"release"});
    CHECK(prs[0].reviewers == std::vector<std::string>{"alice"});
    for (const auto& request : forge.server.log()) {
      CHECK(request.header("Authorization") == std::string("Bearer ") + k_token);
    }

    // The history: the attempt, proposed, with its pull request.
    const json history = deploy.history();
    REQUIRE(history.size() == 1);
    CHECK(history[0]["stage"] == "prod");
    CHECK(history[0]["outcome"] == "proposed");
    CHECK(history[0]["pull_request"] == forge.web_url(1));
    CHECK(history[0]["commit"] == tip);
    CHECK(history[0]["id"] == doc["promotion_id"]);
  }

  TEST_CASE(
      "an approval gate counts the reviews of the stage's pull request, which is opened "
      "while approvals are all that is missing") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file(),
                  "      - use: approval\n        with: {approvers: [alice, bob]}\n");
    const std::string main_before = deploy.remote_head();

    // Only the approval is missing: the pull request is opened for reviewers, and the
    // promotion waits (pending, exit 3) with its URL.
    const Run first = deploy.promote_json({"--to", "prod"});
    INFO(first.doc.dump(2));
    CHECK(first.code == 3);
    CHECK(first.doc["outcome"] == "pending");
    CHECK(first.doc["pull_request"] == forge.web_url(1));
    REQUIRE(forge.prs().size() == 1);
    const std::string branch = "promote/prod/" + str(first.doc["candidate"]["short_id"]);
    CHECK(forge.prs()[0].head == branch);
    CHECK(deploy.remote_head() == main_before);

    // bob asks for changes, then alice approves: bob's standing request blocks as a rejection.
    forge.add_review(1, "bob", "CHANGES_REQUESTED");
    forge.add_review(1, "alice", "APPROVED");
    const Run blocked = deploy.promote_json({"--to", "prod"});
    INFO(blocked.doc.dump(2));
    CHECK(blocked.doc["outcome"] == "blocked");

    // bob approves too: the gate passes on the reviews, and the pull request is proposed as
    // before (the same one, updated).
    forge.add_review(1, "bob", "APPROVED");
    const Run second = deploy.promote_json({"--to", "prod"});
    INFO(second.doc.dump(2));
    CHECK(second.code == 0);
    CHECK(second.doc["outcome"] == "proposed");
    CHECK(second.doc["pull_request"] == forge.web_url(1));
    json approval;
    for (const auto& gate : second.doc["gates"]) {
      if (gate["use"] == "approval") {
        approval = gate;
      }
    }
    CHECK(approval["status"] == "pass");
    CHECK(contains(approval["details"].dump(), "review of " + forge.web_url(1)));
    CHECK(forge.prs().size() == 1);
    check_no_problems(forge);
    const json history = deploy.history();
    REQUIRE(history.size() == 3);
    CHECK(history[2]["outcome"] == "pending");
    CHECK(history[2]["pull_request"] == forge.web_url(1));
  }

  TEST_CASE("running a proposal again updates its pull request and leaves its branch as it is") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file());
    const std::string main_before = deploy.remote_head();
    const Run first_run = deploy.promote_json({"--to", "prod"});
    const int first_code = first_run.code;
    const json& first = first_run.doc;
    REQUIRE(first_code == 0);
    const std::string branch = "promote/prod/" + str(first["candidate"]["short_id"]);
    const std::string first_tip = deploy.remote_git("rev-parse " + branch);
    forge.server.clear_log();

    const Run doc_run = deploy.promote_json({"--to", "prod"});
    const int code = doc_run.code;
    const json& doc = doc_run.doc;
    INFO(doc.dump(2));
    CHECK(code == 0);
    CHECK(doc["outcome"] == "proposed");
    CHECK(doc["pull_request"] == forge.web_url(1));
    CHECK(doc["superseded"] == json::array());
    CHECK(doc["promotion_id"] != first["promotion_id"]);

    // The same branch at the same commit: the same change on the same main is not pushed
    // again (no new checks, no dismissed reviews); its message keeps the first Promote-Id.
    CHECK(deploy.remote_promote_branches() == branch);
    const std::string tip = deploy.remote_git("rev-parse " + branch);
    CHECK(tip == first_tip);
    CHECK(doc["commit"] == tip);
    CHECK(doc["push_attempts"] == 0);
    CHECK(deploy.remote_git("rev-parse " + branch + "^") == main_before);
    CHECK(contains(deploy.remote_git("log -1 --format=%B " + branch),
                   "\nPromote-Id: " + str(first["promotion_id"]) + "\n"));
    CHECK(deploy.remote_head() == main_before);

    // No second pull request: the open one gets the new title and body.
    check_no_problems(forge);
    CHECK(forge.count("POST", forge.pulls_path()) == 0);
    const auto patches = forge.bodies("PATCH", forge.pulls_path() + "/1");
    REQUIRE(patches.size() == 1);
    CHECK(patches[0]["title"] == "promote(prod): api 1.4.0 -> 1.4.2, web 2.2.9 -> 2.3.0");
    CHECK(contains(str(patches[0]["body"]), "Promote-Id: `" + str(doc["promotion_id"]) + "`"));
    CHECK_FALSE(patches[0].contains("state"));
    const auto prs = forge.prs();
    REQUIRE(prs.size() == 1);
    CHECK(prs[0].state == "open");
    CHECK(prs[0].comments.empty());
    CHECK(prs[0].labels == std::vector<std::string>{"release"});

    const json history = deploy.history();
    REQUIRE(history.size() == 2);
    CHECK(history[0]["outcome"] == "proposed");
    CHECK(history[0]["pull_request"] == forge.web_url(1));
    CHECK(history[1]["pull_request"] == forge.web_url(1));
  }

  TEST_CASE("a newer candidate opens a new pull request and closes the older one with a comment") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file());
    const Run first_run = deploy.promote_json({"--to", "prod"});
    const int first_code = first_run.code;
    const json& first = first_run.doc;
    REQUIRE(first_code == 0);
    const std::string old_branch = "promote/prod/" + str(first["candidate"]["short_id"]);
    const std::string old_tip = deploy.remote_git("rev-parse " + old_branch);

    const Run dev_run =
        deploy.promote_json({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"});
    const int dev_code = dev_run.code;
    const json& dev = dev_run.doc;
    REQUIRE(dev_code == 0);
    REQUIRE(dev["outcome"] == "promoted");  // dev commits: main moves on
    const std::string main_after_dev = deploy.remote_head();

    const Run doc_run = deploy.promote_json({"--to", "prod"});
    const int code = doc_run.code;
    const json& doc = doc_run.doc;
    INFO(doc.dump(2));
    CHECK(code == 0);
    CHECK(doc["outcome"] == "proposed");
    CHECK(doc["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.4.3");
    CHECK(doc["candidate"]["short_id"] != first["candidate"]["short_id"]);
    CHECK(doc["pull_request"] == forge.web_url(2));
    CHECK(doc["superseded"] == json::array({forge.web_url(1)}));

    const std::string branch = "promote/prod/" + str(doc["candidate"]["short_id"]);
    // for-each-ref sorts by name; both are there, the old one as it was.
    const std::string branches = deploy.remote_promote_branches();
    CHECK(contains(branches, old_branch));
    CHECK(contains(branches, branch));
    CHECK(std::count(branches.begin(), branches.end(), '\n') == 1);
    CHECK(deploy.remote_git("rev-parse " + old_branch) == old_tip);
    CHECK(deploy.remote_git("rev-parse " + branch + "^") == main_after_dev);
    CHECK(deploy.remote_head() == main_after_dev);
    CHECK(deploy.remote_git("log -1 --format=%s " + branch) ==
          "promote(prod): api 1.4.0 -> 1.4.3, web 2.2.9 -> 2.3.0");

    check_no_problems(forge);
    const auto prs = forge.prs();
    REQUIRE(prs.size() == 2);
    CHECK(prs[0].head == old_branch);
    CHECK(prs[0].state == "closed");
    CHECK(prs[0].comments ==
          std::vector<std::string>{"Superseded by " + forge.web_url(2) + " (" + branch +
                                   "), a newer candidate for the same stage."});
    CHECK(prs[1].head == branch);
    CHECK(prs[1].state == "open");
    CHECK(prs[1].comments.empty());
    CHECK(forge.bodies("PATCH", forge.pulls_path() + "/1") ==
          std::vector<json>{json::parse(R"({"state":"closed"})")});
    CHECK(forge.count("PATCH", forge.pulls_path() + "/2") == 0);

    const json history = deploy.history();
    REQUIRE(history.size() == 3);
    CHECK(history[0]["stage"] == "prod");
    CHECK(history[0]["pull_request"] == forge.web_url(2));
  }

  TEST_CASE("--wait-merged waits for the pull request to be merged") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file());
    const std::string main_before = deploy.remote_head();

    SUBCASE("merged on the second look: promoted") {
      forge.finish_on_get(2);
      const Run doc_run = deploy.promote_json({"--to", "prod", "--wait-merged", "5s"});
      const int code = doc_run.code;
      const json& doc = doc_run.doc;
      INFO(doc.dump(2));
      CHECK(code == 0);
      CHECK(doc["outcome"] == "promoted");
      CHECK(doc["pull_request"] == forge.web_url(1));
      CHECK(doc["warnings"] == json::array());
      CHECK(forge.gets() == 2);
      CHECK(forge.prs().at(0).state == "merged");
      const json history = deploy.history();
      REQUIRE(history.size() == 1);
      CHECK(history[0]["outcome"] == "promoted");
      CHECK(history[0]["pull_request"] == forge.web_url(1));
    }
    SUBCASE("closed without a merge: an error") {
      forge.finish_on_get(2, "closed");
      const Run doc_run = deploy.promote_json({"--to", "prod", "--wait-merged", "5s"});
      const int code = doc_run.code;
      const json& doc = doc_run.doc;
      INFO(doc.dump(2));
      CHECK(code == 4);
      CHECK(doc["outcome"] == "error");
      CHECK(doc["error"]["kind"] == "conflict");
      CHECK(doc["error"]["message"] ==
            forge.web_url(1) + " was closed without being merged; nothing was promoted");
      CHECK(forge.gets() == 2);
      const json history = deploy.history();
      REQUIRE(history.size() == 1);
      CHECK(history[0]["outcome"] == "error");
    }
    SUBCASE("never merged: pending, exit 3") {
      const Run doc_run = deploy.promote_json({"--to", "prod", "--wait-merged", "3s"});
      const int code = doc_run.code;
      const json& doc = doc_run.doc;
      INFO(doc.dump(2));
      CHECK(code == 3);
      CHECK(doc["outcome"] == "pending");
      CHECK(doc["pull_request"] == forge.web_url(1));
      CHECK(doc["warnings"] == json::array({forge.web_url(1) + " is not merged after 3s"}));
      CHECK(forge.gets() >= 2);  // polled every second
      CHECK(forge.gets() <= 5);
      CHECK(forge.prs().at(0).state == "open");
      const json history = deploy.history();
      REQUIRE(history.size() == 1);
      CHECK(history[0]["outcome"] == "pending");
      CHECK(history[0]["pull_request"] == forge.web_url(1));
    }
    check_no_problems(forge);
    CHECK(forge.prs().size() == 1);
    CHECK(deploy.remote_head() == main_before);
    CHECK(deploy.status() == "");
  }

  TEST_CASE("a refused token is a clear error that never shows the token") {
    FakeForge forge(FakeForge::Kind::github);
    Deploy deploy(Deploy::github(forge.api_url()), forge.server.ca_file());
    const std::string main_before = deploy.remote_head();
    const std::string wrong = "ghp_wR0ngT0k3nZ9x8y7";
    std::string expected = "github: the token in GITHUB_TOKEN was refused (401 Bad credentials)";
    SUBCASE("the forge says so") {}
    SUBCASE("the forge quotes the token back") {
      forge.echo_credentials();
      expected =
          "github: the token in GITHUB_TOKEN was refused (401 Bad credentials (you sent "
          "'Bearer ***'))";
    }
    const CommandResult result =
        deploy.promote({"--to", "prod", "--output", "json"}, {{"GITHUB_TOKEN", wrong}});
    INFO("stdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code == 4);
    const json doc = json::parse(result.out);
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "http");
    CHECK(doc["error"]["message"] == expected);
    CHECK(doc["pull_request"].is_null());
    CHECK_FALSE(contains(result.out, wrong));
    CHECK_FALSE(contains(result.err, wrong));
    CHECK(forge.prs().empty());
    REQUIRE_FALSE(forge.server.log().empty());
    CHECK(forge.server.log()[0].header("Authorization") == "Bearer " + wrong);
    CHECK(deploy.remote_head() == main_before);

    const CommandResult text = deploy.promote({"--to", "prod"}, {{"GITHUB_TOKEN", wrong}});
    CHECK(text.exit_code == 4);
    CHECK(contains(text.out + text.err, expected));
    CHECK_FALSE(contains(text.out + text.err, wrong));

    const json history = deploy.history();
    REQUIRE(history.size() == 2);
    CHECK(history[0]["outcome"] == "error");
    CHECK(history[0]["error"] == expected);
    for (const auto& entry : fs::directory_iterator(deploy.repo / ".promote")) {
      INFO(entry.path());
      CHECK_FALSE(contains(read_text(entry.path()), wrong));
    }
    CHECK_FALSE(contains(deploy.remote_git("log --all --format=%B"), wrong));
  }

  TEST_CASE("on GitLab a merge request is opened with the project path and PRIVATE-TOKEN") {
    FakeForge forge(FakeForge::Kind::gitlab);
    Deploy deploy("  provider: gitlab\n  api: " + forge.api_url() + "\n  project: group/deploy",
                  forge.server.ca_file());
    const std::string main_before = deploy.remote_head();
    const Run doc_run =
        deploy.promote_json({"--to", "prod"}, {{"GITHUB_TOKEN", ""}, {"GITLAB_TOKEN", k_token}});
    const int code = doc_run.code;
    const json& doc = doc_run.doc;
    INFO(doc.dump(2));
    CHECK(code == 0);
    CHECK(doc["outcome"] == "proposed");
    CHECK(doc["pull_request"] == forge.web_url(1));
    const std::string branch = "promote/prod/" + str(doc["candidate"]["short_id"]);
    CHECK(deploy.remote_promote_branches() == branch);
    CHECK(deploy.remote_head() == main_before);

    check_no_problems(forge);
    const auto posts =
        forge.server.requests("POST", "/api/v4/projects/group%2Fdeploy/merge_requests");
    REQUIRE(posts.size() == 1);
    CHECK(posts[0].header("PRIVATE-TOKEN") == k_token);
    CHECK(posts[0].header("Authorization") == "");
    json sent = json::parse(posts[0].body);
    CHECK(sent["source_branch"] == branch);
    CHECK(sent["target_branch"] == "main");
    CHECK(sent["title"] == "promote(prod): api 1.4.0 -> 1.4.2, web 2.2.9 -> 2.3.0");
    CHECK(contains(str(sent["description"]),
                   "\n| `junit` | pass | `103 tests: 98 passed, 5 skipped` |\n"));
    CHECK(sent["labels"] == "release");
    CHECK(sent["reviewer_ids"] == json::array({101}));
    const auto prs = forge.prs();
    REQUIRE(prs.size() == 1);
    CHECK(prs[0].labels == std::vector<std::string>{"release"});
    CHECK(prs[0].reviewers == std::vector<std::string>{"101"});
    CHECK(deploy.history()[0]["pull_request"] == forge.web_url(1));
  }

  TEST_CASE("a forge that cannot be reached is an error and main is left alone") {
    FakeForge forge(FakeForge::Kind::github);  // only for its CA file: nothing reaches it
    const ClosedPort closed;
    const std::string api = "https://127.0.0.1:" + std::to_string(closed.port());
    Deploy deploy(Deploy::github(api), forge.server.ca_file());
    const std::string main_before = deploy.remote_head();
    const std::string prod_before = deploy.overlay("prod");

    const Run doc_run = deploy.promote_json({"--to", "prod"});
    const int code = doc_run.code;
    const json& doc = doc_run.doc;
    INFO(doc.dump(2));
    CHECK(code == 4);
    CHECK(doc["outcome"] == "error");
    CHECK(doc["error"]["kind"] == "http");
    const std::string message = str(doc["error"]["message"]);
    CHECK(message ==
          "github: GET " + api +
              "/repos/acme/deploy/pulls?state=open&per_page=100&head=acme%3Apromote%2Fprod%2F" +
              str(doc["candidate"]["short_id"]) + "&base=main: cannot connect to 127.0.0.1:" +
              std::to_string(closed.port()) + ": Connection refused (after 4 attempts)");
    CHECK(doc["pull_request"].is_null());
    CHECK(forge.server.log().empty());

    // The branch went out before the forge was asked; main did not move.
    CHECK(deploy.remote_head() == main_before);
    const std::string branches = deploy.remote_promote_branches();
    if (!branches.empty()) {
      CHECK(branches == "promote/prod/" + str(doc["candidate"]["short_id"]));
      CHECK(deploy.remote_git("rev-parse " + branches + "^") == main_before);
    }
    CHECK(deploy.status() == "");
    CHECK(deploy.overlay("prod") == prod_before);

    const json history = deploy.history();
    REQUIRE(history.size() == 1);
    CHECK(history[0]["outcome"] == "error");
    CHECK(history[0]["error"] == message);
    CHECK(history[0]["pull_request"] == "");
    // The branch commit was pushed but proposed to nobody: it is not recorded as the commit.
    CHECK(history[0]["commit"] == "");
  }
}
