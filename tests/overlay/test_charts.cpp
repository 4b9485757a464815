#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>  // initialises std::cerr before the skip decorators below use it
#include <string>
#include <vector>

#include "engine/overlay/charts.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::overlay::ChartRef;
using promote::overlay::get_chart_versions;
using promote::overlay::set_chart_versions;

const std::string k_podinfo_https = "https://stefanprodan.github.io/podinfo";
const std::string k_podinfo_oci = "oci://ghcr.io/stefanprodan/charts";

ChartRef chart_of(const std::string& chart, const std::string& repository) {
  ChartRef ref;
  ref.chart = chart;
  ref.repository = repository;
  return ref;
}

/// Each place as "WHERE WHAT = VERSION".
std::vector<std::string> places(std::string_view text, const ChartRef& chart,
                                const std::string& file = "f.yaml") {
  auto found = get_chart_versions(text, file, chart);
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  std::vector<std::string> out;
  for (const auto& place : *found) {
    out.push_back(place.where + " " + place.what + " = " + place.version);
  }
  return out;
}

std::pair<std::string, int> set_ok(std::string_view text, const ChartRef& chart,
                                   const std::string& version) {
  auto edited = set_chart_versions(text, "f.yaml", chart, version);
  REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
  // The same edit again changes nothing.
  auto again = set_chart_versions(edited->first, "f.yaml", chart, version);
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  CHECK(again->first == edited->first);
  CHECK(again->second == 0);
  return *edited;
}

std::string set_error(std::string_view text, const ChartRef& chart, const std::string& version,
                      promote::ErrorKind kind = promote::ErrorKind::input) {
  auto edited = set_chart_versions(text, "f.yaml", chart, version);
  REQUIRE_MESSAGE(edited.has_error(), "edited to: " << edited->first);
  CHECK(edited.error().kind == kind);
  return edited.error().message;
}

std::string get_error(std::string_view text, const ChartRef& chart) {
  auto found = get_chart_versions(text, "f.yaml", chart);
  REQUIRE_MESSAGE(found.has_error(), "found " << found->size() << " places");
  CHECK(found.error().kind == promote::ErrorKind::input);
  return found.error().message;
}

/// `text` with the first `from` after `after` replaced by `to`.
std::string replaced(std::string text, const std::string& after, const std::string& from,
                     const std::string& to) {
  const std::size_t at = text.find(from, text.find(after));
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// fluxcd/flux2-kustomize-helm-example: apps/base/podinfo/repository.yaml and release.yaml in one
// file, the chart pinned.
const std::string k_flux_release = R"(# podinfo from its Helm repository
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 5m
  url: https://stefanprodan.github.io/podinfo
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 50m
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      version: 6.5.0 # pinned by promote
      sourceRef:
        kind: HelmRepository
        name: podinfo
  install:
    strategy:
      name: RetryOnFailure
  # Default values
  values:
    redis:
      enabled: true
      tag: 7.2.4
)";

// fluxcd/flux2-kustomize-helm-example: apps/production/podinfo-values.yaml, a kustomize patch of
// the release above, pinned.
const std::string k_flux_patch = R"(apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  chart:
    spec:
      version: "6.5.0"
  values:
    httpRoute:
      hostnames:
        - podinfo.production
)";

// fluxcd/flux2-kustomize-helm-example: infrastructure/controllers/cert-manager.yaml, the chart
// pulled by an OCIRepository that a HelmRelease's chartRef names, pinned to a tag.
const std::string k_cert_manager = R"(---
apiVersion: v1
kind: Namespace
metadata:
  name: cert-manager
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: cert-manager
  namespace: cert-manager
spec:
  interval: 24h
  url: oci://quay.io/jetstack/charts/cert-manager
  layerSelector:
    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    operation: copy
  ref:
    tag: "v1.16.2"
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: cert-manager
  namespace: cert-manager
spec:
  interval: 12h
  chartRef:
    kind: OCIRepository
    name: cert-manager
  values:
    crds:
      enabled: true
)";

// argoproj/argo-cd docs (user-guide/helm.md): an Application of a chart from a Helm repository.
const std::string k_argo_application = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
  namespace: argocd
spec:
  project: default
  source:
    chart: podinfo
    repoURL: https://stefanprodan.github.io/podinfo
    targetRevision: 6.5.0
    helm:
      releaseName: podinfo
  destination:
    server: "https://kubernetes.default.svc"
    namespace: podinfo
)";

// argoproj/argo-cd docs (user-guide/multiple_sources.md): the chart with values from Git, and the
// same chart again from its OCI registry as Argo CD writes it, without oci://.
const std::string k_argo_multi_source = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: podinfo
  sources:
    - repoURL: 'https://stefanprodan.github.io/podinfo'
      chart: podinfo
      targetRevision: '6.5.0'
      helm:
        valueFiles:
          - $values/podinfo/values-prod.yaml
    - repoURL: 'https://github.com/acme/deploy.git'
      targetRevision: main
      ref: values
    - repoURL: ghcr.io/stefanprodan/charts   # OCI, without the scheme
      chart: podinfo
      targetRevision: "6.5.0"
)";

