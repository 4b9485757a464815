#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

#include "engine/scheduler/scheduler.hpp"
#include "engine/util/hash.hpp"
#include "plugins/host.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/support.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using promote::Candidate;
using promote::GateContext;
using promote::Verdict;
using promote::pipeline::ConfigNode;
using promote::pipeline::Diagnostics;
using promote::plugins::find_plugin;
using promote::plugins::make_plugin_gate;
using promote::test::read_text;
using promote::test::TempDir;
using promote::test::write_text;
using Status = promote::Verdict::Status;
using namespace std::chrono_literals;

// Writes an executable POSIX sh script.
fs::path write_script(const fs::path& path, const std::string& body) {
  write_text(path, "#!/bin/sh\n" + body);
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

Candidate make_candidate() {
  Candidate candidate;
  candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.2").value();
  candidate.images["web"] =
      promote::image::parse("ghcr.io/acme/web@sha256:" + std::string(64, 'a')).value();
  return candidate;
}

std::unique_ptr<promote::Gate> make_gate(const fs::path& program, const std::string& yaml,
                                         Diagnostics& diagnostics,
                                         const std::string& name = "example") {
  YAML::Node node = yaml.empty() ? YAML::Node() : YAML::Load(yaml);
  return make_plugin_gate(name, program, ConfigNode(node, "promote.yaml", diagnostics));
}

Verdict judge(promote::Gate& gate, const fs::path& base_dir,
              const Candidate& candidate = make_candidate()) {
  promote::test::FakeTimeline timeline;
  GateContext context{candidate, "staging", std::string("dev"), base_dir, timeline};
  asio::io_context io;
  auto future = asio::co_spawn(io, gate.evaluate(context), asio::use_future);
  io.run();
  return future.get();
}

// Runs a plugin through a gate configured with `yaml` and returns its verdict.
Verdict run_script(const TempDir& dir, const std::string& body, const std::string& yaml = "") {
  const fs::path program = write_script(dir / "promote-gate-example", body);
  Diagnostics diagnostics;
  auto gate = make_gate(program, yaml, diagnostics);
  REQUIRE(gate);
  return judge(*gate, dir.path());
}

// Whether process `pid` has ended (gone, or a zombie) within five seconds: a bounded
// wait on a pidfd, not a sleep.
bool process_ends(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    return errno == ESRCH;
  }
  pollfd entry{fd, POLLIN, 0};
  const bool ended = ::poll(&entry, 1, 5000) == 1;
  ::close(fd);
  return ended;
}

// Validates a JSON document against schemas/NAME with python3-jsonschema; returns "" or
// the first reason it is invalid.
std::string schema_problem(const std::string& schema, const std::string& document) {
  const std::string script =
      "import json, sys, jsonschema\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "errors = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(sys.stdin)))\n"
      "print(errors[0].message if errors else '', end='')\n";
  const auto result = promote::test::run(
      {"/usr/bin/python3", "-c", script,
       (fs::path(PROMOTE_SOURCE_DIR) / "schemas" / schema).string()},
      {}, {}, document);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

pid_t read_pid(const fs::path& path) { return static_cast<pid_t>(std::stol(read_text(path))); }

}  // namespace

