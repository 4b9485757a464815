// GitHub and GitHub Enterprise: https://docs.github.com/en/rest/pulls/pulls (API version
// 2022-11-28). Labels and comments go through the issue of a pull request.

#include <algorithm>
#include <cctype>

#include "engine/forge/provider.hpp"

namespace promote::forge::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

class GitHub : public Adapter {
 public:
  explicit GitHub(Session& session) : m_session(session) {
    const std::string& project = session.settings().project;
    m_owner = project.substr(0, project.find('/'));
    m_repo = "/repos/" + http::form_encode(m_owner) + "/" +
             http::form_encode(project.substr(project.find('/') + 1));
  }

  Result<std::vector<Pr>> open_prs(const std::string& head, const std::string& base) override {
    std::string path = m_repo + "/pulls?state=open&per_page=100";
    if (!head.empty()) {
      path += "&head=" + http::form_encode(m_owner + ":" + head);
    }
    if (!base.empty()) {
      path += "&base=" + http::form_encode(base);
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
    const json body = {{"title", proposal.title},
                       {"head", proposal.head},
                       {"base", proposal.base},
                       {"body", proposal.body}};
    auto reply = m_session.send("POST", m_repo + "/pulls", body);
    if (!reply) {
      return reply.error();
    }
    if (reply->status == 422 && says_already_exists(*reply)) {
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
      auto labelled =
          m_session.call("POST", issue(pr.number) + "/labels", {{"labels", settings.labels}});
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

  Pr to_pr(const json& item) const {
    Pr pr;
    pr.number = number_of(item, "number");
    pr.url = text_of(item, "html_url");
    const json& head = member(item, "head");
    pr.head = text_of(head, "ref");
    pr.base = text_of(member(item, "base"), "ref");
    // A fork's head lives in another repository (or in none, once the fork is deleted).
    pr.same_repository =
        iequals(text_of(member(head, "repo"), "full_name"), m_session.settings().project);
    const bool merged = flag_of(item, "merged") || member(item, "merged_at").is_string();
    if (merged) {
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

std::unique_ptr<Adapter> make_github(Session& session) {
  return std::make_unique<GitHub>(session);
}

}  // namespace promote::forge::detail
