// --images-from: the images a build wrote, as NAME=REF lines, a JSON object or a dotenv file.
#include <doctest/doctest.h>

#include "engine/pipeline/images_from.hpp"

namespace {

namespace pipeline = promote::pipeline;

// A monorepo of three images, two of them the backend (in the shape of the eleven-image
// microservices-demo of GoogleCloudPlatform/microservices-demo, cut down).
pipeline::Pipeline shop() {
  pipeline::Pipeline out;
  out.name = "shop";
  for (const auto& [name, repository, group] :
       {std::tuple{"api", "ghcr.io/acme/api", "backend"},
        std::tuple{"cart-service", "ghcr.io/acme/cart", "backend"},
        std::tuple{"web", "ghcr.io/acme/web", "frontend"}}) {
    pipeline::ImageSpec image;
    image.name = name;
    image.repository = repository;
    image.match = repository;
    image.group = group;
    out.images.push_back(image);
  }
  return out;
}

std::string names(const pipeline::ImagesFrom& from) {
  std::string out;
  for (const auto& entry : from.images) {
    out += entry.name + "=" + entry.value + " (" + entry.where + ")\n";
  }
  return out;
}

}  // namespace

TEST_SUITE("pipeline") {
  TEST_CASE("--images-from reads NAME=REF lines, skipping blank lines and comments") {
    const auto from = pipeline::parse_images_from(
        "# written by the build\napi=ghcr.io/acme/api:1.4.3\n\nweb=ghcr.io/acme/web:1.4.3\n",
        "images.txt", shop());
    REQUIRE(from.has_value());
    CHECK(names(*from) ==
          "api=ghcr.io/acme/api:1.4.3 (images.txt:2)\nweb=ghcr.io/acme/web:1.4.3 (images.txt:4)\n");
    CHECK(from->skipped.empty());
  }

  TEST_CASE("--images-from reads a dotenv file: export, quotes, comments, variable spellings") {
    const auto from = pipeline::parse_images_from(
        "export API_IMAGE=\"ghcr.io/acme/api:1.4.3\"\r\n"
        "CART_SERVICE_REF='ghcr.io/acme/cart:1.4.3'  # the cart\r\n"
        "VERSION=1.4.3\r\n"
        "FRONTEND=ghcr.io/acme/web:1.4.3 # matched by its repository\r\n",
        "build.env", shop());
    REQUIRE(from.has_value());
    CHECK(names(*from) ==
          "api=ghcr.io/acme/api:1.4.3 (build.env:1)\n"
          "cart-service=ghcr.io/acme/cart:1.4.3 (build.env:2)\n"
          "web=ghcr.io/acme/web:1.4.3 (build.env:4)\n");
    REQUIRE(from->skipped.size() == 1);
    CHECK(from->skipped[0] == "build.env:3: VERSION");
  }

  TEST_CASE("--images-from reads a JSON object of NAME: REFERENCE") {
    const auto from = pipeline::parse_images_from(
        "{\"web\": \"ghcr.io/acme/web:2.0.0\", \"api\": \"ghcr.io/acme/api:2.0.0\"}", "images.json",
        shop());
    REQUIRE(from.has_value());
    CHECK(names(*from) ==
          "api=ghcr.io/acme/api:2.0.0 (images.json: \"api\")\n"
          "web=ghcr.io/acme/web:2.0.0 (images.json: \"web\")\n");
  }

  TEST_CASE("--images-from refuses what it cannot read, naming the file and line") {
    const auto refused = [](std::string_view text) {
      const auto from = pipeline::parse_images_from(text, "images.env", shop());
      REQUIRE_FALSE(from.has_value());
      CHECK(from.error().kind == promote::ErrorKind::usage);
      return from.error().message;
    };
    CHECK(refused("api=ghcr.io/acme/api:1\nnot a line\n") ==
          "images.env:2: expected NAME=REFERENCE, got 'not a line'");
    CHECK(refused("API_IMAGE=\"ghcr.io/acme/api:1\n") == "images.env:1: the quote is not closed");
    CHECK(refused("api=ghcr.io/acme/api:1\nAPI_IMAGE=ghcr.io/acme/api:2\n") ==
          "images.env:2: image 'api' is given twice (first at images.env:1)");
    CHECK(refused("{\"api\": 1}") == "images.env: \"api\": the reference must be a string");
    CHECK(refused("[1, 2]") == "images.env:1: expected NAME=REFERENCE, got '[1, 2]'");
    CHECK(refused("{\"api\": \n") == "images.env:2:1: not valid JSON");
  }
}
