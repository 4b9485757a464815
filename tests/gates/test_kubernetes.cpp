// The kubernetes gate's judgement of workloads, over the real objects of the corpus
// (../shared/corpus/kubernetes: Argo CD's and gitops-engine's test objects, kstatus' test
// strings; SOURCES.md says where each came from) and objects changed from them step by step.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>

#include "gates/kubernetes.hpp"
#include "tests/gates/cluster.hpp"
#include "tests/support/support.hpp"
#include "tests/support/yaml_json.hpp"

namespace {

using nlohmann::json;
using promote::gates::Rollout;
using promote::gates::rollout_status;
using State = Rollout::State;
using promote::test::Cluster;

// A corpus file of kubernetes/ as the API would return it.
json workload(const std::string& file) {
  const auto path = *promote::test::corpus_dir() / "kubernetes" / file;
  if (path.extension() == ".json") {
    std::ifstream in(path);
    return json::parse(in);
  }
  return promote::test::yaml_to_json(YAML::LoadFile(path.string()));
}

const std::string k_deployment_path = "/apis/apps/v1/namespaces/default/deployments/guestbook-ui";

// The messages of a `with:` that must not build a gate.
std::string config_errors(const std::string& yaml) {
  promote::pipeline::Diagnostics diagnostics;
  auto gate = promote::gates::make_kubernetes(
      promote::pipeline::ConfigNode(YAML::Load(yaml), "promote.yaml", diagnostics));
  CHECK(gate == nullptr);
  return diagnostics.to_error().message;
}

}  // namespace

