#pragma once
// What a Kustomize overlay renders for container images, found the way kustomize builds it: the
// overlay's `resources` (files and directories, `bases` after them), its `components`, then its
// transformers in kustomize's order (`patchesStrategicMerge`, `patches`, `patchesJson6902`,
// `images`), layer by layer from the deepest base up. Only what decides an image is modelled:
// workloads' containers and init containers, resource names and namespaces (patch targets), and
// labels (label selectors). Each rendered image remembers the place that set it last, so that a
// promotion can change it there. Remote resources (URLs) are not fetched: they are named in a
// warning and skipped.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::overlay {

/// A place in a file that sets an image value.
struct ImageOrigin {
  enum class Kind {
    resource,         ///< a container's `image:` in a resource file
    strategic_merge,  ///< a container's `image:` in a strategic-merge patch
    json6902,         ///< the `value` of a JSON6902 operation
    images_entry,     ///< an `images:` entry of a kustomization (or Component)
  };
  Kind kind = Kind::resource;
  std::string file;  ///< relative to the repository root, in git's form
  int line = 0;      ///< 1-based, of the value (of the entry for images_entry)
  int column = 0;    ///< 1-based
  /// Where the value's bytes are in `file`, when it can be edited in place (a single-line plain
  /// or quoted scalar, also inside a literal block that holds an inline patch).
  bool editable = false;
  std::size_t begin = 0;
  std::size_t end = 0;
  char quote = 0;
  std::string entry;  ///< images_entry: the entry's `name`

  /// "FILE:LINE:COL".
  std::string where() const;
  /// "the images: entry 'api' at FILE:LINE:COL", "the patch at FILE:LINE:COL", ...
  std::string describe() const;
};

/// A container image of the rendered output.
struct RenderedImage {
  std::string resource;   ///< "Deployment/api" as rendered (after prefixes)
  std::string container;  ///< "containers[api]" or "initContainers[init]"
  std::string value;      ///< the image as rendered
  ImageOrigin origin;     ///< the place that set `value` last
  /// Every patch that set this image on its way, in order (the last may be `origin`).
  std::vector<ImageOrigin> patched_by;
};

/// What an overlay renders.
struct Rendering {
  std::string kustomization;  ///< the overlay's own kustomization file
  std::vector<RenderedImage> images;
  std::vector<std::string> files;     ///< every local file read, in the order read
  std::vector<std::string> warnings;  ///< remote resources skipped, ...
};

/// How the renderer sees the repository: the text of a file (relative to the root, in git's
/// form) as it is now, possibly edited in memory; and what a path is on disk. Fails (config) for
/// a path that leads out of the repository.
struct RepositoryFiles {
  std::function<Result<const std::string*>(const std::string& file)> read;
  enum class Type { missing, file, directory };
  std::function<Result<Type>(const std::string& path)> type;
};

/// What render_images (and set_image) read, kept between calls over the same repository: the
/// YAML of each text parsed, by content, and each directory rendered, with the text of every
/// file it read. A directory is taken from the cache only while those files hold the same text,
/// and a text is parsed once however many files or calls hold it: a base that many overlays
/// share is read once, and an edited target read back parses only the texts the edit made.
class RenderCache {
 public:
  RenderCache();
  ~RenderCache();
  RenderCache(RenderCache&&) noexcept;
  RenderCache& operator=(RenderCache&&) noexcept;

  /// How many texts have been parsed into the cache.
  std::size_t parse_count() const;

  struct Entries;
  std::unique_ptr<Entries> entries;
};

/// Renders the images of the overlay in `dir` (relative to the root, "" for the root itself).
/// Fails (input, FILE:LINE:COL) on a malformed kustomization, resource or patch, a resource or
/// component that does not exist, a cycle, a patch operation that cannot be applied; (config)
/// on a path that leads out of the repository; and (input) where kustomize's result cannot be
/// known without more than promote models (a JSON6902 `move`/`copy` or a replacement of a whole
/// pod spec that carries images, an unparsable label selector).
Result<Rendering> render_images(const std::string& dir, const RepositoryFiles& files,
                                RenderCache* cache = nullptr);

/// Reads ahead what render_images reads for the overlays in `dirs` (relative to the root): their
/// kustomizations, and level by level the files and directories they name (resources, bases,
/// components, patch files), and parses the texts the cache does not hold on several threads.
/// It only saves time: nothing is reported (render_images meets and reports what is wrong), and
/// a directory the cache rendered from the same files is not read again.
void prefetch(const std::vector<std::string>& dirs, const RepositoryFiles& files,
              RenderCache& cache);

/// `text` (of `file`) with each origin's value replaced by its new image; the origins must be
/// editable and in this file. The quoting of each value is kept (a plain value YAML would read
/// as something else is double-quoted), and the splice guard checks that nothing else changed.
/// Fails (input, FILE:LINE:COL) when two edits of one place want different values.
Result<std::string> set_values(std::string_view text, const std::string& file,
                               const std::vector<std::pair<ImageOrigin, std::string>>& values);

/// kustomize's split of an image into name, tag and digest ("a/b:1@sha256:x" -> a/b, 1,
/// sha256:x): a ':' before the first '/' belongs to the registry.
struct ImageParts {
  std::string name;
  std::string tag;
  std::string digest;
};
ImageParts split_image(const std::string& image);

}  // namespace promote::overlay
