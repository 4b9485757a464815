// End-to-end: `promote report` on a real history made by the real binary in a scratch copy
// of the demo repository, `promote completion` run by the real shells, and `promote man`.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

namespace {

using promote::test::k_examples;
const std::string k_nasty = "<script>alert('x')</script>";

// A scratch copy of the demo GitOps repository, pushed to a local bare remote.
struct Shop {
  promote::test::TempDir dir;
  fs::path repo = dir / "shop";

  Shop() {
    sh("git init -q --bare -b main remote.git && mkdir shop && cp -r '" + k_examples + "/k8s' '" +
           k_examples + "/reports' '" + k_examples +
           "/promote.yaml' shop/ && cd shop && git init -q -b main && "
           "git config user.name 'Shop CI' && git config user.email ci@shop.example && "
           "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
           "git remote add origin ../remote.git && git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args,
                        const std::map<std::string, std::string>& env = {}) const {
    args.insert(args.begin(), promote::test::promote_binary().string());
    std::map<std::string, std::string> environment = {
        {"GITHUB_ACTOR", ""}, {"GITLAB_USER_LOGIN", ""}, {"PROMOTE_ACTOR", "shop-ci"},
        {"PROMOTE_HISTORY", ""}, {"NO_COLOR", "1"}, {"GITHUB_ACTIONS", ""}, {"GITLAB_CI", ""}};
    for (const auto& [name, value] : env) {
      environment[name] = value;
    }
    return promote::test::run(args, repo, environment);
  }

  // dev twice, staging twice, a rollback of staging by a hostile actor with a hostile
  // reason, a staging attempt blocked by junit, and prod pending on its soak.
  void make_history() const {
    REQUIRE(promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.3"}).exit_code == 0);
    REQUIRE(promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.4.4"}).exit_code == 0);
    REQUIRE(promote({"--to", "staging"}).exit_code == 0);
    REQUIRE(promote({"rollback", "--stage", "staging", "--reason", k_nasty},
                    {{"PROMOTE_ACTOR", k_nasty}})
                .exit_code == 0);
    REQUIRE(promote({"--to", "prod"}).exit_code == 3);
    write_text(repo / "reports/junit/e2e.xml",
               "<testsuite name=\"e2e\"><testcase name=\"checkout\"><failure message=\"500\"/>"
               "</testcase></testsuite>");
    REQUIRE(promote({"--to", "staging"}).exit_code == 1);
  }
};

using promote::test::contains;

const nlohmann::json& stage(const nlohmann::json& doc, const std::string& name) {
  for (const auto& figures : doc["stages"]) {
    if (figures["name"] == name) {
      return figures;
    }
  }
  FAIL("no stage " << name);
  throw std::logic_error("unreachable");
}

CommandResult validate(const fs::path& schema, const std::vector<fs::path>& files) {
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   std::string(PROMOTE_SOURCE_DIR) + "/tests/integration/validate_json.py",
                                   schema.string()};
  for (const auto& file : files) {
    argv.push_back(file.string());
  }
  return promote::test::run(argv);
}

// A bash that has the completion script loaded and `promote` on PATH.
std::string complete_bash(const Shop& shop, const std::string& words) {
  const fs::path script = shop.dir / "promote.bash";
  if (!fs::exists(script)) {
    write_text(script, shop.promote({"completion", "bash"}).out);
  }
  const CommandResult result = promote::test::run(
      {"bash", "--norc", "--noprofile", "-c",
       "source '" + script.string() + "' && COMP_WORDS=(" + words +
           ") && COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )) && _promote && "
           "printf '%s\\n' \"${COMPREPLY[@]}\""},
      shop.repo,
      {{"PATH", promote::test::promote_binary().parent_path().string() + ":" +
                    std::string(std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin")}});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  return result.out;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("promote report reads the DORA figures of a real history in text, JSON and HTML") {
    Shop shop;
    shop.make_history();

    const CommandResult text = shop.promote({"report", "--since", "1d"});
    INFO(text.out << text.err);
    CHECK(text.exit_code == 0);
    CHECK(text.out.starts_with("report shop: "));
    CHECK(contains(text.out, "(1 day)\n"));
    CHECK(contains(text.out, "\ndev      2  "));
    CHECK(contains(text.out, "\nstaging  3 (1 rollback)  "));
    CHECK(contains(text.out, "top failing gates:\n  staging: junit 1\n"));

    const CommandResult json = shop.promote({"report", "--since", "1d", "--output", "json"});
    CHECK(json.exit_code == 0);
    const auto doc = nlohmann::json::parse(json.out);
    CHECK(doc["pipeline"] == "shop");
    REQUIRE(doc["stages"].size() == 3);
    CHECK(doc["stages"][0]["name"] == "dev");
    CHECK(doc["stages"][2]["name"] == "prod");
    const auto& dev = stage(doc, "dev");
    CHECK(dev["first_stage"] == true);
    CHECK(dev["deployment_frequency"]["deployments"] == 2);
    CHECK(dev["lead_time"]["median_seconds"].is_null());
    const auto& staging = stage(doc, "staging");
    CHECK(staging["deployment_frequency"]["deployments"] == 3);
    CHECK(staging["deployment_frequency"]["rollbacks"] == 1);
    CHECK(staging["lead_time"]["promotions"] == 2);
    CHECK(staging["lead_time"]["median_seconds"].get<long long>() >= 0);
    CHECK(staging["lead_time"]["band"] == "elite");  // made within seconds of dev
    CHECK(staging["change_failure_rate"]["rate"] == 0.5);
    CHECK(staging["change_failure_rate"]["changes"] == 2);
    CHECK(staging["outcomes"]["blocked"] == 1);
    REQUIRE(staging["time_to_restore"]["rollbacks"].size() == 1);
    CHECK(staging["time_to_restore"]["rollbacks"][0]["actor"] == k_nasty);
    CHECK(staging["time_to_restore"]["rollbacks"][0]["reason"] == k_nasty);
    CHECK(staging["time_to_restore"]["band"] == "elite");
    CHECK(staging["failing_gates"] == nlohmann::json::parse(R"([{"name": "junit", "count": 1}])"));
    const auto& prod = stage(doc, "prod");
    CHECK(prod["deployment_frequency"]["deployments"] == 0);
    CHECK(prod["deployment_frequency"]["band"].is_null());
    CHECK(prod["outcomes"]["pending"] == 1);

    const CommandResult one = shop.promote({"report", "--stage", "prod", "--output", "json"});
    CHECK(one.exit_code == 0);
    const auto only = nlohmann::json::parse(one.out);
    REQUIRE(only["stages"].size() == 1);
    CHECK(only["stages"][0]["name"] == "prod");

    const CommandResult html = shop.promote({"report", "--output", "html"});
    CHECK(html.exit_code == 0);
    CHECK(html.out.starts_with("<!DOCTYPE html>"));
    CHECK(contains(html.out, "<svg"));
    CHECK(contains(html.out, "</html>\n"));
    CHECK_FALSE(contains(html.out, "<script"));
    CHECK(contains(html.out, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // One file: nothing is fetched, not even a style sheet or a font.
    CHECK_FALSE(std::regex_search(html.out, std::regex("(src|href)\\s*=", std::regex::icase)));
    CHECK_FALSE(std::regex_search(html.out, std::regex("https?:", std::regex::icase)));
    CHECK_FALSE(contains(html.out, "@import"));
    CHECK_FALSE(contains(html.out, "url("));
  }

  TEST_CASE("the report's JSON, and its errors, match schemas/report.schema.json" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    Shop shop;
    shop.make_history();
    const std::vector<std::vector<std::string>> runs = {
        {"report", "--since", "90d"},
        {"report", "--since", "2000-01-01", "--until", "2000-01-31"},  // an empty window
        {"report", "--stage", "staging"},
        {"report", "--stage", "nowhere"},                               // refused
        {"report", "-f", "missing.yaml"},                               // no pipeline file
    };
    std::vector<fs::path> files;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto args = runs[i];
      args.push_back("--output");
      args.push_back("json");
      if (i == 4) {
        args.push_back("--history");
        args.push_back((shop.repo / ".promote/history.db").string());
      }
      const CommandResult result = shop.promote(args);
      INFO(result.err);
      CHECK(result.exit_code == (i == 3 ? 2 : 0));
      files.push_back(shop.dir / ("report-" + std::to_string(i) + ".json"));
      write_text(files.back(), result.out);
    }
    const CommandResult check =
        validate(std::string(PROMOTE_SOURCE_DIR) + "/schemas/report.schema.json", files);
    INFO(check.out << check.err);
    CHECK(check.exit_code == 0);
    CHECK(std::count(check.out.begin(), check.out.end(), '\n') == static_cast<long>(runs.size()));

    // And the schema does refuse a document that breaks it.
    auto doc = nlohmann::json::parse(read_text(files[0]));
    doc["stages"][0]["lead_time"]["band"] = "excellent";
    write_text(shop.dir / "bad.json", doc.dump());
    const CommandResult bad =
        validate(std::string(PROMOTE_SOURCE_DIR) + "/schemas/report.schema.json", {shop.dir / "bad.json"});
    CHECK(bad.exit_code == 1);
  }

  TEST_CASE("without the pipeline file the stages come in the order the history met them") {
    Shop shop;
    shop.make_history();
    const std::string history = (shop.repo / ".promote/history.db").string();
    const CommandResult result = shop.promote(
        {"report", "-f", "missing.yaml", "--history", history, "--output", "json"});
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    const auto doc = nlohmann::json::parse(result.out);
    REQUIRE(doc["stages"].size() == 3);
    CHECK(doc["stages"][0]["name"] == "dev");
    CHECK(doc["stages"][1]["name"] == "staging");
    CHECK(doc["stages"][2]["name"] == "prod");
    CHECK(doc["stages"][1]["deployment_frequency"]["deployments"] == 3);
  }

  TEST_CASE("promote report refuses bad flags with a usage error") {
    Shop shop;
    SUBCASE("no history yet") {
      const CommandResult result = shop.promote({"report"});
      CHECK(result.exit_code == 2);
      CHECK(contains(result.err, "promote: no history at "));
    }
    SUBCASE("a window that ends before it starts") {
      shop.make_history();
      const CommandResult result =
          shop.promote({"report", "--since", "2026-11-02", "--until", "2026-11-01T00:00:00Z"});
      CHECK(result.exit_code == 2);
      CHECK(result.err == "promote: --until 2026-11-01T00:00:00Z is before --since "
                          "2026-11-02T00:00:00Z\n");
    }
    SUBCASE("an unknown stage") {
      shop.make_history();
      const CommandResult result = shop.promote({"report", "--stage", "qa"});
      CHECK(result.exit_code == 2);
      CHECK(result.err == "promote: no stage 'qa' (stages: dev, staging, prod)\n");
    }
    SUBCASE("a time that is not one") {
      const CommandResult result = shop.promote({"report", "--since", "last tuesday"});
      CHECK(result.exit_code == 2);
      CHECK(contains(result.err, "--since must be a duration ago"));
    }
    SUBCASE("an output it does not know") {
      CHECK(shop.promote({"report", "--output", "pdf"}).exit_code == 2);
    }
  }

  TEST_CASE("the bash completion script is valid and completes commands, options and values" *
            doctest::skip(!promote::test::has_program("bash"))) {
    Shop shop;
    const CommandResult script = shop.promote({"completion", "bash"});
    REQUIRE(script.exit_code == 0);
    write_text(shop.dir / "promote.bash", script.out);
    const CommandResult syntax = promote::test::run({"bash", "-n", (shop.dir / "promote.bash").string()});
    INFO(syntax.err);
    CHECK(syntax.exit_code == 0);

    CHECK(complete_bash(shop, "promote hi") == "history\n");
    CHECK(complete_bash(shop, "promote history --st") == "--stage\n");
    CHECK(complete_bash(shop, "promote re") == "reject\nrelease\nreport\n");
    CHECK(complete_bash(shop, "promote report --output ''") == "text\njson\nhtml\n");
    CHECK(complete_bash(shop, "promote report --output=j") == "json\n");
    CHECK(complete_bash(shop, "promote completion ''") == "bash\nzsh\nfish\n");
    CHECK(complete_bash(shop, "promote history show --o") == "--output\n");
    // Stage names come from the pipeline file, through `promote __complete stages`.
    CHECK(complete_bash(shop, "promote rollback --stage ''") == "dev\nstaging\nprod\n");
    CHECK(complete_bash(shop, "promote -f promote.yaml --to st") == "staging\n");
    CHECK(complete_bash(shop, "promote -f promote.yaml --dry-run --to p") == "prod\n");
    // Files for -f.
    CHECK(complete_bash(shop, "promote validate -f promo") == "promote.yaml\n");
    // The hidden helper is not offered.
    CHECK_FALSE(contains(complete_bash(shop, "promote _"), "__complete"));
  }

  TEST_CASE("the zsh completion script passes zsh -n" * doctest::skip(!promote::test::has_program("zsh"))) {
    Shop shop;
    write_text(shop.dir / "_promote", shop.promote({"completion", "zsh"}).out);
    const CommandResult syntax = promote::test::run({"zsh", "-n", (shop.dir / "_promote").string()});
    INFO(syntax.err);
    CHECK(syntax.exit_code == 0);
  }

  TEST_CASE("the fish completion script passes fish --no-execute" *
            doctest::skip(!promote::test::has_program("fish"))) {
    Shop shop;
    write_text(shop.dir / "promote.fish", shop.promote({"completion", "fish"}).out);
    const CommandResult syntax =
        promote::test::run({"fish", "--no-execute", (shop.dir / "promote.fish").string()});
    INFO(syntax.err);
    CHECK(syntax.exit_code == 0);
  }

  TEST_CASE("every completion script names every visible command") {
    Shop shop;
    for (const std::string shell : {"bash", "zsh", "fish"}) {
      CAPTURE(shell);
      const CommandResult script = shop.promote({"completion", shell});
      REQUIRE(script.exit_code == 0);
      for (const std::string command : {"rollback", "approve", "history", "show", "report",
                                        "completion", "man", "plan", "explain", "status",
                                        "validate"}) {
        CAPTURE(command);
        CHECK(std::regex_search(script.out, std::regex("[\" ]" + command + "[\" ]")));
      }
    }
    CHECK(shop.promote({"completion", "tcsh"}).exit_code == 2);
  }

  TEST_CASE("promote man prints a man page with every section and every command") {
    Shop shop;
    const CommandResult man = shop.promote({"man"});
    REQUIRE(man.exit_code == 0);
    const std::string& page = man.out;
    CHECK(page.find(".TH PROMOTE 1 ") != std::string::npos);
    for (const char* section : {".SH NAME\n", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH OPTIONS\n",
                                ".SH COMMANDS\n", ".SH EXIT STATUS\n", ".SH ENVIRONMENT\n",
                                ".SH FILES\n", ".SH EXAMPLES\n"}) {
      CAPTURE(section);
      CHECK(contains(page, section));
    }
    // Every visible command of the top-level help has its own subsection.
    const std::string help = shop.promote({"--help"}).out;
    const auto start = help.find("Subcommands:");
    REQUIRE(start != std::string::npos);
    std::istringstream lines(help.substr(start));
    std::string line;
    std::getline(lines, line);
    int commands = 0;
    while (std::getline(lines, line) && line.starts_with("  ")) {
      const std::string name = line.substr(2, line.find(' ', 2) - 2);
      CAPTURE(name);
      CHECK(contains(page, ".SS \"promote " + name + "\"\n"));
      ++commands;
    }
    CHECK(commands >= 10);
    CHECK(contains(page, ".SS \"promote history show\"\n"));
    CHECK_FALSE(contains(page, "__complete"));
    CHECK(contains(page, "\\fB\\-\\-since\\fR \\fITEXT\\fR"));
    CHECK(contains(page, "promote report \\-\\-since 30d \\-\\-stage prod\n"));
    // No help text reads as a request: every line that starts with '.' is one of ours.
    const std::set<std::string> macros = {".TH", ".SH", ".SS", ".TP", ".PP", ".nf", ".fi", ".RS",
                                          ".RE", ".B",  ".br", ".\\\""};
    std::istringstream roff(page);
    while (std::getline(roff, line)) {
      CAPTURE(line);
      if (line.starts_with(".") || line.starts_with("'")) {
        CHECK(macros.count(line.substr(0, line.find(' '))) == 1);
      }
    }
  }

  TEST_CASE("groff renders the man page without a warning" * doctest::skip(!promote::test::has_program("groff"))) {
    Shop shop;
    write_text(shop.dir / "promote.1", shop.promote({"man"}).out);
    const CommandResult rendered = promote::test::run(
        {"groff", "-man", "-Tutf8", "-ww", "-z", (shop.dir / "promote.1").string()});
    CHECK(rendered.exit_code == 0);
    CHECK(rendered.err == "");
    const CommandResult text = promote::test::run(
        {"groff", "-man", "-Tascii", "-P-cbou", (shop.dir / "promote.1").string()});
    CHECK(contains(text.out, "promote report --since 2026-10-01 --until 2026-12-31 --output json"));
    CHECK(contains(text.out, "EXIT STATUS"));
  }

  TEST_CASE("report, completion and man each show their examples in --help") {
    Shop shop;
    const std::pair<const char*, const char*> commands[] = {
        {"report", "promote report --since 30d --stage prod"},
        {"completion", "source <(promote completion bash)"},
        {"man", "promote man > promote.1"}};
    for (const auto& [command, example] : commands) {
      const auto& case_command = command;  // clang 14 cannot capture a structured binding
      CAPTURE(case_command);
      const CommandResult help = shop.promote({command, "--help"});
      CHECK(help.exit_code == 0);
      CHECK(contains(help.out, example));
    }
    CHECK(contains(shop.promote({"--help"}).out, "promote report --since 90d --output html"));
  }
}
