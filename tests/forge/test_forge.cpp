// The pull/merge request clients against fake GitHub, GitLab and Gitea APIs: an HTTPS
// server on 127.0.0.1 with the open pull requests in memory, checking the method, the path,
// the headers and the JSON body of each request as the providers document them.

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/forge/forge.hpp"
#include "engine/forge/provider.hpp"
#include "engine/util/time.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

namespace forge = promote::forge;
namespace test = promote::test;
using json = nlohmann::json;
using forge::Provider;
using forge::PullRequest;
using namespace std::chrono_literals;

using promote::test::ScopedEnv;

namespace {

constexpr const char* k_token = "tok-5ecret-9f8e7d";
constexpr std::size_t k_page_size = 2;
const std::array<Provider, 3> k_providers = {Provider::github, Provider::gitlab, Provider::gitea};

// Environment changes undone in reverse order at the end of the scope.
class Env {
 public:
  ~Env() {
    while (!m_vars.empty()) {
      m_vars.pop_back();
    }
  }
  void set(const std::string& name, const std::optional<std::string>& value) {
    m_vars.push_back(std::make_unique<ScopedEnv>(name, value));
  }

 private:
  std::vector<std::unique_ptr<ScopedEnv>> m_vars;
};

// A JSON string as a std::string ("" for anything else).
std::string str(const json& value) {
  return value.is_string() ? value.get<std::string>() : std::string();
}

// object[key], null when absent.
json field(const json& object, const char* key) {
  return object.is_object() && object.contains(key) ? object.at(key) : json();
}

const char* token_variable(Provider provider) {
  switch (provider) {
    case Provider::github:
      return "GITHUB_TOKEN";
    case Provider::gitlab:
      return "GITLAB_TOKEN";
    case Provider::gitea:
      return "GITEA_TOKEN";
  }
  return "";
}

// A pull request as the fake provider keeps it.
struct FakePr {
  std::uint64_t number = 0;
  std::string head;
  std::string base = "main";
  std::string title;
  std::string body;
  std::string state = "open";  // open, closed, merged
  bool fork = false;           // its head is in someone else's fork
  std::vector<std::string> labels;
  std::vector<std::string> reviewers;  // logins (GitLab: user ids)
  std::vector<std::string> comments;
  std::vector<json> reviews;             // GitHub and Gitea: review objects, oldest first
  std::vector<std::string> approved_by;  // GitLab: usernames
};

// One provider's API with its pull requests in memory. The handlers run on the server's
// thread while a forge call blocks the test's thread, so the test reads the state between
// calls only.
class FakeForge {
 public:
  explicit FakeForge(Provider provider, bool job_token = false)
      : provider(provider), m_job_token(job_token) {
    for (const char* name : {"PROMOTE_FORGE_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN",
                             "GITEA_TOKEN", "PROMOTE_GIT_TOKEN", "SSL_CERT_FILE", "HTTPS_PROXY",
                             "https_proxy", "NO_PROXY", "no_proxy"}) {
      env.set(name, std::nullopt);
    }
    env.set("PROMOTE_CA_FILE", server.ca_file());
    env.set(job_token ? "CI_JOB_TOKEN" : token_variable(provider), k_token);
    switch (provider) {
      case Provider::github:
        install_github();
        break;
      case Provider::gitlab:
        install_gitlab();
        break;
      case Provider::gitea:
        install_gitea();
        break;
    }
  }

  std::string api_prefix() const {
    switch (provider) {
      case Provider::github:
        return "/api/v3";
      case Provider::gitlab:
        return "/api/v4";
      case Provider::gitea:
        return "/api/v1";
    }
    return "";
  }
  // The path of the project's resources.
  std::string project_path() const {
    return api_prefix() +
           (provider == Provider::gitlab ? "/projects/acme%2Fplatform%2Fshop" : "/repos/acme/shop");
  }
  std::string pulls_path() const {
    return project_path() + (provider == Provider::gitlab ? "/merge_requests" : "/pulls");
  }
  std::string pull_path(std::uint64_t number) const {
    return pulls_path() + "/" + std::to_string(number);
  }

  forge::Settings settings() const {
    forge::Settings settings;
    settings.provider = provider;
    settings.api_url = server.url(api_prefix());
    settings.project = provider == Provider::gitlab ? "acme/platform/shop" : "acme/shop";
    settings.timeout = 10s;
    settings.backoff_base = 1ms;
    return settings;
  }

  static forge::Proposal proposal(const std::string& id,
                                  const std::string& title = "promote(prod): api 1.4.2") {
    forge::Proposal proposal;
    proposal.head = "promote/prod/" + id;
    proposal.base = "main";
    proposal.title = title;
    proposal.body = "| gate | verdict |\n|---|---|\n| soak | ✅ pass |\n\ncandidate " + id + "\n";
    proposal.supersede_prefix = "promote/prod/";
    return proposal;
  }

  std::string web_url(std::uint64_t number) const {
    switch (provider) {
      case Provider::github:
        return "https://github.example/acme/shop/pull/" + std::to_string(number);
      case Provider::gitlab:
        return "https://gitlab.example/acme/platform/shop/-/merge_requests/" +
               std::to_string(number);
      case Provider::gitea:
        return "https://gitea.example/acme/shop/pulls/" + std::to_string(number);
    }
    return "";
  }

  FakePr& add_pr(const std::string& head, const std::string& base = "main") {
    FakePr pr;
    pr.number = m_next++;
    pr.head = head;
    pr.base = base;
    pr.title = "opened by hand";
    prs.push_back(pr);
    return prs.back();
  }

  FakePr* find(std::uint64_t number) {
    for (FakePr& pr : prs) {
      if (pr.number == number) {
        return &pr;
      }
    }
    return nullptr;
  }

  // The JSON bodies of the requests for METHOD path.
  std::vector<json> bodies(const std::string& method, const std::string& path) const {
    std::vector<json> out;
    for (const auto& request : server.requests(method, path)) {
      out.push_back(request.body.empty() ? json() : json::parse(request.body, nullptr, false));
    }
    return out;
  }

  Provider provider;
  test::HttpsApi server;
  Env env;
  std::vector<FakePr> prs;
  std::vector<std::string> problems;  // what the handlers found wrong in a request
  std::deque<test::ApiReply> script;  // answered, in turn, to the next requests
  bool hide_next_list = false;        // the next list comes back empty (a race)
  bool echo_token = false;            // a 401 quotes the credentials it was sent
  int merge_after_gets = 0;           // the Nth GET of one pull request finds it merged
  int gets = 0;

 private:
  using Handler = std::function<test::ApiReply(const test::ApiRequest&, const json&)>;

  void on(const std::string& method, const std::string& path, Handler handler) {
    server.route(method, path, [this, handler](const test::ApiRequest& request) {
      if (auto refused = authenticate(request)) {
        return *refused;
      }
      expect_headers(request);
      if (!script.empty()) {
        test::ApiReply reply = script.front();
        script.pop_front();
        return reply;
      }
      json body;
      if (!request.body.empty()) {
        body = json::parse(request.body, nullptr, false);
        if (body.is_discarded()) {
          problems.push_back(request.method + " " + request.target + ": the body is not JSON");
          return test::json_reply(400, R"({"message":"Problems parsing JSON"})");
        }
      }
      return handler(request, body);
    });
  }

