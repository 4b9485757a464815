#pragma once
// The `http` gate: asks a webhook (GET, or POST with the candidate and the stage as JSON)
// and judges its answer: the status code, or a JSON value found by a JSON pointer and
// judged by a condition or compared for equality.

#include <memory>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// Builds an `http` gate from its `with:` block: `url` (required, http or https, without
/// credentials), `method` (GET or POST), `headers` (literal strings, or
/// `{env: NAME, prefix: "Bearer "}` read when the gate runs), `timeout`, `pass_status` and
/// `fail_status` (lists of status codes that override the default mapping), and
/// `json_pointer` with either `condition` ("< 0.01", "between 0.9 and 1.1") or `equals`.
/// Reports every problem into `with.diagnostics()` and returns nullptr when invalid.
///
/// The verdict, by the first rule that applies: a status in `fail_status` fails; a 429, 503
/// or 202 not in `pass_status` with a valid Retry-After (seconds or an HTTP date) is
/// `pending` with retry_after set (at least 1s); a 2xx or a status in `pass_status` passes,
/// or with `json_pointer` the value decides; another 4xx fails (a 429 without Retry-After
/// is an error); anything else (5xx, a redirect, a failed connection, a non-JSON body, a
/// missing value, a non-number judged by a condition) is an `error`. A header's
/// environment variable that is not set is an `error` naming the variable.
/// Values from the environment never appear in the configuration, summaries or details.
std::unique_ptr<Gate> make_http(const pipeline::ConfigNode& with);

}  // namespace promote::gates
