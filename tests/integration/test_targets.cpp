// Stage targets of every kind through the real binary, and concurrent promotions into one
// remote: real git repositories, a bare remote, real SQLite history files.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/support.hpp"

namespace fs = std::filesystem;
using promote::test::CommandResult;
using promote::test::read_text;
using promote::test::sh;
using promote::test::write_text;

namespace {

using promote::test::contains;

CommandResult run_promote(const fs::path& cwd, std::vector<std::string> args,
                          const std::map<std::string, std::string>& env = {}) {
  args.insert(args.begin(), promote::test::promote_binary().string());
  std::map<std::string, std::string> environment = {{"GITHUB_ACTOR", ""},
                                                    {"GITLAB_USER_LOGIN", ""},
                                                    {"PROMOTE_ACTOR", "deploy-ci"},
                                                    {"PROMOTE_HISTORY", ""},
                                                    {"NO_COLOR", "1"}};
  for (const auto& [name, value] : env) {
    environment[name] = value;
  }
  return promote::test::run(args, cwd, environment);
}

// A GitOps repository whose stages keep their images in every kind of file, pushed to a bare
// remote.
struct Mixed {
  promote::test::TempDir dir;
  fs::path repo = dir / "deploy";

  static constexpr const char* k_pipeline = R"(apiVersion: promote/v1
kind: Pipeline
metadata: {name: mixed}
images:
  - {name: api, repository: ghcr.io/acme/api}
  - {name: web, repository: ghcr.io/acme/web}
stages:
  - name: dev
    target:
      kustomize: overlays/dev
      helm:
        file: charts/shop/values-dev.yaml
        images:
          api: {registry: api.image.registry, repository: api.image.repository, tag: api.image.tag, digest: api.image.digest}
          web: {image: web.image}
      manifests: manifests/dev
      setters: [config/dev.yaml]
  - name: staging
    from: dev
    target:
      helm:
        - file: charts/shop/values-staging.yaml
          images:
            api: {repository: api.image.repository, tag: api.image.tag}
      setters: config/staging.yaml
)";

  // Bitnami-style values with a comment, quotes and CRLF line endings.
  static constexpr const char* k_values_dev =
      "# dev values\r\napi:\r\n  image:\r\n    registry: ghcr.io\r\n    repository: acme/api\r\n"
      "    tag: \"1.0.0\"  # bumped by promote\r\n    digest: \"\"\r\nweb:\r\n  image: "
      "ghcr.io/acme/web:2.0.0\r\n  replicas: 2\r\n";
  static constexpr const char* k_manifest_dev = R"(# two documents; only the Deployment holds our image
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {image: "ghcr.io/acme/api:0.0.1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: 'ghcr.io/acme/api:1.0.0'
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0.0   # the app
        - name: proxy
          image: envoyproxy/envoy:v1.29.0
)";
  static constexpr const char* k_setters_dev =
      "app:\n  api: ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\"}\n"
      "  webTag: 2.0.0 # {\"$imagepolicy\": \"flux-system:web:tag\"}\n"
      "  webName: ghcr.io/acme/web # {\"$imagepolicy\": \"flux-system:web:name\"}";  // no final newline
  static constexpr const char* k_values_staging =
      "api:\n  image:\n    repository: ghcr.io/acme/api\n    tag: 0.9.0\n";
  static constexpr const char* k_setters_staging =
      "web: ghcr.io/acme/web:1.9.0 # {\"$imagepolicy\": \"flux-system:web\"}\n";

  Mixed() {
    fs::create_directories(repo / "overlays/dev");
    fs::create_directories(repo / "charts/shop");
    fs::create_directories(repo / "manifests/dev");
    fs::create_directories(repo / "config");
    write_text(repo / "promote.yaml", k_pipeline);
    write_text(repo / "overlays/dev/kustomization.yaml",
               "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/api\n    newTag: 1.0.0\n");
    write_text(repo / "charts/shop/values-dev.yaml", k_values_dev);
    write_text(repo / "charts/shop/values-staging.yaml", k_values_staging);
    write_text(repo / "manifests/dev/api.yaml", k_manifest_dev);
    write_text(repo / "config/dev.yaml", k_setters_dev);
    write_text(repo / "config/staging.yaml", k_setters_staging);
    sh("git init -q --bare -b main remote.git && cd deploy && git init -q -b main && "
       "git config user.name 'Deploy CI' && git config user.email ci@deploy.example && "
       "printf '.promote/\\n' > .gitignore && git add -A && git commit -q -m init && "
       "git remote add origin ../remote.git && git push -q -u origin main",
       dir.path());
  }

