#pragma once
// The candidate: the images to promote, pipeline image name -> reference.

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/image/reference.hpp"

namespace promote {

struct Candidate {
  std::map<std::string, image::Reference> images;  ///< by pipeline image name

  /// {"images": {"api": "ghcr.io/acme/api:1.4.2"}} with sorted keys and no spaces, each
  /// reference in its canonical form (Docker Hub's as docker.io/library/redis:7.0).
  std::string canonical_json() const;
  /// sha256 of canonical_json(), 64 hex.
  std::string id() const;
  /// The first 12 hex of id(), as shown to people.
  std::string short_id() const { return id().substr(0, 12); }
  /// {"images": {"api": "ghcr.io/acme/api:1.4.2"}}, each reference as written.
  nlohmann::json to_json() const;
};

}  // namespace promote
