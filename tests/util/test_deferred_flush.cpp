// Many files written behind one flush (util::DeferredFlush).

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/util/files.hpp"

namespace fs = std::filesystem;

TEST_SUITE("util") {
  TEST_CASE("under a DeferredFlush files are in place at once and flushed together") {
    std::random_device random;
    const fs::path dir = fs::temp_directory_path() / ("promote-flush-" + std::to_string(random()));
    fs::create_directories(dir / "a");
    fs::create_directories(dir / "b");
    {
      promote::util::DeferredFlush flush;
      REQUIRE(promote::util::write_file_atomic(dir / "a" / "x.yaml", "one\n").has_value());
      REQUIRE(promote::util::write_file_atomic(dir / "b" / "y.yaml", "two\n").has_value());
      CHECK(promote::util::read_file(dir / "a" / "x.yaml").value() == "one\n");
      CHECK(promote::util::read_file(dir / "b" / "y.yaml").value() == "two\n");
      CHECK(std::distance(fs::directory_iterator(dir / "a"), fs::directory_iterator()) == 1);
      CHECK(flush.flush().has_value());
      CHECK(flush.flush().has_value());  // nothing left to flush
    }
    SUBCASE("a flush that cannot reach the directory written to fails naming it") {
      promote::util::DeferredFlush flush;
      REQUIRE(promote::util::write_file_atomic(dir / "a" / "z.yaml", "three\n").has_value());
      fs::remove_all(dir / "a");
      auto flushed = flush.flush();
      REQUIRE_FALSE(flushed.has_value());
      CHECK(flushed.error().message == (dir / "a").string() +
                                           ": flush failed: No such file or directory");
    }
    SUBCASE("a flush in the background is the same flush, told by wait()") {
      promote::util::PendingFlush pending;
      {
        promote::util::DeferredFlush flush;
        REQUIRE(promote::util::write_file_atomic(dir / "a" / "x.yaml", "2\n").has_value());
        pending = flush.flush_in_background();
        CHECK(flush.flush().has_value());  // nothing left to flush
      }
      CHECK(pending.wait().has_value());
      CHECK(pending.wait().has_value());  // told once; nothing pending after
      CHECK(promote::util::read_file(dir / "a" / "x.yaml").value() == "2\n");
      {
        promote::util::DeferredFlush flush;
        REQUIRE(promote::util::write_file_atomic(dir / "a" / "z.yaml", "three\n").has_value());
        fs::remove_all(dir / "a");
        pending = flush.flush_in_background();
      }
      auto flushed = pending.wait();
      REQUIRE_FALSE(flushed.has_value());
      CHECK(flushed.error().message == (dir / "a").string() +
                                           ": flush failed: No such file or directory");
    }
    SUBCASE("nested deferrals: the inner one flushes only what was written in its time") {
      promote::util::DeferredFlush outer;
      REQUIRE(promote::util::write_file_atomic(dir / "a" / "x.yaml", "1\n").has_value());
      {
        promote::util::DeferredFlush inner;
        REQUIRE(promote::util::write_file_atomic(dir / "b" / "y.yaml", "2\n").has_value());
        fs::remove_all(dir / "a");
        CHECK(inner.flush().has_value());
      }
      CHECK_FALSE(outer.flush().has_value());  // still the outer one's directory
    }
    fs::remove_all(dir);
  }

  TEST_CASE("under a DeferredFlush the files renames replace are let go by the flush") {
    std::random_device random;
    const fs::path dir = fs::temp_directory_path() / ("promote-flush-" + std::to_string(random()));
    fs::create_directories(dir);
    const auto open_files = [] {
      return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator());
    };
    constexpr int k_files = 300;  // more than one deferral holds open at a time
    for (int i = 0; i < k_files; ++i) {
      REQUIRE(
          promote::util::write_file_atomic(dir / (std::to_string(i) + ".yaml"), "old\n").has_value());
    }
    const auto before = open_files();
    {
      promote::util::DeferredFlush flush;
      for (int i = 0; i < k_files; ++i) {
        REQUIRE(promote::util::write_file_atomic(dir / (std::to_string(i) + ".yaml"),
                                                 "new " + std::to_string(i) + "\n")
                    .has_value());
      }
      CHECK(open_files() > before);
      CHECK(open_files() <= before + 256);
      REQUIRE(flush.flush().has_value());
      CHECK(open_files() == before);
      REQUIRE(promote::util::write_file_atomic(dir / "0.yaml", "newer\n").has_value());
    }
    CHECK(open_files() == before);  // let go unflushed, too
    CHECK(promote::util::read_file(dir / "0.yaml").value() == "newer\n");
    for (int i = 1; i < k_files; ++i) {
      CHECK(promote::util::read_file(dir / (std::to_string(i) + ".yaml")).value() ==
            "new " + std::to_string(i) + "\n");
    }
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == k_files);
    fs::remove_all(dir);
  }

  TEST_CASE("under a DeferredFlush a file is replaced as a rename replaces it") {
    std::random_device random;
    const fs::path dir = fs::temp_directory_path() / ("promote-flush-" + std::to_string(random()));
    fs::create_directories(dir / "directory");
    promote::util::write_file_atomic(dir / "script.sh", "old\n").value();
    fs::permissions(dir / "script.sh", fs::perms::owner_exec, fs::perm_options::add);
    promote::util::write_file_atomic(dir / "target", "target\n").value();
    fs::create_symlink("target", dir / "link");
    {
      promote::util::DeferredFlush flush;
      REQUIRE(promote::util::write_file_atomic(dir / "script.sh", "new\n").has_value());
      REQUIRE(promote::util::write_file_atomic(dir / "link", "link\n").has_value());
      REQUIRE(promote::util::write_file_atomic(dir / "fresh", "fresh\n").has_value());
      const auto refused = promote::util::write_file_atomic(dir / "directory", "x\n");
      REQUIRE_FALSE(refused.has_value());
      CHECK(refused.error().message ==
            (dir / "directory").string() + ": rename failed: Is a directory");
      REQUIRE(flush.flush().has_value());
    }
    CHECK(promote::util::read_file(dir / "script.sh").value() == "new\n");
    CHECK((fs::status(dir / "script.sh").permissions() & fs::perms::owner_exec) !=
          fs::perms::none);
    CHECK_FALSE(fs::is_symlink(dir / "link"));
    CHECK(promote::util::read_file(dir / "link").value() == "link\n");
    CHECK(promote::util::read_file(dir / "target").value() == "target\n");
    CHECK(promote::util::read_file(dir / "fresh").value() == "fresh\n");
    CHECK(fs::is_directory(dir / "directory"));
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"directory", "fresh", "link", "script.sh", "target"});
    fs::remove_all(dir);
  }
}
