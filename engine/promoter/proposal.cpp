#include "engine/promoter/proposal.hpp"

#include <set>
#include <sstream>

#include "engine/git/repository.hpp"
#include "engine/promoter/promotion.hpp"
#include "engine/promoter/promotion_parts.hpp"
#include "engine/util/fault.hpp"
#include "engine/util/text.hpp"

namespace promote::promoter {

namespace {

/// "owner/repo" from a remote URL: the path after the host, without ".git"; "" when there is
/// none (a local path, say).
std::string project_of(const std::string& url) {
  std::string path;
  if (const auto scheme = url.find("://"); scheme != std::string::npos) {
    const auto slash = url.find('/', scheme + 3);
    if (slash == std::string::npos) {
      return {};
    }
    path = url.substr(slash + 1);
  } else if (const auto colon = url.find(':');
             colon != std::string::npos && colon < url.find('/') && url.find('@') < colon) {
    path = url.substr(colon + 1);  // scp-like: git@github.com:acme/deploy.git
  } else {
    return {};
  }
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  if (path.ends_with(".git")) {
    path.resize(path.size() - 4);
  }
  return path.find('/') == std::string::npos ? std::string() : path;
}

/// Lines added and removed in a unified diff of one file.
std::pair<int, int> line_counts(const std::string& before, const std::string& after) {
  // Counts lines that differ between the two texts by position-independent multiset
  // difference: enough for a summary, exact for value edits that keep the line count.
  std::multiset<std::string> old_lines;
  std::multiset<std::string> new_lines;
  std::istringstream a(before);
  std::istringstream b(after);
  for (std::string line; std::getline(a, line);) {
    old_lines.insert(line);
  }
  for (std::string line; std::getline(b, line);) {
    new_lines.insert(line);
  }
  int added = 0;
  for (const auto& line : new_lines) {
    if (auto it = old_lines.find(line); it != old_lines.end()) {
      old_lines.erase(it);
    } else {
      ++added;
    }
  }
  return {added, static_cast<int>(old_lines.size())};
}

/// Text written by others (an actor, a reason, a gate's name or summary) as a Markdown code
/// span on one line (util/text.hpp), its pipes escaped in a table cell.
std::string cell(const std::string& text, bool in_table = true) {
  return util::markdown_code(text, in_table);
}

}  // namespace

Result<forge::Settings> forge_settings(const pipeline::Pipeline& pipeline,
                                       const pipeline::Stage& stage,
                                       const std::optional<std::string>& remote_url) {
  const pipeline::RepositorySpec& repository = pipeline.repository;
  auto provider = forge::parse_provider(repository.provider);
  if (!provider) {
    return make_error(ErrorKind::config, pipeline.file.string() + ": stage '" + stage.name +
                                             "' opens pull requests: " +
                                             provider.error().message);
  }
  forge::Settings settings;
  settings.provider = *provider;
  settings.api_url = repository.api;
  if (settings.api_url.empty()) {
    switch (*provider) {
      case forge::Provider::github: settings.api_url = "https://api.github.com"; break;
      case forge::Provider::gitlab: settings.api_url = "https://gitlab.com/api/v4"; break;
      case forge::Provider::gitea:
        return make_error(ErrorKind::config,
                          pipeline.file.string() + ": stage '" + stage.name +
                              "' opens pull requests on " + repository.provider +
                              ", which has no public API address: set repository.api (e.g. "
                              "https://gitea.example.com/api/v1)");
    }
  }
  settings.project = repository.project;
  if (settings.project.empty()) {
    const std::string url = repository.is_local() ? remote_url.value_or("") : repository.url;
    settings.project = project_of(url);
    if (settings.project.empty()) {
      return make_error(ErrorKind::config,
                        pipeline.file.string() + ": stage '" + stage.name +
                            "' opens pull requests, but the project cannot be told from the "
                            "remote's URL: set repository.project (owner/repo)");
    }
  }
  settings.labels = stage.pull_request.labels;
  settings.reviewers = stage.pull_request.reviewers;
  settings.supersede = stage.pull_request.close_superseded ? forge::Settings::Supersede::close
                                                           : forge::Settings::Supersede::keep;
  return settings;
}

std::string proposal_branch(const PromotionResult& result) {
  return "promote/" + result.stage + "/" + result.candidate.short_id();
}

std::string commit_subject(const PromotionResult& result) {
  // Past this many changed images the subject only counts them: the body lists them all.
  constexpr std::size_t k_images_named = 3;
  const std::string head =
      (result.rollback_of.empty() ? "promote(" : "rollback(") + result.stage + "):";
  std::string subject = head;
  std::string separator = " ";
  std::size_t changed = 0;
  for (const auto& [name, reference] : result.candidate.images) {
    const auto before = result.previous.find(name);
    if (before != result.previous.end() && before->second == reference.to_string()) {
      continue;
    }
    std::string was = "(none)";
    if (before != result.previous.end()) {
      auto parsed = image::parse(before->second);
      // What the file held, on one line: a line break there must not forge a trailer.
      was = parsed ? parsed->version() : util::one_line(before->second);
    }
    subject += separator + name + " " + was + " -> " + reference.version();
    separator = ", ";
    ++changed;
  }
  return changed > k_images_named ? head + " " + std::to_string(changed) + " images" : subject;
}

std::string proposal_body(const PromotionResult& result) {
  std::ostringstream body;
  body << "Promotes candidate `" << result.candidate.short_id() << "`"
       << (result.from.empty() ? "" : " from **" + result.from + "**") << " to **" << result.stage
       << "**, as requested by " << cell(result.actor, false)
       << (result.reason.empty() ? "" : " (" + cell(result.reason, false) + ")") << ".\n\n";
  body << "| image | now | after the merge |\n|---|---|---|\n";
  for (const auto& [name, reference] : result.candidate.images) {
    const auto before = result.previous.find(name);
    const std::string now = before == result.previous.end() ? "(none)" : before->second;
    body << "| " << name << " | " << cell(now) << " | " << cell(reference.to_string())
         << (now == reference.to_string() ? " (unchanged)" : "") << " |\n";
  }
  // The rest of the release: chart versions, and carried files by their digests.
  const auto row = [&](const std::string& what, const std::string& now, const std::string& after) {
    body << "| " << cell(what) << " | " << cell(now) << " | " << cell(after)
         << (now == after ? " (unchanged)" : "") << " |\n";
  };
  for (const auto& [name, version] : result.candidate.charts) {
    const auto before = result.previous_charts.find(name);
    row("chart " + name, before == result.previous_charts.end() ? "(none)" : before->second,
        version);
  }
  for (const auto& [name, digest] : result.candidate.files) {
    const auto before = result.previous_files.find(name);
    row("file " + name,
        before == result.previous_files.end() ? "(none)" : "sha256:" + before->second.substr(0, 12),
        "sha256:" + digest.substr(0, 12));
  }
  body << "\n";
  if (result.gates.empty()) {
    body << "No gates guard this stage.\n\n";
  } else {
    body << "| gate | verdict | summary |\n|---|---|---|\n";
    for (const auto& gate : result.gates) {
      body << "| " << cell(gate.name) << " | " << to_string(gate.verdict.status) << " | "
           << cell(gate.verdict.summary) << " |\n";
    }
    body << "\n";
  }
  body << "Files changed:\n";
  for (const auto& change : result.changes) {
    const auto [added, removed] = line_counts(change.before, change.after);
    body << "- " << cell(change.path, false) << " (+" << added << " -" << removed << ")\n";
  }
  // Forges cap a body (GitHub at 65,536 characters): a long diff is left to the branch.
  constexpr std::size_t k_max_diff = 48 * 1024;
  if (result.diff.size() <= k_max_diff) {
    // The diff shows the files' text as it is, in a fence that text cannot close.
    const std::string diff = util::printable(result.diff);
    const std::string fence = util::markdown_fence(diff);
    body << "\n<details><summary>diff</summary>\n\n"
         << fence << "diff\n"
         << diff << (diff.ends_with('\n') ? "" : "\n") << fence << "\n</details>\n\n";
  } else {
    body << "\nThe diff (" << result.diff.size() << " bytes) is too long to show here; it is the "
         << "commit of branch `" << proposal_branch(result) << "`.\n\n";
  }
  body << "Promote-Id: `" << result.promotion_id << "` · Promote-Candidate: `"
       << result.candidate.id() << "`\n";
  return body.str();
}

Result<OpenedProposal> open_proposal(git::Repository& repository, const std::string& remote,
                                     const pipeline::Pipeline& pipeline,
                                     const pipeline::Stage& stage, const git::Signer* signer,
                                     PromotionResult& result) {
  auto remote_url = repository.remote_url(remote);
  if (!remote_url) {
    return remote_url.error();
  }
  auto settings = forge_settings(pipeline, stage, *remote_url);
  if (!settings) {
    return settings.error();
  }
  auto head = repository.resolve("HEAD");
  if (!head) {
    return head.error();
  }
  if (!head->has_value()) {
    return make_error(ErrorKind::git, "the branch " + pipeline.repository.branch +
                                          " has no commit to open a pull request against");
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& change : result.changes) {
    files.emplace_back(change.path, change.after);
  }
  git::Signature who{result.actor, "promote@localhost"};
  if (auto configured = repository.default_signature()) {
    who = *configured;
  }
  const std::string branch = proposal_branch(result);
  // The branch as the remote has it, if it does: the same change on the same base is kept
  // as it is, so that a rerun does not push a new commit (and restart the checks, or
  // dismiss reviews) for nothing.
  std::optional<std::string> pushed_before;
  if (repository.fetch(remote, branch)) {
    if (auto id = repository.resolve("refs/remotes/" + remote + "/" + branch); id && *id) {
      pushed_before = **id;
    }
  }
  auto commit = repository.commit_on_branch(branch, **head, files, commit_message(result), who,
                                            pushed_before, signer);
  if (!commit) {
    return commit.error();
  }
  result.branch = branch;
  if (commit->created) {
    result.push_attempts = 1;
    if (auto pushed = repository.push(remote, branch, true); !pushed) {
      return pushed.error();
    }
  }
  util::fault_point("pr-after-push");
  forge::Proposal proposal{branch, pipeline.repository.branch, commit_subject(result),
                           proposal_body(result), "promote/" + stage.name + "/"};
  auto opened = forge::open_or_update(*settings, proposal);
  if (!opened) {
    result.warnings.push_back("branch " + branch + " holds the change (commit " +
                              commit->id.substr(0, 12) + "), but no pull request is open for it");
    return opened.error();
  }
  util::fault_point("pr-after-create");
  result.commit = commit->id;  // only now: the commit is proposed
  result.pull_request = opened->url;
  result.superseded = opened->superseded;
  result.warnings.insert(result.warnings.end(), opened->warnings.begin(), opened->warnings.end());
  return OpenedProposal{std::move(*settings), std::move(*opened)};
}

std::vector<Approval> forge_reviews(const git::Repository& repository, const std::string& remote,
                                    const pipeline::Pipeline& pipeline,
                                    const pipeline::Stage& stage, PromotionResult& result) {
  std::vector<Approval> out;
  const auto warn = [&](const std::string& why) {
    result.warnings.push_back("the reviews of the pull request of " + proposal_branch(result) +
                              " were not read: " + why);
    return out;
  };
  auto remote_url = repository.remote_url(remote);
  if (!remote_url) {
    return warn(remote_url.error().message);
  }
  auto settings = forge_settings(pipeline, stage, *remote_url);
  if (!settings) {
    return warn(settings.error().message);
  }
  auto reviewed = forge::reviews(*settings, proposal_branch(result), pipeline.repository.branch);
  if (!reviewed) {
    return warn(reviewed.error().message);
  }
  if (!*reviewed) {
    return out;
  }
  for (const forge::Review& review : (*reviewed)->reviews) {
    out.push_back(Approval{review.login, result.candidate.id(), stage.name, review.approved,
                           "review of " + (*reviewed)->pr.url, review.at});
  }
  return out;
}

}  // namespace promote::promoter
