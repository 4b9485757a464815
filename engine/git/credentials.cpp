#include "engine/git/credentials.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include "engine/git/repository.hpp"
#include "engine/util/secrets.hpp"

namespace promote::git {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string lower(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

}  // namespace

std::string redact(std::string text) {
  text = util::scrub_secrets(std::move(text));
  for (auto scheme = text.find("://"); scheme != std::string::npos;
       scheme = text.find("://", scheme + 3)) {
    const auto start = scheme + 3;
    auto end = text.find_first_of("/ \t\n'\"", start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const auto at = text.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      text.erase(start, at + 1 - start);
    }
  }
  return text;
}

bool supports_ssh() {
  return (git_libgit2_features() & GIT_FEATURE_SSH) != 0;  // fixed when libgit2 was built
}

namespace detail {

namespace {

// ---------------------------------------------------------------------------------------
// Remote addresses

/// The parts of a remote URL that decide what to send: ssh or not, host, port (0: default).
struct Address {
  bool ssh = false;
  std::string scheme;  ///< lower case, "" for scp-like addresses
  std::string host;
  int port = 0;
};

Address parse_address(std::string_view url) {
  Address address;
  std::string_view authority;
  if (const auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const std::string scheme = lower(std::string(url.substr(0, scheme_end)));
    address.scheme = scheme;
    address.ssh = scheme == "ssh" || scheme == "ssh+git" || scheme == "git+ssh";
    authority = url.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find('/'));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    std::string_view port;
    if (authority.starts_with('[')) {
      const auto close = authority.find(']');
      address.host = std::string(authority.substr(
          1, close == std::string_view::npos ? std::string_view::npos : close - 1));
      if (close != std::string_view::npos && authority.substr(close + 1).starts_with(':')) {
        port = authority.substr(close + 2);
      }
    } else {
      const auto colon = authority.rfind(':');
      address.host = std::string(authority.substr(0, colon));
      if (colon != std::string_view::npos) {
        port = authority.substr(colon + 1);
      }
    }
    if (!port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      address.port = std::stoi(std::string(port));
    }
    address.host = lower(address.host);
    return address;
  }
  // scp-like [user@]host:path: a ':' before any '/', and not a local "C:\..." or "./a:b".
  const auto colon = url.find(':');
  const auto slash = url.find('/');
  if (colon != std::string_view::npos && colon > 1 &&
      (slash == std::string_view::npos || colon < slash)) {
    std::string_view host = url.substr(0, colon);
    if (const auto at = host.rfind('@'); at != std::string_view::npos) {
      host.remove_prefix(at + 1);
    }
    if (host.starts_with('[') && host.ends_with(']')) {
      host = host.substr(1, host.size() - 2);
    }
    address.ssh = true;
    address.host = lower(std::string(host));
  }
  return address;
}

/// The forge a remote is on: the pipeline's provider when given, else told by the host.
std::string forge_of(const std::string& host, const std::string& provider) {
  if (!provider.empty()) {
    return lower(provider);
  }
  if (host == "github.com" || host == "www.github.com") {
    return "github";
  }
  if (host == "gitlab.com" || host.starts_with("gitlab.")) {
    return "gitlab";
  }
  if (host == "gitea.com" || host.starts_with("gitea.") || host == "codeberg.org") {
    return "gitea";
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// Tokens

/// An access token, the variable it came from and the user name it goes with.
struct Token {
  std::string variable;
  std::string user;
  std::string secret;
};

std::optional<Token> token_for(const std::string& forge) {
  if (std::string secret = env("PROMOTE_GIT_TOKEN"); !secret.empty()) {
    std::string user = env("PROMOTE_GIT_USER");
    return Token{"PROMOTE_GIT_TOKEN", user.empty() ? "x-access-token" : user, std::move(secret)};
  }
  const auto from = [](const char* variable, const char* user) -> std::optional<Token> {
    std::string secret = env(variable);
    if (secret.empty()) {
      return std::nullopt;
    }
    return Token{variable, user, std::move(secret)};
  };
  if (forge == "github") {
    return from("GITHUB_TOKEN", "x-access-token");
  }
  if (forge == "gitlab") {
    if (auto token = from("GITLAB_TOKEN", "oauth2")) {
      return token;
    }
    return from("CI_JOB_TOKEN", "gitlab-ci-token");
  }
  if (forge == "gitea") {
    return from("GITEA_TOKEN", "x-access-token");
  }
  return std::nullopt;
}

std::string missing_token(const std::string& forge) {
  const std::string start = "the remote asks for credentials: set PROMOTE_GIT_TOKEN";
  if (forge == "github") {
    return start + " (or GITHUB_TOKEN for github) to an access token for it";
  }
  if (forge == "gitlab") {
    return start +
           " (or GITLAB_TOKEN, or CI_JOB_TOKEN in GitLab CI, for gitlab) to an access "
           "token for it";
  }
  if (forge == "gitea") {
    return start + " (or GITEA_TOKEN for gitea) to an access token for it";
  }
  return start +
         " to an access token for it (GITHUB_TOKEN, GITLAB_TOKEN, CI_JOB_TOKEN and "
         "GITEA_TOKEN are used when repository.provider names the forge)";
}

/// `address`'s port, the scheme's default when the URL names none.
int port_of(const Address& address) {
  if (address.port != 0) {
    return address.port;
  }
  return address.scheme == "https" ? 443 : address.scheme == "http" ? 80 : 0;
}

/// "scheme://host:port" of an address, for messages (no user, no path).
std::string origin(const Address& address) {
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return address.scheme + "://" + (ipv6 ? "[" + address.host + "]" : address.host) + ":" +
         std::to_string(port_of(address));
}

/// Whether a token may go to `asking`, the server that asks for credentials, when the remote
/// is `configured`: the same host, over https (TLS verified), or over plain http only at the
/// very host and port of a configured http URL. A server reached by a redirect elsewhere, or
/// at another port over plain http, gets nothing: plain http can be read on the way.
bool may_send_token(const Address& asking, const Address& configured) {
  if (asking.host.empty() || asking.host != configured.host) {
    return false;
  }
  if (asking.scheme == "https") {
    return true;
  }
  return asking.scheme == "http" && configured.scheme == "http" &&
         port_of(asking) == port_of(configured);
}

std::string refused_token(const Token& token) {
  std::string said =
      "the remote did not accept the token in " + token.variable + " (user " + token.user;
  if (token.variable == "PROMOTE_GIT_TOKEN") {
    said += env("PROMOTE_GIT_USER").empty() ? "; PROMOTE_GIT_USER sets another"
                                            : " from PROMOTE_GIT_USER";
  }
  return said + ")";
}

// ---------------------------------------------------------------------------------------
// SSH keys

constexpr const char* k_ssh_user = "git";

const std::string k_ssh_how =
    "set PROMOTE_SSH_KEY to a private key file (and PROMOTE_SSH_KEY_PASSPHRASE when it is "
    "encrypted), or run an ssh-agent that holds the key and set SSH_AUTH_SOCK";

std::optional<std::string> base64_decode(std::string_view text);

/// Whether the private key file `path` is encrypted (needs a passphrase): an OpenSSH key
/// whose cipher is not "none", or a PEM key marked ENCRYPTED.
bool is_encrypted(const fs::path& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("ENCRYPTED") != std::string::npos) {
    return true;
  }
  constexpr std::string_view k_begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
  const auto begin = text.find(k_begin);
  const auto end = text.find("-----END", begin == std::string::npos ? 0 : begin + 1);
  if (begin == std::string::npos || end == std::string::npos) {
    return false;
  }
  std::string body;
  for (char c : text.substr(begin + k_begin.size(), end - begin - k_begin.size())) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      body += c;
    }
  }
  // "openssh-key-v1\0", then the cipher name as a string (4-byte length, bytes).
  const auto blob = base64_decode(body);
  constexpr std::size_t k_magic = 15;
  if (!blob || blob->size() < k_magic + 4) {
    return false;
  }
  std::size_t length = 0;
  for (std::size_t i = k_magic; i < k_magic + 4; ++i) {
    length = (length << 8) | static_cast<unsigned char>((*blob)[i]);
  }
  return blob->compare(k_magic + 4, length, "none") != 0;
}

fs::path expand_home(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    return fs::path(env("HOME")) / path.substr(std::min<std::size_t>(path.size(), 2));
  }
  return path;
}

