#include "engine/pipeline/candidate.hpp"

#include "engine/util/hash.hpp"

namespace promote {

nlohmann::json Candidate::to_json() const {
  nlohmann::json images_json = nlohmann::json::object();
  for (const auto& [name, reference] : images) {
    images_json[name] = reference.to_string();
  }
  return nlohmann::json{{"images", images_json}};
}

std::string Candidate::canonical_json() const {
  // Docker Hub's spellings of one image (`redis`, `docker.io/library/redis`) make one id.
  nlohmann::json images_json = nlohmann::json::object();
  for (const auto& [name, reference] : images) {
    images_json[name] = reference.canonical().to_string();
  }
  return nlohmann::json{{"images", images_json}}.dump();
}

std::string Candidate::id() const { return util::sha256_hex(canonical_json()); }

}  // namespace promote
