#pragma once
// Container images in plain Kubernetes manifests (one file, any number of YAML documents), read
// and edited in place: an edit changes only the bytes of the image values, so comments, quoting,
// anchors, indentation, blank lines, line endings, a missing final newline and the documents
// that hold no matching image stay as they were.
//
// The images are `containers[].image` and `initContainers[].image` of the pod spec of a Pod
// (spec), a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job (spec.template.spec) and a
// CronJob (spec.jobTemplate.spec.template.spec), also as items of a `kind: List`. Documents of
// other kinds are left alone. Docker Hub's spellings of a repository (`nginx`, `library/nginx`,
// `docker.io/library/nginx`) are one repository; an edit keeps the spelling a value has and
// changes only its tag and digest.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

/// The distinct references, in the order they first appear, of the container images whose
/// repository (the reference without tag and digest) is `match_repository`. `file` labels error
/// messages. Fails (input, FILE:LINE:COL) on malformed YAML, a workload whose pod spec, container
/// list, container or image has the wrong type, or an image that starts with
/// `match_repository` but is not a valid reference; fails (input) when `match_repository` is not
/// a repository.
Result<std::vector<image::Reference>> get_manifest_images(std::string_view text,
                                                          const std::string& file,
                                                          const std::string& match_repository);

/// Returns `text` with every container image whose repository is `match_repository` replaced by
/// `target` (written whole: repository, tag and digest, with the quotes the value had), and the
/// number of image values it changed; the text is byte-identical and the count 0 when every
/// matching image already is `target`. Fails (input, FILE:LINE:COL) when a matching image value
/// is an alias, anchored, tagged, a block or a multi-line scalar (it is never edited elsewhere),
/// when the target has no repository, and as `get_manifest_images`.
Result<std::pair<std::string, int>> set_manifest_images(std::string_view text,
                                                        const std::string& file,
                                                        const std::string& match_repository,
                                                        const image::Reference& target);

}  // namespace promote::overlay
