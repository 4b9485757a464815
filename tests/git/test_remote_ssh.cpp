// Clone, fetch and push over ssh with a key file or an ssh-agent, against Debian's sshd
// (openssh-server) on a free port of 127.0.0.1, run as the current user with its own
// sshd_config, host key and authorized_keys in a temporary directory.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "engine/git/repository.hpp"
#include "tests/git/remotes.hpp"
#include "tests/support/servers/prometheus.hpp"
#include "tests/support/support.hpp"

namespace {

namespace fs = std::filesystem;
using promote::ErrorKind;
using promote::git::Repository;
using promote::git::Signature;
using promote::test::BareRemote;
using promote::test::ChildProcess;
using promote::test::read_text;
using promote::test::sh;
using promote::test::TempDir;
using promote::test::trim_end;
using promote::test::write_text;
using Environment = promote::test::CredentialEnvironment;

constexpr const char* k_sshd = "/usr/sbin/sshd";
constexpr const char* k_privsep_dir = "/run/sshd";

/// "" when an sshd can run here, else what is missing; creates sshd's privilege separation
/// directory when missing and allowed to (as the ssh.service unit does).
std::string ssh_missing() {
  if (!promote::git::supports_ssh()) {
    return "libgit2 was built without SSH support";
  }
  if (::access(k_sshd, X_OK) != 0) {
    return std::string(k_sshd) + " is missing (Debian package openssh-server)";
  }
  if (!promote::test::has_program("ssh-keygen") || !promote::test::has_program("ssh-agent") ||
      !promote::test::has_program("ssh-add")) {
    return "ssh-keygen, ssh-agent or ssh-add is missing (Debian package openssh-client)";
  }
  std::error_code ec;
  if (!fs::is_directory(k_privsep_dir) &&
      (::geteuid() != 0 || !fs::create_directory(k_privsep_dir, ec))) {
    return std::string("sshd needs the directory ") + k_privsep_dir +
           ", which is missing and cannot be made";
  }
  return "";
}

bool accepts(unsigned short port) {
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected =
      ::connect(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(socket);
  return connected;
}

std::string current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry == nullptr ? "root" : entry->pw_name;
}

/// sshd serving `repository`'s bare repository, with a client key (client_key, no passphrase)
/// and an encrypted one (locked_key, passphrase "open sesame") authorized, and a known_hosts
/// file that has its host key.
struct SshRemote {
  TempDir dir;
  BareRemote repo{dir / "repos"};
  unsigned short port = promote::test::free_port();
  std::unique_ptr<ChildProcess> sshd;
  std::string passphrase = "open sesame";

  SshRemote() {
    sh("mkdir -p ssh && cd ssh\n"
       "ssh-keygen -q -t ed25519 -N '' -C host -f host_key\n"
       "ssh-keygen -q -t ed25519 -N '' -C client -f client_key\n"
       "ssh-keygen -q -t ed25519 -N '' -C stranger -f stranger_key\n"
       "ssh-keygen -q -t ed25519 -N '" +
           passphrase +
           "' -C locked -f locked_key\n"
           "cat client_key.pub locked_key.pub > authorized_keys\n"
           "printf '[127.0.0.1]:" +
           std::to_string(port) + " %s\\n' \"$(cut -d' ' -f1,2 host_key.pub)\" > known_hosts\n",
       dir.path());
    const fs::path ssh = dir / "ssh";
    write_text(ssh / "sshd_config",
               "Port " + std::to_string(port) +
                   "\nListenAddress 127.0.0.1\n"
                   "HostKey " +
                   (ssh / "host_key").string() + "\nAuthorizedKeysFile " +
                   (ssh / "authorized_keys").string() + "\nPidFile " + (ssh / "sshd.pid").string() +
                   "\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                   "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
                   "AllowUsers " +
                   current_user() + "\nStrictModes no\nUsePAM no\nLogLevel VERBOSE\n");
    sshd = std::make_unique<ChildProcess>(
        std::vector<std::string>{k_sshd, "-D", "-e", "-f", (ssh / "sshd_config").string()},
        ssh / "sshd.log");
  }

