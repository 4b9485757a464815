#include "engine/serve/webhooks.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/image/reference.hpp"
#include "engine/serve/loop.hpp"
#include "engine/serve/service.hpp"
#include "engine/util/hash.hpp"

namespace promote::serve {

using nlohmann::json;

namespace {

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

http::Outgoing refused(unsigned status, const std::string& message) {
  return error_response(status, status == 403 ? "config" : "usage", message);
}

// What an event did: 202 with the event, the action and the pipelines it concerned.
http::Outgoing accepted(const std::string& event, const std::string& action,
                        const std::vector<std::string>& pipelines, const std::string& why) {
  return json_response(
      202, {{"event", event}, {"action", action}, {"pipelines", pipelines}, {"why", why}});
}

// Asks the loop to evaluate every pipeline whose branch is `branch` ("" for every pipeline).
std::vector<std::string> evaluate(const std::vector<Watched>& pipelines, Loop* loop,
                                  const std::string& branch) {
  std::vector<std::string> names;
  for (const auto& watched : pipelines) {
    if (!branch.empty() && watched.pipeline.repository.branch != branch) {
      continue;
    }
    if (loop != nullptr && loop->trigger(watched.pipeline.name)) {
      names.push_back(watched.pipeline.name);
    }
  }
  return names;
}

http::Outgoing package_event(const json& body, const std::vector<Watched>& pipelines, Loop* loop);

// A push (GitHub's and GitLab's bodies both name it by `ref`): the pipelines of its branch are
// evaluated again; a push of a tag is ignored.
http::Outgoing push_event(const std::string& event, const json& body,
                          const std::vector<Watched>& pipelines, Loop* loop) {
  const std::string ref = body.value("ref", "");
  if (!ref.starts_with("refs/heads/")) {
    return accepted(event, "ignored", {}, "a push to " + ref + ", not to a branch");
  }
  const std::string branch = ref.substr(std::string("refs/heads/").size());
  return accepted(event, "evaluate", evaluate(pipelines, loop, branch),
                  "a push to branch " + branch);
}

// A GitHub event: what it makes the service do.
http::Outgoing github_event(const std::string& event, const json& body,
                            const std::vector<Watched>& pipelines, Loop* loop) {
  const std::string action = body.value("action", "");
  if (event == "ping") {
    return accepted(event, "ignored", {}, "a ping: the webhook reaches the service");
  }
  if (event == "push") {
    return push_event(event, body, pipelines, loop);
  }
  if (event == "workflow_run" && action == "completed") {
    return accepted(event, "evaluate", evaluate(pipelines, loop, ""),
                    "a workflow run completed: its reports are ready");
  }
  if (event == "pull_request" && action == "closed") {
    const bool merged = body.contains("pull_request") && body["pull_request"].is_object() &&
                        body["pull_request"].value("merged", false);
    if (!merged) {
      return accepted(event, "ignored", {}, "a pull request closed without a merge");
    }
    return accepted(event, "evaluate", evaluate(pipelines, loop, ""), "a pull request merged");
  }
  if (event == "registry_package" && action == "published") {
    return package_event(body, pipelines, loop);
  }
  if (event == "pull_request_review") {
    return accepted(event, "evaluate", evaluate(pipelines, loop, ""),
                    "a review: approvals may have changed");
  }
  return accepted(event, "ignored", {},
                  "event " + event + (action.empty() ? "" : " (" + action + ")") +
                      " does not concern promotions");
}

// A GitLab event (X-Gitlab-Event): what it makes the service do.
http::Outgoing gitlab_event(const std::string& event, const json& body,
                            const std::vector<Watched>& pipelines, Loop* loop) {
  if (event == "Push Hook") {
    return push_event(event, body, pipelines, loop);
  }
  if (event == "Pipeline Hook" || event == "Merge Request Hook") {
    return accepted(event, "evaluate", evaluate(pipelines, loop, ""),
                    event == "Pipeline Hook" ? "a pipeline changed: reports may be ready"
                                             : "a merge request changed");
  }
  return accepted(event, "ignored", {}, "event " + event + " does not concern promotions");
}

// `text`, an image reference, offered to each pipeline's `auto` first stage that promotes its
// repository: the pipelines it was offered to; fails (usage) when it is no reference.
Result<std::vector<std::string>> offer(const std::string& text,
                                       const std::vector<Watched>& pipelines, Loop* loop) {
  auto reference = image::parse(text);
  if (!reference) {
    return reference.error();
  }
  std::vector<std::string> offered;
  for (const auto& watched : pipelines) {
    for (const auto& stage : watched.pipeline.stages) {
      if (stage.from || !stage.automatic) {
        continue;
      }
      for (const auto* spec : watched.pipeline.images_of(stage)) {
        if (image::same_repository(spec->repository, reference->repository()) && loop != nullptr &&
            loop->offer_image(watched.pipeline.name, stage.name, spec->name + "=" + text)) {
          offered.push_back(watched.pipeline.name);
        }
      }
    }
  }
  return offered;
}

http::Outgoing offered(const std::string& event, const std::string& text,
                       const std::vector<Watched>& pipelines, Loop* loop) {
  auto names = offer(text, pipelines, loop);
  if (!names) {
    return refused(400, "image '" + text + "': " + names.error().message);
  }
  return accepted(event, names->empty() ? "ignored" : "image", *names,
                  names->empty() ? "no auto first stage takes " + text
                                 : "image " + text + " offered to the first stage");
}

// An image event: {"image": "REPOSITORY:TAG"}.
http::Outgoing image_event(const json& body, const std::vector<Watched>& pipelines, Loop* loop) {
  if (!body.is_object() || !body.contains("image") || !body["image"].is_string()) {
    return refused(400, "the image event needs {\"image\": \"REPOSITORY:TAG\"}");
  }
  return offered("image", body["image"].get<std::string>(), pipelines, loop);
}

// GitHub's registry_package published: the container image it names, when it has a tag.
http::Outgoing package_event(const json& body, const std::vector<Watched>& pipelines, Loop* loop) {
  const json* version = body.contains("registry_package") && body["registry_package"].is_object()
                            ? &body["registry_package"]
                            : nullptr;
  version = version != nullptr && version->contains("package_version") &&
                    (*version)["package_version"].is_object()
                ? &(*version)["package_version"]
                : nullptr;
  const std::string url = version != nullptr ? version->value("package_url", "") : "";
  if (url.empty() || url.back() == ':') {
    return accepted("registry_package", "ignored", {},
                    "a package version without a tag (" + (url.empty() ? "no URL" : url) + ")");
  }
  return offered("registry_package", url, pipelines, loop);
}

}  // namespace

WebhookSecrets WebhookSecrets::from_environment() {
  return {environment("PROMOTE_GITHUB_WEBHOOK_SECRET"), environment("PROMOTE_GITLAB_WEBHOOK_TOKEN"),
          environment("PROMOTE_IMAGE_WEBHOOK_SECRET")};
}

bool Deliveries::first_time(const std::string& id) {
  std::lock_guard lock(m_mutex);
  if (!m_seen.insert(id).second) {
    return false;
  }
  m_order.push_back(id);
  if (m_order.size() > m_capacity) {
    m_seen.erase(m_order.front());
    m_order.pop_front();
  }
  return true;
}

http::Outgoing receive_webhook(const std::string& kind, const http::Incoming& request,
                               const std::vector<Watched>& pipelines, const WebhookSecrets& secrets,
                               Deliveries& deliveries, Loop* loop) {
  // Who sent it, before anything of it is read.
  std::string delivery;
  std::string event;
  if (kind == "github" || kind == "image") {
    const std::string& secret = kind == "github" ? secrets.github : secrets.image;
    const char* variable =
        kind == "github" ? "PROMOTE_GITHUB_WEBHOOK_SECRET" : "PROMOTE_IMAGE_WEBHOOK_SECRET";
    if (secret.empty()) {
      return refused(403, std::string("this webhook is not configured: set ") + variable);
    }
    const std::string header = kind == "github" ? "X-Hub-Signature-256" : "X-Promote-Signature-256";
    const std::string signature = request.header(header);
    if (signature.empty()) {
      return refused(401, "missing " + header);
    }
    if (!util::same_secret(signature, "sha256=" + util::hmac_sha256_hex(secret, request.body))) {
      return refused(401, header + " does not match the body");
    }
    delivery = kind == "github" ? request.header("X-GitHub-Delivery")
                                : request.header("X-Promote-Delivery");
    if (delivery.empty() && kind == "image") {
      delivery = "sha256:" + util::sha256_hex(request.body);
    }
    event = kind == "github" ? request.header("X-GitHub-Event") : "image";
  } else if (kind == "gitlab") {
    if (secrets.gitlab.empty()) {
      return refused(403, "this webhook is not configured: set PROMOTE_GITLAB_WEBHOOK_TOKEN");
    }
    const std::string token = request.header("X-Gitlab-Token");
    if (token.empty()) {
      return refused(401, "missing X-Gitlab-Token");
    }
    if (!util::same_secret(token, secrets.gitlab)) {
      return refused(401, "X-Gitlab-Token is not the configured token");
    }
    delivery = request.header("X-Gitlab-Event-UUID");
    event = request.header("X-Gitlab-Event");
  } else {
    return error_response(404, "usage",
                          "no webhook /hooks/" + kind + " (github, gitlab and image are)");
  }
  const json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded()) {
    return refused(400, "the body is not JSON");
  }
  if (event.empty()) {
    return refused(400, "the request does not say which event it is");
  }
  if (!delivery.empty() && !deliveries.first_time(kind + "/" + delivery)) {
    return json_response(200, {{"event", event},
                               {"action", "replay"},
                               {"pipelines", json::array()},
                               {"why", "delivery " + delivery + " was received before"}});
  }
  if (kind == "github") {
    return github_event(event, body, pipelines, loop);
  }
  if (kind == "gitlab") {
    return gitlab_event(event, body, pipelines, loop);
  }
  return image_event(body, pipelines, loop);
}

}  // namespace promote::serve
