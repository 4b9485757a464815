#include "engine/pipeline/config_node.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "engine/util/text.hpp"

namespace promote::pipeline {

void Diagnostics::add(const Location& where, const std::string& message) {
  // One line each, whatever the file quoted in it holds (util/text.hpp).
  m_messages.push_back(util::one_line(where.to_string() + ": " + message));
}

Error Diagnostics::to_error() const {
  // A hostile file can hold a problem on every line; the first hundred say enough.
  constexpr std::size_t k_max_reported = 100;
  std::string text;
  for (std::size_t i = 0; i < m_messages.size() && i < k_max_reported; ++i) {
    if (!text.empty()) {
      text += '\n';
    }
    text += m_messages[i];
  }
  if (m_messages.size() > k_max_reported) {
    text += "\n... and " + std::to_string(m_messages.size() - k_max_reported) + " more problems";
  }
  return make_error(ErrorKind::config, text);
}

std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

namespace {

// A name or value from the file as a message quotes it: control bytes (terminal escapes) as
// \xNN, cut after 120 bytes.
std::string excerpt(std::string_view text) {
  constexpr std::size_t k_max_excerpt = 120;
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < k_max_excerpt; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0xf];
    } else {
      out += text[i];
    }
  }
  if (text.size() > k_max_excerpt) {
    out += "... (" + std::to_string(text.size()) + " bytes)";
  }
  return out;
}

// Optimal string alignment distance: Levenshtein plus the swap of two adjacent letters
// as one edit, the commonest typo ("junti" for "junit", "form" for "from").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> before(b.size() + 1);
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    before.swap(previous);
    previous.swap(row);
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
  }
  return row[b.size()];
}

std::string quoted(const YAML::Node& node) {
  if (node.IsScalar()) {
    return in_quotes(excerpt(node.Scalar()));
  }
  if (node.IsSequence()) {
    return "a list";
  }
  if (node.IsMap()) {
    return "a mapping";
  }
  return "nothing";
}

}  // namespace

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

ConfigNode ConfigNode::absent(const ConfigNode& parent) {
  ConfigNode node(YAML::Node(), parent.m_file, *parent.m_diagnostics);
  node.m_fallback = parent.location();
  return node;
}

Location ConfigNode::location() const {
  if (m_fallback.line > 0 && is_null()) {
    return m_fallback;
  }
  const YAML::Mark mark = m_node ? m_node.Mark() : YAML::Mark::null_mark();
  if (mark.is_null()) {
    return Location{m_file, 0, 0};
  }
  return Location{m_file, mark.line + 1, mark.column + 1};
}

void ConfigNode::error(const std::string& message) const { m_diagnostics->add(location(), message); }

bool ConfigNode::expect_map(std::string_view what, const std::vector<std::string>& allowed) const {
  if (!m_node.IsMap()) {
    error(std::string(what) + " must be a mapping, got " + quoted(m_node));
    return false;
  }
  std::set<std::string> seen;
  for (const auto& pair : m_node) {
    const ConfigNode key(pair.first, m_file, *m_diagnostics);
    if (!pair.first.IsScalar()) {
      key.error("keys of " + std::string(what) + " must be plain names");
      continue;
    }
    const std::string& name = pair.first.Scalar();
    if (!seen.insert(name).second) {
      key.error("duplicate field '" + excerpt(name) + "' in " + std::string(what));
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string message = "unknown field '" + excerpt(name) + "' in " + std::string(what);
      if (const std::string close = did_you_mean(name, allowed); !close.empty()) {
        message += " (did you mean '" + close + "'?)";
      }
      key.error(message);
    }
  }
  return true;
}

std::optional<ConfigNode> ConfigNode::get(std::string_view key) const {
  if (!m_node.IsMap()) {
    return std::nullopt;
  }
  for (const auto& pair : m_node) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      ConfigNode value(pair.second, m_file, *m_diagnostics);
      value.m_fallback = ConfigNode(pair.first, m_file, *m_diagnostics).location();
      return value;
    }
  }
  return std::nullopt;
}