  std::optional<test::ApiReply> authenticate(const test::ApiRequest& request) const {
    std::string sent;
    bool ok = false;
    std::string message;
    switch (provider) {
      case Provider::github:
        sent = request.header("Authorization");
        ok = sent == "Bearer " + std::string(k_token);
        message = "Bad credentials";
        break;
      case Provider::gitlab:
        sent = request.header(m_job_token ? "JOB-TOKEN" : "PRIVATE-TOKEN");
        ok = sent == k_token && request.header(m_job_token ? "PRIVATE-TOKEN" : "JOB-TOKEN").empty();
        message = "401 Unauthorized";
        break;
      case Provider::gitea:
        sent = request.header("Authorization");
        ok = sent == "token " + std::string(k_token);
        message = "token is required";
        break;
    }
    if (ok) {
      return std::nullopt;
    }
    if (echo_token) {
      message += " (you sent '" + sent + "')";
    }
    return test::json_reply(401, json{{"message", message}}.dump());
  }

  void expect_headers(const test::ApiRequest& request) {
    auto expect = [&](const char* name, const std::string& value) {
      if (request.header(name) != value) {
        problems.push_back(request.method + " " + request.target + ": " + name + " is '" +
                           request.header(name) + "', not '" + value + "'");
      }
    };
    if (provider == Provider::github) {
      expect("Accept", "application/vnd.github+json");
      expect("X-GitHub-Api-Version", "2022-11-28");
    } else {
      expect("Accept", "application/json");
    }
    expect("User-Agent", "promote");
    if (!request.body.empty()) {
      expect("Content-Type", "application/json");
    }
  }

  // A 422 naming the first of `fields` that `body` lacks as a string.
  std::optional<test::ApiReply> require(const test::ApiRequest& request, const json& body,
                                        std::initializer_list<const char*> fields) {
    for (const char* field : fields) {
      if (!body.is_object() || !body.contains(field) || !body[field].is_string()) {
        problems.push_back(request.method + " " + request.target + ": no string '" + field + "'");
        return test::json_reply(422, json{{"message", std::string(field) + " is missing"}}.dump());
      }
    }
    return std::nullopt;
  }

  // One page (page size 2) of `items`, with a Link to the next one as the providers send it.
  test::ApiReply page_of(const test::ApiRequest& request, const std::vector<json>& items) {
    const std::size_t page =
        request.has_query("page") ? std::stoul(request.query_value("page")) : 1;
    json out = json::array();
    for (std::size_t i = (page - 1) * k_page_size; i < std::min(items.size(), page * k_page_size);
         ++i) {
      out.push_back(items[i]);
    }
    std::vector<std::pair<std::string, std::string>> headers;
    if (page * k_page_size < items.size()) {
      std::string target = request.target;
      if (const auto at = target.find("&page="); at != std::string::npos) {
        target.erase(at);
      }
      headers.emplace_back("Link", "<" + server.url(target + "&page=" + std::to_string(page + 1)) +
                                       ">; rel=\"next\", <" + server.url(target + "&page=99") +
                                       ">; rel=\"last\"");
    }
    return test::json_reply(200, out.dump(), headers);
  }

  test::ApiReply not_found() { return test::json_reply(404, R"({"message":"Not Found"})"); }

  FakePr* find(const test::ApiRequest& request) {
    const std::string& number = request.params.at(0);
    if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos) {
      return nullptr;
    }
    return find(std::stoull(number));
  }

  // Each list starts with a check of its filters; `hide_next_list` answers [] once.
  bool hidden() {
    if (!hide_next_list) {
      return false;
    }
    hide_next_list = false;
    return true;
  }

  void count_get(FakePr& pr) {
    ++gets;
    if (merge_after_gets > 0 && gets >= merge_after_gets) {
      pr.state = "merged";
    }
  }

  static void add_unique(std::vector<std::string>& to, const std::string& value) {
    if (std::find(to.begin(), to.end(), value) == to.end()) {
      to.push_back(value);
    }
  }

  // --- GitHub ------------------------------------------------------------------------------

  json github_json(const FakePr& pr) const {
    return {{"number", pr.number},
            {"html_url", web_url(pr.number)},
            {"state", pr.state == "open" ? "open" : "closed"},
            {"title", pr.title},
            {"body", pr.body},
            {"head",
             {{"ref", pr.head},
              {"label", (pr.fork ? "someone:" : "acme:") + pr.head},
              {"repo", {{"full_name", pr.fork ? "someone/shop" : "acme/shop"}}}}},
            {"base", {{"ref", pr.base}, {"repo", {{"full_name", "acme/shop"}}}}},
            {"merged_at", pr.state == "merged" ? json("2026-11-23T18:32:00Z") : json(nullptr)}};
  }

