// Argo CD Applications whose images live in the Helm values they pass their chart, in the layout
// of argoproj/argocd-example-apps (an Application per environment of the repository's own chart
// helm-guestbook, apps/<env>/guestbook.yaml): dev gives them as helm.parameters, staging as
// helm.valuesObject, prod, a multi-source Application (the chart's source, and a kustomize
// source for redis, as Argo CD's multiple-sources docs show), in a `values: |` block. A release
// goes dev -> staging -> prod changing only the bytes of the values, status shows it, a rollback
// puts prod back byte for byte; two images at one value and an unknown image are refused. Last,
// a Chart.yaml whose own version (and appVersion) follows the chart's.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/release_json.hpp"
#include "tests/integration/scratch_repo.hpp"

namespace {

using nlohmann::json;
using promote::test::ScratchRepo;

const char* const k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: guestbook
images:
  - name: guestbook
    repository: ghcr.io/acme/guestbook
  - name: redis
    repository: docker.io/library/redis
stages:
  - name: dev
    target:
      argocd:
        path: apps/dev/guestbook.yaml
        application: guestbook-dev
        helm:
          guestbook: { repository: image.repository, tag: image.tag }
          redis: { tag: redis.image.tag }
  - name: staging
    from: dev
    target:
      argocd:
        path: apps/staging/guestbook.yaml
        helm:
          guestbook: { repository: image.repository, tag: image.tag }
          redis: { tag: redis.image.tag }
  - name: prod
    from: staging
    target:
      argocd:
        - path: apps/prod/guestbook.yaml
          helm:
            guestbook: { repository: image.repository, tag: image.tag }
)";

std::string dev(const std::string& guestbook, const std::string& redis) {
  return "apiVersion: argoproj.io/v1alpha1\n"
         "kind: Application\n"
         "metadata:\n"
         "  name: guestbook-dev\n"
         "  namespace: argocd\n"
         "spec:\n"
         "  project: default\n"
         "  source:\n"
         "    repoURL: https://github.com/acme/gitops.git\n"
         "    targetRevision: HEAD\n"
         "    path: helm-guestbook\n"
         "    helm:\n"
         "      releaseName: guestbook\n"
         "      parameters:\n"
         "        - name: image.repository\n"
         "          value: ghcr.io/acme/guestbook\n"
         "        - name: image.tag\n"
         "          value: \"" +
         guestbook +
         "\"\n"
         "          forceString: true\n"
         "        - name: redis.image.tag\n"
         "          value: " +
         redis +
         "\n"
         "  destination:\n"
         "    server: https://kubernetes.default.svc\n"
         "    namespace: guestbook-dev\n";
}

std::string staging(const std::string& guestbook, const std::string& redis) {
  return "apiVersion: argoproj.io/v1alpha1\n"
         "kind: Application\n"
         "metadata:\n"
         "  name: guestbook-staging\n"
         "  namespace: argocd\n"
         "spec:\n"
         "  project: default\n"
         "  source:\n"
         "    repoURL: https://github.com/acme/gitops.git\n"
         "    targetRevision: HEAD\n"
         "    path: helm-guestbook\n"
         "    helm:\n"
         "      valuesObject:\n"
         "        replicaCount: 2\n"
         "        image:\n"
         "          repository: ghcr.io/acme/guestbook\n"
         "          tag: '" +
         guestbook +
         "'  # promoted from dev\n"
         "        redis:\n"
         "          image: {tag: " +
         redis +
         "}\n"
         "  destination:\n"
         "    server: https://kubernetes.default.svc\n"
         "    namespace: guestbook-staging\n";
}

std::string prod(const std::string& guestbook, const std::string& redis) {
  return "apiVersion: argoproj.io/v1alpha1\n"
         "kind: Application\n"
         "metadata:\n"
         "  name: guestbook-prod\n"
         "  namespace: argocd\n"
         "spec:\n"
         "  project: default\n"
         "  sources:\n"
         "    - repoURL: https://github.com/acme/gitops.git\n"
         "      targetRevision: HEAD\n"
         "      path: helm-guestbook\n"
         "      helm:\n"
         "        values: |\n"
         "          # prod: three replicas behind the load balancer\n"
         "          replicaCount: 3\n"
         "          image:\n"
         "            repository: ghcr.io/acme/guestbook\n"
         "            tag: " +
         guestbook +
         "\n"
         "          service:\n"
         "            type: LoadBalancer\n"
         "    - repoURL: https://github.com/acme/gitops.git\n"
         "      targetRevision: HEAD\n"
         "      path: k8s/redis\n"
         "      kustomize:\n"
         "        images:\n"
         "          - redis:" +
         redis +
         "\n"
         "  destination:\n"
         "    server: https://kubernetes.default.svc\n"
         "    namespace: guestbook-prod\n";
}

