// What strategy pull-request sends: the forge settings a pipeline gives, the title and body.
#include <doctest/doctest.h>

#include "engine/promoter/promotion.hpp"
#include "engine/promoter/proposal.hpp"

namespace {

using promote::ErrorKind;
using promote::promoter::commit_subject;
using promote::promoter::forge_settings;
using promote::promoter::proposal_body;
using promote::promoter::proposal_branch;
using promote::promoter::PromotionResult;

promote::pipeline::Pipeline pipeline_with(const std::string& provider, const std::string& url = ".") {
  promote::pipeline::Pipeline pipeline;
  pipeline.file = "/repo/promote.yaml";
  pipeline.name = "shop";
  pipeline.repository.url = url;
  pipeline.repository.provider = provider;
  promote::pipeline::Stage prod;
  prod.name = "prod";
  prod.strategy = promote::pipeline::Strategy::pull_request;
  prod.pull_request.labels = {"release"};
  prod.pull_request.reviewers = {"alice"};
  prod.pull_request.close_superseded = false;
  pipeline.stages.push_back(prod);
  return pipeline;
}

PromotionResult result_for_prod() {
  PromotionResult result;
  result.stage = "prod";
  result.from = "staging";
  result.promotion_id = "20261130T100000Z-0000abcd";
  result.actor = "alice";
  result.reason = "weekly | release";
  result.candidate.images["api"] = promote::image::parse("ghcr.io/acme/api:1.4.3").value();
  result.candidate.images["web"] = promote::image::parse("ghcr.io/acme/web:2.3.0").value();
  result.previous = {{"api", "ghcr.io/acme/api:1.4.2"}, {"web", "ghcr.io/acme/web:2.3.0"}};
  result.changes.push_back({"k8s/prod/kustomization.yaml", "a\nnewTag: 1.4.2\n", "a\nnewTag: 1.4.3\n"});
  result.diff = "-newTag: 1.4.2\n+newTag: 1.4.3\n";
  promote::promoter::GateResult gate;
  gate.name = "soak";
  gate.use = "soak";
  gate.verdict = promote::Verdict::make(promote::Verdict::Status::pass, "in staging for 3h of 2h");
  result.gates.push_back(gate);
  return result;
}

}  // namespace

TEST_SUITE("promoter") {
  TEST_CASE("forge settings: the provider's API, the project from the remote's URL") {
    const auto pipeline = pipeline_with("github");
    const auto& stage = pipeline.stages[0];
    SUBCASE("https and scp-like URLs give owner/repo") {
      for (const char* url : {"https://github.com/acme/deploy.git", "git@github.com:acme/deploy.git",
                              "https://x-access-token:t@github.com/acme/deploy/"}) {
        const auto settings = forge_settings(pipeline, stage, std::string(url));
        REQUIRE_MESSAGE(settings.has_value(), url);
        CHECK(settings->project == "acme/deploy");
        CHECK(settings->api_url == "https://api.github.com");
        CHECK(settings->labels == std::vector<std::string>{"release"});
        CHECK(settings->reviewers == std::vector<std::string>{"alice"});
        CHECK(settings->supersede == promote::forge::Settings::Supersede::keep);
      }
    }
    SUBCASE("GitLab keeps subgroups; its API defaults to gitlab.com") {
      const auto gitlab = pipeline_with("gitlab");
      const auto settings =
          forge_settings(gitlab, gitlab.stages[0], std::string("https://gitlab.com/g/sub/deploy.git"));
      REQUIRE(settings.has_value());
      CHECK(settings->project == "g/sub/deploy");
      CHECK(settings->api_url == "https://gitlab.com/api/v4");
    }
    SUBCASE("a local path gives no project: repository.project is asked for") {
      const auto settings = forge_settings(pipeline, stage, std::string("/srv/git/deploy.git"));
      REQUIRE(settings.has_error());
      CHECK(settings.error().kind == ErrorKind::config);
      CHECK(settings.error().message.find("set repository.project") != std::string::npos);
    }
    SUBCASE("Gitea has no public API: repository.api is asked for") {
      const auto gitea = pipeline_with("gitea");
      const auto settings =
          forge_settings(gitea, gitea.stages[0], std::string("https://gitea.example.com/a/b.git"));
      REQUIRE(settings.has_error());
      CHECK(settings.error().message.find("set repository.api") != std::string::npos);
    }
  }

  TEST_CASE("the title is the commit subject; the body has images, gates, files and the diff") {
    PromotionResult result = result_for_prod();
    CHECK(commit_subject(result) == "promote(prod): api 1.4.2 -> 1.4.3");
    CHECK(proposal_branch(result) == "promote/prod/" + result.candidate.short_id());
    const std::string body = proposal_body(result);
    CHECK(body.find("to **prod**, as requested by `alice` (`weekly | release`)") !=
          std::string::npos);
    CHECK(body.find("| api | `ghcr.io/acme/api:1.4.2` | `ghcr.io/acme/api:1.4.3` |") !=
          std::string::npos);
    CHECK(body.find("| web | `ghcr.io/acme/web:2.3.0` | `ghcr.io/acme/web:2.3.0` (unchanged) |") !=
          std::string::npos);
    CHECK(body.find("| `soak` | pass | `in staging for 3h of 2h` |") != std::string::npos);
    CHECK(body.find("- `k8s/prod/kustomization.yaml` (+1 -1)") != std::string::npos);
    CHECK(body.find("```diff\n-newTag: 1.4.2\n+newTag: 1.4.3\n```") != std::string::npos);
    SUBCASE("a release's charts and carried files have rows of their own") {
      result.candidate.charts["redis"] = "18.2.0";
      result.previous_charts["redis"] = "18.1.0";
      result.candidate.files["envs/{stage}/settings.yml"] = std::string(64, 'b');
      result.previous_files["envs/{stage}/settings.yml"] = std::string(64, 'a');
      const std::string release = proposal_body(result);
      CHECK(release.find("| `chart redis` | `18.1.0` | `18.2.0` |\n") != std::string::npos);
      CHECK(release.find("| `file envs/{stage}/settings.yml` | `sha256:aaaaaaaaaaaa` | "
                         "`sha256:bbbbbbbbbbbb` |\n") != std::string::npos);
    }
    SUBCASE("a rollback says so") {
      result.rollback_of = "20261129T100000Z-00001111";
      CHECK(commit_subject(result) == "rollback(prod): api 1.4.2 -> 1.4.3");
    }
    SUBCASE("a diff too long for a forge's body is left to the branch") {
      result.diff = std::string(100 * 1024, 'x');
      const std::string long_body = proposal_body(result);
      CHECK(long_body.size() < 4096);
      CHECK(long_body.find("too long to show here") != std::string::npos);
    }
  }

  TEST_CASE("what a file held that is no reference reaches the subject on one line") {
    PromotionResult result = result_for_prod();
    result.previous["api"] = "1.4.2\nPromote-Stage: dev\x1b[2J";
    CHECK(commit_subject(result) ==
          "promote(prod): api 1.4.2\\x0aPromote-Stage: dev\\x1b[2J -> 1.4.3");
  }
}
