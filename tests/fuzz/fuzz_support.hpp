#pragma once
// Helpers shared by the libFuzzer targets: a property check that aborts (so libFuzzer saves the
// input), a YAML tree rendering with some values masked, and the check that an edited text
// differs from its input only inside image-reference scalars.
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/image/reference.hpp"
#include "engine/overlay/splice.hpp"

namespace promote::fuzz {

/// Aborts with `what` when `condition` is false: a violated property is a crash for libFuzzer.
inline void require(bool condition, const std::string& what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
    std::abort();
  }
}

/// The fuzz input as text.
inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// A few image references the editors are asked to set, picked by `selector`: with and without
/// registry, tag and digest, and one tag YAML would read as a number.
inline image::Reference pick_target(std::size_t selector) {
  static const char* const k_targets[] = {
      "ghcr.io/acme/api:1.4.3",
      "registry.example.com:5000/team/web:1.10",
      "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      ("docker.io/library/redis:7.2@sha256:"
       "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"),
  };
  auto parsed = image::parse(k_targets[selector % std::size(k_targets)]);
  require(parsed.has_value(), "a fixed target does not parse");
  return *parsed;
}

/// Whether a character may be part of a rendered image reference or its quotes.
inline bool is_reference_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@' || c == '"' ||
         c == '\'' || c == '[' || c == ']';
}

/// Splits text into lines, each with its line ending.
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::size_t stop = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, stop - start));
    start = stop;
  }
  return lines;
}

/// Whether position `at` of `line` lies inside a quoted scalar: one whose opening quote starts a
/// value (at the line's start, after a key's colon, a flow indicator or an item's dash) and is not
/// closed before `at`.
inline bool inside_quotes(std::string_view line, std::size_t at) {
  char open = 0;
  for (std::size_t k = 0; k < at && k < line.size(); ++k) {
    const char c = line[k];
    if (open == 0) {
      std::size_t before = k;  // past the blanks before `c`
      while (before > 0 && (line[before - 1] == ' ' || line[before - 1] == '\t')) {
        --before;
      }
      const bool starts_value =
          before == 0 || std::string_view(":[{,").find(line[before - 1]) != std::string_view::npos ||
          (line[before - 1] == '-' && before < k);
      if ((c == '"' || c == '\'') && starts_value) {
        open = c;
      } else if (c == '#' && (k == 0 || line[k - 1] == ' ' || line[k - 1] == '\t')) {
        return false;  // the rest of the line is a comment
      }
    } else if (open == '"' && c == '\\') {
      ++k;  // an escaped character
    } else if (c == open) {
      if (open == '\'' && k + 1 < line.size() && line[k + 1] == '\'') {
        ++k;  // '' is a quote inside single quotes
      } else {
        open = 0;
      }
    }
  }
  return open != 0;
}

/// Requires `after` to have the lines of `before`, where each changed line differs only in one
/// run that `after` fills with image-reference characters (a value and its quotes); lines for which
/// `may_insert` holds may be added to `after` (a `digest:` key a Helm edit adds).
inline void require_only_values_changed(
    std::string_view before, std::string_view after,
    const std::function<bool(std::string_view)>& may_insert = {}) {
  const auto old_lines = lines_of(before);
  const auto new_lines = lines_of(after);
  const auto content = [](std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    return line;
  };
  std::size_t j = 0;
  for (std::size_t i = 0; i < old_lines.size(); ++i, ++j) {
    // A line may be inserted before a line that is found again right after it.
    if (j + 1 < new_lines.size() && new_lines[j] != old_lines[i] && may_insert &&
        may_insert(new_lines[j]) && content(new_lines[j + 1]) == content(old_lines[i])) {
      ++j;
    }
    require(j < new_lines.size(), "the edit removed lines");
    const std::string_view a = content(old_lines[i]);
    const std::string_view b = content(new_lines[j]);
    const bool last_without_eol = i + 1 == old_lines.size() && a.size() == old_lines[i].size();
    require(last_without_eol || old_lines[i].substr(a.size()) == new_lines[j].substr(b.size()),
            "line " + std::to_string(i + 1) + " changed its line ending");
    if (a == b) {
      continue;
    }
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) {
      ++prefix;
    }
    std::size_t suffix = 0;
    while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
           a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
      ++suffix;
    }
    // What is written is a reference and its quotes; what it replaced (possibly a quoted
    // value with escapes, where a '#' is text) held no comment.
    const std::string where = "line " + std::to_string(i + 1) +
                              " changed outside an image value: '" + std::string(a) + "' -> '" +
                              std::string(b) + "'";
    // A key with no value is given one, at the end of the line (`digest:`, `digest: `) or
    // before its comment (`digest:  # pinned`), with blanks on either side: the run that
    // differs may hold blanks at its ends; what lies between them is the reference.
    std::size_t from = prefix;
    std::size_t to = b.size() - suffix;
    if (prefix == a.size() - suffix && prefix < to) {
      const std::size_t key_end = a.find_last_not_of(" \t", prefix - 1);
      const std::size_t rest = a.find_first_not_of(" \t", prefix);
      const bool after_key = prefix > 0 && key_end != std::string_view::npos && a[key_end] == ':';
      const bool nothing_after = rest == std::string_view::npos || a[rest] == '#';
      while (after_key && from < to && (b[from] == ' ' || b[from] == '\t')) {
        ++from;
      }
      while (after_key && nothing_after && to > from && (b[to - 1] == ' ' || b[to - 1] == '\t')) {
        --to;
      }
      require(from < to, where);
    }
    for (std::size_t k = from; k < to; ++k) {
      require(is_reference_char(b[k]), where);
    }
    const bool quoted = inside_quotes(a, prefix);
    for (std::size_t k = prefix; k < a.size() - suffix && !quoted; ++k) {
      require(a[k] != '#' || (k > 0 && a[k - 1] != ' ' && a[k - 1] != '\t'), where);
    }
  }
  while (j < new_lines.size()) {
    require(may_insert && may_insert(new_lines[j]), "the edit appended lines");
    ++j;
  }
}