  // GET /pulls/N/reviews of GitHub and Gitea: the reviews as given, a page at a time.
  void install_reviews(const std::string& repo) {
    on("GET", repo + "/pulls/*/reviews", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return test::json_reply(404, R"({"message":"Not Found"})");
      }
      return page_of(request, pr->reviews);
    });
  }

  void install_github() {
    const std::string repo = project_path();
    install_reviews(repo);
    on("GET", repo + "/pulls", [this](const test::ApiRequest& request, const json&) {
      if (request.query_value("state") != "open") {
        problems.push_back("GET pulls without state=open");
      }
      std::vector<json> items;
      if (hidden()) {
        return page_of(request, items);
      }
      const std::string head = request.query_value("head");  // OWNER:BRANCH
      const std::string base = request.query_value("base");
      for (const FakePr& pr : prs) {
        if (pr.state == "open" && (head.empty() || (!pr.fork && "acme:" + pr.head == head)) &&
            (base.empty() || pr.base == base)) {
          items.push_back(github_json(pr));
        }
      }
      return page_of(request, items);
    });
    on("POST", repo + "/pulls", [this](const test::ApiRequest& request, const json& body) {
      if (auto missing = require(request, body, {"title", "head", "base", "body"})) {
        return *missing;
      }
      for (const FakePr& pr : prs) {
        if (pr.state == "open" && !pr.fork && pr.head == str(body["head"]) &&
            pr.base == str(body["base"])) {
          return test::json_reply(
              422,
              json{{"message", "Validation Failed"},
                   {"errors",
                    {{{"resource", "PullRequest"},
                      {"code", "custom"},
                      {"message", "A pull request already exists for acme:" + pr.head + "."}}}},
                   {"documentation_url",
                    "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}}
                  .dump());
        }
      }
      FakePr& pr = add_pr(str(body["head"]), str(body["base"]));
      pr.title = str(body["title"]);
      pr.body = str(body["body"]);
      return test::json_reply(201, github_json(pr).dump());
    });
    on("PATCH", repo + "/pulls/*", [this](const test::ApiRequest& request, const json& body) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      if (body.contains("title")) {
        pr->title = str(body["title"]);
      }
      if (body.contains("body")) {
        pr->body = str(body["body"]);
      }
      if (body.contains("state")) {
        pr->state = str(body["state"]);
      }
      return test::json_reply(200, github_json(*pr).dump());
    });
    on("GET", repo + "/pulls/*", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      count_get(*pr);
      json out = github_json(*pr);
      out["merged"] = pr->state == "merged";
      return test::json_reply(200, out.dump());
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
         if (auto missing = require(request, body, {"body"})) {
           return *missing;
         }
         pr->comments.push_back(str(body["body"]));
         return test::json_reply(201, json{{"id", 1}, {"body", body["body"]}}.dump());
       });
  }

  // --- GitLab ------------------------------------------------------------------------------

  json gitlab_json(const FakePr& pr) const {
    json reviewers = json::array();
    for (const auto& id : pr.reviewers) {
      reviewers.push_back({{"id", std::stoull(id)}, {"username", "user" + id}});
    }
    return {{"id", 1000 + pr.number},
            {"iid", pr.number},
            {"web_url", web_url(pr.number)},
            {"state", pr.state == "open" ? "opened" : pr.state},
            {"title", pr.title},
            {"description", pr.body},
            {"source_branch", pr.head},
            {"target_branch", pr.base},
            {"source_project_id", pr.fork ? 8 : 7},
            {"target_project_id", 7},
            {"labels", pr.labels},
            {"reviewers", reviewers}};
  }

  void install_gitlab() {
    const std::string project = project_path();
    on("GET", project + "/merge_requests/*/approvals",
       [this](const test::ApiRequest& request, const json&) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return test::json_reply(404, R"({"message":"404 Not found"})");
         }
         json approved_by = json::array();
         for (const auto& username : pr->approved_by) {
           approved_by.push_back({{"user", {{"username", username}, {"id", 7}}}});
         }
         return test::json_reply(
             200, json{{"approved", !approved_by.empty()}, {"approved_by", approved_by}}.dump());
       });
    on("GET", project + "/merge_requests", [this](const test::ApiRequest& request, const json&) {
      if (request.query_value("state") != "opened") {
        problems.push_back("GET merge_requests without state=opened");
      }
      std::vector<json> items;
      if (hidden()) {
        return page_of(request, items);
      }
      const std::string source = request.query_value("source_branch");
      for (const FakePr& pr : prs) {
        if (pr.state == "open" && (source.empty() || pr.head == source)) {
          items.push_back(gitlab_json(pr));
        }
      }
      return page_of(request, items);
    });
    on("POST", project + "/merge_requests",
       [this](const test::ApiRequest& request, const json& body) {
         if (auto missing = require(request, body,
                                    {"source_branch", "target_branch", "title", "description"})) {
           return *missing;
         }
         for (const FakePr& pr : prs) {
           if (pr.state == "open" && !pr.fork && pr.head == str(body["source_branch"])) {
             return test::json_reply(
                 409, json{{"message",
                            {"Another open merge request already exists for this source branch: !" +
                             std::to_string(pr.number)}}}
                          .dump());
           }
         }
         FakePr& pr = add_pr(str(body["source_branch"]), str(body["target_branch"]));
         pr.title = str(body["title"]);
         pr.body = str(body["description"]);
         if (body.contains("labels")) {
           set_labels(pr, body["labels"]);
         }
         if (body.contains("reviewer_ids")) {
           set_reviewers(request, pr, body["reviewer_ids"]);
         }
         return test::json_reply(201, gitlab_json(pr).dump());
       });
    on("PUT", project + "/merge_requests/*",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         if (body.contains("title")) {
           pr->title = str(body["title"]);
         }
         if (body.contains("description")) {
           pr->body = str(body["description"]);
         }
         if (body.contains("target_branch")) {
           pr->base = str(body["target_branch"]);
         }
         if (body.contains("add_labels")) {
           set_labels(*pr, body["add_labels"]);
         }
         if (body.contains("reviewer_ids")) {
           pr->reviewers.clear();
           set_reviewers(request, *pr, body["reviewer_ids"]);
         }
         if (str(field(body, "state_event")) == "close") {
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
         if (auto missing = require(request, body, {"body"})) {
           return *missing;
         }
         pr->comments.push_back(str(body["body"]));
         return test::json_reply(201, json{{"id", 1}, {"body", body["body"]}}.dump());
       });
    on("GET", "/api/v4/users", [](const test::ApiRequest& request, const json&) {
      const std::string name = request.query_value("username");
      json users = json::array();
      if (name == "alice") {
        users.push_back({{"id", 101}, {"username", "alice"}});
      } else if (name == "bob") {
        users.push_back({{"id", 102}, {"username", "bob"}});
      }
      return test::json_reply(200, users.dump());
    });
  }

  void set_labels(FakePr& pr, const json& labels) {
    if (!labels.is_string()) {
      problems.push_back("GitLab labels are not a comma-separated string");
      return;
    }
    const std::string text = str(labels);
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t end = std::min(text.find(',', start), text.size());
      add_unique(pr.labels, text.substr(start, end - start));
      start = end + 1;
    }
  }

  void set_reviewers(const test::ApiRequest& request, FakePr& pr, const json& ids) {
    for (const auto& id : ids) {
      if (!id.is_number_unsigned()) {
        problems.push_back(request.method + " " + request.target +
                           ": a reviewer id is not a number");
        continue;
      }
      add_unique(pr.reviewers, std::to_string(id.get<std::uint64_t>()));
    }
  }

  // --- Gitea -------------------------------------------------------------------------------

  json gitea_json(const FakePr& pr) const {
    return {{"id", 500 + pr.number},
            {"number", pr.number},
            {"html_url", web_url(pr.number)},
            {"state", pr.state == "open" ? "open" : "closed"},
            {"merged", pr.state == "merged"},
            {"title", pr.title},
            {"body", pr.body},
            {"head", {{"ref", pr.head}, {"repo_id", pr.fork ? 2 : 1}}},
            {"base", {{"ref", pr.base}, {"repo_id", 1}}}};
  }

  static std::string gitea_label(std::uint64_t id) {
    switch (id) {
      case 11:
        return "promotion";
      case 12:
        return "prod";
      case 13:
        return "bug";
      case 21:
        return "team";
    }
    return "";
  }

  void install_gitea() {
    const std::string repo = project_path();
    install_reviews(repo);
    on("GET", repo + "/pulls", [this](const test::ApiRequest& request, const json&) {
      if (request.query_value("state") != "open") {
        problems.push_back("GET pulls without state=open");
      }
      std::vector<json> items;
      if (hidden()) {
        return page_of(request, items);
      }
      for (const FakePr& pr : prs) {
        if (pr.state == "open") {
          items.push_back(gitea_json(pr));
        }
      }
      return page_of(request, items);
    });
    on("POST", repo + "/pulls", [this](const test::ApiRequest& request, const json& body) {
      if (auto missing = require(request, body, {"head", "base", "title", "body"})) {
        return *missing;
      }
      for (const FakePr& pr : prs) {
        if (pr.state == "open" && !pr.fork && pr.head == str(body["head"]) &&
            pr.base == str(body["base"])) {
          return test::json_reply(
              409, json{{"message", "pull request already exists for these targets [id: " +
                                        std::to_string(pr.number) + ", head_branch: " + pr.head +
                                        ", base_branch: " + pr.base + "]"},
                        {"url", "https://gitea.example/api/swagger"}}
                       .dump());
        }
      }
      FakePr& pr = add_pr(str(body["head"]), str(body["base"]));
      pr.title = str(body["title"]);
      pr.body = str(body["body"]);
      return test::json_reply(201, gitea_json(pr).dump());
    });
    on("PATCH", repo + "/pulls/*", [this](const test::ApiRequest& request, const json& body) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      if (body.contains("title")) {
        pr->title = str(body["title"]);
      }
      if (body.contains("body")) {
        pr->body = str(body["body"]);
      }
      if (body.contains("state")) {
        pr->state = str(body["state"]);
      }
      return test::json_reply(201, gitea_json(*pr).dump());
    });
    on("GET", repo + "/pulls/*", [this](const test::ApiRequest& request, const json&) {
      FakePr* pr = find(request);
      if (pr == nullptr) {
        return not_found();
      }
      count_get(*pr);
      return test::json_reply(200, gitea_json(*pr).dump());
    });
    on("GET", repo + "/labels", [this](const test::ApiRequest& request, const json&) {
      std::vector<json> labels;
      for (const std::uint64_t id : {11, 12, 13}) {
        labels.push_back({{"id", id}, {"name", gitea_label(id)}, {"color", "00aabb"}});
      }
      return page_of(request, labels);
    });
    on("GET", "/api/v1/orgs/acme/labels", [](const test::ApiRequest&, const json&) {
      return test::json_reply(200, json::array({{{"id", 21}, {"name", "team"}}}).dump());
    });
    on("POST", repo + "/issues/*/labels",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         json out = json::array();
         for (const auto& id : body.value("labels", json::array())) {
           if (!id.is_number_unsigned() || gitea_label(id.get<std::uint64_t>()).empty()) {
             problems.push_back("POST labels: '" + id.dump() + "' is not a label id");
             return test::json_reply(422, R"({"message":"label does not exist"})");
           }
           add_unique(pr->labels, gitea_label(id.get<std::uint64_t>()));
         }
         return test::json_reply(200, out.dump());
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
         return test::json_reply(201, "[]");
       });
    on("POST", repo + "/issues/*/comments",
       [this](const test::ApiRequest& request, const json& body) {
         FakePr* pr = find(request);
         if (pr == nullptr) {
           return not_found();
         }
         if (auto missing = require(request, body, {"body"})) {
           return *missing;
         }
         pr->comments.push_back(str(body["body"]));
         return test::json_reply(201, json{{"id", 1}, {"body", body["body"]}}.dump());
       });
  }

  bool m_job_token = false;
  std::uint64_t m_next = 1;
};