TEST_SUITE("gates") {
  TEST_CASE("kubernetes: the corpus' workloads are judged as kubectl rollout status judges them" *
            doctest::skip(!promote::test::has_corpus())) {
    const std::map<std::string, std::pair<State, std::string>> expected = {
        {"gitops-engine__deployment-progressing.yaml",
         {State::progressing,
          "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 old replicas are pending "
          "termination"}},
        {"gitops-engine__deployment-progress-deadline-exceeded.yaml",
         {State::failed, "deployment \"guestbook-ui\" exceeded its progress deadline"}},
        {"gitops-engine__deployment-live-healthy.json",
         {State::complete, "deployment \"guestbook-ui\" successfully rolled out"}},
        {"argo-cd__deployment-live-healthy-4-replicas.yaml",
         {State::complete, "deployment \"kustomize-guestbook-ui\" successfully rolled out"}},
        {"cli-utils-kstatus__deployment-no-status.yaml",
         {State::progressing, "Waiting for deployment spec update to be observed"}},
        {"cli-utils-kstatus__statefulset-less-ready.yaml",
         {State::progressing, "Waiting for 2 pods to be ready"}},
        {"cli-utils-kstatus__daemonset-stale-observed-generation.yaml",
         {State::progressing, "Waiting for daemon set spec update to be observed"}},
        {"argo-cd-actions__daemonset-healthy.yaml",
         {State::complete, "daemon set \"daemonset\" successfully rolled out"}},
        {"gitops-engine__daemonset-ondelete.yaml",
         {State::complete, "daemon set \"fluentd-elasticsearch\" has every pod ready (OnDelete)"}},
    };
    for (const auto& entry : expected) {
      const Rollout rollout = rollout_status(workload(entry.first));
      INFO(entry.first << ": " << rollout.message);
      CHECK(rollout.state == entry.second.first);
      CHECK(rollout.message == entry.second.second);
    }
    for (const char* file : {"argo-cd-actions__statefulset-rollingupdate-healthy.yaml",
                             "gitops-engine__statefulset-healthy.yaml"}) {
      const Rollout rollout = rollout_status(workload(file));
      INFO(file << ": " << rollout.message);
      CHECK(rollout.state == State::complete);
    }
    const Rollout paused = rollout_status(workload("gitops-engine__deployment-paused.yaml"));
    CHECK(paused.state == State::progressing);
    CHECK(paused.message.ends_with(
        "(the deployment is paused: it will not finish until it is resumed)"));
  }

  TEST_CASE("kubernetes: a deployment's rollout, step by step" *
            doctest::skip(!promote::test::has_corpus())) {
    json object = workload("gitops-engine__deployment-live-healthy.json");
    REQUIRE(rollout_status(object).state == State::complete);
    // A new spec the controller has not seen yet.
    object["metadata"]["generation"] = object["status"]["observedGeneration"].get<int>() + 1;
    CHECK(rollout_status(object).message == "Waiting for deployment spec update to be observed");
    // Seen; one of two new replicas up, then both with an old one still there, then available.
    object["status"]["observedGeneration"] = object["metadata"]["generation"];
    object["spec"]["replicas"] = 2;
    object["status"]["replicas"] = 2;
    object["status"]["updatedReplicas"] = 1;
    object["status"]["availableReplicas"] = 1;
    CHECK(rollout_status(object).message ==
          "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 out of 2 new replicas "
          "have been updated");
    object["status"]["replicas"] = 3;
    object["status"]["updatedReplicas"] = 2;
    CHECK(rollout_status(object).message ==
          "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 old replicas are pending "
          "termination");
    object["status"]["replicas"] = 2;
    CHECK(rollout_status(object).message ==
          "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 of 2 updated replicas "
          "are available");
    object["status"]["availableReplicas"] = 2;
    CHECK(rollout_status(object).state == State::complete);
    // Objects that are no workload, or odd, are never a pass.
    CHECK(rollout_status(json::object()).state == State::unknown);
    CHECK(rollout_status(json{{"kind", "Service"}, {"spec", json::object()}}).message ==
          "no rollout to judge for kind 'Service': Deployment, StatefulSet and DaemonSet have one");
    object["status"] = "broken";
    CHECK(rollout_status(object).state == State::progressing);
  }

  TEST_CASE("kubernetes: a statefulset's partitioned and revisioned rollouts" *
            doctest::skip(!promote::test::has_corpus())) {
    json object = workload("argo-cd-actions__statefulset-rollingupdate-healthy.yaml");
    REQUIRE(rollout_status(object).state == State::complete);
    object["status"]["updateRevision"] = "web-7c9f8d";
    CHECK(rollout_status(object).state == State::progressing);
    CHECK(rollout_status(object).message.starts_with(
        "waiting for statefulset rolling update to complete"));
    object["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2;
    object["status"]["updatedReplicas"] = 0;
    CHECK(rollout_status(object).message ==
          "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated");
    object["status"]["updatedReplicas"] = 1;
    CHECK(rollout_status(object).message ==
          "partitioned roll out complete: 1 new pods have been updated");
  }

  TEST_CASE("kubernetes: the containers of a pipeline image run the candidate's reference") {
    json object = {
        {"kind", "Deployment"},
        {"spec",
         {{"template",
           {{"spec",
             {{"initContainers", {{{"name", "migrate"}, {"image", "ghcr.io/acme/api:1.4.1"}}}},
              {"containers",
               {{{"name", "api"}, {"image", "ghcr.io/acme/api:1.4.2"}},
                {{"name", "proxy"}, {"image", "envoyproxy/envoy:v1.30"}}}}}}}}}}};
    promote::Candidate candidate;
    candidate.images["api"] = *promote::image::parse("ghcr.io/acme/api:1.4.2");
    CHECK(promote::gates::workload_images(object) ==
          std::vector<std::string>{"ghcr.io/acme/api:1.4.1", "ghcr.io/acme/api:1.4.2",
                                   "envoyproxy/envoy:v1.30"});
    CHECK(promote::gates::images_not_candidate(object, candidate) ==
          std::vector<std::string>{
              "container migrate runs ghcr.io/acme/api:1.4.1, not ghcr.io/acme/api:1.4.2"});
    // By digest: the candidate's digest, whatever the tag says; another digest is not it.
    const std::string digest = "sha256:" + std::string(64, 'a');
    candidate.images["api"] = *promote::image::parse("ghcr.io/acme/api:1.4.2@" + digest);
    object["spec"]["template"]["spec"]["initContainers"][0]["image"] = "ghcr.io/acme/api@" + digest;
    CHECK(promote::gates::images_not_candidate(object, candidate).empty());
    object["spec"]["template"]["spec"]["containers"][0]["image"] =
        "ghcr.io/acme/api:1.4.2@sha256:" + std::string(64, 'b');
    CHECK(promote::gates::images_not_candidate(object, candidate).size() == 1);
  }

  TEST_CASE("kubernetes gate: a rollout through the API, step by step, as staging runs it" *
            doctest::skip(!promote::test::has_corpus())) {
    Cluster cluster;
    json deployment = workload("gitops-engine__deployment-live-healthy.json");
    cluster.serve(k_deployment_path, deployment);
    const std::string with = "workloads: [deployment/guestbook-ui]";
    const promote::Verdict done = cluster.ask(promote::gates::make_kubernetes, with);
    CHECK(done.status == promote::Verdict::Status::pass);
    CHECK(done.summary == "1 rolled out with the candidate's images (Deployment/guestbook-ui)");
    // A workload does not say when its rollout completed: healthy since it was seen so.
    CHECK(done.healthy_since == cluster.timeline().now_value);
    CHECK(done.details["namespace"] == "default");
    CHECK(done.details["context"] == "staging");
    const auto requests = cluster.api().requests("GET", k_deployment_path);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].header("Authorization") == std::string("Bearer ") + Cluster::k_token);

    // The candidate is 0.3 and staging still runs 0.2: not yet.
    cluster.candidate().images["guestbook"] =
        *promote::image::parse("gcr.io/heptio-images/ks-guestbook-demo:0.3");
    const promote::Verdict other = cluster.ask(promote::gates::make_kubernetes, with);
    CHECK(other.status == promote::Verdict::Status::pending);
    CHECK(other.summary ==
          "Deployment/guestbook-ui: container guestbook-ui runs "
          "gcr.io/heptio-images/ks-guestbook-demo:0.2, not "
          "gcr.io/heptio-images/ks-guestbook-demo:0.3");
    CHECK(other.retry_after == std::chrono::seconds(30));

    // Rolling out 0.3, then past its deadline.
    cluster.serve(k_deployment_path, workload("gitops-engine__deployment-progressing.yaml"));
    const promote::Verdict rolling = cluster.ask(promote::gates::make_kubernetes, with);
    CHECK(rolling.status == promote::Verdict::Status::pending);
    CHECK(rolling.summary ==
          "Waiting for deployment \"guestbook-ui\" rollout to finish: 1 old replicas are "
          "pending termination");
    cluster.serve(k_deployment_path,
                  workload("gitops-engine__deployment-progress-deadline-exceeded.yaml"));
    const promote::Verdict stuck = cluster.ask(promote::gates::make_kubernetes, with);
    CHECK(stuck.status == promote::Verdict::Status::fail);
    CHECK(stuck.summary == "deployment \"guestbook-ui\" exceeded its progress deadline");
    // The token is in no verdict.
    for (const auto& verdict : {done, other, rolling, stuck}) {
      CHECK(verdict.details.dump().find(Cluster::k_token) == std::string::npos);
    }
  }

  TEST_CASE("kubernetes gate: a selector, a missing workload and a refused token" *
            doctest::skip(!promote::test::has_corpus())) {
    Cluster cluster;
    // A list's items do not say their kind.
    json deployment = workload("gitops-engine__deployment-live-healthy.json");
    deployment.erase("kind");
    cluster.serve("/apis/apps/v1/namespaces/default/deployments",
                  json{{"kind", "DeploymentList"}, {"items", json::array({deployment})}});
    cluster.serve("/apis/apps/v1/namespaces/default/statefulsets",
                  json{{"kind", "StatefulSetList"}, {"items", json::array()}});
    cluster.serve("/apis/apps/v1/namespaces/default/daemonsets",
                  json{{"kind", "DaemonSetList"}, {"items", json::array()}});
    const promote::Verdict selected =
        cluster.ask(promote::gates::make_kubernetes, "selector: app=guestbook-ui");
    CHECK(selected.status == promote::Verdict::Status::pass);
    const auto lists =
        cluster.api().requests("GET", "/apis/apps/v1/namespaces/default/deployments");
    REQUIRE_FALSE(lists.empty());
    CHECK(lists.back().query_value("labelSelector") == "app=guestbook-ui");
    const promote::Verdict none =
        cluster.ask(promote::gates::make_kubernetes, "{selector: app=nothing, namespace: web}");
    CHECK(none.status == promote::Verdict::Status::fail);
    CHECK(none.summary ==
          "no Deployment, StatefulSet or DaemonSet in namespace web matches app=nothing");

    const promote::Verdict missing =
        cluster.ask(promote::gates::make_kubernetes, "workloads: [sts/db]");
    CHECK(missing.status == promote::Verdict::Status::fail);
    CHECK(missing.summary == "no statefulset/db in namespace default");

    cluster.serve(k_deployment_path,
                  json{{"kind", "Status"},
                       {"status", "Failure"},
                       {"reason", "Forbidden"},
                       {"code", 403},
                       {"message",
                        "deployments.apps \"guestbook-ui\" is forbidden: User "
                        "\"system:serviceaccount:ci:promote\" cannot get resource"}},
                  403);
    const promote::Verdict refused =
        cluster.ask(promote::gates::make_kubernetes, "workloads: deploy/guestbook-ui");
    CHECK(refused.status == promote::Verdict::Status::error);
    CHECK(refused.summary.find("403 Forbidden for user 'ci' (context 'staging')") !=
          std::string::npos);
    CHECK(refused.summary.find(Cluster::k_token) == std::string::npos);
  }

  TEST_CASE("kubernetes gate: its with: is checked where it is written") {
    CHECK(config_errors("namespace: shop") ==
          "promote.yaml:1:1: gate 'kubernetes' takes 'workloads' or 'selector' (one of them)");
    CHECK(config_errors("{workloads: [deployment/api], selector: app=api}") ==
          "promote.yaml:1:1: gate 'kubernetes' takes 'workloads' or 'selector' (one of them)");
    CHECK(config_errors("workloads: [pod/api]") ==
          "promote.yaml:1:12: 'workloads' entries are KIND/NAME of a deployment, statefulset or "
          "daemonset, got 'pod/api'");
    CHECK(config_errors("{workloads: deployment/api, context: ''}") ==
          "promote.yaml:1:38: 'context' must not be empty (leave it out for the default)");
  }
}