ScratchRepo shop(const std::string& pipeline = k_pipeline) {
  return ScratchRepo({{"promote.yaml", pipeline},
                      {"apps/dev/guestbook.yaml", dev("1.4.1", "7.2.4")},
                      {"apps/staging/guestbook.yaml", staging("1.4.0", "7.2.3")},
                      {"apps/prod/guestbook.yaml", prod("1.3.9", "7.2.2")}});
}

using promote::test::run_json;
using promote::test::stage_status;

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("images in Argo CD Helm parameters, valuesObject and values go dev -> prod") {
    const ScratchRepo repo = shop();
    const json before = stage_status(repo, "prod");
    CHECK(before["candidate"]["images"]["guestbook"] == "ghcr.io/acme/guestbook:1.3.9");
    CHECK(before["candidate"]["images"]["redis"] == "redis:7.2.2");

    const json to_dev =
        run_json(repo, {"--to", "dev", "--image", "guestbook=ghcr.io/acme/guestbook:1.5.0"});
    CHECK(to_dev["outcome"] == "promoted");
    CHECK(repo.file("apps/dev/guestbook.yaml") == dev("1.5.0", "7.2.4"));
    CHECK(stage_status(repo, "dev")["candidate"]["images"]["guestbook"] ==
          "ghcr.io/acme/guestbook:1.5.0");

    const auto plan = repo.promote({"--to", "staging", "--dry-run"});
    INFO(plan.out << plan.err);
    CHECK(plan.exit_code == 0);
    CHECK(plan.out.find(
              "\n  guestbook  ghcr.io/acme/guestbook:1.4.0 -> ghcr.io/acme/guestbook:1.5.0\n"
              "  redis      docker.io/library/redis:7.2.3 -> docker.io/library/redis:7.2.4\n"
              "diff it would commit\n") != std::string::npos);
    CHECK(plan.out.find("-          tag: '1.4.0'  # promoted from dev\n"
                        "+          tag: '1.5.0'  # promoted from dev\n") != std::string::npos);
    CHECK(repo.file("apps/staging/guestbook.yaml") == staging("1.4.0", "7.2.3"));

    const json to_staging = run_json(repo, {"--to", "staging"});
    CHECK(to_staging["outcome"] == "promoted");
    CHECK(to_staging["candidate"]["id"] == to_dev["candidate"]["id"]);
    CHECK(repo.file("apps/staging/guestbook.yaml") == staging("1.5.0", "7.2.4"));

    const json to_prod = run_json(repo, {"--to", "prod"});
    CHECK(to_prod["outcome"] == "promoted");
    CHECK(repo.file("apps/prod/guestbook.yaml") == prod("1.5.0", "7.2.4"));
    const std::string diff = promote::test::sh("git show --format= -U0 HEAD", repo.repo);
    CHECK(diff.find("-            tag: 1.3.9\n+            tag: 1.5.0\n") != std::string::npos);
    CHECK(diff.find("-          - redis:7.2.2\n+          - redis:7.2.4\n") != std::string::npos);
    const json now = stage_status(repo, "prod");
    CHECK(now["candidate"]["images"]["guestbook"] == "ghcr.io/acme/guestbook:1.5.0");
    CHECK(now["candidate"]["images"]["redis"] == "redis:7.2.4");
    CHECK(now["candidate"]["id"] == to_prod["candidate"]["id"]);

    // Rolled back, prod holds what it held before, byte for byte, and says so.
    const json back = run_json(repo, {"rollback", "--stage", "prod"});
    CHECK(back["outcome"] == "promoted");
    CHECK(repo.file("apps/prod/guestbook.yaml") == prod("1.3.9", "7.2.2"));
    CHECK(stage_status(repo, "prod")["candidate"]["images"]["guestbook"] ==
          "ghcr.io/acme/guestbook:1.3.9");
  }

  TEST_CASE("two images at one Argo CD Helm value with different values are refused") {
    std::string pipeline = k_pipeline;
    const std::string redis_paths = "          redis: { tag: redis.image.tag }\n";
    pipeline.replace(pipeline.find(redis_paths), redis_paths.size(),
                     "          redis: { tag: redis.image.tag }\n"
                     "          frontend: { tag: image.tag }\n");
    pipeline.replace(pipeline.find("stages:"), 0,
                     "  - name: frontend\n    repository: ghcr.io/acme/frontend\n");
    const ScratchRepo repo = shop(pipeline);
    const auto refused =
        repo.promote({"--to", "dev", "--image", "guestbook=ghcr.io/acme/guestbook:1.5.0"});
    INFO(refused.out << refused.err);
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find("apps/dev/guestbook.yaml: images 'frontend' and 'guestbook' both live "
                           "at image.tag and the candidate gives them different values ('1.4.1' "
                           "for frontend, '1.5.0' for guestbook); give them the same value, or "
                           "each image a place of its own") != std::string::npos);
    CHECK(repo.file("apps/dev/guestbook.yaml") == dev("1.4.1", "7.2.4"));

    const json same =
        run_json(repo, {"--to", "dev", "--image", "guestbook=ghcr.io/acme/guestbook:1.5.0",
                        "--image", "frontend=ghcr.io/acme/frontend:1.5.0"});
    CHECK(same["outcome"] == "promoted");
    CHECK(repo.file("apps/dev/guestbook.yaml") == dev("1.5.0", "7.2.4"));
  }

  TEST_CASE("an image of an Argo CD entry's helm: that the pipeline lacks is refused at load") {
    std::string pipeline = k_pipeline;
    const std::string redis_paths = "          redis: { tag: redis.image.tag }\n";
    pipeline.replace(pipeline.find(redis_paths), redis_paths.size(),
                     "          rdis: { tag: redis.image.tag }\n");
    const ScratchRepo repo = shop(pipeline);
    const auto refused = repo.promote({"status"});
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find(
              "promote: promote.yaml:18:11: target.argocd[].helm: the pipeline has no image "
              "'rdis' (did you mean 'redis'?)") != std::string::npos);
  }

  TEST_CASE("a Chart.yaml's own version and appVersion follow the chart's, where a stage says") {
    const char* const pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata:
  name: guestbook
images:
  - name: guestbook
    repository: ghcr.io/acme/guestbook
charts:
  - name: helm-guestbook
    repository: https://github.com/acme/gitops.git
stages:
  - name: dev
    target:
      helm: { file: envs/dev/helm-guestbook/values.yaml, images: { guestbook: { tag: image.tag } } }
      charts: { path: envs/dev/helm-guestbook/Chart.yaml, version: true, app_version: true }
  - name: prod
    from: dev
    target:
      helm: { file: envs/prod/helm-guestbook/values.yaml, images: { guestbook: { tag: image.tag } } }
      charts:
        - { path: envs/prod/helm-guestbook/Chart.yaml, version: true }
)";
    // The shapes of helm-guestbook/Chart.yaml and values.yaml of argoproj/argocd-example-apps.
    const auto chart = [](const std::string& version, const std::string& app_version) {
      return "apiVersion: v2\n"
             "name: helm-guestbook\n"
             "description: A Helm chart for Kubernetes\n"
             "type: application\n"
             "version: " +
             version +
             "\n"
             "appVersion: \"" +
             app_version + "\"\n";
    };
    const std::string values =
        "replicaCount: 1\nimage:\n  repository: ghcr.io/acme/guestbook\n  tag: 0.1.0\n"
        "  pullPolicy: IfNotPresent\n";
    const ScratchRepo repo({{"promote.yaml", pipeline},
                            {"envs/dev/helm-guestbook/Chart.yaml", chart("0.1.0", "0.1.0")},
                            {"envs/dev/helm-guestbook/values.yaml", values},
                            {"envs/prod/helm-guestbook/Chart.yaml", chart("0.1.0", "1.0")},
                            {"envs/prod/helm-guestbook/values.yaml", values}});
    const json to_dev = run_json(repo, {"--to", "dev", "--chart", "helm-guestbook=0.2.0"});
    CHECK(to_dev["outcome"] == "promoted");
    CHECK(repo.file("envs/dev/helm-guestbook/Chart.yaml") == chart("0.2.0", "0.2.0"));
    CHECK(stage_status(repo, "dev")["candidate"]["charts"] == json{{"helm-guestbook", "0.2.0"}});

    const json to_prod = run_json(repo, {"--to", "prod"});
    CHECK(to_prod["candidate"]["charts"] == json{{"helm-guestbook", "0.2.0"}});
    CHECK(repo.file("envs/prod/helm-guestbook/Chart.yaml") == chart("0.2.0", "1.0"));

    // Without version: true, a Chart.yaml's own version is not a place of the chart.
    std::string plain = pipeline;
    const std::string flags = ", version: true, app_version: true }";
    plain.replace(plain.find(flags), flags.size(), " }");
    promote::test::write_text(repo.repo / "promote.yaml", plain);
    promote::test::sh("git commit -qam 'dev: no own version'", repo.repo);
    const auto none = repo.promote({"--to", "dev", "--chart", "helm-guestbook=0.3.0"});
    CHECK(none.exit_code == 2);
    CHECK(none.err.find("stage 'dev' pins no version of chart 'helm-guestbook' in its target") !=
          std::string::npos);
    CHECK(repo.file("envs/dev/helm-guestbook/Chart.yaml") == chart("0.2.0", "0.2.0"));
  }
}
