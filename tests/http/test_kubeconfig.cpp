// Reading kubeconfig files as kubectl does: the real files of the corpus (read in place), the
// merging of several KUBECONFIG files, contexts, errors at their place, and the in-cluster
// service account.

#include <doctest/doctest.h>

#include <string>

#include "engine/http/kubeconfig.hpp"
#include "tests/http/kube_fixtures.hpp"
#include "tests/support/support.hpp"

using promote::test::KubeEnv;
using promote::test::ScopedEnv;
using promote::test::TempDir;
using promote::test::write_text;
namespace kube = promote::kube;
namespace fs = std::filesystem;

namespace {

fs::path corpus(const std::string& name) {
  return *promote::test::corpus_dir() / "kubeconfig" / name;
}

// The error of loading `text` as the file `name` in `dir`.
std::string load_error(const TempDir& dir, const std::string& text,
                       const std::string& name = "config") {
  write_text(dir / name, text);
  auto loaded = kube::load_kubeconfig({dir / name});
  REQUIRE(loaded.has_error());
  CHECK(loaded.error().kind == promote::ErrorKind::input);
  return loaded.error().message;
}

// The error of selecting `context` in `text`.
std::string select_error(const TempDir& dir, const std::string& text,
                         const std::string& context = "") {
  write_text(dir / "config", text);
  auto loaded = kube::load_kubeconfig({dir / "config"});
  REQUIRE(loaded.has_value());
  auto selected = kube::select_context(*loaded, context);
  REQUIRE(selected.has_error());
  CHECK(selected.error().kind == promote::ErrorKind::config);
  return selected.error().message;
}

const std::string k_minimal = R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
contexts:
- name: prod
  context:
    cluster: prod
    user: ci
users:
- name: ci
  user:
    token: s3cret-token
current-context: prod
)";

}  // namespace