// The documented body of a create request for a proposal, without labels and reviewers.
json create_body(Provider provider, const forge::Proposal& proposal) {
  if (provider == Provider::gitlab) {
    return {{"source_branch", proposal.head},
            {"target_branch", proposal.base},
            {"title", proposal.title},
            {"description", proposal.body}};
  }
  return {{"title", proposal.title},
          {"head", proposal.head},
          {"base", proposal.base},
          {"body", proposal.body}};
}

// The headers every request carries, as the provider documents them.
void check_auth_headers(const FakeForge& fake, const test::ApiRequest& request) {
  switch (fake.provider) {
    case Provider::github:
      CHECK(request.header("Authorization") == "Bearer " + std::string(k_token));
      CHECK(request.header("Accept") == "application/vnd.github+json");
      CHECK(request.header("X-GitHub-Api-Version") == "2022-11-28");
      break;
    case Provider::gitlab:
      CHECK(request.header("PRIVATE-TOKEN") == k_token);
      CHECK(request.header("Authorization") == "");
      CHECK(request.header("Accept") == "application/json");
      break;
    case Provider::gitea:
      CHECK(request.header("Authorization") == "token " + std::string(k_token));
      CHECK(request.header("Accept") == "application/json");
      break;
  }
}

// The token appears nowhere in what a call returned.
void check_no_token(const promote::Result<PullRequest>& result) {
  if (result.has_error()) {
    CHECK(result.error().message.find(k_token) == std::string::npos);
    return;
  }
  CHECK(result->url.find(k_token) == std::string::npos);
  CHECK(result->head.find(k_token) == std::string::npos);
  for (const auto& url : result->superseded) {
    CHECK(url.find(k_token) == std::string::npos);
  }
}

std::string error_of(const promote::Result<PullRequest>& result) {
  REQUIRE(result.has_error());
  check_no_token(result);
  return result.error().message;
}

}  // namespace

