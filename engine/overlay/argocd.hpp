#pragma once
// The images an Argo CD Application overrides: `spec.source.kustomize.images` and
// `spec.sources[].kustomize.images`, lists of strings in the form `kustomize edit set image`
// takes (and Argo CD's `argocd app set --kustomize-image` writes):
//
//   name=newName:newTag@digest   name=newName:newTag   name=newName@digest   name=newName
//   name:newTag                  name@digest           name:newTag@digest
//
// The entry belongs to the image whose kustomize name (`match`) is its `name`, the part before
// '=' or, without one, the repository of the whole string; Docker Hub's spellings of a name
// are one name. Read and edited in place, in files of any number of documents: only the
// bytes of the entries change, so comments, quoting, other keys and documents stay as they were.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

/// The distinct references, in file order, that the entries for `match` give, in every
/// `kind: Application` document of the text (or only in the one whose metadata.name is
/// `application`, when that is not empty). An entry without '=' keeps its name as the repository.
/// `file` labels error messages. Fails (input, FILE:LINE:COL) on malformed YAML, a `spec`,
/// `source`, `sources`, `kustomize` or `images` of the wrong type, an entry that is not a
/// string, and an entry for `match` that is not a valid reference.
Result<std::vector<image::Reference>> get_argocd_images(std::string_view text,
                                                        const std::string& file,
                                                        const std::string& match,
                                                        const std::string& application = "");

/// Returns `text` with every entry for `match` set so that it gives `target`, and the number of
/// entries changed (0 and the text byte for byte when all are right). An entry keeps its form:
/// `name=` stays when it was there, and is added (`name=target`) only when the target is
/// another repository than `name`; a repository spelled differently but the same
/// (`redis` for docker.io/library/redis) keeps its spelling, so only the tag and digest change.
/// The value keeps its quotes. Fails (input, FILE:LINE:COL) when an entry to change is an
/// alias, anchored, tagged or not on one line, when the target has no repository, and as
/// `get_argocd_images`. No entry is ever added: promote does not invent structure.
Result<std::pair<std::string, int>> set_argocd_images(std::string_view text,
                                                      const std::string& file,
                                                      const std::string& match,
                                                      const image::Reference& target,
                                                      const std::string& application = "");

}  // namespace promote::overlay
