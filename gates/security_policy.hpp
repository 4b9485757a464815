#pragma once
// The severity policy shared by the security-scan gates (`trivy`, `grype`, `sarif`): the
// findings a report yields, thresholds per severity, `fixable_only`, counting by unique id
// or by finding, exceptions (a `.trivyignore` file and our own list with owners and
// expiry dates) and the verdict that explains which threshold broke.

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.hpp"
#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"

namespace promote::gates {

/// Severities, worst first; `unknown` is what a scanner could not rate.
enum class Severity { critical, high, medium, low, unknown };

/// Number of severities, for arrays indexed by Severity.
inline constexpr std::size_t k_severity_count = 5;

/// "critical", "high", "medium", "low", "unknown".
const char* to_string(Severity severity);

/// The severity named `name`, case-insensitively ("CRITICAL", "High"), or nullopt.
std::optional<Severity> severity_from_name(std::string_view name);

/// One finding of a scan report, reduced to what the policy judges.
struct Finding {
  std::string id;       ///< vulnerability id, misconfiguration id, secret rule or SARIF rule
  std::string package;  ///< package name, or the file for misconfigurations, secrets, SARIF
  Severity severity = Severity::unknown;
  bool fixable = false;  ///< a fix is available (fixed version, fix state "fixed", SARIF fixes)
  std::string image;     ///< the scanned image reference, when the report names one
};

/// What a report parser found: its findings, and whether the report holds no data at all
/// (nothing was scanned), which is judged by `on_empty` rather than as a clean scan.
struct ScanReport {
  std::vector<Finding> findings;
  bool empty = false;
};

/// How many bytes past the end of a text the JSON reader reads: a text followed by that many
/// readable bytes (util::map_file's padding) is read where it is, any other is copied first.
inline constexpr std::size_t k_json_padding = 64;

/// Parses a report's bytes, after which `padding` bytes can be read (see k_json_padding);
/// `label` names the file in error messages.
using ReportParser = Result<ScanReport> (*)(std::string_view text, const std::string& label,
                                            std::size_t padding);

/// "LABEL:LINE:COL" of a byte offset (0-based) into `text`; columns count bytes.
Location location_of(std::string_view text, std::size_t offset, const std::string& label);

/// One step of the path to a value of a streamed JSON document: a member name (parent an
/// object; its text lives as long as the document is read) or a position (parent an array).
struct JsonStep {
  std::string_view key;
  std::size_t index = 0;
  bool in_array = false;
};

/// What a streamed document's handler wants done with a value that starts.
enum class JsonAction {
  skip,     ///< read past it
  capture,  ///< build it whole (a DOM of that value alone) and hand it to on_captured
  descend,  ///< walk into it (objects and arrays only; a scalar is captured)
};

/// The kind of a value that starts.
enum class JsonKind { object, array, scalar };

/// Receives a JSON document value by value from stream_json, which keeps in memory only
/// the path to the current value and what the handler captures. Paths are empty for the
/// root; `path.back()` names the value.
class JsonStreamHandler {
 public:
  virtual ~JsonStreamHandler() = default;
  /// A value starts at `path`: skip it, capture it or walk into it.
  virtual JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) = 0;
  /// A captured value, whole.
  virtual void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) = 0;
  /// A container walked into ends.
  virtual void on_end(const std::vector<JsonStep>& path) = 0;
};

/// Streams JSON text through `handler` (simdjson's On-Demand API: no DOM of the whole
/// document; the values read past are checked all the same). `padding` bytes after the text
/// can be read (see k_json_padding). Fails (input) with "LABEL: the file is empty" on blank
/// text, "LABEL:LINE:COL: the JSON nests more than 512 levels deep" (util::k_max_json_depth)
/// and "LABEL:LINE:COL: malformed JSON at byte N: what" (nlohmann's words) otherwise; the
/// handler may then have seen the values before the error.
Result<void> stream_json(std::string_view text, const std::string& label,
                         JsonStreamHandler& handler, std::size_t padding = 0);

/// Fails (input) with "LABEL: what" for a document that is JSON but not the expected shape.
Error shape_error(const std::string& label, const std::string& what);

/// The JSON type name of `value` for messages ("object", "array", "string", "number", ...).
std::string json_type(const nlohmann::json& value);

/// `object[key]` when it is an array, nullptr when absent or null; fails (input) with
/// "LABEL: PATH.KEY must be a list, got TYPE" otherwise. `object` must be an object.
Result<const nlohmann::json*> member_list(const nlohmann::json& object, const std::string& key,
                                          const std::string& path, const std::string& label);

