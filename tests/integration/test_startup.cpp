// What a command sets up before it needs it: nothing. A dry run in a local repository reads no
// CA bundle and starts no thread (seen with strace), while an https remote still has its
// certificate checked by libgit2, whose TLS set-up waits for the first TLS connection
// (PROMOTE_DEFERRED_TLS in a static build): an unknown CA is refused, the CA given in
// PROMOTE_CA_FILE trusted.

#include <doctest/doctest.h>

#include <string>

#include "tests/integration/shop.hpp"
#include "tests/support/servers/https_api.hpp"
#include "tests/support/support.hpp"

namespace test = promote::test;

TEST_SUITE("integration") {
  TEST_CASE("a dry run in a local repository reads no CA bundle and starts no thread" *
            doctest::skip(!test::has_program("strace"))) {
    const test::Shop shop;
    const std::string log = (shop.dir / "strace.log").string();
    const auto result =
        test::run({"strace", "-f", "-qq", "-e", "trace=openat,clone,clone3", "-o", log,
                   test::promote_binary().string(), "--to", "dev", "--image",
                   "api=ghcr.io/acme/api:1.5.0", "--dry-run"},
                  shop.repo, {{"PROMOTE_ACTOR", "shop-ci"}, {"PROMOTE_HISTORY", ""}});
    INFO(result.err);
    REQUIRE(result.exit_code == 0);
    const std::string calls = test::read_text(log);
    INFO(calls);
    CHECK(calls.find("openat(") != std::string::npos);  // strace saw the run
    CHECK(calls.find("ca-certificates") == std::string::npos);
    CHECK(calls.find("/etc/ssl/certs") == std::string::npos);
    CHECK(calls.find("clone") == std::string::npos);
  }

  TEST_CASE("an https remote's certificate is checked when libgit2 first connects") {
    const test::Shop shop;
    const test::HttpsApi server;
    std::string pipeline = test::read_text(shop.repo / "promote.yaml");
    const std::string local = "  url: .";
    REQUIRE(pipeline.find(local) != std::string::npos);
    // By name: mbedTLS 2.28, libgit2's TLS, matches no IP address of a certificate.
    pipeline.replace(pipeline.find(local), local.size(),
                     "  url: https://localhost:" + std::to_string(server.port()) + "/shop.git");
    test::write_text(shop.dir / "remote.yaml", pipeline);
    const std::vector<std::string> args = {"--to",
                                           "dev",
                                           "--image",
                                           "api=ghcr.io/acme/api:1.5.0",
                                           "--dry-run",
                                           "-f",
                                           (shop.dir / "remote.yaml").string()};

    const auto untrusted = shop.promote(args, {{"PROMOTE_CA_FILE", ""}, {"SSL_CERT_FILE", ""}});
    INFO(untrusted.out << untrusted.err);
    CHECK(untrusted.exit_code != 0);
    CHECK(test::contains(untrusted.err, "certificate"));
    CHECK(server.log().empty());  // no request got past the handshake

    const auto trusted = shop.promote(args, {{"PROMOTE_CA_FILE", server.ca_file()}});
    INFO(trusted.out << trusted.err);
    CHECK(trusted.exit_code != 0);
    CHECK_FALSE(test::contains(trusted.err, "certificate"));
    CHECK(test::contains(trusted.err, "404"));  // the server answered: TLS was accepted
    CHECK_FALSE(server.log().empty());
  }
}
