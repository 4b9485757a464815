#include "engine/image/reference.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "engine/util/text.hpp"

namespace promote::image {

namespace {

constexpr std::size_t k_max_name_length = 255;
constexpr std::size_t k_max_tag_length = 128;
constexpr std::size_t k_sha256_hex_length = 64;
constexpr std::size_t k_min_digest_hex_length = 32;
constexpr std::size_t k_shown_digest_hex = 12;
constexpr std::size_t k_max_quoted = 200;  ///< bytes of a bad reference an error quotes

// The reference as an error quotes it: bytes outside printable ASCII as \xNN (no terminal
// escape or invalid UTF-8 gets through), cut after k_max_quoted bytes.
std::string quoted(std::string_view text) {
  return util::ascii_excerpt(text, k_max_quoted);
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}
bool is_hex_lower(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}
bool is_hex(char c) {
  return is_hex_lower(c) || (c >= 'A' && c <= 'F');
}

bool is_unsafe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) {
    return true;
  }
  for (char meta : std::string_view("$`\\\"';&|<>(){}*?!#~")) {
    if (c == meta) {
      return true;
    }
  }
  return false;
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, with `alnum` deciding what a letter is.
template <class Alnum>
bool matches_component(std::string_view text, Alnum alnum) {
  std::size_t i = 0;
  const auto run = [&] {
    const std::size_t start = i;
    while (i < text.size() && alnum(text[i])) {
      ++i;
    }
    return i > start;
  };
  if (!run()) {
    return false;
  }
  while (i < text.size()) {
    if (text[i] == '.') {
      ++i;
    } else if (text[i] == '_') {
      i += text.substr(i, 2) == "__" ? 2 : 1;
    } else if (text[i] == '-') {
      while (i < text.size() && text[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
    if (!run()) {
      return false;
    }
  }
  return true;
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`, joined by '.'.
bool is_domain_name(std::string_view host) {
  if (host.empty()) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view part =
        host.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty() || !is_alnum(part.front()) || !is_alnum(part.back())) {
      return false;
    }
    for (char c : part) {
      if (!is_alnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

/// host[:port], host a domain name or an IPv6 address in brackets.
bool is_registry(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) {
      return false;
    }
    for (char c : text.substr(1, close - 1)) {
      if (!is_hex(c) && c != ':') {
        return false;
      }
    }
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return false;
    }
    host = {};
    port = rest.empty() ? rest : rest.substr(1);
    if (!rest.empty() && port.empty()) {
      return false;
    }
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (port.empty()) {
      return false;
    }
  }
  for (char c : port) {
    if (!is_digit(c)) {
      return false;
    }
  }
  return host.empty() ? text.starts_with('[') : is_domain_name(host);
}

/// `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}`; sha256 needs exactly 64 lower-case hex.
std::optional<std::string> digest_problem(std::string_view digest) {
  if (digest.empty()) {
    return "digest is empty";
  }
  const std::string invalid = "digest '" + quoted(digest) + "' is invalid";
  const std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return invalid + " (expected algorithm:hex, e.g. sha256: and 64 hex digits)";
  }
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  if (algorithm == "sha256") {
    if (hex.size() != k_sha256_hex_length || !std::all_of(hex.begin(), hex.end(), is_hex_lower)) {
      return invalid + " (sha256 needs exactly 64 lower-case hex digits)";
    }
    return std::nullopt;
  }
  bool algorithm_ok =
      !algorithm.empty() && is_lower_alnum(algorithm.front()) && is_lower_alnum(algorithm.back());
  for (std::size_t i = 0; algorithm_ok && i < algorithm.size(); ++i) {
    const char c = algorithm[i];
    const bool separator = c == '.' || c == '+' || c == '_' || c == '-';
    if (separator) {
      algorithm_ok = is_lower_alnum(algorithm[i + 1]);
    } else {
      algorithm_ok = is_lower_alnum(c);
    }
  }
  bool hex_ok = hex.size() >= k_min_digest_hex_length;
  for (char c : hex) {
    hex_ok = hex_ok && (is_alnum(c) || c == '=' || c == '_' || c == '-');
  }
  if (!algorithm_ok || !hex_ok) {
    return invalid + " (expected algorithm:hex, e.g. sha256: and 64 hex digits)";
  }
  return std::nullopt;
}

/// `[\w][\w.-]{0,127}`
std::optional<std::string> tag_problem(std::string_view tag) {
  if (tag.empty()) {
    return "tag is empty";
  }
  if (tag.size() > k_max_tag_length) {
    return "tag must be at most 128 characters (it has " + std::to_string(tag.size()) + ")";
  }
  bool ok = is_word(tag.front());
  for (char c : tag) {
    ok = ok && (is_word(c) || c == '.' || c == '-');
  }
  if (!ok) {
    return "tag '" + std::string(tag) +
           "' is invalid (it must start with a letter, digit or '_' and contain only letters, "
           "digits, '_', '.' and '-')";
  }
  return std::nullopt;
}

std::optional<std::string> path_problem(std::string_view path) {
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view part =
        path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (part.empty()) {
      return "repository path has an empty component";
    }
    if (!matches_component(part, is_lower_alnum)) {
      if (matches_component(part, is_alnum)) {
        return "repository name must be lower-case";
      }
      return "repository path component '" + std::string(part) +
             "' is invalid (use lower-case letters and digits, separated by '.', '_', '__' or "
             "dashes)";
    }
    if (slash == std::string_view::npos) {
      return std::nullopt;
    }
    start = slash + 1;
  }
}

}  // namespace

std::string Reference::repository() const {
  return registry.empty() ? path : registry + "/" + path;
}

std::string Reference::to_string() const {
  std::string text = repository();
  if (!tag.empty()) {
    text += ":" + tag;
  }
  if (!digest.empty()) {
    text += "@" + digest;
  }
  return text;
}

std::string Reference::version() const {
  std::string text = tag;
  if (!digest.empty()) {
    const std::size_t colon = digest.find(':');
    const std::size_t shown = colon == std::string::npos ? 0 : colon + 1 + k_shown_digest_hex;
    text += "@";
    text += shown != 0 && digest.size() > shown ? digest.substr(0, shown) + "…" : digest;
  }
  return text;
}

Reference Reference::canonical() const {
  const bool docker_hub = registry.empty() || registry == "docker.io" ||
                          registry == "index.docker.io" || registry == "registry-1.docker.io";
  if (!docker_hub || path.empty()) {
    return *this;
  }
  Reference out = *this;
  out.registry = "docker.io";
  if (path.find('/') == std::string::npos) {
    out.path = "library/" + path;
  }
  return out;
}

bool Reference::same_repository(const Reference& other) const {
  const Reference mine = canonical();
  const Reference theirs = other.canonical();
  return mine.registry == theirs.registry && mine.path == theirs.path;
}

Reference Reference::spelled_as(const Reference& written) const {
  if (!same_repository(written)) {
    return *this;
  }
  Reference out = *this;
  out.registry = written.registry;
  out.path = written.path;
  return out;
}

bool same_repository(std::string_view first, std::string_view second) {
  if (first == second) {
    return true;
  }
  auto a = parse(first);
  auto b = parse(second);
  return a && b && a->tag.empty() && a->digest.empty() && b->tag.empty() && b->digest.empty() &&
         a->same_repository(*b);
}

Result<Reference> parse(std::string_view text) {
  const auto fail = [&](const std::string& why) -> Result<Reference> {
    return make_error(ErrorKind::input,
                      "invalid image reference '" + quoted(text) + "': " + why);
  };
  if (text.empty()) {
    return fail("it is empty");
  }
  if (std::any_of(text.begin(), text.end(), is_unsafe)) {
    return fail("it must not contain whitespace or shell metacharacters");
  }
  Reference ref;
  std::string_view name = text;
  if (const std::size_t at = name.find('@'); at != std::string_view::npos) {
    const std::string_view digest = name.substr(at + 1);
    if (auto problem = digest_problem(digest)) {
      return fail(*problem);
    }
    ref.digest = digest;
    name = name.substr(0, at);
  }
  const std::size_t colon = name.rfind(':');
  const std::size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    const std::string_view tag = name.substr(colon + 1);
    if (auto problem = tag_problem(tag)) {
      return fail(*problem);
    }
    ref.tag = tag;
    name = name.substr(0, colon);
  }
  if (name.empty()) {
    return fail("repository name is empty");
  }
  if (name.size() > k_max_name_length) {
    return fail("repository name must be at most 255 characters (it has " +
                std::to_string(name.size()) + ")");
  }
  std::string_view path = name;
  if (const std::size_t first = name.find('/'); first != std::string_view::npos) {
    const std::string_view head = name.substr(0, first);
    if (head.find_first_of(".:") != std::string_view::npos || head == "localhost" ||
        head.starts_with('[')) {
      if (!is_registry(head)) {
        return fail("registry '" + std::string(head) + "' is not a valid host[:port]");
      }
      ref.registry = head;
      path = name.substr(first + 1);
    }
  }
  if (auto problem = path_problem(path)) {
    return fail(*problem);
  }
  ref.path = path;
  return ref;
}

}  // namespace promote::image
