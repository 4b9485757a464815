#pragma once
// The environment variables promote reads whose values are secrets, and the scrubbing of
// their values out of text that an outside party wrote (a plugin's output, a server's body,
// a library's message) before it reaches a log, a report, the history or a commit.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace promote::util {

/// Tokens and passphrases promote itself reads (the git credentials, the forge API): no log
/// line, message, file or record may hold their values.
inline constexpr std::array k_secret_variables = {"PROMOTE_GIT_TOKEN",
                                                  "PROMOTE_FORGE_TOKEN",
                                                  "GITHUB_TOKEN",
                                                  "GITLAB_TOKEN",
                                                  "CI_JOB_TOKEN",
                                                  "GITEA_TOKEN",
                                                  "PROMOTE_SSH_KEY_PASSPHRASE",
                                                  "PROMOTE_GITHUB_WEBHOOK_SECRET",
                                                  "PROMOTE_GITLAB_WEBHOOK_TOKEN",
                                                  "PROMOTE_IMAGE_WEBHOOK_SECRET"};

/// What a secret's value is replaced with.
inline constexpr std::string_view k_secret_marker = "***";

namespace detail {

inline std::string trim_blanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return std::string(text.substr(first, text.find_last_not_of(" \t") + 1 - first));
}

}  // namespace detail

/// `text` with every byte but the unreserved ones of RFC 3986 (letters, digits, `-._~`) as
/// `%XX` (upper-case hex), as a URL path segment or query value carries it.
inline std::string percent_encode(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[byte >> 4];
      out += k_hex[byte & 0x0F];
    }
  }
  return out;
}

/// `text` in standard base64 with padding (as HTTP basic authentication sends it).
inline std::string base64(std::string_view text) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += k_alphabet[(n >> 6) & 63];
    out += k_alphabet[n & 63];
  }
  if (i < text.size()) {
    const bool two = i + 1 < text.size();
    const unsigned n = (static_cast<unsigned char>(text[i]) << 16) |
                       (two ? static_cast<unsigned char>(text[i + 1]) << 8 : 0u);
    out += k_alphabet[(n >> 18) & 63];
    out += k_alphabet[(n >> 12) & 63];
    out += two ? k_alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// The values to hide: those of each variable of k_secret_variables and of `names` that is
/// set to more than blanks, each whole, each line of a value of several lines, and (with
/// `encoded`) the percent-encoded and base64 forms of each; longest first, so that a value
/// holding another is hidden whole.
inline std::vector<std::string> secret_values(const std::vector<std::string>& names = {},
                                              bool encoded = true) {
  std::vector<std::string> values;
  const auto add = [&values](const std::string& value) {
    if (!detail::trim_blanks(value).empty() &&
        std::find(values.begin(), values.end(), value) == values.end()) {
      values.push_back(value);
    }
  };
  const auto add_forms = [&add, encoded](const std::string& value) {
    add(value);
    if (encoded) {
      add(percent_encode(value));
      add(base64(value));
    }
  };
  std::vector<std::string> all(k_secret_variables.begin(), k_secret_variables.end());
  all.insert(all.end(), names.begin(), names.end());
  for (const auto& name : all) {
    const char* set = std::getenv(name.c_str());
    const std::string value = set == nullptr ? std::string() : std::string(set);
    if (detail::trim_blanks(value).empty()) {
      continue;
    }
    add_forms(value);
    if (value.find_first_of("\r\n") != std::string::npos) {
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto end = std::min(value.find_first_of("\r\n", start), value.size());
        add_forms(detail::trim_blanks(std::string_view(value).substr(start, end - start)));
        start = end + 1;
      }
    }
  }
  std::stable_sort(values.begin(), values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return values;
}

/// `text` with every occurrence of each of `secrets` (as secret_values gives them) replaced
/// by k_secret_marker.
inline std::string scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) {
      continue;
    }
    for (auto at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + k_secret_marker.size())) {
      text.replace(at, secret.size(), k_secret_marker);
    }
  }
  return text;
}

/// Scrubs every string in `value`, keys too, in place.
inline void scrub_json(nlohmann::json& value, const std::vector<std::string>& secrets) {
  if (secrets.empty()) {
    return;
  }
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    text = scrub(std::move(text), secrets);
  } else if (value.is_array()) {
    for (auto& item : value) {
      scrub_json(item, secrets);
    }
  } else if (value.is_object()) {
    bool keys_hold_secrets = false;
    for (auto item = value.begin(); item != value.end(); ++item) {
      scrub_json(item.value(), secrets);
      keys_hold_secrets = keys_hold_secrets || scrub(item.key(), secrets) != item.key();
    }
    if (keys_hold_secrets) {
      nlohmann::json out = nlohmann::json::object();
      for (auto item = value.begin(); item != value.end(); ++item) {
        out[scrub(item.key(), secrets)] = std::move(item.value());
      }
      value = std::move(out);
    }
  }
}

/// `text` with the values of k_secret_variables and of `names` hidden.
inline std::string scrub_secrets(std::string text, const std::vector<std::string>& names = {}) {
  return scrub(std::move(text), secret_values(names));
}

/// The variables a gate's configuration (as Gate::config gives it) names as holding secrets:
/// the http gate's `headers.*.env`, the prometheus gate's `auth.bearer_env` and
/// `auth.password_env`, the argocd gate's `token_env`, and an external gate's `env`.
inline std::vector<std::string> secret_variables_of(const nlohmann::json& config) {
  std::vector<std::string> names;
  const auto add = [&names](const nlohmann::json& name) {
    if (name.is_string() && !name.get<std::string>().empty() &&
        std::find(names.begin(), names.end(), name.get<std::string>()) == names.end()) {
      names.push_back(name.get<std::string>());
    }
  };
  if (!config.is_object()) {
    return names;
  }
  if (auto headers = config.find("headers"); headers != config.end() && headers->is_object()) {
    for (const auto& [header, value] : headers->items()) {
      if (value.is_object() && value.contains("env")) {
        add(value["env"]);
      }
    }
  }
  if (auto auth = config.find("auth"); auth != config.end() && auth->is_object()) {
    for (const char* key : {"bearer_env", "password_env"}) {
      if (auth->contains(key)) {
        add((*auth)[key]);
      }
    }
  }
  if (auto token = config.find("token_env"); token != config.end()) {
    add(*token);
  }
  if (auto variables = config.find("env"); variables != config.end() && variables->is_array()) {
    for (const auto& name : *variables) {
      add(name);
    }
  }
  return names;
}

}  // namespace promote::util
