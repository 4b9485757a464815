#pragma once
// A stage's target as a whole: every kustomization, Helm values file, manifest and setter-marked
// file it names, read and edited together. An edit is semantic ("set image api to X in stage
// prod"), so it can be made again on a newer tree; it is all-or-nothing: it returns the new
// contents of every file it changes, or an error and nothing.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"
#include "engine/overlay/charts.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

/// The largest target file promote reads (bytes).
inline constexpr std::uintmax_t k_max_target_file = 16u << 20;

/// A file the promotion changes, with its content before and after.
struct FileChange {
  std::string path;  ///< relative to the repository root
  std::string before;
  std::string after;
};

/// What a stage's target holds, per pipeline image name: the distinct references found, in the
/// order of the target's files (one when the target agrees with itself). Images the target does
/// not hold are absent.
using TargetImages = std::map<std::string, std::vector<image::Reference>>;

/// Every place of a stage's target that pins a version of a chart, by pipeline chart name, in
/// the order of the target's files (Argo CD Applications and target.charts).
using TargetCharts = std::map<std::string, std::vector<overlay::ChartPlace>>;

/// What each place of a target holds: place (a file the target names; for an overlay, its
/// kustomization) -> pipeline image name -> the distinct references found there, in reading order.
using PlaceImages = std::map<std::string, std::map<std::string, std::vector<image::Reference>>>;

/// What a rollback puts back place by place (edit_target): a place may get its own value of an
/// image, or be put back whole, byte for byte, as it was.
struct PlaceEdits {
  /// place -> image -> the reference that place gets instead of the one the edits give.
  std::map<std::string, std::map<std::string, image::Reference>> values;
  /// A file put back whole before any edit: it must still hold `expected` (what the promotion
  /// being undone wrote), and gets `text` (what it held before that promotion).
  struct Restore {
    std::string expected;
    std::string text;
  };
  std::map<std::string, Restore> files;  ///< path -> restore
  /// Places put back whole by `files`: not edited, and read back as these values.
  PlaceImages kept;
  /// Carried files (carried.hpp), path -> the text the release gives it: set after `files` and
  /// before any image or chart edit, so that what is read back is the whole release.
  std::map<std::string, std::string> carried;
};

/// Where an image the target does not hold is written empty (a chart's `tag: ""`), by pipeline
/// image name: FILE:LINE:COL of the value.
using EmptyValues = std::map<std::string, std::string>;

/// Where target paths resolve: the pipeline file's directory for a local repository (url "."),
/// the root of the clone for a remote one.
std::filesystem::path target_base(const pipeline::Pipeline& pipeline,
                                  const std::filesystem::path& root);

/// The stage's target paths relative to the repository root, in git's form (directories as
/// given); fails (config) when one leads out of the repository.
Result<std::vector<std::string>> target_paths(const pipeline::Pipeline& pipeline,
                                              const pipeline::Stage& stage,
                                              const std::filesystem::path& root);

/// A stage's target as read_target read it: its files and where each image lives. Given to
/// edit_target, which consumes it, it spares reading and parsing every file a second time.
class TargetReading {
 public:
  struct State;
  TargetReading();
  ~TargetReading();
  TargetReading(TargetReading&&) noexcept;
  TargetReading& operator=(TargetReading&&) noexcept;

  std::unique_ptr<State> state;
};

/// Reads the stage's target under `root`; with `keep`, keeps what it read there; with `empty`,
/// says where images it does not hold are written empty. Fails (input) when a path does not
/// exist, a file is malformed or too large, or a value is not an image reference; (config)
/// when a path leads out of the repository.
Result<TargetImages> read_target(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const std::filesystem::path& root, TargetReading* keep = nullptr,
                                 EmptyValues* empty = nullptr);

/// The changes that make the stage's target hold `images` (pipeline image name -> reference),
/// and with `charts` (pipeline chart name -> version) pin those chart versions at every place
/// that pins one (fails, config, when a chart has none; an image or chart not given is left):
/// every place each image has is set (a kustomization gets a new images: entry only when the
/// image has no place anywhere in the target). Only files that change are returned, in path
/// order. Fails (config) when an image has no place in the target, or when two images live in one
/// place (a Helm value, one kustomize, manifest or Argo CD name) and `images` gives them
/// different values, and as `read_target`; (conflict) when a file `places` puts back whole no
/// longer holds what it expects. `places`, when given, says what differs place by place. On any
/// failure no change is returned. `reading`, when it holds what read_target read of this stage
/// under this root (with nothing written there since), is used instead of reading again, and
/// is emptied.
Result<std::vector<FileChange>> edit_target(
    const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
    const std::filesystem::path& root, const std::map<std::string, image::Reference>& images,
    TargetReading* reading = nullptr, const PlaceEdits* places = nullptr,
    const std::map<std::string, std::string>* charts = nullptr);

/// Where the target pins each pipeline chart, as kept in `reading` by read_target.
TargetCharts target_charts(const TargetReading& reading);

/// What each place of the target held, as kept in `reading` by read_target.
PlaceImages target_places(const TargetReading& reading);

/// The files the values of one place (a key of PlaceImages) are written in, as kept in
/// `reading`: an overlay's own files it reads (those below its directory), else the place itself.
std::vector<std::string> place_files(const TargetReading& reading, const std::string& place);

/// What reading the target warned of (a remote resource that was not fetched), as kept in
/// `reading` by read_target.
std::vector<std::string> target_warnings(const TargetReading& reading);

}  // namespace promote::promoter