  CommandResult promote(std::vector<std::string> args) const { return run_promote(repo, args); }
  std::string file(const std::string& path) const { return read_text(repo / path); }
  std::string remote_head() const {
    return sh("git --git-dir=remote.git rev-parse main", dir.path());
  }
};

}  // namespace

TEST_SUITE("integration") {
  TEST_CASE("one promotion sets an image in a kustomization, Helm values, manifests and setter "
            "markers, changing only the values") {
    Mixed mixed;
    const CommandResult result = mixed.promote(
        {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"});
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["outcome"] == "promoted");
    CHECK(doc["push_attempts"] == 1);
    CHECK(doc["previous"]["api"] == "ghcr.io/acme/api:1.0.0");
    std::vector<std::string> changed;
    for (const auto& change : doc["changes"]) {
      changed.push_back(change["path"]);
    }
    CHECK(changed == std::vector<std::string>{"charts/shop/values-dev.yaml", "config/dev.yaml",
                                              "manifests/dev/api.yaml",
                                              "overlays/dev/kustomization.yaml"});
    // Byte-exact: each file is the original with the api values replaced, nothing else.
    const auto replaced = [](std::string text, const std::string& from, const std::string& to) {
      for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
      }
      return text;
    };
    CHECK(mixed.file("charts/shop/values-dev.yaml") ==
          replaced(Mixed::k_values_dev, "tag: \"1.0.0\"", "tag: \"1.1.0\""));
    CHECK(mixed.file("manifests/dev/api.yaml") ==
          replaced(Mixed::k_manifest_dev, "ghcr.io/acme/api:1.0.0", "ghcr.io/acme/api:1.1.0"));
    CHECK(contains(mixed.file("manifests/dev/api.yaml"), "data: {image: \"ghcr.io/acme/api:0.0.1\"}"));
    CHECK(mixed.file("config/dev.yaml") ==
          replaced(Mixed::k_setters_dev, "api:1.0.0", "api:1.1.0"));
    CHECK(mixed.file("overlays/dev/kustomization.yaml") ==
          "resources: [../../base]\nimages:\n  - name: ghcr.io/acme/api\n    newTag: 1.1.0\n");
    // One commit holds every file, and it reached the remote.
    const std::string files =
        sh("git --git-dir=remote.git show --name-only --format= main", mixed.dir.path());
    CHECK(files ==
          "charts/shop/values-dev.yaml\nconfig/dev.yaml\nmanifests/dev/api.yaml\n"
          "overlays/dev/kustomization.yaml\n");

    SUBCASE("a later stage reads its candidate from all of them, and writes another mix") {
      const CommandResult staging = mixed.promote({"--to", "staging", "--output", "json"});
      INFO(staging.out << staging.err);
      REQUIRE(staging.exit_code == 0);
      const auto next = nlohmann::json::parse(staging.out);
      CHECK(next["candidate"]["images"]["api"] == "ghcr.io/acme/api:1.1.0");
      CHECK(next["candidate"]["images"]["web"] == "ghcr.io/acme/web:2.0.0");
      CHECK(mixed.file("charts/shop/values-staging.yaml") ==
            "api:\n  image:\n    repository: ghcr.io/acme/api\n    tag: 1.1.0\n");
      CHECK(mixed.file("config/staging.yaml") ==
            "web: ghcr.io/acme/web:2.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n");
    }
    SUBCASE("a digest pins every place that can hold one") {
      const std::string digest =
          "sha256:" + std::string(64, 'a');
      const CommandResult pinned = mixed.promote(
          {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.2.0@" + digest});
      INFO(pinned.out << pinned.err);
      CHECK(pinned.exit_code == 0);
      CHECK(contains(mixed.file("charts/shop/values-dev.yaml"),
                     "    tag: \"1.2.0\"  # bumped by promote\r\n    digest: \"" + digest + "\"\r\n"));
      CHECK(contains(mixed.file("overlays/dev/kustomization.yaml"), "    digest: " + digest + "\n"));
      CHECK(contains(mixed.file("manifests/dev/api.yaml"),
                     "image: ghcr.io/acme/api:1.2.0@" + digest + "   # the app\n"));
    }
  }

  TEST_CASE("all or nothing: one edit that cannot be made writes no file, commits nothing and "
            "exits 4") {
    Mixed mixed;
    // An anchored value cannot be edited in place: the setters file refuses.
    write_text(mixed.repo / "config/dev.yaml",
               "app:\n  api: &api ghcr.io/acme/api:1.0.0 # {\"$imagepolicy\": \"flux-system:api\"}\n");
    sh("git commit -qam 'anchor' && git push -q", mixed.repo);
    const std::string head = mixed.remote_head();
    const std::string values = mixed.file("charts/shop/values-dev.yaml");
    const CommandResult result =
        mixed.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 4);
    CHECK(contains(result.out + result.err, "config/dev.yaml:2:36: cannot set the value marked for 'api'"));
    CHECK(mixed.file("charts/shop/values-dev.yaml") == values);
    CHECK(sh("git status --porcelain", mixed.repo) == "");
    CHECK(mixed.remote_head() == head);
  }

  TEST_CASE("a stage whose files disagree about an image cannot be a source") {
    Mixed mixed;
    write_text(mixed.repo / "config/dev.yaml",
               "api: ghcr.io/acme/api:9.9.9 # {\"$imagepolicy\": \"flux-system:api\"}\n");
    sh("git commit -qam 'drift' && git push -q", mixed.repo);
    const CommandResult result = mixed.promote({"--to", "staging"});
    CHECK(result.exit_code == 4);
    CHECK(contains(result.out + result.err, "stage 'dev' does not agree with itself on image 'api': its "
                               "target holds ghcr.io/acme/api:1.0.0, ghcr.io/acme/api:9.9.9"));
    SUBCASE("promoting into it makes it agree again") {
      CHECK(mixed.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.3.0"}).exit_code == 0);
      CHECK(contains(mixed.file("config/dev.yaml"), "api: ghcr.io/acme/api:1.3.0 #"));
      CHECK(mixed.promote({"--to", "staging"}).exit_code == 0);
    }
  }

  TEST_CASE("an image with no place in the target is a configuration error") {
    Mixed mixed;
    std::string pipeline = mixed.file("promote.yaml");
    pipeline.replace(pipeline.find("      kustomize: overlays/dev\n"), 30, "");
    pipeline += "  - name: qa\n    target: {setters: config/staging.yaml}\n";
    write_text(mixed.repo / "promote.yaml", pipeline);
    sh("git commit -qam qa && git push -q", mixed.repo);
    const CommandResult result =
        mixed.promote({"--to", "qa", "--image", "api=ghcr.io/acme/api:1.1.0"});
    CHECK(result.exit_code == 2);
    CHECK(contains(result.out + result.err, "stage 'qa' has no place for image 'api' in its target (config/staging.yaml)"));
  }
}

TEST_SUITE("integration") {
  TEST_CASE("a push refused because the remote moved on is made again on its new head") {
    Mixed mixed;
    sh("git clone -q remote.git other && cd other && git config user.name O && "
       "git config user.email o@x && echo note > NOTES && git add NOTES && "
       "git commit -q -m other && git push -q origin main",
       mixed.dir.path());
    const std::string other = mixed.remote_head();
    const CommandResult result = mixed.promote(
        {"--to", "dev", "--image", "api=ghcr.io/acme/api:1.1.0", "--output", "json"});
    INFO(result.out << result.err);
    REQUIRE(result.exit_code == 0);
    const auto doc = nlohmann::json::parse(result.out);
    CHECK(doc["push_attempts"] == 2);
    CHECK(sh("git --git-dir=remote.git rev-parse main~1", mixed.dir.path()) == other);
    CHECK(fs::exists(mixed.repo / "NOTES"));
    CHECK(sh("git status --porcelain", mixed.repo) == "");

    SUBCASE("someone set the same image differently meanwhile: a conflict, not an overwrite") {
      sh("cd other && git pull -q && sed -i 's/api:1.1.0/api:7.0.0/' config/dev.yaml && "
         "git commit -qam 'hand edit' && git push -q origin main",
         mixed.dir.path());
      const std::string before = mixed.remote_head();
      const auto conflict = nlohmann::json::parse(
          mixed.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.2.0", "--output", "json"})
              .out);
      CHECK(conflict["outcome"] == "error");
      CHECK(conflict["error"]["kind"] == "conflict");
      CHECK(contains(conflict["error"]["message"].get<std::string>(),
                     "image api is now ghcr.io/acme/api:7.0.0"));
      CHECK(mixed.remote_head() == before);
      CHECK(sh("git status --porcelain", mixed.repo) == "");
    }
    SUBCASE("someone made the same change meanwhile: a no-op") {
      sh("cd other && git pull -q && git -C ../deploy show HEAD:config/dev.yaml > /dev/null && "
         "sed -i 's/api:1.1.0/api:1.5.0/' config/dev.yaml && "
         "sed -i 's/api:1.1.0/api:1.5.0/' manifests/dev/api.yaml && "
         "sed -i 's/tag: \"1.1.0\"/tag: \"1.5.0\"/' charts/shop/values-dev.yaml && "
         "sed -i 's/newTag: 1.1.0/newTag: 1.5.0/' overlays/dev/kustomization.yaml && "
         "git commit -qam 'same change' && git push -q origin main",
         mixed.dir.path());
      const std::string before = mixed.remote_head();
      const auto same = nlohmann::json::parse(
          mixed.promote({"--to", "dev", "--image", "api=ghcr.io/acme/api:1.5.0", "--output", "json"})
              .out);
      CHECK(same["outcome"] == "no-op");
      CHECK(mixed.remote_head() == before);
    }
  }

  TEST_CASE("16 concurrent promotions into one remote: each lands or reports a conflict, no "
            "update is lost") {
    promote::test::TempDir dir;
    constexpr int k_images = 12;
    std::string pipeline =
        "apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: busy}\nimages:\n";
    std::string kustomization = "images:\n";
    for (int i = 0; i < k_images; ++i) {
      const std::string name = "img" + std::to_string(i);
      pipeline += "  - {name: " + name + ", repository: ghcr.io/acme/" + name + "}\n";
      kustomization += "  - name: ghcr.io/acme/" + name + "\n    newTag: 1.0.0\n";
    }
    pipeline += "stages:\n  - name: dev\n    target: {kustomize: overlays/dev}\n";
    fs::create_directories(dir / "seed/overlays/dev");
    write_text(dir / "seed/promote.yaml", pipeline);
    write_text(dir / "seed/overlays/dev/kustomization.yaml", kustomization);
    sh("git init -q --bare -b main remote.git && cd seed && git init -q -b main && "
       "printf '.promote/\\n' > .gitignore && git add -A && "
       "git -c user.name=s -c user.email=s@x commit -q -m init && "
       "git push -q ../remote.git main",
       dir.path());
    // Runner k promotes img(k) to 2.0.k; runners 12 and 13 promote img0 to the same 2.0.0;
    // runners 14 and 15 promote img1 to 3.0.1, which races runner 1's 2.0.1.
    struct Runner {
      std::string image;
      std::string tag;
    };
    std::vector<Runner> runners;
    for (int i = 0; i < k_images; ++i) {
      runners.push_back({"img" + std::to_string(i), "2.0." + std::to_string(i)});
    }
    runners.push_back({"img0", "2.0.0"});
    runners.push_back({"img0", "2.0.0"});
    runners.push_back({"img1", "3.0.1"});
    runners.push_back({"img1", "3.0.1"});
    for (std::size_t k = 0; k < runners.size(); ++k) {
      sh("git clone -q remote.git runner" + std::to_string(k) + " && cd runner" +
             std::to_string(k) + " && git config user.name runner" + std::to_string(k) +
             " && git config user.email r@x",
         dir.path());
    }
    std::vector<std::future<CommandResult>> futures;
    for (std::size_t k = 0; k < runners.size(); ++k) {
      futures.push_back(std::async(std::launch::async, [&, k] {
        return run_promote(dir / ("runner" + std::to_string(k)),
                           {"--to", "dev", "--image",
                            runners[k].image + "=ghcr.io/acme/" + runners[k].image + ":" +
                                runners[k].tag,
                            "--output", "json"},
                           {{"PROMOTE_ACTOR", "runner" + std::to_string(k)}});
      }));
    }
    int promoted = 0, no_ops = 0, conflicts = 0, retries = 0;
    std::map<std::string, nlohmann::json> by_commit;  // the promotions that landed
    std::vector<int> conflicted;
    std::set<std::string> attempts;  // every runner's promotion id
    for (std::size_t k = 0; k < futures.size(); ++k) {
      const CommandResult result = futures[k].get();
      INFO("runner " << k << ": " << result.out << result.err);
      const auto doc = nlohmann::json::parse(result.out);
      attempts.insert(doc["promotion_id"].get<std::string>());
      retries += std::max(0, doc["push_attempts"].get<int>() - 1);
      if (doc["outcome"] == "promoted") {
        CHECK(result.exit_code == 0);
        ++promoted;
        by_commit[doc["commit"].get<std::string>()] = doc;
      } else if (doc["outcome"] == "no-op") {
        CHECK(result.exit_code == 0);
        ++no_ops;
      } else {
        CHECK(result.exit_code == 4);
        CHECK(doc["error"]["kind"] == "conflict");
        ++conflicts;
        conflicted.push_back(static_cast<int>(k));
      }
    }
    const std::string final_text =
        sh("git --git-dir=remote.git show main:overlays/dev/kustomization.yaml", dir.path());
    const auto final_tag = [&](const std::string& image) {
      const std::regex entry("name: ghcr.io/acme/" + image + "\n    newTag: ([0-9.]+)\n");
      std::smatch match;
      REQUIRE(std::regex_search(final_text, match, entry));
      return match[1].str();
    };
    // No lost update: every image with one promoter holds what it promoted.
    int lost = 0;
    for (int i = 2; i < k_images; ++i) {
      lost += final_tag("img" + std::to_string(i)) == "2.0." + std::to_string(i) ? 0 : 1;
    }
    lost += final_tag("img0") == "2.0.0" ? 0 : 1;
    const std::string img1 = final_tag("img1");
    CHECK((img1 == "2.0.1" || img1 == "3.0.1"));
    CHECK(lost == 0);
    // Only runners that raced for img1 may conflict, and at most two of the three.
    for (int k : conflicted) {
      CHECK((k == 1 || k == 14 || k == 15));
    }
    CHECK(conflicts <= 2);
    CHECK(promoted + no_ops + conflicts == 16);
    // Every promotion that landed is one commit on the remote with its trailers; the newest
    // one's recorded candidate is exactly what the file holds.
    const std::string log = sh("git --git-dir=remote.git log --format=%H main", dir.path());
    std::set<std::string> commits;
    for (std::size_t at = 0; at + 41 < log.size(); at += 41) {  // all but the root commit
      commits.insert(log.substr(at, 40));
    }
    CHECK(commits.size() == static_cast<std::size_t>(promoted));
    for (const auto& commit : commits) {
      REQUIRE(by_commit.contains(commit));
      const std::string message =
          sh("git --git-dir=remote.git log -1 --format=%B " + commit, dir.path());
      CHECK(contains(message, "\nPromote-Stage: dev\n"));
      CHECK(contains(message, "\nPromote-Id: " + by_commit[commit]["promotion_id"].get<std::string>()));
      CHECK(contains(message,
                     "\nPromote-Candidate: " + by_commit[commit]["candidate"]["id"].get<std::string>()));
    }
    const std::string head = sh("git --git-dir=remote.git rev-parse main", dir.path()).substr(0, 40);
    REQUIRE(by_commit.contains(head));
    for (const auto& [image, reference] : by_commit[head]["candidate"]["images"].items()) {
      CHECK(reference.get<std::string>() == "ghcr.io/acme/" + image + ":" + final_tag(image));
    }
    // Every runner's record reached the remote's notes, though all pushed them at once.
    const std::string notes = sh(
        "for c in $(git --git-dir=remote.git notes --ref=promote list | cut -d' ' -f2); do "
        "git --git-dir=remote.git notes --ref=promote show $c; done",
        dir.path());
    std::set<std::string> noted;
    std::istringstream lines(notes);
    for (std::string line; std::getline(lines, line);) {
      // Each record is followed by the history's anchor (history/anchor.hpp), not a record.
      if (!line.empty() && !line.starts_with("{\"anchor\":")) {
        noted.insert(nlohmann::json::parse(line)["promotion"]["id"].get<std::string>());
      }
    }
    CHECK(noted == attempts);
    MESSAGE("16 concurrent promotions: " << promoted << " promoted, " << no_ops << " no-op, "
                                         << conflicts << " conflicts, " << retries
                                         << " push retries, " << lost << " lost updates");
  }
}
