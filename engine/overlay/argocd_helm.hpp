#pragma once
// The Helm image values an Argo CD Application passes to its chart, read and edited in place.
// Each source with a `helm` block (`spec.source`, `spec.sources[]`) has three places for them,
// highest precedence first, as Argo CD gives them to Helm:
//
//   helm.parameters    a list of {name: image.tag, value: "1.4.2", forceString: true}: the
//                      parameter whose name is the value path ("image.tag"); the last one wins
//   helm.valuesObject  a map, as a values file: the path below it
//   helm.values        a string holding a values file, usually a `|` block scalar: the path
//                      inside it
//
// Where the image lives is a HelmImage (helm.hpp), the same paths as for a values file. Each part
// (registry, repository, tag, digest, image) is read from the highest place of a source that
// holds it (has its key, even empty): what Helm gets. Inside `values`, the block's lines,
// de-indented, are edited as a values file and put back at their indentation, so only the bytes
// of values change in the file; a `values` that is not a literal block scalar (`|`, `|-`, `|2`)
// is read but not edited. Sources without a helm block, `valueFiles` and the chart's own
// values.yaml are not read: a pipeline edits values files with `set_helm_image`.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"
#include "engine/overlay/helm.hpp"

namespace promote::overlay {

/// The distinct references, in file order, that the sources of the Applications in the text give
/// Helm for the image at `where` (every `kind: Application` document, or only the one whose
/// metadata.name is `application` when that is not empty); a source holding no tag, digest or
/// image string for it gives none. Without a repository held (shape a), a reference has an empty
/// registry and path, as from `read_helm_image`. `file` labels error messages. Fails (config)
/// as `check_helm_image`; fails (input, FILE:LINE:COL of the file, also for a position inside
/// `values`) on malformed YAML (outside or inside `values`), a `spec`, `source(s)`, `helm`,
/// `parameters` (or an item), `valuesObject` or `values` of the wrong type, a path that runs
/// through something that is not a map (or list), a value that is not a string, and values that
/// do not make a valid image reference.
Result<std::vector<image::Reference>> get_argocd_helm_images(std::string_view text,
                                                             const std::string& file,
                                                             const HelmImage& where,
                                                             const std::string& application = "");

/// Returns `text` with every value the image's parts hold, in every place of every chosen
/// source, set so that the image reads back as `target`, and the number of values changed (0 and
/// the text byte for byte when all are right). The values are those `set_helm_image` writes, the
/// source's spelling of the repository kept; a missing digest is added beside the tag in
/// valuesObject or values as `set_helm_image` adds it, and nothing else is ever added.
/// Fails (input, FILE:LINE:COL) when no place of any chosen source holds the tag (or the image
/// string), when a value to change is not a single-line scalar, is an alias or anchored, lies
/// in a `values` that is not a literal block scalar, or is reached through an alias, when the
/// target has a digest and a source that holds the tag has no place for one, when the target
/// names no registry and a registry value is not Docker Hub's, when the target has no
/// repository, and as `get_argocd_helm_images`.
Result<std::pair<std::string, int>> set_argocd_helm_images(std::string_view text,
                                                           const std::string& file,
                                                           const HelmImage& where,
                                                           const image::Reference& target,
                                                           const std::string& application = "");

}  // namespace promote::overlay
