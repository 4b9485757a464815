#pragma once
// Container image references, by the rules of the distribution reference grammar:
//   [registry[:port]/]path[:tag][@digest]

#include <string>
#include <string_view>

#include "engine/error.hpp"

namespace promote::image {

/// A parsed image reference. Fields are empty when absent.
struct Reference {
  std::string registry;  ///< "ghcr.io", "localhost:5000", "[::1]:5000"; empty: none given
  std::string path;      ///< "acme/api", lower-case components
  std::string tag;       ///< "1.4.2"; at most 128 characters
  std::string digest;    ///< "sha256:<64 hex>"

  /// registry/path, or path when there is no registry.
  std::string repository() const;
  /// The reference as text: [registry/]path[:tag][@digest].
  std::string to_string() const;
  /// The tag and digest as a person reads them: "1.4.2", "1.4.2@sha256:abcd…", "@sha256:…".
  std::string version() const;
  /// The reference with Docker Hub's repository names in their one full form: `redis`,
  /// `library/redis`, `docker.io/redis` and `index.docker.io/library/redis` all become
  /// `docker.io/library/redis`, `acme/api` becomes `docker.io/acme/api`. Any other reference
  /// (another registry, or no path at all) is returned as it is.
  Reference canonical() const;
  /// Whether both name the same repository (compared in canonical form; tags and digests aside).
  bool same_repository(const Reference& other) const;
  /// This reference's tag and digest on `written`'s spelling of the repository when both name
  /// the same repository (`redis` stays `redis`); else this reference unchanged.
  Reference spelled_as(const Reference& written) const;
  bool operator==(const Reference&) const = default;
};

/// Parses a reference; fails (input) with a message that quotes the text and says
/// what rule it breaks (upper-case path, tag too long, bad digest, ...).
Result<Reference> parse(std::string_view text);

/// Whether two repository names (`redis`, `docker.io/library/redis`) name the same repository;
/// a name that does not parse is compared as written.
bool same_repository(std::string_view first, std::string_view second);

}  // namespace promote::image
