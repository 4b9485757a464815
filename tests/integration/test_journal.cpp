// The crash journal as hostile input: the next run acts on an entry only when this user's run
// on this machine wrote it (owned by this user, not tracked by git), reaches the files it
// names from the working tree's root without following a symlink or `..`, and puts back only
// a file that still holds what the killed run wrote. Each case leaves a real journal entry
// (promote killed by the test-only fault hook after it wrote the files), then changes it or
// what it names, and runs promote again through the binary.

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <iostream>

#include "engine/util/fault.hpp"
#include "engine/util/hash.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
using json = nlohmann::json;
using test::CommandResult;
using test::contains;
using test::sh;

bool hooks_built() {
  static const bool built = [] {
    if (!promote::util::fault_hooks_built()) {
      std::cerr << "journal tests skipped: promote is built without PROMOTE_FAULT_HOOKS\n";
    }
    return promote::util::fault_hooks_built();
  }();
  return built;
}

const std::vector<std::string> k_promotion = {"--to", "dev", "--image",
                                              "api=ghcr.io/acme/api:1.5.0"};
const std::string k_dev = "k8s/overlays/dev/kustomization.yaml";

// The one journal entry under `repo` that a run killed after it wrote its files left.
fs::path killed_after_edit(const test::Shop& shop) {
  const CommandResult crashed = shop.promote(k_promotion, {{"PROMOTE_FAULT", "after-edit"}});
  INFO(crashed.err);
  REQUIRE(crashed.exit_code == 128 + SIGKILL);
  const fs::path journal = shop.repo / ".promote/history.db.pending";
  std::vector<fs::path> entries;
  for (const auto& item : fs::directory_iterator(journal)) {
    entries.push_back(item.path());
  }
  REQUIRE(entries.size() == 1);
  return entries.front();
}

// The warnings of a run (its JSON document), as one string.
std::string warnings_of(const CommandResult& result) {
  INFO(result.err);
  const json doc = json::parse(result.out, nullptr, false);
  REQUIRE(doc.is_object());
  return doc["warnings"].dump();
}

