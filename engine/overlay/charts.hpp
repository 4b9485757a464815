#pragma once
// The versions of a Helm chart that GitOps files pin, read and edited in place (only the bytes of
// the values change: comments, quoting, other keys and documents stay as they were), in every
// document of a file:
//
//   Flux HelmRelease        spec.chart.spec.version (spec.chart.spec.chart is the chart; a
//                           HelmRepository of the same file that spec.chart.spec.sourceRef names
//                           must have the repository as spec.url); in a kustomize patch that
//                           names neither chart nor sourceRef, when metadata.name is the chart
//   Flux OCIRepository      spec.ref.tag, where spec.url is the chart's (REPOSITORY/CHART); a
//                           spec.ref.semver or spec.ref.digest, which Flux prefers, is reported
//                           and never edited
//   Argo CD Application     spec.source.targetRevision, spec.sources[].targetRevision, of a source
//                           with `chart: CHART` from the repository, or an OCI source without
//                           `chart` whose repoURL is the chart's
//   Argo CD ApplicationSet  the same in spec.template.spec; a targetRevision that is a template
//                           expression ('{{chartVersion}}', '{{ .values.chart }}') leads to the key
//                           it names in each element of the list generators
//   Chart.yaml              dependencies[].version of the dependency CHART from the repository,
//                           and the chart's own version and appVersion when asked
//   kustomization           helmCharts[].version of CHART from the repository
//
// A repository matches when it is the same URL but for a trailing '/', the case of the scheme and
// host, and an oci:// that Argo CD leaves out; an empty repository matches any.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::overlay {

/// A chart, as a pipeline names it, and which of its versions a file holds are wanted.
struct ChartRef {
  std::string chart;           ///< the chart's name in its repository: "podinfo"
  std::string repository;      ///< "oci://ghcr.io/stefanprodan/charts",
                               ///< "https://stefanprodan.github.io/podinfo"
  bool chart_version = false;  ///< Chart.yaml whose own `name` is `chart`: its `version` too
  bool app_version = false;    ///< ... and its `appVersion`
  /// ApplicationSet list elements: only those whose keys hold these values ({"env": "staging"});
  /// empty: every element.
  std::map<std::string, std::string> elements;
};

/// One value that pins a version of the chart.
struct ChartPlace {
  std::string version;  ///< what it holds: "6.5.0", a range (">=1.0.0"), "" when empty
  std::string where;    ///< FILE:LINE:COL of the value (of its key when it is empty)
  std::string what;     ///< "HelmRelease podinfo: spec.chart.spec.version"
};

/// Every place of the text, in file order, that pins a version of `chart`. A place may hold a
/// range, a template expression or a digest (Flux's spec.ref.semver, spec.ref.digest): the caller
/// decides (image::is_version_range). `file` labels the places and errors. Fails (usage) when the
/// chart has no name; (input, FILE:LINE:COL) on malformed YAML, a string where the documents of
/// these kinds have a map or list (`spec`, `spec.sources`, `dependencies`, ...), and a version
/// that is a map or list.
Result<std::vector<ChartPlace>> get_chart_versions(std::string_view text, const std::string& file,
                                                   const ChartRef& chart);

/// Returns `text` with every place of `chart` set to `version`, and the number of values changed
/// (0 and the text byte for byte when all hold it). A value keeps its quotes; a plain value YAML
/// would read as something else (`1.10`) is written double-quoted. No key is ever added. Fails
/// (usage) when `version` is empty, a range, or holds a character no version holds; (input,
/// FILE:LINE:COL) as `get_chart_versions`, and when a place to change holds a range, a digest
/// or a template expression, is an alias or is reached through one, or is anchored, tagged, a
/// block scalar or on several lines; (internal) when the result does not read back as written.
Result<std::pair<std::string, int>> set_chart_versions(std::string_view text,
                                                       const std::string& file,
                                                       const ChartRef& chart,
                                                       const std::string& version);

}  // namespace promote::overlay
