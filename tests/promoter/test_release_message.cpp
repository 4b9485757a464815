// A promote commit lists the release it put into the stage, and a rollback reads it back from
// there: images, chart versions and carried files, so that the candidate read back is the one
// recorded, id for id.
#include <doctest/doctest.h>

#include "engine/promoter/promotion_parts.hpp"

namespace {

namespace promoter = promote::promoter;

promote::pipeline::Pipeline shop() {
  promote::pipeline::Pipeline pipeline;
  pipeline.name = "shop";
  promote::pipeline::ImageSpec api;
  api.name = "api";
  api.repository = "ghcr.io/acme/api";
  api.match = api.repository;
  pipeline.images.push_back(api);
  return pipeline;
}

promoter::PromotionResult release() {
  promoter::PromotionResult result;
  result.pipeline = "shop";
  result.pipeline_file = "promote.yaml";
  result.stage = "staging";
  result.from = "dev";
  result.promotion_id = "20261207T120000Z-0000abcd";
  result.candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.3").value();
  result.candidate.charts["podinfo"] = "6.5.0";
  result.candidate.files["settings"] = std::string(64, 'a');
  return result;
}

}  // namespace

TEST_SUITE("promoter") {
  TEST_CASE("a promote commit lists the release's images, charts and carried files") {
    const promoter::PromotionResult result = release();
    const std::string message = promoter::commit_message(result);
    CHECK(message.find("\n\napi: ghcr.io/acme/api:1.4.3\nchart podinfo: 6.5.0\nfile settings: "
                       "sha256:" +
                       std::string(64, 'a') + "\n\nPromote-Pipeline: shop\n") != std::string::npos);
    CHECK(message.find("Promote-Candidate: " + result.candidate.id() + "\n") != std::string::npos);
  }

  TEST_CASE("the release read back from a promote commit is the one it recorded") {
    const promoter::PromotionResult result = release();
    const promote::Candidate back =
        promoter::images_in_message(shop(), promoter::commit_message(result));
    CHECK(back.charts == result.candidate.charts);
    CHECK(back.files == result.candidate.files);
    CHECK(back.id() == result.candidate.id());

    // A pipeline of images alone: a message without charts or files reads back as before.
    promoter::PromotionResult images = release();
    images.candidate.charts.clear();
    images.candidate.files.clear();
    const promote::Candidate plain =
        promoter::images_in_message(shop(), promoter::commit_message(images));
    CHECK(plain.charts.empty());
    CHECK(plain.files.empty());
    CHECK(plain.id() == images.candidate.id());
  }
}