TEST_SUITE("kubeconfig") {
  TEST_CASE("a token user's kubeconfig gives its cluster, CA path, user and current context" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path file = corpus("csharp-client__token-user.yaml");
    auto config = kube::load_kubeconfig({file});
    REQUIRE(config.has_value());
    CHECK(config->files == std::vector<std::string>{file.string()});
    CHECK(config->current_context == "multi-ca-file-context");
    // certificate-authority is relative to the file that names it.
    CHECK(config->clusters.at("multi-ca-file-cluster").ca_file ==
          (file.parent_path() / "assets" / "ca-bundle.crt").string());
    auto connection = kube::select_context(*config, "");
    REQUIRE(connection.has_value());
    CHECK(connection->context == "multi-ca-file-context");
    CHECK(connection->namespace_name == "default");
    CHECK(connection->cluster.server == "https://multi-ca-file-test.example.com:6443");
    CHECK(connection->user.name == "test-user");
    CHECK(connection->user.token == "test-token");
  }

  TEST_CASE("certificate data, basic auth and namespaces are read, and unsafe clusters refused" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path file = corpus("javascript-client__multi-context-cert-basic-auth.yaml");
    auto config = kube::load_kubeconfig({file});
    REQUIRE(config.has_value());
    CHECK(config->clusters.at("cluster1").ca_pem == "CADATA");
    CHECK(config->clusters.at("cluster2").ca_pem == "CADATA2");
    CHECK(config->users.at("user1").client_certificate_pem == "USER_CADATA");
    CHECK(config->users.at("user1").client_key_pem == "USER_CKDATA");
    CHECK(config->users.at("user3").username == "foo");
    CHECK(config->users.at("user3").password == "bar");
    CHECK(config->contexts.at("context2").namespace_name == "namespace2");

    SUBCASE("the current context's cluster skips TLS verification: refused") {
      auto connection = kube::select_context(*config, "");
      REQUIRE(connection.has_error());
      CHECK(connection.error().message ==
            file.string() +
                ":8:3: cluster 'cluster2' sets insecure-skip-tls-verify, which promote refuses: "
                "a server it cannot verify could answer anything; give the cluster's CA with "
                "certificate-authority or certificate-authority-data");
    }
    SUBCASE("a context named on the command line, whose cluster has a SOCKS proxy: refused") {
      auto connection = kube::select_context(*config, "context1");
      REQUIRE(connection.has_error());
      CHECK(connection.error().message ==
            file.string() +
                ":3:3: cluster 'cluster1' sets proxy-url, which promote does not support: set "
                "HTTPS_PROXY instead");
    }
  }

  TEST_CASE("an exec plugin's settings are read, with the cluster's exec extension" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path file = corpus("kep541__kubeconfig-exec-v1.yaml");
    auto config = kube::load_kubeconfig({file});
    REQUIRE(config.has_value());
    auto connection = kube::select_context(*config, "");
    REQUIRE(connection.has_value());
    REQUIRE(connection->user.exec);
    const kube::ExecConfig& exec = *connection->user.exec;
    CHECK(exec.api_version == "client.authentication.k8s.io/v1");
    CHECK(exec.command == "example-client-go-exec-plugin");
    CHECK(exec.args == std::vector<std::string>{"arg1", "arg2"});
    CHECK(exec.env == std::vector<std::pair<std::string, std::string>>{{"FOO", "bar"}});
    CHECK(exec.install_hint.rfind("example-client-go-exec-plugin is required to authenticate\n"
                                  "to the current cluster.  It can be installed:\n",
                                  0) == 0);
    CHECK(exec.provide_cluster_info);
    CHECK(exec.interactive_mode == "Never");
    CHECK(exec.where == file.string() + ":8:7");
    CHECK(connection->cluster.ca_file == "/etc/kubernetes/ca.pem");
    CHECK(connection->cluster.exec_extension == R"({"some-config-per-cluster":"config-data"})");
  }

  TEST_CASE("a fragment with users only has no context to select" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path file = corpus("aws-iam-authenticator__users-exec-v1beta1-fragment.yaml");
    auto config = kube::load_kubeconfig({file});
    REQUIRE(config.has_value());
    const kube::User& user = config->users.at("kubernetes-admin");
    REQUIRE(user.exec);
    CHECK(user.exec->api_version == "client.authentication.k8s.io/v1beta1");
    CHECK(user.exec->command == "aws-iam-authenticator");
    CHECK(user.exec->interactive_mode == "");
    auto connection = kube::select_context(*config, "");
    REQUIRE(connection.has_error());
    CHECK(connection.error().message ==
          "kubeconfig " + file.string() + ": current-context is not set and no context was named");
  }

  TEST_CASE("several KUBECONFIG files merge as kubectl merges them") {
    TempDir dir;
    fs::create_directories(dir / "b");
    KubeEnv env((dir / "home").string());
    write_text(dir / "a", R"(clusters:
- name: shared
  cluster:
    server: https://from-a.example
contexts:
- name: first
  context: {cluster: shared, user: alice}
users:
- name: alice
  user: {token: from-a}
)");
    write_text(dir / "b" / "config", R"(clusters:
- name: shared
  cluster:
    server: https://from-b.example
- name: own
  cluster:
    server: https://own.example
    certificate-authority: certs/ca.pem
contexts:
- name: second
  context: {cluster: own, user: alice, namespace: apps}
users:
- name: alice
  user: {token: from-b}
current-context: second
)");
    const std::string list = (dir / "a").string() + "::" + (dir / "missing").string() + ":" +
                             (dir / "b" / "config").string() + ":" + (dir / "a").string();
    ScopedEnv kubeconfig("KUBECONFIG", list);
    const auto files = kube::kubeconfig_files();
    CHECK(files == std::vector<fs::path>{dir / "a", dir / "missing", dir / "b" / "config"});
    auto config = kube::load_kubeconfig(files);
    REQUIRE(config.has_value());
    // A file that does not exist is skipped; the first file that names an entry gives it.
    CHECK(config->files ==
          std::vector<std::string>{(dir / "a").string(), (dir / "b" / "config").string()});
    CHECK(config->clusters.at("shared").server == "https://from-a.example");
    CHECK(config->users.at("alice").token == "from-a");
    CHECK(config->clusters.at("own").ca_file == (dir / "b" / "certs" / "ca.pem").string());

    SUBCASE("current-context comes from the first file that sets it") {
      auto connection = kube::find_connection();
      REQUIRE(connection.has_value());
      CHECK(connection->context == "second");
      CHECK(connection->namespace_name == "apps");
      CHECK(connection->user.token == "from-a");
    }
    SUBCASE("--context picks another") {
      auto connection = kube::find_connection("first");
      REQUIRE(connection.has_value());
      CHECK(connection->cluster.server == "https://from-a.example");
      CHECK(connection->namespace_name == "default");
    }
    SUBCASE("an earlier file's current-context wins over a later one's") {
      write_text(dir / "a", "current-context: first\n" + promote::test::read_text(dir / "a"));
      auto connection = kube::find_connection();
      REQUIRE(connection.has_value());
      CHECK(connection->context == "first");
    }
  }

  TEST_CASE("without KUBECONFIG, ~/.kube/config is read") {
    TempDir dir;
    KubeEnv env(dir.path().string());
    CHECK(kube::kubeconfig_files() == std::vector<fs::path>{dir / ".kube" / "config"});
    fs::create_directories(dir / ".kube");
    write_text(dir / ".kube" / "config", k_minimal);
    auto connection = kube::find_connection();
    REQUIRE(connection.has_value());
    CHECK(connection->cluster.server == "https://prod.example:6443");
  }

  TEST_CASE("malformed kubeconfigs fail at FILE:LINE:COL without quoting a secret") {
    TempDir dir;
    const std::string file = (dir / "config").string();
    CHECK(load_error(dir, "clusters: [\n") == file + ":2:1: end of sequence flow not found");
    CHECK(load_error(dir, "- a\n- b\n") == file + ":1:1: a kubeconfig must be a map");
    CHECK(load_error(dir, "clusters: {}\n") == file + ":1:11: 'clusters' must be a list");
    CHECK(load_error(dir, "users:\n- user: {token: x}\n") ==
          file + ":2:3: an entry of 'users' has no name");
    CHECK(load_error(dir, "clusters:\n- name: a\n  cluster:\n    server: {host: x}\n") ==
          file + ":4:13: 'server' must be a string");
    CHECK(load_error(dir,
                     "clusters:\n- name: a\n  cluster:\n    certificate-authority-data: "
                     "'not base64!'\n") ==
          file + ":4:33: 'certificate-authority-data' is not base64");
    const std::string secret =
        load_error(dir, "users:\n- name: u\n  user:\n    token: [s3cret-token]\n");
    CHECK(secret == file + ":4:12: 'token' must be a string");
    CHECK(secret.find("s3cret") == std::string::npos);
    CHECK(load_error(dir,
                     "users:\n- name: u\n  user:\n    exec:\n      apiVersion: "
                     "client.authentication.k8s.io/v1alpha1\n      command: x\n") ==
          file +
              ":5:19: exec: apiVersion 'client.authentication.k8s.io/v1alpha1' is not supported "
              "(client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
    CHECK(load_error(dir,
                     "users:\n- name: u\n  user:\n    exec:\n      apiVersion: "
                     "client.authentication.k8s.io/v1\n      command: x\n") ==
          file + ":5:7: exec: interactiveMode must be set for client.authentication.k8s.io/v1");
    CHECK(load_error(dir, "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n") ==
          file +
              ":4:20: 'auth-provider' is not supported (kubectl removed it too): use an exec "
              "plugin");
  }

  TEST_CASE("a context that cannot be used is refused, naming what is missing") {
    TempDir dir;
    const std::string file = (dir / "config").string();
    CHECK(select_error(dir, k_minimal, "staging") ==
          "kubeconfig " + file + ": no context 'staging' (contexts: 'prod')");
    CHECK(select_error(dir,
                       "contexts:\n- name: x\n  context: {cluster: gone, user: ci}\n"
                       "current-context: x\n") ==
          file + ":2:3: context 'x' names the cluster 'gone', which no kubeconfig file has");
    CHECK(select_error(dir,
                       "clusters:\n- name: c\n  cluster: {server: 'https://c'}\n"
                       "contexts:\n- name: x\n  context: {cluster: c, user: gone}\n"
                       "current-context: x\n") ==
          file + ":5:3: context 'x' names the user 'gone', which no kubeconfig file has");
    CHECK(select_error(dir,
                       "clusters:\n- name: c\n  cluster: {}\n"
                       "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n") ==
          file + ":2:3: cluster 'c' has no server");
    CHECK(select_error(dir,
                       "clusters:\n- name: c\n  cluster: {server: 'https://c'}\n"
                       "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                       "users:\n- name: u\n  user: {token: t, username: a, password: p}\n"
                       "current-context: x\n") ==
          file + ":8:3: user 'u' sets both a token and a username/password");
    CHECK(select_error(dir,
                       "clusters:\n- name: c\n  cluster: {server: 'https://c'}\n"
                       "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                       "users:\n- name: u\n  user: {client-certificate: c.pem}\n"
                       "current-context: x\n") ==
          file + ":8:3: user 'u' sets a client certificate without its key");
  }

  TEST_CASE("base64 decodes with or without padding and refuses other text") {
    CHECK(kube::decode_base64("Q0FEQVRBMg==") == "CADATA2");
    CHECK(kube::decode_base64("Q0FEQVRBMg") == "CADATA2");
    CHECK(kube::decode_base64("Q0FE\nQVRB") == "CADATA");
    CHECK(kube::decode_base64("") == "");
    CHECK_FALSE(kube::decode_base64("Q0F!"));
    CHECK_FALSE(kube::decode_base64("Q"));
    CHECK_FALSE(kube::decode_base64("Q0==QQ"));
  }
}

TEST_SUITE("in-cluster") {
  TEST_CASE("the pod's service account gives the server, token file, CA and namespace") {
    TempDir dir;
    KubeEnv env(dir.path().string());
    write_text(dir / "token", "sa-token\n");
    write_text(dir / "ca.crt", "CA");
    write_text(dir / "namespace", "promote\n");
    ScopedEnv account(kube::k_serviceaccount_dir_variable, dir.path().string());
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    CHECK(kube::serviceaccount_dir() == dir.path());
    // No kubeconfig file exists: kubectl's choice is the service account.
    auto connection = kube::find_connection();
    REQUIRE(connection.has_value());
    CHECK(connection->context == "in-cluster");
    CHECK(connection->cluster.server == "https://10.96.0.1:443");
    CHECK(connection->cluster.ca_file == (dir / "ca.crt").string());
    CHECK(connection->user.token_file == (dir / "token").string());
    CHECK(connection->user.token.empty());
    CHECK(connection->namespace_name == "promote");

    SUBCASE("an IPv6 service address is bracketed") {
      ScopedEnv v6("KUBERNETES_SERVICE_HOST", "fd00::1");
      CHECK(kube::in_cluster()->cluster.server == "https://[fd00::1]:443");
    }
    SUBCASE("without a namespace file, the namespace is default") {
      fs::remove(dir / "namespace");
      CHECK(kube::in_cluster()->namespace_name == "default");
    }
    SUBCASE("without a token, it is refused") {
      fs::remove(dir / "token");
      auto refused = kube::in_cluster();
      REQUIRE(refused.has_error());
      CHECK(refused.error().message ==
            "in a cluster, but the service account has no " + (dir / "token").string());
    }
    SUBCASE("a kubeconfig, when there is one, wins") {
      fs::create_directories(dir / ".kube");
      write_text(dir / ".kube" / "config", k_minimal);
      CHECK(kube::find_connection()->context == "prod");
    }
  }

  TEST_CASE("neither a kubeconfig nor a cluster is an error saying where it looked") {
    TempDir dir;
    KubeEnv env(dir.path().string());
    auto refused = kube::in_cluster();
    REQUIRE(refused.has_error());
    CHECK(refused.error().message ==
          "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both "
          "set");
    auto none = kube::find_connection();
    REQUIRE(none.has_error());
    CHECK(none.error().message ==
          "no kubeconfig (no file at " + (dir / ".kube" / "config").string() +
              ") and not in a cluster (KUBERNETES_SERVICE_HOST is not set)");
  }
}
