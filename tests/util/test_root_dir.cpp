// Files reached below a directory held open (util::RootDir): never through a symlink, never by
// `..` or an absolute path, whatever the path says.

#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <vector>

#include "engine/util/files.hpp"

namespace fs = std::filesystem;
using promote::util::RootDir;

namespace {

struct Dirs {
  fs::path top;
  fs::path root;
  fs::path outside;
  Dirs() {
    std::random_device random;
    top = fs::temp_directory_path() / ("promote-root-" + std::to_string(random()));
    root = top / "repo";
    outside = top / "outside";
    fs::create_directories(root / "k8s/dev");
    fs::create_directories(outside);
    REQUIRE(promote::util::write_file_atomic(root / "k8s/dev/a.yaml", "a\n").has_value());
    REQUIRE(promote::util::write_file_atomic(outside / "a.yaml", "outside\n").has_value());
    fs::create_directory_symlink(outside, root / "k8s/out");
    fs::create_symlink(outside / "a.yaml", root / "k8s/dev/link.yaml");
  }
  ~Dirs() {
    std::error_code ignored;
    fs::remove_all(top, ignored);
  }
  std::string in() const { return " (in " + root.string() + "): "; }
};

}  // namespace

TEST_SUITE("util") {
  TEST_CASE("RootDir reads, writes and removes plain paths below its directory") {
    Dirs dirs;
    auto root = RootDir::open(dirs.root);
    REQUIRE(root.has_value());
    CHECK(root->read("k8s/dev/a.yaml").value() == std::optional<std::string>("a\n"));
    CHECK(root->read("k8s/dev/none.yaml").value() == std::nullopt);
    CHECK(root->read("k8s/none/none.yaml").value() == std::nullopt);
    REQUIRE(root->write("k8s/dev/a.yaml", "b\n").has_value());
    CHECK(promote::util::read_file(dirs.root / "k8s/dev/a.yaml").value() == "b\n");
    CHECK(std::distance(fs::directory_iterator(dirs.root / "k8s/dev"), fs::directory_iterator()) ==
          2);  // a.yaml and link.yaml: no temporary file left
    CHECK(root->remove("k8s/dev/a.yaml").value());
    CHECK_FALSE(root->remove("k8s/dev/a.yaml").value());
    CHECK_FALSE(root->remove("k8s/none/a.yaml").value());
  }

  TEST_CASE("RootDir refuses a symlink on the way or at the end, '..', '.', and absolute paths") {
    Dirs dirs;
    auto root = RootDir::open(dirs.root);
    REQUIRE(root.has_value());
    const std::string link =
        dirs.in() + "out is a symbolic link, which promote does not follow";
    auto through = root->read("k8s/out/a.yaml");
    REQUIRE_FALSE(through.has_value());
    CHECK(through.error().message == "k8s/out/a.yaml" + link);
    auto written = root->write("k8s/out/a.yaml", "x\n");
    REQUIRE_FALSE(written.has_value());
    CHECK(written.error().message == "k8s/out/a.yaml" + link);
    auto removed = root->remove("k8s/out/a.yaml");
    REQUIRE_FALSE(removed.has_value());
    CHECK(removed.error().message == "k8s/out/a.yaml" + link);

    auto last = root->read("k8s/dev/link.yaml");
    REQUIRE_FALSE(last.has_value());
    CHECK(last.error().message ==
          "k8s/dev/link.yaml" + dirs.in() + "link.yaml is a symbolic link, which promote does not follow");
    auto over = root->write("k8s/dev/link.yaml", "x\n");
    REQUIRE_FALSE(over.has_value());
    CHECK(over.error().message ==
          (dirs.root / "k8s/dev/link.yaml").string() +
              ": is a symbolic link, which promote does not follow");

    for (const std::string& path :
         std::vector<std::string>{"../outside/a.yaml", "k8s/../../outside/a.yaml",
                                  (dirs.outside / "a.yaml").string(), "", "k8s//dev/a.yaml",
                                  "./k8s/dev/a.yaml"}) {
      INFO(path);
      auto refused = root->write(path, "x\n");
      REQUIRE_FALSE(refused.has_value());
      CHECK(refused.error().message ==
            path + dirs.in() +
                "not a plain relative path (it is absolute or empty, or has an empty, '.' or "
                "'..' component)");
    }
    CHECK(promote::util::read_file(dirs.outside / "a.yaml").value() == "outside\n");
    CHECK(std::distance(fs::directory_iterator(dirs.outside), fs::directory_iterator()) == 1);
  }

  TEST_CASE("RootDir removes the temporary files of one process only") {
    Dirs dirs;
    auto root = RootDir::open(dirs.root);
    REQUIRE(root.has_value());
    for (const char* name : {".a.yaml.promote-41-7.tmp", ".a.yaml.promote-41-8.tmp",
                             ".a.yaml.promote-411-7.tmp", ".b.yaml.promote-41-7.tmp"}) {
      REQUIRE(promote::util::write_file_atomic(dirs.root / "k8s/dev" / name, "t").has_value());
    }
    CHECK(root->remove_temporaries("k8s/dev/a.yaml", 41).value() == 2);
    CHECK(fs::exists(dirs.root / "k8s/dev/.a.yaml.promote-411-7.tmp"));
    CHECK(fs::exists(dirs.root / "k8s/dev/.b.yaml.promote-41-7.tmp"));
    CHECK(root->remove_temporaries("k8s/none/a.yaml", 41).value() == 0);
    CHECK_FALSE(root->remove_temporaries("k8s/out/a.yaml", 41).has_value());
  }
}
