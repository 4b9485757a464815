// --workdir through the Workspace API: a remote repository cloned once into a kept
// directory, fetched and moved to the remote branch's head on later runs; anything else in
// the directory refused and left alone.

#include <doctest/doctest.h>

#include "engine/promoter/workspace.hpp"
#include "tests/git/remotes.hpp"
#include "tests/support/servers/git_http.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::ErrorKind;
using promote::promoter::Workspace;
using promote::test::BareRemote;
using promote::test::read_text;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::trim_end;
using promote::test::write_text;
using Environment = promote::test::CredentialEnvironment;

/// A pipeline on the repository at `url` (branch main), its file in `dir`.
promote::pipeline::Pipeline pipeline_on(const std::string& url, const fs::path& dir,
                                        const std::string& provider = "") {
  promote::pipeline::Pipeline pipeline;
  pipeline.file = dir / "promote.yaml";
  pipeline.base_dir = dir;
  pipeline.name = "shop";
  pipeline.repository.url = url;
  pipeline.repository.provider = provider;
  return pipeline;
}

std::string git(const std::string& args, const fs::path& dir) {
  return trim_end(sh("git " + args, dir));
}

struct Fixture {
  TempDir dir;
  BareRemote remote{dir / "remote"};
  fs::path workdir = dir / "kept";
  promote::pipeline::Pipeline pipeline = pipeline_on(remote.bare().string(), dir.path());

  Workspace open() const {
    auto workspace = Workspace::open(pipeline, workdir);
    REQUIRE_MESSAGE(workspace.has_value(), workspace.error().message);
    return std::move(*workspace);
  }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("--workdir clones a remote repository once and keeps it") {
    Fixture fixture;
    sh("git tag v1 && git push -q origin v1", fixture.dir / "remote/seed");
    SUBCASE("absent") {}
    SUBCASE("empty") {
      fs::create_directories(fixture.workdir);
    }
    {
      Workspace workspace = fixture.open();
      CHECK(workspace.root() == fs::canonical(fixture.workdir));
      CHECK(read_text(fixture.workdir / "deploy.yaml") == "tag: 1\n");
      CHECK(workspace.repository().current_branch().value() == "main");
    }
    CHECK(fs::is_directory(fixture.workdir / ".git"));
    CHECK(git("rev-parse HEAD", fixture.workdir) == fixture.remote.head());
    CHECK(git("for-each-ref --format='%(refname)'", fixture.workdir) ==
          "refs/heads/main\nrefs/remotes/origin/HEAD\nrefs/remotes/origin/main");  // no tags
  }

  TEST_CASE("a kept workdir is fetched and moved to the remote branch's head") {
    Fixture fixture;
    fixture.open();
    const std::string theirs = fixture.remote.push_theirs("theirs.txt");
    write_text(fixture.workdir / "untracked.txt", "stays\n");
    {
      Workspace workspace = fixture.open();
      CHECK(workspace.repository().resolve("HEAD").value() == theirs);
    }
    CHECK(git("rev-parse HEAD", fixture.workdir) == theirs);
    CHECK(fs::exists(fixture.workdir / "theirs.txt"));
    CHECK(read_text(fixture.workdir / "untracked.txt") == "stays\n");
    CHECK(git("status --porcelain", fixture.workdir) == "?? untracked.txt");
    SUBCASE("and again, with nothing new") {
      Workspace workspace = fixture.open();
      CHECK(workspace.repository().resolve("HEAD").value() == theirs);
    }
  }

  TEST_CASE("a lock a killed fetch left in a kept workdir is removed before the next fetch") {
    // A run killed while its fetch moved refs/remotes/origin/main leaves main.lock behind; the
    // next fetch could not take the lock, and every run failed from then on (seen in the crash
    // test).
    Fixture fixture;
    fixture.open();
    const std::string theirs = fixture.remote.push_theirs("theirs.txt");
    const fs::path lock = fixture.workdir / ".git/refs/remotes/origin/main.lock";
    write_text(lock, "0123\n");
    {
      Workspace workspace = fixture.open();
      CHECK(workspace.repository().resolve("HEAD").value() == theirs);
    }
    CHECK_FALSE(fs::exists(lock));
  }