std::optional<ConfigNode> ConfigNode::require(std::string_view key, std::string_view what) const {
  auto value = get(key);
  if (!value && m_node.IsMap()) {
    error("missing required field '" + std::string(key) + "' in " + std::string(what));
  }
  return value;
}

std::vector<ConfigNode> ConfigNode::items(std::string_view what) const {
  std::vector<ConfigNode> out;
  if (!m_node.IsSequence()) {
    error(in_quotes(what) + " must be a list, got " + quoted(m_node));
    return out;
  }
  for (const auto& item : m_node) {
    out.emplace_back(item, m_file, *m_diagnostics);
  }
  return out;
}

std::vector<std::pair<ConfigNode, ConfigNode>> ConfigNode::entries(std::string_view what) const {
  std::vector<std::pair<ConfigNode, ConfigNode>> out;
  if (!m_node.IsMap()) {
    error(in_quotes(what) + " must be a mapping, got " + quoted(m_node));
    return out;
  }
  for (const auto& pair : m_node) {
    out.emplace_back(ConfigNode(pair.first, m_file, *m_diagnostics),
                     ConfigNode(pair.second, m_file, *m_diagnostics));
  }
  return out;
}

std::optional<std::string> ConfigNode::as_string(std::string_view what) const {
  if (!m_node.IsScalar()) {
    error(in_quotes(what) + " must be a string, got " + quoted(m_node));
    return std::nullopt;
  }
  return m_node.Scalar();
}

std::optional<double> ConfigNode::as_number(std::string_view what) const {
  if (m_node.IsScalar()) {
    const std::string& text = m_node.Scalar();
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && std::isfinite(value)) {
      return value;
    }
  }
  error(in_quotes(what) + " must be a number, got " + quoted(m_node));
  return std::nullopt;
}

std::optional<long long> ConfigNode::as_integer(std::string_view what) const {
  if (m_node.IsScalar()) {
    const std::string& text = m_node.Scalar();
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size()) {
      return value;
    }
  }
  error(in_quotes(what) + " must be an integer, got " + quoted(m_node));
  return std::nullopt;
}

std::optional<bool> ConfigNode::as_bool(std::string_view what) const {
  if (m_node.IsScalar()) {
    const std::string& text = m_node.Scalar();
    if (text == "true") {
      return true;
    }
    if (text == "false") {
      return false;
    }
  }
  error(in_quotes(what) + " must be true or false, got " + quoted(m_node));
  return std::nullopt;
}

std::optional<std::chrono::seconds> ConfigNode::as_duration(std::string_view what) const {
  if (m_node.IsScalar()) {
    if (auto duration = parse_duration(m_node.Scalar())) {
      return duration;
    }
  }
  error(in_quotes(what) + " must be a duration such as 90s, 5m, 2h or 1d, got " +
        quoted(m_node));
  return std::nullopt;
}

std::optional<std::vector<std::string>> ConfigNode::as_string_list(std::string_view what) const {
  if (m_node.IsScalar()) {
    return std::vector<std::string>{m_node.Scalar()};
  }
  if (!m_node.IsSequence()) {
    error(in_quotes(what) + " must be a string or a list of strings, got " +
          quoted(m_node));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& item : m_node) {
    ConfigNode element(item, m_file, *m_diagnostics);
    if (auto text = element.as_string(what)) {
      out.push_back(*text);
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    long long number = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data() + text.size() || number < 0) {
      return std::nullopt;
    }
    i = static_cast<std::size_t>(end - text.data());
    long long unit = 0;
    switch (text[i]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: return std::nullopt;
    }
    if (number > (1LL << 40) / unit) {
      return std::nullopt;
    }
    total += number * unit;
    ++i;
  }
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds duration) {
  long long left = duration.count();
  if (left <= 0) {
    return "0s";
  }
  std::string out;
  const std::pair<long long, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (const auto& [size, name] : units) {
    if (left >= size) {
      out += std::to_string(left / size) + name;
      left %= size;
    }
  }
  return out;
}

}  // namespace promote::pipeline
