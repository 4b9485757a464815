#pragma once
// The regular expressions of kustomize's patch targets (`name: .*-api`, `kind:
// Deployment|StatefulSet`), matched without backtracking: kustomize's Go regexp runs in linear
// time, and a pattern in a repository promote reads must not cost it more than that.

#include <optional>
#include <string_view>

namespace promote::overlay {

/// Whether `text` matches `pattern` as a whole (kustomize anchors target patterns at both ends).
/// The pattern may hold literal characters, `.`, bracket classes (`[a-z0-9-]`, `[^.]`), the
/// escapes `\d`, `\w`, `\s` and `\` before punctuation, `*`, `+` and `?` after one of those, `|`
/// between whole alternatives, and `^`/`$` at its ends. Time and memory are at most proportional
/// to the pattern's length times the text's. Returns nullopt for any other syntax (groups,
/// counted repetition, a quantifier with nothing before it, an unclosed class).
std::optional<bool> match_pattern(std::string_view pattern, std::string_view text);

}  // namespace promote::overlay