int offer_ssh_key(git_credential** out, const char* username_from_url, RemoteContext& context) {
  const std::string user =
      username_from_url != nullptr && *username_from_url != '\0' ? username_from_url : k_ssh_user;
  const std::string key = env("PROMOTE_SSH_KEY");
  const std::string agent = env("SSH_AUTH_SOCK");
  const std::string passphrase = env("PROMOTE_SSH_KEY_PASSPHRASE");
  if (context.key_offers++ > 0) {
    context.failure = !key.empty() ? "the remote did not accept the SSH key in PROMOTE_SSH_KEY (" +
                                         expand_home(key).string() + ") for user " + user
                                   : "the remote accepted none of the keys of the ssh-agent at "
                                     "SSH_AUTH_SOCK for user " +
                                         user;
    if (!key.empty() && !passphrase.empty()) {
      context.failure += ", or PROMOTE_SSH_KEY_PASSPHRASE does not open the key";
    }
    return GIT_EUSER;
  }
  if (!key.empty()) {
    const fs::path private_key = expand_home(key);
    std::error_code ec;
    if (!fs::is_regular_file(private_key, ec)) {
      context.failure = "PROMOTE_SSH_KEY names " + private_key.string() +
                        ", which is not a readable file; set it to a private key file";
      return GIT_EUSER;
    }
    if (passphrase.empty() && is_encrypted(private_key)) {
      context.failure = "the SSH key in PROMOTE_SSH_KEY (" + private_key.string() +
                        ") is encrypted: set PROMOTE_SSH_KEY_PASSPHRASE to its passphrase";
      return GIT_EUSER;
    }
    const fs::path public_key = private_key.string() + ".pub";
    const bool has_public = fs::is_regular_file(public_key, ec);
    return git_credential_ssh_key_new(out, user.c_str(), has_public ? public_key.c_str() : nullptr,
                                      private_key.c_str(),
                                      passphrase.empty() ? nullptr : passphrase.c_str());
  }
  if (!agent.empty()) {
    return git_credential_ssh_key_from_agent(out, user.c_str());
  }
  context.failure = "the remote asks for an SSH key: " + k_ssh_how;
  return GIT_EUSER;
}

