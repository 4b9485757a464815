// Gitea and Forgejo: https://gitea.com/api/swagger (API v1). The list of pull requests has
// no head filter, so it is filtered here; labels are added by id, looked up by name among
// the repository's labels, then its organisation's.

#include <map>

#include "engine/forge/provider.hpp"

namespace promote::forge::detail {
namespace {

class Gitea : public Adapter {
 public:
  explicit Gitea(Session& session) : m_session(session) {
    const std::string& project = session.settings().project;
    m_owner = project.substr(0, project.find('/'));
    m_repo = "/repos/" + http::form_encode(m_owner) + "/" +
             http::form_encode(project.substr(project.find('/') + 1));
  }

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

  Result<std::optional<Pr>> create(const Proposal& proposal) override {
    const json body = {{"head", proposal.head},
                       {"base", proposal.base},
                       {"title", proposal.title},
                       {"body", proposal.body}};
    auto reply = m_session.send("POST", m_repo + "/pulls", body);
    if (!reply) {
      return reply.error();
    }
    // "pull request already exists for these targets"
    if (reply->status == 409 || (reply->status == 422 && says_already_exists(*reply))) {
      return std::optional<Pr>();
    }
    if (reply->status >= 300 || !reply->body.is_object()) {
      return m_session.refusal(*reply);
    }
    return std::optional<Pr>(to_pr(reply->body));
  }

  Result<Pr> update(const Pr& pr, const Proposal& proposal) override {
    auto updated = m_session.call("PATCH", pull(pr.number),
                                  {{"title", proposal.title}, {"body", proposal.body}});
    if (!updated) {
      return updated.error();
    }
    return to_pr(*updated);
  }

  Result<void> decorate(const Pr& pr) override {
    const Settings& settings = m_session.settings();
    if (!settings.labels.empty()) {
      auto ids = label_ids();
      if (!ids) {
        return ids.error();
      }
      auto labelled = m_session.call("POST", issue(pr.number) + "/labels", {{"labels", *ids}});
      if (!labelled) {
        return labelled.error();
      }
    }
    if (!settings.reviewers.empty()) {
      auto requested = m_session.call("POST", pull(pr.number) + "/requested_reviewers",
                                      {{"reviewers", settings.reviewers}});
      if (!requested) {
        return requested.error();
      }
    }
    return {};
  }

  Result<void> close(const Pr& pr, const std::string& note) override {
    if (auto commented = m_session.call("POST", issue(pr.number) + "/comments", {{"body", note}});
        !commented) {
      return commented.error();
    }
    if (auto closed = m_session.call("PATCH", pull(pr.number), {{"state", "closed"}}); !closed) {
      return closed.error();
    }
    return {};
  }

  Result<Pr> get(std::uint64_t number) override {
    auto pr = m_session.call("GET", pull(number));
    if (!pr) {
      return pr.error();
    }
    return to_pr(*pr);
  }

 private:
  std::string pull(std::uint64_t number) const {
    return m_repo + "/pulls/" + std::to_string(number);
  }
  std::string issue(std::uint64_t number) const {
    return m_repo + "/issues/" + std::to_string(number);
  }

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

  Pr to_pr(const json& item) const {
    Pr pr;
    pr.number = number_of(item, "number");
    pr.url = text_of(item, "html_url");
    const json& head = member(item, "head");
    const json& base = member(item, "base");
    pr.head = text_of(head, "ref");
    pr.base = text_of(base, "ref");
    const json& head_repo = member(head, "repo_id");
    const json& base_repo = member(base, "repo_id");
    pr.same_repository = head_repo.is_null() || base_repo.is_null() || head_repo == base_repo;
    if (flag_of(item, "merged") || member(item, "merged_at").is_string()) {
      pr.state = PullRequest::State::merged;
    } else if (text_of(item, "state") == "closed") {
      pr.state = PullRequest::State::closed;
    }
    return pr;
  }

  Session& m_session;
  std::string m_owner;
  std::string m_repo;  // "/repos/OWNER/REPO"
};

}  // namespace

std::unique_ptr<Adapter> make_gitea(Session& session) {
  return std::make_unique<Gitea>(session);
}

}  // namespace promote::forge::detail