TEST_SUITE("forge") {
  TEST_CASE("providers are named github, gitlab, gitea or forgejo") {
    CHECK(forge::parse_provider("github").value() == Provider::github);
    CHECK(forge::parse_provider("gitlab").value() == Provider::gitlab);
    CHECK(forge::parse_provider("gitea").value() == Provider::gitea);
    CHECK(forge::parse_provider("forgejo").value() == Provider::gitea);
    const auto unknown = forge::parse_provider("bitbucket");
    REQUIRE(unknown.has_error());
    CHECK(unknown.error().kind == promote::ErrorKind::config);
    CHECK(unknown.error().message ==
          "unknown forge provider 'bitbucket': expected github, gitlab, gitea or forgejo");
  }

  TEST_CASE("the token comes from the first variable set, in the provider's order") {
    Env env;
    for (const char* name : {"PROMOTE_FORGE_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN",
                             "GITEA_TOKEN", "PROMOTE_GIT_TOKEN"}) {
      env.set(name, std::nullopt);
    }
    CHECK(forge::token_from_environment(Provider::github).value.empty());
    CHECK(forge::token_from_environment(Provider::github).variable.empty());
    env.set("PROMOTE_GIT_TOKEN", "git");
    env.set("CI_JOB_TOKEN", "job");
    CHECK(forge::token_from_environment(Provider::github).variable == "PROMOTE_GIT_TOKEN");
    CHECK(forge::token_from_environment(Provider::gitlab).variable == "CI_JOB_TOKEN");
    CHECK(forge::token_from_environment(Provider::gitlab).value == "job");
    CHECK(forge::token_from_environment(Provider::gitea).variable == "PROMOTE_GIT_TOKEN");
    env.set("GITHUB_TOKEN", "gh");
    env.set("GITLAB_TOKEN", "gl");
    env.set("GITEA_TOKEN", "gt");
    CHECK(forge::token_from_environment(Provider::github).value == "gh");
    CHECK(forge::token_from_environment(Provider::gitlab).value == "gl");
    CHECK(forge::token_from_environment(Provider::gitea).value == "gt");
    env.set("PROMOTE_FORGE_TOKEN", "forge");
    for (const Provider provider : k_providers) {
      CHECK(forge::token_from_environment(provider).value == "forge");
      CHECK(forge::token_from_environment(provider).variable == "PROMOTE_FORGE_TOKEN");
    }
  }

  TEST_CASE("a proposal opens a pull request with the documented request") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      const auto proposal = FakeForge::proposal("aaa");
      const auto result = forge::open_or_update(fake.settings(), proposal);
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      check_no_token(result);
      CHECK(result->created);
      CHECK(result->number == 1);
      CHECK(result->url == fake.web_url(1));
      CHECK(result->head == "promote/prod/aaa");
      CHECK(result->state == PullRequest::State::open);
      CHECK(result->superseded.empty());

      REQUIRE(fake.prs.size() == 1);
      CHECK(fake.prs[0].title == proposal.title);
      CHECK(fake.prs[0].body == proposal.body);
      CHECK(fake.prs[0].head == "promote/prod/aaa");
      CHECK(fake.prs[0].base == "main");
      CHECK(fake.problems.empty());

      const auto creates = fake.bodies("POST", fake.pulls_path());
      REQUIRE(creates.size() == 1);
      CHECK(creates[0] == create_body(provider, proposal));
      // It looked for an open one from the head first, with the provider's filters.
      const auto log = fake.server.log();
      REQUIRE(!log.empty());
      CHECK(log[0].method == "GET");
      CHECK(log[0].path == fake.pulls_path());
      switch (provider) {
        case Provider::github:
          CHECK(log[0].query_value("state") == "open");
          CHECK(log[0].query_value("head") == "acme:promote/prod/aaa");
          CHECK(log[0].query_value("base") == "main");
          break;
        case Provider::gitlab:
          CHECK(log[0].query_value("state") == "opened");
          CHECK(log[0].query_value("source_branch") == "promote/prod/aaa");
          break;
        case Provider::gitea:
          CHECK(log[0].query_value("state") == "open");
          break;
      }
      for (const auto& request : log) {
        CAPTURE(request.target);
        check_auth_headers(fake, request);
      }
      // Nothing else was written: no labels, no reviewers, nothing closed.
      for (const auto& request : log) {
        CHECK((request.method == "GET" || request.path == fake.pulls_path()));
      }
    }
  }

  TEST_CASE("running again updates the open pull request instead of opening a second one") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      REQUIRE(forge::open_or_update(fake.settings(), FakeForge::proposal("aaa")).has_value());
      auto again = FakeForge::proposal("aaa", "promote(prod): api 1.4.2 (gates run again)");
      again.body = "new body";
      const auto result = forge::open_or_update(fake.settings(), again);
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      CHECK_FALSE(result->created);
      CHECK(result->number == 1);
      CHECK(result->url == fake.web_url(1));
      REQUIRE(fake.prs.size() == 1);
      CHECK(fake.prs[0].title == again.title);
      CHECK(fake.prs[0].body == "new body");
      CHECK(fake.bodies("POST", fake.pulls_path()).size() == 1);
      const std::string update = provider == Provider::gitlab ? "PUT" : "PATCH";
      const auto updates = fake.bodies(update, fake.pull_path(1));
      REQUIRE(updates.size() == 1);
      if (provider == Provider::gitlab) {
        CHECK(updates[0] ==
              json{{"title", again.title}, {"description", "new body"}, {"target_branch", "main"}});
      } else {
        CHECK(updates[0] == json{{"title", again.title}, {"body", "new body"}});
      }
      CHECK(fake.problems.empty());
    }
  }

  TEST_CASE("a newer candidate supersedes the older one of the same stage") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("feature/login");
      fake.add_pr("promote/staging/ccc");
      fake.add_pr("promote/prod/from-a-fork").fork = true;
      const auto older = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
      REQUIRE(older.has_value());
      REQUIRE(older->number == 4);
      auto settings = fake.settings();
      const std::string newer_url = fake.web_url(5);
      const std::string close_verb = provider == Provider::gitlab ? "PUT" : "PATCH";
      const std::string comments = provider == Provider::gitlab
                                       ? fake.pull_path(4) + "/notes"
                                       : fake.project_path() + "/issues/4/comments";

      SUBCASE("closed, with a comment naming the new one") {
        const auto newer = forge::open_or_update(settings, FakeForge::proposal("bbb"));
        REQUIRE_MESSAGE(newer.has_value(), newer.error().message);
        check_no_token(newer);
        CHECK(newer->created);
        CHECK(newer->number == 5);
        CHECK(newer->url == newer_url);
        CHECK(newer->superseded == std::vector<std::string>{fake.web_url(4)});
        CHECK(fake.find(4)->state == "closed");
        CHECK(fake.find(4)->comments ==
              std::vector<std::string>{"Superseded by " + newer_url +
                                       " (promote/prod/bbb), a newer candidate for the same "
                                       "stage."});
        CHECK(fake.bodies("POST", comments).size() == 1);
        const auto closes = fake.bodies(close_verb, fake.pull_path(4));
        REQUIRE(closes.size() == 1);
        CHECK(closes[0] == (provider == Provider::gitlab ? json{{"state_event", "close"}}
                                                         : json{{"state", "closed"}}));
        // Five open pull requests, two a page: the list of them took three pages.
        bool third_page = false;
        for (const auto& request : fake.server.requests("GET", fake.pulls_path())) {
          third_page = third_page || request.query_value("page") == "3";
        }
        CHECK(third_page);
      }
      SUBCASE("left open with keep") {
        settings.supersede = forge::Settings::Supersede::keep;
        const auto newer = forge::open_or_update(settings, FakeForge::proposal("bbb"));
        REQUIRE_MESSAGE(newer.has_value(), newer.error().message);
        CHECK(newer->superseded == std::vector<std::string>{fake.web_url(4)});
        CHECK(fake.find(4)->state == "open");
        CHECK(fake.find(4)->comments.empty());
        CHECK(fake.server.requests("POST", comments).empty());
        CHECK(fake.server.requests(close_verb, fake.pull_path(4)).empty());
      }
      SUBCASE("none without a prefix") {
        auto proposal = FakeForge::proposal("bbb");
        proposal.supersede_prefix = "";
        const auto newer = forge::open_or_update(settings, proposal);
        REQUIRE(newer.has_value());
        CHECK(newer->superseded.empty());
        CHECK(fake.find(4)->state == "open");
      }
      // Other stages, other branches and forks are never touched.
      for (const std::uint64_t other : {1, 2, 3}) {
        CHECK(fake.find(other)->state == "open");
        CHECK(fake.find(other)->comments.empty());
      }
      CHECK(fake.find(5)->state == "open");
      CHECK(fake.problems.empty());
    }
  }

  TEST_CASE("labels and reviewers are sent as each provider documents") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      auto settings = fake.settings();
      settings.labels = {"promotion", "prod"};
      settings.reviewers = {"alice", "bob"};
      const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      REQUIRE(fake.prs.size() == 1);
      CHECK(fake.prs[0].labels == std::vector<std::string>{"promotion", "prod"});
      switch (provider) {
        case Provider::github: {
          CHECK(fake.bodies("POST", fake.project_path() + "/issues/1/labels") ==
                std::vector<json>{{{"labels", {"promotion", "prod"}}}});
          CHECK(fake.bodies("POST", fake.pull_path(1) + "/requested_reviewers") ==
                std::vector<json>{{{"reviewers", {"alice", "bob"}}}});
          CHECK(fake.prs[0].reviewers == std::vector<std::string>{"alice", "bob"});
          break;
        }
        case Provider::gitlab: {
          auto expected = create_body(provider, FakeForge::proposal("aaa"));
          expected["labels"] = "promotion,prod";
          expected["reviewer_ids"] = {101, 102};
          CHECK(fake.bodies("POST", fake.pulls_path()) == std::vector<json>{expected});
          CHECK(fake.prs[0].reviewers == std::vector<std::string>{"101", "102"});
          const auto lookups = fake.server.requests("GET", "/api/v4/users");
          REQUIRE(lookups.size() == 2);
          CHECK(lookups[0].query_value("username") == "alice");
          CHECK(lookups[1].query_value("username") == "bob");
          // Run again: labels are added, and the reviewers asked meanwhile are kept.
          fake.prs[0].reviewers = {"103"};
          REQUIRE(forge::open_or_update(settings, FakeForge::proposal("aaa")).has_value());
          const auto updates = fake.bodies("PUT", fake.pull_path(1));
          REQUIRE(updates.size() == 1);
          CHECK(updates[0]["add_labels"] == "promotion,prod");
          CHECK(updates[0]["reviewer_ids"] == json{103, 101, 102});
          CHECK(fake.prs[0].reviewers == std::vector<std::string>{"103", "101", "102"});
          break;
        }
        case Provider::gitea: {
          CHECK(fake.bodies("POST", fake.project_path() + "/issues/1/labels") ==
                std::vector<json>{{{"labels", {11, 12}}}});
          CHECK(fake.bodies("POST", fake.pull_path(1) + "/requested_reviewers") ==
                std::vector<json>{{{"reviewers", {"alice", "bob"}}}});
          CHECK(fake.prs[0].reviewers == std::vector<std::string>{"alice", "bob"});
          // All the names were among the repository's labels: no look at the organisation's.
          CHECK(fake.server.requests("GET", "/api/v1/orgs/acme/labels").empty());
          break;
        }
      }
      CHECK(fake.problems.empty());
    }
  }

  TEST_CASE("gitea labels are found among the organisation's too; unknown ones are a warning") {
    FakeForge fake(Provider::gitea);
    auto settings = fake.settings();
    SUBCASE("the organisation's") {
      settings.labels = {"team", "bug"};
      REQUIRE(forge::open_or_update(settings, FakeForge::proposal("aaa")).has_value());
      CHECK(fake.bodies("POST", fake.project_path() + "/issues/1/labels") ==
            std::vector<json>{{{"labels", {21, 13}}}});
      CHECK(fake.prs[0].labels == std::vector<std::string>{"team", "bug"});
    }
    SUBCASE("unknown: the pull request stays open, and the label problem is a warning") {
      settings.labels = {"promotion", "nope"};
      const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
      REQUIRE(result.has_value());
      CHECK(result->created);
      REQUIRE(result->warnings.size() == 1);
      CHECK(result->warnings[0] == "labels or reviewers were not set on " + result->url +
                                       ": gitea: no label 'nope' in acme/shop (create it, or "
                                       "leave it out)");
      CHECK(fake.prs.size() == 1);
    }
    CHECK(fake.problems.empty());
  }

  TEST_CASE("a reviewer github refuses (the author) is a warning on the open pull request") {
    FakeForge fake(Provider::github);
    auto settings = fake.settings();
    settings.reviewers = {"deploy-bot"};
    fake.server.route("POST", fake.project_path() + "/pulls/*/requested_reviewers",
                      [](const test::ApiRequest&) {
                        return test::json_reply(
                            422, R"({"message":"Review cannot be requested from pull request author."})");
                      });
    const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(result->created);
    REQUIRE(result->warnings.size() == 1);
    CHECK(result->warnings[0].find("Review cannot be requested from pull request author.") !=
          std::string::npos);
    CHECK(fake.prs.size() == 1);
  }

  TEST_CASE("gitlab reviewers are user ids: given, or looked up by username") {
    FakeForge fake(Provider::gitlab);
    auto settings = fake.settings();
    SUBCASE("numeric ids are sent as they are") {
      settings.reviewers = {"55", "alice"};
      REQUIRE(forge::open_or_update(settings, FakeForge::proposal("aaa")).has_value());
      CHECK(fake.bodies("POST", fake.pulls_path())[0]["reviewer_ids"] == json{55, 101});
      CHECK(fake.server.requests("GET", "/api/v4/users").size() == 1);
    }
    SUBCASE("an unknown username is an error before anything is written") {
      settings.reviewers = {"mallory"};
      const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
      REQUIRE(result.has_error());
      CHECK(result.error().kind == promote::ErrorKind::config);
      CHECK(result.error().message == "gitlab: no user 'mallory' to ask for a review");
      CHECK(fake.prs.empty());
    }
  }

  TEST_CASE("a gitlab CI job token goes in JOB-TOKEN") {
    FakeForge fake(Provider::gitlab, true);
    const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    for (const auto& request : fake.server.log()) {
      CHECK(request.header("JOB-TOKEN") == k_token);
      CHECK(request.header("PRIVATE-TOKEN") == "");
    }
  }

  TEST_CASE("a refused token is a clear error that never shows the token") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      const std::string wrong = "wrong-t0ken-0123456789";
      std::string variable = token_variable(provider);
      SUBCASE("quietly") {}
      SUBCASE("quoted back by the server") {
        fake.echo_token = true;
      }
      SUBCASE("from PROMOTE_FORGE_TOKEN") {
        variable = "PROMOTE_FORGE_TOKEN";
      }
      fake.env.set(variable, wrong);
      const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
      const std::string message = error_of(result);
      CHECK(result.error().kind == promote::ErrorKind::http);
      CHECK(promote::exit_code(result.error().kind) == 4);
      CHECK(message.find(wrong) == std::string::npos);
      std::string said = provider == Provider::github   ? "401 Bad credentials"
                         : provider == Provider::gitlab ? "401 Unauthorized"
                                                        : "401 token is required";
      if (fake.echo_token) {
        said += provider == Provider::gitlab   ? " (you sent '***')"
                : provider == Provider::github ? " (you sent 'Bearer ***')"
                                               : " (you sent 'token ***')";
      }
      CHECK(message == name + ": the token in " + variable + " was refused (" + said + ")");
      // Refusals are not retried.
      CHECK(fake.server.log().size() == 1);
      CHECK(fake.prs.empty());
    }
  }

  TEST_CASE("no token is a configuration error naming the variables to set") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.env.set(token_variable(provider), std::nullopt);
      const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
      REQUIRE(result.has_error());
      CHECK(result.error().kind == promote::ErrorKind::config);
      CHECK(promote::exit_code(result.error().kind) == 2);
      const std::string variables =
          provider == Provider::github   ? "PROMOTE_FORGE_TOKEN, GITHUB_TOKEN or PROMOTE_GIT_TOKEN"
          : provider == Provider::gitlab ? "PROMOTE_FORGE_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN or "
                                           "PROMOTE_GIT_TOKEN"
                                         : "PROMOTE_FORGE_TOKEN, GITEA_TOKEN or PROMOTE_GIT_TOKEN";
      CHECK(result.error().message == name + ": no API token: set " + variables);
      CHECK(fake.server.connections() == 0);
    }
  }

  TEST_CASE("settings and proposals that cannot work are refused before any request") {
    FakeForge fake(Provider::github);
    auto settings = fake.settings();
    auto proposal = FakeForge::proposal("aaa");
    std::string expected;
    SUBCASE("a project that is not owner/repository") {
      settings.project = "acme";
      expected = "github: the project 'acme' is not 'owner/repository'";
    }
    SUBCASE("an API URL that is not HTTP") {
      settings.api_url = "ftp://api.example.com";
      expected = "github: the API URL 'ftp://api.example.com' does not start with https://";
    }
    SUBCASE("a head that is the base") {
      proposal.head = "main";
      expected = "github: the head branch 'main' is the base branch";
    }
    SUBCASE("no title") {
      proposal.title = "";
      expected = "github: a pull request needs a head branch, a base branch and a title";
    }
    const auto result = forge::open_or_update(settings, proposal);
    REQUIRE(result.has_error());
    CHECK(result.error().kind == promote::ErrorKind::config);
    CHECK(result.error().message == expected);
    CHECK(fake.server.connections() == 0);
  }

  TEST_CASE("a project or API URL that does not exist is a 404 that says so") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      auto settings = fake.settings();
      settings.project = "acme/nope";
      const std::string api = fake.server.url(fake.api_prefix());
      std::string list;
      switch (provider) {
        case Provider::github:
          list = api +
                 "/repos/acme/nope/"
                 "pulls?state=open&per_page=100&head=acme%3Apromote%2Fprod%2Faaa&base=main";
          break;
        case Provider::gitlab:
          list = api +
                 "/projects/acme%2Fnope/"
                 "merge_requests?state=opened&per_page=100&source_branch=promote%2Fprod%2Faaa";
          break;
        case Provider::gitea:
          list = api + "/repos/acme/nope/pulls?state=open&limit=50";
          break;
      }
      const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
      const std::string message = error_of(result);
      CHECK(result.error().kind == promote::ErrorKind::http);
      CHECK(promote::exit_code(result.error().kind) == 4);
      CHECK(message == name + ": GET " + list +
                           ": 404 Not Found: the project 'acme/nope' or the API URL " + api +
                           " was not found, or the token in " + token_variable(provider) +
                           " may not see it");
      CHECK(fake.server.log().size() == 1);

      const auto missing = forge::get(fake.settings(), 42);
      CHECK(error_of(missing).find(": 404 Not Found: the project") != std::string::npos);
    }
  }

  TEST_CASE("a create that races another run finds the open one and updates it") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("promote/prod/aaa");  // opened by the other run
      fake.hide_next_list = true;       // after our first look
      const auto result =
          forge::open_or_update(fake.settings(), FakeForge::proposal("aaa", "ours"));
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      CHECK_FALSE(result->created);
      CHECK(result->number == 1);
      REQUIRE(fake.prs.size() == 1);
      CHECK(fake.prs[0].title == "ours");
      CHECK(fake.server.requests("POST", fake.pulls_path()).size() == 1);
      CHECK(fake.server.requests(provider == Provider::gitlab ? "PUT" : "PATCH", fake.pull_path(1))
                .size() == 1);
      CHECK(fake.problems.empty());
    }
  }

  TEST_CASE("429 with Retry-After is retried after the wait asked for") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.script.push_back(
          test::json_reply(429, R"({"message":"slow down"})", {{"Retry-After", "1"}}));
      const auto started = std::chrono::steady_clock::now();
      const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
      const auto took = std::chrono::steady_clock::now() - started;
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      CHECK(result->created);
      CHECK(took >= 1s);
      CHECK(took < 10s);
      const auto log = fake.server.log();
      REQUIRE(log.size() >= 2);
      CHECK(log[0].target == log[1].target);
    }
  }

  TEST_CASE("a wait longer than a minute fails at once") {
    FakeForge fake(Provider::github);
    fake.script.push_back(
        test::json_reply(429, R"({"message":"slow down"})", {{"Retry-After", "3600"}}));
    const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
    const std::string message = error_of(result);
    const auto log = fake.server.log();
    REQUIRE(log.size() == 1);
    CHECK(message == "github: GET " + fake.server.url(log[0].target) +
                         ": 429 slow down: the provider asks to wait 3600s before trying again");
  }

  TEST_CASE("github's exhausted rate limit waits for its reset") {
    FakeForge fake(Provider::github);
    const auto reset = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() +
                       1;
    fake.script.push_back(test::json_reply(
        403, R"({"message":"API rate limit exceeded for user ID 1."})",
        {{"x-ratelimit-remaining", "0"}, {"x-ratelimit-reset", std::to_string(reset)}}));
    const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(result->created);
  }

  TEST_CASE("5xx answers are retried with a backoff, up to max_attempts") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      SUBCASE("twice, then success") {
        fake.script.push_back(test::json_reply(500, R"({"message":"boom"})"));
        fake.script.push_back(test::json_reply(502, "<html>bad gateway</html>"));
        const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
        REQUIRE_MESSAGE(result.has_value(), result.error().message);
        CHECK(result->created);
        const auto log = fake.server.log();
        REQUIRE(log.size() >= 3);
        CHECK(log[0].target == log[1].target);
        CHECK(log[1].target == log[2].target);
        CHECK(fake.prs.size() == 1);
      }
      SUBCASE("always: an error after the last attempt") {
        for (int i = 0; i < 3; ++i) {
          fake.script.push_back(test::json_reply(503, R"({"message":"unavailable"})"));
        }
        auto settings = fake.settings();
        settings.max_attempts = 3;
        const auto result = forge::open_or_update(settings, FakeForge::proposal("aaa"));
        const std::string message = error_of(result);
        CHECK(result.error().kind == promote::ErrorKind::http);
        const auto log = fake.server.log();
        REQUIRE(log.size() == 3);
        CHECK(message == name + ": GET " + fake.server.url(log[0].target) +
                             ": 503 unavailable (after 3 attempts)");
        CHECK(fake.prs.empty());
      }
    }
  }

  TEST_CASE("wait_merged polls until the pull request is merged") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("promote/prod/aaa");
      fake.merge_after_gets = 3;
      std::vector<std::chrono::seconds> ticks;
      const auto result =
          forge::wait_merged(fake.settings(), 1, 60s, 0s,
                             [&ticks](std::chrono::seconds left) { ticks.push_back(left); });
      REQUIRE_MESSAGE(result.has_value(), result.error().message);
      CHECK(result->state == PullRequest::State::merged);
      CHECK(result->number == 1);
      CHECK(result->url == fake.web_url(1));
      CHECK(fake.gets == 3);
      REQUIRE(ticks.size() == 2);
      CHECK(ticks[0] <= 60s);
      CHECK(ticks[0] >= 58s);
      CHECK(fake.problems.empty());
    }
  }

  TEST_CASE("wait_merged returns a closed pull request at once, an open one at the limit") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("promote/prod/aaa");
      SUBCASE("closed") {
        fake.prs[0].state = "closed";
        const auto result = forge::wait_merged(fake.settings(), 1, 60s, 1s);
        REQUIRE(result.has_value());
        CHECK(result->state == PullRequest::State::closed);
        CHECK(fake.gets == 1);
      }
      SUBCASE("never merged") {
        std::vector<std::chrono::seconds> ticks;
        const auto started = std::chrono::steady_clock::now();
        const auto result =
            forge::wait_merged(fake.settings(), 1, 1s, 1s,
                               [&ticks](std::chrono::seconds left) { ticks.push_back(left); });
        const auto took = std::chrono::steady_clock::now() - started;
        REQUIRE(result.has_value());
        CHECK(result->state == PullRequest::State::open);
        CHECK(took >= 1s);
        CHECK(took < 5s);
        CHECK(ticks == std::vector<std::chrono::seconds>{1s});
        CHECK(fake.gets == 2);
      }
    }
  }

  TEST_CASE("get reports the state of a pull request") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("promote/prod/aaa").state = "merged";
      fake.add_pr("promote/prod/bbb");
      const auto merged = forge::get(fake.settings(), 1);
      REQUIRE(merged.has_value());
      CHECK(merged->state == PullRequest::State::merged);
      CHECK(merged->head == "promote/prod/aaa");
      CHECK_FALSE(merged->created);
      const auto open = forge::get(fake.settings(), 2);
      REQUIRE(open.has_value());
      CHECK(open->state == PullRequest::State::open);
      CHECK(std::string(forge::to_string(open->state)) == "open");
    }
  }

  TEST_CASE(
      "reviews: each reviewer's newest decision stands; dismissed and comments decide nothing") {
    // The shapes of https://docs.github.com/en/rest/pulls/reviews (GitHub),
    // https://docs.gitea.com/api (Gitea's PullReview: REQUEST_CHANGES, "dismissed") and
    // https://docs.gitlab.com/ee/api/merge_request_approvals.html (GitLab's approved_by).
    const auto review = [](const std::string& login, const std::string& state,
                           const std::string& at, bool dismissed = false) {
      return json{{"id", 1},
                  {"user", {{"login", login}}},
                  {"state", state},
                  {"submitted_at", at},
                  {"dismissed", dismissed}};
    };
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.add_pr("promote/prod/other");
      FakePr& pr = fake.add_pr("promote/prod/aaa");
      const bool gitea = provider == Provider::gitea;
      pr.reviews = {review("alice", "CHANGES_REQUESTED", "2026-12-01T09:00:00Z"),
                    review("alice", "APPROVED", "2026-12-01T10:00:00+01:00"),
                    review("alice", "COMMENTED", "2026-12-01T11:00:00Z"),
                    review("bob", "APPROVED", "2026-12-01T09:30:00Z"),
                    gitea ? review("bob", "APPROVED", "2026-12-01T09:40:00Z", true)
                          : review("bob", "DISMISSED", "2026-12-01T09:40:00Z"),
                    review("carol", gitea ? "REQUEST_CHANGES" : "CHANGES_REQUESTED",
                           "2026-12-01T12:00:00.250Z"),
                    review("dave", "PENDING", ""),
                    review("erin", "APPROVED", "yesterday")};
      pr.approved_by = {"alice", "frank"};
      const auto reviewed = forge::reviews(fake.settings(), "promote/prod/aaa", "main");
      INFO(fake.problems.size());
      REQUIRE(reviewed.has_value());
      REQUIRE(reviewed->has_value());
      CHECK((*reviewed)->pr.head == "promote/prod/aaa");
      CHECK((*reviewed)->pr.url == fake.web_url(pr.number));
      std::map<std::string, bool> decided;
      for (const auto& given : (*reviewed)->reviews) {
        decided[given.login] = given.approved;
      }
      if (provider == Provider::gitlab) {
        CHECK(decided == std::map<std::string, bool>{{"alice", true}, {"frank", true}});
        continue;
      }
      // alice changed her mind; bob's approval was dismissed; carol asks for changes; dave's
      // review is pending and erin's time is not one.
      CHECK(decided == std::map<std::string, bool>{{"alice", true}, {"carol", false}});
      for (const auto& given : (*reviewed)->reviews) {
        if (given.login == "alice") {
          CHECK(given.at == promote::util::parse_rfc3339("2026-12-01T09:00:00Z"));
        }
      }
      CHECK_FALSE(forge::reviews(fake.settings(), "promote/prod/none", "main").value().has_value());
    }
  }

  TEST_CASE("reviews: provider times are read as RFC 3339, offsets and fractions included") {
    const auto parse_timestamp = [](std::string_view text) {
      return promote::util::parse_rfc3339(text);
    };
    const auto base = parse_timestamp("2026-12-01T09:00:00Z");
    REQUIRE(base.has_value());
    CHECK(parse_timestamp("2026-12-01T10:00:00+01:00") == base);
    CHECK(parse_timestamp("2026-12-01T08:30:00-00:30") == base);
    CHECK(parse_timestamp("2026-12-01T09:00:00.999Z").value() - *base < std::chrono::seconds(1));
    CHECK(std::chrono::duration_cast<std::chrono::hours>(base->time_since_epoch()).count() ==
          498921);
    for (const char* bad :
         {"", "2026-12-01", "2026-12-01T09:00:00", "2026-02-30T09:00:00Z", "2026-12-01T24:00:00Z",
          "2026-12-01T09:00:00+0100", "2026-12-01 09:00:00Z", "2026-12-01T09:00:00Zjunk"}) {
      CAPTURE(bad);
      CHECK_FALSE(parse_timestamp(bad).has_value());
    }
  }

  TEST_CASE("a server whose CA is not given is refused") {
    for (const Provider provider : k_providers) {
      const std::string name = forge::to_string(provider);
      CAPTURE(name);
      FakeForge fake(provider);
      fake.env.set("PROMOTE_CA_FILE", std::nullopt);
      const auto result = forge::open_or_update(fake.settings(), FakeForge::proposal("aaa"));
      const std::string message = error_of(result);
      CHECK(result.error().kind == promote::ErrorKind::http);
      CHECK(message.rfind(name + ": GET " + fake.server.url(fake.pulls_path()) + "?", 0) == 0);
      CHECK(message.find(": TLS handshake failed: the certificate of 127.0.0.1:" +
                         std::to_string(fake.server.port()) +
                         " was not accepted: unable to get local issuer certificate (verified "
                         "against the system CA store)") != std::string::npos);
      // Not tried again: another attempt would meet the same certificate.
      CHECK(message.find("attempts") == std::string::npos);
      CHECK(fake.server.connections() == 1);
      CHECK(fake.server.log().empty());
      CHECK(fake.prs.empty());
    }
  }
}
