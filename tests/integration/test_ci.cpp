// promote at home in CI: the real binary run as GitHub Actions and GitLab CI run it (their
// environment variables, the files they hand over), against a real repository with a bare
// remote; and action.yml and the example CI files checked against SchemaStore's schemas.

#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

const fs::path k_source = PROMOTE_SOURCE_DIR;

using promote::test::contains;

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++found;
  }
  return found;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// An external gate program that says `status` with `summary` (a JSON string literal).
std::string plugin(const std::string& status, const std::string& summary,
                   const std::string& more = "") {
  return "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '{\"status\":\"" + status +
         "\",\"summary\":" + summary + more + "}'\n";
}

// Every variable a CI system or a test machine may have set that changes what promote
// writes, unset; the tests set what their case needs.
std::map<std::string, std::string> clean_environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"GITHUB_ACTIONS",
                           "GITHUB_STEP_SUMMARY",
                           "GITHUB_OUTPUT",
                           "GITHUB_ACTOR",
                           "GITHUB_SERVER_URL",
                           "GITHUB_REPOSITORY",
                           "GITHUB_RUN_ID",
                           "GITLAB_CI",
                           "GITLAB_USER_LOGIN",
                           "CI_JOB_URL",
                           "PROMOTE_JUNIT_REPORT",
                           "PROMOTE_DOTENV",
                           "PROMOTE_ACTOR",
                           "PROMOTE_HISTORY",
                           "PROMOTE_GIT_TOKEN",
                           "PROMOTE_FORGE_TOKEN",
                           "GITHUB_TOKEN",
                           "GITLAB_TOKEN",
                           "CI_JOB_TOKEN",
                           "GITEA_TOKEN",
                           "PROMOTE_SSH_KEY_PASSPHRASE",
                           "GATE_SECRET"}) {
    env[name] = "";
  }
  env["NO_COLOR"] = "1";
  return env;
}

// A scratch GitOps repository with a bare remote: the demo (examples/: dev -> staging with
// junit and trivy -> prod), or one stage `prod` whose gates are the given external programs.
struct Repo {
  promote::test::TempDir dir;
  fs::path remote = dir / "remote.git";
  fs::path repo = dir / "shop";
  fs::path summary = dir / "step-summary.md";
  fs::path outputs = dir / "step-outputs";

  // The demo repository of examples/.
  Repo() {
    const std::string examples = (k_source / "examples").string();
    sh("mkdir shop && cp -r '" + examples + "/k8s' '" + examples + "/reports' '" + examples +
           "/promote.yaml' shop/",
       dir.path());
    commit();
  }