// ---------------------------------------------------------------------------------------
// known_hosts: base64, SHA-1 and HMAC-SHA-1 (for hashed host names), matching

constexpr std::string_view k_base64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') {
      break;
    }
    const auto value = k_base64.find(c);
    if (value == std::string_view::npos) {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

/// Base64 without padding, as OpenSSH prints fingerprints.
std::string base64_encode(const unsigned char* data, std::size_t size) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t i = 0; i < size; ++i) {
    bits = (bits << 8) | data[i];
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(k_base64[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) {
    out.push_back(k_base64[(bits << (6 - count)) & 0x3f]);
  }
  return out;
}

std::string sha1(std::string_view data) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string message(data);
  const std::uint64_t bit_length = static_cast<std::uint64_t>(data.size()) * 8;
  message.push_back(static_cast<char>(0x80));
  while (message.size() % 64 != 56) {
    message.push_back('\0');
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    message.push_back(static_cast<char>((bit_length >> shift) & 0xff));
  }
  const auto rotate = [](std::uint32_t value, int by) {
    return (value << by) | (value >> (32 - by));
  };
  for (std::size_t block = 0; block < message.size(); block += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto byte = [&](int k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(message[block + 4 * i + k]));
      };
      w[i] = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
    }
    for (int i = 16; i < 80; ++i) {
      w[i] = rotate(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f = 0;
      std::uint32_t k = 0;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t next = rotate(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotate(b, 30);
      b = a;
      a = next;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::string digest;
  for (std::uint32_t word : h) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      digest.push_back(static_cast<char>((word >> shift) & 0xff));
    }
  }
  return digest;
}

std::string hmac_sha1(std::string key, std::string_view message) {
  if (key.size() > 64) {
    key = sha1(key);
  }
  key.resize(64, '\0');
  std::string inner(64, '\0');
  std::string outer(64, '\0');
  for (std::size_t i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(key[i] ^ 0x36);
    outer[i] = static_cast<char>(key[i] ^ 0x5c);
  }
  return sha1(outer + sha1(inner + std::string(message)));
}

/// OpenSSH's wildcard match: '*' any run, '?' any one character; case-insensitive.
bool glob(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) {
    return name.empty();
  }
  if (pattern.front() == '*') {
    for (std::size_t skip = 0; skip <= name.size(); ++skip) {
      if (glob(pattern.substr(1), name.substr(skip))) {
        return true;
      }
    }
    return false;
  }
  if (name.empty()) {
    return false;
  }
  const bool same =
      pattern.front() == '?' || std::tolower(static_cast<unsigned char>(pattern.front())) ==
                                    std::tolower(static_cast<unsigned char>(name.front()));
  return same && glob(pattern.substr(1), name.substr(1));
}

