// Gitea and Forgejo: https://gitea.com/api/swagger (API v1). The list of pull requests has
// no head filter, so it is filtered here; labels are added by id, looked up by name among
// the repository's labels, then its organisation's.

#include <map>

#include "engine/forge/provider.hpp"

namespace promote::forge::detail {
namespace {

class Gitea : public ReposApi {
 public:
  using ReposApi::ReposApi;

  Result<std::vector<Pr>> open_prs(const std::string& head, const std::string& base) override {
    auto items = m_session.list(m_repo + "/pulls?state=open&limit=50");
    if (!items) {
      return items.error();
    }
    std::vector<Pr> out;
    for (const json& item : *items) {
      Pr pr = to_pr(item);
      if ((head.empty() || pr.head == head) && (base.empty() || pr.base == base)) {
        out.push_back(std::move(pr));
      }
    }
    return out;
  }

  Result<void> decorate(const Pr& pr) override {
    if (!m_session.settings().labels.empty()) {
      auto ids = label_ids();
      if (!ids) {
        return ids.error();
      }
      auto labelled = m_session.call("POST", issue(pr.number) + "/labels", {{"labels", *ids}});
      if (!labelled) {
        return labelled.error();
      }
    }
    return request_reviewers(pr);
  }

 protected:
  // "pull request already exists for these targets"
  bool already_exists(const Reply& reply) const override {
    return reply.status == 409 || (reply.status == 422 && says_already_exists(reply));
  }

  bool same_repository(const json& item) const override {
    const json& head_repo = member(member(item, "head"), "repo_id");
    const json& base_repo = member(member(item, "base"), "repo_id");
    return head_repo.is_null() || base_repo.is_null() || head_repo == base_repo;
  }

 private:
  // The ids of the settings' labels, from the repository's labels, then (for those not
  // found) its organisation's; fails (config) on a label in neither.
  Result<std::vector<std::uint64_t>> label_ids() {
    std::map<std::string, std::uint64_t> known;
    auto add = [&known](const std::vector<json>& labels) {
      for (const json& label : labels) {
        known.emplace(text_of(label, "name"), number_of(label, "id"));
      }
    };
    auto labels = m_session.list(m_repo + "/labels?limit=50");
    if (!labels) {
      return labels.error();
    }
    add(*labels);
    const auto& wanted = m_session.settings().labels;
    const bool all_known = std::all_of(wanted.begin(), wanted.end(),
                                       [&known](const auto& name) { return known.count(name); });
    if (!all_known) {
      // An organisation's labels apply to its repositories; a user has none (404).
      auto reply =
          m_session.send("GET", "/orgs/" + http::form_encode(m_owner) + "/labels?limit=50");
      if (!reply) {
        return reply.error();
      }
      if (reply->status < 300 && reply->body.is_array()) {
        add(reply->body.get<std::vector<json>>());
      } else if (reply->status != 404) {
        return m_session.refusal(*reply);
      }
    }
    std::vector<std::uint64_t> ids;
    for (const std::string& name : wanted) {
      const auto found = known.find(name);
      if (found == known.end() || found->second == 0) {
        return m_session.fail(ErrorKind::config, "no label '" + name + "' in " +
                                                     m_session.settings().project +
                                                     " (create it, or leave it out)");
      }
      ids.push_back(found->second);
    }
    return ids;
  }
};

}  // namespace

std::unique_ptr<Adapter> make_gitea(Session& session) {
  return std::make_unique<Gitea>(session);
}

}  // namespace promote::forge::detail