  // A pipeline with one stage, prod, and these gates (YAML list items, six spaces in);
  // `plugins` are written to plugins/promote-gate-NAME.
  Repo(const std::string& gates, const std::map<std::string, std::string>& plugins) {
    fs::create_directories(repo / "k8s/prod");
    write_text(repo / "k8s/prod/kustomization.yaml",
               "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"
               "  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
    write_text(repo / "promote.yaml",
               "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: ci }\n"
               "repository: { url: ., branch: main }\n"
               "images:\n  - name: api\n    repository: ghcr.io/acme/api\n"
               "stages:\n  - name: prod\n    target:\n      kustomize: k8s/prod\n"
               "    fail_fast: false\n    gates:\n" +
                   gates);
    for (const auto& [name, text] : plugins) {
      const fs::path program = repo / "plugins" / ("promote-gate-" + name);
      fs::create_directories(program.parent_path());
      write_text(program, text);
      fs::permissions(program, fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
    }
    commit();
  }

  void commit() {
    write_text(repo / ".gitignore", ".promote/\n");
    sh("git init -q --bare -b main remote.git && cd shop && git init -q -b main && "
       "git config user.name 'Shop CI' && git config user.email ci@shop.example && "
       "git add -A && git commit -q -m init && git remote add origin ../remote.git && "
       "git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env) const {
    args.insert(args.begin(), promote::test::promote_binary().string());
    auto environment = clean_environment();
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    return promote::test::run(args, repo, environment);
  }

  // GitHub Actions' variables, with the summary and outputs files of this repository.
  std::map<std::string, std::string> github(std::map<std::string, std::string> more = {}) const {
    std::map<std::string, std::string> env = {{"GITHUB_ACTIONS", "true"},
                                              {"GITHUB_STEP_SUMMARY", summary.string()},
                                              {"GITHUB_OUTPUT", outputs.string()},
                                              {"GITHUB_ACTOR", "octocat"},
                                              {"GITHUB_SERVER_URL", "https://github.example"},
                                              {"GITHUB_REPOSITORY", "acme/shop"},
                                              {"GITHUB_RUN_ID", "4242"}};
    for (const auto& [name, value] : more) {
      env[name] = value;
    }
    return env;
  }

  std::map<std::string, std::string> gitlab(std::map<std::string, std::string> more = {}) const {
    std::map<std::string, std::string> env = {
        {"GITLAB_CI", "true"},
        {"GITLAB_USER_LOGIN", "gitlab-alice"},
        {"CI_JOB_URL", "https://gitlab.example/acme/shop/-/jobs/77"}};
    for (const auto& [name, value] : more) {
      env[name] = value;
    }
    return env;
  }

  nlohmann::json history() const {
    return nlohmann::json::parse(promote({"history", "--output", "json"}, {}).out);
  }
};

// The step outputs file as GitHub reads it: NAME=VALUE lines and NAME<<DELIMITER blocks.
std::map<std::string, std::string> parse_outputs(const std::string& text) {
  std::map<std::string, std::string> outputs;
  const auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const auto heredoc = line.find("<<");
    const auto equals = line.find('=');
    if (heredoc != std::string::npos && (equals == std::string::npos || heredoc < equals)) {
      const std::string delimiter = line.substr(heredoc + 2);
      std::string value;
      std::size_t j = i + 1;
      for (; j < lines.size() && lines[j] != delimiter; ++j) {
        value += (j == i + 1 ? "" : "\n") + lines[j];
      }
      REQUIRE(j < lines.size());
      outputs[line.substr(0, heredoc)] = value;
      i = j;
    } else {
      REQUIRE(equals != std::string::npos);
      outputs[line.substr(0, equals)] = line.substr(equals + 1);
    }
  }
  return outputs;
}

// GitLab's dotenv rules: every line KEY=VALUE, KEY of letters, digits and _, nothing else.
std::map<std::string, std::string> parse_dotenv(const std::string& text) {
  std::map<std::string, std::string> variables;
  REQUIRE(!text.empty());
  CHECK(text.size() < 5 * 1024);
  CHECK(text.back() == '\n');
  for (const auto& line : lines_of(text)) {
    const auto equals = line.find('=');
    REQUIRE(equals != std::string::npos);
    const std::string key = line.substr(0, equals);
    CHECK(!key.empty());
    CHECK(
        key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
        std::string::npos);
    variables[key] = line.substr(equals + 1);
  }
  return variables;
}

// The stderr lines that are workflow commands.
std::vector<std::string> commands_in(const std::string& err) {
  std::vector<std::string> commands;
  for (const auto& line : lines_of(err)) {
    if (line.starts_with("::")) {
      commands.push_back(line);
    }
  }
  return commands;
}

const std::string k_gates =
    "      - use: ok\n"
    "      - use: coverage\n"
    "      - use: e2e\n"
    "        name: e2e tests\n"
    "      - use: scanner\n"
    "      - use: settle\n"
    "        name: slow\n";

std::map<std::string, std::string> five_verdicts() {
  return {{"ok", plugin("pass", "\"all good\"")},
          {"coverage", plugin("warn", "\"coverage 79%, below 80: tolerated\"")},
          {"e2e", plugin("fail", "\"2 of 3 checks failed: checkout, refund\"",
                         ",\"details\":{\"failed\":[\"checkout\",\"refund\"]}")},
          {"scanner", plugin("error", "\"cannot reach the scanner <scanner.local>\"")},
          {"settle",
           plugin("pending", "\"in staging for 10m of 1h\"", ",\"retry_after_seconds\":3000")}};
}

// The corpus schema check, run with Debian's python3 and offline: a remote $ref is refused.
const char* k_schema_check = R"py(
import json, re, sys, warnings
import jsonschema, yaml

warnings.simplefilter("ignore", DeprecationWarning)

# YAML 1.2 booleans: GitHub reads `on:` as a key; PyYAML (YAML 1.1) would read True.
class Loader(yaml.SafeLoader):
    pass

Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                             re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

def offline(uri):
    raise jsonschema.exceptions.RefResolutionError("remote reference " + uri + " (offline)")

with open(sys.argv[1], encoding="utf-8") as stream:
    schema = json.load(stream)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
resolver = jsonschema.RefResolver.from_schema(schema, handlers={"http": offline, "https": offline})
validator = cls(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
ok = True
for path in sys.argv[2:]:
    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=Loader)
    except (OSError, yaml.YAMLError) as error:
        print("INVALID " + path + ": " + " ".join(str(error).split()))
        ok = False
        continue
    errors = list(validator.iter_errors(document))
    if errors:
        ok = False
        best = jsonschema.exceptions.best_match(errors)
        where = "/".join(str(part) for part in best.absolute_path) or "(root)"
        print("INVALID " + path + ": " + where + ": " + best.message)
    else:
        print("OK " + path)
sys.exit(0 if ok else 1)
)py";

// Runs the schema check of `schema` (a file of the corpus' schemas/) on `files`.
CommandResult check_schema(const std::string& schema, const std::vector<fs::path>& files) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", k_schema_check,
                                   (*promote::test::corpus_dir() / "schemas" / schema).string()};
  for (const auto& file : files) {
    argv.push_back(file.string());
  }
  return promote::test::run(argv);
}