  TEST_CASE("local commits or changes in a kept workdir block the move and stay") {
    Fixture fixture;
    fixture.open();
    const std::string shown = "--workdir " + fixture.workdir.string();
    SUBCASE("a local commit") {
      sh("echo mine > mine.txt && git add mine.txt && " + promote::test::k_git_commit + "-m mine",
         fixture.workdir);
      const std::string mine = git("rev-parse HEAD", fixture.workdir);
      std::string remote_head = fixture.remote.head();
      SUBCASE("the remote moved on too") {
        remote_head = fixture.remote.push_theirs("theirs.txt");
      }
      SUBCASE("the remote did not move") {}
      const auto workspace = Workspace::open(fixture.pipeline, fixture.workdir);
      REQUIRE(workspace.has_error());
      CHECK(workspace.error().kind == ErrorKind::conflict);
      CHECK(promote::exit_code(workspace.error().kind) == 4);
      CHECK(workspace.error().message ==
            shown + " cannot take origin/main: cannot move to " + remote_head.substr(0, 12) +
                ": the branch has commits that " + remote_head.substr(0, 12) +
                " does not contain; push or drop them first (or remove the directory, and the "
                "next run clones afresh)");
      CHECK(git("rev-parse HEAD", fixture.workdir) == mine);
    }
    SUBCASE("a local change the remote's head would overwrite") {
      write_text(fixture.workdir / "deploy.yaml", "tag: local\n");
      sh("git fetch -q origin && git reset -q --hard origin/main && echo 'tag: 2' > deploy.yaml "
         "&& git add deploy.yaml && " +
             promote::test::k_git_commit + "-m two && git push -q origin main",
         fixture.dir / "remote/seed");
      const auto workspace = Workspace::open(fixture.pipeline, fixture.workdir);
      REQUIRE(workspace.has_error());
      CHECK(workspace.error().kind == ErrorKind::conflict);
      CHECK(workspace.error().message.starts_with(shown + " cannot take origin/main: "));
      CHECK(workspace.error().message.find("local changes would be overwritten") !=
            std::string::npos);
      CHECK(read_text(fixture.workdir / "deploy.yaml") == "tag: local\n");
    }
  }

  TEST_CASE("a workdir that holds anything else is refused and left as it is") {
    Fixture fixture;
    const std::string url = fixture.remote.bare().string();
    const std::string shown = "--workdir " + fixture.workdir.string();
    const std::string other = shown + " holds something other than a clone of " + url + " (";
    const std::string advice = "); give an absent or empty directory, or that clone";
    std::string expected;
    SUBCASE("a directory with files") {
      write_text(fixture.workdir / "notes.txt", "mine\n");
      expected = other + "it is not the root of a git repository" + advice;
    }
    SUBCASE("a directory inside another repository") {
      sh("git init -q -b main outer && mkdir -p outer/kept && echo x > outer/kept/x.txt",
         fixture.dir.path());
      fixture.workdir = fixture.dir / "outer/kept";
      expected = "--workdir " + fixture.workdir.string() +
                 " holds something other than a clone of " + url +
                 " (it is not the root of a git repository" + advice;
    }
    SUBCASE("a clone of another repository") {
      sh("git init -q --bare -b main other.git && git clone -q other.git kept 2>/dev/null",
         fixture.dir.path());
      expected = other + "its origin is " + (fixture.dir / "other.git").string() + advice;
    }
    SUBCASE("a repository without origin") {
      sh("git init -q -b main kept && echo x > kept/x.txt", fixture.dir.path());
      expected = other + "it has no remote 'origin'" + advice;
    }
    SUBCASE("a clone of the URL with a token in another spelling is shown without it") {
      sh("git init -q -b main kept && git -C kept remote add origin "
         "https://bot:hunter2@example.com/acme/other.git",
         fixture.dir.path());
      expected = other + "its origin is https://example.com/acme/other.git" + advice;
    }
    SUBCASE("a file") {
      write_text(fixture.workdir, "a file\n");
      expected = shown + " is a file; give a directory, absent or empty for the first run";
    }
    const std::string before =
        sh("find . -print | sort && cat $(find . -type f | sort) 2>/dev/null || true",
           fixture.dir.path());
    const auto workspace = Workspace::open(fixture.pipeline, fixture.workdir);
    REQUIRE(workspace.has_error());
    CHECK(workspace.error().kind == ErrorKind::usage);
    CHECK(workspace.error().message == expected);
    CHECK(sh("find . -print | sort && cat $(find . -type f | sort) 2>/dev/null || true",
             fixture.dir.path()) == before);
  }

