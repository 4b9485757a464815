#include "engine/overlay/pattern.hpp"

#include <bitset>
#include <cctype>
#include <vector>

namespace promote::overlay {

namespace {

/// One character class with how many times it may repeat.
struct Atom {
  std::bitset<256> chars;
  char repeat = '1';  ///< '1', '?' or '*'
};

std::bitset<256> of(int (*test)(int)) {
  std::bitset<256> out;
  for (int c = 0; c < 256; ++c) {
    out[static_cast<std::size_t>(c)] = test(c) != 0;
  }
  return out;
}

int is_word(int c) {
  return std::isalnum(c) != 0 || c == '_' ? 1 : 0;
}

/// The class an escape stands for (`\d`, `\w`, `\s`, or a punctuation character itself).
std::optional<std::bitset<256>> escaped(char c) {
  switch (c) {
    case 'd':
      return of(&isdigit);
    case 'w':
      return of(&is_word);
    case 's':
      return of(&isspace);
    default:
      break;
  }
  if (std::ispunct(static_cast<unsigned char>(c)) == 0) {
    return std::nullopt;
  }
  std::bitset<256> out;
  out[static_cast<unsigned char>(c)] = true;
  return out;
}

/// A bracket class from after its '['; moves `at` past its ']'.
std::optional<std::bitset<256>> bracket(std::string_view pattern, std::size_t& at) {
  std::bitset<256> out;
  const bool negated = at < pattern.size() && pattern[at] == '^';
  if (negated) {
    ++at;
  }
  bool first = true;
  while (at < pattern.size() && (pattern[at] != ']' || first)) {
    first = false;
    unsigned char low = static_cast<unsigned char>(pattern[at]);
    if (low == '\\') {
      if (++at >= pattern.size()) {
        return std::nullopt;
      }
      auto set = escaped(pattern[at]);
      if (!set) {
        return std::nullopt;
      }
      out |= *set;
      ++at;
      continue;
    }
    ++at;
    if (at + 1 < pattern.size() && pattern[at] == '-' && pattern[at + 1] != ']') {
      const auto high = static_cast<unsigned char>(pattern[at + 1]);
      if (high < low) {
        return std::nullopt;
      }
      for (unsigned c = low; c <= high; ++c) {
        out[c] = true;
      }
      at += 2;
    } else {
      out[low] = true;
    }
  }
  if (at >= pattern.size()) {
    return std::nullopt;  // no closing ']'
  }
  ++at;
  return negated ? ~out : out;
}

/// One alternative as atoms (`x+` becomes `x x*`); nullopt on syntax it does not take.
std::optional<std::vector<Atom>> compile(std::string_view pattern) {
  std::vector<Atom> out;
  for (std::size_t at = 0; at < pattern.size();) {
    const char c = pattern[at++];
    Atom atom;
    if (c == '.') {
      atom.chars.set();
    } else if (c == '[') {
      auto set = bracket(pattern, at);
      if (!set) {
        return std::nullopt;
      }
      atom.chars = *set;
    } else if (c == '\\') {
      if (at >= pattern.size()) {
        return std::nullopt;
      }
      auto set = escaped(pattern[at++]);
      if (!set) {
        return std::nullopt;
      }
      atom.chars = *set;
    } else if (c == '*' || c == '+' || c == '?' || c == '(' || c == ')' || c == '{' || c == '}' ||
               c == '^' || c == '$') {
      return std::nullopt;
    } else {
      atom.chars[static_cast<unsigned char>(c)] = true;
    }
    if (at < pattern.size() && (pattern[at] == '*' || pattern[at] == '?')) {
      atom.repeat = pattern[at++];
    } else if (at < pattern.size() && pattern[at] == '+') {
      ++at;
      out.push_back(atom);
      atom.repeat = '*';
    }
    if (at < pattern.size() &&
        (pattern[at] == '*' || pattern[at] == '+' || pattern[at] == '?' || pattern[at] == '{')) {
      return std::nullopt;  // a quantifier on a quantifier, or counted repetition
    }
    out.push_back(atom);
  }
  return out;
}

/// Whether the atoms match all of `text`: rows of "atoms[j..] match text[i..]", from the last
/// atom back, one row at a time.
bool matches(const std::vector<Atom>& atoms, std::string_view text) {
  const std::size_t n = text.size();
  std::vector<char> next(n + 1, 0);
  next[n] = 1;
  std::vector<char> row(n + 1, 0);
  for (std::size_t j = atoms.size(); j-- > 0;) {
    const Atom& atom = atoms[j];
    for (std::size_t i = n + 1; i-- > 0;) {
      const bool here = i < n && atom.chars[static_cast<unsigned char>(text[i])];
      switch (atom.repeat) {
        case '1':
          row[i] = here && next[i + 1];
          break;
        case '?':
          row[i] = next[i] || (here && next[i + 1]);
          break;
        default:
          row[i] = next[i] || (here && row[i + 1]);
          break;
      }
    }
    next.swap(row);
  }
  return next[0] != 0;
}

}  // namespace

std::optional<bool> match_pattern(std::string_view pattern, std::string_view text) {
  bool any = false;
  std::size_t start = 0;
  while (true) {
    std::size_t bar = start;
    bool in_class = false;
    for (; bar < pattern.size(); ++bar) {
      if (pattern[bar] == '\\') {
        ++bar;
      } else if (pattern[bar] == '[') {
        in_class = true;
      } else if (pattern[bar] == ']') {
        in_class = false;
      } else if (pattern[bar] == '|' && !in_class) {
        break;
      }
    }
    std::string_view alternative = pattern.substr(start, std::min(bar, pattern.size()) - start);
    if (alternative.starts_with('^')) {
      alternative.remove_prefix(1);
    }
    if (alternative.ends_with('$') && !alternative.ends_with("\\$")) {
      alternative.remove_suffix(1);
    }
    auto atoms = compile(alternative);
    if (!atoms) {
      return std::nullopt;
    }
    any = any || matches(*atoms, text);
    if (bar >= pattern.size()) {
      return any;
    }
    start = bar + 1;
  }
}

}  // namespace promote::overlay
