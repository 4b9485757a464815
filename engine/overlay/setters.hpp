#pragma once
// Values marked with Flux image-policy setter comments, in a YAML file of any shape:
//
//   image: ghcr.io/acme/api:1.4.2 # {"$imagepolicy": "flux-system:api"}         whole reference
//   repository: ghcr.io/acme/api  # {"$imagepolicy": "flux-system:api:name"}    repository
//   tag: 1.4.2                    # {"$imagepolicy": "flux-system:api:tag"}     tag
//   digest: sha256:…              # {"$imagepolicy": "flux-system:api:digest"}  digest
//
// The marker is a line comment right after a single-line scalar value (or an empty value) on the
// same line. An edit changes only the bytes of the marked values: the markers, other comments,
// quoting, anchors, indentation, line endings and other documents stay as they were. A marker
// in a commented-out line, in a quoted string or in the text of a block scalar (`patch: |`) is not
// a marker.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

/// Returns `text` with every value marked for a policy NAME that is a key of `images` set from
/// images[NAME] (the whole reference, its repository, its tag or its digest, as the marker says;
/// written with the quotes the value had, a plain value YAML would read as a number quoted; a
/// repository the value spells differently but that is the same one, `redis` for
/// `docker.io/library/redis`, keeps its spelling), and
/// the number of values it changed; byte-identical with 0 when they all are right. The NAMESPACE
/// part of a marker is not compared (it stays in the text); markers for other names are left
/// alone. Fails (input, FILE:LINE:COL of the marker) on malformed YAML, a malformed marker
/// (`{"$imagepolicy": ...}` that is not "NAMESPACE:NAME" or "NAMESPACE:NAME:tag|name|digest"),
/// a marker for one of `images` that follows no single-line value (an alias, an anchored, tagged,
/// block or multi-line value, a map, a marker on a line of its own), a `:tag` marker for a
/// reference without a tag, or a `:digest` marker for one without a digest.
/// What the values marked for each of `names` say, by name: a whole-reference marker gives the
/// reference; `:name`, `:tag` and `:digest` markers give its parts (a name needs a tag or a
/// digest beside it, else it is not reported). Names without markers are absent. When markers
/// for one name disagree, the first (in file order) counts. Fails (input, FILE:LINE:COL) as
/// `set_marked_images` reads markers, and when a marked value is not a valid reference or part.
Result<std::map<std::string, image::Reference>> get_marked_images(
    std::string_view text, const std::string& file, const std::vector<std::string>& names);

/// A `$imagepolicy` marker: the policy NAME it names, and where its '#' is.
struct SetterMarker {
  std::string policy;
  Location where;
};

/// Every marker of the file, in file order. Fails as `get_marked_images` reads markers.
Result<std::vector<SetterMarker>> list_markers(std::string_view text, const std::string& file);

Result<std::pair<std::string, int>> set_marked_images(
    std::string_view text, const std::string& file,
    const std::map<std::string, image::Reference>& images);

}  // namespace promote::overlay
