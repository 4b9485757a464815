#pragma once
// The webhooks `promote serve` receives: GitHub (X-Hub-Signature-256), GitLab (X-Gitlab-Token)
// and a generic image event for registries (HMAC-signed like GitHub's). Each is authenticated
// first, in constant time, and trusted no further: an event only makes the loop look at its
// pipelines again (a push, a finished workflow, a merged pull request, a review) or, for an
// image event, offers the image to the first stage that takes it, whose gates still decide.

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/http/server.hpp"

namespace promote::serve {

class Loop;
struct Watched;

/// The secrets, from the environment: PROMOTE_GITHUB_WEBHOOK_SECRET, PROMOTE_GITLAB_WEBHOOK_TOKEN,
/// PROMOTE_IMAGE_WEBHOOK_SECRET. A webhook whose secret is not set is refused (403).
struct WebhookSecrets {
  std::string github;
  std::string gitlab;
  std::string image;
  static WebhookSecrets from_environment();
};

/// The deliveries seen (GitHub's X-GitHub-Delivery, GitLab's X-Gitlab-Event-UUID, the image
/// event's X-Promote-Delivery or its body's digest), the newest `capacity` of them: a replay
/// does nothing.
class Deliveries {
 public:
  explicit Deliveries(std::size_t capacity = 10'000) : m_capacity(capacity) {}
  /// Whether `id` is new (and remembers it); false for a replay.
  bool first_time(const std::string& id);

 private:
  std::mutex m_mutex;
  std::deque<std::string> m_order;
  std::unordered_set<std::string> m_seen;
  std::size_t m_capacity;
};

/// Answers POST /hooks/github, /hooks/gitlab and /hooks/image (`kind`): 401 for a missing or
/// wrong signature or token, 403 when its secret is not configured, 400 for a body that is not
/// JSON, 200 for a replay (nothing done), else 202 with what it did:
/// {"event", "action": "evaluate"|"image"|"ignored", "pipelines": [...], "why"}.
http::Outgoing receive_webhook(const std::string& kind, const http::Incoming& request,
                               const std::vector<Watched>& pipelines, const WebhookSecrets& secrets,
                               Deliveries& deliveries, Loop* loop);

}  // namespace promote::serve
