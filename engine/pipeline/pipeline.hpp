#pragma once
// The pipeline file (promote.yaml): the typed model and its loader. The loader
// validates everything once and reports every problem as FILE:LINE:COL: message.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/overlay/helm.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::pipeline {

/// An image the pipeline promotes.
struct ImageSpec {
  std::string name;        ///< the pipeline's name for it ("api"), used by --image
  std::string repository;  ///< "ghcr.io/acme/api"
  std::string match;       ///< the name kustomize's images[].name uses; defaults to repository
  std::string group;       ///< `group:` ("backend"), for --group and a stage's group; may be ""
  Location where;
};

/// A Helm chart the pipeline promotes (README "Releases").
struct ChartSpec {
  std::string name;        ///< the pipeline's name for it ("podinfo"), used by --chart
  std::string chart;       ///< the chart's name in its repository; defaults to `name`
  std::string repository;  ///< "oci://ghcr.io/stefanprodan/charts" or an https chart repository
  Location where;
};

/// Files that pin chart versions (Flux HelmRelease and OCIRepository, Argo CD Application and
/// ApplicationSet, Chart.yaml, a kustomization's helmCharts), and for an ApplicationSet which
/// list elements are the stage's.
struct ChartTarget {
  std::string path;  ///< a file, or a directory of *.yaml / *.yml; relative to the root
  std::map<std::string, std::string> elements;  ///< ApplicationSet elements: {"env": "prod"}
  bool chart_version = false;  ///< `version: true`: a Chart.yaml of the chart pins its `version`
  bool app_version = false;    ///< `app_version: true`: ... and its `appVersion`
  Location where;
};

/// A Helm values file and where each pipeline image lives in it.
struct HelmTarget {
  std::string file;  ///< relative to the repository root
  std::map<std::string, overlay::HelmImage> images;  ///< pipeline image name -> its value paths
  overlay::HelmDocument document;  ///< the document of the file that holds them (`document:`)
  Location where;
  Location file_where;  ///< where `file:` is written
  /// Where each value path is written, by pipeline image name and part ("tag", "image", ...).
  std::map<std::pair<std::string, std::string>, Location> path_where;
};

/// Argo CD Application files whose kustomize.images (or, for the images `helm` names, Helm
/// values) a stage's images are set in.
struct ArgoCdTarget {
  std::string path;         ///< a file, or a directory of *.yaml / *.yml; relative to the root
  std::string application;  ///< only the Application with this metadata.name; "": every one
  /// `helm:`: pipeline image name -> its value paths in the Helm values of each source
  /// (helm.parameters, helm.valuesObject, helm.values); the other images are kustomize's.
  std::map<std::string, overlay::HelmImage> helm;
  Location where;
  /// Where each value path of `helm` is written, by pipeline image name and part ("tag", ...).
  std::map<std::pair<std::string, std::string>, Location> path_where;
};

/// Where a stage's images live in the repository: any mix of the kinds, each path relative
/// to the repository root and checked to stay inside it.
struct Target {
  std::vector<std::string> kustomize;  ///< overlay directories (their kustomization's images:)
  std::vector<HelmTarget> helm;        ///< values files
  std::vector<std::string> manifests;  ///< manifest files, or directories of *.yaml / *.yml
  std::vector<std::string> setters;    ///< files with $imagepolicy markers, or directories
  std::vector<ArgoCdTarget> argocd;    ///< Argo CD Applications (kustomize.images, Helm values)
  std::vector<ChartTarget> charts;     ///< files that pin chart versions
  Location where;
  /// Where each path of `kustomize`, `manifests` and `setters` is written in the pipeline file,
  /// by kind and path: {"kustomize", "k8s/overlays/dev"}.
  std::map<std::pair<std::string, std::string>, Location> path_where;
  /// Every path named, in the order above (directories as given).
  std::vector<std::string> paths() const;
  /// Where a path of `kind` ("kustomize", "manifests", "setters") is written; `where` when it
  /// is not known.
  Location where_of(const std::string& kind, const std::string& path) const;
};

/// A file, or some keys of one, that a stage carries from its source stage (`carry:`; README
/// "Carried files"): the source stage's bytes (or values) are written into this stage's file as
/// part of the promotion.
struct CarrySpec {
  std::string name;    ///< the release's name for it: `name:`, else the pattern as written
  std::string source;  ///< the file in the source stage, relative to where target paths are
  std::string target;  ///< the file in this stage, likewise
  std::vector<std::string> keys;  ///< dotted paths of the values carried; empty: the whole file
  bool overwrite =
      false;  ///< a hand edit of the stage's file since its last promotion is no conflict
  Location where;
};

/// A carried file as a stage holds it (in its own `carry:`, or as the source of another stage's).
struct CarriedFile {
  std::string name;
  std::string path;  ///< relative to where target paths are
  std::vector<std::string> keys;
};

/// How a pull-request stage opens its pull/merge request.
struct PullRequestSpec {
  std::vector<std::string> labels;
  std::vector<std::string> reviewers;
  bool close_superseded = true;  ///< a newer candidate closes the older open PR (else keeps it)
};

