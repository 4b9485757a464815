// GitLab merge requests: https://docs.gitlab.com/ee/api/merge_requests.html. The project is
// its URL-encoded path or its numeric id; labels and reviewers are set by the create and
// update calls themselves (reviewers as user ids, looked up by username).

#include <algorithm>
#include <cctype>

#include "engine/forge/provider.hpp"

namespace promote::forge::detail {
namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

class GitLab : public Adapter {
 public:
  explicit GitLab(Session& session)
      : m_session(session),
        m_project("/projects/" + http::form_encode(session.settings().project)) {}

  // GitLab allows one open merge request per source branch, whatever its target: `base` is
  // not a filter here (update moves it to the proposal's target).
  Result<std::vector<Pr>> open_prs(const std::string& head, const std::string&) override {
    std::string path = m_project + "/merge_requests?state=opened&per_page=100";
    if (!head.empty()) {
      path += "&source_branch=" + http::form_encode(head);
    }
    auto items = m_session.list(path);
    if (!items) {
      return items.error();
    }
    std::vector<Pr> out;
    for (const json& item : *items) {
      out.push_back(to_pr(item));
    }
    return out;
  }

  Result<std::optional<Pr>> create(const Proposal& proposal) override {
    const Settings& settings = m_session.settings();
    json body = {{"source_branch", proposal.head},
                 {"target_branch", proposal.base},
                 {"title", proposal.title},
                 {"description", proposal.body}};
    if (!settings.labels.empty()) {
      body["labels"] = joined(settings.labels);
    }
    if (!settings.reviewers.empty()) {
      auto ids = reviewer_ids();
      if (!ids) {
        return ids.error();
      }
      body["reviewer_ids"] = *ids;
    }
    auto reply = m_session.send("POST", m_project + "/merge_requests", body);
    if (!reply) {
      return reply.error();
    }
    // "Another open merge request already exists for this source branch: !7"
    if (reply->status == 409 || (reply->status == 422 && says_already_exists(*reply))) {
      return std::optional<Pr>();
    }
    if (reply->status >= 300 || !reply->body.is_object()) {
      return m_session.refusal(*reply);
    }
    return std::optional<Pr>(to_pr(reply->body));
  }

  Result<Pr> update(const Pr& pr, const Proposal& proposal) override {
    const Settings& settings = m_session.settings();
    json body = {{"title", proposal.title},
                 {"description", proposal.body},
                 {"target_branch", proposal.base}};
    if (!settings.labels.empty()) {
      body["add_labels"] = joined(settings.labels);
    }
    if (!settings.reviewers.empty()) {
      auto ids = reviewer_ids();
      if (!ids) {
        return ids.error();
      }
      // reviewer_ids replaces the reviewers: keep those already asked.
      std::vector<std::uint64_t> all = pr.reviewer_ids;
      for (const std::uint64_t id : *ids) {
        if (std::find(all.begin(), all.end(), id) == all.end()) {
          all.push_back(id);
        }
      }
      body["reviewer_ids"] = all;
    }
    auto updated = m_session.call("PUT", merge_request(pr.number), body);
    if (!updated) {
      return updated.error();
    }
    return to_pr(*updated);
  }

  Result<void> decorate(const Pr&) override { return {}; }

  Result<void> close(const Pr& pr, const std::string& note) override {
    if (auto noted = m_session.call("POST", merge_request(pr.number) + "/notes", {{"body", note}});
        !noted) {
      return noted.error();
    }
    if (auto closed = m_session.call("PUT", merge_request(pr.number), {{"state_event", "close"}});
        !closed) {
      return closed.error();
    }
    return {};
  }

  Result<Pr> get(std::uint64_t number) override {
    auto mr = m_session.call("GET", merge_request(number));
    if (!mr) {
      return mr.error();
    }
    return to_pr(*mr);
  }

  // https://docs.gitlab.com/ee/api/merge_request_approvals.html: who approved, with no time.
  Result<std::vector<Review>> reviews(const Pr& pr) override {
    auto approvals = m_session.call("GET", merge_request(pr.number) + "/approvals");
    if (!approvals) {
      return approvals.error();
    }
    const auto now = std::chrono::system_clock::now();
    std::vector<Review> out;
    const json& approved_by = member(*approvals, "approved_by");
    if (approved_by.is_array()) {
      for (const json& entry : approved_by) {
        if (std::string login = text_of(member(entry, "user"), "username"); !login.empty()) {
          out.push_back(Review{std::move(login), true, now});
        }
      }
    }
    return out;
  }

 private:
  static std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
      out += (out.empty() ? "" : ",") + name;
    }
    return out;
  }

  std::string merge_request(std::uint64_t iid) const {
    return m_project + "/merge_requests/" + std::to_string(iid);
  }

  // The user ids of the reviewers: numeric ones as given, usernames looked up once.
  Result<std::vector<std::uint64_t>> reviewer_ids() {
    if (m_reviewer_ids) {
      return *m_reviewer_ids;
    }
    std::vector<std::uint64_t> ids;
    for (const std::string& reviewer : m_session.settings().reviewers) {
      if (all_digits(reviewer)) {
        ids.push_back(std::stoull(reviewer));
        continue;
      }
      auto users = m_session.call("GET", "/users?username=" + http::form_encode(reviewer));
      if (!users) {
        return users.error();
      }
      std::uint64_t id = 0;
      if (users->is_array()) {
        for (const json& user : *users) {
          if (number_of(user, "id") != 0) {
            id = number_of(user, "id");
            break;
          }
        }
      }
      if (id == 0) {
        return m_session.fail(ErrorKind::config, "no user '" + reviewer + "' to ask for a review");
      }
      ids.push_back(id);
    }
    m_reviewer_ids = ids;
    return ids;
  }

  static Pr to_pr(const json& item) {
    Pr pr;
    pr.number = number_of(item, "iid");
    pr.url = text_of(item, "web_url");
    pr.head = text_of(item, "source_branch");
    pr.base = text_of(item, "target_branch");
    const std::string state = text_of(item, "state");  // opened, closed, locked, merged
    if (state == "merged") {
      pr.state = PullRequest::State::merged;
    } else if (state == "closed") {
      pr.state = PullRequest::State::closed;
    }
    const json& source = member(item, "source_project_id");
    const json& target = member(item, "target_project_id");
    pr.same_repository = source.is_null() || target.is_null() || source == target;
    if (const json& reviewers = member(item, "reviewers"); reviewers.is_array()) {
      for (const json& reviewer : reviewers) {
        if (const std::uint64_t id = number_of(reviewer, "id"); id != 0) {
          pr.reviewer_ids.push_back(id);
        }
      }
    }
    return pr;
  }

  Session& m_session;
  std::string m_project;  // "/projects/ID-OR-ENCODED-PATH"
  std::optional<std::vector<std::uint64_t>> m_reviewer_ids;
};

}  // namespace

std::unique_ptr<Adapter> make_gitlab(Session& session) {
  return std::make_unique<GitLab>(session);
}

}  // namespace promote::forge::detail
