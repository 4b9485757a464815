// exec credential plugins, run for real: a small /bin/sh plugin that records how it was run
// (its KUBERNETES_EXEC_INFO, its env, a count of runs) and prints an answer file, which is
// one of the corpus's ExecCredential documents read in place, or one written here.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "engine/http/kube_exec.hpp"
#include "engine/util/time.hpp"
#include "tests/http/kube_fixtures.hpp"
#include "tests/support/support.hpp"

using promote::test::read_text;
using promote::test::TempDir;
using promote::test::write_script;
using promote::test::write_text;
namespace kube = promote::kube;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A plugin in its own directory: `answer` (a file path, its first argument) is printed;
// each run appends a line to `runs`, and its KUBERNETES_EXEC_INFO and $FOO are kept.
struct Plugin {
  TempDir dir;
  kube::User user;
  kube::Cluster cluster;

  explicit Plugin(const std::string& api_version, const std::string& body = "") {
    write_script(dir / "plugin",
                 body.empty()
                     ? "echo run >> \"$(dirname \"$0\")/runs\"\n"
                       "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$(dirname \"$0\")/info\"\n"
                       "printf '%s' \"$FOO\" > \"$(dirname \"$0\")/foo\"\n"
                       "cat \"$1\"\n"
                     : body);
    user.name = "ci";
    user.exec = kube::ExecConfig{};
    user.exec->api_version = api_version;
    user.exec->command = (dir / "plugin").string();
    user.exec->args = {(dir / "answer").string()};
    user.exec->env = {{"FOO", "bar"}};
    user.exec->interactive_mode = "Never";
    user.exec->where = "config:7:7";
    cluster.name = "c";
    cluster.server = "https://" + dir.path().filename().string() + ".example:6443";
  }

  void answer(const std::string& text) const { write_text(dir / "answer", text); }
  void answer_from(const fs::path& file) const { fs::copy_file(file, dir / "answer"); }

  int runs() const {
    if (!fs::exists(dir / "runs")) {
      return 0;
    }
    const std::string text = read_text(dir / "runs");
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  promote::Result<kube::ExecCredential> run(std::chrono::milliseconds timeout = 10s) const {
    return kube::exec_credential(user, cluster, timeout);
  }

  std::string who() const { return "exec plugin '" + (dir / "plugin").string() + "' of user 'ci'"; }
};

fs::path corpus(const std::string& name) {
  return *promote::test::corpus_dir() / "kubeconfig" / name;
}

}  // namespace