/// Which values a tree rendering leaves out: called with the dotted path of a map value or
/// sequence item, its key ("" for an item) and its node (for an empty map value, its key's
/// node: yaml-cpp marks an empty value where the next token stands, often on the next line);
/// by `render_documents` also with path "" for a document that is a scalar.
using Mask = std::function<bool(const std::string& path, const std::string& key,
                                const YAML::Node& node)>;

/// Renders a YAML tree as text (tags, scalars, keys in order), with the values `mask` selects
/// replaced by a placeholder. Bounded in depth and size, so aliases cannot blow it up.
inline void render_tree(const YAML::Node& node, const Mask& mask, const std::string& path,
                        int depth, std::string& out) {
  if (depth > 64 || out.size() > (1u << 20)) {
    out += "<cut>";
    return;
  }
  out += node.Tag();
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      out += "=" + node.Scalar() + ";";
      return;
    case YAML::NodeType::Sequence:
      out += "[";
      for (std::size_t i = 0; i < node.size(); ++i) {
        const std::string child = path + "." + std::to_string(i);
        if (mask && mask(child, "", node[i])) {
          out += "<masked>;";
        } else {
          render_tree(node[i], mask, child, depth + 1, out);
        }
      }
      out += "]";
      return;
    case YAML::NodeType::Map:
      out += "{";
      for (const auto& entry : node) {
        const std::string key =
            entry.first.IsScalar() ? entry.first.Scalar() : std::string("<complex>");
        const std::string child = path.empty() ? key : path + "." + key;
        // A masked value is left out with its key: an edit may add such a key.
        if (mask && mask(child, key, entry.second.IsNull() ? entry.first : entry.second)) {
          continue;
        }
        out += key + ":";
        render_tree(entry.second, mask, child, depth + 1, out);
      }
      out += "}";
      return;
    default:
      out += "~;";
      return;
  }
}

/// The documents of `text`, empty when it does not parse. Through the editors' loader, which
/// refuses the inputs yaml-cpp alone would loop forever on.
inline std::vector<YAML::Node> load_documents(std::string_view text, bool* parsed = nullptr) {
  auto loaded = overlay::splice::load_all(text, "fuzz.yaml");
  if (parsed != nullptr) {
    *parsed = loaded.has_value();
  }
  return loaded ? std::move(*loaded) : std::vector<YAML::Node>{};
}

/// Every document of `text` rendered by `render_tree`; `parsed` is false when it does not parse.
inline std::vector<std::string> render_documents(std::string_view text, const Mask& mask,
                                                 bool& parsed) {
  std::vector<std::string> out;
  for (const auto& document : load_documents(text, &parsed)) {
    out.emplace_back();
    if (document.IsScalar() && mask && mask("", "", document)) {
      out.back() = "<masked>;";
    } else {
      render_tree(document, mask, "", 0, out.back());
    }
  }
  return out;
}

/// Requires `after` to parse, and to hold the same YAML as `before` apart from the masked values.
/// With `may_fill_empty`, an empty text or a null document may become a map of masked keys only
/// (a kustomization that gains its `images:`).
inline void require_same_tree(std::string_view before, std::string_view after, const Mask& mask,
                              bool may_fill_empty = false) {
  bool before_parsed = false;
  bool after_parsed = false;
  auto a = render_documents(before, mask, before_parsed);
  const auto b = render_documents(after, mask, after_parsed);
  require(after_parsed, "the edited text does not parse");
  if (!before_parsed) {
    return;
  }
  const auto join = [](const std::vector<std::string>& documents) {
    std::string text;
    for (const auto& document : documents) {
      text += document + "\n---\n";
    }
    return text;
  };
  if (may_fill_empty) {
    if (a.empty() && b.size() == 1) {
      a.push_back("~;");
    }
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      const bool filled = b[i].size() >= 2 && b[i].compare(b[i].size() - 2, 2, "{}") == 0;
      if (a[i].size() >= 2 && a[i].compare(a[i].size() - 2, 2, "~;") == 0 && filled) {
        a[i] = b[i];
      }
    }
  }
  require(a == b, "the edit changed YAML outside the edited values:\n" + join(a) + "\n=>\n" +
                      join(b));
}

}  // namespace promote::fuzz
