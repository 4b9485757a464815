// A remote pipeline over HTTP through the real binary: Debian's git http-backend behind basic
// auth on 127.0.0.1; the right token promotes and pushes, a wrong or missing one is exit 4
// with a message that names the variable and never the token, and the remote is unchanged.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <future>

#include "tests/support/servers/git_http.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::sh;
using promote::test::write_text;

namespace {

constexpr const char* k_token = "ghp_right-token-4242";
constexpr const char* k_wrong = "ghp_wrong-token-1717";

using promote::test::contains;

struct RemoteOverHttp {
  promote::test::TempDir dir;
  fs::path root = dir / "srv";
  promote::test::GitHttpServer server{root, "x-access-token", k_token};

  RemoteOverHttp() {
    fs::create_directories(dir / "seed/overlays/dev");
    write_text(dir / "seed/overlays/dev/kustomization.yaml",
               "images:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
    sh("mkdir -p srv/acme && git init -q --bare -b main srv/acme/deploy.git && cd seed && "
       "git init -q -b main && git add -A && "
       "git -c user.name=s -c user.email=s@x commit -q -m init && "
       "git push -q ../srv/acme/deploy.git main",
       dir.path());
    fs::create_directories(dir / "ci");
    write_text(dir / "ci/promote.yaml",
               "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: remote}\n"
               "repository: {url: '" + server.url("acme/deploy.git") + "', provider: github}\n"
               "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
               "stages:\n  - name: dev\n    target: {kustomize: overlays/dev}\n");
  }

  CommandResult promote(const std::map<std::string, std::string>& tokens,
                        std::vector<std::string> extra = {},
                        const std::string& image = "api=ghcr.io/acme/api:1.1.0") const {
    std::vector<std::string> args = {promote::test::promote_binary().string(), "--to", "dev",
                                     "--image", image};
    args.insert(args.end(), extra.begin(), extra.end());
    std::map<std::string, std::string> environment = {
        {"PROMOTE_GIT_TOKEN", ""}, {"GITHUB_TOKEN", ""}, {"GITLAB_TOKEN", ""},
        {"CI_JOB_TOKEN", ""},      {"GITEA_TOKEN", ""},  {"PROMOTE_HISTORY", ""},
        {"PROMOTE_ACTOR", "ci"},   {"NO_COLOR", "1"}};
    for (const auto& [name, value] : tokens) {
      environment[name] = value;
    }
    return promote::test::run(args, dir / "ci", environment);
  }

  std::string head() const {
    return sh("git --git-dir=srv/acme/deploy.git rev-parse main", dir.path());
  }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a remote over HTTP with basic auth: the right token promotes, a wrong one is exit 4") {
    RemoteOverHttp remote;
    const std::string before = remote.head();

    SUBCASE("the right token in GITHUB_TOKEN (provider github)") {
      const CommandResult result = remote.promote({{"GITHUB_TOKEN", k_token}});
      INFO(result.out << result.err << remote.server.errors());
      CHECK(result.exit_code == 0);
      CHECK(remote.head() != before);
      CHECK(contains(sh("git --git-dir=srv/acme/deploy.git show main:overlays/dev/kustomization.yaml",
                        remote.dir.path()),
                     "newTag: 1.1.0"));
      CHECK_FALSE(contains(result.out + result.err, k_token));
    }
    SUBCASE("the right token in PROMOTE_GIT_TOKEN, with a kept --workdir reused") {
      const std::string kept = (remote.dir / "kept").string();
      CHECK(remote.promote({{"PROMOTE_GIT_TOKEN", k_token}}, {"--workdir", kept}).exit_code == 0);
      const std::string first = remote.head();
      const CommandResult again =
          remote.promote({{"PROMOTE_GIT_TOKEN", k_token}}, {"--workdir", kept});
      CHECK(again.exit_code == 0);  // a no-op: the kept clone was fetched, not cloned again
      CHECK(contains(again.out, "no-op"));
      CHECK(remote.head() == first);
    }
    SUBCASE("a wrong token") {
      const CommandResult result =
          remote.promote({{"GITHUB_TOKEN", k_wrong}}, {"--output", "json"});
      INFO(result.out << result.err);
      CHECK(result.exit_code == 4);
      CHECK(contains(result.out + result.err, "GITHUB_TOKEN"));
      CHECK_FALSE(contains(result.out + result.err, k_wrong));
      CHECK(remote.head() == before);
      CHECK(remote.server.unauthorized() >= 1);
    }
    SUBCASE("no token at all") {
      const CommandResult result = remote.promote({});
      INFO(result.out << result.err);
      CHECK(result.exit_code == 4);
      CHECK(contains(result.out + result.err, "PROMOTE_GIT_TOKEN"));
      CHECK(remote.head() == before);
    }
  }

  TEST_CASE("two runs with one --workdir take turns instead of tripping over each other") {
    RemoteOverHttp remote;
    const std::string kept = (remote.dir / "kept").string();
    const std::string before = remote.head().substr(0, 40);
    auto first = std::async(std::launch::async, [&] {
      return remote.promote({{"PROMOTE_GIT_TOKEN", k_token}}, {"--workdir", kept},
                            "api=ghcr.io/acme/api:1.1.0");
    });
    auto second = std::async(std::launch::async, [&] {
      return remote.promote({{"PROMOTE_GIT_TOKEN", k_token}}, {"--workdir", kept},
                            "api=ghcr.io/acme/api:1.2.0");
    });
    const CommandResult a = first.get();
    const CommandResult b = second.get();
    INFO(a.out << a.err << b.out << b.err);
    CHECK(a.exit_code == 0);
    CHECK(b.exit_code == 0);
    // Both landed, one after the other, each planned on what the other left.
    CHECK(sh("git --git-dir=srv/acme/deploy.git rev-list --count " + before + "..main",
             remote.dir.path()) == "2\n");
    CHECK_FALSE(fs::exists(remote.dir / ".kept.promote-lock"));  // nothing beside it
  }

  TEST_CASE("a remote pipeline pushes to its clone's origin whatever repository.remote says") {
    RemoteOverHttp remote;
    std::string pipeline = promote::test::read_text(remote.dir / "ci/promote.yaml");
    pipeline.replace(pipeline.find(", provider: github}"), 19, ", provider: github, remote: upstream}");
    write_text(remote.dir / "ci/promote.yaml", pipeline);
    const std::string before = remote.head();
    const CommandResult result = remote.promote({{"GITHUB_TOKEN", k_token}});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK(remote.head() != before);
  }
}
