// How a commit stores the objects it makes (engine/git/object_batch.hpp): loose when few, one
// pack when many, nothing when it fails; and a push that sends the commit's own pack.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/git/repository.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::git::Repository;
using promote::git::Signature;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

const std::string k_git = "git -c user.name=t -c user.email=t@e -c commit.gpgsign=false ";

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

/// A clone `work` of a bare `remote.git`, one commit on main: `services` directories of one
/// kustomization each.
struct Fixture {
  TempDir dir;
  explicit Fixture(int services) {
    std::string script = "git init -q --bare -b main remote.git\ngit init -q -b main work\n";
    for (int i = 0; i < services; ++i) {
      write_text(dir / "work" / file(i), text(i, "1"));
    }
    sh(script + "cd work\ngit add -A\n" + k_git + "commit -q -m init\ngit remote add origin " +
           (dir / "remote.git").string() + "\ngit push -q origin main\n",
       dir.path());
  }
  static std::string file(int i) {
    return "services/svc-" + std::to_string(i) + "/kustomization.yaml";
  }
  static std::string text(int i, const std::string& tag) {
    return "name: svc-" + std::to_string(i) + "\ntag: " + tag + "\n";
  }
  fs::path work() const { return dir / "work"; }
  std::string git(const std::string& args) const { return trim(sh("git " + args, work())); }
  std::string remote_git(const std::string& args) const {
    return trim(sh("git --git-dir=remote.git " + args, dir.path()));
  }
  /// The names of the packs of a repository's object store, sorted.
  static std::string packs(const fs::path& objects) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(objects / "pack")) {
      if (entry.path().extension() == ".pack") {
        names.push_back(entry.path().filename().string());
      }
    }
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& name : names) {
      out += name + "\n";
    }
    return out;
  }
  /// How many loose objects there are (git count-objects).
  int loose() const {
    return std::stoi(git("count-objects -v").substr(std::string("count: ").size()));
  }
  /// Edits the first `count` files and commits them.
  std::string commit(Repository& repository, int count, const std::string& tag) const {
    std::vector<std::string> paths;
    for (int i = 0; i < count; ++i) {
      write_text(work() / file(i), text(i, tag));
      paths.push_back(file(i));
    }
    return repository.commit(paths, "bump to " + tag, Signature{"A", "a@e"}).value();
  }
};

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("a commit of many files stores its objects in one pack git reads as its own") {
    Fixture fixture(60);  // 60 blobs, 62 trees and the commit: over the line of 100
    Repository repository = Repository::open(fixture.work()).value();
    const int loose = fixture.loose();
    const std::string id = fixture.commit(repository, 60, "2");
    CHECK(id == fixture.git("rev-parse HEAD"));
    CHECK(fixture.loose() == loose);  // nothing loose
    CHECK(trim(sh("git count-objects -v | grep '^packs:'", fixture.work())) == "packs: 1");
    CHECK(fixture.git("show HEAD:" + Fixture::file(59)) + "\n" == Fixture::text(59, "2"));
    CHECK(fixture.git("write-tree") == fixture.git("rev-parse HEAD^{tree}"));
    CHECK(fixture.git("status --porcelain") == "");
    CHECK(fixture.git("fsck --strict --no-dangling 2>&1") == "");
    CHECK(fixture.git("reflog -1 --format=%gs HEAD") == "commit: bump to 2");
    CHECK(fixture.git("reflog -1 --format=%gs main") == "commit: bump to 2");
  }

  TEST_CASE("a commit of a few files stores them loose") {
    Fixture fixture(60);
    Repository repository = Repository::open(fixture.work()).value();
    const std::string packs = Fixture::packs(fixture.work() / ".git/objects");
    const int loose = fixture.loose();
    fixture.commit(repository, 1, "2");
    CHECK(Fixture::packs(fixture.work() / ".git/objects") == packs);
    CHECK(fixture.loose() == loose + 5);  // the blob, three trees and the commit
    CHECK(fixture.git("fsck --strict --no-dangling 2>&1") == "");
  }

  TEST_CASE("a commit that fails stores nothing") {
    Fixture fixture(60);
    Repository repository = Repository::open(fixture.work()).value();
    const int loose = fixture.loose();
    std::vector<std::string> paths;
    for (int i = 0; i < 60; ++i) {
      write_text(fixture.work() / Fixture::file(i), Fixture::text(i, "2"));
      paths.push_back(Fixture::file(i));
    }
    // The files and trees are made before the signature is found wanting.
    const auto failed = repository.commit(paths, "m", Signature{"", ""});
    REQUIRE_FALSE(failed.has_value());
    CHECK(fixture.loose() == loose);
    CHECK(Fixture::packs(fixture.work() / ".git/objects") == "");
    CHECK(fixture.git("rev-parse HEAD~0") == fixture.git("rev-parse origin/main"));
    // The repository reads and writes as before.
    const std::string id = repository.commit(paths, "m", Signature{"A", "a@e"}).value();
    CHECK(fixture.git("show " + id + ":" + Fixture::file(0)) + "\n" == Fixture::text(0, "2"));
  }

  TEST_CASE("a push of a commit stored as one pack sends that pack") {
    Fixture fixture(60);
    Repository repository = Repository::open(fixture.work()).value();
    const std::string id = fixture.commit(repository, 60, "2");
    const std::string ours = Fixture::packs(fixture.work() / ".git/objects");
    REQUIRE(repository.push("origin", "main").has_value());
    CHECK(fixture.remote_git("rev-parse main") == id);
    CHECK(fixture.remote_git("fsck --strict --no-dangling 2>&1") == "");
    CHECK(Fixture::packs(fixture.dir / "remote.git/objects").find(ours) != std::string::npos);
    CHECK(fixture.git("rev-parse origin/main") == id);
  }

  TEST_CASE("a push of two commits the remote lacks sends what both hold") {
    Fixture fixture(60);
    Repository repository = Repository::open(fixture.work()).value();
    const std::string first = fixture.commit(repository, 60, "2");
    const std::string second = fixture.commit(repository, 60, "3");
    REQUIRE(repository.push("origin", "main").has_value());
    CHECK(fixture.remote_git("rev-parse main") == second);
    CHECK(fixture.remote_git("fsck --strict --no-dangling 2>&1") == "");
    CHECK(fixture.remote_git("show " + first + ":" + Fixture::file(7)) + "\n" ==
          Fixture::text(7, "2"));
    CHECK(fixture.remote_git("show " + second + ":" + Fixture::file(7)) + "\n" ==
          Fixture::text(7, "3"));
  }
}
