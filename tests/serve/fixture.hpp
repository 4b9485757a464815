#pragma once
// The serve tests' repository: a real git repository (with a bare remote) holding a pipeline
// `shop` (staging, then prod with a soak) and a real history of three attempts; and a request
// answered by Service::handle without a socket.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine/history/history.hpp"
#include "engine/serve/service.hpp"
#include "tests/support/support.hpp"

namespace promote::test::serve {

namespace fs = std::filesystem;

namespace history = promote::history;
using nlohmann::json;

inline std::string overlay(const std::string& tag) {
  return "resources: []\nimages:\n  - name: ghcr.io/acme/api\n    newTag: " + tag + "\n";
}

// A repository with a pipeline `shop` (staging, then prod with a soak) and three recorded
// attempts: staging promoted, prod pending, then prod promoted.
struct Repo {
  TempDir dir;
  TempDir remote;  ///< remote.git, the repository's origin
  fs::path file = dir / "promote.yaml";
  Repo() {
    write_text(file,
               "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: shop}\n"
               "images:\n  - {name: api, repository: ghcr.io/acme/api}\n"
               "stages:\n"
               "  - name: staging\n    target: {kustomize: k8s/staging}\n"
               "  - name: prod\n    from: staging\n    target: {kustomize: k8s/prod}\n"
               "    gates:\n      - use: soak\n        with: {min: 1h}\n");
    write_text(dir / "k8s/staging/kustomization.yaml", overlay("1.4.2"));
    write_text(dir / "k8s/prod/kustomization.yaml", overlay("1.4.1"));
    sh("git init -q -b main && printf '.promote/\\n' > .gitignore && git add -A && "
       "git -c user.name=t -c user.email=t@e commit -q -m init && "
       "git init -q --bare -b main '" +
           (remote / "remote.git").string() + "' && git remote add origin '" +
           (remote / "remote.git").string() + "' && git push -q origin main",
       dir.path());
    auto store = history::History::open(dir / ".promote/history.db").value();
    REQUIRE(store.record(attempt("p-1", "staging", "promoted", "2026-11-01T10:00:00.000Z"))
                .has_value());
    REQUIRE(
        store.record(attempt("p-2", "prod", "pending", "2026-11-01T11:00:00.000Z")).has_value());
    REQUIRE(
        store.record(attempt("p-3", "prod", "promoted", "2026-11-01T12:00:00.000Z")).has_value());
  }

  static history::PromotionRecord attempt(const std::string& id, const std::string& stage,
                                          const std::string& outcome, const std::string& at) {
    history::PromotionRecord record;
    record.id = id;
    record.pipeline = "shop";
    record.pipeline_file = "promote.yaml";
    record.stage = stage;
    record.from = stage == "prod" ? "staging" : "";
    record.candidate_id = std::string(64, 'c');
    record.images = {{"api", "ghcr.io/acme/api:1.4.2"}};
    record.outcome = outcome;
    record.actor = "ci";
    record.started = history::parse_time(at).value();
    record.finished = record.started + std::chrono::seconds(1);
    return record;
  }

  promote::serve::Service service(std::optional<fs::path> tokens = std::nullopt) const {
    auto loaded = promote::serve::Service::load({{file}, std::nullopt, tokens, std::nullopt});
    REQUIRE(loaded.has_value());
    return std::move(*loaded);
  }
};

inline promote::http::Outgoing ask(const promote::serve::Service& service,
                                   const std::string& target, const std::string& method = "GET") {
  promote::http::Incoming request;
  request.method = method;
  request.target = target;
  const auto mark = target.find('?');
  request.path = target.substr(0, mark);
  request.query = mark == std::string::npos ? "" : target.substr(mark + 1);
  request.peer = "127.0.0.1";
  return service.handle(request);
}

inline json body(const promote::http::Outgoing& response) {
  return json::parse(response.body);
}

}  // namespace promote::test::serve