TEST_SUITE("exec plugins") {
  TEST_CASE("a v1beta1 plugin's token is kept for the process when it has no expiry" *
            doctest::skip(!promote::test::has_corpus())) {
    Plugin plugin("client.authentication.k8s.io/v1beta1");
    plugin.answer_from(corpus("k8s-docs__execcredential-v1beta1-token.json"));
    auto credential = plugin.run();
    REQUIRE(credential.has_value());
    CHECK(credential->token == "my-bearer-token");
    CHECK_FALSE(credential->expires);
    CHECK(read_text(plugin.dir / "info") ==
          R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",)"
          R"("spec":{"interactive":false}})");
    CHECK(read_text(plugin.dir / "foo") == "bar");
    CHECK(plugin.run()->token == "my-bearer-token");
    CHECK(plugin.runs() == 1);

    SUBCASE("forgetting it (after a 401) runs the plugin again") {
      kube::forget_exec_credential(plugin.user, plugin.cluster);
      CHECK(plugin.run().has_value());
      CHECK(plugin.runs() == 2);
    }
  }

  TEST_CASE("a v1 plugin's token that has expired is asked for again" *
            doctest::skip(!promote::test::has_corpus())) {
    Plugin plugin("client.authentication.k8s.io/v1");
    plugin.answer_from(corpus("k8s-docs__execcredential-v1-token-expiry.json"));
    auto credential = plugin.run();
    REQUIRE(credential.has_value());
    CHECK(credential->token == "my-bearer-token");
    REQUIRE(credential->expires);
    // 2018-03-05T17:30:20-08:00
    CHECK(*credential->expires ==
          std::chrono::sys_days(std::chrono::year(2018) / 3 / 6) + 1h + 30min + 20s);
    CHECK(plugin.run().has_value());
    CHECK(plugin.runs() == 2);
  }

  TEST_CASE("a token that expires later is kept until then") {
    Plugin plugin("client.authentication.k8s.io/v1");
    plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
      "status":{"token":"later","expirationTimestamp":"2999-01-01T00:00:00.5Z"}})");
    CHECK(plugin.run()->token == "later");
    CHECK(plugin.run()->token == "later");
    CHECK(plugin.runs() == 1);
  }

  TEST_CASE("a plugin may hand out a client certificate and key") {
    Plugin plugin("client.authentication.k8s.io/v1");
    plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
      "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}})");
    auto credential = plugin.run();
    REQUIRE(credential.has_value());
    CHECK(credential->token == "");
    CHECK(credential->client_certificate_pem == "CERT");
    CHECK(credential->client_key_pem == "KEY");
  }

  TEST_CASE("provideClusterInfo gives the plugin the cluster in KUBERNETES_EXEC_INFO") {
    Plugin plugin("client.authentication.k8s.io/v1");
    plugin.user.exec->provide_cluster_info = true;
    plugin.cluster.ca_pem = "CA PEM";
    plugin.cluster.tls_server_name = "kube.test";
    plugin.cluster.exec_extension = R"({"some-config-per-cluster":"config-data"})";
    plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
      "status":{"token":"t"}})");
    REQUIRE(plugin.run().has_value());
    CHECK(read_text(plugin.dir / "info") ==
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
          R"("spec":{"cluster":{"certificate-authority-data":"Q0EgUEVN",)"
          R"("config":{"some-config-per-cluster":"config-data"},"server":")" +
              plugin.cluster.server + R"(","tls-server-name":"kube.test"},"interactive":false}})");
  }

  TEST_CASE("a plugin that fails is an error with its stderr, never its stdout") {
    Plugin plugin("client.authentication.k8s.io/v1",
                  "echo 'leaked-token'\necho 'error: the role cannot be assumed' >&2\n"
                  "printf 'line two\\033[31m' >&2\nexit 3\n");
    auto failed = plugin.run();
    REQUIRE(failed.has_error());
    CHECK(failed.error().kind == promote::ErrorKind::http);
    CHECK(failed.error().message == plugin.who() +
                                        " exited with status 3: error: the role cannot be "
                                        "assumed\\x0aline two\\x1b[31m");
    CHECK(failed.error().message.find("leaked-token") == std::string::npos);
  }

  TEST_CASE("a plugin that hangs is killed at the timeout") {
    Plugin plugin("client.authentication.k8s.io/v1", "echo 'partial-token'\nexec sleep 600\n");
    const auto started = std::chrono::steady_clock::now();
    auto failed = plugin.run(300ms);
    REQUIRE(failed.has_error());
    CHECK(failed.error().message == plugin.who() + " did not finish within 300ms and was killed");
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }

  TEST_CASE("answers that are no usable ExecCredential are refused without quoting them") {
    Plugin plugin("client.authentication.k8s.io/v1");
    const std::string prefix = plugin.who() + " printed no usable ExecCredential: ";
    SUBCASE("not JSON") {
      plugin.answer("token=leaked-token");
      CHECK(plugin.run().error().message == prefix + "its output is not a JSON object");
    }
    SUBCASE("another apiVersion") {
      plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1beta1",
        "kind":"ExecCredential","status":{"token":"leaked-token"}})");
      CHECK(plugin.run().error().message ==
            prefix +
                "its apiVersion is not client.authentication.k8s.io/v1, as the kubeconfig asks");
    }
    SUBCASE("no token") {
      plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1",
        "kind":"ExecCredential","status":{}})");
      CHECK(plugin.run().error().message ==
            prefix + "its status has neither a token nor a client certificate and key");
    }
    SUBCASE("a bad expiry") {
      plugin.answer(R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
        "status":{"token":"leaked-token","expirationTimestamp":"tomorrow"}})");
      CHECK(plugin.run().error().message ==
            prefix + "its expirationTimestamp is not an RFC 3339 time");
    }
    CHECK(plugin.runs() == 1);
  }

  TEST_CASE("a plugin that is not on PATH is an error with its install hint") {
    Plugin plugin("client.authentication.k8s.io/v1beta1");
    plugin.user.exec->command = "promote-no-such-plugin";
    plugin.user.exec->install_hint = "Install it:\n  apt-get install promote-no-such-plugin\n";
    auto failed = plugin.run();
    REQUIRE(failed.has_error());
    CHECK(failed.error().kind == promote::ErrorKind::config);
    CHECK(failed.error().message ==
          "config:7:7: exec plugin 'promote-no-such-plugin' of user 'ci' is not on PATH\n"
          "Install it:\n  apt-get install promote-no-such-plugin");
  }

  TEST_CASE("a plugin that needs a terminal is not run") {
    Plugin plugin("client.authentication.k8s.io/v1");
    plugin.user.exec->interactive_mode = "Always";
    auto failed = plugin.run();
    REQUIRE(failed.has_error());
    CHECK(failed.error().message ==
          "config:7:7: " + plugin.who() +
              " needs an interactive terminal (interactiveMode Always), and promote runs "
              "plugins without one");
    CHECK(plugin.runs() == 0);
  }

  TEST_CASE("RFC 3339 times are read with offsets and fractions") {
    using std::chrono::sys_days;
    using std::chrono::year;
    const auto day = sys_days(year(2026) / 1 / 2);
    CHECK(promote::util::parse_rfc3339("2026-01-02T03:04:05Z") == day + 3h + 4min + 5s);
    CHECK(promote::util::parse_rfc3339("2026-01-02T03:04:05+01:00") == day + 2h + 4min + 5s);
    CHECK(promote::util::parse_rfc3339("2026-01-02T03:04:05.250Z") == day + 3h + 4min + 5s + 250ms);
    CHECK_FALSE(promote::util::parse_rfc3339("2026-01-02"));
    CHECK_FALSE(promote::util::parse_rfc3339("2026-02-30T00:00:00Z"));
    CHECK_FALSE(promote::util::parse_rfc3339("2026-01-02T03:04:05"));
    CHECK_FALSE(promote::util::parse_rfc3339("2026-01-02T03:04:05+0100"));
    CHECK_FALSE(promote::util::parse_rfc3339("2026-01-02 03:04:05Z"));
    // Beyond what the clock holds: its ends, never an overflow (Go's zero time is common).
    CHECK(promote::util::parse_rfc3339("0001-01-01T00:00:00Z") ==
          std::chrono::system_clock::time_point::min());
    CHECK(promote::util::parse_rfc3339("9999-12-31T23:59:59Z") ==
          std::chrono::system_clock::time_point::max());
  }
}