/// Whether the host field of a known_hosts line (patterns, or one |1|salt|hash) names `name`.
bool hosts_match(std::string_view field, const std::string& name) {
  if (field.starts_with("|1|")) {
    const auto bar = field.find('|', 3);
    if (bar == std::string_view::npos) {
      return false;
    }
    const auto salt = base64_decode(field.substr(3, bar - 3));
    const auto hash = base64_decode(field.substr(bar + 1));
    return salt && hash && hmac_sha1(*salt, name) == *hash;
  }
  bool matched = false;
  std::size_t start = 0;
  while (start <= field.size()) {
    auto end = field.find(',', start);
    if (end == std::string_view::npos) {
      end = field.size();
    }
    std::string_view pattern = field.substr(start, end - start);
    const bool negated = pattern.starts_with('!');
    if (negated) {
      pattern.remove_prefix(1);
    }
    if (glob(pattern, name)) {
      if (negated) {
        return false;
      }
      matched = true;
    }
    start = end + 1;
  }
  return matched;
}

enum class HostKeyVerdict { unknown, known, changed, revoked };

/// What `file` says about `key` (the raw public key blob) for `name`.
HostKeyVerdict look_up(const fs::path& file, const std::string& name, const std::string& key) {
  std::ifstream in(file);
  HostKeyVerdict verdict = HostKeyVerdict::unknown;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string hosts;
    std::string type;
    std::string blob;
    if (!(fields >> hosts) || hosts.starts_with('#')) {
      continue;
    }
    std::string marker;
    if (hosts.starts_with('@')) {
      marker = hosts;
      if (!(fields >> hosts)) {
        continue;
      }
    }
    if (!(fields >> type >> blob) || marker == "@cert-authority" || !hosts_match(hosts, name)) {
      continue;
    }
    const auto decoded = base64_decode(blob);
    const bool same = decoded && *decoded == key;
    if (marker == "@revoked") {
      if (same) {
        return HostKeyVerdict::revoked;
      }
      continue;
    }
    if (same) {
      verdict = HostKeyVerdict::known;
    } else if (verdict == HostKeyVerdict::unknown) {
      verdict = HostKeyVerdict::changed;
    }
  }
  return verdict;
}

/// The key type a raw SSH public key blob starts with ("ssh-ed25519"), or "".
std::string key_type(const std::string& key) {
  if (key.size() < 4) {
    return "";
  }
  std::size_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length = (length << 8) | static_cast<unsigned char>(key[i]);
  }
  return length <= key.size() - 4 ? key.substr(4, length) : "";
}

bool insecure_accept_host() {
  const std::string value = lower(env("PROMOTE_SSH_INSECURE_ACCEPT_HOST"));
  return value == "1" || value == "true" || value == "yes";
}

}  // namespace

bool is_ssh_url(std::string_view url) {
  return parse_address(url).ssh;
}

}  // namespace detail

std::string credential_variable(std::string_view url, std::string_view provider) {
  const detail::Address address = detail::parse_address(url);
  if (address.ssh) {
    for (const char* variable : {"PROMOTE_SSH_KEY", "SSH_AUTH_SOCK"}) {
      if (!env(variable).empty()) {
        return variable;
      }
    }
    return "";
  }
  const auto token = detail::token_for(detail::forge_of(address.host, std::string(provider)));
  return token ? token->variable : "";
}

