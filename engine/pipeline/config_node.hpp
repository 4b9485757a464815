#pragma once
// A read-only view of a YAML node that knows its file position and reports every
// problem as `FILE:LINE:COL: message` into a shared Diagnostics list, so that one
// load reports all problems at once. The pipeline loader and the gate factories
// validate their configuration through it; nothing downstream reads YAML.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"

namespace promote::pipeline {

/// Problems found while reading a configuration file, in the order found.
class Diagnostics {
 public:
  void add(const Location& where, const std::string& message);
  bool empty() const { return m_messages.empty(); }
  const std::vector<std::string>& messages() const { return m_messages; }
  /// All messages, one per line, as a config Error.
  Error to_error() const;

 private:
  std::vector<std::string> m_messages;
};

/// `text` in single quotes, as messages quote a field: "'what'". It appends rather than
/// writing "'" + std::string(text): GCC 12 at -O2 and above warns falsely about that
/// (-Wrestrict from inside <string>, GCC bug 105651), and CI builds with -Werror.
std::string in_quotes(std::string_view text);

/// The closest of `candidates` to `word` (edit distance at most a third of its length,
/// and at least 1 allowed), or "" when none is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string file, Diagnostics& diagnostics)
      : m_node(std::move(node)), m_file(std::move(file)), m_diagnostics(&diagnostics) {}

  /// A null node standing for a value missing from `parent`; it reports at `parent`'s position.
  static ConfigNode absent(const ConfigNode& parent);

  /// Where this node starts in its file; for a null value, where its key (or parent) is,
  /// since yaml-cpp places an empty value at the next token, often on a later line.
  Location location() const;
  /// Reports `message` at this node's position.
  void error(const std::string& message) const;
  Diagnostics& diagnostics() const { return *m_diagnostics; }
  const std::string& file() const { return m_file; }

  bool is_null() const { return !m_node || m_node.IsNull(); }
  bool is_map() const { return m_node.IsMap(); }
  bool is_sequence() const { return m_node.IsSequence(); }
  bool is_scalar() const { return m_node.IsScalar(); }

  /// Checks this node is a mapping whose keys are all in `allowed` and appear once;
  /// reports "unknown field 'x' (did you mean 'y'?)" and duplicates. `what` names
  /// the node in messages ("stage", "gate 'junit'"). Returns false when it is no map.
  bool expect_map(std::string_view what, const std::vector<std::string>& allowed) const;
  /// The value under `key`, or nullopt when absent (a map is assumed).
  std::optional<ConfigNode> get(std::string_view key) const;
  /// The value under `key`; reports "missing required field 'key' in <what>" when absent.
  std::optional<ConfigNode> require(std::string_view key, std::string_view what) const;
  /// Elements of a sequence; reports "'<what>' must be a list" otherwise.
  std::vector<ConfigNode> items(std::string_view what) const;
  /// Key/value pairs of a map (keys as located nodes); reports when no map.
  std::vector<std::pair<ConfigNode, ConfigNode>> entries(std::string_view what) const;

  /// Typed scalars: each reports "'<what>' must be <type>, got '<text>'" and returns nullopt.
  std::optional<std::string> as_string(std::string_view what) const;
  std::optional<double> as_number(std::string_view what) const;
  std::optional<long long> as_integer(std::string_view what) const;
  std::optional<bool> as_bool(std::string_view what) const;
  /// "90s", "5m", "2h", "1d", "1h30m"; reports a malformed duration.
  std::optional<std::chrono::seconds> as_duration(std::string_view what) const;
  /// A string or a list of strings, as a list.
  std::optional<std::vector<std::string>> as_string_list(std::string_view what) const;

  const YAML::Node& yaml() const { return m_node; }

 private:
  YAML::Node m_node;
  std::string m_file;
  Diagnostics* m_diagnostics;
  Location m_fallback;  ///< where to report a null node (line 0: none)
};

/// Parses a duration such as "90s", "5m", "2h", "1d" or "1h30m" (units s, m, h, d, w).
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

/// Formats seconds as "2h", "1h30m", "45s", "0s".
std::string format_duration(std::chrono::seconds duration);

}  // namespace promote::pipeline
