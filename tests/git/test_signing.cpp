// SSH signatures (engine/git/signing.hpp) made and checked by the real ssh-keygen with real
// ed25519 keys, the forms of PROMOTE_SIGNING_KEY (a key file, a key:: literal in a real
// ssh-agent), and signed commits that the real `git verify-commit` accepts.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/git/repository.hpp"
#include "engine/git/signing.hpp"
#include "tests/support/support.hpp"

using promote::test::ScopedEnv;

namespace {

namespace fs = std::filesystem;
using promote::git::Repository;
using promote::git::Signature;
using promote::git::Signer;
using promote::git::verify;
using Status = promote::git::Verification::Status;
using promote::test::read_text;
using promote::test::run;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::write_text;

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

/// Keys made with ssh-keygen: alice (listed in allowed_signers as alice@example.com) and bob
/// (not listed).
struct Keys {
  TempDir dir;
  Keys() {
    sh("ssh-keygen -q -t ed25519 -N '' -C alice -f alice\n"
       "ssh-keygen -q -t ed25519 -N '' -C bob -f bob\n"
       "echo \"alice@example.com $(cut -d' ' -f1,2 alice.pub)\" > allowed_signers\n",
       dir.path());
  }
  fs::path key(const std::string& name) const { return dir / name; }
  fs::path allowed() const { return dir / "allowed_signers"; }
  /// The "SHA256:..." fingerprint ssh-keygen -l gives the key.
  std::string fingerprint(const std::string& name) const {
    const std::string line = sh("ssh-keygen -l -f " + name + ".pub", dir.path());
    const std::size_t start = line.find(' ') + 1;
    return line.substr(start, line.find(' ', start) - start);
  }
  Signer signer(const std::string& name) const {
    return Signer::from_key(key(name).string()).value();
  }
};

/// An ssh-agent of the test's own at a socket in `dir`, killed when destroyed; the keys added
/// to it are in no other agent.
struct Agent {
  fs::path socket;
  pid_t pid = -1;
  explicit Agent(const fs::path& dir) : socket(dir / "agent.sock") {
    const auto started = run({"ssh-agent", "-s", "-a", socket.string()});
    REQUIRE(started.exit_code == 0);
    const std::string marker = "SSH_AGENT_PID=";
    const std::size_t at = started.out.find(marker);
    REQUIRE(at != std::string::npos);
    pid = std::stoi(started.out.substr(at + marker.size()));
  }
  ~Agent() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
    }
  }
  void add(const fs::path& key) const {
    const auto added = run({"ssh-add", "-q", key.string()}, {}, {{"SSH_AUTH_SOCK", socket}});
    REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
};

/// A repository `work` with one commit, its identity in its config.
struct Repo {
  TempDir dir;
  Repo() {
    sh("git init -q -b main work\ncd work\ngit config user.name t\ngit config user.email t@e\n"
       "git config commit.gpgsign false\necho 1 > file\ngit add -A\ngit commit -q -m init\n",
       dir.path());
  }
  fs::path work() const { return dir / "work"; }
  std::string git(const std::string& args) const { return trim(sh("git " + args, work())); }
  /// Runs `git verify-commit` on `id` with `allowed` as the allowed signers.
  promote::test::CommandResult verify_commit(const std::string& id, const fs::path& allowed) const {
    return run(
        {"git", "-c", "gpg.ssh.allowedSignersFile=" + allowed.string(), "verify-commit", "-v", id},
        work());
  }
};

const std::string k_record = "promote record: api 1.4.2\n";

}  // namespace

