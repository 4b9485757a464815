// Repository under other writers: a commit that holds exactly what its caller wrote or none,
// and notes laid on the remote's without dropping a line another writer added meanwhile.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/git/repository.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::ErrorKind;
using promote::git::Repository;
using promote::git::Signature;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

/// A repository `work` with one commit on main: k8s/dev/kustomization.yaml and README.
struct Work {
  TempDir dir;
  Work() {
    sh("git init -q -b main work && cd work && mkdir -p k8s/dev && "
       "echo 'tag: 1' > k8s/dev/kustomization.yaml && echo readme > README && git add -A && "
       "git -c user.name=t -c user.email=t@e -c commit.gpgsign=false commit -q -m init",
       dir.path());
  }
  fs::path work() const { return dir / "work"; }
  std::string head() const { return sh("git rev-parse HEAD", work()).substr(0, 40); }
};

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("a commit told what its files hold commits nothing when a file holds something else "
            "or HEAD moved") {
    Work work;
    Repository repository = Repository::open(work.work()).value();
    const Signature who{"A", "a@e"};
    const std::string prefix = "cannot commit in " + work.work().string() + ": ";
    const std::string head = work.head();
    write_text(work.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    SUBCASE("as written: committed") {
      const Repository::Expected expected{head, {"tag: 2\n"}};
      const auto id = repository.commit({"k8s/dev/kustomization.yaml"}, "m", who, &expected);
      REQUIRE(id.has_value());
      CHECK(*id == work.head());
    }
    SUBCASE("someone else wrote the file after it was written") {
      const Repository::Expected expected{head, {"tag: 3\n"}};
      const auto id = repository.commit({"k8s/dev/kustomization.yaml"}, "m", who, &expected);
      REQUIRE(id.has_error());
      CHECK(id.error().kind == ErrorKind::conflict);
      CHECK(id.error().message == prefix +
                                      "'k8s/dev/kustomization.yaml' does not hold what was "
                                      "written; something else wrote in the repository meanwhile");
      CHECK(work.head() == head);
    }
    SUBCASE("someone else committed meanwhile") {
      sh("git -c user.name=t -c user.email=t@e commit -q -m other README --allow-empty",
         work.work());
      const std::string moved = work.head();
      const Repository::Expected expected{head, {"tag: 2\n"}};
      const auto id = repository.commit({"k8s/dev/kustomization.yaml"}, "m", who, &expected);
      REQUIRE(id.has_error());
      CHECK(id.error().kind == ErrorKind::conflict);
      CHECK(id.error().message == prefix + "HEAD is no longer " + head.substr(0, 12) +
                                      "; something else wrote in the repository meanwhile");
      CHECK(work.head() == moved);
    }
  }

  TEST_CASE("notes laid on another copy once stay where they are while they hold all of it") {
    // A rebase that moved the ref every time starved a writer appending meanwhile: its
    // compare-and-swap found the ref moved 50 times running ("the notes kept changing").
    Work work;
    const std::string ref = "refs/notes/promote";
    const std::string theirs = "refs/notes/fetched";
    const Signature who{"A", "a@e"};
    sh("git -c user.name=t -c user.email=t@e notes --ref=promote add -m '{\"theirs\":0}' HEAD && "
       "git update-ref " +
           theirs + " " + ref +
           " && "
           "git -c user.name=t -c user.email=t@e notes --ref=promote append -m '{\"ours\":1}' HEAD",
       work.work());
    Repository repository = Repository::open(work.work()).value();
    const auto tip = [&] { return sh("git rev-parse " + ref, work.work()); };
    const std::string appended = tip();
    REQUIRE(repository.rebase_notes(ref, theirs, who).has_value());
    CHECK(tip() == appended);  // ours was laid on theirs already
    sh("git -c user.name=t -c user.email=t@e notes --ref=promote append -m '{\"ours\":2}' HEAD",
       work.work());
    const std::string again = tip();
    REQUIRE(repository.rebase_notes(ref, theirs, who).has_value());
    CHECK(tip() == again);
    // Theirs moved on: now the ref moves, and keeps every line.
    sh("git -c user.name=t -c user.email=t@e notes --ref=fetched append -m '{\"theirs\":3}' HEAD",
       work.work());
    REQUIRE(repository.rebase_notes(ref, theirs, who).has_value());
    CHECK(tip() != again);
    CHECK(sh("git notes --ref=promote show HEAD", work.work()) ==
          "{\"theirs\":0}\n{\"theirs\":3}\n{\"ours\":1}\n{\"ours\":2}\n");
  }

  TEST_CASE("notes laid on another copy keep every line a writer adds meanwhile") {
    Work work;
    const std::string head = work.head();
    const std::string ref = "refs/notes/promote";
    const std::string theirs = "refs/promote/fetched";
    const Signature who{"A", "a@e"};
    sh("git -c user.name=t -c user.email=t@e notes --ref=promote add -m '{\"theirs\":0}' HEAD && "
       "git update-ref " + theirs + " " + ref,
       work.work());
    // One writer appends 200 lines while another lays the notes on `theirs` again and again, as
    // publishing runs in one checkout did before the write lock.
    std::atomic<bool> done{false};
    std::string append_error;
    std::thread appender([&] {
      Repository repository = Repository::open(work.work()).value();
      for (int i = 0; i < 200 && append_error.empty(); ++i) {
        if (auto added =
                repository.append_note(ref, head, {"{\"line\":" + std::to_string(i) + "}"}, who);
            !added) {
          append_error = added.error().message;
        }
      }
      done = true;
    });
    Repository repository = Repository::open(work.work()).value();
    int rebases = 0;
    std::string rebase_error;
    while (!done) {
      if (auto rebased = repository.rebase_notes(ref, theirs, who); !rebased) {
        rebase_error = rebased.error().message;
      }
      ++rebases;
    }
    appender.join();
    CHECK(append_error == "");
    CHECK(rebase_error == "");
    const std::string note = repository.note(ref, head).value().value_or("");
    int lost = 0;
    for (int i = 0; i < 200; ++i) {
      lost += note.find("{\"line\":" + std::to_string(i) + "}\n") == std::string::npos ? 1 : 0;
    }
    MESSAGE(rebases << " rebases, " << lost << " lines lost");
    CHECK(lost == 0);
    CHECK(note.find("{\"theirs\":0}\n") != std::string::npos);
  }
}