  /// "" once sshd accepts connections (within 10 s), else its log.
  std::string wait_ready() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (accepts(port)) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "sshd did not start: " + sshd->log();
  }

  fs::path ssh(const std::string& file) const { return dir / "ssh" / file; }
  std::string url() const {
    return "ssh://" + current_user() + "@127.0.0.1:" + std::to_string(port) + repo.bare().string();
  }
  /// url() as messages show it: without the user name.
  std::string shown_url() const {
    return "ssh://127.0.0.1:" + std::to_string(port) + repo.bare().string();
  }
  /// "SHA256:..." of the host key, as ssh-keygen prints it.
  std::string fingerprint() const {
    const std::string line = sh("ssh-keygen -l -f " + ssh("host_key.pub").string());
    return line.substr(line.find(' ') + 1, line.find(' ', line.find(' ') + 1) - line.find(' ') - 1);
  }
};

std::string commit_change(Repository& repository, const std::string& tag) {
  write_text(repository.workdir() / "deploy.yaml", "tag: " + tag + "\n");
  return repository.commit({"deploy.yaml"}, "bump to " + tag, Signature{"A", "a@e"}).value();
}

}  // namespace

TEST_SUITE("git") {
  TEST_CASE("clone, fetch and push over ssh with a key file, an encrypted key or an agent") {
    if (const std::string missing = ssh_missing(); !missing.empty()) {
      MESSAGE("skipped: " << missing);
      return;
    }
    SshRemote remote;
    REQUIRE_MESSAGE(remote.wait_ready().empty(), remote.wait_ready());
    Environment environment({{"PROMOTE_SSH_KNOWN_HOSTS", remote.ssh("known_hosts").string()}});
    TempDir target;
    SUBCASE("PROMOTE_SSH_KEY") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("client_key").string());
    }
    SUBCASE("PROMOTE_SSH_KEY without its .pub beside it") {
      fs::rename(remote.ssh("client_key.pub"), remote.ssh("client.pub"));
      environment.set("PROMOTE_SSH_KEY", remote.ssh("client_key").string());
    }
    SUBCASE("an encrypted key with PROMOTE_SSH_KEY_PASSPHRASE") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("locked_key").string());
      environment.set("PROMOTE_SSH_KEY_PASSPHRASE", remote.passphrase);
    }
    SUBCASE("a hashed known_hosts") {
      sh("ssh-keygen -q -H -f known_hosts 2>/dev/null && rm -f known_hosts.old\n"
         "! grep -q 127.0.0.1 known_hosts",
         remote.dir / "ssh");
      environment.set("PROMOTE_SSH_KEY", remote.ssh("client_key").string());
    }
    SUBCASE("the ssh-agent at SSH_AUTH_SOCK") {
      const fs::path socket = remote.ssh("agent.sock");
      ChildProcess agent({"ssh-agent", "-D", "-a", socket.string()}, remote.ssh("agent.log"));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!fs::exists(socket) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      sh("SSH_AUTH_SOCK=" + socket.string() + " ssh-add -q " + remote.ssh("client_key").string() +
         " 2>/dev/null");
      environment.set("SSH_AUTH_SOCK", socket.string());
      auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
      commit_change(*clone, "2");
      auto pushed = clone->push("origin", "main");
      CHECK_MESSAGE(pushed.has_value(), pushed.error().message);
      return;
    }
    auto clone = Repository::clone(remote.url(), target / "work", "main");
    REQUIRE_MESSAGE(clone.has_value(), (clone.error().message + "\n" + remote.sshd->log()));
    CHECK(read_text(target / "work/deploy.yaml") == "tag: 1\n");
    const std::string mine = commit_change(*clone, "2");
    auto pushed = clone->push("origin", "main");
    REQUIRE_MESSAGE(pushed.has_value(), pushed.error().message);
    CHECK(remote.repo.head() == mine);
    const std::string theirs = remote.repo.push_theirs("theirs.txt");
    auto fetched = clone->fetch("origin", "main");
    REQUIRE_MESSAGE(fetched.has_value(), fetched.error().message);
    CHECK(clone->resolve("origin/main").value() == theirs);
  }

  TEST_CASE("an ssh remote without a usable key says what to set and hides the passphrase") {
    if (const std::string missing = ssh_missing(); !missing.empty()) {
      MESSAGE("skipped: " << missing);
      return;
    }
    SshRemote remote;
    REQUIRE_MESSAGE(remote.wait_ready().empty(), remote.wait_ready());
    Environment environment({{"PROMOTE_SSH_KNOWN_HOSTS", remote.ssh("known_hosts").string()}});
    TempDir target;
    const std::string prefix = "cannot clone " + remote.shown_url() + " (branch main) into " +
                               (target / "work").string() + ": ";
    const std::string before = remote.repo.refs();
    SUBCASE("no key and no agent") {
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().kind == ErrorKind::git);
      CHECK(clone.error().message ==
            prefix +
                "the remote asks for an SSH key: set PROMOTE_SSH_KEY to a private key file (and "
                "PROMOTE_SSH_KEY_PASSPHRASE when it is encrypted), or run an ssh-agent that "
                "holds the key and set SSH_AUTH_SOCK");
    }
    SUBCASE("a key the server does not know") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("stranger_key").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message == prefix +
                                         "the remote did not accept the SSH key in "
                                         "PROMOTE_SSH_KEY (" +
                                         remote.ssh("stranger_key").string() + ") for user " +
                                         current_user());
    }
    SUBCASE("a key file that is not there") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("nope").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message == prefix + "PROMOTE_SSH_KEY names " +
                                         remote.ssh("nope").string() +
                                         ", which is not a readable file; set it to a private "
                                         "key file");
    }
    SUBCASE("an encrypted key without PROMOTE_SSH_KEY_PASSPHRASE") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("locked_key").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message == prefix + "the SSH key in PROMOTE_SSH_KEY (" +
                                         remote.ssh("locked_key").string() +
                                         ") is encrypted: set PROMOTE_SSH_KEY_PASSPHRASE to its "
                                         "passphrase");
    }
    SUBCASE("a wrong passphrase") {
      const std::string wrong = "not the passphrase";
      environment.set("PROMOTE_SSH_KEY", remote.ssh("locked_key").string());
      environment.set("PROMOTE_SSH_KEY_PASSPHRASE", wrong);
      SUBCASE("with the public key beside it") {
        const auto clone = Repository::clone(remote.url(), target / "work", "main");
        REQUIRE(clone.has_error());
        CHECK(clone.error().kind == ErrorKind::git);
        CHECK(clone.error().message == prefix +
                                           "the remote did not accept the SSH key in "
                                           "PROMOTE_SSH_KEY (" +
                                           remote.ssh("locked_key").string() + ") for user " +
                                           current_user() +
                                           ", or PROMOTE_SSH_KEY_PASSPHRASE does not open the key");
      }
      SUBCASE("alone") {
        fs::rename(remote.ssh("locked_key.pub"), remote.ssh("locked.pub"));
        const auto clone = Repository::clone(remote.url(), target / "work", "main");
        REQUIRE(clone.has_error());
        INFO(clone.error().message);
        CHECK(clone.error().kind == ErrorKind::git);
        CHECK(clone.error().message.starts_with(prefix));
        CHECK(clone.error().message.ends_with("; check the key in PROMOTE_SSH_KEY (" +
                                              remote.ssh("locked_key").string() +
                                              ") and PROMOTE_SSH_KEY_PASSPHRASE"));
        CHECK(clone.error().message.find(wrong) == std::string::npos);
      }
    }
    SUBCASE("a push with a key the server does not know changes nothing") {
      environment.set("PROMOTE_SSH_KEY", remote.ssh("client_key").string());
      auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE_MESSAGE(clone.has_value(), clone.error().message);
      commit_change(*clone, "2");
      environment.set("PROMOTE_SSH_KEY", remote.ssh("stranger_key").string());
      const auto pushed = clone->push("origin", "main");
      REQUIRE(pushed.has_error());
      CHECK(pushed.error().kind == ErrorKind::git);
      CHECK(pushed.error().message == "cannot push main to origin (" + remote.shown_url() +
                                          "): the remote did not accept the SSH key in "
                                          "PROMOTE_SSH_KEY (" +
                                          remote.ssh("stranger_key").string() + ") for user " +
                                          current_user());
    }
    CHECK(remote.repo.refs() == before);
  }

  TEST_CASE("an ssh host key must be known, unless PROMOTE_SSH_INSECURE_ACCEPT_HOST=1") {
    if (const std::string missing = ssh_missing(); !missing.empty()) {
      MESSAGE("skipped: " << missing);
      return;
    }
    SshRemote remote;
    REQUIRE_MESSAGE(remote.wait_ready().empty(), remote.wait_ready());
    Environment environment({{"PROMOTE_SSH_KEY", remote.ssh("client_key").string()}});
    TempDir target;
    const std::string port = std::to_string(remote.port);
    const std::string prefix = "cannot clone " + remote.shown_url() + " (branch main) into " +
                               (target / "work").string() + ": ";
    const fs::path home_file = fs::path(std::getenv("HOME")) / ".ssh/known_hosts";
    const std::string shown = "[127.0.0.1]:" + port + " (ssh-ed25519 " + remote.fingerprint() + ")";
    SUBCASE("unknown") {
      write_text(remote.ssh("empty_known_hosts"), "");
      environment.set("PROMOTE_SSH_KNOWN_HOSTS", remote.ssh("empty_known_hosts").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().kind == ErrorKind::git);
      CHECK(clone.error().message ==
            prefix + "the host key of " + shown + " is not in " +
                remote.ssh("empty_known_hosts").string() + " or " + home_file.string() +
                ": add it (ssh-keyscan -p " + port +
                " 127.0.0.1, checked against what the host's owner publishes) to "
                "~/.ssh/known_hosts or to a file named by PROMOTE_SSH_KNOWN_HOSTS, or set "
                "PROMOTE_SSH_INSECURE_ACCEPT_HOST=1 to accept any host key");
      CHECK(!fs::exists(target / "work"));

      environment.set("PROMOTE_SSH_INSECURE_ACCEPT_HOST", "1");
      const auto accepted = Repository::clone(remote.url(), target / "work", "main");
      CHECK_MESSAGE(accepted.has_value(), accepted.error().message);
    }
    SUBCASE("changed") {
      sh("printf '[127.0.0.1]:" + port +
             " %s\\n' \"$(cut -d' ' -f1,2 stranger_key.pub)\" > changed",
         remote.dir / "ssh");
      environment.set("PROMOTE_SSH_KNOWN_HOSTS", remote.ssh("changed").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message ==
            prefix + "the host key of " + shown + " does not match the one " +
                remote.ssh("changed").string() +
                " holds for it: the host changed its key or someone is in between; check the "
                "key with the host's owner and update that file");
    }
    SUBCASE("known under another port only") {
      sh("printf '127.0.0.1 %s\\n' \"$(cut -d' ' -f1,2 host_key.pub)\" > port22",
         remote.dir / "ssh");
      environment.set("PROMOTE_SSH_KNOWN_HOSTS", remote.ssh("port22").string());
      const auto clone = Repository::clone(remote.url(), target / "work", "main");
      REQUIRE(clone.has_error());
      CHECK(clone.error().message.starts_with(prefix + "the host key of " + shown + " is not in "));
    }
  }
}