namespace detail {

std::string unsupported(std::string_view url) {
  if (is_ssh_url(url) && !supports_ssh()) {
    return "this build of libgit2 has no SSH support; use an https URL with a token "
           "(PROMOTE_GIT_TOKEN)";
  }
  return "";
}

std::string ssh_hint(const RemoteContext& context, const std::string& libgit2_message) {
  if (!is_ssh_url(context.url) || context.key_offers == 0) {
    return "";
  }
  if (libgit2_message.find("private key") != std::string::npos ||
      libgit2_message.find("passphrase") != std::string::npos) {
    const std::string key = env("PROMOTE_SSH_KEY");
    if (!key.empty()) {
      return "check the key in PROMOTE_SSH_KEY (" + expand_home(key).string() +
             ") and PROMOTE_SSH_KEY_PASSPHRASE";
    }
  }
  return "";
}

int acquire_credentials(git_credential** out, const char* url, const char* username_from_url,
                        unsigned int allowed, void* payload) {
  auto& context = *static_cast<RemoteContext*>(payload);
  const Address address = parse_address(url != nullptr ? url : context.url);
  if (address.ssh) {
    if ((allowed & GIT_CREDENTIAL_SSH_KEY) != 0) {
      return offer_ssh_key(out, username_from_url, context);
    }
    if ((allowed & GIT_CREDENTIAL_USERNAME) != 0) {
      return git_credential_username_new(out, k_ssh_user);
    }
    context.failure =
        "the ssh server does not take public keys, and promote authenticates over ssh with a "
        "key only (PROMOTE_SSH_KEY or an ssh-agent)";
    return GIT_EUSER;
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) == 0) {
    context.failure =
        "the remote asks for credentials other than a token (promote gives an access token "
        "over http(s) and an SSH key over ssh)";
    return GIT_EUSER;
  }
  const std::string forge = forge_of(address.host, context.provider);
  const auto token = token_for(forge);
  if (!token) {
    context.failure = missing_token(forge);
    return GIT_EUSER;
  }
  if (const Address configured = parse_address(context.url);
      !may_send_token(address, configured)) {
    context.failure = "the remote asks for credentials at " + origin(address) +
                      ", not at the host of its URL (" + origin(configured) + "): " +
                      token->variable +
                      " is sent only to that host, and over plain http only to the very host "
                      "and port of an http:// URL (a redirect elsewhere gets nothing)";
    return GIT_EUSER;
  }
  if (context.token_offers++ > 0) {
    context.failure = refused_token(*token);
    return GIT_EUSER;
  }
  return git_credential_userpass_plaintext_new(out, token->user.c_str(), token->secret.c_str());
}

int check_certificate(git_cert* cert, int valid, const char* host, void* payload) {
  if (cert == nullptr || cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
    return GIT_PASSTHROUGH;  // TLS: libgit2 verifies the certificate chain itself
  }
  auto& context = *static_cast<RemoteContext*>(payload);
  if (valid != 0 || insecure_accept_host()) {
    return 0;  // valid: libgit2 found the key in ~/.ssh/known_hosts
  }
  const auto* hostkey = reinterpret_cast<const git_cert_hostkey*>(cert);
  const Address address = parse_address(context.url);
  const std::string name = host != nullptr ? lower(host) : address.host;
  const std::string entry = address.port != 0 && address.port != 22
                                ? "[" + name + "]:" + std::to_string(address.port)
                                : name;
  std::vector<fs::path> files;
  if (const std::string given = env("PROMOTE_SSH_KNOWN_HOSTS"); !given.empty()) {
    files.push_back(expand_home(given));
  }
  if (const std::string home = env("HOME"); !home.empty()) {
    files.push_back(fs::path(home) / ".ssh" / "known_hosts");
  }
  std::string key;
  if ((hostkey->type & GIT_CERT_SSH_RAW) != 0 && hostkey->hostkey != nullptr) {
    key.assign(hostkey->hostkey, hostkey->hostkey_len);
  }
  std::string shown = entry;
  if (!key_type(key).empty()) {
    shown += " (" + key_type(key);
    if ((hostkey->type & GIT_CERT_SSH_SHA256) != 0) {
      shown += " SHA256:" + base64_encode(hostkey->hash_sha256, sizeof hostkey->hash_sha256);
    }
    shown += ")";
  }
  std::string names;
  for (const auto& file : files) {
    names += (names.empty() ? "" : " or ") + file.string();
    if (key.empty()) {
      continue;
    }
    switch (look_up(file, entry, key)) {
      case HostKeyVerdict::known:
        return 0;
      case HostKeyVerdict::revoked:
        context.failure = "the host key of " + shown + " is marked @revoked in " + file.string();
        return GIT_ECERTIFICATE;
      case HostKeyVerdict::changed:
        context.failure = "the host key of " + shown + " does not match the one " + file.string() +
                          " holds for it: the host changed its key or someone is in between; "
                          "check the key with the host's owner and update that file";
        return GIT_ECERTIFICATE;
      case HostKeyVerdict::unknown:
        break;
    }
  }
  const std::string port =
      address.port != 0 && address.port != 22 ? "-p " + std::to_string(address.port) + " " : "";
  context.failure = "the host key of " + shown + " is not in " +
                    (names.empty() ? std::string("any known_hosts file") : names) +
                    ": add it (ssh-keyscan " + port + name +
                    ", checked against what the host's owner publishes) to ~/.ssh/known_hosts "
                    "or to a file named by PROMOTE_SSH_KNOWN_HOSTS, or set "
                    "PROMOTE_SSH_INSECURE_ACCEPT_HOST=1 to accept any host key";
  return GIT_ECERTIFICATE;
}

}  // namespace detail

}  // namespace promote::git
