// util::canonical_below and util::Within: the same answers as std::filesystem's
// weakly_canonical, by the cheaper walk where it applies.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "engine/util/files.hpp"

namespace fs = std::filesystem;

TEST_SUITE("util") {
  TEST_CASE("canonical_below resolves as weakly_canonical does, symlinks and all") {
    std::random_device random;
    const fs::path top = fs::weakly_canonical(fs::temp_directory_path()) /
                         ("promote-canon-" + std::to_string(random()));
    const fs::path root = top / "repo";
    fs::create_directories(root / "services" / "api" / "overlays" / "prod");
    fs::create_directories(top / "outside");
    std::ofstream(root / "services" / "api" / "overlays" / "prod" / "kustomization.yaml") << "x\n";
    std::ofstream(root / "file.txt") << "x\n";
    fs::create_directory_symlink(root / "services" / "api", root / "api-link");
    fs::create_directory_symlink(top / "outside", root / "services" / "escape");
    fs::create_symlink("../../../outside/secret", root / "services" / "api" / "dangling");

    const char* const paths[] = {
        "services/api/overlays/prod/kustomization.yaml",  // the plain walk
        "services/api/overlays/prod",
        "services/api/overlays/staging/kustomization.yaml",  // a missing tail
        "new/dir/file.yaml",
        "api-link/overlays/prod/kustomization.yaml",  // through a symlink, inside
        "services/escape/secret",                     // through a symlink, out
        "services/api/dangling",                      // a dangling symlink
        "services/../file.txt",                       // ..
        "./services/api",                             // .
        "file.txt/below",                             // a file used as a directory
        "services//api/",                             // empty components
    };
    for (const char* path : paths) {
      CAPTURE(path);
      std::error_code ours_error;
      std::error_code theirs_error;
      const fs::path ours = promote::util::canonical_below(root, path, ours_error);
      const fs::path theirs = fs::weakly_canonical(root / path, theirs_error);
      CHECK(ours_error == theirs_error);
      CHECK(ours == theirs);
    }
    const fs::path absolute = root / "api-link";
    std::error_code error;
    CHECK(promote::util::canonical_below(root, absolute, error) == root / "services" / "api");

    const promote::util::Within within(root);
    CHECK(within("services/api/overlays/prod/kustomization.yaml"));
    CHECK(within("api-link/overlays/prod"));
    CHECK(within("new/dir/file.yaml"));
    CHECK_FALSE(within("services/escape/secret"));
    // As weakly_canonical has it, a dangling symlink is a name that does not exist yet.
    CHECK(within("services/api/dangling"));
    CHECK_FALSE(within("services/../../repo-other"));
    CHECK_FALSE(within(top / "outside"));
    fs::remove_all(top);
  }
}
