// A remote on this machine named by a file:// URL: cloned by copying its objects, as a path is
// (libgit2's local transport walked the whole history and packed it again in process:
// minutes for 100,000 commits), still one branch and with the URL kept as origin; through the
// transport when the remote borrows objects from elsewhere (alternates), so that the clone
// borrows nothing.
#include <doctest/doctest.h>

#include "engine/git/repository.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::git::Repository;
using promote::test::read_text;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

/// A bare `remote.git` with a branch main (kustomization.yaml, tag 1) and a branch other.
struct FileRemote {
  TempDir dir;
  FileRemote() {
    sh("git init -q --bare -b main remote.git && git init -q -b main seed && cd seed && "
       "echo 'tag: 1' > kustomization.yaml && git add -A && "
       "git -c user.name=t -c user.email=t@e commit -q -m one && git checkout -q -b other && "
       "echo o > other.txt && git add -A && "
       "git -c user.name=t -c user.email=t@e commit -q -m other && "
       "git push -q ../remote.git main other",
       dir.path());
  }
  std::string url(const std::string& name = "remote.git") const {
    return "file://" + (dir / name).string();
  }
  std::string head() const {
    std::string id = sh("git --git-dir=remote.git rev-parse main", dir.path());
    id.pop_back();
    return id;
  }
};

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("a file:// remote is cloned by copying its objects: one branch, its URL kept") {
    FileRemote remote;
    const std::string head = remote.head();
    auto clone = Repository::clone(remote.url(), remote.dir / "clone", "main");
    REQUIRE(clone.has_value());
    CHECK(clone->current_branch().value() == "main");
    CHECK(clone->resolve("origin/main").value() == head);
    CHECK(clone->resolve("origin/other").value() == std::nullopt);
    CHECK(clone->remote_url("origin").value() == std::optional<std::string>(remote.url()));
    CHECK(read_text(remote.dir / "clone/kustomization.yaml") == "tag: 1\n");
    // The remote's own object files (a push of a few objects leaves them loose), copied and
    // not linked; the local transport wrote a pack of its own instead.
    const fs::path object = fs::path("objects") / head.substr(0, 2) / head.substr(2);
    REQUIRE(fs::exists(remote.dir / "remote.git" / object));
    CHECK(fs::exists(remote.dir / "clone/.git" / object));
    CHECK(fs::hard_link_count(remote.dir / "clone/.git" / object) == 1);
    // A later fetch still goes through the transport, and moves origin/main.
    sh("cd seed && git checkout -q main && echo 'tag: 2' > kustomization.yaml && "
       "git -c user.name=t -c user.email=t@e commit -q -am two && git push -q ../remote.git main",
       remote.dir.path());
    REQUIRE(clone->fetch("origin", "main").has_value());
    CHECK(clone->resolve("origin/main").value() == remote.head());
  }

  TEST_CASE("a file:// remote without the branch asked for says so") {
    FileRemote remote;
    const auto clone = Repository::clone(remote.url(), remote.dir / "x", "nope");
    REQUIRE(clone.has_error());
    CHECK(clone.error().message == "cannot clone " + remote.url() + " (branch nope) into " +
                                       (remote.dir / "x").string() +
                                       ": the remote has no branch nope");
    CHECK(!fs::exists(remote.dir / "x"));
  }

  TEST_CASE("a file:// remote with alternates is cloned through the transport, whole") {
    FileRemote remote;
    // shared.git has no object of its own: it borrows them all from remote.git by a relative
    // path, which a copy would carry along and which leads nowhere from the clone.
    sh("git init -q --bare -b main shared.git", remote.dir.path());
    write_text(remote.dir / "shared.git/objects/info/alternates", "../../remote.git/objects\n");
    sh("git --git-dir=shared.git update-ref refs/heads/main " + remote.head() +
           " && git --git-dir=shared.git fsck --no-dangling --no-progress",
       remote.dir.path());
    auto clone = Repository::clone(remote.url("shared.git"), remote.dir / "clone", "main");
    REQUIRE(clone.has_value());
    CHECK(clone->resolve("origin/main").value() == remote.head());
    CHECK(read_text(remote.dir / "clone/kustomization.yaml") == "tag: 1\n");
    CHECK(!fs::exists(remote.dir / "clone/.git/objects/info/alternates"));
    CHECK(sh("git fsck --no-dangling --no-progress && echo whole", remote.dir / "clone") ==
          "whole\n");
  }
}
