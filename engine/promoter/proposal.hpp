#pragma once
// What strategy pull-request sends to the forge: where (the API, the project, labels and
// reviewers from the pipeline) and what (the branch, the title and a Markdown body with the
// images, the gate table and the diff summary).

#include <optional>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/forge/forge.hpp"
#include "engine/gate.hpp"
#include "engine/git/repository.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::promoter {

struct PromotionResult;

/// The pull request of a promotion, opened or updated, and the forge it is on.
struct OpenedProposal {
  forge::Settings settings;
  forge::PullRequest pull_request;
};

/// Commits the result's changes on its proposal branch, on the checkout's head (signed with
/// `signer` when given), pushes the branch to `remote` unless it holds that same change
/// already, and opens or updates the branch's pull request; records the branch, the commit,
/// the pull request, what it superseded and the forge's warnings in `result`. Fails as git
/// and the forge do (the commit is recorded only once the pull request is open).
Result<OpenedProposal> open_proposal(git::Repository& repository, const std::string& remote,
                                     const pipeline::Pipeline& pipeline,
                                     const pipeline::Stage& stage, const git::Signer* signer,
                                     PromotionResult& result);

/// The forge settings for a pull-request stage. The API URL defaults to the provider's
/// public one (https://api.github.com, https://gitlab.com/api/v4; Gitea has none); the
/// project to the path of `remote_url` ("https://github.com/acme/deploy.git" and
/// "git@github.com:acme/deploy.git" give "acme/deploy"). Fails (config) when either cannot be
/// told.
Result<forge::Settings> forge_settings(const pipeline::Pipeline& pipeline,
                                       const pipeline::Stage& stage,
                                       const std::optional<std::string>& remote_url);

/// "promote/<stage>/<candidate short id>".
std::string proposal_branch(const PromotionResult& result);

/// The subject of the promotion's commit, also the pull request's title:
/// "promote(prod): api 1.4.1 -> 1.4.2, web 2.0.0 -> 2.1.0" (images that change); past three
/// images that change, only their number: "promote(prod): 11 images" (the body lists them).
std::string commit_subject(const PromotionResult& result);

/// The pull request's Markdown body: the images before and after, the gate table, the files
/// changed with their added and removed lines, the diff (folded), and the promotion's ids.
std::string proposal_body(const PromotionResult& result);

/// The decisions given on the forge for a pull-request stage with an approval gate: the reviews
/// of the open pull request of the result's candidate (its branch, proposal_branch), as
/// approvals and rejections by the reviewers' logins. A forge that cannot be asked is a warning
/// in `result`: the history's approvals still count.
std::vector<Approval> forge_reviews(const git::Repository& repository, const std::string& remote,
                                    const pipeline::Pipeline& pipeline,
                                    const pipeline::Stage& stage, PromotionResult& result);

}  // namespace promote::promoter
