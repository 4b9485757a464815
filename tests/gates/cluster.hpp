#pragma once
// The gates that read a cluster (kubernetes, flux) in tests: a Kubernetes API on 127.0.0.1 with
// a CA of its own, the kubeconfig a CI runner would have to reach it with a token, and the gate
// evaluated for prod from staging.

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/gate.hpp"
#include "engine/image/reference.hpp"
#include "engine/pipeline/config_node.hpp"
#include "tests/http/kube_fixtures.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

namespace promote::test {

// A cluster's API on 127.0.0.1 with its own CA, a kubeconfig that reaches it with a token (as
// a CI runner's would), and the kubernetes gates that ask it, for prod from staging.
class Cluster {
 public:
  Cluster() : m_env(m_home.path().string()), m_kubeconfig("KUBECONFIG", kubeconfig_path()) {
    write_text(kubeconfig_path(),
               "apiVersion: v1\nkind: Config\ncurrent-context: staging\n"
               "clusters:\n- name: staging\n  cluster:\n    server: " +
                   m_api.url() + "\n    certificate-authority: " + m_api.ca_file() +
                   "\n"
                   "users:\n- name: ci\n  user:\n    token: " +
                   std::string(k_token) +
                   "\n"
                   "contexts:\n- name: staging\n  context: {cluster: staging, user: ci, namespace: "
                   "default}\n");
    m_candidate.images["guestbook"] = *image::parse("gcr.io/heptio-images/ks-guestbook-demo:0.2");
  }

  static constexpr const char* k_token = "kube-t0ken-5ecret";

  HttpsApi& api() { return m_api; }
  Candidate& candidate() { return m_candidate; }
  FakeTimeline& timeline() { return m_timeline; }
  /// What the gates are told of the repository's commits; null: nothing.
  const CommitGraph* commits = nullptr;

  // Answers GET PATH with `object` as JSON (a status of 200) or a Status body.
  void serve(const std::string& path, const nlohmann::json& object, unsigned status = 200) {
    m_api.route("GET", path,
                [object, status](const ApiRequest&) { return json_reply(status, object.dump()); });
  }

  /// Builds a gate with `make` from `yaml` (its with:) and evaluates it for prod from staging.
  Verdict ask(std::unique_ptr<Gate> (*make)(const pipeline::ConfigNode&), const std::string& yaml) {
    pipeline::Diagnostics diagnostics;
    auto gate = make(pipeline::ConfigNode(YAML::Load(yaml), "promote.yaml", diagnostics));
    REQUIRE_MESSAGE(gate != nullptr, diagnostics.to_error().message);
    GateContext context{m_candidate, "prod", std::string("staging"), ".", m_timeline, "shop"};
    context.commits = commits;
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, gate->evaluate(context), boost::asio::use_future);
    io.run();
    return future.get();
  }

 private:
  std::string kubeconfig_path() const { return (m_home.path() / "kubeconfig").string(); }

  TempDir m_home;
  KubeEnv m_env;
  ScopedEnv m_kubeconfig;
  HttpsApi m_api;
  FakeTimeline m_timeline;
  Candidate m_candidate;
};

}  // namespace promote::test