// argoproj/argocd-example-apps: the helm-guestbook Application, a chart in a Git repository.
const std::string k_helm_guestbook = R"(apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: helm-guestbook
spec:
  destination:
    namespace: helm-guestbook
    server: https://kubernetes.default.svc
  project: default
  source:
    path: helm-guestbook
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
)";

// argoproj/argo-cd docs (operator-manual/applicationset/Generators-List.md): one Application per
// cluster, the chart version an element key.
const std::string k_application_set = R"(apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: podinfo
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - list:
      elements:
      - cluster: staging
        url: https://staging.example.com
        chartVersion: 6.5.1
      - cluster: production
        url: https://production.example.com
        chartVersion: '6.5.0'   # promoted from staging
  template:
    metadata:
      name: 'podinfo-{{.cluster}}'
    spec:
      project: default
      source:
        repoURL: https://stefanprodan.github.io/podinfo
        chart: podinfo
        targetRevision: '{{.chartVersion}}'
        helm:
          releaseName: podinfo
      destination:
        server: '{{.url}}'
        namespace: podinfo
)";

// bitnami/charts: bitnami/wordpress/Chart.yaml, dependencies from an OCI registry as ranges.
const std::string k_bitnami_chart = R"(# Copyright Broadcom, Inc. All Rights Reserved.
# SPDX-License-Identifier: APACHE-2.0

annotations:
  category: CMS
  licenses: Apache-2.0
apiVersion: v2
appVersion: 6.6.2
dependencies:
- condition: memcached.enabled
  name: memcached
  repository: oci://registry-1.docker.io/bitnamicharts
  version: 7.x.x
- condition: mariadb.enabled
  name: mariadb
  repository: oci://registry-1.docker.io/bitnamicharts
  version: 19.x.x
- name: common
  repository: oci://registry-1.docker.io/bitnamicharts
  tags:
  - bitnami-common
  version: 2.x.x
description: A blog and content management system.
home: https://bitnami.com
keywords:
- application
- blog
name: wordpress
version: 23.1.2
)";

// An umbrella chart (helm/helm docs, charts.md: dependencies, alias, `@repo` and `alias:repo`).
const std::string k_umbrella_chart = R"(apiVersion: v2
name: shop
description: The shop and what it needs
type: application
version: 1.4.0
appVersion: "1.4.0"
dependencies:
  - name: podinfo
    version: 6.5.0
    repository: https://stefanprodan.github.io/podinfo/
  - name: podinfo
    alias: podinfo-canary
    version: "6.5.0"
    repository: "@podinfo"
  - name: podinfo
    alias: podinfo-old
    version: '6.4.0'
    repository: alias:podinfo
  - name: redis
    version: 18.6.1
    repository: oci://registry-1.docker.io/bitnamicharts
  - name: podinfo
    version: 6.5.0
    repository: file://../podinfo
)";

// kubernetes-sigs/kustomize: examples/chart.md, a chart inflated by kustomize --enable-helm.
const std::string k_kustomization = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
helmCharts:
- name: minecraft
  includeCRDs: false
  valuesInline:
    minecraftServer:
      eula: true
      difficulty: hard
      rcon:
        enabled: true
  releaseName: moria
  version: 3.1.3
  repo: https://itzg.github.io/minecraft-server-charts
- name: minecraft
  releaseName: gondor
  version: 3.1.3
  repo: https://example.com/other-charts
)";

}  // namespace

