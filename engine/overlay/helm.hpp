#pragma once
// Images in a Helm values file, read and edited in place: an edit changes only the bytes of the
// scalars it must, so comments, quoting, anchors, key order, indentation, blank lines, line
// endings and a missing final newline stay as they were.
//
// Where an image lives is given as dotted paths from the top of the values file, in one of the
// shapes charts use:
//   (a) tag only                              tag: image.tag
//   (b) repository and tag                    repository: image.repository, tag: image.tag
//   (c) one string "repo:tag" / "repo@digest" image: image
//   (d) Bitnami: registry, repository, tag    registry: image.registry, repository:
//       and an optional digest                image.repository, tag: image.tag, digest:
//       image.digest
// Repository and tag with a digest but no registry (ingress-nginx's CI values) is (d) without a
// registry. A key that itself contains a dot cannot be named: such paths are out of scope.
// A file holds several images: read and edit them one at a time.

#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

/// Where one image lives in a values file: a dotted path per part, empty when the chart has no
/// such part. Either `image` alone, or `tag` with optional `repository`, `registry` (needs
/// `repository`, which then holds the path below the registry) and `digest`.
struct HelmImage {
  std::string image;       ///< (c) one string: "repo:tag", "repo@digest" or "repo:tag@digest"
  std::string registry;    ///< (d) the registry host, e.g. "image.registry"
  std::string repository;  ///< (b)/(d) the repository (below `registry` when there is one)
  std::string tag;         ///< (a)/(b)/(d) the tag
  std::string digest;      ///< (d) the digest; "" or null in the file means none
};

/// Fails (config) when the paths do not make one of the shapes above: an empty path, an empty key
/// in a path ("image..tag"), `image` with another part, no `tag`, `registry` without
/// `repository`, or two parts at the same path.
Result<void> check_helm_image(const HelmImage& where);

/// What the values file says about the image: nullopt when none of its keys is in the file.
/// Without a repository path (shape a) the reference has an empty registry and path: the
/// repository then comes from the pipeline. An empty or null tag or digest reads as none.
/// `file` labels error messages. Fails (input, FILE:LINE:COL) on malformed YAML, a values file
/// that is not a map, a path that runs through something that is not a map, a value that is not
/// a string, or values that do not make a valid image reference; fails (config) as
/// `check_helm_image`.
Result<std::optional<image::Reference>> get_helm_image(std::string_view text,
                                                       const std::string& file,
                                                       const HelmImage& where);

/// Returns `text` edited so that the image reads back as `target`; byte-identical when it already
/// does. Writes only values: image = the whole reference; registry = target.registry (an empty
/// target registry is accepted as is where the file says docker.io); repository =
/// target.path below a registry, else target.repository(); tag = target.tag ("" when none);
/// digest = target.digest ("" when none). A plain value that YAML would read as a number, a
/// boolean or a date (`1.10`, `true`, `0123`) is written double-quoted (`"1.10"`), because Helm
/// would otherwise render `1.1`; a quoted value keeps its quotes. Tag-only paths (shape a) cannot
/// tell the repository: only the tag is written.
/// Fails (input, FILE:LINE:COL) when a key the edit needs is absent (promote does not invent
/// structure) — except a missing `digest` key, which is added on the line after the tag when the
/// digest path is the tag's sibling in a block map —, when a value to change is an alias, is
/// anchored, tagged, a block or multi-line scalar, when the target has a digest and there is no
/// place for it, or when a path runs through an alias; and as `get_helm_image`.
Result<std::string> set_helm_image(std::string_view text, const std::string& file,
                                   const HelmImage& where, const image::Reference& target);

}  // namespace promote::overlay
