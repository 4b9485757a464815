// The Kubernetes API client against an HTTPS server on 127.0.0.1 with a CA of its own (and
// plain HTTP scripted servers for a timeout and a connection closed mid-answer): the
// credentials each kind of user sends, the paths of objects and lists, and each way an
// answer can fail.

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>

#include "engine/http/kube.hpp"
#include "tests/http/kube_fixtures.hpp"
#include "tests/support/servers/http_script.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

using promote::test::ApiReply;
using promote::test::ApiRequest;
using promote::test::HttpsApi;
using promote::test::json_reply;
using promote::test::KubeEnv;
using promote::test::read_text;
using promote::test::ScopedEnv;
using promote::test::TempDir;
using promote::test::write_script;
using promote::test::write_text;
namespace kube = promote::kube;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string k_deployment =
    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"web",)"
    R"("generation":4},"status":{"observedGeneration":4,"updatedReplicas":3}})";

// A Kubernetes Status body, as the API server writes one for a failure.
std::string status_body(unsigned code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
         message + R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

// A connection to `api` in context "staging" for user "ci" with a token.
kube::Connection connection_to(const HttpsApi& api) {
  kube::Connection connection;
  connection.context = "staging";
  connection.namespace_name = "web";
  connection.cluster.name = "staging";
  connection.cluster.server = api.url();
  connection.cluster.ca_file = api.ca_file();
  connection.user.name = "ci";
  connection.user.token = "t0ken-value";
  return connection;
}

kube::Client client_of(kube::Connection connection, kube::ClientOptions options = {}) {
  auto made = kube::Client::make(std::move(connection), options);
  REQUIRE(made.has_value());
  return *made;
}

// Runs an awaitable call of the client to its end.
template <class Call>
promote::Result<kube::Found> run(Call call) {
  boost::asio::io_context io;
  std::optional<promote::Result<kube::Found>> out;
  boost::asio::co_spawn(io, std::move(call),
                        [&out](std::exception_ptr, promote::Result<kube::Found> result) {
                          out.emplace(std::move(result));
                        });
  io.run();
  REQUIRE(out);
  return std::move(*out);
}

}  // namespace