  TEST_CASE("a kept clone of the same URL spelled with .git or a slash is reused") {
    Fixture fixture;
    fixture.open();
    fixture.pipeline.repository.url = fixture.remote.bare().string() + "/";
    const auto workspace = Workspace::open(fixture.pipeline, fixture.workdir);
    CHECK_MESSAGE(workspace.has_value(), workspace.error().message);
  }

  TEST_CASE("a kept workdir on another branch is refused") {
    Fixture fixture;
    fixture.open();
    sh("git checkout -q -b other", fixture.workdir);
    const auto workspace = Workspace::open(fixture.pipeline, fixture.workdir);
    REQUIRE(workspace.has_error());
    CHECK(workspace.error().kind == ErrorKind::usage);
    CHECK(workspace.error().message == "--workdir " + fixture.workdir.string() +
                                           " is on branch 'other', but the pipeline promotes on "
                                           "'main'; give another --workdir");
  }

  TEST_CASE("--workdir is for remote repositories") {
    TempDir dir;
    sh("git init -q -b main repo", dir.path());
    const auto pipeline = pipeline_on(".", dir / "repo");
    const auto workspace = Workspace::open(pipeline, dir / "kept");
    REQUIRE(workspace.has_error());
    CHECK(workspace.error().kind == ErrorKind::usage);
    CHECK(workspace.error().message ==
          "--workdir is for remote repositories; the pipeline's repository.url is '.', the "
          "repository holding " +
              (dir / "repo/promote.yaml").string());
    CHECK(!fs::exists(dir / "kept"));
  }

  TEST_CASE("the pipeline's provider picks the token for a remote workspace") {
    TempDir dir;
    BareRemote remote(dir / "remote");
    promote::test::GitHttpServer server(remote.root(), "x-access-token", "gh-s3cret");
    Environment environment({{"GITHUB_TOKEN", "gh-s3cret"}});
    const auto pipeline = pipeline_on(server.url("acme/deploy.git"), dir.path(), "github");
    SUBCASE("a temporary clone") {
      auto workspace = Workspace::open(pipeline);
      REQUIRE_MESSAGE(workspace.has_value(), workspace.error().message);
      CHECK(read_text(workspace->root() / "deploy.yaml") == "tag: 1\n");
    }
    SUBCASE("a kept one, cloned then fetched") {
      REQUIRE(Workspace::open(pipeline, dir / "kept").has_value());
      const std::string theirs = remote.push_theirs("theirs.txt");
      auto workspace = Workspace::open(pipeline, dir / "kept");
      REQUIRE_MESSAGE(workspace.has_value(), workspace.error().message);
      CHECK(workspace->repository().resolve("HEAD").value() == theirs);
    }
    SUBCASE("without the provider, GITHUB_TOKEN is not sent to this host") {
      auto workspace = Workspace::open(pipeline_on(server.url("acme/deploy.git"), dir.path()));
      REQUIRE(workspace.has_error());
      CHECK(workspace.error().message.find("set PROMOTE_GIT_TOKEN") != std::string::npos);
    }
  }
}
