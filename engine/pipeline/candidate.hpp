#pragma once
// The candidate: the release to promote. Its images (pipeline image name -> reference), and
// where the pipeline declares them, its Helm chart versions and its carried files (README
// "Releases").

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/image/reference.hpp"

namespace promote {

struct Candidate {
  std::map<std::string, image::Reference> images;  ///< by pipeline image name
  std::map<std::string, std::string> charts;       ///< by pipeline chart name: the version
  /// By carried file name (pipeline `carry:`): the sha256 (hex) of what is carried, the bytes
  /// of the file, or for `keys:` the canonical JSON of those values.
  std::map<std::string, std::string> files;

  /// {"charts":{...},"files":{...},"images":{...}} with sorted keys and no spaces, each
  /// reference in its canonical form (Docker Hub's as docker.io/library/redis:7.0); "charts"
  /// and "files" only when not empty, so that a candidate of images alone keeps the id it has
  /// always had.
  std::string canonical_json() const;
  /// sha256 of canonical_json(), 64 hex.
  std::string id() const;
  /// The first 12 hex of id(), as shown to people.
  std::string short_id() const { return id().substr(0, 12); }
  /// {"images": {"api": "ghcr.io/acme/api:1.4.2"}, "charts": {...}, "files": {...}}, each
  /// reference as written; "charts" and "files" only when not empty.
  nlohmann::json to_json() const;
  /// Whether it holds nothing at all.
  bool empty() const { return images.empty() && charts.empty() && files.empty(); }
};

}  // namespace promote