TEST_SUITE("overlay") {
  TEST_CASE("get_chart_versions finds the version of a Flux HelmRelease and where it is") {
    CHECK(places(k_flux_release, chart_of("podinfo", k_podinfo_https), "release.yaml") ==
          std::vector<std::string>{
              "release.yaml:22:16 HelmRelease podinfo: spec.chart.spec.version = 6.5.0"});
    // A trailing '/' and the case of scheme and host do not count; the path's case does.
    CHECK(places(k_flux_release, chart_of("podinfo", "HTTPS://Stefanprodan.GitHub.io/podinfo/"))
              .size() == 1);
    CHECK(places(k_flux_release, chart_of("podinfo", "https://stefanprodan.github.io/Podinfo"))
              .empty());
    // The HelmRepository of the file that the release names has another URL.
    CHECK(places(k_flux_release, chart_of("podinfo", k_podinfo_oci)).empty());
    // Without a repository, the chart's name alone; another chart is not it.
    CHECK(places(k_flux_release, chart_of("podinfo", "")).size() == 1);
    CHECK(places(k_flux_release, chart_of("redis", "")).empty());
    // The release alone: no HelmRepository to compare, the name decides.
    const std::string release_only = k_flux_release.substr(k_flux_release.find("---\n") + 4);
    CHECK(places(release_only, chart_of("podinfo", k_podinfo_oci)).size() == 1);
    // A chart from a GitRepository has no version Flux reads.
    CHECK(places(replaced(k_flux_release, "sourceRef", "HelmRepository", "GitRepository"),
                 chart_of("podinfo", ""))
              .empty());
    // A release of another API group is not Flux's.
    CHECK(places(replaced(k_flux_release, "---", "helm.toolkit.fluxcd.io", "helm.example.com"),
                 chart_of("podinfo", ""))
              .empty());
    // A kustomize patch that names no chart is the chart's when the release has its name.
    CHECK(places(k_flux_patch, chart_of("podinfo", k_podinfo_https)) ==
          std::vector<std::string>{
              "f.yaml:9:16 HelmRelease podinfo: spec.chart.spec.version = 6.5.0"});
    CHECK(places(k_flux_patch, chart_of("redis", "")).empty());
  }

  TEST_CASE("set_chart_versions changes only the bytes of a HelmRelease's version") {
    const ChartRef podinfo = chart_of("podinfo", k_podinfo_https);
    const auto [edited, count] = set_ok(k_flux_release, podinfo, "6.5.1");
    CHECK(count == 1);
    CHECK(edited == replaced(k_flux_release, "chart: podinfo", "6.5.0", "6.5.1"));
    // Already there: the text byte for byte.
    CHECK(set_ok(k_flux_release, podinfo, "6.5.0") == std::pair{k_flux_release, 0});
    // Another chart's file is left alone.
    CHECK(set_ok(k_flux_release, chart_of("redis", ""), "7.2.5") == std::pair{k_flux_release, 0});
    // A version YAML would read as a number is quoted; a quoted one keeps its quotes.
    CHECK(set_ok(k_flux_release, podinfo, "1.10").first ==
          replaced(k_flux_release, "chart: podinfo", "6.5.0", "\"1.10\""));
    CHECK(set_ok(k_flux_patch, podinfo, "6.6.0-rc.1+build.7").first ==
          replaced(k_flux_patch, "spec:", "\"6.5.0\"", "\"6.6.0-rc.1+build.7\""));
  }

  TEST_CASE(
      "get_chart_versions reads a Flux OCIRepository's tag, its semver range and its digest") {
    const ChartRef cert_manager = chart_of("cert-manager", "oci://quay.io/jetstack/charts");
    CHECK(places(k_cert_manager, cert_manager, "cert-manager.yaml") ==
          std::vector<std::string>{
              "cert-manager.yaml:19:10 OCIRepository cert-manager: spec.ref.tag = v1.16.2"});
    // The repository may be given as the chart's own URL, or not at all.
    CHECK(places(k_cert_manager, chart_of("cert-manager",
                                          "oci://quay.io/jetstack/charts/"
                                          "cert-manager"))
              .size() == 1);
    CHECK(places(k_cert_manager, chart_of("cert-manager", "")).size() == 1);
    CHECK(
        places(k_cert_manager, chart_of("cert-manager", "oci://ghcr.io/jetstack/charts")).empty());
    CHECK(places(k_cert_manager, chart_of("charts", "oci://quay.io/jetstack")).empty());
    // Flux prefers a semver range to the tag, and a digest to both.
    const std::string ranged =
        replaced(k_cert_manager, "ref:", "tag: \"v1.16.2\"", "semver: \"1.x\"\n    tag: v1.16.2");
    CHECK(
        places(ranged, cert_manager) ==
        std::vector<std::string>{"f.yaml:19:13 OCIRepository cert-manager: spec.ref.semver = 1.x"});
    const std::string digest = "sha256:" + std::string(64, 'a');
    const std::string pinned =
        replaced(k_cert_manager, "ref:", "tag: \"v1.16.2\"", "digest: " + digest + "\n    tag: x");
    CHECK(places(pinned, cert_manager) ==
          std::vector<std::string>{"f.yaml:19:13 OCIRepository cert-manager: spec.ref.digest = " +
                                   digest});
    // An empty semver is none.
    CHECK(places(replaced(k_cert_manager, "ref:", "tag:", "semver: ''\n    tag:"), cert_manager)
              .back() == "f.yaml:20:10 OCIRepository cert-manager: spec.ref.tag = v1.16.2");
  }

  TEST_CASE("set_chart_versions sets an OCIRepository's tag and refuses its range and digest") {
    const ChartRef cert_manager = chart_of("cert-manager", "oci://quay.io/jetstack/charts");
    const auto [edited, count] = set_ok(k_cert_manager, cert_manager, "v1.17.0");
    CHECK(count == 1);
    CHECK(edited == replaced(k_cert_manager, "ref:", "\"v1.16.2\"", "\"v1.17.0\""));
    const std::string ranged = replaced(k_cert_manager, "ref:", "tag: \"v1.16.2\"", "semver: 1.x");
    CHECK(set_error(ranged, cert_manager, "v1.17.0") ==
          "f.yaml:19:13: cannot set OCIRepository cert-manager: spec.ref.semver: Flux reads '1.x' "
          "as a version range, and promote replaces only exact versions (spec.ref.tag)");
    const std::string pinned = replaced(k_cert_manager, "ref:", "tag: \"v1.16.2\"",
                                        "digest: sha256:" + std::string(64, 'a'));
    CHECK(set_error(pinned, cert_manager, "v1.17.0") ==
          "f.yaml:19:13: cannot set OCIRepository cert-manager: spec.ref.digest: the chart is "
          "pinned by digest, and promote sets versions (spec.ref.tag)");
  }

  TEST_CASE("get_chart_versions finds the targetRevision of each Argo CD source of the chart") {
    CHECK(places(k_argo_application, chart_of("podinfo", k_podinfo_https), "app.yaml") ==
          std::vector<std::string>{
              "app.yaml:11:21 Application podinfo: spec.source.targetRevision = 6.5.0"});
    CHECK(places(k_argo_application, chart_of("podinfo", k_podinfo_oci)).empty());
    CHECK(places(k_argo_multi_source, chart_of("podinfo", k_podinfo_https)) ==
          std::vector<std::string>{
              "f.yaml:14:23 Application podinfo: spec.sources[0].targetRevision = 6.5.0"});
    // Argo CD writes an OCI registry without oci://; either spelling matches.
    const std::vector<std::string> oci = {
        "f.yaml:23:23 Application podinfo: spec.sources[2].targetRevision = 6.5.0"};
    CHECK(places(k_argo_multi_source, chart_of("podinfo", k_podinfo_oci)) == oci);
    CHECK(places(k_argo_multi_source, chart_of("podinfo", "ghcr.io/stefanprodan/charts")) == oci);
    CHECK(places(k_argo_multi_source, chart_of("podinfo", "")).size() == 2);
    // Argo CD 3.1's OCI source: no chart, the repoURL is the chart's.
    const std::string native = replaced(
        k_argo_application, "source:", "    chart: podinfo\n    repoURL: " + k_podinfo_https,
        "    repoURL: " + k_podinfo_oci + "/podinfo\n    path: .");
    CHECK(places(native, chart_of("podinfo", k_podinfo_oci)) ==
          std::vector<std::string>{
              "f.yaml:11:21 Application podinfo: spec.source.targetRevision = 6.5.0"});
    CHECK(places(native, chart_of("podinfo", "")).size() == 1);
    // A chart in a Git repository has no chart version: its targetRevision is a Git revision.
    CHECK(places(k_helm_guestbook, chart_of("helm-guestbook", "")).empty());
    CHECK(places(k_helm_guestbook,
                 chart_of("helm-guestbook", "https://github.com/argoproj/argocd-example-apps.git"))
              .empty());
  }

  TEST_CASE("set_chart_versions edits each matching Argo CD source and keeps its quotes") {
    const auto [edited, count] = set_ok(k_argo_multi_source, chart_of("podinfo", ""), "6.6.0");
    CHECK(count == 2);
    CHECK(edited == replaced(replaced(k_argo_multi_source, "chart: podinfo", "'6.5.0'", "'6.6.0'"),
                             "# OCI", "\"6.5.0\"", "\"6.6.0\""));
    CHECK(set_ok(k_argo_application, chart_of("podinfo", k_podinfo_https), "6.6.0").first ==
          replaced(k_argo_application, "targetRevision", "6.5.0", "6.6.0"));
    CHECK(set_ok(k_helm_guestbook, chart_of("helm-guestbook", ""), "1.0.0") ==
          std::pair{k_helm_guestbook, 0});
  }

  TEST_CASE("an ApplicationSet's template expression leads to the version in each list element") {
    ChartRef podinfo = chart_of("podinfo", k_podinfo_https);
    CHECK(places(k_application_set, podinfo, "appset.yaml") ==
          std::vector<std::string>{"appset.yaml:14:23 ApplicationSet podinfo: "
                                   "spec.generators[0].list.elements[0].chartVersion = 6.5.1",
                                   "appset.yaml:17:23 ApplicationSet podinfo: "
                                   "spec.generators[0].list.elements[1].chartVersion = 6.5.0"});
    podinfo.elements = {{"cluster", "production"}};
    CHECK(places(k_application_set, podinfo).size() == 1);
    const auto [edited, count] = set_ok(k_application_set, podinfo, "6.5.1");
    CHECK(count == 1);
    CHECK(edited == replaced(k_application_set, "production", "'6.5.0'", "'6.5.1'"));
    podinfo.elements = {{"cluster", "qa"}};
    CHECK(places(k_application_set, podinfo).empty());
    // The filter cannot select by the key that holds the version: the edit would unselect it.
    podinfo.elements = {{"chartVersion", "6.5.0"}};
    CHECK(set_error(k_application_set, podinfo, "6.5.2") ==
          "f.yaml:17:23: cannot set ApplicationSet podinfo: "
          "spec.generators[0].list.elements[1].chartVersion: the element filter selects elements "
          "by this key");
    podinfo.elements.clear();
    CHECK(set_ok(k_application_set, podinfo, "6.6.0").second == 2);

    // The fasttemplate form, a key under `values`, inside a matrix generator.
    const std::string fast = R"(apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: podinfo
spec:
  generators:
    - matrix:
        generators:
          - clusters: {}
          - list:
              elements:
                - env: staging
                  values:
                    chart: "6.5.1"
                - env: production
                  values: {chart: 6.5.0}
                - env: dev
  template:
    metadata:
      name: 'podinfo-{{env}}'
    spec:
      project: default
      sources:
        - chart: podinfo
          repoURL: oci://ghcr.io/stefanprodan/charts
          targetRevision: "{{ values.chart }}"
      destination:
        server: '{{server}}'
        namespace: podinfo
)";
    CHECK(places(fast, chart_of("podinfo", k_podinfo_oci)) ==
          std::vector<std::string>{
              "f.yaml:14:28 ApplicationSet podinfo: "
              "spec.generators[0].matrix.generators[1].list.elements[0].values.chart = 6.5.1",
              "f.yaml:16:35 ApplicationSet podinfo: "
              "spec.generators[0].matrix.generators[1].list.elements[1].values.chart = 6.5.0"});
    CHECK(set_ok(fast, chart_of("podinfo", k_podinfo_oci), "6.5.1").first ==
          replaced(fast, "production", "6.5.0", "6.5.1"));

    // A literal targetRevision in the template is the place itself.
    const std::string literal =
        replaced(k_application_set, "template:", "'{{.chartVersion}}'", "6.4.0");
    CHECK(places(literal, chart_of("podinfo", "")) ==
          std::vector<std::string>{
              "f.yaml:26:25 ApplicationSet podinfo: spec.template.spec.source.targetRevision = "
              "6.4.0"});
    // Another template expression is reported as it is and never edited.
    const std::string piped = replaced(k_application_set, "template:", "'{{.chartVersion}}'",
                                       "'{{ .chartVersion | default \"6.5.0\" }}'");
    CHECK(places(piped, chart_of("podinfo", "")) ==
          std::vector<std::string>{
              "f.yaml:26:25 ApplicationSet podinfo: spec.template.spec.source.targetRevision = {{ "
              ".chartVersion | default \"6.5.0\" }}"});
    CHECK(set_error(piped, chart_of("podinfo", ""), "6.6.0") ==
          "f.yaml:26:25: cannot set ApplicationSet podinfo: spec.template.spec.source."
          "targetRevision: '{{ .chartVersion | default \"6.5.0\" }}' is a template expression, "
          "which promote never edits");
    // Values from other generators are not in the file.
    const std::string clusters =
        replaced(k_application_set, "generators:",
                 k_application_set.substr(
                     k_application_set.find("  - list:"),
                     k_application_set.find("  template:") - k_application_set.find("  - list:")),
                 "  - clusters: {}\n");
    CHECK(places(clusters, chart_of("podinfo", "")).empty());
  }

  TEST_CASE(
      "get_chart_versions reads a Chart.yaml's dependencies and, when asked, its own version") {
    const ChartRef common = chart_of("common", "oci://registry-1.docker.io/bitnamicharts");
    CHECK(places(k_bitnami_chart, common, "Chart.yaml") ==
          std::vector<std::string>{"Chart.yaml:22:12 Chart wordpress: dependencies[2].version = "
                                   "2.x.x"});
    CHECK(set_error(k_bitnami_chart, common, "2.31.0") ==
          "f.yaml:22:12: cannot set Chart wordpress: dependencies[2].version: '2.x.x' is a "
          "version range, and promote replaces only exact versions");
    ChartRef wordpress = chart_of("wordpress", "oci://registry-1.docker.io/bitnamicharts");
    CHECK(places(k_bitnami_chart, wordpress).empty());
    wordpress.chart_version = true;
    wordpress.app_version = true;
    CHECK(places(k_bitnami_chart, wordpress) ==
          std::vector<std::string>{"f.yaml:8:13 Chart wordpress: appVersion = 6.6.2",
                                   "f.yaml:29:10 Chart wordpress: version = 23.1.2"});
    wordpress.app_version = false;
    CHECK(set_ok(k_bitnami_chart, wordpress, "23.2.0").first ==
          replaced(k_bitnami_chart, "name: wordpress", "23.1.2", "23.2.0"));

    // Dependencies named by URL (a trailing '/' aside), by `@repo` and `alias:repo` (compared by
    // name), not from a local directory.
    const ChartRef podinfo = chart_of("podinfo", k_podinfo_https);
    CHECK(places(k_umbrella_chart, podinfo) ==
          std::vector<std::string>{"f.yaml:9:14 Chart shop: dependencies[0].version = 6.5.0",
                                   "f.yaml:13:14 Chart shop: dependencies[1].version = 6.5.0",
                                   "f.yaml:17:14 Chart shop: dependencies[2].version = 6.4.0"});
    const auto [edited, count] = set_ok(k_umbrella_chart, podinfo, "6.5.1");
    CHECK(count == 3);
    CHECK(edited ==
          replaced(replaced(replaced(k_umbrella_chart, "- name: podinfo", "6.5.0", "6.5.1"),
                            "podinfo-canary", "\"6.5.0\"", "\"6.5.1\""),
                   "podinfo-old", "'6.4.0'", "'6.5.1'"));
    CHECK(places(k_umbrella_chart, chart_of("redis", "oci://registry-1.docker.io/bitnamicharts"))
              .size() == 1);
    // The own version only of the chart of that name; appVersion is not read as a range.
    ChartRef shop = chart_of("shop", "");
    shop.app_version = true;
    CHECK(places(k_umbrella_chart, shop) ==
          std::vector<std::string>{"f.yaml:6:13 Chart shop: appVersion = 1.4.0"});
    CHECK(set_ok(k_umbrella_chart, shop, "1.5.0").first ==
          replaced(k_umbrella_chart, "appVersion", "\"1.4.0\"", "\"1.5.0\""));
    // A Chart.yaml has no kind; a document with one is not a Chart.yaml.
    CHECK(places("kind: Chart\napiVersion: v2\nname: shop\nversion: 1.0.0\n", shop).empty());
  }

  TEST_CASE("get_chart_versions and set_chart_versions handle a kustomization's helmCharts") {
    const ChartRef minecraft =
        chart_of("minecraft", "https://itzg.github.io/minecraft-server-charts");
    CHECK(places(k_kustomization, minecraft, "kustomization.yaml") ==
          std::vector<std::string>{
              "kustomization.yaml:13:12 kustomization: helmCharts[0].version = 3.1.3"});
    CHECK(places(k_kustomization, chart_of("minecraft", "")).size() == 2);
    CHECK(set_ok(k_kustomization, minecraft, "4.0.0").first ==
          replaced(k_kustomization, "moria", "3.1.3", "4.0.0"));
    // Without apiVersion and kind, helmCharts alone makes it a kustomization.
    const std::string bare = k_kustomization.substr(k_kustomization.find("helmCharts:"));
    CHECK(places(bare, minecraft) ==
          std::vector<std::string>{"f.yaml:11:12 kustomization: helmCharts[0].version = 3.1.3"});
    // A Flux Kustomization is something else.
    CHECK(places(replaced(k_kustomization, "", "kustomize.config.k8s.io/v1beta1",
                          "kustomize.toolkit.fluxcd.io/v1"),
                 minecraft)
              .empty());
  }

  TEST_CASE(
      "set_chart_versions keeps comments, CRLF, a missing final newline and other documents") {
    const ChartRef podinfo = chart_of("podinfo", "");
    const std::string text =
        "# a release\r\napiVersion: helm.toolkit.fluxcd.io/v2beta2\r\nkind: HelmRelease\r\n"
        "metadata: {name: a}\r\nspec:\r\n  chart:\r\n    spec: {chart: podinfo, version: '6.5.0', "
        "sourceRef: {kind: HelmRepository, name: podinfo}}  # flow\r\n---\r\n"
        "apiVersion: helm.toolkit.fluxcd.io/v2beta1\r\nkind: HelmRelease\r\nmetadata:\r\n"
        "  name: b\r\nspec:\r\n  chart:\r\n    spec:\r\n      chart: podinfo\r\n"
        "      version:   6.5.0    # two\r\n---\r\nkind: ConfigMap\r\ndata:\r\n"
        "  version: 6.5.0\r\n---\r\napiVersion: helm.toolkit.fluxcd.io/v2\r\nkind: HelmRelease\r\n"
        "spec:\r\n  chart:\r\n    spec:\r\n      chart: podinfo\r\n      version: 6.5.0";
    CHECK(places(text, podinfo) ==
          std::vector<std::string>{"f.yaml:7:37 HelmRelease a: spec.chart.spec.version = 6.5.0",
                                   "f.yaml:17:18 HelmRelease b: spec.chart.spec.version = 6.5.0",
                                   "f.yaml:29:16 HelmRelease: spec.chart.spec.version = 6.5.0"});
    const auto [edited, count] = set_ok(text, podinfo, "6.10.0");
    CHECK(count == 3);
    CHECK(
        edited ==
        "# a release\r\napiVersion: helm.toolkit.fluxcd.io/v2beta2\r\nkind: HelmRelease\r\n"
        "metadata: {name: a}\r\nspec:\r\n  chart:\r\n    spec: {chart: podinfo, version: '6.10.0', "
        "sourceRef: {kind: HelmRepository, name: podinfo}}  # flow\r\n---\r\n"
        "apiVersion: helm.toolkit.fluxcd.io/v2beta1\r\nkind: HelmRelease\r\nmetadata:\r\n"
        "  name: b\r\nspec:\r\n  chart:\r\n    spec:\r\n      chart: podinfo\r\n"
        "      version:   6.10.0    # two\r\n---\r\nkind: ConfigMap\r\ndata:\r\n"
        "  version: 6.5.0\r\n---\r\napiVersion: helm.toolkit.fluxcd.io/v2\r\nkind: HelmRelease\r\n"
        "spec:\r\n  chart:\r\n    spec:\r\n      chart: podinfo\r\n      version: 6.10.0");
    // An empty version is filled; a missing one is not added.
    const std::string empty =
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec:\n"
        "  chart:\n    spec:\n      chart: podinfo\n      version:\n"
        "      sourceRef: {kind: HelmRepository, name: p}\n";
    CHECK(places(empty, podinfo) ==
          std::vector<std::string>{"f.yaml:7:7 HelmRelease: spec.chart.spec.version = "});
    CHECK(set_ok(empty, podinfo, "6.5.0").first ==
          replaced(empty, "", "version:", "version: 6.5.0"));
    const std::string missing = replaced(empty, "", "      version:\n", "");
    CHECK(set_ok(missing, podinfo, "6.5.0") == std::pair{missing, 0});
  }

  TEST_CASE(
      "set_chart_versions refuses a range, a version it cannot write, and values it cannot "
      "edit in place, naming file, line and column") {
    const ChartRef podinfo = chart_of("podinfo", "");
    const std::string head =
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n"
        "spec:\n  chart:\n    spec:\n      chart: podinfo\n";
    const auto with = [&](const std::string& version_line) { return head + version_line; };
    CHECK(set_error(with("      version: \">=1.0.0-alpha\"\n"), podinfo, "6.5.0") ==
          "f.yaml:9:16: cannot set HelmRelease podinfo: spec.chart.spec.version: '>=1.0.0-alpha' "
          "is a version range, and promote replaces only exact versions");
    CHECK(set_error(with("      version: 6.x\n"), podinfo, "6.5.0") ==
          "f.yaml:9:16: cannot set HelmRelease podinfo: spec.chart.spec.version: '6.x' is a "
          "version range, and promote replaces only exact versions");
    CHECK(set_error(with("      version: !!str 6.5.0\n"), podinfo, "6.5.1") ==
          "f.yaml:9:16: cannot edit HelmRelease podinfo: spec.chart.spec.version in place: its "
          "value has an explicit tag (such as !!str)");
    CHECK(set_error(with("      version: &v 6.5.0\n"), podinfo, "6.5.1") ==
          "f.yaml:9:16: cannot edit HelmRelease podinfo: spec.chart.spec.version in place: its "
          "value carries an anchor (&name) that aliases elsewhere may share");
    CHECK(set_error(with("      version: >-\n        6.5.0\n"), podinfo, "6.5.1") ==
          "f.yaml:9:16: cannot edit HelmRelease podinfo: spec.chart.spec.version in place: its "
          "value is a block scalar (| or >)");
    CHECK(set_error(with("      version: \"6.5.\\\n        0\"\n"), podinfo, "6.5.1") ==
          "f.yaml:9:16: cannot edit HelmRelease podinfo: spec.chart.spec.version in place: its "
          "value is not a single-line plain or quoted scalar");
    CHECK(set_error("x: &v 6.5.0\n" + with("      version: *v\n"), podinfo, "6.5.1") ==
          "f.yaml:10:7: cannot edit HelmRelease podinfo: spec.chart.spec.version in place: its "
          "value is an alias (*name) of a value anchored elsewhere, and promote does not edit "
          "through aliases (the anchor is at line 1, column 4)");
    // Through an alias of a map anchored elsewhere, but also where it is anchored.
    const std::string shared =
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n"
        "  sources:\n    - &podinfo {chart: podinfo, repoURL: x, targetRevision: 6.5.0}\n"
        "    - *podinfo\n";
    CHECK(set_error(shared, podinfo, "6.5.1") ==
          "f.yaml:6:61: cannot edit Application a: spec.sources[1].targetRevision in place: its "
          "value is an alias (*name) of a value anchored elsewhere, and promote does not edit "
          "through aliases");
    const std::string outside =
        "source: &s {chart: podinfo, repoURL: x, targetRevision: 6.5.0}\n---\n"
        "x: &s {chart: podinfo, repoURL: x, targetRevision: 6.5.0}\n"
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n"
        "  source: *s\n";
    CHECK(set_error(outside, podinfo, "6.5.1") ==
          "f.yaml:8:3: cannot edit Application a: spec.source.targetRevision in place: it lies in "
          "an alias (*name) of a map or list anchored elsewhere, and promote does not edit "
          "through aliases");
    // Already right: nothing to edit, nothing refused.
    CHECK(set_ok(outside, podinfo, "6.5.0").second == 0);
    CHECK(set_ok(with("      version: !!str 6.5.0\n"), podinfo, "6.5.0").second == 0);
    // The version itself.
    CHECK(set_error(k_flux_release, podinfo, ">=6.5.0", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to '>=6.5.0': it is a version range, and promote sets exact "
          "versions (e.g. 1.4.2)");
    CHECK(set_error(k_flux_release, podinfo, "^6 || ^7", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to '^6 || ^7': it is a version range, and promote sets "
          "exact versions (e.g. 1.4.2)");
    CHECK(set_error(k_flux_release, podinfo, "6.5.0 # x", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to '6.5.0 # x': a version holds only letters, digits, '.', "
          "'-', '+' and '_'");
    CHECK(set_error(k_flux_release, podinfo, "6.5.0\x1b[0m", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to '6.5.0\\x1b[0m': a version holds only letters, digits, "
          "'.', '-', '+' and '_'");
    CHECK(set_error(k_flux_release, podinfo, "6.5.0#x", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to '6.5.0#x': a version holds only letters, digits, '.', "
          "'-', '+' and '_'");
    CHECK(set_error(k_flux_release, podinfo, "", promote::ErrorKind::usage) ==
          "cannot set chart 'podinfo' to an empty version");
    CHECK(set_error(k_flux_release, chart_of("", ""), "6.5.0", promote::ErrorKind::usage) ==
          "f.yaml: no chart to look for (its name is empty)");
    // What is not a version but no range either is replaced.
    CHECK(set_ok(with("      version: latest\n"), podinfo, "6.5.0").first ==
          with("      version: 6.5.0\n"));
    // A value's bytes are shown escaped.
    CHECK(set_error(with("      version: \"~6\\t\"\n"), podinfo, "6.5.0") ==
          "f.yaml:9:16: cannot set HelmRelease podinfo: spec.chart.spec.version: '~6\\x09' is a "
          "version range, and promote replaces only exact versions");
  }

  TEST_CASE("get_chart_versions refuses malformed documents of the kinds it reads") {
    const ChartRef podinfo = chart_of("podinfo", "");
    CHECK(get_error("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
                    "  name: p\nspec:\n  chart: podinfo\n",
                    podinfo) ==
          "f.yaml:6:10: HelmRelease p: spec.chart must be a map (it is a "
          "string)");
    CHECK(get_error("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  sources:\n"
                    "    chart: podinfo\n",
                    podinfo) ==
          "f.yaml:5:5: Application: spec.sources must be a list (it is a "
          "map)");
    CHECK(get_error("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  sources:\n"
                    "    - podinfo\n",
                    podinfo) ==
          "f.yaml:5:7: Application: spec.sources[0] must be a map (it is a "
          "string)");
    CHECK(get_error("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n"
                    "    chart: podinfo\n    targetRevision: [6.5.0]\n",
                    podinfo) ==
          "f.yaml:6:21: Application: spec.source.targetRevision must be a "
          "string (it is a list)");
    CHECK(get_error("apiVersion: v2\nname: shop\ndependencies: podinfo\n", podinfo) ==
          "f.yaml:3:15: Chart shop: dependencies must be a list (it is a string)");
    CHECK(get_error("helmCharts:\n- name: podinfo\n  version: {v: 1}\n", podinfo) ==
          "f.yaml:3:12: kustomization: helmCharts[0].version must be a string (it is a map)");
    CHECK(get_error("kind: HelmRelease\n  bad: [\n", podinfo).starts_with("f.yaml:2:"));
    // Documents of other kinds are not read.
    CHECK(places("apiVersion: v1\nkind: ConfigMap\nspec: 1\n---\n- a\n---\nplain\n", podinfo)
              .empty());
  }

  TEST_CASE("get_chart_versions reads the chart versions of fluxcd/flux2-kustomize-helm-example" *
            doctest::skip(!promote::test::has_corpus())) {
    const fs::path root =
        *promote::test::corpus_dir() / "overlays" / "fluxcd__flux2-kustomize-helm-example";
    const auto read = [&](const std::string& file, const ChartRef& chart) {
      return places(promote::test::read_text(root / file), chart, file);
    };
    const ChartRef podinfo = chart_of("podinfo", k_podinfo_https);
    // The base release pins no version; each environment's patch pins a range.
    CHECK(read("apps/base/podinfo/release.yaml", podinfo).empty());
    CHECK(read("apps/staging/podinfo-values.yaml", podinfo) ==
          std::vector<std::string>{"apps/staging/podinfo-values.yaml:9:16 HelmRelease podinfo: "
                                   "spec.chart.spec.version = >=1.0.0-alpha"});
    CHECK(read("apps/production/podinfo-values.yaml", podinfo) ==
          std::vector<std::string>{"apps/production/podinfo-values.yaml:9:16 HelmRelease podinfo: "
                                   "spec.chart.spec.version = >=1.0.0"});
    CHECK(read("infrastructure/controllers/cert-manager.yaml",
               chart_of("cert-manager", "oci://quay.io/jetstack/charts")) ==
          std::vector<std::string>{"infrastructure/controllers/cert-manager.yaml:21:13 "
                                   "OCIRepository cert-manager: spec.ref.semver = 1.x"});
    CHECK(read("infrastructure/controllers/envoy-gateway.yaml",
               chart_of("gateway-helm", "oci://docker.io/envoyproxy")) ==
          std::vector<std::string>{"infrastructure/controllers/envoy-gateway.yaml:21:13 "
                                   "OCIRepository gateway-helm: spec.ref.semver = >= 1.8.0-rc.0"});
    // Every file reads; the ranges are refused, the rest is left byte for byte.
    int files = 0;
    for (const auto& item : fs::recursive_directory_iterator(root)) {
      if (!item.is_regular_file() || item.path().extension() != ".yaml") {
        continue;
      }
      ++files;
      const std::string file = fs::relative(item.path(), root).generic_string();
      CAPTURE(file);
      const std::string text = promote::test::read_text(item.path());
      for (const ChartRef& chart :
           {podinfo, chart_of("cert-manager", ""), chart_of("gateway-helm", "")}) {
        auto found = get_chart_versions(text, file, chart);
        REQUIRE_MESSAGE(found.has_value(), found.error().message);
        auto edited = set_chart_versions(text, file, chart, "1.2.3");
        if (found->empty()) {
          REQUIRE_MESSAGE(edited.has_value(), edited.error().message);
          CHECK(*edited == std::pair{text, 0});
        } else {
          REQUIRE(edited.has_error());
          CAPTURE(edited.error().message);
          CHECK(promote::test::contains(
              edited.error().message, " version range, and promote replaces only exact versions"));
        }
      }
    }
    CHECK(files >= 20);
  }
}
