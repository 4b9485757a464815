// A report's bytes mapped from the page cache (util::map_file), beside read_file.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>

#include "engine/util/files.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::TempDir;
using promote::test::write_text;
using promote::util::map_file;
using promote::util::read_file;

TEST_SUITE("util") {
  TEST_CASE("map_file gives a file's bytes as read_file does") {
    TempDir dir;
    std::string bytes(1u << 20, 'x');
    bytes[0] = '\0';
    bytes.back() = '\n';
    write_text(dir / "report.xml", bytes);
    auto mapped = map_file(dir / "report.xml");
    REQUIRE(mapped.has_value());
    CHECK(mapped->view() == bytes);

    // Moved, the bytes stay where they are; the moved-from object holds none.
    promote::util::FileBytes kept = std::move(*mapped);
    CHECK(kept.view() == bytes);
    CHECK(mapped->view().empty());
    kept = map_file(dir / "report.xml").value();
    CHECK(kept.view() == bytes);
  }

  TEST_CASE("map_file with padding: that many zero bytes can be read after the view") {
    TempDir dir;
    const auto padding_is_zero = [](std::string_view view) {
      const char* end = view.data() + view.size();
      return std::all_of(end, end + 64, [](char c) { return c == '\0'; });
    };
    SUBCASE("a mapped file of whole pages: the padding lies on pages of its own") {
      const std::string bytes(2 * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)), 'x');
      write_text(dir / "report.json", bytes);
      auto mapped = map_file(dir / "report.json", promote::util::k_max_file_bytes, 64);
      REQUIRE(mapped.has_value());
      CHECK(mapped->view() == bytes);
      CHECK(padding_is_zero(mapped->view()));
      promote::util::FileBytes moved = std::move(mapped.value());
      CHECK(padding_is_zero(moved.view()));
    }
    SUBCASE("a file that is read (empty)") {
      write_text(dir / "empty.json", "");
      const auto read = map_file(dir / "empty.json", promote::util::k_max_file_bytes, 64);
      REQUIRE(read.has_value());
      CHECK(read->view().empty());
      CHECK(padding_is_zero(read->view()));
    }
  }

  TEST_CASE("map_file reads what cannot be mapped and fails as read_file does") {
    TempDir dir;
    SUBCASE("an empty file") {
      write_text(dir / "empty.xml", "");
      CHECK(map_file(dir / "empty.xml").value().view().empty());
    }
    SUBCASE("a FIFO is refused with read_file's message") {
      REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
      const auto mapped = map_file(dir / "fifo");
      REQUIRE(mapped.has_error());
      CHECK(mapped.error().message == read_file(dir / "fifo").error().message);
    }
    SUBCASE("a missing file") {
      const auto mapped = map_file(dir / "missing.xml");
      REQUIRE(mapped.has_error());
      CHECK(mapped.error().kind == promote::ErrorKind::input);
      CHECK(mapped.error().message == read_file(dir / "missing.xml").error().message);
    }
    SUBCASE("a file over the limit") {
      write_text(dir / "big.json", std::string(4096, ' '));
      const auto mapped = map_file(dir / "big.json", 4095);
      REQUIRE(mapped.has_error());
      CHECK(mapped.error().message == dir.path().string() +
                                          "/big.json: file is too large (4096 bytes, limit 4095)");
      CHECK(map_file(dir / "big.json", 4096).value().view().size() == 4096);
    }
  }
}