TEST_SUITE("kube client") {
  TEST_CASE("an object is read with the user's bearer token, verified against the cluster's CA") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.route("GET", "/apis/apps/v1/namespaces/web/deployments/api",
              [](const ApiRequest&) { return json_reply(200, k_deployment); });
    const kube::Client client = client_of(connection_to(api));
    CHECK(client.context() == "staging");
    CHECK(client.user() == "ci");
    CHECK(client.namespace_name() == "web");
    auto found = run(client.get_object("apps", "v1", "web", "deployments", "api"));
    REQUIRE(found.has_value());
    REQUIRE(*found);
    CHECK((**found)["status"]["observedGeneration"] == 4);
    const auto log = api.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0].header("Authorization") == "Bearer t0ken-value");
    CHECK(log[0].header("Accept") == "application/json");

    SUBCASE("the CA given as data instead of a file") {
      kube::Connection connection = connection_to(api);
      connection.cluster.ca_file.clear();
      connection.cluster.ca_pem = read_text(api.ca_file());
      CHECK(client_of(connection)
                .get_blocking("/apis/apps/v1/namespaces/web/deployments/api")
                .has_value());
    }
    SUBCASE("a CA that did not sign the server's certificate is not worth retrying") {
      HttpsApi other;
      kube::Connection connection = connection_to(api);
      connection.cluster.ca_file = other.ca_file();
      auto refused = client_of(connection).get_blocking("/api/v1/namespaces");
      REQUIRE(refused.has_error());
      CHECK(refused.error().message.find("TLS handshake failed: the certificate of 127.0.0.1:") !=
            std::string::npos);
      CHECK_FALSE(kube::worth_retrying(refused.error()));
    }
  }

  TEST_CASE("tls-server-name is the name the server's certificate must have") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api({"kube.internal"});
    api.route("GET", "/version",
              [](const ApiRequest&) { return json_reply(200, R"({"major":"1","minor":"30"})"); });
    kube::Connection connection = connection_to(api);
    connection.cluster.tls_server_name = "kube.internal";
    CHECK(client_of(connection).get_blocking("/version").has_value());
    connection.cluster.tls_server_name = "other.internal";
    auto refused = client_of(connection).get_blocking("/version");
    REQUIRE(refused.has_error());
    CHECK(refused.error().message ==
          "GET " + api.url("/version") +
              ": TLS handshake failed: the certificate of 127.0.0.1:" + std::to_string(api.port()) +
              " (as other.internal) was not accepted: hostname mismatch (verified against the "
              "CA file " +
              api.ca_file() + ")");
  }

  TEST_CASE("a list is filtered by its label selector; the core group is under /api") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.route("GET", "/api/v1/namespaces/web/pods", [](const ApiRequest&) {
      return json_reply(200, R"({"kind":"PodList","items":[{"metadata":{"name":"a"}}]})");
    });
    const kube::Client client = client_of(connection_to(api));
    auto found = run(client.list("", "v1", "web", "pods", "app=api,tier in (web)"));
    REQUIRE(found.has_value());
    CHECK((**found)["items"].size() == 1);
    CHECK(api.log().at(0).query_value("labelSelector") == "app=api,tier in (web)");
    // A resource the server does not serve (a CRD that is not installed) is not found.
    auto missing = run(client.list("kustomize.toolkit.fluxcd.io", "v1", "", "kustomizations"));
    REQUIRE(missing.has_value());
    CHECK_FALSE(*missing);
    CHECK(api.log().at(1).path == "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations");
    CHECK(kube::resource_path("", "v1", "a b", "pods", "x/y") ==
          "/api/v1/namespaces/a%20b/pods/x%2Fy");
  }

  TEST_CASE("a client certificate user authenticates with TLS client auth") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.require_client_certificate();
    api.route("GET", "/api/v1/namespaces/web", [](const ApiRequest& request) {
      return json_reply(200, R"({"kind":"Namespace","client":")" + request.client_name + "\"}");
    });
    kube::Connection connection = connection_to(api);
    connection.user.token.clear();
    const auto [certificate, key] = api.client_certificate("alice");
    SUBCASE("from -data") {
      connection.user.client_certificate_pem = certificate;
      connection.user.client_key_pem = key;
    }
    SUBCASE("from files") {
      write_text(home / "alice.crt", certificate);
      write_text(home / "alice.key", key);
      connection.user.client_certificate_file = (home / "alice.crt").string();
      connection.user.client_key_file = (home / "alice.key").string();
    }
    auto found = client_of(connection).get_blocking("/api/v1/namespaces/web");
    const std::string why = found.has_error() ? found.error().message : "";
    INFO(why);
    REQUIRE(found.has_value());
    CHECK((**found)["client"] == "alice");
    CHECK(api.log().at(0).header("Authorization") == "");
  }

  TEST_CASE("without a client certificate, a server that requires one refuses the handshake") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.require_client_certificate();
    auto refused = client_of(connection_to(api)).get_blocking("/api/v1/namespaces/web");
    REQUIRE(refused.has_error());
    CHECK(refused.error().message ==
          "GET " + api.url("/api/v1/namespaces/web") +
              ": reading the response failed: tlsv13 alert certificate required (SSL routines)");
    CHECK(api.log().empty());
  }

  TEST_CASE("a missing client certificate file is refused when the client is made") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    kube::Connection connection = connection_to(api);
    connection.user.where = "config:9:3";
    connection.user.client_certificate_file = (home / "gone.crt").string();
    connection.user.client_key_file = (home / "gone.key").string();
    auto made = kube::Client::make(connection);
    REQUIRE(made.has_error());
    CHECK(made.error().message == "config:9:3: cannot read the client certificate of user 'ci': " +
                                      (home / "gone.crt").string() + ": No such file or directory");
  }

  TEST_CASE("basic auth and a token file that is re-read when it changes") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.route("GET", "/api", [](const ApiRequest&) { return json_reply(200, "{}"); });
    kube::Connection connection = connection_to(api);
    connection.user.token.clear();
    SUBCASE("username and password") {
      connection.user.username = "foo";
      connection.user.password = "bar";
      REQUIRE(client_of(connection).get_blocking("/api").has_value());
      CHECK(api.log().at(0).header("Authorization") == "Basic Zm9vOmJhcg==");
    }
    SUBCASE("a token file") {
      write_text(home / "token", "first\n");
      connection.user.token_file = (home / "token").string();
      const kube::Client client = client_of(connection);
      REQUIRE(client.get_blocking("/api").has_value());
      write_text(home / "token", "second-token\n");
      REQUIRE(client.get_blocking("/api").has_value());
      CHECK(api.log().at(0).header("Authorization") == "Bearer first");
      CHECK(api.log().at(1).header("Authorization") == "Bearer second-token");
      fs::remove(home / "token");
      auto failed = client.get_blocking("/api");
      REQUIRE(failed.has_error());
      CHECK(failed.error().message ==
            "GET " + api.url("/api") + ": cannot read the token file of user 'ci': " +
                (home / "token").string() + ": No such file or directory");
    }
  }

  TEST_CASE("in a cluster, the service account's token and CA are used") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    api.route("GET", "/api/v1/namespaces/promote/configmaps/x",
              [](const ApiRequest&) { return json_reply(200, R"({"kind":"ConfigMap"})"); });
    fs::create_directories(home / "sa");
    fs::copy_file(api.ca_file(), home / "sa" / "ca.crt");
    write_text(home / "sa" / "token", "sa-token-1");
    write_text(home / "sa" / "namespace", "promote");
    ScopedEnv account(kube::k_serviceaccount_dir_variable, (home / "sa").string());
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "127.0.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", std::to_string(api.port()));
    auto connection = kube::find_connection();
    REQUIRE(connection.has_value());
    const kube::Client client = client_of(*connection);
    auto found = run(client.get_object("", "v1", client.namespace_name(), "configmaps", "x"));
    REQUIRE(found.has_value());
    REQUIRE(*found);
    // The kubelet rotates the token: the next request sends the new one.
    write_text(home / "sa" / "token", "sa-token-2-rotated");
    REQUIRE(client.get_blocking("/api/v1/namespaces/promote/configmaps/x").has_value());
    CHECK(api.log().at(0).header("Authorization") == "Bearer sa-token-1");
    CHECK(api.log().at(1).header("Authorization") == "Bearer sa-token-2-rotated");
  }

  TEST_CASE("an exec plugin's token is sent, and fetched anew once after a 401") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    std::atomic<int> answered{0};
    api.route("GET", "/api/v1/namespaces", [&answered](const ApiRequest&) {
      return ++answered == 1 ? json_reply(401, status_body(401, "Unauthorized", "Unauthorized"))
                             : json_reply(200, R"({"kind":"NamespaceList","items":[]})");
    });
    write_script(home / "plugin",
                 "echo run >> \"$(dirname \"$0\")/runs\"\n"
                 "n=$(wc -l < \"$(dirname \"$0\")/runs\")\n"
                 "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
                 "printf '\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-%s\"}}' $n\n");
    kube::Connection connection = connection_to(api);
    connection.user.token.clear();
    connection.user.exec = kube::ExecConfig{};
    connection.user.exec->api_version = "client.authentication.k8s.io/v1";
    connection.user.exec->command = (home / "plugin").string();
    connection.user.exec->interactive_mode = "Never";
    auto found = client_of(connection).get_blocking("/api/v1/namespaces");
    REQUIRE(found.has_value());
    const auto log = api.log();
    REQUIRE(log.size() == 2);
    CHECK(log[0].header("Authorization") == "Bearer exec-1");
    CHECK(log[1].header("Authorization") == "Bearer exec-2");
  }

  TEST_CASE("each failing answer is told apart: 401, 403, 404, 500, not JSON") {
    TempDir home;
    KubeEnv env(home.path().string());
    HttpsApi api;
    const std::string path = "/apis/apps/v1/namespaces/web/deployments/api";
    const kube::Client client = client_of(connection_to(api));
    const std::string what = "GET " + api.url(path) + ": ";
    const auto answer = [&api, &path](unsigned status, const std::string& body) {
      api.route("GET", path,
                [status, body](const ApiRequest&) { return json_reply(status, body); });
    };

    SUBCASE("401 names the user and the context, never the token") {
      answer(401, status_body(401, "Unauthorized", "Unauthorized"));
      auto failed = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(failed.has_error());
      CHECK(failed.error().kind == promote::ErrorKind::http);
      CHECK(failed.error().message ==
            what +
                "401 Unauthorized: the server did not accept the credentials of user 'ci' "
                "(context 'staging'): Unauthorized");
      CHECK(failed.error().message.find("t0ken") == std::string::npos);
      CHECK_FALSE(kube::worth_retrying(failed.error()));
    }
    SUBCASE("403 names the user and the request, with the server's reason made printable") {
      answer(403, status_body(403, "Forbidden",
                              "deployments.apps \\\"api\\\" is forbidden: User "
                              "\\\"system:serviceaccount:ci:promote\\\" cannot get resource "
                              "\\\"deployments\\\"\\n\\u001b[2J"));
      auto failed = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(failed.has_error());
      CHECK(failed.error().message ==
            what +
                "403 Forbidden for user 'ci' (context 'staging'): deployments.apps \"api\" is "
                "forbidden: User \"system:serviceaccount:ci:promote\" cannot get resource "
                "\"deployments\"\\x0a\\x1b[2J");
      CHECK_FALSE(kube::worth_retrying(failed.error()));
    }
    SUBCASE("404 is not found, not an error") {
      answer(404, status_body(404, "NotFound", "deployments.apps \\\"api\\\" not found"));
      auto found = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(found.has_value());
      CHECK_FALSE(*found);
    }
    SUBCASE("500 is an error worth retrying, with a Status message that echoes no secret") {
      answer(500,
             status_body(500, "InternalError", "etcdserver: request timed out for t0ken-value"));
      auto failed = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(failed.has_error());
      CHECK(failed.error().message ==
            what + "500 Internal Server Error: etcdserver: request timed out for ***");
      CHECK(kube::worth_retrying(failed.error()));
    }
    SUBCASE("a 429 without a Status body is worth retrying") {
      answer(429, "<html>slow down</html>");
      auto failed = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(failed.has_error());
      CHECK(failed.error().message == what + "429 Too Many Requests");
      CHECK(kube::worth_retrying(failed.error()));
    }
    SUBCASE("a 200 that is not JSON") {
      answer(200, "<html>login</html>");
      auto failed = run(client.get_object("apps", "v1", "web", "deployments", "api"));
      REQUIRE(failed.has_error());
      CHECK(failed.error().message == what + "the answer is not JSON");
    }
  }

  TEST_CASE("a server that never answers times out, one that hangs up fails: both worth retrying") {
    TempDir home;
    KubeEnv env(home.path().string());
    kube::Connection connection;
    connection.context = "dev";
    connection.user.name = "dev";
    connection.user.token = "dev-token";
    SUBCASE("timeout") {
      promote::test::HttpScript silent("");
      connection.cluster.server = silent.url("");
      auto failed = client_of(connection, {.timeout = 200ms}).get_blocking("/api/v1/namespaces");
      REQUIRE(failed.has_error());
      CHECK(failed.error().message ==
            "GET " + silent.url("/api/v1/namespaces") + ": timed out after 200ms");
      CHECK(kube::worth_retrying(failed.error()));
    }
    SUBCASE("the connection closed in the middle of the answer") {
      promote::test::HttpScript cut("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"kind\":");
      connection.cluster.server = cut.url("");
      auto failed = client_of(connection).get_blocking("/api/v1/namespaces");
      REQUIRE(failed.has_error());
      CHECK(failed.error().message == "GET " + cut.url("/api/v1/namespaces") +
                                          ": reading the response failed: partial message");
      CHECK(kube::worth_retrying(failed.error()));
    }
  }
}
