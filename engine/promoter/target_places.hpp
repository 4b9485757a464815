#pragma once
// The places of a stage's target (internal to engine/promoter: included by targets.cpp and
// target_places.cpp only): the files it names and how each holds images and chart versions,
// what each holds, and which images share one place.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"
#include "engine/overlay/charts.hpp"
#include "engine/overlay/kustomize_graph.hpp"
#include "engine/pipeline/pipeline.hpp"
#include "engine/promoter/target_texts.hpp"
#include "engine/promoter/targets.hpp"

namespace promote::promoter::detail {

enum class Kind { kustomize, helm, manifests, setters, argocd, charts };

/// One file of the target and how it holds images.
struct Place {
  Kind kind;
  std::string file;  ///< relative to the root
  const pipeline::HelmTarget* helm = nullptr;
  std::string dir;  ///< kustomize: the overlay directory, relative to the root ("" for the root)
  const pipeline::ArgoCdTarget* argocd = nullptr;
  const pipeline::ChartTarget* charts = nullptr;
};

/// Whether a place may pin chart versions: a file of target.charts, or an Argo CD Application.
bool pins_charts(const Place& place);

/// The chart as the editors look for it in a place.
overlay::ChartRef chart_ref(const pipeline::ChartSpec& chart, const Place& place);

/// The places of the stage's target under `root`, in the order of its kinds: an overlay's
/// kustomization, each values file, and each file of the other kinds' paths (directories
/// listed). Fails (config) when a path leads out of the repository; (input) when one does not
/// exist or cannot be listed.
Result<std::vector<Place>> places_of(const pipeline::Pipeline& pipeline,
                                     const pipeline::Stage& stage,
                                     const std::filesystem::path& root);

/// The names a pipeline image goes by in manifests: its match name, and its repository when
/// that differs.
std::vector<std::string> manifest_names(const pipeline::ImageSpec& image);

/// What a target holds, what each of its places holds, and where an image's value is written
/// empty.
struct Held {
  TargetImages images;
  PlaceImages places;
  EmptyValues empty;
  std::map<std::string, overlay::Rendering> renderings;  ///< per kustomization file
  std::vector<std::string> warnings;
  overlay::RenderCache cache;  ///< bases rendered while reading, for the other overlays
  TargetCharts charts;         ///< every place that pins a version of each pipeline chart
};

/// Whether a value kustomize renders is the pipeline image: its name (kustomize's, without tag
/// and digest) is the image's match or repository (in any of Docker Hub's spellings).
bool is_image(const pipeline::ImageSpec& image, const std::string& value);

/// Whether a reference read from a target is `wanted`: the same repository (any spelling; a
/// tag-only place has none), tag and digest.
bool holds(const image::Reference& held, const image::Reference& wanted);

/// What `places` hold. `cache` (what an earlier reading of these files parsed and rendered) is
/// taken over: what it holds of files that are unchanged is not parsed or rendered again. Fails
/// as read_target.
Result<Held> read_places(const pipeline::Pipeline& pipeline, const std::vector<Place>& places,
                         Texts& texts, overlay::RenderCache cache = {});

/// Fails (config) when two images live in one place of this file (a Helm value of a values file
/// or of an Argo CD Application, an entry or image of one kustomize, manifest or Argo CD name),
/// at least one of them is being set, and
/// `given` (the edits, and what the target holds for the other images) gives them different
/// values: whichever were written last would win. Setter markers name one image each.
Result<void> check_shared_places(const pipeline::Pipeline& pipeline, const Place& place,
                                 const std::string& text,
                                 const std::map<std::string, image::Reference>& given,
                                 const std::map<std::string, image::Reference>& images);

}  // namespace promote::promoter::detail
