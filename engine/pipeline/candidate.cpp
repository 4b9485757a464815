#include "engine/pipeline/candidate.hpp"

#include "engine/util/hash.hpp"

namespace promote {

namespace {

/// The release's charts and files beside its images, each only when there are some.
nlohmann::json with_parts(nlohmann::json images, const Candidate& candidate) {
  nlohmann::json out{{"images", std::move(images)}};
  if (!candidate.charts.empty()) {
    out["charts"] = candidate.charts;
  }
  if (!candidate.files.empty()) {
    out["files"] = candidate.files;
  }
  return out;
}

}  // namespace

nlohmann::json Candidate::to_json() const {
  nlohmann::json images_json = nlohmann::json::object();
  for (const auto& [name, reference] : images) {
    images_json[name] = reference.to_string();
  }
  return with_parts(std::move(images_json), *this);
}

std::string Candidate::canonical_json() const {
  // Docker Hub's spellings of one image (`redis`, `docker.io/library/redis`) make one id.
  nlohmann::json images_json = nlohmann::json::object();
  for (const auto& [name, reference] : images) {
    images_json[name] = reference.canonical().to_string();
  }
  return with_parts(std::move(images_json), *this).dump();
}

std::string Candidate::id() const { return util::sha256_hex(canonical_json()); }

}  // namespace promote
