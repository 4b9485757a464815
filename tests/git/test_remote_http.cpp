// Clone, fetch and push over smart HTTP with access tokens, against Debian's git http-backend
// behind basic auth (tests/support/servers/git_http).

#include <doctest/doctest.h>

#include "engine/git/repository.hpp"
#include "tests/git/remotes.hpp"
#include "tests/support/servers/git_http.hpp"
#include "tests/support/servers/http_script.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::ErrorKind;
using promote::git::Repository;
using promote::git::Signature;
using promote::test::BareRemote;
using promote::test::GitHttpServer;
using promote::test::TempDir;
using promote::test::write_text;
using Environment = promote::test::CredentialEnvironment;

const std::string k_secret = "s3cr3t-t0ken-value";

/// A BareRemote served over HTTP to `user` with the password k_secret.
struct Remote {
  TempDir dir;
  BareRemote repo;
  GitHttpServer server;
  explicit Remote(const std::string& user = "x-access-token")
      : repo(dir.path()), server(repo.root(), user, k_secret) {}
  std::string url() const { return server.url("acme/deploy.git"); }
};

/// Commits a change to deploy.yaml in `repository`; returns the commit id.
std::string commit_change(Repository& repository, const std::string& tag) {
  write_text(repository.workdir() / "deploy.yaml", "tag: " + tag + "\n");
  return repository.commit({"deploy.yaml"}, "bump to " + tag, Signature{"A", "a@e"}).value();
}

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("the credential offered depends on the URL's scheme and host and the provider") {
    using promote::git::credential_variable;
    Environment environment;
    CHECK(credential_variable("https://github.com/acme/deploy.git") == "");
    environment.set("GITHUB_TOKEN", "a");
    environment.set("GITLAB_TOKEN", "b");
    environment.set("CI_JOB_TOKEN", "c");
    environment.set("GITEA_TOKEN", "d");
    CHECK(credential_variable("https://github.com/acme/deploy.git") == "GITHUB_TOKEN");
    CHECK(credential_variable("https://user@GitHub.com:443/acme/deploy") == "GITHUB_TOKEN");
    CHECK(credential_variable("https://gitlab.com/acme/deploy.git") == "GITLAB_TOKEN");
    CHECK(credential_variable("https://gitlab.acme.io/group/deploy.git") == "GITLAB_TOKEN");
    CHECK(credential_variable("https://gitea.com/acme/deploy.git") == "GITEA_TOKEN");
    CHECK(credential_variable("https://codeberg.org/acme/deploy.git") == "GITEA_TOKEN");
    CHECK(credential_variable("https://git.acme.io/acme/deploy.git") == "");
    CHECK(credential_variable("https://git.acme.io/acme/deploy.git", "github") == "GITHUB_TOKEN");
    CHECK(credential_variable("https://git.acme.io/acme/deploy.git", "gitea") == "GITEA_TOKEN");
    CHECK(credential_variable("https://github.com.evil.example/acme/deploy.git") == "");
    environment.unset("GITLAB_TOKEN");
    CHECK(credential_variable("https://git.acme.io/deploy.git", "gitlab") == "CI_JOB_TOKEN");
    environment.set("PROMOTE_GIT_TOKEN", "e");
    CHECK(credential_variable("https://github.com/acme/deploy.git") == "PROMOTE_GIT_TOKEN");
    CHECK(credential_variable("https://git.acme.io/acme/deploy.git") == "PROMOTE_GIT_TOKEN");

    CHECK(credential_variable("git@github.com:acme/deploy.git") == "");
    environment.set("SSH_AUTH_SOCK", "/tmp/agent.sock");
    CHECK(credential_variable("git@github.com:acme/deploy.git") == "SSH_AUTH_SOCK");
    CHECK(credential_variable("ssh://git@github.com:22/acme/deploy.git") == "SSH_AUTH_SOCK");
    environment.set("PROMOTE_SSH_KEY", "/keys/deploy");
    CHECK(credential_variable("git@github.com:acme/deploy.git") == "PROMOTE_SSH_KEY");
    CHECK(credential_variable("git+ssh://git@host/acme/deploy.git") == "PROMOTE_SSH_KEY");
    CHECK(credential_variable("/srv/git/deploy.git") == "PROMOTE_GIT_TOKEN");
  }

  TEST_CASE("redact hides every secret of the environment and the userinfo of URLs") {
    using promote::git::redact;
    Environment environment(
        {{"GITHUB_TOKEN", "ghp_abc123"}, {"PROMOTE_SSH_KEY_PASSPHRASE", "open sesame"}});
    CHECK(redact("push to https://bot:ghp_abc123@github.com/acme/deploy.git failed") ==
          "push to https://github.com/acme/deploy.git failed");
    CHECK(redact("token ghp_abc123 and 'open sesame' refused") == "token *** and '***' refused");
    CHECK(redact("ssh://git@host:2222/x and git@github.com:acme/x") ==
          "ssh://host:2222/x and git@github.com:acme/x");
  }

  TEST_CASE("clone, fetch and push through an HTTP remote with PROMOTE_GIT_TOKEN") {
    Remote remote;
    Environment environment({{"PROMOTE_GIT_TOKEN", k_secret}});
    TempDir target;
    auto clone = Repository::clone(remote.url(), target / "work", "main");
    INFO(remote.server.errors());
    REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
    CHECK(promote::test::read_text(target / "work/deploy.yaml") == "tag: 1\n");
    CHECK(clone->resolve("origin/main").value() == remote.repo.head());

    const std::string mine = commit_change(*clone, "2");
    auto pushed = clone->push("origin", "main");
    REQUIRE_MESSAGE(pushed.has_value(), pushed.error().message);
    CHECK(remote.repo.head() == mine);

    const std::string theirs = remote.repo.push_theirs("theirs.txt");
    auto fetched = clone->fetch("origin", "main");
    REQUIRE_MESSAGE(fetched.has_value(), fetched.error().message);
    CHECK(clone->resolve("origin/main").value() == theirs);
    CHECK(remote.server.unauthorized() >= 1);  // the first request of each operation
  }

  TEST_CASE("PROMOTE_GIT_USER names the user that goes with PROMOTE_GIT_TOKEN") {
    Remote remote("deploy-bot");
    Environment environment({{"PROMOTE_GIT_TOKEN", k_secret}, {"PROMOTE_GIT_USER", "deploy-bot"}});
    TempDir target;
    auto clone = Repository::clone(remote.url(), target / "work", "main");
    REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
    commit_change(*clone, "2");
    auto pushed = clone->push("origin", "main");
    CHECK_MESSAGE(pushed.has_value(), pushed.error().message);
  }

  TEST_CASE("the forge's own token variable is used when the provider names the forge") {
    struct Variant {
      std::string provider;
      std::string variable;
      std::string user;
    };
    for (const Variant& variant : {Variant{"github", "GITHUB_TOKEN", "x-access-token"},
                                   Variant{"gitlab", "GITLAB_TOKEN", "oauth2"},
                                   Variant{"gitlab", "CI_JOB_TOKEN", "gitlab-ci-token"},
                                   Variant{"gitea", "GITEA_TOKEN", "x-access-token"}}) {
      CAPTURE(variant.variable);
      Remote remote(variant.user);
      Environment environment({{variant.variable, k_secret}});
      TempDir target;
      auto clone = Repository::clone(remote.url(), target / "work", "main", variant.provider);
      REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
      const std::string mine = commit_change(*clone, "2");
      auto pushed = clone->push("origin", "main");
      REQUIRE_MESSAGE(pushed.has_value(), pushed.error().message);
      CHECK(remote.repo.head() == mine);
      remote.repo.push_theirs("theirs.txt");
      auto fetched = clone->fetch("origin", "main");
      CHECK_MESSAGE(fetched.has_value(), fetched.error().message);
    }
  }

  TEST_CASE("GITLAB_TOKEN goes before CI_JOB_TOKEN, and PROMOTE_GIT_TOKEN before both") {
    SUBCASE("GITLAB_TOKEN") {
      Remote remote("oauth2");
      Environment environment({{"GITLAB_TOKEN", k_secret}, {"CI_JOB_TOKEN", "job-token"}});
      TempDir target;
      auto clone = Repository::clone(remote.url(), target / "work", "main", "gitlab");
      CHECK_MESSAGE(clone.has_value(), clone.error().message);
    }
    SUBCASE("PROMOTE_GIT_TOKEN") {
      Remote remote("x-access-token");
      Environment environment({{"PROMOTE_GIT_TOKEN", k_secret}, {"GITLAB_TOKEN", "other"}});
      TempDir target;
      auto clone = Repository::clone(remote.url(), target / "work", "main", "gitlab");
      CHECK_MESSAGE(clone.has_value(), clone.error().message);
    }
  }

  TEST_CASE("a forge token is not sent to a host of another forge") {
    Remote remote;
    Environment environment({{"GITHUB_TOKEN", k_secret}});
    TempDir target;
    const auto clone = Repository::clone(remote.url(), target / "work", "main");
    REQUIRE(clone.has_error());
    CHECK(clone.error().message ==
          "cannot clone " + remote.url() + " (branch main) into " + (target / "work").string() +
              ": the remote asks for credentials: set PROMOTE_GIT_TOKEN to an access token for "
              "it (GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN and GITEA_TOKEN are used when "
              "repository.provider names the forge)");
    CHECK(remote.server.unauthorized() == remote.server.requests());
  }

  TEST_CASE("a remote that asks for a token nobody set says which variable to set") {
    Remote remote;
    Environment environment;
    TempDir target;
    const auto clone = Repository::clone(remote.url(), target / "work", "main", "github");
    REQUIRE(clone.has_error());
    CHECK(clone.error().kind == ErrorKind::git);
    CHECK(promote::exit_code(clone.error().kind) == 4);
    CHECK(clone.error().message ==
          "cannot clone " + remote.url() + " (branch main) into " + (target / "work").string() +
              ": the remote asks for credentials: set PROMOTE_GIT_TOKEN (or GITHUB_TOKEN for "
              "github) to an access token for it");
    CHECK(!fs::exists(target / "work"));
    SUBCASE("gitlab") {
      const auto again = Repository::clone(remote.url(), target / "work", "main", "gitlab");
      REQUIRE(again.has_error());
      CHECK(again.error().message.ends_with(
          ": the remote asks for credentials: set PROMOTE_GIT_TOKEN (or GITLAB_TOKEN, or "
          "CI_JOB_TOKEN in GitLab CI, for gitlab) to an access token for it"));
    }
    SUBCASE("gitea") {
      const auto again = Repository::clone(remote.url(), target / "work", "main", "gitea");
      REQUIRE(again.has_error());
      CHECK(again.error().message.ends_with(
          ": the remote asks for credentials: set PROMOTE_GIT_TOKEN (or GITEA_TOKEN for gitea) "
          "to an access token for it"));
    }
  }

  TEST_CASE("a wrong token fails at once, names its variable, hides it and changes nothing") {
    Remote remote;
    const std::string wrong = "wr0ng-t0ken-value";
    SUBCASE("clone with PROMOTE_GIT_TOKEN") {
      Environment environment({{"PROMOTE_GIT_TOKEN", wrong}});
      TempDir target;
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().kind == ErrorKind::git);
      CHECK(clone.error().message ==
            "cannot clone " + remote.url() + " (branch main) into " + (target / "work").string() +
                ": the remote did not accept the token in PROMOTE_GIT_TOKEN (user "
                "x-access-token; PROMOTE_GIT_USER sets another)");
      // Once without credentials, once with the token: no loop.
      CHECK(remote.server.requests() == 2);
      CHECK(remote.server.unauthorized() == 2);
    }
    SUBCASE("push and fetch with GITHUB_TOKEN") {
      Environment environment({{"GITHUB_TOKEN", k_secret}});
      TempDir target;
      auto clone = Repository::clone(remote.url(), target / "work", "main", "github");
      REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
      commit_change(*clone, "2");
      const std::string before = remote.repo.refs();
      environment.set("GITHUB_TOKEN", wrong);
      const int requests = remote.server.requests();
      const auto pushed = clone->push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::git);
      CHECK(promote::exit_code(pushed.error().kind) == 4);
      CHECK(pushed.error().message ==
            "cannot push main to origin (" + remote.url() +
                "): the remote did not accept the token in GITHUB_TOKEN (user x-access-token)");
      CHECK(pushed.error().message.find(wrong) == std::string::npos);
      CHECK(remote.repo.refs() == before);
      CHECK(remote.server.requests() - requests == 2);
      const auto fetched = clone->fetch("origin", "main");
      REQUIRE(fetched.has_error());
      CHECK(fetched.error().message ==
            "cannot fetch main from origin (" + remote.url() +
                "): the remote did not accept the token in GITHUB_TOKEN (user x-access-token)");
    }
    SUBCASE("a token written into the URL never shows") {
      Environment environment({{"PROMOTE_GIT_TOKEN", wrong}});
      TempDir target;
      const std::string with_userinfo = "http://x-access-token:" + wrong +
                                        "@127.0.0.1:" + std::to_string(remote.server.port()) +
                                        "/acme/deploy.git";
      const auto clone = Repository::clone(with_userinfo, target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message.find(wrong) == std::string::npos);
      CHECK(clone.error().message.starts_with("cannot clone " + remote.url() + " (branch main)"));
    }
  }

  TEST_CASE("a push the HTTP remote refuses because it moved on is a conflict") {
    Remote remote;
    Environment environment({{"PROMOTE_GIT_TOKEN", k_secret}});
    TempDir target;
    auto clone = Repository::clone(remote.url(), target / "work", "main");
    REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
    const std::string theirs = remote.repo.push_theirs("theirs.txt");
    commit_change(*clone, "2");
    const auto pushed = clone->push("origin", "main");
    REQUIRE(pushed.has_error());
    CHECK(pushed.error().kind == ErrorKind::conflict);
    CHECK(pushed.error().message ==
          "cannot push main to origin (" + remote.url() +
              "): the remote has changes not present locally; fetch them and try again");
    CHECK(remote.repo.head() == theirs);
  }

  TEST_CASE("a token goes only to the host of the remote's URL: a redirect elsewhere over plain "
            "http gets nothing") {
    using promote::test::HttpScript;
    using promote::test::http_response;
    Environment environment({{"PROMOTE_GIT_TOKEN", k_secret}, {"GITHUB_TOKEN", k_secret}});
    // A server that asks for credentials, and one that sends the clone there: to another
    // host (localhost for 127.0.0.1), or to another port of the same one.
    HttpScript asks(http_response("401 Unauthorized", "",
                                  "WWW-Authenticate: Basic realm=\"git\"\r\nConnection: close\r\n"));
    const std::string port = std::to_string(asks.port());
    for (const std::string host : {"localhost", "127.0.0.1"}) {
      CAPTURE(host);
      HttpScript redirects(http_response(
          "302 Found", "",
          "Location: http://" + host + ":" + port +
              "/acme/deploy.git/info/refs?service=git-upload-pack\r\n"));
      const int before = asks.requests();
      TempDir target;
      const std::string url = redirects.url("/acme/deploy.git");
      const auto clone = Repository::clone(url, target / "work", "main", "github");
      REQUIRE(clone.has_error());
      CHECK(clone.error().kind == ErrorKind::git);
      CHECK(clone.error().message ==
            "cannot clone " + url + " (branch main) into " + (target / "work").string() +
                ": the remote asks for credentials at http://" + host + ":" + port +
                ", not at the host of its URL (http://127.0.0.1:" +
                std::to_string(redirects.port()) +
                "): PROMOTE_GIT_TOKEN is sent only to that host, and over plain http only to "
                "the very host and port of an http:// URL (a redirect elsewhere gets nothing)");
      CHECK(asks.requests() == before + 1);  // asked once, answered with nothing
      CHECK(asks.received().find("Authorization") == std::string::npos);
    }
  }
}