TEST_SUITE("git.signing") {
  TEST_CASE("bytes signed by a key allowed_signers lists verify as good, naming the signer") {
    Keys keys;
    const std::string signature = keys.signer("alice").sign(k_record, "promote").value();
    CHECK(signature.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
    CHECK(signature.ends_with("-----END SSH SIGNATURE-----\n"));
    const auto checked = verify(k_record, signature, keys.allowed(), "promote").value();
    CHECK(checked.status == Status::good);
    CHECK(checked.principal == "alice@example.com");
    CHECK(checked.fingerprint == keys.fingerprint("alice"));
    CHECK(checked.reason.empty());
    // ssh-keygen agrees, on its own.
    write_text(keys.dir / "record", k_record);
    write_text(keys.dir / "record.sig", signature);
    CHECK(run({"ssh-keygen", "-Y", "verify", "-f", keys.allowed().string(), "-I",
               "alice@example.com", "-n", "promote", "-s", (keys.dir / "record.sig").string()},
              {}, {}, k_record)
              .exit_code == 0);
  }

  TEST_CASE("a changed byte makes a signature bad") {
    Keys keys;
    const std::string signature = keys.signer("alice").sign(k_record, "promote").value();
    std::string changed = k_record;
    changed[changed.find("1.4.2")] = '2';
    const auto checked = verify(changed, signature, keys.allowed(), "promote").value();
    CHECK(checked.status == Status::bad);
    CHECK(checked.principal.empty());
    CHECK(checked.reason ==
          "ssh-keygen -Y verify refuses it: Signature verification failed: incorrect signature");
    CHECK(std::string(promote::git::to_string(checked.status)) == "bad");
  }

  TEST_CASE("a signature in another namespace is bad") {
    Keys keys;
    const std::string signature = keys.signer("alice").sign(k_record, "git").value();
    const auto checked = verify(k_record, signature, keys.allowed(), "promote").value();
    CHECK(checked.status == Status::bad);
    CHECK(checked.reason == "signed in namespace \"git\", not \"promote\"");
    CHECK(verify(k_record, signature, keys.allowed(), "git").value().status == Status::good);
  }

  TEST_CASE("a key that allowed_signers does not list is unknown, named by its fingerprint") {
    Keys keys;
    const std::string signature = keys.signer("bob").sign(k_record, "promote").value();
    const auto checked = verify(k_record, signature, keys.allowed(), "promote").value();
    CHECK(checked.status == Status::unknown_key);
    CHECK(checked.principal.empty());
    CHECK(checked.fingerprint == keys.fingerprint("bob"));
    CHECK(checked.reason ==
          "ssh-ed25519 key " + keys.fingerprint("bob") + " is not in " + keys.allowed().string());
    CHECK(std::string(promote::git::to_string(checked.status)) == "unknown key");
  }

  TEST_CASE("text that is not an SSH signature is malformed") {
    Keys keys;
    const std::string good = keys.signer("alice").sign(k_record, "promote").value();
    const std::string begin = "-----BEGIN SSH SIGNATURE-----\n";
    const std::string end = "-----END SSH SIGNATURE-----\n";
    std::string signature;
    std::string reason;
    SUBCASE("no armor") {
      signature = "alice approves\n";
      reason =
          "it is not enclosed in \"-----BEGIN SSH SIGNATURE-----\" and \"-----END SSH "
          "SIGNATURE-----\"";
    }
    SUBCASE("not base64") {
      signature = begin + "U1NIU0lH*AAA\n" + end;
      reason = "its body is not base64";
    }
    SUBCASE("another format") {
      signature = begin + "QUJDREVGR0g=\n" + end;  // "ABCDEFGH"
      reason = "it does not start with \"SSHSIG\"";
    }
    SUBCASE("cut short") {
      // The first two lines of the body only (70 characters each, a multiple of 4).
      const std::size_t body = begin.size();
      signature = good.substr(0, body + 2 * 71) + end;
      reason = "its fields are cut short or followed by more bytes";
    }
    const auto checked = verify(k_record, signature, keys.allowed(), "promote").value();
    CHECK(checked.status == Status::malformed);
    CHECK(checked.reason == "not an SSH signature: " + reason);
    CHECK(checked.principal.empty());
  }

  TEST_CASE("allowed_signers that cannot be read is an error") {
    Keys keys;
    const std::string signature = keys.signer("alice").sign(k_record, "promote").value();
    const auto checked = verify(k_record, signature, keys.dir / "missing", "promote");
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().kind == promote::ErrorKind::input);
    CHECK(checked.error().message == "cannot check a signature: cannot read allowed signers " +
                                         (keys.dir / "missing").string() +
                                         ": No such file or directory");
  }

  TEST_CASE("without ssh-keygen, signing and checking fail saying what to install") {
    Keys keys;
    const std::string signature = keys.signer("alice").sign(k_record, "promote").value();
    const Signer signer = keys.signer("alice");
    const ScopedEnv path("PATH", keys.dir.path().string());
    const std::string missing =
        "ssh-keygen is not installed (not found on PATH): SSH signatures "
        "need OpenSSH's ssh-keygen (Debian package openssh-client)";
    const auto signed_ = signer.sign(k_record, "promote");
    REQUIRE_FALSE(signed_.has_value());
    CHECK(signed_.error().kind == promote::ErrorKind::input);
    CHECK(signed_.error().message ==
          "cannot sign with " + keys.key("alice").string() + ": " + missing);
    const auto checked = verify(k_record, signature, keys.allowed(), "promote");
    REQUIRE_FALSE(checked.has_value());
    CHECK(checked.error().message == "cannot check a signature: " + missing);
  }

  TEST_CASE("a key with a passphrase and no agent fails at once instead of prompting") {
    Keys keys;
    sh("ssh-keygen -q -t ed25519 -N secret -f locked", keys.dir.path());
    const ScopedEnv agent("SSH_AUTH_SOCK", std::nullopt);
    const auto signed_ = keys.signer("locked").sign(k_record, "promote");
    REQUIRE_FALSE(signed_.has_value());
    CHECK(signed_.error().message ==
          "cannot sign with " + keys.key("locked").string() +
              ": ssh-keygen exited with status 255: Enter passphrase: Load key \"" +
              keys.key("locked").string() +
              "\": incorrect passphrase supplied to decrypt private key");
  }

  TEST_CASE("PROMOTE_SIGNING_KEY names the key, or nothing signs") {
    Keys keys;
    SUBCASE("unset or empty: no signer") {
      {
        const ScopedEnv unset("PROMOTE_SIGNING_KEY", std::nullopt);
        CHECK_FALSE(Signer::from_environment().value().has_value());
      }
      const ScopedEnv empty("PROMOTE_SIGNING_KEY", "");
      CHECK_FALSE(Signer::from_environment().value().has_value());
    }
    SUBCASE("a private key file") {
      const ScopedEnv key("PROMOTE_SIGNING_KEY", keys.key("alice").string());
      const auto signer = Signer::from_environment().value();
      REQUIRE(signer.has_value());
      CHECK(signer->shown() == keys.key("alice").string());
      const std::string signature = signer->sign(k_record, "promote").value();
      CHECK(verify(k_record, signature, keys.allowed(), "promote").value().principal ==
            "alice@example.com");
    }
    SUBCASE("a file that is not there") {
      const ScopedEnv key("PROMOTE_SIGNING_KEY", keys.key("carol").string());
      const auto signer = Signer::from_environment();
      REQUIRE_FALSE(signer.has_value());
      CHECK(signer.error().kind == promote::ErrorKind::input);
      CHECK(signer.error().message == "PROMOTE_SIGNING_KEY: cannot read the signing key " +
                                          keys.key("carol").string() +
                                          ": No such file or directory");
    }
    SUBCASE("a key:: literal that is not a public key") {
      for (const std::string literal :
           {"key::", "key::ssh-ed25519", "key::ssh-ed25519 ", "key::ssh-ed25519 not*base64",
            "key::AAAA ssh-ed25519", "key::ssh-ed25519 AAAA\nssh-rsa AAAA"}) {
        CAPTURE(literal);
        const ScopedEnv key("PROMOTE_SIGNING_KEY", literal);
        const auto signer = Signer::from_environment();
        REQUIRE_FALSE(signer.has_value());
        CHECK(signer.error().message ==
              "PROMOTE_SIGNING_KEY: a \"key::\" signing key is a public key on one line, as "
              "\"key::ssh-ed25519 AAAA... [comment]\"");
      }
    }
  }

  TEST_CASE("a key:: literal or a public key file signs with the private half in the agent" *
            doctest::skip(!promote::test::has_program("ssh-agent"))) {
    Keys keys;
    // carol's private key is in the agent and nowhere else.
    sh("ssh-keygen -q -t ed25519 -N '' -C carol -f carol\n"
       "echo \"carol@example.com $(cut -d' ' -f1,2 carol.pub)\" >> allowed_signers\n",
       keys.dir.path());
    const Agent agent(keys.dir.path());
    agent.add(keys.key("carol"));
    fs::remove(keys.key("carol"));
    const ScopedEnv socket("SSH_AUTH_SOCK", agent.socket.string());
    const std::string literal = "key::" + trim(read_text(keys.dir / "carol.pub"));
    SUBCASE("key:: literal") {
      const ScopedEnv key("PROMOTE_SIGNING_KEY", literal);
      const auto signer = Signer::from_environment().value();
      REQUIRE(signer.has_value());
      CHECK(signer->shown() == "key::ssh-ed25519 " + keys.fingerprint("carol"));
      const std::string signature = signer->sign(k_record, "promote").value();
      const auto checked = verify(k_record, signature, keys.allowed(), "promote").value();
      CHECK(checked.status == Status::good);
      CHECK(checked.principal == "carol@example.com");
    }
    SUBCASE("public key file") {
      const Signer signer = Signer::from_key((keys.dir / "carol.pub").string()).value();
      const std::string signature = signer.sign(k_record, "promote").value();
      CHECK(verify(k_record, signature, keys.allowed(), "promote").value().principal ==
            "carol@example.com");
    }
    SUBCASE("a literal key the agent does not hold") {
      const Signer signer =
          Signer::from_key("key::" + trim(read_text(keys.dir / "bob.pub"))).value();
      const auto signed_ = signer.sign(k_record, "promote");
      REQUIRE_FALSE(signed_.has_value());
      CHECK(signed_.error().message == "cannot sign with key::ssh-ed25519 " +
                                           keys.fingerprint("bob") +
                                           ": ssh-keygen exited with status 255: Couldn't find "
                                           "key in agent");
    }
  }

  TEST_CASE("a signed commit passes git verify-commit, and commit_signature and verify agree") {
    Keys keys;
    Repo repo;
    Repository repository = Repository::open(repo.work()).value();
    const Signer signer = keys.signer("alice");
    write_text(repo.work() / "file", "2\n");
    const std::string id = repository
                               .commit({"file"}, "promote(dev): api 1.4.2\n\nPromote-Stage: dev\n",
                                       Signature{"A", "a@e"}, nullptr, &signer)
                               .value();
    CHECK(repo.git("rev-parse HEAD") == id);
    CHECK(repo.git("reflog -1 --format=%gs HEAD") == "commit: promote(dev): api 1.4.2");
    CHECK(repo.git("status --porcelain").empty());
    const auto verified = repo.verify_commit(id, keys.allowed());
    CHECK_MESSAGE(verified.exit_code == 0, verified.err);
    CHECK(promote::test::contains(verified.err,
                                  "Good \"git\" signature for alice@example.com with ED25519 key " +
                                      keys.fingerprint("alice")));
    const std::string shown =
        trim(sh("git -c gpg.ssh.allowedSignersFile=" + keys.allowed().string() +
                    " log -1 --show-signature --format=%G?%n%GS",
                repo.work()));
    CHECK(shown.ends_with("G\nalice@example.com"));
    // The trailers stay readable as before.
    CHECK(repo.git("log -1 '--format=%(trailers:key=Promote-Stage,valueonly)'") == "dev");

    const auto signature = repository.commit_signature(id).value();
    REQUIRE(signature.has_value());
    CHECK(signature->signature.starts_with("-----BEGIN SSH SIGNATURE-----"));
    CHECK(signature->signed_data.find("gpgsig") == std::string::npos);
    CHECK(promote::test::contains(signature->signed_data, "\n\npromote(dev): api 1.4.2\n"));
    const auto checked =
        verify(signature->signed_data, signature->signature, keys.allowed(), "git").value();
    CHECK(checked.status == Status::good);
    CHECK(checked.principal == "alice@example.com");
    // Signed by a key allowed_signers does not list: git and promote both refuse it.
    const Signer other = keys.signer("bob");
    write_text(repo.work() / "file", "3\n");
    const std::string by_bob =
        repository.commit({"file"}, "by bob", Signature{"B", "b@e"}, nullptr, &other).value();
    CHECK(repo.verify_commit(by_bob, keys.allowed()).exit_code != 0);
    const auto bob_signature = repository.commit_signature(by_bob).value().value();
    CHECK(verify(bob_signature.signed_data, bob_signature.signature, keys.allowed(), "git")
              .value()
              .status == Status::unknown_key);
  }

  TEST_CASE("a signed commit of many files is stored as one pack and still verifies") {
    Keys keys;
    Repo repo;
    std::vector<std::string> paths;
    for (int i = 0; i < 120; ++i) {
      paths.push_back("services/svc-" + std::to_string(i) + "/values.yaml");
      write_text(repo.work() / paths.back(), "tag: " + std::to_string(i) + "\n");
    }
    Repository repository = Repository::open(repo.work()).value();
    const Signer signer = keys.signer("alice");
    const std::string loose = repo.git("count-objects");
    const std::string id =
        repository.commit(paths, "many", Signature{"A", "a@e"}, nullptr, &signer).value();
    CHECK(repo.git("count-objects") == loose);  // nothing loose: all in a pack
    CHECK(repo.git("verify-pack -v $(ls .git/objects/pack/*.idx) | grep -c ' commit '") == "1");
    CHECK(repo.git("fsck --no-dangling 2>&1").empty());
    const auto verified = repo.verify_commit(id, keys.allowed());
    CHECK_MESSAGE(verified.exit_code == 0, verified.err);
  }

  TEST_CASE("commit_on_branch signs its commit too; reusing a commit signs nothing new") {
    Keys keys;
    Repo repo;
    Repository repository = Repository::open(repo.work()).value();
    const Signer signer = keys.signer("alice");
    const std::string parent = repo.git("rev-parse HEAD");
    const auto made = repository
                          .commit_on_branch("promote/prod/abc", parent, {{"file", "9\n"}},
                                            "promote(prod): api 1.4.2\n", Signature{"A", "a@e"},
                                            std::nullopt, &signer)
                          .value();
    CHECK(made.created);
    CHECK(repo.git("rev-parse promote/prod/abc") == made.id);
    const auto verified = repo.verify_commit(made.id, keys.allowed());
    CHECK_MESSAGE(verified.exit_code == 0, verified.err);
    const auto again =
        repository
            .commit_on_branch("promote/prod/abc", parent, {{"file", "9\n"}},
                              "promote(prod): api 1.4.2\n", Signature{"A", "a@e"}, made.id, &signer)
            .value();
    CHECK_FALSE(again.created);
    CHECK(again.id == made.id);
  }

  TEST_CASE("an unsigned commit has no signature") {
    Keys keys;
    Repo repo;
    Repository repository = Repository::open(repo.work()).value();
    write_text(repo.work() / "file", "2\n");
    const std::string id = repository.commit({"file"}, "unsigned", Signature{"A", "a@e"}).value();
    CHECK_FALSE(repository.commit_signature(id).value().has_value());
    CHECK(repo.verify_commit(id, keys.allowed()).exit_code != 0);
    const auto unknown = repository.commit_signature(std::string(40, 'a'));
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().kind == promote::ErrorKind::git);
  }

  TEST_CASE("a commit that cannot be signed is not made") {
    Keys keys;
    Repo repo;
    Repository repository = Repository::open(repo.work()).value();
    const std::string head = repo.git("rev-parse HEAD");
    const std::string loose = repo.git("count-objects");
    write_text(repo.work() / "file", "2\n");
    const Signer signer = keys.signer("alice");
    const ScopedEnv path("PATH", keys.dir.path().string());
    const auto made =
        repository.commit({"file"}, "signed", Signature{"A", "a@e"}, nullptr, &signer);
    REQUIRE_FALSE(made.has_value());
    CHECK(made.error().kind == promote::ErrorKind::input);
    CHECK(made.error().message ==
          "cannot commit in " + repo.work().string() + " on main: cannot sign with " +
              keys.key("alice").string() +
              ": ssh-keygen is not installed (not found on PATH): SSH signatures need OpenSSH's "
              "ssh-keygen (Debian package openssh-client)");
    const ScopedEnv restored("PATH", "/usr/bin:/bin");
    CHECK(repo.git("rev-parse HEAD") == head);
    CHECK(repo.git("count-objects") == loose);  // nothing was stored
  }
}
