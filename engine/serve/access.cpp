#include "engine/serve/access.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>

#include "engine/overlay/splice.hpp"
#include "engine/pipeline/config_node.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"

namespace promote::serve {

namespace {

constexpr std::array<std::string_view, 6> k_actions = {"promote", "approve", "reject",
                                                       "hold",    "release", "rollback"};

// A role ("approve:prod", "*:shop/prod") is well formed; reports at `node` when not.
bool check_role(const pipeline::ConfigNode& node, const std::string& role) {
  const auto colon = role.find(':');
  const std::string action = role.substr(0, colon);
  if (colon == std::string::npos || colon + 1 == role.size() ||
      (action != "*" && std::find(k_actions.begin(), k_actions.end(), action) == k_actions.end())) {
    node.error(
        "a role is ACTION:STAGE or ACTION:PIPELINE/STAGE (ACTION one of promote, approve, "
        "reject, hold, release, rollback, or *), got '" +
        role + "'");
    return false;
  }
  return true;
}

std::optional<Principal> read_principal(const pipeline::ConfigNode& item, bool with_digest,
                                        std::string* digest) {
  std::vector<std::string> keys = {"actor", "roles"};
  if (with_digest) {
    keys.push_back("sha256");
  }
  if (!item.expect_map(with_digest ? "a token" : "a proxy user", keys)) {
    return std::nullopt;
  }
  Principal principal;
  if (auto actor = item.require("actor", with_digest ? "a token" : "a proxy user")) {
    principal.actor = actor->as_string("actor").value_or("");
  }
  if (with_digest) {
    if (auto sha = item.require("sha256", "a token")) {
      *digest = sha->as_string("sha256").value_or("");
      if (digest->size() != 64 ||
          digest->find_first_not_of("0123456789abcdef") != std::string::npos) {
        sha->error(
            "'sha256' must be the SHA-256 of the token, 64 lower-case hex digits (never "
            "the token itself)");
      }
    }
  }
  if (auto roles = item.require("roles", with_digest ? "a token" : "a proxy user")) {
    for (const auto& role : roles->items("roles")) {
      if (auto text = role.as_string("roles[]"); text && check_role(role, *text)) {
        principal.roles.push_back(*text);
      }
    }
  }
  return principal;
}

}  // namespace

bool allows(const std::vector<std::string>& roles, const std::string& action,
            const std::string& pipeline, const std::string& stage) {
  return std::any_of(roles.begin(), roles.end(), [&](const std::string& role) {
    const auto colon = role.find(':');
    const std::string what = role.substr(0, colon);
    const std::string where = role.substr(colon + 1);
    if (what != "*" && what != action) {
      return false;
    }
    const auto slash = where.find('/');
    if (slash == std::string::npos) {
      return where == "*" || where == stage;
    }
    const std::string in = where.substr(0, slash);
    const std::string at = where.substr(slash + 1);
    return (in == "*" || in == pipeline) && (at == "*" || at == stage);
  });
}

Result<Access> Access::load(const std::filesystem::path& file) {
  auto text = util::read_file(file);
  if (!text) {
    return text.error();
  }
  auto documents = overlay::splice::load_all(*text, file.string());
  if (!documents) {
    return make_error(ErrorKind::config, documents.error().message);
  }
  pipeline::Diagnostics diagnostics;
  Access access;
  access.m_loaded = true;
  const YAML::Node root = documents->empty() ? YAML::Node() : documents->front();
  const pipeline::ConfigNode node(root, file.string(), diagnostics);
  if (node.expect_map("the tokens file", {"tokens", "proxy"})) {
    if (auto tokens = node.get("tokens")) {
      for (const auto& item : tokens->items("tokens")) {
        std::string digest;
        if (auto principal = read_principal(item, true, &digest)) {
          access.m_tokens.push_back(Token{digest, std::move(*principal)});
        }
      }
    }
    if (auto proxy = node.get("proxy");
        proxy && proxy->expect_map("proxy", {"header", "from", "users"})) {
      if (auto header = proxy->get("header")) {
        access.m_proxy_header = header->as_string("header").value_or(access.m_proxy_header);
      }
      if (auto from = proxy->require("from", "proxy")) {
        access.m_proxy_from = from->as_string_list("from").value_or(std::vector<std::string>{});
      }
      if (auto users = proxy->get("users")) {
        for (const auto& item : users->items("users")) {
          if (auto principal = read_principal(item, false, nullptr)) {
            access.m_proxy_users.push_back(std::move(*principal));
          }
        }
      }
    }
  }
  if (!diagnostics.empty()) {
    return diagnostics.to_error();
  }
  return access;
}

std::optional<Principal> Access::by_token(std::string_view token) const {
  if (token.empty()) {
    return std::nullopt;
  }
  const std::string digest = util::sha256_hex(token);
  const Principal* who = nullptr;
  for (const auto& known : m_tokens) {
    if (util::same_secret(known.sha256, digest)) {  // every entry compared: no early exit
      who = &known.principal;
    }
  }
  return who ? std::optional<Principal>(*who) : std::nullopt;
}

std::optional<Principal> Access::by_proxy(const http::Incoming& request) const {
  const std::string user = request.header(m_proxy_header);
  if (user.empty() ||
      std::find(m_proxy_from.begin(), m_proxy_from.end(), request.peer) == m_proxy_from.end()) {
    return std::nullopt;
  }
  for (const auto& principal : m_proxy_users) {
    if (principal.actor == user) {
      return principal;
    }
  }
  return Principal{user, {}};
}

std::optional<Access::Refusal> Access::refuse(const http::Incoming& request,
                                              const std::string& action,
                                              const std::string& pipeline, const std::string& stage,
                                              std::string& actor) const {
  if (!m_loaded) {
    return Refusal{401, "writes are off: the service has no tokens file (--tokens)"};
  }
  std::optional<Principal> who;
  const std::string authorization = request.header("Authorization");
  if (authorization.starts_with("Bearer ") && authorization.size() > 7) {
    who = by_token(std::string_view(authorization).substr(7));
    if (!who) {
      return Refusal{401, "the bearer token is not one of the service's"};
    }
  } else if ((who = by_proxy(request))) {
    if (who->roles.empty()) {
      return Refusal{403, "the proxy's user " + who->actor + " has no roles here"};
    }
  } else {
    return Refusal{401, "a write needs Authorization: Bearer TOKEN"};
  }
  if (!allows(who->roles, action, pipeline, stage)) {
    return Refusal{403, who->actor + " may not " + action + " " + pipeline + "/" + stage};
  }
  actor = who->actor;
  return std::nullopt;
}

}  // namespace promote::serve