bool has_schema_check() {
  return promote::test::has_corpus() && promote::test::has_python_jsonschema();
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("ci: under GitHub Actions a promotion writes the step summary and outputs") {
    Repo shop;
    const CommandResult result =
        shop.promote({"--to", "staging", "--output", "json"}, shop.github());
    INFO("stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    const auto doc = nlohmann::json::parse(result.out);  // stdout stays one JSON document
    REQUIRE(doc["outcome"] == "promoted");
    const std::string short_id = doc["candidate"]["short_id"];

    const std::string summary = read_text(shop.summary);
    CHECK(contains(summary, "### ✅ promote to staging: promoted (candidate `" + short_id + "`)\n"));
    CHECK(contains(summary, "from **dev**"));
    CHECK(contains(summary, "by `octocat`"));
    CHECK(contains(summary, "| gate | use | status | summary |\n|---|---|---|---|\n"));
    CHECK(
        contains(summary, "| `junit` | `junit` | ✅ pass | `103 tests: 98 passed, 5 skipped` |\n"));
    CHECK(contains(summary, "| `trivy` | `trivy` | ✅ pass | `"));
    CHECK(contains(summary, "| image | from | to |\n"));
    CHECK(contains(summary, "| web | `ghcr.io/acme/web:2.3.0` | unchanged |\n"));
    const std::string diff = doc["diff"];
    REQUIRE(!diff.empty());
    CHECK(contains(summary, "```diff\n" + diff + (diff.back() == '\n' ? "" : "\n") + "```\n"));
    CHECK(contains(summary, "Commit `" + doc["commit"].get<std::string>().substr(0, 12) + "`"));

    const auto outputs = parse_outputs(read_text(shop.outputs));
    CHECK(outputs.at("outcome") == "promoted");
    CHECK(outputs.at("stage") == "staging");
    CHECK(outputs.at("candidate") == short_id);
    CHECK(outputs.at("candidate-id") == doc["candidate"]["id"]);
    CHECK(outputs.at("commit") == doc["commit"]);
    CHECK(outputs.at("pr-url") == "");
    CHECK(outputs.at("promotion-id") == doc["promotion_id"]);
    CHECK(outputs.size() == 7);

    // Passing gates are not annotated.
    CHECK(commands_in(result.err).empty());

    const auto history = shop.history();
    REQUIRE(history.size() == 1);
    CHECK(history[0]["actor"] == "octocat");
    CHECK(history[0]["ci_run_url"] == "https://github.example/acme/shop/actions/runs/4242");

    SUBCASE("a second attempt in the same job appends to both files") {
      const CommandResult again = shop.promote({"--to", "staging"}, shop.github());
      CHECK(again.exit_code == 0);
      const std::string both = read_text(shop.summary);
      CHECK(both.starts_with(summary));
      CHECK(contains(both.substr(summary.size()), "### ➖ promote to staging: no-op"));
      CHECK(parse_outputs(read_text(shop.outputs)).at("outcome") == "no-op");
    }
  }

  TEST_CASE("ci: failed, errored and warned gates become GitHub annotations, escaped") {
    Repo repo(k_gates, five_verdicts());
    const CommandResult result =
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"},
                     repo.github());
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 1);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "blocked");

    const auto commands = commands_in(result.err);
    const std::vector<std::string> expected = {
        "::warning title=promote prod%3A gate coverage warn::coverage 79%25, below 80: tolerated",
        "::error title=promote prod%3A gate e2e tests (e2e) fail::2 of 3 checks failed: checkout, "
        "refund",
        "::error title=promote prod%3A gate scanner error::cannot reach the scanner "
        "<scanner.local>",
        "::notice title=promote prod%3A gate slow (settle) pending::in staging for 10m of 1h "
        "(retry "
        "in 50m)"};
    CHECK(commands == expected);

    const std::string summary = read_text(repo.summary);
    CHECK(contains(summary, "### ❌ promote to prod: blocked (candidate `" +
                                doc["candidate"]["short_id"].get<std::string>() + "`)"));
    CHECK(contains(summary, "| `ok` | `ok` | ✅ pass | `all good` |\n"));
    CHECK(contains(
        summary,
        "| `coverage` | `coverage` | ⚠️ warn | `coverage 79%, below 80: tolerated` |\n"));
    CHECK(contains(
        summary, "| `e2e tests` | `e2e` | ❌ fail | `2 of 3 checks failed: checkout, refund` |\n"));
    CHECK(contains(
        summary,
        "| `scanner` | `scanner` | ❗ error | `cannot reach the scanner <scanner.local>` |\n"));
    CHECK(contains(
        summary,
        "| `slow` | `settle` | ⏳ pending | `in staging for 10m of 1h` (retry in 50m) |\n"));
    CHECK(contains(summary, "The change it would make:\n\n```diff\n"));
    CHECK(contains(summary, "+    newTag: 1.1.0\n"));

    const auto outputs = parse_outputs(read_text(repo.outputs));
    CHECK(outputs.at("outcome") == "blocked");
    CHECK(outputs.at("commit") == "");
  }

  TEST_CASE("ci: the tokens promote and its gates read are masked and written nowhere") {
    const std::string github_token = "ghs_1234567890abcdefSECRET";
    const std::string git_token = "glpat-50%off,really:secret";
    const std::string gate_secret = "gate-secret-value-42";
    Repo repo("      - use: ok\n        with:\n          env: [GATE_SECRET]\n",
              {{"ok", plugin("pass", "\"fine\"")}});
    const CommandResult result =
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"},
                     repo.github({{"GITHUB_TOKEN", github_token},
                                  {"PROMOTE_GIT_TOKEN", git_token},
                                  {"GATE_SECRET", gate_secret}}));
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
    const auto commands = commands_in(result.err);
    CHECK(std::count(commands.begin(), commands.end(), "::add-mask::" + github_token) == 1);
    CHECK(std::count(commands.begin(), commands.end(),
                     "::add-mask::glpat-50%25off,really:secret") == 1);
    CHECK(std::count(commands.begin(), commands.end(), "::add-mask::" + gate_secret) == 1);
    CHECK(commands.size() == 3);
    const std::string everywhere = result.out + result.err + read_text(repo.summary) +
                                   read_text(repo.outputs) + repo.history().dump() +
                                   sh("git --git-dir=remote.git log -p main", repo.dir.path());
    CHECK(count(everywhere, github_token) == 1);  // the add-mask line alone
    CHECK(count(everywhere, gate_secret) == 1);
    CHECK(count(everywhere, git_token) == 0);  // written escaped, %25
  }

  TEST_CASE("ci: a gate that echoes its secret has it replaced in every CI file") {
    const std::string secret = "leaky-secret-0042";
    Repo repo("      - use: leak\n        with:\n          env: [GATE_SECRET]\n",
              {{"leak",
                "#!/bin/sh\ncat >/dev/null\nprintf '{\"status\":\"warn\",\"summary\":"
                "\"token %s expires soon\"}\\n' \"$GATE_SECRET\"\n"}});
    auto env = repo.github(repo.gitlab({{"GATE_SECRET", secret},
                                        {"PROMOTE_JUNIT_REPORT", (repo.dir / "gates.xml").string()},
                                        {"PROMOTE_DOTENV", (repo.dir / "promote.env").string()}}));
    const CommandResult result =
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"}, env);
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 0);
    const auto commands = commands_in(result.err);
    CHECK(std::find(commands.begin(), commands.end(),
                    "::warning title=promote prod%3A gate leak warn::token *** expires soon") !=
          commands.end());
    const std::string files = read_text(repo.summary) + read_text(repo.outputs) +
                              read_text(repo.dir / "gates.xml") +
                              read_text(repo.dir / "promote.env");
    CHECK(contains(files, "token *** expires soon"));
    CHECK_FALSE(contains(files, secret));
    CHECK(count(result.err, secret) == 1);  // ::add-mask::
  }

  TEST_CASE("ci: an error before any attempt is annotated and the outcome is error") {
    Repo shop;
    const CommandResult result =
        shop.promote({"--to", "prod", "--wait", "soon", "--output", "json"}, shop.github());
    CHECK(result.exit_code == 2);
    CHECK(nlohmann::json::parse(result.out)["outcome"] == "error");
    const auto commands = commands_in(result.err);
    REQUIRE(commands.size() == 1);
    CHECK(commands[0] ==
          "::error title=promote prod%3A usage error::--wait must be a duration such as 90s, 5m, "
          "2h or 1d, got 'soon'");
    CHECK(parse_outputs(read_text(shop.outputs)).at("outcome") == "error");
    CHECK(contains(read_text(shop.summary), "### ❗ promote to prod: error\n"));
  }

  TEST_CASE("ci: a CI file that cannot be written is a warning and leaves the exit code") {
    Repo shop;
    SUBCASE("GitHub outputs into a directory, no summary variable") {
      fs::create_directories(shop.outputs);
      auto env = shop.github();
      env["GITHUB_STEP_SUMMARY"] = "";
      const CommandResult result = shop.promote({"--to", "staging"}, env);
      CHECK(result.exit_code == 0);
      CHECK(contains(result.err,
                     "promote: warning: GITHUB_STEP_SUMMARY is not set: no step "
                     "summary written\n"));
      CHECK(contains(result.err, "promote: warning: cannot write the step outputs " +
                                     shop.outputs.string() + ": "));
    }
    SUBCASE("GitLab files in a directory that does not exist") {
      const fs::path missing = shop.dir / "no" / "such";
      const CommandResult result =
          shop.promote({"--to", "staging"},
                       shop.gitlab({{"PROMOTE_JUNIT_REPORT", (missing / "gates.xml").string()},
                                    {"PROMOTE_DOTENV", (missing / "promote.env").string()}}));
      CHECK(result.exit_code == 0);
      CHECK(contains(result.err, "promote: warning: cannot write the JUnit report " +
                                     (missing / "gates.xml").string()));
      CHECK(contains(result.err, "promote: warning: cannot write the dotenv file " +
                                     (missing / "promote.env").string()));
    }
  }

  TEST_CASE("ci: under GitLab CI the gates become a JUnit report and the outputs a dotenv file") {
    Repo repo(k_gates, five_verdicts());
    const CommandResult result =
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"},
                     repo.gitlab());
    INFO("stderr: " << result.err);
    CHECK(result.exit_code == 1);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(commands_in(result.err).empty());  // no GitHub workflow commands

    // The default files, in the working directory.
    const fs::path junit = repo.repo / "promote-gates.xml";
    pugi::xml_document xml;
    REQUIRE(xml.load_file(junit.c_str()));
    const auto root = xml.child("testsuites");
    REQUIRE(root);
    const auto suite = root.child("testsuite");
    CHECK(std::string(suite.attribute("name").value()) == "prod");
    CHECK(suite.attribute("tests").as_int() == 5);
    CHECK(suite.attribute("failures").as_int() == 1);
    CHECK(suite.attribute("errors").as_int() == 1);
    CHECK(suite.attribute("skipped").as_int() == 1);
    CHECK(std::string(suite.child("properties")
                          .find_child_by_attribute("property", "name", "promote.outcome")
                          .attribute("value")
                          .value()) == "blocked");
    std::map<std::string, pugi::xml_node> cases;
    for (auto testcase : suite.children("testcase")) {
      cases[testcase.attribute("name").value()] = testcase;
    }
    REQUIRE(cases.size() == 5);
    CHECK(std::string(cases["ok"].child("system-out").text().get()) == "pass: all good");
    CHECK_FALSE(cases["ok"].child("failure"));
    CHECK(std::string(cases["coverage"].child("system-out").text().get()) ==
          "warn: coverage 79%, below 80: tolerated");
    CHECK_FALSE(cases["coverage"].child("failure"));
    CHECK_FALSE(cases["coverage"].child("skipped"));
    const auto failure = cases["e2e tests"].child("failure");
    REQUIRE(failure);
    CHECK(std::string(failure.attribute("message").value()) ==
          "2 of 3 checks failed: checkout, refund");
    CHECK(contains(failure.text().get(), "\"refund\""));  // the details
    CHECK(std::string(cases["e2e tests"].attribute("classname").value()) == "promote.prod.e2e");
    const auto error = cases["scanner"].child("error");
    REQUIRE(error);
    CHECK(std::string(error.attribute("message").value()) ==
          "cannot reach the scanner <scanner.local>");
    CHECK(std::string(cases["slow"].child("skipped").attribute("message").value()) ==
          "pending: in staging for 10m of 1h (retry in 50m)");
    if (promote::test::has_corpus() && promote::test::has_program("xmllint")) {
      // Jenkins' junit-10.xsd (xunit plugin), the strictest of the JUnit schemas in use.
      const CommandResult valid = promote::test::run(
          {"xmllint", "--noout", "--schema",
           (*promote::test::corpus_dir() / "schemas" / "junit-10.xsd").string(), junit.string()});
      INFO(valid.err);
      CHECK(valid.exit_code == 0);
    }

    const auto variables = parse_dotenv(read_text(repo.repo / "promote.env"));
    const std::map<std::string, std::string> expected = {
        {"PROMOTE_OUTCOME", "blocked"},
        {"PROMOTE_STAGE", "prod"},
        {"PROMOTE_CANDIDATE", doc["candidate"]["short_id"]},
        {"PROMOTE_CANDIDATE_ID", doc["candidate"]["id"]},
        {"PROMOTE_COMMIT", ""},
        {"PROMOTE_PR_URL", ""},
        {"PROMOTE_PROMOTION_ID", doc["promotion_id"]}};
    CHECK(variables == expected);

    const auto history = repo.history();
    CHECK(history[0]["actor"] == "gitlab-alice");
    CHECK(history[0]["ci_run_url"] == "https://gitlab.example/acme/shop/-/jobs/77");

    SUBCASE("the next attempt adds its testsuite and rewrites the dotenv file") {
      write_text(repo.repo / "plugins/promote-gate-e2e", plugin("pass", "\"3 of 3\""));
      write_text(repo.repo / "plugins/promote-gate-scanner", plugin("pass", "\"clean\""));
      write_text(repo.repo / "plugins/promote-gate-settle", plugin("pass", "\"soaked\""));
      const CommandResult next =
          repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"}, repo.gitlab());
      INFO("stderr: " << next.err);
      CHECK(next.exit_code == 0);
      pugi::xml_document again;
      REQUIRE(again.load_file(junit.c_str()));
      const auto suites = again.child("testsuites");
      std::vector<pugi::xml_node> all(suites.children("testsuite").begin(),
                                      suites.children("testsuite").end());
      REQUIRE(all.size() == 2);
      CHECK(all[0].attribute("failures").as_int() == 1);  // the first attempt, kept
      CHECK(all[1].attribute("failures").as_int() == 0);
      CHECK(all[1].attribute("errors").as_int() == 0);
      CHECK(all[1].attribute("tests").as_int() == 5);
      CHECK(std::string(all[1]
                            .child("properties")
                            .find_child_by_attribute("property", "name", "promote.outcome")
                            .attribute("value")
                            .value()) == "promoted");
      const auto rewritten = parse_dotenv(read_text(repo.repo / "promote.env"));
      CHECK(rewritten.at("PROMOTE_OUTCOME") == "promoted");
      CHECK(rewritten.at("PROMOTE_COMMIT") ==
            sh("git --git-dir=remote.git rev-parse main", repo.dir.path()).substr(0, 40));
    }
    SUBCASE("a report left there with an undefined entity is malformed: replaced, not carried on") {
      write_text(junit,
                 "<testsuites><testsuite name=\"forged&bogus;\" tests=\"1\" failures=\"0\">"
                 "<testcase name=\"t&bogus;\"/></testsuite></testsuites>\n");
      const CommandResult next =
          repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"}, repo.gitlab());
      INFO("stderr: " << next.err);
      CHECK(contains(next.err,
                     "promote: warning: promote-gates.xml was not a JUnit <testsuites> file; "
                     "replaced"));
      pugi::xml_document again;
      REQUIRE(again.load_file(junit.c_str()));
      const auto suites = again.child("testsuites");
      CHECK(std::distance(suites.children("testsuite").begin(),
                          suites.children("testsuite").end()) == 1);
      CHECK(!contains(read_text(junit), "bogus"));
    }
  }

  TEST_CASE("ci: outside CI promote writes no CI file and no workflow command") {
    Repo shop;
    const fs::path junit = shop.dir / "gates.xml";
    const fs::path dotenv = shop.dir / "promote.env";
    const CommandResult result =
        shop.promote({"--to", "staging"}, {{"GITHUB_STEP_SUMMARY", shop.summary.string()},
                                           {"GITHUB_OUTPUT", shop.outputs.string()},
                                           {"PROMOTE_JUNIT_REPORT", junit.string()},
                                           {"PROMOTE_DOTENV", dotenv.string()},
                                           {"GITHUB_ACTIONS", "false"},
                                           {"GITHUB_TOKEN", "ghs_not_in_ci_secret"}});
    CHECK(result.exit_code == 0);
    CHECK_FALSE(fs::exists(shop.summary));
    CHECK_FALSE(fs::exists(shop.outputs));
    CHECK_FALSE(fs::exists(junit));
    CHECK_FALSE(fs::exists(dotenv));
    CHECK_FALSE(fs::exists(shop.repo / "promote-gates.xml"));
    CHECK_FALSE(contains(result.err, "::"));
    CHECK_FALSE(contains(result.out + result.err, "ghs_not_in_ci_secret"));
  }

  TEST_CASE("ci: action.yml and the example CI files match SchemaStore's schemas" *
            doctest::skip(!has_schema_check())) {
    const fs::path action = k_source / "action.yml";
    const fs::path workflow = k_source / "examples" / "github" / "promote.yml";
    const fs::path gitlab = k_source / "examples" / "gitlab" / ".gitlab-ci.yml";
    const fs::path gitlab_template = k_source / "examples" / "gitlab" / "promote.gitlab-ci.yml";
    SUBCASE("as they are") {
      for (const auto& [schema, files] : std::vector<std::pair<std::string, std::vector<fs::path>>>{
               {"github-action.json", {action}},
               {"github-workflow.json", {workflow}},
               {"gitlab-ci.json", {gitlab, gitlab_template}}}) {
        const CommandResult result = check_schema(schema, files);
        const auto& case_schema = schema;  // clang 14 cannot capture a structured binding
        INFO(case_schema << ": " << result.out << result.err);
        CHECK(result.exit_code == 0);
        CHECK(count(result.out, "OK ") == files.size());
      }
    }
    SUBCASE("a misspelt key in each is refused") {
      promote::test::TempDir dir;
      auto broken = [&dir](const fs::path& from, const std::string& name, const std::string& key,
                           const std::string& misspelt) {
        std::string text = read_text(from);
        const auto at = text.find(key);
        REQUIRE(at != std::string::npos);
        text.replace(at, key.size(), misspelt);
        write_text(dir / name, text);
        return dir / name;
      };
      const std::vector<std::pair<std::string, fs::path>> cases = {
          {"github-action.json", broken(action, "action.yml", "\nruns:", "\nrun:")},
          {"github-workflow.json",
           broken(workflow, "promote.yml", "    concurrency:", "    concurency:")},
          {"gitlab-ci.json", broken(gitlab, "gitlab-ci.yml", "  resource_group: staging",
                                    "  resource-group: staging")}};
      for (const auto& [schema, file] : cases) {
        const CommandResult result = check_schema(schema, {file});
        const auto& case_schema = schema;  // clang 14 cannot capture a structured binding
        INFO(case_schema << ": " << result.out << result.err);
        CHECK(result.exit_code == 1);
        CHECK(result.out.starts_with("INVALID " + file.string()));
      }
    }
  }
}
