// The dashboard's pages, sign-in and forms, answered by Service::handle without a socket (the
// browser itself is driven in tests/integration/test_dashboard.cpp), and the board that keeps
// what they show up to date.
#include <doctest/doctest.h>

#include "engine/history/history.hpp"
#include "engine/report/dora.hpp"
#include "engine/serve/pages.hpp"
#include "engine/util/hash.hpp"
#include "tests/serve/fixture.hpp"

namespace {

namespace fs = std::filesystem;
namespace test = promote::test;
namespace pages = promote::serve::pages;
using promote::http::Incoming;
using promote::http::Outgoing;
using test::serve::Repo;

const std::string k_token = "token-of-alice";

// A request of a browser: `cookies` as sent, a form body when given.
Outgoing browse(const promote::serve::Service& service, const std::string& method,
                const std::string& target, const std::string& cookies = "",
                const std::string& form = "") {
  Incoming request;
  request.method = method;
  request.target = target;
  const auto mark = target.find('?');
  request.path = target.substr(0, mark);
  request.query = mark == std::string::npos ? "" : target.substr(mark + 1);
  request.peer = "127.0.0.1";
  if (!cookies.empty()) {
    request.headers.emplace_back("Cookie", cookies);
  }
  if (!form.empty()) {
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  }
  request.body = form;
  return service.handle(request);
}

std::string header(const Outgoing& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// "name=VALUE" of the Set-Cookie of `response` named `name`.
std::string cookie_of(const Outgoing& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == "Set-Cookie" && value.starts_with(name + "=")) {
      return value.substr(0, value.find(';'));
    }
  }
  return "";
}

fs::path tokens_file(const Repo& repo, const std::string& roles) {
  const fs::path file = repo.dir / "tokens.yaml";
  test::write_text(file, "tokens:\n  - actor: alice\n    sha256: " +
                             promote::util::sha256_hex(k_token) + "\n    roles: " + roles + "\n");
  return file;
}

// A browser that signed in: its cookies ("promote_csrf=...; promote_session=...") and its CSRF
// token.
struct Browser {
  std::string cookies;
  std::string csrf;
};

Browser sign_in(const promote::serve::Service& service) {
  const auto first = browse(service, "GET", "/login");
  const std::string csrf_cookie = cookie_of(first, "promote_csrf");
  REQUIRE(csrf_cookie.size() == std::string("promote_csrf=").size() + 64);
  const std::string csrf = csrf_cookie.substr(csrf_cookie.find('=') + 1);
  const auto signed_in =
      browse(service, "POST", "/login", csrf_cookie, "csrf=" + csrf + "&token=" + k_token);
  REQUIRE(signed_in.status == 303);
  const std::string session = cookie_of(signed_in, "promote_session");
  REQUIRE(!session.empty());
  return Browser{csrf_cookie + "; " + session, csrf};
}

}  // namespace