/// One `use:` entry of a stage, with its gate built from a validated `with:`.
struct GateSpec {
  std::string name;  ///< unique in the stage; defaults to `use`
  std::string use;
  std::chrono::seconds timeout{300};  ///< per attempt
  int retries = 0;                     ///< extra attempts after an `error` verdict
  std::shared_ptr<Gate> gate;
  Location where;
};

enum class Strategy { commit, pull_request };

struct Stage {
  std::string name;
  std::optional<std::string> from;
  /// `group:`: the stage promotes only the images of this group (the others stay as they are and
  /// are not part of its candidate); "": every image.
  std::string group;
  /// `keep_range:`: charts whose version the stage's target pins as a range (`>=1.0.0`), which
  /// the stage keeps: they are not part of its candidate and are never edited there.
  std::vector<std::string> keep_range;
  Target target;
  std::vector<CarrySpec> carry;  ///< `carry:`: what the stage carries from its source stage
  Strategy strategy = Strategy::commit;
  PullRequestSpec pull_request;
  bool fail_fast = true;             ///< stop the other gates once the outcome is decided
  /// `auto: true`: `promote serve` promotes into the stage as soon as its gates pass.
  bool automatic = false;
  std::size_t max_concurrency = 0;   ///< gates evaluated at once; 0: all
  std::vector<GateSpec> gates;
  /// `verify:`: gates that observe the stage's own running system (argocd, flux, kubernetes),
  /// which `promote verify --stage` runs on what the stage holds.
  std::vector<GateSpec> verify;
  Location where;
};

struct RepositorySpec {
  std::string url = ".";  ///< "." (or absent): the repository holding the pipeline file
  std::string branch = "main";
  std::string provider;   ///< github, gitlab, gitea or ""
  std::string remote = "origin";
  std::string api;        ///< the forge's API base URL; default from the provider (github.com, ...)
  std::string project;    ///< "owner/repo" (GitLab: the project path); default from `url`
  bool is_local() const { return url == "."; }
};

/// What promote trusts of the records kept in git (`trust:`; README "Trust and threats").
struct TrustSpec {
  /// `trust.signed`: only records (note lines, promote commits) signed by a key of
  /// `allowed_signers` count; promote signs what it writes.
  bool signed_records = false;
  /// `trust.allowed_signers`: the file of who may sign (ssh-keygen's ALLOWED SIGNERS format,
  /// git's gpg.ssh.allowedSignersFile), absolute; empty unless signed_records.
  std::filesystem::path allowed_signers;
};

struct Pipeline {
  std::filesystem::path file;      ///< absolute path of the pipeline file
  std::filesystem::path base_dir;  ///< its directory: relative report paths resolve here
  std::string name;
  RepositorySpec repository;
  std::vector<ImageSpec> images;
  std::vector<ChartSpec> charts;
  std::vector<Stage> stages;
  TrustSpec trust;
  /// `interval:`: how often `promote serve` evaluates an `auto` stage whose gates name no time
  /// to look again (default 1m, at least 10s).
  std::chrono::seconds interval{60};

  const Stage* find_stage(std::string_view stage) const;
  /// The stage named `stage`; fails (usage) when there is none: "the pipeline has no stage
  /// 'prd' (did you mean 'prod'?)".
  Result<const Stage*> stage_named(std::string_view stage) const;
  const ImageSpec* find_image(std::string_view image) const;
  /// The images a stage promotes: every image, or those of its group, in declaration order.
  std::vector<const ImageSpec*> images_of(const Stage& stage) const;
  const ChartSpec* find_chart(std::string_view chart) const;
  /// The charts a stage promotes: every chart but those it keeps as a range.
  std::vector<const ChartSpec*> charts_of(const Stage& stage) const;
  std::vector<std::string> chart_names() const;
  /// The carried files a stage holds, by name: those it carries (its side of each), then those
  /// a stage coming from it carries from it (the load checked that one name is one file there).
  std::vector<CarriedFile> carried_in(const Stage& stage) const;
  std::vector<std::string> stage_names() const;
  std::vector<std::string> image_names() const;
};

/// The gate types a pipeline may use; the built-in table implements it (gates/).
class GateCatalog {
 public:
  virtual ~GateCatalog() = default;
  /// Whether `use` names a gate type.
  virtual bool knows(std::string_view use) const = 0;
  /// Builds a gate; reports problems of `with` through its diagnostics; nullptr when invalid.
  virtual std::unique_ptr<Gate> make(std::string_view use, const ConfigNode& with) const = 0;
  virtual std::vector<std::string> names() const = 0;
};

/// Loads and validates a pipeline file. Fails (config) with every problem found, one
/// per line, each `FILE:LINE:COL: message`; FILE is the path as given.
Result<Pipeline> load(const std::filesystem::path& file, const GateCatalog& gates);

/// Checks that `relative` stays inside `root` on disk: not absolute, no `..` that
/// leaves it, no symlink that leads out. Returns the reason it does not, or "".
std::string escapes_root(const std::filesystem::path& root, const std::string& relative);

}  // namespace promote::pipeline
