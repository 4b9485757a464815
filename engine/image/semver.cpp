#include "engine/image/semver.hpp"

#include <algorithm>
#include <optional>

#include "engine/util/text.hpp"

namespace promote::image {

namespace {

constexpr std::size_t k_max_quoted = 200;  ///< bytes of a bad version an error quotes

// The text as an error quotes it: bytes outside printable ASCII as \xNN, cut after
// k_max_quoted bytes.
std::string quoted(std::string_view text) {
  std::string out = "'";
  out += util::ascii_excerpt(text, k_max_quoted);
  out += "'";
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_identifier_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_digit);
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

/// Every part of `text` between occurrences of `separator`.
std::vector<std::string_view> split_all(std::string_view text, std::string_view separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + separator.size();
  }
}

/// Whether a constraint's version is one: [v]MAJOR[.MINOR[.PATCH]], each part a number or a
/// wildcard (x, X, *), then an optional -PRERELEASE and +BUILD; `wildcard` tells whether a part
/// is one.
bool is_partial_version(std::string_view text, bool& wildcard) {
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) {
    text.remove_prefix(1);
  }
  const std::size_t suffix = text.find_first_of("-+");
  const std::vector<std::string_view> parts = split(text.substr(0, suffix), '.');
  if (parts.size() > 3) {
    return false;
  }
  for (const std::string_view part : parts) {
    if (part == "x" || part == "X" || part == "*") {
      wildcard = true;
    } else if (!all_digits(part)) {
      return false;
    }
  }
  if (suffix == std::string_view::npos) {
    return true;
  }
  const std::string_view rest = text.substr(suffix + 1);
  return !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) {
    return is_identifier_char(c) || c == '.' || c == '+';
  });
}

/// What is wrong with the dot-separated identifiers of a pre-release (`numbers_strict`: numeric
/// identifiers without leading zeros) or of build metadata; nullopt when nothing is.
std::optional<std::string> check_identifiers(std::string_view text, const std::string& name,
                                             bool numbers_strict) {
  for (const std::string_view identifier : split(text, '.')) {
    if (identifier.empty()) {
      return "the " + name + " has an empty identifier";
    }
    const auto bad = std::find_if_not(identifier.begin(), identifier.end(), is_identifier_char);
    if (bad != identifier.end()) {
      return "the " + name + " identifier " + quoted(identifier) + " holds " +
             quoted(std::string_view(&*bad, 1)) + " (identifiers hold only 0-9, A-Z, a-z and '-')";
    }
    if (numbers_strict && all_digits(identifier) && identifier.size() > 1 &&
        identifier.front() == '0') {
      return "the " + name + " identifier " + quoted(identifier) +
             " is a number with a leading zero";
    }
  }
  return std::nullopt;
}

/// The version, or why it is not one (nullopt reason: not MAJOR.MINOR.PATCH at all).
struct Parsed {
  std::optional<SemVer> version;
  std::optional<std::string> reason;
};

Parsed parse_parts(std::string_view text) {
  const std::size_t plus = text.find('+');
  const std::string_view head = text.substr(0, plus);
  const std::size_t dash = head.find('-');
  const std::vector<std::string_view> core = split(head.substr(0, dash), '.');
  if (core.size() != 3 || !std::all_of(core.begin(), core.end(), all_digits)) {
    return {};
  }
  static const char* const k_names[] = {"major", "minor", "patch"};
  std::uint64_t numbers[3] = {0, 0, 0};
  for (std::size_t i = 0; i < 3; ++i) {
    if (core[i].size() > 1 && core[i].front() == '0') {
      return {std::nullopt, std::string("the ") + k_names[i] + " version " + quoted(core[i]) +
                                " has a leading zero"};
    }
    for (const char c : core[i]) {
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (numbers[i] > (UINT64_MAX - digit) / 10) {
        return {std::nullopt,
                std::string("the ") + k_names[i] + " version " + quoted(core[i]) + " is too large"};
      }
      numbers[i] = numbers[i] * 10 + digit;
    }
  }
  SemVer version{numbers[0], numbers[1], numbers[2], {}, {}};
  if (dash != std::string_view::npos) {
    const std::string_view prerelease = head.substr(dash + 1);
    if (auto wrong = check_identifiers(prerelease, "pre-release", true)) {
      return {std::nullopt, wrong};
    }
    for (const std::string_view identifier : split(prerelease, '.')) {
      version.prerelease.emplace_back(identifier);
    }
  }
  if (plus != std::string_view::npos) {
    version.build = std::string(text.substr(plus + 1));
    if (auto wrong = check_identifiers(version.build, "build metadata", false)) {
      return {std::nullopt, wrong};
    }
  }
  return {std::move(version), std::nullopt};
}