TEST_SUITE("serve") {
  TEST_CASE(
      "the overview shows each stage's candidate and last attempt, escaped, with a CSRF "
      "cookie and a strict content policy") {
    Repo repo;
    auto store = promote::history::History::open(repo.dir / ".promote/history.db").value();
    auto hostile = Repo::attempt("p-4", "prod", "blocked", "2026-11-02T12:00:00.000Z");
    hostile.reason = "<script>alert(1)</script>";
    hostile.actor = "mallory\x1b[31m";
    REQUIRE(store.record(hostile).has_value());
    const auto service = repo.service();
    const auto page = browse(service, "GET", "/");
    REQUIRE(page.status == 200);
    CHECK(header(page, "Content-Type") == "text/html; charset=utf-8");
    CHECK(has(header(page, "Content-Security-Policy"), "script-src 'self'"));
    CHECK(has(header(page, "Set-Cookie"), "; HttpOnly; SameSite=Strict"));
    CHECK(has(page.body, "<h3 id=\"stage-shop-staging-name\">staging</h3>"));
    CHECK(has(page.body, "<h3 id=\"stage-shop-prod-name\">prod</h3>"));
    CHECK(has(page.body, "ghcr.io/acme/api:1.4.1"));  // prod's overlay
    CHECK(has(page.body, "<a href=\"/promotions/p-4\">blocked, "));
    // Read only: nobody signed in, no tokens file, no forms.
    CHECK(has(page.body, "Read only"));
    CHECK_FALSE(has(page.body, "<form method=\"post\""));

    const auto history = browse(service, "GET", "/pipelines/shop/history?stage=prod&outcome=");
    REQUIRE(history.status == 200);
    CHECK(has(history.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK_FALSE(has(history.body, "<script>alert"));
    CHECK_FALSE(has(history.body, "\x1b"));
    CHECK(has(history.body, "<option selected>prod</option>"));
    CHECK_FALSE(has(history.body, "<td>staging</td>"));
    const auto paged = browse(service, "GET", "/pipelines/shop/history?limit=1");
    CHECK(has(paged.body, "rel=\"next\" href=\"?limit=1&amp;until=2026-11-02T12:00:00.000Z\""));
    const auto bad = browse(service, "GET", "/pipelines/shop/history?limit=0");
    CHECK(bad.status == 400);
  }

  TEST_CASE("a promotion's page shows its facts and gates; unknown pages are 404 pages") {
    Repo repo;
    const auto service = repo.service();
    const auto page = browse(service, "GET", "/promotions/p-3");
    REQUIRE(page.status == 200);
    CHECK(has(page.body, "<h1>promoted: shop / prod</h1>"));
    CHECK(has(page.body, "<code>" + std::string(64, 'c') + "</code>"));
    CHECK(browse(service, "GET", "/promotions/nope").status == 404);
    CHECK(browse(service, "GET", "/pipelines/nope").status == 404);
    CHECK(browse(service, "GET", "/elsewhere").status == 404);
    const auto report = browse(service, "GET", "/pipelines/shop/report");
    CHECK(report.status == 200);
    CHECK(has(report.body, "<svg"));
    const auto style = browse(service, "GET", "/static/app.css");
    CHECK(header(style, "Content-Type") == "text/css; charset=utf-8");
    const auto script = browse(service, "GET", "/static/app.js");
    CHECK(header(script, "Content-Type") == "text/javascript; charset=utf-8");
    CHECK(has(script.body, "new EventSource('/events')"));
    const auto events = browse(service, "GET", "/events");
    CHECK(header(events, "Content-Type") == "text/event-stream");
    CHECK(static_cast<bool>(events.stream));
  }

  TEST_CASE(
      "signing in takes a token of the file; a form needs the session, its CSRF token and "
      "the role") {
    Repo repo;
    const auto service = repo.service(tokens_file(repo, "[\"hold:prod\", \"release:prod\"]"));
    // Wrong or missing CSRF token: refused before the token is even looked at.
    CHECK(browse(service, "POST", "/login", "", "token=" + k_token).status == 403);
    const auto first = browse(service, "GET", "/login");
    const std::string csrf_cookie = cookie_of(first, "promote_csrf");
    const std::string csrf = csrf_cookie.substr(csrf_cookie.find('=') + 1);
    CHECK(browse(service, "POST", "/login", csrf_cookie,
                 "csrf=" + std::string(64, '0') + "&token=" + k_token)
              .status == 403);
    const auto wrong = browse(service, "POST", "/login", csrf_cookie, "csrf=" + csrf + "&token=x");
    CHECK(wrong.status == 401);
    CHECK(has(wrong.body, "That token is not one of this service&#39;s."));

    const Browser alice = sign_in(service);
    const auto board = browse(service, "GET", "/pipelines/shop", alice.cookies);
    CHECK(has(board.body, "Signed in as <strong>alice</strong>"));
    // Only the commands her roles allow: hold prod, nothing on staging.
    CHECK(has(board.body, "action=\"/pipelines/shop/stages/prod/hold\""));
    CHECK(has(board.body, "name=\"csrf\" value=\"" + alice.csrf + "\""));
    CHECK_FALSE(has(board.body, "/stages/staging/hold"));
    CHECK_FALSE(has(board.body, "/stages/prod/promote"));

    // Without the session: 401; another role: 403; a stale token: 403. Nothing is written.
    const std::string csrf_only = alice.cookies.substr(0, alice.cookies.find(';'));
    CHECK(browse(service, "POST", "/pipelines/shop/stages/prod/hold", csrf_only,
                 "csrf=" + alice.csrf + "&reason=x")
              .status == 401);
    CHECK(browse(service, "POST", "/pipelines/shop/stages/staging/hold", alice.cookies,
                 "csrf=" + alice.csrf + "&reason=x")
              .status == 403);
    CHECK(browse(service, "POST", "/pipelines/shop/stages/prod/hold", alice.cookies,
                 "csrf=" + std::string(64, 'a') + "&reason=x")
              .status == 403);
    auto store = promote::history::History::open(repo.dir / ".promote/history.db").value();
    promote::history::PipelineId id{"shop", "promote.yaml"};
    CHECK_FALSE(store.hold(id, "prod").value().has_value());

    const auto held = browse(service, "POST", "/pipelines/shop/stages/prod/hold", alice.cookies,
                             "csrf=" + alice.csrf + "&reason=freeze+for+the+audit");
    CHECK(held.status == 200);
    CHECK(has(held.body, "prod is held by alice."));
    const auto hold = store.hold(id, "prod").value();
    REQUIRE(hold.has_value());
    CHECK(hold->actor == "alice");
    CHECK(hold->reason == "freeze for the audit");
    // The board shows it at once, and offers release instead of hold.
    const auto after = browse(service, "GET", "/pipelines/shop", alice.cookies);
    CHECK(has(after.body, "<span class=\"badge s-held\">held</span>"));
    CHECK(has(after.body, "/stages/prod/release"));

    // Signed out, the session no longer counts.
    CHECK(browse(service, "POST", "/logout", alice.cookies, "csrf=" + alice.csrf).status == 303);
    CHECK(browse(service, "POST", "/pipelines/shop/stages/prod/release", alice.cookies,
                 "csrf=" + alice.csrf)
              .status == 401);
  }

  TEST_CASE("the board computes a pipeline again when a file it reads changes, and only then") {
    Repo repo;
    const auto service = repo.service();
    auto& board = service.board();
    const auto first = board.snapshot(0);
    CHECK(board.snapshot(0) == first);  // nothing changed: the same document
    const auto version = board.version();
    test::write_text(repo.dir / "k8s/staging/kustomization.yaml", test::serve::overlay("1.5.0"));
    const auto second = board.snapshot(0);
    CHECK(second != first);
    CHECK(second->document["stages"][0]["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.5.0");
    CHECK(board.version() == version + 1);
    service.changed("shop");  // told, it computes again; the same document leaves the version
    CHECK(board.snapshot(0) != second);
    CHECK(board.version() == version + 1);
  }

  TEST_CASE("times read as a person says them, and text blocks keep lines but lose controls") {
    using namespace std::chrono;
    const auto now = system_clock::now();
    CHECK(pages::relative(now + seconds(3600 + 5 * 60 + 30), now) == "in 1h 05m 30s");
    CHECK(pages::relative(now + seconds(42), now) == "in 42s");
    CHECK(pages::relative(now - seconds(3 * 86400 + 4 * 3600), now) == "3d 4h ago");
    CHECK(pages::relative(now, now) == "now");
    CHECK(promote::report::html_escape_block("a <b>\n\x1b[31m\"c\"\t'd'") ==
          "a &lt;b&gt;\n[31m&quot;c&quot;\t&#39;d&#39;");
  }
}
