#pragma once
// The `images:` list of a Kustomize kustomization, read and edited in place: an edit changes
// only the bytes of the scalars (or lines) it must, so comments, quoting, indentation, blank
// lines, line endings and other YAML documents stay as they were.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"

namespace promote::overlay {

class RenderCache;

/// The names a kustomization file may have, in the order kustomize looks for them.
inline constexpr std::array<std::string_view, 3> k_kustomization_names = {
    "kustomization.yaml", "kustomization.yml", "Kustomization"};

/// The kustomization file in an overlay directory: kustomization.yaml, .yml or Kustomization;
/// fails (input) when there is none, more than one, or `dir` is not a directory.
Result<std::filesystem::path> find_kustomization(const std::filesystem::path& dir);

/// What `images:` says about image `match` (its images[].name; an entry that names the same Docker
/// Hub repository, `redis` for `docker.io/library/redis`, is the image's when no entry names it
/// exactly): repository = newName or the entry's name as written,
/// tag = newTag, digest = digest; nullopt when there is no entry. `file` labels error messages;
/// fails (input) on malformed YAML, a malformed `images:` list or an entry that does not make a
/// valid image reference.
Result<std::optional<image::Reference>> get_image(std::string_view text, const std::string& file,
                                                  const std::string& match);

/// Returns `text` edited so that image `match` renders as `target`: newName set to
/// target.repository() when it differs from the entry's name (or when a newName is already
/// present; a newName or name that spells the same Docker Hub repository differently is kept as
/// written, only the tag and digest change), newTag
/// set to target.tag (removed when the target has no tag), digest set to target.digest (removed
/// when none). Adds the entry (and the `images:` key) when missing. Returns text unchanged
/// (byte-identical) when it is already right. Fails (input, with file:line:col) when the YAML is
/// malformed or an edit cannot be made without rewriting more than the values. With `cache`, the
/// text and the edited text are parsed through it (render_images reads the result unparsed).
Result<std::string> set_image(std::string_view text, const std::string& file,
                              const std::string& match, const image::Reference& target,
                              RenderCache* cache = nullptr);

}  // namespace promote::overlay
