// Signed records (issue 15, the trust model): records kept in git were trusted without
// authentication, so a JSON line appended to refs/notes/promote by anyone who can push there
// was imported as an approval, and an empty commit with Promote-* trailers and a back-dated
// date made a soak gate pass. With `trust: {signed: true, allowed_signers: FILE}` promote signs
// what it writes with the key of PROMOTE_SIGNING_KEY (real ssh-keygen, real keys made here)
// and counts only what an allowed signer signed.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/util/time.hpp"
#include "tests/integration/shop.hpp"
#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::Shop;
using promote::test::write_text;

namespace {

bool has_ssh_keygen() {
  return promote::test::has_program("ssh-keygen");
}

// A shop whose pipeline counts signed records only, with keys for ci (the promoter), alice
// (an approver) and mallory (in no allowed_signers file).
struct SignedShop : Shop {
  fs::path keys = dir / "keys";

  explicit SignedShop(bool trust = true) {
    fs::create_directories(keys);
    std::string signers;
    for (const char* who : {"ci", "alice", "mallory"}) {
      sh("ssh-keygen -q -t ed25519 -N '' -C " + std::string(who) + " -f " + who, keys);
      if (std::string(who) != "mallory") {
        signers += std::string(who) + " " + read_text(keys / (std::string(who) + ".pub"));
      }
    }
    write_text(repo / ".promote-signers", signers);
    if (trust) {
      std::ofstream(repo / "promote.yaml", std::ios::app)
          << "trust:\n  signed: true\n  allowed_signers: .promote-signers\n";
    }
    sh("git add -A && git commit -q -m 'trust: signed records' && git push -q", repo);
  }

  std::map<std::string, std::string> as(const std::string& who) const {
    return {{"PROMOTE_SIGNING_KEY", (keys / who).string()}};
  }

  // Every line of every note on the remote.
  std::vector<std::string> note_lines() const {
    std::istringstream notes(
        sh("for c in $(git --git-dir=remote.git notes --ref=promote list | cut -d' ' -f2); do "
           "git --git-dir=remote.git notes --ref=promote show $c; done",
           dir.path()));
    std::vector<std::string> lines;
    for (std::string line; std::getline(notes, line);) {
      if (!line.empty()) {
        lines.push_back(line);
      }
    }
    return lines;
  }

  // The approval gate's verdict in a dry run of prod, as `who` runs it.
  std::string approval_status(const std::map<std::string, std::string>& env) const {
    const CommandResult result = promote({"--to", "prod", "--dry-run", "--output", "json"}, env);
    INFO(result.out << result.err);
    const auto plan = nlohmann::json::parse(result.out);
    for (const auto& gate : plan["gates"]) {
      if (gate["use"] == "approval") {
        return gate["status"];
      }
    }
    return "none";
  }
};

// A line of refs/notes/promote appended by hand on HEAD and pushed, as anyone who can push
// there can.
void forge_note(const Shop& shop, const std::string& line) {
  sh("git notes --ref=promote append -m '" + line +
         "' HEAD && git push -q origin refs/notes/promote",
     shop.repo);
}

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("signed records: promote signs its commits and note lines; audit verify checks them" *
            doctest::skip(!has_ssh_keygen())) {
    SignedShop shop;
    const std::string before = shop.remote_head();
    const CommandResult unsigned_run =
        shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"});
    CHECK(unsigned_run.exit_code == 2);
    CHECK(unsigned_run.err ==
          "promote: the pipeline counts signed records only (trust.signed): set "
          "PROMOTE_SIGNING_KEY to the key promote signs its records with\n");
    CHECK(shop.remote_head() == before);

    const CommandResult run =
        shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, shop.as("ci"));
    INFO(run.out << run.err);
    REQUIRE(run.exit_code == 0);
    // git itself accepts the commit's signature, by ci.
    const CommandResult verified = promote::test::run(
        {"git", "-c", "gpg.ssh.allowedSignersFile=" + (shop.repo / ".promote-signers").string(),
         "verify-commit", "HEAD"},
        shop.repo);
    CHECK(verified.exit_code == 0);
    CHECK(verified.err.find("Good \"git\" signature for ci with ED25519 key") != std::string::npos);
    // Each note line, the record and the history's anchor, carries its signature.
    const auto lines = shop.note_lines();
    REQUIRE(lines.size() == 2);
    for (const auto& line : lines) {
      const auto value = nlohmann::json::parse(line);
      CHECK(value.size() == 2);
      CHECK(value["signature"].get<std::string>().starts_with("-----BEGIN SSH SIGNATURE-----"));
    }
    const CommandResult audit = shop.promote({"audit", "verify"});
    INFO(audit.out << audit.err);
    CHECK(audit.exit_code == 0);
    CHECK(audit.out.find(": 3 records in git checked for signatures (trust.signed): all signed by "
                         "allowed signers\n") != std::string::npos);

