#pragma once
// Carrying configuration from one environment's YAML file into another's, key by key:
//
//   carry: {file: envs/{stage}/values.yaml, keys: [config.featureFlags, image.pullPolicy]}
//
// copies the values at those dotted paths from the source stage's file into the target stage's,
// as text: the source's value is taken as written (comments inside it included), re-indented to
// where the target's value sits and written with the target's line ending, and everything else
// of the target stays byte for byte, a missing final newline included (YAML is never re-emitted). A
// scalar replaces a scalar's bytes; a block map, list or block scalar replaces the lines of the
// target's block under its key line, which stays; a flow collection or scalar on one side and a
// block on the other is handled too.
//
// Refused (input, FILE:LINE:COL of the file concerned): a key absent in either file (promote does
// not add keys), an anchor, alias or explicit tag in a carried value, an anchor or alias on the
// path to it, a block value for a target value inside a flow collection, and text that yaml-cpp
// reads but that would read differently once moved: a key without its ':' on its line, a value
// not below its key, a line less indented than its value, an unclosed string, a control
// character, a block scalar whose final line break or following lines the move would change.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/error.hpp"

namespace promote::overlay {

/// The values at `keys` (dotted paths from the top of the first non-empty document; a key with a
/// dot cannot be named) as canonical JSON with sorted keys and no spaces, each scalar as the
/// string YAML holds and a null as null: `{"config.featureFlags":{"checkout":"true"},
/// "image.pullPolicy":"Always"}`, the same however the values are formatted. Fails (input,
/// FILE:LINE:COL) on malformed YAML, a path through something that is not a map, or an absent key.
Result<std::string> carried_values(std::string_view text, const std::string& file,
                                   const std::vector<std::string>& keys);

/// `target` with the value at each of `keys` replaced by the source's, as text, and the number of
/// keys whose value changed (0 and `target` unchanged when all agree as `carried_values` sees
/// them; a value that agrees is not rewritten). Fails (input) on malformed YAML and on what the
/// carry refuses (above); fails (internal, naming the target file) rather than return a result
/// that would not parse, hold the source's values at the keys, or the target's everywhere else.
Result<std::pair<std::string, int>> carry_values(std::string_view source,
                                                 const std::string& source_file,
                                                 std::string_view target,
                                                 const std::string& target_file,
                                                 const std::vector<std::string>& keys);

}  // namespace promote::overlay
