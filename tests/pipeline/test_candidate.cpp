#include <doctest/doctest.h>

#include "engine/pipeline/candidate.hpp"
#include "engine/util/hash.hpp"

namespace {

promote::image::Reference reference_of(const std::string& text) { return promote::image::parse(text).value(); }

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("a candidate's canonical JSON has sorted keys and no spaces") {
    promote::Candidate candidate;
    candidate.images["web"] = reference_of("ghcr.io/acme/web:2.3.0");
    candidate.images["api"] = reference_of("ghcr.io/acme/api:1.4.2@sha256:" + std::string(64, 'a'));
    CHECK(candidate.canonical_json() ==
          "{\"images\":{\"api\":\"ghcr.io/acme/api:1.4.2@sha256:" + std::string(64, 'a') +
              "\",\"web\":\"ghcr.io/acme/web:2.3.0\"}}");
  }

  TEST_CASE("a candidate's id is the sha256 of its canonical JSON, shown as 12 hex") {
    promote::Candidate candidate;
    candidate.images["api"] = reference_of("ghcr.io/acme/api:1.4.2");
    const std::string id = candidate.id();
    CHECK(id == promote::util::sha256_hex("{\"images\":{\"api\":\"ghcr.io/acme/api:1.4.2\"}}"));
    CHECK(id.size() == 64);
    CHECK(candidate.short_id() == id.substr(0, 12));
  }

  TEST_CASE("the id depends on every image and not on the order they were added") {
    promote::Candidate first;
    first.images["api"] = reference_of("ghcr.io/acme/api:1.4.2");
    first.images["web"] = reference_of("ghcr.io/acme/web:2.3.0");
    promote::Candidate second;
    second.images["web"] = reference_of("ghcr.io/acme/web:2.3.0");
    second.images["api"] = reference_of("ghcr.io/acme/api:1.4.2");
    CHECK(first.id() == second.id());
    second.images["web"] = reference_of("ghcr.io/acme/web:2.3.1");
    CHECK(first.id() != second.id());
  }

  TEST_CASE("Docker Hub's spellings of an image make one candidate id, from the canonical form") {
    promote::Candidate written;
    written.images["cache"] = reference_of("redis:7.0");
    promote::Candidate full;
    full.images["cache"] = reference_of("docker.io/library/redis:7.0");
    promote::Candidate index;
    index.images["cache"] = reference_of("index.docker.io/redis:7.0");
    CHECK(written.canonical_json() == "{\"images\":{\"cache\":\"docker.io/library/redis:7.0\"}}");
    CHECK(written.id() == full.id());
    CHECK(written.id() == index.id());
    CHECK(written.to_json()["images"]["cache"] == "redis:7.0");  // as written
    // Images of other registries keep the id they always had.
    promote::Candidate ghcr;
    ghcr.images["api"] = reference_of("ghcr.io/acme/api:1.4.2");
    CHECK(ghcr.id() ==
          promote::util::sha256_hex("{\"images\":{\"api\":\"ghcr.io/acme/api:1.4.2\"}}"));
  }

  TEST_CASE("sha256 of known input") {
    CHECK(promote::util::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(promote::util::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}

TEST_SUITE("pipeline") {
  TEST_CASE(
      "a release's charts and carried files are in its canonical JSON only when it has "
      "some, so a candidate of images alone keeps its id") {
    promote::Candidate candidate;
    candidate.images["api"] = reference_of("ghcr.io/acme/api:1.4.2");
    const std::string images_only = candidate.id();
    CHECK(images_only ==
          promote::util::sha256_hex("{\"images\":{\"api\":\"ghcr.io/acme/api:1.4.2\"}}"));
    CHECK_FALSE(candidate.to_json().contains("charts"));

    candidate.charts["podinfo"] = "6.5.0";
    candidate.files["settings"] = std::string(64, 'f');
    CHECK(candidate.canonical_json() ==
          "{\"charts\":{\"podinfo\":\"6.5.0\"},\"files\":{\"settings\":\"" + std::string(64, 'f') +
              "\"},\"images\":{\"api\":\"ghcr.io/acme/api:1.4.2\"}}");
    CHECK(candidate.id() != images_only);
    CHECK(candidate.to_json()["charts"]["podinfo"] == "6.5.0");

    // Another chart version, or other carried bytes, is another release.
    promote::Candidate other = candidate;
    other.charts["podinfo"] = "6.5.1";
    CHECK(other.id() != candidate.id());
    other = candidate;
    other.files["settings"] = std::string(64, 'e');
    CHECK(other.id() != candidate.id());
  }
}
