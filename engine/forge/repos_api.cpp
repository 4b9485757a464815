// What the GitHub and Gitea APIs share (provider.hpp, ReposApi).

#include <map>

#include "engine/forge/provider.hpp"
#include "engine/util/time.hpp"

namespace promote::forge::detail {

ReposApi::ReposApi(Session& session) : m_session(session) {
  const std::string& project = session.settings().project;
  m_owner = project.substr(0, project.find('/'));
  m_repo = "/repos/" + http::form_encode(m_owner) + "/" +
           http::form_encode(project.substr(project.find('/') + 1));
}

Result<std::optional<Pr>> ReposApi::create(const Proposal& proposal) {
  const json body = {{"title", proposal.title},
                     {"head", proposal.head},
                     {"base", proposal.base},
                     {"body", proposal.body}};
  auto reply = m_session.send("POST", m_repo + "/pulls", body);
  if (!reply) {
    return reply.error();
  }
  if (already_exists(*reply)) {
    return std::optional<Pr>();
  }
  if (reply->status >= 300 || !reply->body.is_object()) {
    return m_session.refusal(*reply);
  }
  return std::optional<Pr>(to_pr(reply->body));
}

Result<Pr> ReposApi::update(const Pr& pr, const Proposal& proposal) {
  auto updated = m_session.call("PATCH", pull(pr.number),
                                {{"title", proposal.title}, {"body", proposal.body}});
  if (!updated) {
    return updated.error();
  }
  return to_pr(*updated);
}

Result<void> ReposApi::close(const Pr& pr, const std::string& note) {
  if (auto commented = m_session.call("POST", issue(pr.number) + "/comments", {{"body", note}});
      !commented) {
    return commented.error();
  }
  if (auto closed = m_session.call("PATCH", pull(pr.number), {{"state", "closed"}}); !closed) {
    return closed.error();
  }
  return {};
}

Result<Pr> ReposApi::get(std::uint64_t number) {
  auto pr = m_session.call("GET", pull(number));
  if (!pr) {
    return pr.error();
  }
  return to_pr(*pr);
}

Result<std::vector<Review>> ReposApi::reviews(const Pr& pr) {
  auto items = m_session.list(pull(pr.number) + "/reviews?per_page=100");
  if (!items) {
    return items.error();
  }
  // Oldest first, as both list them: a reviewer's newest decision stands.
  std::map<std::string, Review> standing;
  for (const json& item : *items) {
    const std::string login = text_of(member(item, "user"), "login");
    const std::string state = text_of(item, "state");
    const auto at = util::parse_rfc3339(text_of(item, "submitted_at"));
    if (login.empty()) {
      continue;
    }
    if (state == "DISMISSED" || flag_of(item, "dismissed")) {
      standing.erase(login);
    } else if ((state == "APPROVED" || state == "CHANGES_REQUESTED" ||
                state == "REQUEST_CHANGES") &&
               at) {
      standing[login] = Review{login, state == "APPROVED", *at};
    }
  }
  std::vector<Review> out;
  for (auto& [login, review] : standing) {
    out.push_back(std::move(review));
  }
  return out;
}

Result<void> ReposApi::request_reviewers(const Pr& pr) {
  const Settings& settings = m_session.settings();
  if (settings.reviewers.empty()) {
    return {};
  }
  auto requested = m_session.call("POST", pull(pr.number) + "/requested_reviewers",
                                  {{"reviewers", settings.reviewers}});
  if (!requested) {
    return requested.error();
  }
  return {};
}

Pr ReposApi::to_pr(const json& item) const {
  Pr pr;
  pr.number = number_of(item, "number");
  pr.url = text_of(item, "html_url");
  pr.head = text_of(member(item, "head"), "ref");
  pr.base = text_of(member(item, "base"), "ref");
  pr.same_repository = same_repository(item);
  if (flag_of(item, "merged") || member(item, "merged_at").is_string()) {
    pr.state = PullRequest::State::merged;
  } else if (text_of(item, "state") == "closed") {
    pr.state = PullRequest::State::closed;
  }
  return pr;
}

std::string ReposApi::pull(std::uint64_t number) const {
  return m_repo + "/pulls/" + std::to_string(number);
}

std::string ReposApi::issue(std::uint64_t number) const {
  return m_repo + "/issues/" + std::to_string(number);
}

}  // namespace promote::forge::detail