int compare_identifiers(const std::string& a, const std::string& b) {
  const bool a_number = all_digits(a);
  const bool b_number = all_digits(b);
  if (a_number && b_number) {
    // No leading zeros: the longer number is the larger.
    if (a.size() != b.size()) {
      return a.size() < b.size() ? -1 : 1;
    }
  } else if (a_number != b_number) {
    return a_number ? -1 : 1;  // numeric identifiers come first
  }
  const int order = a.compare(b);
  return order < 0 ? -1 : order > 0 ? 1 : 0;
}

int compare_numbers(std::uint64_t a, std::uint64_t b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

}  // namespace

std::string SemVer::to_string() const {
  std::string out =
      std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  for (std::size_t i = 0; i < prerelease.size(); ++i) {
    out += (i == 0 ? "-" : ".") + prerelease[i];
  }
  if (!build.empty()) {
    out += "+" + build;
  }
  return out;
}

Result<SemVer> parse_semver(std::string_view text) {
  const std::string shown = quoted(text);
  if (is_version_range(text)) {
    return make_error(ErrorKind::usage, shown +
                                            " is a version range, not a SemVer 2.0 version: an "
                                            "exact version is needed (e.g. 1.4.2)");
  }
  Parsed parsed = parse_parts(text);
  if (parsed.version) {
    return std::move(*parsed.version);
  }
  if (parsed.reason) {
    return make_error(ErrorKind::usage, shown + " is not a SemVer 2.0 version: " + *parsed.reason);
  }
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V') &&
      parse_parts(text.substr(1)).version) {
    return make_error(ErrorKind::usage, shown + " is not a SemVer 2.0 version: it starts with " +
                                            quoted(text.substr(0, 1)) + " (write " +
                                            quoted(text.substr(1)) + ")");
  }
  return make_error(ErrorKind::usage,
                    shown + " is not a SemVer 2.0 version (MAJOR.MINOR.PATCH, e.g. 1.4.2)");
}

bool is_version_range(std::string_view text) {
  int comparators = 0;
  int alternatives = 0;
  bool marked = false;  // an operator, a wildcard or a hyphen range
  for (std::string_view alternative : split_all(text, "||")) {
    int here = 0;
    std::size_t i = 0;
    const auto skip = [&](bool commas) {
      while (i < alternative.size() &&
             (is_blank(alternative[i]) || (commas && alternative[i] == ','))) {
        ++i;
      }
    };
    for (skip(true); i < alternative.size(); skip(true)) {
      // `A - B`: a '-' on its own between two versions.
      if (here > 0 && alternative[i] == '-' &&
          (i + 1 == alternative.size() || is_blank(alternative[i + 1]))) {
        marked = true;
        ++i;
        continue;
      }
      const std::size_t op_begin = i;
      while (i < alternative.size() &&
             std::string_view("=!<>~^").find(alternative[i]) != std::string_view::npos) {
        ++i;
      }
      const std::string_view op = alternative.substr(op_begin, i - op_begin);
      if (!op.empty()) {
        static const std::string_view k_operators[] = {"=",  "!=", ">", "<",  ">=", "=>",
                                                       "<=", "=<", "~", "~>", "^"};
        if (std::find(std::begin(k_operators), std::end(k_operators), op) ==
            std::end(k_operators)) {
          return false;
        }
        marked = true;
        skip(false);
      }
      const std::size_t version_begin = i;
      while (i < alternative.size() && !is_blank(alternative[i]) && alternative[i] != ',') {
        ++i;
      }
      bool wildcard = false;
      if (!is_partial_version(alternative.substr(version_begin, i - version_begin), wildcard)) {
        return false;
      }
      marked = marked || wildcard;
      ++here;
    }
    if (here == 0) {
      return false;
    }
    comparators += here;
    ++alternatives;
  }
  return marked || comparators > 1 || alternatives > 1;
}

int compare(const SemVer& a, const SemVer& b) {
  if (const int order = compare_numbers(a.major, b.major); order != 0) {
    return order;
  }
  if (const int order = compare_numbers(a.minor, b.minor); order != 0) {
    return order;
  }
  if (const int order = compare_numbers(a.patch, b.patch); order != 0) {
    return order;
  }
  // A release ranks above its pre-releases.
  if (a.prerelease.empty() || b.prerelease.empty()) {
    return a.prerelease.empty() == b.prerelease.empty() ? 0 : a.prerelease.empty() ? 1 : -1;
  }
  const std::size_t common = std::min(a.prerelease.size(), b.prerelease.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (const int order = compare_identifiers(a.prerelease[i], b.prerelease[i]); order != 0) {
      return order;
    }
  }
  return compare_numbers(a.prerelease.size(), b.prerelease.size());
}

}  // namespace promote::image
