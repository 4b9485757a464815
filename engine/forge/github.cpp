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

class GitHub : public ReposApi {
 public:
  using ReposApi::ReposApi;

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

  Result<void> decorate(const Pr& pr) override {
    const Settings& settings = m_session.settings();
    if (!settings.labels.empty()) {
      auto labelled =
          m_session.call("POST", issue(pr.number) + "/labels", {{"labels", settings.labels}});
      if (!labelled) {
        return labelled.error();
      }
    }
    return request_reviewers(pr);
  }

 protected:
  bool already_exists(const Reply& reply) const override {
    return reply.status == 422 && says_already_exists(reply);
  }

  // A fork's head lives in another repository (or in none, once the fork is deleted).
  bool same_repository(const json& item) const override {
    return iequals(text_of(member(member(item, "head"), "repo"), "full_name"),
                   m_session.settings().project);
  }
};

}  // namespace

std::unique_ptr<Adapter> make_github(Session& session) {
  return std::make_unique<GitHub>(session);
}

}  // namespace promote::forge::detail
