// A remote as promote looks it up: its url and pushurl with git's insteadOf rewriting, and no
// memory kept per lookup (libgit2 1.5's own lookup leaked a block per configuration entry,
// which grew `promote serve` by a megabyte per evaluation).
#include <doctest/doctest.h>

#if __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#define PROMOTE_HEAP_BYTES() __sanitizer_get_current_allocated_bytes()
#else
#include <malloc.h>
#define PROMOTE_HEAP_BYTES() mallinfo2().uordblks
#endif

#include "engine/git/repository.hpp"
#include "tests/support/support.hpp"

namespace {

using promote::git::Repository;
using promote::test::sh;
using promote::test::TempDir;

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("a remote's url is rewritten by the longest insteadOf, a push's by pushInsteadOf") {
    TempDir dir;
    sh("git init -q -b main && git remote add origin https://github.com/acme/deploy.git && "
       "git config url.https://mirror.example/.insteadOf https://github.com/ && "
       "git config url.https://mirror.example/acme-only/.insteadOf https://github.com/acme/ && "
       "git remote add other git@gitlab.example:acme/deploy.git && "
       "git config url.ssh://push.example/.pushInsteadOf git@gitlab.example: && "
       "git remote add third https://plain.example/deploy.git && "
       "git config remote.third.pushurl https://github.com/acme/push.git",
       dir.path());
    auto repository = Repository::open(dir.path()).value();
    CHECK(repository.remote_url("origin").value() ==
          std::optional<std::string>("https://mirror.example/acme-only/deploy.git"));
    CHECK(repository.remote_url("other").value() ==
          std::optional<std::string>("git@gitlab.example:acme/deploy.git"));
    CHECK(repository.remote_url("third").value() ==
          std::optional<std::string>("https://plain.example/deploy.git"));
    CHECK_FALSE(repository.remote_url("missing").value().has_value());
    // Compared with what git itself says.
    CHECK(sh("git remote get-url origin", dir.path()) ==
          "https://mirror.example/acme-only/deploy.git\n");
    CHECK(sh("git remote get-url --push other", dir.path()) ==
          "ssh://push.example/acme/deploy.git\n");
  }

  TEST_CASE("looking a remote up again and again keeps no memory") {
    TempDir dir;
    std::string config = "git init -q -b main && git remote add origin https://example.com/d.git";
    for (int i = 0; i < 40; ++i) {  // the leak grew with the entries of the configuration
      config += " && git config section" + std::to_string(i) + ".key value";
    }
    sh(config, dir.path());
    auto repository = Repository::open(dir.path()).value();
    REQUIRE(repository.remote_url("origin").value().has_value());  // caches warm
    const std::size_t before = PROMOTE_HEAP_BYTES();
    for (int i = 0; i < 200; ++i) {
      REQUIRE(repository.remote_url("origin").value().has_value());
    }
    const std::size_t after = PROMOTE_HEAP_BYTES();
    INFO("heap before " << before << ", after " << after);
    CHECK(after < before + 256 * 1024);  // the leak kept about 24 MiB here
  }
}
