// How promote is deployed, checked without Docker or a cluster: the GitHub action's entry point
// is the script the Dockerfile writes (run here, with a stand-in promote); the image's default
// command line, the Kubernetes manifests of examples/serve (rendered by `kubectl kustomize`)
// and its compose file run the real `promote serve` here, whose probes, healthcheck, tokens file
// and JSON log lines are then asked for what the manifests expect of them.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cli/options.hpp"
#include "engine/http/client.hpp"
#include "engine/util/children.hpp"
#include "tests/integration/served.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
using nlohmann::json;
using namespace std::chrono_literals;

const fs::path k_source = PROMOTE_SOURCE_DIR;

// `promote ARGS` as tests/integration/served.hpp runs it, without the webhook secrets of the
// test's own environment.
class Served : public test::Served {
 public:
  Served(const std::vector<std::string>& args, const fs::path& cwd)
      : test::Served(args, cwd,
                     {{"PROMOTE_GITHUB_WEBHOOK_SECRET", std::nullopt},
                      {"PROMOTE_GITLAB_WEBHOOK_TOKEN", std::nullopt},
                      {"PROMOTE_IMAGE_WEBHOOK_SECRET", std::nullopt}}) {}
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The instructions of the Dockerfile's last stage, continuation lines joined and comments
// dropped: {"RUN", "apt-get update && ..."}.
std::vector<std::pair<std::string, std::string>> final_stage() {
  std::vector<std::pair<std::string, std::string>> out;
  std::string pending;
  for (const auto& line : lines_of(test::read_text(k_source / "Dockerfile"))) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos || line[start] == '#') {
      continue;
    }
    pending += line;
    if (pending.ends_with('\\')) {
      pending.pop_back();
      continue;
    }
    const auto space = pending.find(' ');
    const std::string keyword = pending.substr(0, space);
    if (keyword == "FROM") {
      out.clear();
    }
    out.emplace_back(keyword, pending.substr(space + 1));
    pending.clear();
  }
  return out;
}

// The one instruction `keyword` of the last stage (a JSON array for ENTRYPOINT and CMD).
std::string instruction(const std::string& keyword) {
  std::vector<std::string> found;
  for (const auto& [name, value] : final_stage()) {
    if (name == keyword) {
      found.push_back(value);
    }
  }
  REQUIRE_MESSAGE(found.size() == 1, keyword);
  return found[0];
}

// The value after `flag` in `args`, "" when absent.
std::string flag(const std::vector<std::string>& args, const std::string& name) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) {
      return args[i + 1];
    }
  }
  return {};
}

// `args` with each value of `flags` replaced: what the example's command line becomes here.
std::vector<std::string> with(std::vector<std::string> args,
                              const std::map<std::string, std::string>& flags) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (const auto found = flags.find(args[i]); found != flags.end()) {
      args[i + 1] = found->second;
    }
  }
  return args;
}

std::vector<std::string> strings(const YAML::Node& node) {
  std::vector<std::string> out;
  for (const auto& item : node) {
    out.push_back(item.as<std::string>());
  }
  return out;
}

// The uid the Dockerfile gives the user promote.
int image_uid() {
  std::smatch found;
  const std::string run = test::read_text(k_source / "Dockerfile");
  REQUIRE(std::regex_search(run, found, std::regex(R"(useradd [^\n]*--uid ([0-9]+))")));
  return std::stoi(found[1]);
}

// How long serve may take to stop after SIGTERM (engine/cli/serve_command.cpp, util/children).
std::chrono::seconds stop_bound() {
  return std::chrono::ceil<std::chrono::seconds>(promote::cli::k_serve_request_grace +
                                                 promote::cli::k_serve_promotion_grace +
                                                 2 * promote::util::k_termination_grace);
}