    // A line someone appended by hand: audit verify names it.
    forge_note(
        shop,
        R"({"hold":{"action":"release","actor":"mallory","at":"2026-12-01T00:00:00.000Z","hash":"","pipeline":"shop","pipeline_file":"promote.yaml","reason":"x","stage":"prod"}})");
    const CommandResult forged = shop.promote({"audit", "verify"});
    INFO(forged.out << forged.err);
    CHECK(forged.exit_code == 1);
    // (git notes append puts a blank line before what it appends: line 4.)
    CHECK(forged.out.find(": 4 records in git checked for signatures (trust.signed): 1 do not "
                          "count\n  the note on " +
                          sh("git rev-parse HEAD", shop.repo).substr(0, 12) +
                          ", line 4: it is not signed\n") != std::string::npos);
  }

  TEST_CASE("signed records: a forged approval in the notes counts without trust, and not with it" *
            doctest::skip(!has_ssh_keygen())) {
    for (const bool trust : {false, true}) {
      CAPTURE(trust);
      SignedShop shop(trust);
      REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, shop.as("ci"))
                  .exit_code == 0);
      REQUIRE(shop.promote({"--to", "staging"}, shop.as("ci")).exit_code == 0);
      const auto plan = nlohmann::json::parse(
          shop.promote({"--to", "prod", "--dry-run", "--output", "json"}, shop.as("ci")).out);
      const std::string candidate = plan["candidate"]["id"];
      CHECK(shop.approval_status(shop.as("ci")) == "pending");
      // An approval by alice that alice never gave, pushed to the notes by someone who can
      // push; a fresh runner syncs its history from the notes.
      // Given now: an approval from before the candidate reached staging would not count.
      const std::string now =
          promote::util::format_utc(std::chrono::system_clock::now(), "%Y-%m-%dT%H:%M:%S.000Z");
      forge_note(
          shop,
          R"({"approval":{"actor":"alice","at":")" + now + R"(","candidate_id":")" +
              candidate +
              R"(","decision":"approve","hash":"","pipeline":"shop","pipeline_file":"promote.yaml","reason":"lgtm","stage":"prod"}})");
      fs::remove_all(shop.repo / ".promote");
      const CommandResult synced = shop.promote({"history", "sync"}, shop.as("ci"));
      INFO(synced.out << synced.err);
      REQUIRE(synced.exit_code == 0);
      if (!trust) {
        CHECK(shop.approval_status(shop.as("ci")) == "pass");  // the attack, without trust
        continue;
      }
      CHECK(synced.err.find(": left out: it is not signed") != std::string::npos);
      CHECK(shop.approval_status(shop.as("ci")) == "pending");
      // alice's own, signed approval counts.
      REQUIRE(shop.promote({"approve", "--stage", "prod"}, shop.as("alice")).exit_code == 0);
      CHECK(shop.approval_status(shop.as("ci")) == "pass");
    }
  }

  TEST_CASE(
      "signed records: no one approves for someone else, and self-approval is judged on "
      "the signer" *
      doctest::skip(!has_ssh_keygen())) {
    SignedShop shop;
    REQUIRE(shop.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0"}, shop.as("ci"))
                .exit_code == 0);
    REQUIRE(shop.promote({"--to", "staging"}, shop.as("ci")).exit_code == 0);
    const CommandResult outsider = shop.promote({"approve", "--stage", "prod"}, shop.as("mallory"));
    CHECK(outsider.exit_code == 2);
    CHECK(outsider.err.find("cannot sign this pipeline's records") != std::string::npos);
    CHECK(shop.approval_status(shop.as("ci")) == "pending");

    // alice's key approves as alice, whoever PROMOTE_ACTOR names.
    auto env = shop.as("alice");
    env["PROMOTE_ACTOR"] = "bob";
    const CommandResult approved =
        shop.promote({"approve", "--stage", "prod", "--output", "json"}, env);
    INFO(approved.out << approved.err);
    REQUIRE(approved.exit_code == 0);
    CHECK(nlohmann::json::parse(approved.out)["actor"] == "alice");
    CHECK(shop.approval_status(shop.as("ci")) == "pass");
    // alice promoting with her own key: her approval is her own, whatever PROMOTE_ACTOR says.
    CHECK(shop.approval_status(shop.as("alice")) == "pending");
  }

  TEST_CASE(
      "signed records: a back-dated unsigned commit with Promote trailers does not start a "
      "soak" *
      doctest::skip(!has_ssh_keygen())) {
    for (const bool trust : {false, true}) {
      CAPTURE(trust);
      SignedShop shop(trust);
      // staging takes a new api by a hand edit (no promote record, no history), and someone
      // adds an empty commit that claims the promotion was made in January.
      sh("sed -i 's/newTag: 1.4.1/newTag: 1.5.0/' k8s/overlays/staging/kustomization.yaml && "
         "git commit -qam 'staging: api 1.5.0' && git push -q",
         shop.repo);
      const auto soak_of = [&] {
        const CommandResult dry =
            shop.promote({"--to", "prod", "--dry-run", "--output", "json"}, shop.as("ci"));
        INFO(dry.out << dry.err);
        const auto plan = nlohmann::json::parse(dry.out);
        for (const auto& gate : plan["gates"]) {
          if (gate["use"] == "soak") {
            return std::pair{plan["candidate"]["id"].get<std::string>(),
                             gate["status"].get<std::string>()};
          }
        }
        return std::pair{std::string(), std::string("none")};
      };
      const auto [candidate, before] = soak_of();
      // Without trust, the hand edit is the last change of staging: just now. With it, only a
      // signed promote commit says when a candidate entered.
      CHECK(before == (trust ? "error" : "pending"));
      const std::string old = "2026-01-01T00:00:00Z";
      sh("GIT_COMMITTER_DATE=" + old + " GIT_AUTHOR_DATE=" + old +
             " git commit -q --allow-empty -m 'promote staging' -m 'Promote-Pipeline: shop\n"
             "Promote-Pipeline-File: promote.yaml\nPromote-Stage: staging\nPromote-Candidate: " +
             candidate + "\nPromote-Id: forged' && git push -q",
         shop.repo);
      const auto [same, after] = soak_of();
      CHECK(same == candidate);
      // Without trust the forged trailers are believed; with it they are passed over, and
      // nothing signed says when the candidate entered staging.
      CHECK(after == (trust ? "error" : "pass"));
    }
  }
}
