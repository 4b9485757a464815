#include "engine/forge/forge.hpp"

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "engine/forge/provider.hpp"

namespace promote::forge {

namespace chr = std::chrono;
using detail::Adapter;
using detail::Pr;
using detail::Session;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::vector<const char*> token_variables(Provider provider) {
  switch (provider) {
    case Provider::github:
      return {"PROMOTE_FORGE_TOKEN", "GITHUB_TOKEN", "PROMOTE_GIT_TOKEN"};
    case Provider::gitlab:
      return {"PROMOTE_FORGE_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "PROMOTE_GIT_TOKEN"};
    case Provider::gitea:
      return {"PROMOTE_FORGE_TOKEN", "GITEA_TOKEN", "PROMOTE_GIT_TOKEN"};
  }
  return {};
}

// "A, B or C"
std::string one_of(const std::vector<const char*>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i]);
  }
  return out;
}

// Checks what every call needs and finds the token; a config error names what is wrong.
Result<Token> prepare(const Settings& settings) {
  const std::string name = to_string(settings.provider);
  auto fail = [&name](const std::string& text) {
    return make_error(ErrorKind::config, name + ": " + text);
  };
  if (settings.api_url.rfind("https://", 0) != 0 && settings.api_url.rfind("http://", 0) != 0) {
    return fail("the API URL '" + settings.api_url + "' does not start with https://");
  }
  const std::string& project = settings.project;
  if (settings.provider == Provider::gitlab) {
    if (project.empty() || project.front() == '/' || project.back() == '/') {
      return fail("the project '" + project +
                  "' is neither a path like 'group/project' nor a numeric id");
    }
  } else {
    const auto slash = project.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == project.size() ||
        project.find('/', slash + 1) != std::string::npos) {
      return fail("the project '" + project + "' is not 'owner/repository'");
    }
  }
  if (settings.max_attempts < 1) {
    return fail("max_attempts must be at least 1");
  }
  if (settings.timeout.count() <= 0) {
    return fail("the timeout must be positive");
  }
  Token token = token_from_environment(settings.provider);
  if (token.value.empty()) {
    return fail("no API token: set " + one_of(token_variables(settings.provider)));
  }
  return token;
}

std::unique_ptr<Adapter> make_adapter(Session& session) {
  switch (session.settings().provider) {
    case Provider::github:
      return detail::make_github(session);
    case Provider::gitlab:
      return detail::make_gitlab(session);
    case Provider::gitea:
      return detail::make_gitea(session);
  }
  return nullptr;
}

PullRequest to_pull_request(const Pr& pr) {
  PullRequest out;
  out.url = pr.url;
  out.number = pr.number;
  out.head = pr.head;
  out.state = pr.state;
  return out;
}

// What a call returns, with the token kept out of it (should a server echo it).
Result<PullRequest> scrubbed(const Session& session, Result<PullRequest> result) {
  if (!result) {
    return make_error(result.error().kind, session.scrub(result.error().message));
  }
  result->url = session.scrub(result->url);
  result->head = session.scrub(result->head);
  for (auto& url : result->superseded) {
    url = session.scrub(url);
  }
  for (auto& warning : result->warnings) {
    warning = session.scrub(warning);
  }
  return result;
}

// `pr` after an update: as the provider answered, with what the answer left out kept.
Pr updated_from(Pr answer, const Pr& before) {
  if (answer.number == 0) {
    answer.number = before.number;
  }
  if (answer.url.empty()) {
    answer.url = before.url;
  }
  if (answer.head.empty()) {
    answer.head = before.head;
  }
  return answer;
}

// The open pull request of `proposal.head` into `proposal.base` in the project, if any.
Result<std::optional<Pr>> find_open(Adapter& adapter, const Proposal& proposal) {
  auto open = adapter.open_prs(proposal.head, proposal.base);
  if (!open) {
    return open.error();
  }
  for (const Pr& pr : *open) {
    if (pr.head == proposal.head && pr.same_repository && pr.state == PullRequest::State::open) {
      return std::optional<Pr>(pr);
    }
  }
  return std::optional<Pr>();
}