const std::string k_alice = "example-token-alice-replace-me";  // tokens.yaml's comment
const std::string k_ci = "example-token-ci-replace-me";

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE(
      "deploy: the action's entry point is the script the Dockerfile writes, which runs "
      "promote with the action's inputs") {
    const YAML::Node action = YAML::LoadFile((k_source / "action.yml").string());
    CHECK(action["runs"]["using"].as<std::string>() == "docker");
    CHECK(action["runs"]["image"].as<std::string>() == "Dockerfile");
    const std::string entrypoint = action["runs"]["entrypoint"].as<std::string>();
    CHECK(entrypoint == "/usr/local/bin/promote-action");

    // The RUN that writes it, run here with the path moved into a temp dir.
    std::string writes;
    for (const auto& [name, value] : final_stage()) {
      if (name == "RUN" && test::contains(value, "> " + entrypoint)) {
        writes = value;
      }
    }
    REQUIRE(!writes.empty());
    test::TempDir dir;
    const fs::path script = dir / "promote-action";
    for (auto at = writes.find(entrypoint); at != std::string::npos;
         at = writes.find(entrypoint, at + script.string().size())) {
      writes.replace(at, entrypoint.size(), script.string());
    }
    const auto written = test::run({"/bin/sh", "-c", writes}, dir.path());
    REQUIRE_MESSAGE(written.exit_code == 0, written.err);
    struct stat mode {};
    REQUIRE(::stat(script.c_str(), &mode) == 0);
    CHECK((mode.st_mode & 0777) == 0755);

    // Every input action.yml passes is read by the script.
    const std::string text = test::read_text(script);
    for (const auto& variable : action["runs"]["env"]) {
      const std::string name = variable.first.as<std::string>();
      if (name.starts_with("PROMOTE_ACTION_")) {
        CHECK_MESSAGE(test::contains(text, "${" + name), name);
      }
    }

    // A stand-in promote that prints where it runs and its arguments, one a line.
    fs::create_directories(dir / "bin");
    test::write_text(dir / "bin/promote", "#!/bin/sh\nprintf '%s\\n' \"$PWD\" \"$@\"\n");
    fs::permissions(dir / "bin/promote", fs::perms::owner_all);
    fs::create_directories(dir / "workspace/deploy");
    fs::create_directories(dir / "home");
    const fs::path workspace = dir / "workspace";
    const auto ran =
        test::run({script.string()}, dir.path(),
                  {{"PATH", (dir / "bin").string() + ":/usr/bin:/bin"},
                   {"HOME", (dir / "home").string()},
                   {"GITHUB_WORKSPACE", workspace.string()},
                   {"PROMOTE_ACTION_WORKING_DIRECTORY", (workspace / "deploy").string()},
                   {"PROMOTE_ACTION_TO", "prod"},
                   {"PROMOTE_ACTION_PIPELINE", "promote.yaml"},
                   {"PROMOTE_ACTION_IMAGES",
                    "api=ghcr.io/acme/api:1.4.2\n  web=ghcr.io/acme/web:2.3.0 \r\n\n"},
                   {"PROMOTE_ACTION_DRY_RUN", "true"},
                   {"PROMOTE_ACTION_WAIT", "2h"},
                   {"PROMOTE_ACTION_WAIT_MERGED", ""},
                   {"PROMOTE_ACTION_REASON", "release * train"},
                   {"PROMOTE_ACTION_HISTORY", ""}});
    INFO(ran.err);
    REQUIRE(ran.exit_code == 0);
    CHECK(lines_of(ran.out) ==
          std::vector<std::string>{(workspace / "deploy").string(), "--to", "prod", "--file",
                                   "promote.yaml", "--dry-run", "--wait", "2h", "--reason",
                                   "release * train", "--image", "api=ghcr.io/acme/api:1.4.2",
                                   "--image", "web=ghcr.io/acme/web:2.3.0"});
    const std::string ws = workspace.string();
    const std::string deploy = (workspace / "deploy").string();
    CHECK(test::read_text(dir / "home/.gitconfig") ==
          "[safe]\n\tdirectory = *\n\tdirectory = " + ws + "\n\tdirectory = " + ws +
              "/\n\tdirectory = " + deploy + "\n\tdirectory = " + deploy + "/\n");
  }

  TEST_CASE(
      "deploy: the image runs promote serve by default, on the port it exposes, and the "
      "service answers there") {
    CHECK(json::parse(instruction("ENTRYPOINT")) == json::array({"/usr/local/bin/promote"}));
    CHECK(instruction("COPY") == "--from=build /build/promote /usr/local/bin/promote");
    const auto cmd = json::parse(instruction("CMD")).get<std::vector<std::string>>();
    REQUIRE(!cmd.empty());
    CHECK(cmd[0] == "serve");
    const std::string listen = flag(cmd, "--listen");
    CHECK(listen == ":" + instruction("EXPOSE"));
    // The pipeline in the checkout the image works in, which libgit2 may open whoever owns it.
    const std::string workdir = instruction("WORKDIR");
    CHECK(flag(cmd, "-f") == workdir + "/promote.yaml");
    CHECK(test::contains(test::read_text(k_source / "Dockerfile"),
                         "[safe]\\n\\tdirectory = " + workdir + "\\n"));
    // GitHub runs a container action as the image's user, in the runner user's workspace.
    for (const auto& [name, value] : final_stage()) {
      CHECK(name != "USER");
    }

    test::Shop shop;
    Served served(
        with(cmd, {{"--listen", "127.0.0.1:0"}, {"-f", (shop.repo / "promote.yaml").string()}}),
        shop.repo);
    INFO(served.text());
    REQUIRE(test::contains(served.text(), "promote serve: listening on http://127.0.0.1:"));
    CHECK(served.send("GET", "/healthz").status == 200);
    CHECK(served.send("GET", "/readyz").status == 200);
    CHECK(served.stop());
  }

  TEST_CASE(
      "deploy: the Kubernetes example renders, its probes and tokens work with the "
      "service it runs, and its Secret holds what the Deployment takes" *
      doctest::skip(!test::has_program("kubectl"))) {
    const auto rendered =
        test::run({"kubectl", "kustomize", (k_source / "examples/serve").string()});
    REQUIRE_MESSAGE(rendered.exit_code == 0, rendered.err);
    std::map<std::string, YAML::Node> objects;
    for (const auto& document : YAML::LoadAll(rendered.out)) {
      const std::string kind = document["kind"].as<std::string>();
      CHECK_MESSAGE(objects.count(kind) == 0, kind);
      objects[kind] = document;
    }
    REQUIRE(objects.count("Deployment") == 1);
    REQUIRE(objects.count("Service") == 1);
    REQUIRE(objects.count("Secret") == 1);
    REQUIRE(objects.count("PersistentVolumeClaim") == 1);
    const YAML::Node deployment = objects["Deployment"];
    const YAML::Node pod = deployment["spec"]["template"]["spec"];
    const YAML::Node secret = objects["Secret"];
    const std::string secret_name = secret["metadata"]["name"].as<std::string>();

    CHECK(deployment["spec"]["replicas"].as<int>() == 1);
    CHECK(deployment["spec"]["strategy"]["type"].as<std::string>() == "Recreate");
    CHECK(pod["terminationGracePeriodSeconds"].as<int>() >= stop_bound().count());
    CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
    CHECK(pod["securityContext"]["runAsUser"].as<int>() == image_uid());
    for (const auto& [name, value] :
         deployment["spec"]["selector"]["matchLabels"].as<std::map<std::string, std::string>>()) {
      CHECK(deployment["spec"]["template"]["metadata"]["labels"][name].as<std::string>() == value);
      CHECK(objects["Service"]["spec"]["selector"][name].as<std::string>() == value);
    }

    REQUIRE(pod["containers"].size() == 1);
    const YAML::Node container = pod["containers"][0];
    const auto args = strings(container["args"]);
    REQUIRE(!args.empty());
    CHECK(args[0] == "serve");
    const std::string listen = flag(args, "--listen");
    REQUIRE(listen.starts_with(":"));
    REQUIRE(container["ports"].size() == 1);
    const std::string port_name = container["ports"][0]["name"].as<std::string>();
    CHECK(":" + container["ports"][0]["containerPort"].as<std::string>() == listen);
    CHECK(objects["Service"]["spec"]["ports"][0]["targetPort"].as<std::string>() == port_name);
    CHECK(container["livenessProbe"]["httpGet"]["port"].as<std::string>() == port_name);
    CHECK(container["readinessProbe"]["httpGet"]["port"].as<std::string>() == port_name);
    CHECK(container["resources"]["requests"]["memory"].IsDefined());
    CHECK(container["resources"]["limits"]["memory"].IsDefined());
    CHECK(container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    CHECK_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>());

    // Every variable taken from a Secret is in the rendered one (unless optional), and the
    // tokens file --tokens names is one of its keys, mounted there.
    const YAML::Node data = secret["data"];
    for (const auto& each : {pod["initContainers"], pod["containers"]}) {
      for (const auto& one : each) {
        for (const auto& variable : one["env"]) {
          if (!variable["valueFrom"]) {
            continue;
          }
          if (const YAML::Node ref = variable["valueFrom"]["secretKeyRef"]) {
            CHECK(ref["name"].as<std::string>() == secret_name);
            CHECK_MESSAGE(
                (ref["optional"].as<bool>(false) || data[ref["key"].as<std::string>()].IsDefined()),
                ref["key"].as<std::string>());
          }
        }
      }
    }
    std::string tokens_text;
    for (const auto& volume : pod["volumes"]) {
      if (volume["persistentVolumeClaim"]) {
        CHECK(volume["persistentVolumeClaim"]["claimName"].as<std::string>() ==
              objects["PersistentVolumeClaim"]["metadata"]["name"].as<std::string>());
      }
      if (!volume["secret"]) {
        continue;
      }
      CHECK(volume["secret"]["secretName"].as<std::string>() == secret_name);
      for (const auto& mount : container["volumeMounts"]) {
        if (mount["name"].as<std::string>() != volume["name"].as<std::string>()) {
          continue;
        }
        for (const auto& item : volume["secret"]["items"]) {
          if (mount["mountPath"].as<std::string>() + "/" + item["path"].as<std::string>() ==
              flag(args, "--tokens")) {
            const auto decoded = test::run({"base64", "-d"}, {}, {},
                                           data[item["key"].as<std::string>()].as<std::string>());
            tokens_text = decoded.out;
          }
        }
      }
    }
    REQUIRE(!tokens_text.empty());
    CHECK(tokens_text == test::read_text(k_source / "examples/serve/tokens.yaml"));

    // The init container's checkout, here, of the demo repository's remote into a volume that
    // is not empty (a file system's lost+found); a second start keeps it.
    REQUIRE(pod["initContainers"].size() == 1);
    const auto init = strings(pod["initContainers"][0]["command"]);
    REQUIRE(init.size() == 3);
    test::Shop shop;
    const fs::path volume = shop.dir / "volume";
    fs::create_directories(volume / "lost+found");
    std::string script = init[2];
    for (auto at = script.find("/repo"); at != std::string::npos;
         at = script.find("/repo", at + volume.string().size())) {
      script.replace(at, 5, volume.string());
    }
    const std::map<std::string, std::string> variables = {{"REPOSITORY_URL", shop.remote.string()},
                                                          {"REPOSITORY_BRANCH", "main"},
                                                          {"HOME", shop.dir.path().string()},
                                                          {"PROMOTE_GIT_TOKEN", "unused-here"}};
    for (int start = 0; start < 2; ++start) {
      const auto checked_out = test::run({init[0], init[1], script}, shop.dir.path(), variables);
      INFO(checked_out.err);
      REQUIRE(checked_out.exit_code == 0);
    }
    CHECK(test::sh("git -C volume rev-parse --abbrev-ref main@{upstream}", shop.dir.path()) ==
          "origin/main\n");
    CHECK(test::sh("git -C volume rev-parse HEAD", shop.dir.path()) == shop.remote_head());

    // The container's command line on it: the probes' paths answer, the example tokens are
    // known, with the roles the file gives them; every line it writes is a JSON object.
    test::write_text(shop.dir / "tokens.yaml", tokens_text);
    Served served(with(args, {{"--listen", "127.0.0.1:0"},
                              {"-f", (volume / "promote.yaml").string()},
                              {"--tokens", (shop.dir / "tokens.yaml").string()}}),
                  volume);
    INFO(served.text());
    REQUIRE(!served.url().empty());
    const std::string liveness = container["livenessProbe"]["httpGet"]["path"].as<std::string>();
    const std::string readiness = container["readinessProbe"]["httpGet"]["path"].as<std::string>();
    CHECK(served.send("GET", liveness).status == 200);
    CHECK(served.send("GET", readiness).status == 200);
    const std::string hold = "/api/v1/pipelines/shop/stages/prod/hold";
    const std::string body = R"({"reason": "freeze"})";
    const auto as = [](const std::string& token) {
      return promote::http::Headers{{"Authorization", "Bearer " + token},
                                    {"Content-Type", "application/json"}};
    };
    CHECK(served.send("POST", hold, as("not-a-token"), body).status == 401);
    CHECK(served.send("POST", hold, as(k_ci), body).status == 403);
    const auto held = served.send("POST", hold, as(k_alice), body);
    CHECK(held.status == 200);
    CHECK(json::parse(held.body)["actor"] == "alice");
    REQUIRE(served.stop());

    std::vector<std::string> paths;
    for (const auto& line : lines_of(served.text())) {
      INFO(line);
      const json parsed = json::parse(line);  // throws, failing the test, when it is not JSON
      CHECK(parsed["time"].is_string());
      if (parsed.contains("path")) {
        paths.push_back(parsed["path"].get<std::string>() + " " +
                        std::to_string(parsed["status"].get<int>()));
      }
    }
    CHECK(paths == std::vector<std::string>{liveness + " 200", readiness + " 200", hold + " 401",
                                            hold + " 403", hold + " 200"});
  }

  TEST_CASE(
      "deploy: the Kubernetes example's kustomization matches SchemaStore's schema, which "
      "refuses a misspelt key" *
      doctest::skip(!test::has_corpus() || !test::has_python_jsonschema())) {
    static const std::string k_check =
        "import json, sys, yaml, jsonschema\n"
        "schema = json.load(open(sys.argv[1]))\n"
        "jsonschema.validate(yaml.safe_load(open(sys.argv[2])), schema)\n";
    const std::string schema = (*test::corpus_dir() / "schemas/kustomization.json").string();
    const fs::path file = k_source / "examples/serve/kustomization.yaml";
    const auto valid = test::run({"/usr/bin/python3", "-c", k_check, schema, file.string()});
    INFO(valid.err);
    CHECK(valid.exit_code == 0);
    test::TempDir dir;
    std::string text = test::read_text(file);
    const std::string key = "\nsecretGenerator:";
    text.replace(text.find(key), key.size(), "\nsecretGenerators:");
    test::write_text(dir / "kustomization.yaml", text);
    const auto misspelt = test::run(
        {"/usr/bin/python3", "-c", k_check, schema, (dir / "kustomization.yaml").string()});
    CHECK(misspelt.exit_code == 1);
    CHECK(test::contains(misspelt.err, "'secretGenerators' was unexpected"));
  }

  TEST_CASE(
      "deploy: the compose file runs the image's service as the Deployment does, and its "
      "healthcheck asks a running service") {
    const YAML::Node compose = YAML::LoadFile((k_source / "examples/serve/compose.yaml").string());
    const YAML::Node service = compose["services"]["promote"];
    const fs::path dir = k_source / "examples/serve";
    CHECK(fs::equivalent(dir / service["build"].as<std::string>() / "Dockerfile",
                         k_source / "Dockerfile"));
    const auto command = strings(service["command"]);
    REQUIRE(!command.empty());
    CHECK(command[0] == "serve");
    const std::string listen = flag(command, "--listen");
    REQUIRE(listen.starts_with(":"));
    CHECK(service["ports"][0].as<std::string>().ends_with(listen));
    CHECK(service["user"].as<std::string>() == "${PROMOTE_UID:-" + std::to_string(image_uid()) +
                                                   "}:${PROMOTE_GID:-" +
                                                   std::to_string(image_uid()) + "}");
    // Compose mounts a service's secret NAME at /run/secrets/NAME.
    CHECK(flag(command, "--tokens") == "/run/secrets/" + service["secrets"][0].as<std::string>());
    CHECK(fs::equivalent(
        dir / compose["secrets"][service["secrets"][0].as<std::string>()]["file"].as<std::string>(),
        dir / "tokens.yaml"));
    const std::string grace = service["stop_grace_period"].as<std::string>();
    REQUIRE(grace.ends_with("s"));
    CHECK(std::stoi(grace) >= stop_bound().count());

    // The healthcheck, with bash as the image has it, against the service and against a port
    // where nothing listens.
    const auto check = strings(service["healthcheck"]["test"]);
    REQUIRE(check.size() == 4);
    CHECK(check[0] == "CMD");
    const std::string port = listen.substr(1);
    const auto at = [&check, &port](unsigned short other) {
      std::string script = check[3];
      script.replace(script.find("/" + port), port.size() + 1, "/" + std::to_string(other));
      return test::run({check[1], check[2], script}).exit_code;
    };
    test::Shop shop;
    Served served(with(command, {{"--listen", "127.0.0.1:0"},
                                 {"-f", (shop.repo / "promote.yaml").string()},
                                 {"--tokens", (dir / "tokens.yaml").string()}}),
                  shop.repo);
    INFO(served.text());
    REQUIRE(!served.url().empty());
    CHECK(at(served.port()) == 0);
    CHECK(served.stop());
    CHECK(at(served.port()) != 0);
  }

  TEST_CASE(
      "deploy: serve --log-format json writes only JSON lines, a line per request without its "
      "query") {
    test::Shop shop;
    Served served({"serve", "--log-format", "json", "--listen", "127.0.0.1:0"}, shop.repo);
    INFO(served.text());
    REQUIRE(!served.url().empty());
    CHECK(served.send("GET", "/healthz?token=s3cr3t").status == 200);
    CHECK(served.send("GET", "/api/v1/pipelines/nope").status == 404);
    REQUIRE(served.stop());
    CHECK_FALSE(test::contains(served.text(), "s3cr3t"));
    std::vector<json> lines;
    for (const auto& line : lines_of(served.text())) {
      INFO(line);
      lines.push_back(json::parse(line));
    }
    std::vector<json> access;
    std::vector<json> listening;
    for (const auto& line : lines) {
      if (line.contains("status")) {
        access.push_back(line);
      }
      if (line["message"].get<std::string>().starts_with("serve: listening on http://127.0.0.1:")) {
        listening.push_back(line);
      }
      CHECK(line["level"] == "info");
    }
    REQUIRE(listening.size() == 1);
    REQUIRE(access.size() == 2);
    CHECK(access[0]["message"] == "GET /healthz 200");
    CHECK(access[0]["path"] == "/healthz");
    CHECK(access[0]["peer"] == "127.0.0.1");
    CHECK(access[0]["bytes"] == 3);
    CHECK(access[1]["message"] == "GET /api/v1/pipelines/nope 404");
    CHECK(access[1]["method"] == "GET");
  }
}
