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
// registry. A path steps into lists, too: `parameters[1].value` (an item by its index, from 0)
// and `parameters[name=image.tag].value` (the item whose `name` holds `image.tag`; the value
// may contain dots), as an Argo CD Application's `spec.source.helm.parameters` needs. A key that
// itself contains a dot cannot be named: such paths are out of scope.
// A file holds several images: read and edit them one at a time. In a file of several documents,
// the first that is not empty is read, or the one a `HelmDocument` chooses.

#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

/// Which document of a multi-document file holds the values: the one whose `kind` and
/// `metadata.name` are these (an empty field is not compared; both empty: the first document
/// that is not empty).
struct HelmDocument {
  std::string kind;  ///< "Application"
  std::string name;  ///< "shop-prod"
  bool operator==(const HelmDocument&) const = default;
};

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

/// What a values file holds for one image.
struct HelmReading {
  /// The image; nullopt when the file holds no tag, digest or image string for it (none of its
  /// keys, or all of them empty or null).
  std::optional<image::Reference> reference;
  /// When there is no reference but the tag (or the image string) is written empty or null
  /// (a chart's `tag: ""`, which then uses its appVersion): where, as FILE:LINE:COL.
  std::string empty;
};

/// Fails (config) when the paths do not make one of the shapes above: an empty path, an empty key
/// in a path ("image..tag"), a list step that is not `[N]` or `[KEY=VALUE]`, a path that ends
/// with a list step, `image` with another part, no `tag`, `registry` without `repository`, or
/// two parts at the same path.
Result<void> check_helm_image(const HelmImage& where);

/// What the values file says about the image. Without a repository path (shape a) the reference
/// has an empty registry and path: the repository then comes from the pipeline. An empty or null
/// tag or digest reads as none; an image with neither reads as no image (see HelmReading).
/// `file` labels error messages. Fails (input, FILE:LINE:COL) on malformed YAML, a values file
/// (or the chosen document) that is not a map, no document or two that `where.document`
/// chooses, a path that runs through something that is not a map (or a list, for a list step),
/// a `[KEY=VALUE]` step that two items match, a value that is not a string, or values that do
/// not make a valid image reference; fails (config) as `check_helm_image`.
Result<HelmReading> read_helm_image(std::string_view text, const std::string& file,
                                    const HelmImage& where, const HelmDocument& document = {});

/// `read_helm_image`'s reference alone.
Result<std::optional<image::Reference>> get_helm_image(std::string_view text,
                                                       const std::string& file,
                                                       const HelmImage& where,
                                                       const HelmDocument& document = {});

/// One value an edit of an image writes.
struct HelmValue {
  std::string path;   ///< its path, as written in the pipeline ("image.tag")
  std::string value;  ///< what it must hold
  std::string where;  ///< FILE:LINE:COL of the value; "" when the key is not in the file
};

/// The value each path of `where` must hold for the image to read back as `target` (as
/// `set_helm_image` writes them, the file's spelling of the repository kept). Fails as
/// `get_helm_image`.
Result<std::vector<HelmValue>> helm_values(std::string_view text, const std::string& file,
                                           const HelmImage& where, const image::Reference& target,
                                           const HelmDocument& document = {});

/// A value path of an image that a values file does not hold.
struct HelmGap {
  std::string part;     ///< "registry", "repository", "tag" or "image"
  std::string path;     ///< as written in the pipeline ("image.tag")
  std::string missing;  ///< what is not there: "'image' has no key 'tag'"
  Location parent;      ///< where the nearest step of the path that is there is (top: 1:1)
};

/// Every path of `where` that the file does not hold, in the order registry, repository, tag,
/// image; a missing digest key is not one (an edit adds it beside the tag). Fails as
/// `read_helm_image`, but for values that are not image references.
Result<std::vector<HelmGap>> missing_helm_paths(std::string_view text, const std::string& file,
                                                const HelmImage& where,
                                                const HelmDocument& document = {});

/// Returns `text` edited so that the image reads back as `target`; byte-identical when it already
/// does. A repository the file spells differently but that is the same one (`redis` for
/// `docker.io/library/redis`) keeps its spelling: only the tag and digest change. An empty value
/// (`tag: ""`) is set, keeping its quotes. Writes only values: image = the whole reference;
/// registry = target.registry (an empty
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
                                   const HelmImage& where, const image::Reference& target,
                                   const HelmDocument& document = {});

}  // namespace promote::overlay