Result<PullRequest> open_or_update_with(Session& session, const Proposal& proposal) {
  const Settings& settings = session.settings();
  auto adapter = make_adapter(session);
  auto existing = find_open(*adapter, proposal);
  if (!existing) {
    return existing.error();
  }
  bool created = false;
  Pr pr;
  if (*existing) {
    auto updated = adapter->update(**existing, proposal);
    if (!updated) {
      return updated.error();
    }
    pr = updated_from(std::move(*updated), **existing);
  } else {
    auto made = adapter->create(proposal);
    if (!made) {
      return made.error();
    }
    if (*made) {
      pr = std::move(**made);
      created = true;
    } else {
      // Another run opened it between our look and our create: update that one.
      auto raced = find_open(*adapter, proposal);
      if (!raced) {
        return raced.error();
      }
      if (!*raced) {
        return session.fail(ErrorKind::conflict, "the provider says a pull request from " +
                                                     proposal.head +
                                                     " is already open, but none is listed");
      }
      auto updated = adapter->update(**raced, proposal);
      if (!updated) {
        return updated.error();
      }
      pr = updated_from(std::move(*updated), **raced);
    }
  }
  // The pull request is open: labels or reviewers that cannot be set (a reviewer who is the
  // author, a label the project lacks) are told, not a failure.
  std::vector<std::string> warnings;
  if (auto decorated = adapter->decorate(pr); !decorated) {
    warnings.push_back("labels or reviewers were not set on " + pr.url + ": " +
                       decorated.error().message);
  }

  PullRequest out = to_pull_request(pr);
  out.warnings = std::move(warnings);
  out.created = created;
  out.state = PullRequest::State::open;
  if (proposal.supersede_prefix.empty()) {
    return out;
  }
  auto open = adapter->open_prs("", "");
  if (!open) {
    return open.error();
  }
  for (const Pr& older : *open) {
    if (older.number == pr.number || older.head == proposal.head || !older.same_repository ||
        older.state != PullRequest::State::open ||
        older.head.rfind(proposal.supersede_prefix, 0) != 0) {
      continue;
    }
    if (settings.supersede == Settings::Supersede::close) {
      auto closed = adapter->close(older, "Superseded by " + pr.url + " (" + proposal.head +
                                              "), a newer candidate for the same stage.");
      if (!closed) {
        return closed.error();
      }
    }
    out.superseded.push_back(older.url);
  }
  return out;
}

}  // namespace

Result<Provider> parse_provider(std::string_view name) {
  if (name == "github") {
    return Provider::github;
  }
  if (name == "gitlab") {
    return Provider::gitlab;
  }
  if (name == "gitea" || name == "forgejo") {
    return Provider::gitea;
  }
  return make_error(ErrorKind::config, "unknown forge provider '" + std::string(name) +
                                           "': expected github, gitlab, gitea or forgejo");
}

const char* to_string(Provider provider) {
  switch (provider) {
    case Provider::github:
      return "github";
    case Provider::gitlab:
      return "gitlab";
    case Provider::gitea:
      return "gitea";
  }
  return "github";
}

const char* to_string(PullRequest::State state) {
  switch (state) {
    case PullRequest::State::open:
      return "open";
    case PullRequest::State::merged:
      return "merged";
    case PullRequest::State::closed:
      return "closed";
  }
  return "open";
}

Token token_from_environment(Provider provider) {
  for (const char* name : token_variables(provider)) {
    if (std::string value = env(name); !value.empty()) {
      return Token{std::move(value), name};
    }
  }
  return {};
}

Result<PullRequest> open_or_update(const Settings& settings, const Proposal& proposal) {
  auto token = prepare(settings);
  if (!token) {
    return token.error();
  }
  const std::string name = to_string(settings.provider);
  if (proposal.head.empty() || proposal.base.empty() || proposal.title.empty()) {
    return make_error(ErrorKind::config,
                      name + ": a pull request needs a head branch, a base branch and a title");
  }
  if (proposal.head == proposal.base) {
    return make_error(ErrorKind::config,
                      name + ": the head branch '" + proposal.head + "' is the base branch");
  }
  Session session(settings, std::move(*token));
  return scrubbed(session, open_or_update_with(session, proposal));
}

Result<PullRequest> get(const Settings& settings, std::uint64_t number) {
  auto token = prepare(settings);
  if (!token) {
    return token.error();
  }
  Session session(settings, std::move(*token));
  auto pr = make_adapter(session)->get(number);
  if (!pr) {
    return scrubbed(session, pr.error());
  }
  return scrubbed(session, to_pull_request(*pr));
}

Result<std::optional<Reviewed>> reviews(const Settings& settings, const std::string& head,
                                        const std::string& base) {
  auto token = prepare(settings);
  if (!token) {
    return token.error();
  }
  Session session(settings, std::move(*token));
  auto adapter = make_adapter(session);
  Proposal wanted;
  wanted.head = head;
  wanted.base = base;
  const auto failed = [&](const Error& error) {
    return make_error(error.kind, session.scrub(error.message));
  };
  auto open = find_open(*adapter, wanted);
  if (!open) {
    return failed(open.error());
  }
  if (!*open) {
    return std::optional<Reviewed>();
  }
  auto given = adapter->reviews(**open);
  if (!given) {
    return failed(given.error());
  }
  auto pr = scrubbed(session, to_pull_request(**open));
  if (!pr) {
    return pr.error();
  }
  return std::optional<Reviewed>(Reviewed{std::move(*pr), std::move(*given)});
}

Result<PullRequest> wait_merged(const Settings& settings, std::uint64_t number, chr::seconds limit,
                                chr::seconds poll,
                                const std::function<void(chr::seconds)>& on_tick) {
  const auto deadline = chr::steady_clock::now() + limit;
  for (;;) {
    auto pr = get(settings, number);
    if (!pr || pr->state != PullRequest::State::open) {
      return pr;
    }
    const auto left = deadline - chr::steady_clock::now();
    if (left <= chr::steady_clock::duration::zero()) {
      return pr;
    }
    if (on_tick) {
      on_tick(chr::ceil<chr::seconds>(left));
    }
    std::this_thread::sleep_for(std::min<chr::steady_clock::duration>(poll, left));
  }
}

}  // namespace promote::forge
