#include "engine/git/repository.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/support/support.hpp"

using promote::test::ScopedEnv;

namespace {

namespace fs = std::filesystem;
using promote::ErrorKind;
using promote::git::CommitInfo;
using promote::git::Repository;
using promote::git::Signature;
using promote::test::read_text;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

/// Prefix of every `git commit` in the scripts: a fixed identity, no signing.
const std::string k_git = "git -c user.name=t -c user.email=t@e -c commit.gpgsign=false ";

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

/// A bare `remote.git` and a clone `work` of it with one commit on main:
/// k8s/dev/kustomization.yaml, k8s/dev/old.yaml, k8s/prod/kustomization.yaml, README.
struct Fixture {
  TempDir dir;
  Fixture() {
    sh("git init -q --bare -b main remote.git\n"
       "git init -q -b main work\n"
       "cd work\n"
       "mkdir -p k8s/dev k8s/prod\n"
       "echo 'tag: 1' > k8s/dev/kustomization.yaml\n"
       "echo old > k8s/dev/old.yaml\n"
       "echo 'tag: 1' > k8s/prod/kustomization.yaml\n"
       "echo readme > README\n"
       "printf '*.log\\n' > .gitignore\n"
       "git add -A\n" +
           k_git + "commit -q -m init\n" + "git remote add origin \"" + remote().string() +
           "\"\n"
           "git push -q origin main\n",
       dir.path());
  }
  fs::path work() const { return dir / "work"; }
  fs::path remote() const { return dir / "remote.git"; }
  std::string git(const std::string& args) const { return trim(sh("git " + args, work())); }
  Repository open() const { return Repository::open(work()).value(); }
};

/// An HTTP server on 127.0.0.1 that answers every request with 401 (Basic) and keeps
/// each request's head.
class DenyingServer {
 public:
  DenyingServer() {
    m_socket = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_socket >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(m_socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(m_socket, 8) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(m_socket, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~DenyingServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_socket);
  }
  DenyingServer(const DenyingServer&) = delete;
  DenyingServer& operator=(const DenyingServer&) = delete;

  std::string base() const { return "127.0.0.1:" + std::to_string(m_port); }
  std::vector<std::string> requests() const {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }

 private:
  void serve() {
    while (!m_stop) {
      pollfd ready{m_socket, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) {
        continue;
      }
      const int client = ::accept(m_socket, nullptr, nullptr);
      if (client < 0) {
        continue;
      }
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        pollfd readable{client, POLLIN, 0};
        if (::poll(&readable, 1, 5000) <= 0) {
          break;
        }
        const ssize_t got = ::read(client, buffer, sizeof buffer);
        if (got <= 0) {
          break;
        }
        request.append(buffer, static_cast<std::size_t>(got));
      }
      {
        const std::lock_guard lock(m_mutex);
        m_requests.push_back(request);
      }
      const std::string response =
          "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  int m_socket = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  mutable std::mutex m_mutex;
  std::vector<std::string> m_requests;
  std::thread m_thread;
};

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("a repository opens from its root and from a subdirectory") {
    Fixture fixture;
    SUBCASE("root") {
      const auto repository = Repository::open(fixture.work());
      REQUIRE(repository.has_value());
      CHECK(repository->workdir() == fixture.work());
    }
    SUBCASE("subdirectory") {
      const auto repository = Repository::open(fixture.work() / "k8s" / "dev");
      REQUIRE(repository.has_value());
      CHECK(repository->workdir() == fixture.work());
    }
    SUBCASE("moved") {
      Repository first = fixture.open();
      Repository second = std::move(first);
      CHECK(second.workdir() == fixture.work());
      CHECK(second.current_branch().value() == "main");
    }
  }

  TEST_CASE("opening a directory outside any repository or a bare one fails") {
    TempDir dir;
    SUBCASE("not a repository") {
      const auto repository = Repository::open(dir.path());
      REQUIRE(repository.has_error());
      CHECK(repository.error().kind == ErrorKind::git);
      CHECK(repository.error().message == "cannot open repository at " + dir.path().string() +
                                              ": could not find repository from '" +
                                              dir.path().string() + "'");
    }
    SUBCASE("bare") {
      sh("git init -q --bare -b main bare.git", dir.path());
      const auto repository = Repository::open(dir / "bare.git");
      REQUIRE(repository.has_error());
      CHECK(repository.error().message ==
            "cannot open repository at " + (dir / "bare.git").string() +
                ": it is a bare repository, and promote needs a working tree");
    }
  }

  TEST_CASE("the current branch is the one HEAD points at") {
    Fixture fixture;
    SUBCASE("main") { CHECK(fixture.open().current_branch().value() == "main"); }
    SUBCASE("another branch") {
      fixture.git("checkout -q -b feature");
      CHECK(fixture.open().current_branch().value() == "feature");
    }
    SUBCASE("before the first commit") {
      TempDir dir;
      sh("git init -q -b trunk", dir.path());
      CHECK(Repository::open(dir.path()).value().current_branch().value() == "trunk");
    }
    SUBCASE("detached HEAD") {
      fixture.git("checkout -q --detach");
      const std::string id = fixture.git("rev-parse --short=12 HEAD");
      const auto branch = fixture.open().current_branch();
      REQUIRE(branch.has_error());
      CHECK(branch.error().kind == ErrorKind::git);
      CHECK(branch.error().message == "cannot tell the current branch of " +
                                          fixture.work().string() + ": HEAD is detached at " +
                                          id + "; check out a branch first");
    }
  }

  TEST_CASE("dirty paths are the changed, staged and untracked files under the paths") {
    Fixture fixture;
    const Repository repository = fixture.open();
    SUBCASE("a clean tree has none") {
      CHECK(repository.dirty_paths({"k8s/dev"}).value().empty());
      CHECK(repository.dirty_paths({"."}).value().empty());
    }
    SUBCASE("changes of every kind") {
      write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
      write_text(fixture.work() / "k8s/dev/staged.yaml", "new\n");
      fixture.git("add k8s/dev/staged.yaml");
      write_text(fixture.work() / "k8s/dev/sub/untracked.yaml", "u\n");
      write_text(fixture.work() / "k8s/dev/debug.log", "ignored\n");
      fs::remove(fixture.work() / "k8s/dev/old.yaml");
      write_text(fixture.work() / "k8s/prod/kustomization.yaml", "tag: 2\n");
      write_text(fixture.work() / "k8s/development.yaml", "not under k8s/dev\n");
      const std::vector<std::string> dev = {"k8s/dev/kustomization.yaml", "k8s/dev/old.yaml",
                                            "k8s/dev/staged.yaml", "k8s/dev/sub/untracked.yaml"};
      CHECK(repository.dirty_paths({"k8s/dev"}).value() == dev);
      CHECK(repository.dirty_paths({"./k8s/dev/"}).value() == dev);
      CHECK(repository.dirty_paths({"k8s/dev/old.yaml", "README"}).value() ==
            std::vector<std::string>{"k8s/dev/old.yaml"});
      CHECK(repository.dirty_paths({"k8s/prod", "k8s/dev/sub"}).value() ==
            std::vector<std::string>{"k8s/dev/sub/untracked.yaml", "k8s/prod/kustomization.yaml"});
      CHECK(repository.dirty_paths({"."}).value().size() == 6);
      CHECK(repository.dirty_paths({}).value().empty());
    }
    SUBCASE("a path outside the repository is refused") {
      const auto dirty = repository.dirty_paths({"../elsewhere"});
      REQUIRE(dirty.has_error());
      CHECK(dirty.error().message == "cannot list the changed files in " +
                                         fixture.work().string() +
                                         ": path '../elsewhere' is outside the repository");
    }
  }

  TEST_CASE("dirty paths given the contents as read: a file is clean only as HEAD and the index hold it") {
    Fixture fixture;
    const Repository repository = fixture.open();
    const std::string dev = "k8s/dev/kustomization.yaml";
    const std::string prod = "k8s/prod/kustomization.yaml";
    const auto dirty = [&](const std::string& read_dev, const std::string& read_prod) {
      return repository.dirty_paths({dev, prod}, {read_dev, read_prod}).value();
    };
    SUBCASE("the files as committed") { CHECK(dirty("tag: 1\n", "tag: 1\n").empty()); }
    SUBCASE("a change on disk") {
      write_text(fixture.work() / prod, "tag: 5\n");
      CHECK(dirty("tag: 1\n", "tag: 5\n") == std::vector<std::string>{prod});
    }
    SUBCASE("contents that are not those on disk are checked on disk") {
      CHECK(dirty("tag: 2\n", "tag: 1\n").empty());
    }
    SUBCASE("a staged change whose file is back as in HEAD") {
      write_text(fixture.work() / dev, "tag: 2\n");
      fixture.git("add " + dev);
      write_text(fixture.work() / dev, "tag: 1\n");
      CHECK(dirty("tag: 1\n", "tag: 1\n") == std::vector<std::string>{dev});
    }
    SUBCASE("a file made executable") {
      fs::permissions(fixture.work() / dev, fs::perms::owner_exec, fs::perm_options::add);
      CHECK(dirty("tag: 1\n", "tag: 1\n") == std::vector<std::string>{dev});
    }
    SUBCASE("a file removed from the index") {
      fixture.git("rm -q --cached " + prod);
      CHECK(dirty("tag: 1\n", "tag: 1\n") == std::vector<std::string>{prod});
    }
    SUBCASE("an untracked file") {
      write_text(fixture.work() / "k8s/dev/new.yaml", "new\n");
      CHECK(repository.dirty_paths({"k8s/dev/new.yaml"}, {"new\n"}).value() ==
            std::vector<std::string>{"k8s/dev/new.yaml"});
    }
    SUBCASE("contents for some of the paths only are refused") {
      CHECK(repository.dirty_paths({dev, prod}, {"tag: 1\n"}).has_error());
    }
    SUBCASE("before the first commit every file is new") {
      TempDir dir;
      sh("git init -q -b main", dir.path());
      write_text(dir / "a.yaml", "a\n");
      const Repository fresh = Repository::open(dir.path()).value();
      CHECK(fresh.dirty_paths({"a.yaml"}, {"a\n"}).value() == std::vector<std::string>{"a.yaml"});
    }
  }

  TEST_CASE("a commit holds exactly the given files and leaves the rest alone") {
    Fixture fixture;
    Repository repository = fixture.open();
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    write_text(fixture.work() / "k8s/dev/new.yaml", "new\n");
    fs::remove(fixture.work() / "k8s/dev/old.yaml");
    write_text(fixture.work() / "k8s/prod/kustomization.yaml", "tag: staged\n");
    fixture.git("add k8s/prod/kustomization.yaml");
    write_text(fixture.work() / "notes.txt", "untracked\n");

    const std::string message =
        "promote(dev): api 1 -> 2\n\nPromote-Stage: dev\nPromote-From: none\n";
    const auto id = repository.commit(
        {"k8s/dev/kustomization.yaml", "k8s/dev/new.yaml", "k8s/dev/old.yaml"}, message,
        Signature{"Promote Bot", "bot@example.com"});
    REQUIRE(id.has_value());
    CHECK(*id == fixture.git("rev-parse HEAD"));
    CHECK(sh("git show --format='%an <%ae>|%cn <%ce>|%P%n%B' --name-status HEAD",
             fixture.work()) ==
          "Promote Bot <bot@example.com>|Promote Bot <bot@example.com>|" +
              fixture.git("rev-parse HEAD~1") + "\n" + message + "\n\n" +
              "M\tk8s/dev/kustomization.yaml\n"
              "A\tk8s/dev/new.yaml\n"
              "D\tk8s/dev/old.yaml\n");
    CHECK(fixture.git("show HEAD:k8s/dev/kustomization.yaml") == "tag: 2");
    CHECK(sh("git status --porcelain", fixture.work()) ==
          "M  k8s/prod/kustomization.yaml\n?? notes.txt\n");
    CHECK(repository.dirty_paths({"k8s/dev"}).value().empty());
  }

  TEST_CASE("a commit edits only the trees on the files' paths, as git would have written them") {
    Fixture fixture;
    Repository repository = fixture.open();
    const std::string before = fixture.git("rev-parse HEAD:k8s/prod");
    // Removing the only files of a directory removes the directory; new nested directories
    // appear; an executable file is stored as one.
    fs::remove(fixture.work() / "README");
    fs::remove(fixture.work() / "k8s/dev/kustomization.yaml");
    fs::remove(fixture.work() / "k8s/dev/old.yaml");
    write_text(fixture.work() / "apps/a/b/deploy.sh", "#!/bin/sh\n");
    fs::permissions(fixture.work() / "apps/a/b/deploy.sh", fs::perms::owner_exec,
                    fs::perm_options::add);
    write_text(fixture.work() / "apps/a/c.yaml", "c\n");
    const auto id = repository.commit({"README", "k8s/dev/kustomization.yaml", "k8s/dev/old.yaml",
                                       "apps/a/b/deploy.sh", "apps/a/c.yaml"},
                                      "m", Signature{"A", "a@e"});
    REQUIRE(id.has_value());
    CHECK(sh("git ls-tree -r --format='%(objectmode) %(path)' HEAD", fixture.work()) ==
          "100644 .gitignore\n"
          "100755 apps/a/b/deploy.sh\n"
          "100644 apps/a/c.yaml\n"
          "100644 k8s/prod/kustomization.yaml\n");
    CHECK(fixture.git("ls-tree -d --name-only HEAD k8s/") == "k8s/prod");
    CHECK(fixture.git("rev-parse HEAD:k8s/prod") == before);
    // The same tree as git's own index makes of the working tree.
    CHECK(fixture.git("write-tree") == fixture.git("rev-parse HEAD^{tree}"));
    CHECK(fixture.git("status --porcelain") == "");
    CHECK(sh("git fsck --strict --no-dangling 2>&1", fixture.work()) == "");

    SUBCASE("removing every file leaves the empty tree") {
      fs::remove_all(fixture.work() / "apps");
      fs::remove(fixture.work() / "k8s/prod/kustomization.yaml");
      fs::remove(fixture.work() / ".gitignore");
      REQUIRE(repository
                  .commit({".gitignore", "apps/a/b/deploy.sh", "apps/a/c.yaml",
                           "k8s/prod/kustomization.yaml"},
                          "all gone", Signature{"A", "a@e"})
                  .has_value());
      CHECK(fixture.git("rev-parse HEAD^{tree}") == "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    }
  }

  TEST_CASE("the first commit of a new repository has no parent") {
    TempDir dir;
    sh("git init -q -b main", dir.path());
    write_text(dir / "a.txt", "a\n");
    Repository repository = Repository::open(dir.path()).value();
    const auto id = repository.commit({"a.txt"}, "first", Signature{"A", "a@e"});
    REQUIRE(id.has_value());
    CHECK(trim(sh("git log --format='%H %P|%B' main", dir.path())) == *id + " |first");
  }

  TEST_CASE("a commit that cannot be made says why") {
    Fixture fixture;
    Repository repository = fixture.open();
    const std::string prefix = "cannot commit in " + fixture.work().string() + ": ";
    const Signature who{"A", "a@e"};
    SUBCASE("nothing changed") {
      const auto id = repository.commit({"README"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message == prefix + "nothing to commit; the files are as in HEAD");
    }
    SUBCASE("a directory") {
      const auto id = repository.commit({"k8s/dev"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message == prefix + "'k8s/dev' is a directory; list the files in it");
    }
    SUBCASE("a path outside the repository") {
      const auto id = repository.commit({"k8s/../../x"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message == prefix + "path 'k8s/../../x' is outside the repository");
    }
    SUBCASE("an absolute path") {
      const auto id = repository.commit({"/etc/passwd"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message ==
            prefix + "path '/etc/passwd' is absolute; give it relative to the repository");
    }
    SUBCASE("a path through a symlink that leaves the repository") {
      TempDir outside;
      write_text(outside / "secret.txt", "secret\n");
      fs::create_directory_symlink(outside.path(), fixture.work() / "link");
      const auto id = repository.commit({"link/secret.txt"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message ==
            prefix + "path 'link/secret.txt' leads out of the repository through a symlink");
    }
    SUBCASE("an empty message") {
      write_text(fixture.work() / "README", "changed\n");
      const auto id = repository.commit({"README"}, " \n", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message == prefix + "the commit message is empty");
    }
    SUBCASE("a detached HEAD") {
      fixture.git("checkout -q --detach");
      write_text(fixture.work() / "README", "changed\n");
      const auto id = repository.commit({"README"}, "m", who);
      REQUIRE(id.has_error());
      CHECK(id.error().message == prefix + "HEAD is detached at " +
                                      fixture.git("rev-parse --short=12 HEAD") +
                                      "; check out a branch first");
    }
  }

  TEST_CASE("the default signature comes from git config") {
    Fixture fixture;
    fixture.git("config user.name 'Ada Lovelace'");
    fixture.git("config user.email ada@example.com");
    const auto who = fixture.open().default_signature();
    REQUIRE(who.has_value());
    CHECK(who->name == "Ada Lovelace");
    CHECK(who->email == "ada@example.com");
  }

  TEST_CASE("a push updates the branch of the bare remote") {
    Fixture fixture;
    Repository repository = fixture.open();
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    const std::string id =
        repository.commit({"k8s/dev/kustomization.yaml"}, "bump dev", Signature{"A", "a@e"})
            .value();
    REQUIRE(repository.push("origin", "main").has_value());
    CHECK(trim(sh("git --git-dir=remote.git log --format='%H %s' main", fixture.dir.path())) ==
          id + " bump dev\n" + fixture.git("rev-parse HEAD~1") + " init");
    CHECK(repository.resolve("origin/main").value() == id);
  }

  TEST_CASE("a push of a pack larger than the pieces it is indexed in arrives whole") {
    Fixture fixture;
    Repository repository = fixture.open();
    // 20 MiB that do not compress: the pack goes to the remote's indexer in three pieces.
    std::string noise(20u << 20, '\0');
    std::uint64_t state = 0x9e3779b97f4a7c15ULL;
    for (char& byte : noise) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      byte = static_cast<char>(state);
    }
    write_text(fixture.work() / "big.bin", noise);
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    const std::string id =
        repository.commit({"big.bin", "k8s/dev/kustomization.yaml"}, "big", Signature{"A", "a@e"})
            .value();
    REQUIRE(repository.push("origin", "main").has_value());
    CHECK(trim(sh("git --git-dir=remote.git rev-parse main", fixture.dir.path())) == id);
    CHECK(trim(sh("git --git-dir=remote.git fsck --strict --no-dangling 2>&1",
                  fixture.dir.path())) == "");
    CHECK(trim(sh("git --git-dir=remote.git rev-parse main:big.bin", fixture.dir.path())) ==
          fixture.git("rev-parse HEAD:big.bin"));
    CHECK(trim(sh("git --git-dir=remote.git cat-file -s main:big.bin", fixture.dir.path())) ==
          std::to_string(noise.size()));
  }

  TEST_CASE("a push fails clearly when the remote moved on") {
    Fixture fixture;
    sh("git clone -q remote.git other\ncd other\necho theirs > theirs.txt\ngit add theirs.txt\n" +
           k_git + "commit -q -m theirs\ngit push -q origin main\n",
       fixture.dir.path());
    Repository repository = fixture.open();
    write_text(fixture.work() / "mine.txt", "mine\n");
    repository.commit({"mine.txt"}, "mine", Signature{"A", "a@e"}).value();
    const std::string expected = "cannot push main to origin (" + fixture.remote().string() +
                                 "): the remote has changes not present locally; fetch them "
                                 "and try again";
    SUBCASE("before fetching") {
      const auto pushed = repository.push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::conflict);
      CHECK(pushed.error().message == expected);
    }
    SUBCASE("after fetching without merging") {
      REQUIRE(repository.fetch("origin", "main").has_value());
      const auto pushed = repository.push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::conflict);
      CHECK(pushed.error().message == expected);
    }
    CHECK(trim(sh("git --git-dir=remote.git log -1 --format=%s main", fixture.dir.path())) ==
          "theirs");
  }

  TEST_CASE("a push to a remote on this machine leaves no private ref and never goes back") {
    Fixture fixture;
    Repository repository = fixture.open();
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    repository.commit({"k8s/dev/kustomization.yaml"}, "bump", Signature{"A", "a@e"}).value();
    REQUIRE(repository.push("origin", "main").has_value());
    CHECK(trim(sh("git --git-dir=remote.git for-each-ref --format='%(refname)'",
                  fixture.dir.path())) == "refs/heads/main");
    // A stale local branch (one commit behind) cannot move the remote back.
    const std::string ahead = fixture.git("rev-parse HEAD");
    REQUIRE(repository.reset_branch(fixture.git("rev-parse HEAD~1"), {}).has_value());
    write_text(fixture.work() / "other.txt", "x\n");
    repository.commit({"other.txt"}, "stale", Signature{"A", "a@e"}).value();
    const auto pushed = repository.push("origin", "main");
    REQUIRE(pushed.has_error());
    CHECK(pushed.error().kind == ErrorKind::conflict);
    CHECK(trim(sh("git --git-dir=remote.git rev-parse main", fixture.dir.path())) == ahead);
  }

  TEST_CASE("move_to fast-forwards the branch and the files, and keeps local commits") {
    Fixture fixture;
    sh("git clone -q remote.git other\ncd other\necho 'tag: 9' > k8s/prod/kustomization.yaml\n" +
           k_git + "commit -qam theirs\ngit push -q origin main\n",
       fixture.dir.path());
    Repository repository = fixture.open();
    REQUIRE(repository.fetch("origin", "main").has_value());
    const std::string theirs = repository.resolve("origin/main").value().value();
    SUBCASE("a clean branch moves, with its files") {
      write_text(fixture.work() / "notes.txt", "untracked stays\n");
      REQUIRE(repository.move_to(theirs).has_value());
      CHECK(fixture.git("rev-parse HEAD") == theirs);
      CHECK(read_text(fixture.work() / "k8s/prod/kustomization.yaml") == "tag: 9\n");
      CHECK(read_text(fixture.work() / "notes.txt") == "untracked stays\n");
      CHECK(fixture.git("status --porcelain") == "?? notes.txt");
    }
    SUBCASE("on the target already, nothing is written: the index and the reflog stay") {
      REQUIRE(repository.move_to(theirs).has_value());
      const std::string reflog = fixture.git("reflog show main");
      const auto indexed = fs::last_write_time(fixture.work() / ".git/index");
      write_text(fixture.work() / "README", "a local change stays\n");
      REQUIRE(repository.move_to(theirs).has_value());
      CHECK(fixture.git("reflog show main") == reflog);
      CHECK(fs::last_write_time(fixture.work() / ".git/index") == indexed);
      CHECK(read_text(fixture.work() / "README") == "a local change stays\n");
    }
    SUBCASE("a local change the move would overwrite is a conflict, and nothing moves") {
      write_text(fixture.work() / "k8s/prod/kustomization.yaml", "tag: local\n");
      const auto moved = repository.move_to(theirs);
      REQUIRE(moved.has_error());
      CHECK(moved.error().kind == ErrorKind::conflict);
      CHECK(read_text(fixture.work() / "k8s/prod/kustomization.yaml") == "tag: local\n");
      CHECK(fixture.git("rev-parse HEAD") != theirs);
    }
    SUBCASE("a local commit the target lacks is never dropped") {
      write_text(fixture.work() / "mine.txt", "mine\n");
      const std::string mine =
          repository.commit({"mine.txt"}, "mine", Signature{"A", "a@e"}).value();
      const auto moved = repository.move_to(theirs);
      REQUIRE(moved.has_error());
      CHECK(moved.error().kind == ErrorKind::conflict);
      CHECK(fixture.git("rev-parse HEAD") == mine);
    }
  }

  TEST_CASE("commit_on_branch commits files on a branch without touching HEAD or the tree") {
    Fixture fixture;
    Repository repository = fixture.open();
    const std::string head = fixture.git("rev-parse HEAD");
    const auto made = repository.commit_on_branch(
        "promote/prod/abc", head,
        {{"k8s/prod/kustomization.yaml", "tag: 2\n"}, {"k8s/prod/new.yaml", "new\n"}},
        "promote(prod): 1 -> 2\n", Signature{"A", "a@e"});
    REQUIRE(made.has_value());
    CHECK(made->created);
    CHECK(fixture.git("rev-parse promote/prod/abc") == made->id);
    CHECK(fixture.git("rev-parse promote/prod/abc^") == head);
    CHECK(fixture.git("show promote/prod/abc:k8s/prod/kustomization.yaml") == "tag: 2");
    CHECK(fixture.git("show --name-only --format= promote/prod/abc") ==
          "k8s/prod/kustomization.yaml\nk8s/prod/new.yaml");
    CHECK(fixture.git("rev-parse HEAD") == head);
    CHECK(read_text(fixture.work() / "k8s/prod/kustomization.yaml") == "tag: 1\n");
    CHECK(fixture.git("status --porcelain") == "");

    SUBCASE("the same change on the same parent reuses the commit") {
      const auto again = repository.commit_on_branch(
          "promote/prod/abc", head,
          {{"k8s/prod/kustomization.yaml", "tag: 2\n"}, {"k8s/prod/new.yaml", "new\n"}},
          "another message\n", Signature{"B", "b@e"}, made->id);
      REQUIRE(again.has_value());
      CHECK_FALSE(again->created);
      CHECK(again->id == made->id);
    }
    SUBCASE("a different change makes a new commit") {
      const auto other = repository.commit_on_branch(
          "promote/prod/abc", head, {{"k8s/prod/kustomization.yaml", "tag: 3\n"}}, "m\n",
          Signature{"B", "b@e"}, made->id);
      REQUIRE(other.has_value());
      CHECK(other->created);
      CHECK(other->id != made->id);
    }
    SUBCASE("a path outside the repository is refused") {
      CHECK(repository
                .commit_on_branch("x", head, {{"../out.txt", "x"}}, "m\n", Signature{"A", "a@e"})
                .has_error());
    }
  }

  TEST_CASE("a push names what is missing") {
    Fixture fixture;
    Repository repository = fixture.open();
    SUBCASE("no such remote") {
      const auto pushed = repository.push("upstream", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::git);
      CHECK(pushed.error().message ==
            "cannot push main to upstream: remote 'upstream' does not exist");
    }
    SUBCASE("no such local branch") {
      const auto pushed = repository.push("origin", "release");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().message == "cannot push release to origin (" +
                                          fixture.remote().string() +
                                          "): there is no local branch release");
    }
  }

  TEST_CASE("a remote that asks for credentials gets PROMOTE_GIT_TOKEN and never shows it") {
    Fixture fixture;
    DenyingServer server;
    const std::string clean_url = "http://" + server.base() + "/acme/deploy.git";
    fixture.git("remote set-url origin http://bob:hunter2@" + server.base() + "/acme/deploy.git");
    Repository repository = fixture.open();
    SUBCASE("without a token") {
      const ScopedEnv env("PROMOTE_GIT_TOKEN", std::nullopt);
      const std::string why =
          "the remote asks for credentials: set PROMOTE_GIT_TOKEN to an access token for it "
          "(GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN and GITEA_TOKEN are used when "
          "repository.provider names the forge)";
      const auto pushed = repository.push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::git);
      CHECK(pushed.error().message == "cannot push main to origin (" + clean_url + "): " + why);
      const auto fetched = repository.fetch("origin", "main");
      REQUIRE(fetched.has_error());
      CHECK(fetched.error().message ==
            "cannot fetch main from origin (" + clean_url + "): " + why);
      TempDir target;
      const auto clone = Repository::clone(
          "http://bob:hunter2@" + server.base() + "/acme/deploy.git", target / "c", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message == "cannot clone " + clean_url + " (branch main) into " +
                                         (target / "c").string() + ": " + why);
    }
    SUBCASE("with a token the remote refuses") {
      const std::string secret = "s3cr3t-token";
      const ScopedEnv env("PROMOTE_GIT_TOKEN", secret);
      const auto pushed = repository.push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().message ==
            "cannot push main to origin (" + clean_url +
                "): the remote did not accept the token in PROMOTE_GIT_TOKEN (user "
                "x-access-token; PROMOTE_GIT_USER sets another)");
      const auto fetched = repository.fetch("origin", "main");
      REQUIRE(fetched.has_error());
      CHECK(fetched.error().message ==
            "cannot fetch main from origin (" + clean_url +
                "): the remote did not accept the token in PROMOTE_GIT_TOKEN (user "
                "x-access-token; PROMOTE_GIT_USER sets another)");
      const std::string basic = "Authorization: Basic " +
                                trim(sh("printf %s x-access-token:" + secret + " | base64"));
      bool offered = false;
      for (const auto& request : server.requests()) {
        offered = offered || request.find(basic + "\r\n") != std::string::npos;
      }
      CHECK(offered);
    }
    SUBCASE("a token inside the remote URL") {
      const std::string secret = "ghp_inline";
      const ScopedEnv env("PROMOTE_GIT_TOKEN", secret);
      fixture.git("remote set-url origin http://x-access-token:" + secret + "@" + server.base() +
                  "/acme/deploy.git");
      const auto pushed = Repository::open(fixture.work()).value().push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().message ==
            "cannot push main to origin (" + clean_url +
                "): the remote did not accept the token in PROMOTE_GIT_TOKEN (user "
                "x-access-token; PROMOTE_GIT_USER sets another)");
    }
  }

  TEST_CASE("a fetch brings the remote branch in and resolve finds it") {
    Fixture fixture;
    const std::string before = fixture.git("rev-parse HEAD");
    const std::string theirs = trim(
        sh("git clone -q remote.git other\ncd other\necho x > x.txt\ngit add x.txt\n" + k_git +
               "commit -q -m x\ngit push -q origin main\ngit rev-parse HEAD\n",
           fixture.dir.path()));
    Repository repository = fixture.open();
    CHECK(repository.resolve("origin/main").value() == before);
    REQUIRE(repository.fetch("origin", "main").has_value());
    CHECK(repository.resolve("origin/main").value() == theirs);
    CHECK(repository.resolve("refs/remotes/origin/main").value() == theirs);
    CHECK(repository.resolve("HEAD").value() == before);
    CHECK(repository.resolve(before).value() == before);
    CHECK(repository.resolve("nope").value() == std::nullopt);
    CHECK(repository.resolve("origin/nope").value() == std::nullopt);
    SUBCASE("a missing branch") {
      const auto fetched = repository.fetch("origin", "nope");
      REQUIRE(fetched.has_error());
      CHECK(fetched.error().message == "cannot fetch nope from origin (" +
                                           fixture.remote().string() +
                                           "): the remote has no branch nope");
    }
    SUBCASE("something that is not a commit") {
      const auto resolved = repository.resolve("HEAD^{tree}");
      REQUIRE(resolved.has_error());
      CHECK(resolved.error().message.starts_with("cannot resolve revision 'HEAD^{tree}': "));
    }
  }

  TEST_CASE("resolving before the first commit finds nothing") {
    TempDir dir;
    sh("git init -q -b main", dir.path());
    const Repository repository = Repository::open(dir.path()).value();
    CHECK(repository.resolve("HEAD").value() == std::nullopt);
    std::vector<std::string> seen;
    const auto walked = repository.walk([&](const CommitInfo& commit) {
      seen.push_back(commit.id);
      return true;
    });
    INFO((walked ? std::string() : walked.error().message));
    REQUIRE(walked.has_value());
    CHECK(seen.empty());
  }

  TEST_CASE("walk visits commits newest first and stops when asked") {
    Fixture fixture;
    sh("for i in 1 2 3; do echo $i > n.txt; git add n.txt; "
       "GIT_COMMITTER_DATE=\"@$((1700000000 + i * 60)) +0000\" " +
           k_git + "commit -q -m \"c$i\" -m \"body $i\"; done",
       fixture.work());
    const Repository repository = fixture.open();
    std::vector<CommitInfo> seen;
    REQUIRE(repository.walk([&](const CommitInfo& commit) {
      seen.push_back(commit);
      return true;
    }).has_value());
    std::vector<std::string> ids;
    for (const auto& commit : seen) {
      ids.push_back(commit.id);
    }
    std::vector<std::string> expected;
    std::stringstream lines(sh("git rev-list HEAD", fixture.work()));
    for (std::string line; std::getline(lines, line);) {
      expected.push_back(line);
    }
    CHECK(ids == expected);
    REQUIRE(seen.size() == 4);
    CHECK(seen[0].message == "c3\n\nbody 3\n");
    CHECK(seen[0].time == std::chrono::system_clock::from_time_t(1700000180));
    CHECK(seen[2].time == std::chrono::system_clock::from_time_t(1700000060));
    CHECK(seen[3].message == "init\n");

    int visited = 0;
    REQUIRE(repository.walk([&](const CommitInfo&) { return ++visited < 2; }).has_value());
    CHECK(visited == 2);
  }

  TEST_CASE("contains: a commit is in a revision when it is the revision or an ancestor") {
    Fixture fixture;
    const std::string init = fixture.git("rev-parse HEAD");
    sh(k_git + "commit -q --allow-empty -m one", fixture.work());
    const std::string one = fixture.git("rev-parse HEAD");
    sh("git checkout -q -b side " + init + " && " + k_git + "commit -q --allow-empty -m side",
       fixture.work());
    const std::string side = fixture.git("rev-parse HEAD");
    const Repository repository = fixture.open();
    CHECK(repository.contains(one, one).value() == std::optional<bool>(true));
    CHECK(repository.contains(one, init).value() == std::optional<bool>(true));
    CHECK(repository.contains(init, one).value() == std::optional<bool>(false));
    CHECK(repository.contains(side, one).value() == std::optional<bool>(false));
    // A revision this repository does not have, or that is no commit id: nothing known.
    CHECK_FALSE(repository.contains(std::string(40, 'a'), one).value().has_value());
    CHECK_FALSE(repository.contains("main", one).value().has_value());
    const std::string tree = fixture.git("rev-parse HEAD^{tree}");
    CHECK_FALSE(repository.contains(tree, one).value().has_value());
    // A commit it does not have is in none of its revisions.
    CHECK(repository.contains(one, std::string(40, 'b')).value() == std::optional<bool>(false));
  }

  TEST_CASE("last change finds the newest commit that touched the paths") {
    Fixture fixture;
    const auto commit = [&](const std::string& file, const std::string& text,
                            const std::string& message) {
      write_text(fixture.work() / file, text);
      return trim(sh("git add -A\n" + k_git + "commit -q -m '" + message +
                         "'\ngit rev-parse HEAD",
                     fixture.work()));
    };
    const std::string init = fixture.git("rev-parse HEAD");
    const std::string prod = commit("k8s/prod/kustomization.yaml", "tag: 2\n", "prod");
    const std::string dev = commit("k8s/dev/kustomization.yaml", "tag: 2\n", "dev");
    const std::string prod_extra = commit("k8s/prod/extra.yaml", "x\n", "prod extra");
    const Repository repository = fixture.open();
    const auto last = [&](const std::vector<std::string>& paths) -> std::string {
      const auto found = repository.last_change(paths).value();
      return found ? found->id : "none";
    };
    CHECK(last({"k8s/dev"}) == dev);
    CHECK(last({"k8s/dev/"}) == dev);
    CHECK(last({"k8s/prod"}) == prod_extra);
    CHECK(last({"k8s/prod/kustomization.yaml"}) == prod);
    CHECK(last({"k8s/dev", "k8s/prod/kustomization.yaml"}) == dev);
    CHECK(last({"README"}) == init);
    CHECK(last({"k8s/staging"}) == "none");
    CHECK(last({}) == "none");
    CHECK(repository.last_change({"k8s/dev"}).value()->message == "dev\n");
  }

  TEST_CASE("a file reads as it was at a revision") {
    Fixture fixture;
    const std::string first = fixture.git("rev-parse HEAD");
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: 2\n");
    sh("git add -A\n" + k_git + "commit -q -m two", fixture.work());
    write_text(fixture.work() / "k8s/dev/kustomization.yaml", "tag: on disk\n");
    const Repository repository = fixture.open();
    CHECK(repository.read_file("HEAD", "k8s/dev/kustomization.yaml").value() == "tag: 2\n");
    CHECK(repository.read_file("HEAD~1", "k8s/dev/kustomization.yaml").value() == "tag: 1\n");
    CHECK(repository.read_file(first, "./k8s/dev/kustomization.yaml").value() == "tag: 1\n");
    CHECK(repository.read_file("HEAD", "k8s/dev/missing.yaml").value() == std::nullopt);
    CHECK(repository.read_file("HEAD", "nowhere/missing.yaml").value() == std::nullopt);
    SUBCASE("a directory") {
      const auto read = repository.read_file("HEAD", "k8s/dev");
      REQUIRE(read.has_error());
      CHECK(read.error().message == "cannot read k8s/dev at HEAD: it is not a file");
    }
    SUBCASE("an unknown revision") {
      const auto read = repository.read_file("release", "README");
      REQUIRE(read.has_error());
      CHECK(read.error().message == "cannot read README at release: no such revision");
    }
  }

  TEST_CASE("a clone checks out the single branch asked for") {
    Fixture fixture;
    sh("git checkout -q -b other\necho o > other.txt\ngit add other.txt\n" + k_git +
           "commit -q -m other\ngit push -q origin other\ngit checkout -q main\n",
       fixture.work());
    TempDir target;
    SUBCASE("main") {
      const auto clone =
          Repository::clone(fixture.remote().string(), target / "main", "main");
      REQUIRE(clone.has_value());
      CHECK(clone->workdir() == target / "main");
      CHECK(clone->current_branch().value() == "main");
      CHECK(read_text(target / "main/k8s/dev/kustomization.yaml") == "tag: 1\n");
      CHECK(clone->resolve("origin/main").value() == fixture.git("rev-parse main"));
      CHECK(clone->resolve("origin/other").value() == std::nullopt);
      CHECK(!fs::exists(target / "main/other.txt"));
    }
    SUBCASE("another branch") {
      const auto clone =
          Repository::clone(fixture.remote().string(), target / "other", "other");
      REQUIRE(clone.has_value());
      CHECK(clone->current_branch().value() == "other");
      CHECK(read_text(target / "other/other.txt") == "o\n");
      CHECK(clone->resolve("origin/main").value() == std::nullopt);
    }
    SUBCASE("a branch the remote does not have") {
      const auto clone = Repository::clone(fixture.remote().string(), target / "x", "nope");
      REQUIRE(clone.has_error());
      CHECK(clone.error().kind == ErrorKind::git);
      CHECK(clone.error().message == "cannot clone " + fixture.remote().string() +
                                         " (branch nope) into " + (target / "x").string() +
                                         ": the remote has no branch nope");
      CHECK(!fs::exists(target / "x"));
    }
    SUBCASE("into a directory that is not empty") {
      write_text(target / "full/file", "x");
      const auto clone = Repository::clone(fixture.remote().string(), target / "full", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message == "cannot clone " + fixture.remote().string() +
                                         " (branch main) into " + (target / "full").string() +
                                         ": '" + (target / "full").string() +
                                         "' exists and is not an empty directory");
    }
  }

  TEST_CASE("trailers are the key-value lines of the final paragraph") {
    using promote::git::trailer;
    using promote::git::trailers;
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    SUBCASE("promote's own trailers") {
      const std::string message =
          "promote(prod): api 1.4.1 -> 1.4.2\n\nGates passed.\n\n"
          "Promote-Stage: prod\nPromote-From: staging\nPromote-Candidate: 3f2a9c1b0d4e\n";
      CHECK(trailers(message) == Pairs{{"Promote-Stage", "prod"},
                                       {"Promote-From", "staging"},
                                       {"Promote-Candidate", "3f2a9c1b0d4e"}});
      CHECK(trailer(message, "promote-from") == "staging");
      CHECK(trailer(message, "PROMOTE-STAGE") == "prod");
      CHECK(trailer(message, "Promote-Id") == "");
    }
    SUBCASE("no final newline, repeated keys, a Signed-off-by") {
      const std::string message =
          "subject\n\nSigned-off-by: A <a@e>\nSigned-off-by: B <b@e>\nReviewed-by: C";
      CHECK(trailers(message) == Pairs{{"Signed-off-by", "A <a@e>"},
                                       {"Signed-off-by", "B <b@e>"},
                                       {"Reviewed-by", "C"}});
      CHECK(trailer(message, "signed-off-by") == "A <a@e>");
    }
    SUBCASE("a last paragraph of prose") {
      const std::string message =
          "subject\n\nKey: value\n\nThis paragraph: is prose, not trailers.\nIt goes on.\n";
      CHECK(trailers(message).empty());
      CHECK(trailer(message, "Key") == "");
    }
    SUBCASE("a subject alone") {
      CHECK(trailers("Fix: the build\n").empty());
      CHECK(trailers("").empty());
    }
    SUBCASE("a value folded over several lines") {
      const std::string message = "subject\n\nPromote-Gates: junit=pass\n  trivy=warn\nX: y\n";
      CHECK(trailers(message) == Pairs{{"Promote-Gates", "junit=pass trivy=warn"}, {"X", "y"}});
    }
  }
}

TEST_SUITE("git") {
  TEST_CASE("notes: lines are appended once, pushed, fetched and laid on top of another's") {
    Fixture fixture;
    Repository repository = fixture.open();
    const Signature who{"Promote Test", "promote@test.example"};
    const std::string head = repository.resolve("HEAD").value().value();
    const std::string ref = "refs/notes/promote";
    CHECK(repository.note(ref, head).value() == std::nullopt);
    REQUIRE(repository.append_note(ref, head, {"{\"a\":1}"}, who).has_value());
    REQUIRE(repository.append_note(ref, head, {"{\"a\":1}", "{\"b\":2}"}, who).has_value());
    CHECK(repository.note(ref, head).value() == "{\"a\":1}\n{\"b\":2}\n");
    CHECK(fixture.git("notes --ref=promote show HEAD") == "{\"a\":1}\n{\"b\":2}");

    // Nothing to fetch yet; then a push, and the remote has it.
    CHECK(repository.fetch_ref("origin", ref, "refs/promote/fetched").value() == false);
    REQUIRE(repository.push_ref("origin", ref).has_value());
    CHECK(trim(sh("git --git-dir=remote.git notes --ref=promote show main", fixture.dir.path())) ==
          "{\"a\":1}\n{\"b\":2}");

    // Another clone adds its own line and pushes first: ours is refused, then laid on theirs.
    sh("git clone -q remote.git other && cd other && git fetch -q origin "
       "refs/notes/promote:refs/notes/promote && " + k_git +
           "notes --ref=promote append -m '{\"c\":3}' HEAD && git push -q origin refs/notes/promote",
       fixture.dir.path());
    REQUIRE(repository.append_note(ref, head, {"{\"d\":4}"}, who).has_value());
    const auto refused = repository.push_ref("origin", ref);
    REQUIRE(refused.has_error());
    CHECK(refused.error().kind == promote::ErrorKind::conflict);
    CHECK(repository.fetch_ref("origin", ref, "refs/promote/fetched").value() == true);
    REQUIRE(repository.rebase_notes(ref, "refs/promote/fetched", who).has_value());
    REQUIRE(repository.push_ref("origin", ref).has_value());
    const std::string merged =
        trim(sh("git --git-dir=remote.git notes --ref=promote show main", fixture.dir.path()));
    for (const char* line : {"{\"a\":1}", "{\"b\":2}", "{\"c\":3}", "{\"d\":4}"}) {
      CHECK(merged.find(line) != std::string::npos);
    }
    std::vector<std::string> annotated;
    REQUIRE(repository
                .for_each_note(ref, [&](const std::string& commit, const std::string& text) {
                  annotated.push_back(commit);
                  CHECK(text.find("{\"c\":3}") != std::string::npos);
                })
                .has_value());
    CHECK(annotated == std::vector<std::string>{head});
    // Laying ours on an older copy of theirs loses no line and adds none.
    const auto before = repository.note(ref, head).value();
    REQUIRE(repository.rebase_notes(ref, "refs/promote/fetched", who).has_value());
    CHECK(repository.note(ref, head).value() == before);
    // A missing ref to lay ours on changes nothing.
    REQUIRE(repository.rebase_notes(ref, "refs/promote/none", who).has_value());
    CHECK(repository.note(ref, head).value() == before);
    // Nor does theirs when it is ours: the ref stays where it is.
    REQUIRE(repository.push_ref("origin", ref).has_value());
    CHECK(repository.fetch_ref("origin", ref, "refs/promote/fetched").value() == true);
    const std::string tip = fixture.git("rev-parse " + ref);
    CHECK(fixture.git("rev-parse refs/promote/fetched") == tip);
    REQUIRE(repository.rebase_notes(ref, "refs/promote/fetched", who).has_value());
    CHECK(fixture.git("rev-parse " + ref) == tip);
    CHECK(repository.note(ref, head).value() == before);
  }
}
