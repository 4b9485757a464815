// Output a person can read, through the real binary: `status` fails on a stage it cannot
// read and says which, digests are cut short for people (and kept whole in the record),
// many images make a short commit subject, and an attempt without a candidate shows no id.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/scratch_repo.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::contains;
using promote::test::sh;
using promote::test::write_text;

namespace {

const std::string k_digest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// The characters of UTF-8 text, as a terminal shows them side by side.
std::size_t characters(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The kustomization of an overlay whose five images a..e are all at `tag`.
std::string overlay(const std::string& tag) {
  std::string text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n";
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    text += "  - name: ghcr.io/acme/" + std::string(name) + "\n    newTag: " + tag + "\n";
  }
  return text;
}

// The files of a GitOps repository with five images in two stages, dev and prod (from dev).
std::map<std::string, std::string> five_files() {
  std::string pipeline =
      "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: readable}\nimages:\n";
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    pipeline += "  - {name: " + std::string(name) + ", repository: ghcr.io/acme/" + name + "}\n";
  }
  pipeline +=
      "stages:\n"
      "  - name: dev\n    target: {kustomize: overlays/dev}\n"
      "  - name: prod\n    from: dev\n    target: {kustomize: overlays/prod}\n";
  return {{"promote.yaml", pipeline},
          {"overlays/dev/kustomization.yaml", overlay("1.0.0")},
          {"overlays/prod/kustomization.yaml", overlay("1.0.0")}};
}

// That repository, pushed to a bare remote.
struct Five : promote::test::ScratchRepo {
  Five() : ScratchRepo(five_files()) {}

  // Replaces an overlay by text that is no YAML, and commits it.
  void break_overlay(const std::string& stage) const {
    write_text(repo / "overlays" / stage / "kustomization.yaml", "images: [\n");
    sh("git commit -q -am 'break " + stage + "'", repo);
  }

  std::string last_commit_message() const { return sh("git log -1 --format=%B", repo); }
  std::string last_subject() const { return sh("git log -1 --format=%s", repo); }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("status exits 4 when a stage cannot be read, and names the stage on stderr") {
    Five five;
    const CommandResult fine = five.promote({"status"});
    CHECK(fine.exit_code == 0);
    CHECK(fine.err == "");

    five.break_overlay("prod");
    const CommandResult table = five.promote({"status"});
    CHECK(table.exit_code == 4);
    // The table is still printed, the readable stage with its images.
    CHECK(contains(table.out, "a=1.0.0 b=1.0.0 c=1.0.0 d=1.0.0 e=1.0.0"));
    const std::string prefix = "promote: stage 'prod' cannot be read: ";
    CHECK(table.err.starts_with(prefix));
    CHECK(contains(table.err, "overlays/prod/kustomization.yaml"));
    CHECK(std::count(table.err.begin(), table.err.end(), '\n') == 1);
    CHECK_FALSE(contains(table.err, "stage 'dev'"));

    const CommandResult json = five.promote({"status", "--output", "json"});
    CHECK(json.exit_code == 4);
    const auto doc = nlohmann::json::parse(json.out);
    CHECK(doc["stages"][0]["candidate"].is_object());
    CHECK(doc["stages"][1]["candidate"].is_null());
    CHECK(json.err.starts_with(prefix + doc["stages"][1]["problem"].get<std::string>()));
  }

  TEST_CASE("a digest is cut short for people and kept whole in the commit and the JSON") {
    Five five;
    const CommandResult promoted =
        five.promote({"--to", "dev", "--image", "a=ghcr.io/acme/a@" + k_digest});
    REQUIRE(promoted.exit_code == 0);
    // The report's line of the image; the diff below it is the file's, digest and all.
    CHECK(contains(promoted.out,
                   "\n  a  ghcr.io/acme/a:1.0.0 -> ghcr.io/acme/a@sha256:0123456789ab…\n"));
    CHECK(contains(promoted.out, "\n+    digest: " + k_digest + "\n"));

    const CommandResult status = five.promote({"status"});
    CHECK(status.exit_code == 0);
    CHECK(contains(status.out, "a@sha256:0123456789ab… b=1.0.0"));
    CHECK_FALSE(contains(status.out, "0123456789abc"));
    const CommandResult history = five.promote({"history"});
    CHECK(contains(history.out, "a@sha256:0123456789ab… b=1.0.0"));
    CHECK_FALSE(contains(history.out, "0123456789abc"));
    // The columns stay aligned: "…" is one character (of three bytes).
    const std::string header = history.out.substr(0, history.out.find('\n'));
    const std::string row = history.out.substr(header.size() + 1);
    const std::size_t gates = row.find_first_not_of(' ', row.find("e=1.0.0") + 7);
    CHECK(characters(row.substr(0, gates)) == header.find("GATES"));

    // What is recorded holds the whole reference.
    CHECK(contains(five.last_commit_message(), "\na: ghcr.io/acme/a@" + k_digest + "\n"));
    const auto doc = nlohmann::json::parse(five.promote({"status", "--output", "json"}).out);
    CHECK(doc["stages"][0]["candidate"]["images"]["a"] == "ghcr.io/acme/a@" + k_digest);
    const auto records = nlohmann::json::parse(five.promote({"history", "--output", "json"}).out);
    CHECK(records[0]["images"]["a"] == "ghcr.io/acme/a@" + k_digest);
  }

  TEST_CASE("past three images changing, the commit subject counts them; the body lists all") {
    Five five;
    REQUIRE(five.promote({"--to", "dev", "--image", "a=ghcr.io/acme/a:2.0.0", "--image",
                          "b=ghcr.io/acme/b:2.0.0", "--image", "c=ghcr.io/acme/c:2.0.0"})
                .exit_code == 0);
    CHECK(five.last_subject() ==
          "promote(dev): a 1.0.0 -> 2.0.0, b 1.0.0 -> 2.0.0, c 1.0.0 -> 2.0.0\n");

    REQUIRE(five.promote({"--to", "dev", "--image", "a=ghcr.io/acme/a:3.0.0", "--image",
                          "b=ghcr.io/acme/b:3.0.0", "--image", "c=ghcr.io/acme/c:3.0.0", "--image",
                          "d=ghcr.io/acme/d:3.0.0"})
                .exit_code == 0);
    CHECK(five.last_subject() == "promote(dev): 4 images\n");
    CHECK(contains(five.last_commit_message(),
                   "promote(dev): 4 images\n\na: ghcr.io/acme/a:3.0.0\nb: ghcr.io/acme/b:3.0.0\n"
                   "c: ghcr.io/acme/c:3.0.0\nd: ghcr.io/acme/d:3.0.0\ne: ghcr.io/acme/e:1.0.0\n\n"
                   "Promote-Pipeline: "));

    REQUIRE(five.promote({"--to", "prod"}).exit_code == 0);
    CHECK(five.last_subject() == "promote(prod): 4 images\n");
  }

  TEST_CASE("an attempt that has no candidate shows no candidate id") {
    Five five;
    five.break_overlay("dev");
    const CommandResult run = five.promote({"--to", "prod"});
    CHECK(run.exit_code == 4);
    CHECK(run.out.starts_with("promote readable: dev -> prod\n"));
    CHECK_FALSE(contains(run.out, "candidate"));

    const CommandResult explain = five.promote({"explain", "--to", "prod"});
    CHECK(explain.out.starts_with("prod would take no candidate from dev: it cannot be judged"));

    // The history row of that attempt shows no id either.
    const CommandResult history = five.promote({"history"});
    CHECK(contains(history.out, "  prod   dev   error    -  "));
  }
}