/// `object[key]` when it is an object, nullptr when absent or null; fails (input) with
/// "LABEL: PATH.KEY must be an object, got TYPE" otherwise.
Result<const nlohmann::json*> member_object(const nlohmann::json& object, const std::string& key,
                                            const std::string& path, const std::string& label);

/// `object[key]` when it is a string, nullopt when absent or null; fails (input) with
/// "LABEL: PATH.KEY must be a string, got TYPE" otherwise.
Result<std::optional<std::string>> member_string(const nlohmann::json& object,
                                                 const std::string& key, const std::string& path,
                                                 const std::string& label);

/// Fails (input) with "LABEL: PATH must be an object, got TYPE" unless `value` is an object.
Result<void> expect_object(const nlohmann::json& value, const std::string& path,
                           const std::string& label);

/// An exception to the policy: a finding id accepted until a date, possibly only for one
/// image or package.
struct SecurityException {
  std::string id;
  std::string reason;                            ///< empty for `.trivyignore` entries
  std::string owner;                             ///< empty for `.trivyignore` entries
  std::optional<std::chrono::sys_days> expires;  ///< it no longer applies from that day on
  std::string image;                             ///< empty: any image
  std::string package;                           ///< empty: any package
  std::string source;  ///< where it is declared: "promote.yaml:12:9" or ".trivyignore:3"
};

/// Parses `.trivyignore` text: one `ID [exp:YYYY-MM-DD]` per line, `#` comments and blank
/// lines skipped. Fails (input) with "LABEL:LINE:COL: what" on a malformed expiry or an
/// unknown field.
Result<std::vector<SecurityException>> parse_trivyignore(std::string_view text,
                                                         const std::string& label);

/// How findings are counted: one per distinct id (at its worst severity), or each finding.
enum class CountMode { unique, findings };

/// The validated `with:` block shared by the security gates.
struct SecurityPolicy {
  std::vector<std::string> reports;  ///< report files, relative to the pipeline file
  std::array<std::optional<long long>, k_severity_count> max;  ///< per severity; none: no limit
  bool fixable_only = false;
  CountMode count = CountMode::unique;
  std::optional<std::string> ignore;  ///< a `.trivyignore` file
  std::vector<SecurityException> exceptions;
  std::chrono::seconds warn_before = std::chrono::days(14);
  Verdict::Status on_empty = Verdict::Status::error;  ///< fail, pending or error
};

/// Reads and validates the `with:` block of security gate `gate` ("trivy"); reports every
/// problem into `with.diagnostics()` as FILE:LINE:COL and returns nullopt when invalid.
std::optional<SecurityPolicy> read_security_policy(const pipeline::ConfigNode& with,
                                                   std::string_view gate);

/// The policy as JSON, as a gate's config() returns it.
nlohmann::json policy_json(const SecurityPolicy& policy);

/// Judges findings against the policy at `now` (for exception expiry). `ignore_entries`
/// are the parsed `.trivyignore` entries. `fail` names every threshold broken ("3 high >
/// max 2"); `warn` when the thresholds hold but an exception expired, expires within
/// `warn_before` or matched nothing (stale); `on_empty` when `report.empty`; else `pass`.
Verdict judge_findings(const SecurityPolicy& policy, const ScanReport& report,
                       const std::vector<SecurityException>& ignore_entries,
                       std::chrono::system_clock::time_point now);

/// Reads every report (and the ignore file) relative to `base_dir`, parses them with
/// `parser` and judges them; `error` naming the file when one cannot be read or parsed.
/// Evidence lists every file read with its sha256.
Verdict evaluate_security(const SecurityPolicy& policy, ReportParser parser,
                          const std::filesystem::path& base_dir,
                          std::chrono::system_clock::time_point now);

/// A security gate: a report format (its parser) judged by the shared policy. Parsing
/// runs on the worker pool so the gate's timeout still applies.
class SecurityGate : public Gate {
 public:
  SecurityGate(SecurityPolicy policy, ReportParser parser)
      : m_policy(std::move(policy)), m_parser(parser) {}
  boost::asio::awaitable<Verdict> evaluate(const GateContext& context) override;
  nlohmann::json config() const override { return policy_json(m_policy); }

 private:
  SecurityPolicy m_policy;
  ReportParser m_parser;
};

/// Builds a security gate called `gate` reading reports with `parser` from its `with:`
/// block; reports every problem into `with.diagnostics()` and returns nullptr when invalid.
std::unique_ptr<Gate> make_security_gate(const pipeline::ConfigNode& with, std::string_view gate,
                                         ReportParser parser);

}  // namespace promote::gates