std::vector<std::string> with_json(std::vector<std::string> args) {
  args.insert(args.end(), {"--output", "json"});
  return args;
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("a journal entry's paths are followed only below the working tree: not through a "
            "symlink, not by '..', not absolute" *
            doctest::skip(!hooks_built())) {
    test::Shop shop;
    const fs::path entry = killed_after_edit(shop);
    json text = json::parse(test::read_text(entry));
    const std::string id = entry.stem().string();
    const long pid = text["pid"].get<long>();

    // Outside the repository: a file holding exactly what the entry will say promote wrote,
    // and a temporary file named as the killed run would have named its own.
    const fs::path outside = shop.dir / "outside";
    const std::string planted = "planted\n";
    test::write_text(outside / "victim.yaml", planted);
    const fs::path temporary = outside / (".victim.yaml.promote-" + std::to_string(pid) + "-1.tmp");
    test::write_text(temporary, "half");
    fs::create_symlink(outside, shop.repo / "k8s/out");
    sh("echo k8s/out >> .git/info/exclude", shop.repo);
    for (const std::string& path :
         {std::string("k8s/out/victim.yaml"), std::string("../outside/victim.yaml"),
          (outside / "victim.yaml").string()}) {
      text["files"].push_back({{"path", path}, {"after_sha256", promote::util::sha256_hex(planted)}});
    }
    test::write_text(entry, text.dump());

    const CommandResult rerun = shop.promote(with_json(k_promotion));
    CHECK(rerun.exit_code == 0);
    const std::string warnings = warnings_of(rerun);
    const std::string repo = shop.repo.string();
    const std::string what = "promotion " + id + " into dev: ";
    CHECK(contains(warnings, "promotion " + id +
                                 " into dev was interrupted before its push reached origin/main: "
                                 "its local changes were undone and nothing was recorded"));
    CHECK(contains(warnings, what + "k8s/out/victim.yaml (in " + repo +
                                 "): out is a symbolic link, which promote does not follow: "
                                 "left as it is"));
    for (const std::string& path :
         {std::string("../outside/victim.yaml"), (outside / "victim.yaml").string()}) {
      CHECK(contains(warnings, what + path + " (in " + repo +
                                   "): not a plain relative path (it is absolute or empty, or has "
                                   "an empty, '.' or '..' component): left as it is"));
    }
    // Nothing outside was written or removed; the file the run did write is back as it was.
    CHECK(test::read_text(outside / "victim.yaml") == planted);
    CHECK(fs::exists(temporary));
    CHECK(fs::is_symlink(shop.repo / "k8s/out"));
    CHECK(contains(shop.overlay("dev"), "newTag: 1.5.0"));  // promoted again by the rerun
    CHECK(sh("git status --porcelain", shop.repo) == "");
  }

  TEST_CASE("a journal committed to the repository is ignored by a fresh clone, with a message" *
            doctest::skip(!hooks_built())) {
    test::Shop shop;
    const fs::path entry = killed_after_edit(shop);
    const std::string name = entry.filename().string();
    // Someone commits the entry; CI clones the repository afresh and runs promote there.
    sh("git clone -q remote.git committer && mkdir -p committer/.promote/history.db.pending",
       shop.dir.path());
    fs::copy_file(entry, shop.dir / "committer/.promote/history.db.pending" / name);
    sh("git add -f .promote && git commit -qm 'a journal' && git push -q origin main",
       shop.dir / "committer");
    sh("git clone -q remote.git ci", shop.dir.path());
    const fs::path ci = shop.dir / "ci";
    const fs::path committed = ci / ".promote/history.db.pending" / name;
    REQUIRE(fs::exists(committed));
    const std::string head = sh("git rev-parse HEAD", ci);

    const CommandResult run = test::run(
        {test::promote_binary().string(), "--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0",
         "--dry-run", "--output", "json"},
        ci, {{"PROMOTE_HISTORY", ""}, {"PROMOTE_ACTOR", "shop-ci"}, {"GITHUB_ACTIONS", ""}});
    CHECK(run.exit_code == 0);
    const std::string warnings = warnings_of(run);
    CHECK(contains(warnings, "ignored the journal entry "));
    CHECK(contains(warnings, ".promote/history.db.pending/" + name +
                                 ": it is tracked by git, so it came with the repository rather "
                                 "than from a run on this machine (remove it from the "
                                 "repository)"));
    CHECK(!contains(warnings, "interrupted"));
    CHECK(fs::exists(committed));
    CHECK(sh("git rev-parse HEAD", ci) == head);
    CHECK(sh("git status --porcelain", ci) == "");
  }

  TEST_CASE("a journal entry owned by another user is ignored, with a message" *
            doctest::skip(!hooks_built())) {
    if (::geteuid() != 0) {
      MESSAGE("skipped: only root can give a file to another user");
      return;
    }
    test::Shop shop;
    const fs::path entry = killed_after_edit(shop);
    REQUIRE(::chown(entry.c_str(), 65534, 65534) == 0);
    const std::string edited = shop.overlay("dev");

    const CommandResult rerun = shop.promote(with_json(k_promotion));
    const std::string warnings = warnings_of(rerun);
    CHECK(contains(warnings, "ignored the journal entry " + entry.string() +
                                 ": it is owned by user 65534, not by this one (0)"));
    CHECK(!contains(warnings, "interrupted"));
    CHECK(fs::exists(entry));
    CHECK(shop.overlay("dev") == edited);  // not put back by that entry
  }

  TEST_CASE("a file changed after the crash is left as it is, and the rerun says so" *
            doctest::skip(!hooks_built())) {
    test::Shop shop;
    const fs::path entry = killed_after_edit(shop);
    const std::string id = entry.stem().string();
    const std::string changed = shop.overlay("dev") + "# changed by hand after the crash\n";
    test::write_text(shop.repo / k_dev, changed);

    // A dry run settles nothing (settling may push): it says so, and changes nothing.
    const CommandResult dry =
        shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0", "--dry-run"});
    CHECK(dry.exit_code == 4);
    CHECK(dry.err == "promote: promotion " + id +
                         " into dev was interrupted and is not settled "
                         "yet (" +
                         entry.string() +
                         "); a dry run changes nothing: run promote "
                         "without --dry-run to finish or undo it first\n");
    CHECK(fs::exists(entry));
    CHECK(test::read_text(shop.repo / k_dev) == changed);

    const CommandResult rerun = shop.promote(with_json(k_promotion));
    INFO(rerun.out << rerun.err);
    const std::string warnings = warnings_of(rerun) + rerun.err;
    CHECK(contains(warnings, "promotion " + id + " into dev: " + k_dev +
                                 " holds neither what the promotion wrote nor what it held before "
                                 "(it was changed since): left as it is"));
    CHECK(test::read_text(shop.repo / k_dev) == changed);
    CHECK(!fs::exists(entry));
  }
}

TEST_SUITE("integration") {
  TEST_CASE("a .promote committed to the repository as a symbolic link is not followed") {
    // Everyone who can push could otherwise send a CI runner's history, journal and locks
    // wherever the link points: the history was written through it.
    test::Shop shop;
    const fs::path outside = shop.dir / "outside";
    fs::create_directories(outside);
    fs::create_symlink("../outside", shop.repo / ".promote");
    sh("git add -f .promote && git commit -qm 'a link' && git push -q origin main", shop.repo);
    const std::string head = shop.remote_head();
    const std::string message =
        (shop.repo / ".promote").string() +
        " is a symbolic link: promote keeps its history, journal and locks there and does not "
        "follow a link (one committed to the repository could lead them anywhere); remove it, "
        "or give --history\n";
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"},
          {"approve", "--stage", "prod"},
          {"hold", "--stage", "prod", "--reason", "x"},
          {"status"},
          {"history"},
          {"history", "sync"},
          {"audit", "verify"}}) {
      const CommandResult run = shop.promote(args);
      INFO(args[0] << ": " << run.out << run.err);
      CHECK(run.exit_code == 4);
      CHECK(run.err == "promote: " + message);
    }
    CHECK(fs::is_empty(outside));
    CHECK(shop.remote_head() == head);
    // Given a history elsewhere, the promotion runs.
    CHECK(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0", "--history",
                        (shop.dir / "history.db").string()})
              .exit_code == 0);
    CHECK(fs::is_empty(outside));
  }
}