TEST_SUITE("plugins") {
  TEST_CASE("plugins are found in the pipeline's plugins directory first, then on PATH") {
    TempDir pipeline;
    TempDir bin;
    const std::string path_env = "::" + bin.path().string();
    write_script(bin / "promote-gate-lint", "exit 0\n");
    CHECK(find_plugin("lint", pipeline.path(), path_env) == bin / "promote-gate-lint");
    write_script(pipeline / "plugins/promote-gate-lint", "exit 0\n");
    CHECK(find_plugin("lint", pipeline.path(), path_env) ==
          pipeline / "plugins/promote-gate-lint");
    CHECK_FALSE(find_plugin("other", pipeline.path(), path_env));
  }

  TEST_CASE("only executable regular files count as plugins, and names cannot be paths") {
    TempDir pipeline;
    TempDir bin;
    const std::string path_env = bin.path().string();
    SUBCASE("not executable") {
      write_text(bin / "promote-gate-lint", "#!/bin/sh\n");
      CHECK_FALSE(find_plugin("lint", pipeline.path(), path_env));
    }
    SUBCASE("a directory") {
      fs::create_directories(pipeline / "plugins/promote-gate-lint");
      CHECK_FALSE(find_plugin("lint", pipeline.path(), path_env));
    }
    SUBCASE("a name with a slash or capitals") {
      write_script(pipeline / "promote-gate-x", "exit 0\n");
      CHECK_FALSE(find_plugin("../x", pipeline.path(), path_env));
      CHECK_FALSE(find_plugin("Lint", pipeline.path(), path_env));
      CHECK_FALSE(find_plugin("", pipeline.path(), path_env));
    }
  }

  TEST_CASE("a plugin gets the request on stdin and its verdict is read from stdout") {
    TempDir dir;
    const Verdict verdict = run_script(
        dir,
        "cat > request.json\n"
        "echo 'checking' >&2\n"
        "echo '{\"status\":\"warn\",\"summary\":\"2 findings\",\"details\":{\"n\":2}}'\n",
        "threshold: 3\nlabel: 'yes'\nratio: 0.5\nstrict: true\nnothing: ~\nlist: [a, 1]\n"
        "nested: { key: \"007\" }\n");
    CHECK(verdict.status == Status::warn);
    CHECK(verdict.summary == "2 findings");
    CHECK(verdict.details["details"] == nlohmann::json{{"n", 2}});
    CHECK(verdict.details["exit_code"] == 0);
    CHECK(verdict.details["stderr_tail"] == nlohmann::json{"checking"});
    const fs::path program = fs::absolute(dir / "promote-gate-example");
    CHECK(verdict.details["program"] == program.string());
    REQUIRE(verdict.evidence.size() == 1);
    CHECK(verdict.evidence[0].path == program.string());
    CHECK(verdict.evidence[0].sha256 == promote::util::sha256_file(program).value());

    const std::string text = read_text(dir / "request.json");
    CHECK(text.back() == '\n');
    CHECK(text.find('\n') == text.size() - 1);
    const auto request = nlohmann::json::parse(text);
    CHECK(text == request.dump() + "\n");
    const Candidate candidate = make_candidate();
    CHECK(request == nlohmann::json::parse(R"({
      "protocol": 1,
      "gate": {"name": "example", "config": {"threshold": 3, "label": "yes", "ratio": 0.5,
               "strict": true, "nothing": null, "list": ["a", 1], "nested": {"key": "007"}}},
      "candidate": {"id": ")" + candidate.id() + R"(", "images": {
        "api": {"reference": "ghcr.io/acme/api:1.4.2", "repository": "ghcr.io/acme/api",
                "tag": "1.4.2", "digest": ""},
        "web": {"reference": "ghcr.io/acme/web@sha256:)" + std::string(64, 'a') + R"(",
                "repository": "ghcr.io/acme/web", "tag": "",
                "digest": "sha256:)" + std::string(64, 'a') + R"("}}},
      "stage": "staging",
      "from": "dev",
      "pipeline": {"name": null, "dir": ")" +
                                           fs::absolute(dir.path()).lexically_normal().string() +
                                           R"("}
    })"));
  }

  TEST_CASE("the request and the responses of the protocol match their schemas" *
            doctest::skip(!promote::test::has_python_jsonschema())) {
    TempDir dir;
    run_script(dir, "cat > request.json\necho '{\"status\":\"pass\",\"summary\":\"ok\"}'\n",
               "env: [X]\nlevel: 2\n");
    CHECK(schema_problem("gate-plugin-request.schema.json", read_text(dir / "request.json")) == "");
    const std::string pending =
        R"({"status":"pending","summary":"s","retry_after_seconds":5,"details":[]})";
    CHECK(schema_problem("gate-plugin-response.schema.json", pending) == "");
    CHECK(schema_problem("gate-plugin-response.schema.json", R"({"status":"ok","summary":"s"})") ==
          "'ok' is not one of ['pass', 'warn', 'fail', 'pending', 'error']");
    CHECK(schema_problem("gate-plugin-response.schema.json", R"({"status":"pass"})") ==
          "'summary' is a required property");
  }

  TEST_CASE("a plugin runs in the pipeline's directory") {
    TempDir dir;
    const Verdict verdict =
        run_script(dir, "printf '{\"status\":\"pass\",\"summary\":\"%s\"}' \"$(pwd -P)\"\n");
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.summary == fs::canonical(dir.path()).string());
  }

  TEST_CASE("every status of the protocol is understood, and pending carries retry_after") {
    TempDir dir;
    SUBCASE("pass, fail and error") {
      for (const std::string status : {"pass", "fail", "error"}) {
        const Verdict verdict = run_script(
            dir, "echo '{\"status\":\"" + status + "\",\"summary\":\"s\"}'\n");
        CHECK(promote::to_string(verdict.status) == status);
        CHECK_FALSE(verdict.retry_after);
      }
    }
    SUBCASE("pending") {
      const Verdict verdict = run_script(
          dir,
          "echo '{\"status\":\"pending\",\"summary\":\"waiting\",\"retry_after_seconds\":90}'\n");
      CHECK(verdict.status == Status::pending);
      REQUIRE(verdict.retry_after);
      CHECK(*verdict.retry_after == 90s);
    }
  }

  TEST_CASE("a malformed response is an error that says what is wrong") {
    TempDir dir;
    struct Case {
      std::string output;
      std::string summary;
    };
    for (const Case& c : std::initializer_list<Case>{
             {"not json", "promote-gate-example printed invalid JSON on stdout"},
             {"", "promote-gate-example printed nothing on stdout (expected a JSON verdict)"},
             {"[1]", "promote-gate-example printed JSON that is not an object"},
             {R"({"summary":"x"})", "promote-gate-example gave no 'status'"},
             {R"({"status":"ok","summary":"x"})",
              "promote-gate-example gave an unknown status \"ok\" (expected pass, warn, fail, "
              "pending or error)"},
             {R"({"status":"pass"})", "promote-gate-example gave no 'summary' string"},
             {R"({"status":"pending","summary":"x","retry_after_seconds":-1})",
              "promote-gate-example gave a 'retry_after_seconds' that is not a non-negative "
              "integer"},
         }) {
      CAPTURE(c.output);
      write_text(dir / "out", c.output);
      const Verdict verdict = run_script(dir, "cat out\n");
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == c.summary);
    }
  }

  TEST_CASE("a plugin that exits non-zero is an error with its stderr tail") {
    TempDir dir;
    const Verdict verdict = run_script(dir,
                                       "echo 'contacting registry' >&2\n"
                                       "echo 'token rejected' >&2\n"
                                       "echo '{\"status\":\"pass\",\"summary\":\"ok\"}'\n"
                                       "exit 3\n");
    CHECK(verdict.status == Status::error);
    CHECK(verdict.summary == "promote-gate-example exited with status 3: token rejected");
    CHECK(verdict.details["exit_code"] == 3);
    CHECK(verdict.details["reason"] == "exited with status 3");
    CHECK(verdict.details["stderr_tail"] ==
          nlohmann::json{"contacting registry", "token rejected"});
  }

  TEST_CASE("a plugin that crashes is an error naming the signal") {
    TempDir dir;
    const Verdict verdict = run_script(dir, "echo 'about to crash' >&2\nkill -SEGV $$\n");
    CHECK(verdict.status == Status::error);
    CHECK(verdict.summary == "promote-gate-example was killed by signal SIGSEGV: about to crash");
    CHECK(verdict.details["signal"] == "SIGSEGV");
  }

  TEST_CASE("a plugin that prints too much is stopped and judged an error") {
    TempDir dir;
    const Verdict verdict = run_script(dir, "exec yes\n");
    CHECK(verdict.status == Status::error);
    CHECK(verdict.summary == "promote-gate-example output too large (more than 1 MiB on stdout)");
  }

  TEST_CASE("only the tail of a long stderr is kept") {
    TempDir dir;
    promote::plugins::RunLimits limits;
    limits.max_stderr = 1000;
    const fs::path program = write_script(
        dir / "promote-gate-example",
        "i=0; while [ $i -lt 500 ]; do echo \"line $i\" >&2; i=$((i+1)); done\n"
        "echo '{\"status\":\"pass\",\"summary\":\"ok\"}'\n");
    asio::io_context io;
    auto future = asio::co_spawn(
        io, promote::plugins::run_plugin(program, "", {"PATH=/usr/bin:/bin"}, dir.path(), limits),
        asio::use_future);
    io.run();
    const auto output = future.get().value();
    CHECK(output.exit_code == 0);
    CHECK(output.err_truncated);
    CHECK(output.err_tail.size() == 1000);
    CHECK(output.err_tail.ends_with("line 498\nline 499\n"));
    const Verdict verdict = promote::plugins::interpret(output, program.string());
    CHECK(verdict.status == Status::pass);
    CHECK(verdict.details["stderr_tail"].size() == 20);
    CHECK(verdict.details["stderr_tail"].back() == "line 499");
  }

  TEST_CASE("a plugin that does not read its stdin does not hurt the host") {
    TempDir dir;
    const Verdict verdict = run_script(dir, "echo '{\"status\":\"pass\",\"summary\":\"ok\"}'\n",
                                       "blob: " + std::string(1 << 20, 'x') + "\n");
    CHECK(verdict.status == Status::pass);
  }

  TEST_CASE("a background process left by a plugin does not hold up its verdict") {
    TempDir dir;
    const Verdict verdict =
        run_script(dir,
                   "sleep 1000 &\n"
                   "echo $! > sleeper\n"
                   "echo '{\"status\":\"pass\",\"summary\":\"ok\"}'\n");
    CHECK(verdict.status == Status::pass);
    CHECK(process_ends(read_pid(dir / "sleeper")));
  }

  TEST_CASE("a plugin that hangs is killed with its process group when its timeout expires") {
    TempDir dir;
    const fs::path program = write_script(dir / "promote-gate-hang",
                                          "echo $$ > leader\n"
                                          "sleep 1000 &\n"
                                          "echo $! > sleeper\n"
                                          "wait\n");
    Diagnostics diagnostics;
    promote::pipeline::GateSpec spec;
    spec.name = "hang";
    spec.use = "hang";
    spec.timeout = 1s;
    spec.gate = make_gate(program, "", diagnostics, "hang");
    REQUIRE(spec.gate);
    const Candidate candidate = make_candidate();
    promote::test::FakeTimeline timeline;
    GateContext context{candidate, "staging", std::string("dev"), dir.path(), timeline};
    const auto started = std::chrono::steady_clock::now();
    const auto verdicts = promote::scheduler::evaluate({spec}, context);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].status == Status::error);
    CHECK(verdicts[0].summary == "timed out after 1s");
    CHECK(elapsed < 3s);
    // The host reaped the leader before the evaluation returned; the sleeper got the signal.
    errno = 0;
    CHECK(::kill(read_pid(dir / "leader"), 0) == -1);
    CHECK(errno == ESRCH);
    CHECK(process_ends(read_pid(dir / "sleeper")));
  }

  TEST_CASE("a cancelled plugin that ignores SIGTERM gets SIGKILL after the grace period") {
    TempDir dir;
    const fs::path program = write_script(dir / "promote-gate-stubborn",
                                          "trap '' TERM\n"
                                          "while :; do sleep 1; done\n");
    promote::plugins::RunLimits limits;
    limits.kill_grace = 100ms;
    asio::io_context io;
    asio::cancellation_signal cancel;
    auto future = asio::co_spawn(
        io, promote::plugins::run_plugin(program, "", {"PATH=/usr/bin:/bin"}, dir.path(), limits),
        asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    asio::steady_timer timer(io, 500ms);
    timer.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
    io.run();
    const auto output = future.get().value();
    CHECK(output.cancelled);
    CHECK(output.signal == SIGKILL);
    const Verdict verdict = promote::plugins::interpret(output, program.string());
    CHECK(verdict.status == Status::error);
    CHECK(verdict.summary ==
          "promote-gate-stubborn was cancelled; its process group was killed");
  }

  TEST_CASE("a plugin sees a minimal environment plus the variables its gate names") {
    TempDir dir;
    ::setenv("PROMOTE_TEST_PASSED", "visible", 1);
    ::setenv("PROMOTE_TEST_SECRET_TOKEN", "hunter2", 1);
    const fs::path program = write_script(
        dir / "promote-gate-example",
        "env | sed 's/=.*//' | sort > names\n"
        "printf '%s' \"$PROMOTE_TEST_PASSED\" > value\n"
        "printf '{\"status\":\"pass\",\"summary\":\"got %s\"}' \"$PROMOTE_TEST_PASSED\"\n");
    Diagnostics diagnostics;
    auto gate = make_gate(program, "env: [PROMOTE_TEST_PASSED, PROMOTE_TEST_UNSET]\nlevel: 2\n",
                          diagnostics);
    REQUIRE(gate);
    const Verdict verdict = judge(*gate, dir.path());
    ::unsetenv("PROMOTE_TEST_PASSED");
    ::unsetenv("PROMOTE_TEST_SECRET_TOKEN");
    CHECK(verdict.status == Status::pass);
    CHECK(read_text(dir / "value") == "visible");
    // What the gate names may be a secret: its value never comes back out.
    CHECK(verdict.summary == "got ***");
    const std::string names = read_text(dir / "names");
    CHECK(names.find("PROMOTE_TEST_PASSED\n") != std::string::npos);
    CHECK(names.find("PROMOTE_TEST_SECRET_TOKEN") == std::string::npos);
    CHECK(names.find("PROMOTE_TEST_UNSET") == std::string::npos);
    for (std::size_t start = 0; start < names.size();) {
      const std::size_t end = names.find('\n', start);
      const std::string name = names.substr(start, end - start);
      start = end + 1;
      CAPTURE(name);
      // The shell itself sets PWD; everything else comes from the host.
      CHECK((name == "PATH" || name == "HOME" || name == "LANG" || name == "TZ" ||
             name == "PWD" || name == "PROMOTE_TEST_PASSED"));
    }
    CHECK(gate->config() == nlohmann::json{{"level", 2},
                                           {"plugin", program.string()},
                                           {"env", {"PROMOTE_TEST_PASSED", "PROMOTE_TEST_UNSET"}}});
  }

  TEST_CASE("a plugin that echoes a secret has it hidden in its summary, details and stderr") {
    TempDir dir;
    const std::string declared = "tok-declared-5b7e1c";
    const std::string github = "ghp_plugin9d2f4a";
    ::setenv("PROMOTE_TEST_DECLARED", declared.c_str(), 1);
    ::setenv("GITHUB_TOKEN", github.c_str(), 1);
    // The plugin never gets GITHUB_TOKEN (it does not name it), but may know it otherwise.
    const std::string echo =
        "printf '{\"status\":\"fail\",\"summary\":\"sent %s and " + github +
        "\",\"details\":{\"url\":\"https://u:tok-declared-5b7e1c@h/\",'"
        " \"$PROMOTE_TEST_DECLARED\"\n"
        "printf '\"%s\":[\"%s\"],\"encoded\":\"tok-declared-5b7e1c%%21\",'"
        " \"$PROMOTE_TEST_DECLARED\" \"$PROMOTE_TEST_DECLARED\"\n"
        "printf '\"basic\":\"%s\"}}' \"$(printf %s \"$PROMOTE_TEST_DECLARED\" | base64)\"\n";
    SUBCASE("in the verdict it prints") {
      const Verdict verdict = run_script(dir, echo, "env: [PROMOTE_TEST_DECLARED]\n");
      CHECK(verdict.status == Status::fail);
      CHECK(verdict.summary == "sent *** and ***");
      const nlohmann::json& details = verdict.details.at("details");
      CHECK(details.at("url") == "https://u:***@h/");
      CHECK(details.at("***") == nlohmann::json::array({"***"}));
      CHECK(details.at("basic") == "***");
      CHECK(details.at("encoded") == "***%21");
    }
    SUBCASE("on its stderr, when it fails") {
      const Verdict verdict = run_script(
          dir, "echo \"cannot log in with $PROMOTE_TEST_DECLARED (" + github + ")\" >&2\nexit 3\n",
          "env: [PROMOTE_TEST_DECLARED]\n");
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "promote-gate-example exited with status 3: cannot log in with *** (***)");
      CHECK(verdict.details.at("stderr_tail") ==
            nlohmann::json::array({"cannot log in with *** (***)"}));
    }
    ::unsetenv("PROMOTE_TEST_DECLARED");
    ::unsetenv("GITHUB_TOKEN");
  }

  TEST_CASE("a plugin that cannot be started is an error") {
    TempDir dir;
    Diagnostics diagnostics;
    SUBCASE("missing") {
      auto gate = make_gate(dir / "promote-gate-missing", "", diagnostics);
      const Verdict verdict = judge(*gate, dir.path());
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary.starts_with("cannot run plugin " +
                                        (dir / "promote-gate-missing").string() + ": "));
    }
    SUBCASE("not an executable format") {
      write_text(dir / "promote-gate-text", "just text\n");
      fs::permissions(dir / "promote-gate-text", fs::perms::owner_all);
      auto gate = make_gate(dir / "promote-gate-text", "", diagnostics);
      const Verdict verdict = judge(*gate, dir.path());
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "cannot run plugin " + (dir / "promote-gate-text").string() +
                                   ": Exec format error");
    }
  }

  TEST_CASE("a plugin gate's configuration is checked when the pipeline loads") {
    Diagnostics diagnostics;
    SUBCASE("with: must be a mapping") {
      CHECK_FALSE(make_gate("/bin/true", "[1, 2]", diagnostics));
      REQUIRE(diagnostics.messages().size() == 1);
      CHECK(diagnostics.messages()[0] ==
            "promote.yaml:1:1: gate 'example' 'with' must be a mapping, got a list");
    }
    SUBCASE("env: lists variable names") {
      CHECK_FALSE(make_gate("/bin/true", "env: [GOOD, 'BAD-NAME']", diagnostics));
      REQUIRE(diagnostics.messages().size() == 1);
      CHECK(diagnostics.messages()[0] ==
            "promote.yaml:1:6: 'env' must list environment variable names, got 'BAD-NAME'");
    }
    SUBCASE("env: is a list of strings") {
      CHECK_FALSE(make_gate("/bin/true", "env: { a: b }", diagnostics));
      REQUIRE(diagnostics.messages().size() == 1);
      CHECK(diagnostics.messages()[0] ==
            "promote.yaml:1:6: 'env' must be a string or a list of strings, got a mapping");
    }
    SUBCASE("keys are strings") {
      CHECK_FALSE(make_gate("/bin/true", "? [a, b]\n: 1\n", diagnostics));
      REQUIRE(diagnostics.messages().size() == 1);
      CHECK(diagnostics.messages()[0] ==
            "promote.yaml:1:3: keys of a plugin's configuration must be strings");
    }
    SUBCASE("no with: at all is an empty config") {
      auto gate = make_gate("/bin/true", "", diagnostics);
      REQUIRE(gate);
      CHECK(diagnostics.empty());
      CHECK(gate->config() == nlohmann::json{{"plugin", "/bin/true"}});
    }
  }

  TEST_CASE("the shell reference plugin passes digests and matching tags only") {
    TempDir dir;
    const fs::path program = fs::path(PROMOTE_SOURCE_DIR) / "plugins/promote-gate-shell-example";
    Diagnostics diagnostics;
    auto gate = make_gate(program, R"(tag_pattern: '^[0-9]+\.[0-9]+\.[0-9]+$')", diagnostics,
                          "shell-example");
    REQUIRE(gate);
    SUBCASE("a digest or a matching tag") {
      const Verdict verdict = judge(*gate, dir.path());
      CHECK(verdict.status == Status::pass);
      CHECK(verdict.summary == "2 images pinned by a digest or a matching tag");
      CHECK(verdict.details["details"]["images"] ==
            nlohmann::json{{"api", "tag matches"}, {"web", "digest"}});
    }
    SUBCASE("a tag that does not match") {
      Candidate candidate = make_candidate();
      candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:latest").value();
      const Verdict verdict = judge(*gate, dir.path(), candidate);
      CHECK(verdict.status == Status::fail);
      CHECK(verdict.summary ==
            R"(not pinned by a digest and tag not matching ^[0-9]+\.[0-9]+\.[0-9]+$: api:latest)");
    }
    SUBCASE("no images") {
      const Verdict verdict = judge(*gate, dir.path(), Candidate{});
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "the candidate has no images");
    }
    SUBCASE("an invalid pattern") {
      auto broken = make_gate(program, "tag_pattern: 'v(['", diagnostics, "shell-example");
      const Verdict verdict = judge(*broken, dir.path());
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "'tag_pattern' is not a valid extended regular expression: v([");
    }
    SUBCASE("no pattern") {
      auto bare = make_gate(program, "", diagnostics, "shell-example");
      const Verdict verdict = judge(*bare, dir.path());
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "shell-example gate needs 'tag_pattern' (a non-empty regular expression)");
    }
  }

  TEST_CASE("the cosign reference plugin verifies digests with cosign") {
    TempDir dir;
    const fs::path program = PROMOTE_COSIGN_PLUGIN;
    // A stand-in for cosign that records its arguments and answers as told.
    write_script(dir / "fake-cosign",
                 "echo \"$@\" >> calls\n"
                 "case $(cat answer) in\n"
                 "  ok) exit 0 ;;\n"
                 "  unsigned) echo 'Error: no matching signatures: ' >&2; exit 1 ;;\n"
                 "  down) echo 'Error: GET https://ghcr.io/v2/: connection refused' >&2\n"
                 "        exit 1 ;;\n"
                 "esac\n");
    Diagnostics diagnostics;
    auto gate = make_gate(program, "key: cosign.pub\ncosign: ./fake-cosign\n", diagnostics,
                          "cosign");
    REQUIRE(gate);
    Candidate signed_only;
    signed_only.images["web"] = make_candidate().images["web"];
    const std::string subject = "ghcr.io/acme/web@sha256:" + std::string(64, 'a');
    SUBCASE("a valid signature passes") {
      write_text(dir / "answer", "ok");
      const Verdict verdict = judge(*gate, dir.path(), signed_only);
      CHECK(verdict.status == Status::pass);
      CHECK(verdict.summary == "signatures verified for 1 image");
      const fs::path key = fs::absolute(dir.path()).lexically_normal() / "cosign.pub";
      CHECK(read_text(dir / "calls") == "verify --key " + key.string() + " " + subject + "\n");
    }
    SUBCASE("no matching signature fails") {
      write_text(dir / "answer", "unsigned");
      const Verdict verdict = judge(*gate, dir.path(), signed_only);
      CHECK(verdict.status == Status::fail);
      CHECK(verdict.summary == "no valid signature for web");
    }
    SUBCASE("a registry that cannot be reached is an error") {
      write_text(dir / "answer", "down");
      const Verdict verdict = judge(*gate, dir.path(), signed_only);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "could not verify web (web: Error: GET https://ghcr.io/v2/: "
                               "connection refused)");
    }
    SUBCASE("an image without a digest is an error") {
      write_text(dir / "answer", "ok");
      const Verdict verdict = judge(*gate, dir.path());
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "could not verify api (api: no digest: cosign verifies a digest, not a tag)");
    }
    SUBCASE("cosign missing is an error") {
      auto missing = make_gate(program, "key: cosign.pub\ncosign: ./nowhere/cosign\n",
                               diagnostics, "cosign");
      const Verdict verdict = judge(*missing, dir.path(), signed_only);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary ==
            "cosign not found (./nowhere/cosign); install it or set 'cosign:' to its path");
    }
    SUBCASE("a config without a key or identity is an error") {
      auto bare = make_gate(program, "", diagnostics, "cosign");
      const Verdict verdict = judge(*bare, dir.path(), signed_only);
      CHECK(verdict.status == Status::error);
      CHECK(verdict.summary == "cosign gate needs 'key' or 'certificate_identity' and "
                               "'certificate_oidc_issuer'");
    }
  }
}
