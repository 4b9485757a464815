#include "gates/security_policy.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "engine/scheduler/blocking.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"

namespace promote::gates {

namespace fs = std::filesystem;
using Status = Verdict::Status;

namespace {

constexpr std::array<Severity, k_severity_count> k_severities = {
    Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::unknown};

constexpr std::size_t k_max_listed_findings = 200;

std::size_t index(Severity severity) {
  return static_cast<std::size_t>(severity);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// YYYY-MM-DD, a real calendar day.
std::optional<std::chrono::sys_days> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
      return std::nullopt;
    }
  }
  const int year = std::stoi(std::string(text.substr(0, 4)));
  const unsigned month = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  const unsigned day = static_cast<unsigned>(std::stoi(std::string(text.substr(8, 2))));
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                         std::chrono::day(day)};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days(date);
}

std::string format_date(std::chrono::sys_days day) {
  const std::chrono::year_month_day date(day);
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return buffer;
}

const char* to_string(CountMode mode) {
  return mode == CountMode::unique ? "unique" : "findings";
}

}  // namespace

const char* to_string(Severity severity) {
  switch (severity) {
    case Severity::critical:
      return "critical";
    case Severity::high:
      return "high";
    case Severity::medium:
      return "medium";
    case Severity::low:
      return "low";
    case Severity::unknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<Severity> severity_from_name(std::string_view name) {
  const std::string key = lower(name);
  for (Severity severity : k_severities) {
    if (key == to_string(severity)) {
      return severity;
    }
  }
  return std::nullopt;
}

// --- JSON helpers ------------------------------------------------------------------------

// --- .trivyignore ------------------------------------------------------------------------

Result<std::vector<SecurityException>> parse_trivyignore(std::string_view text,
                                                         const std::string& label) {
  std::vector<SecurityException> out;
  std::size_t line_start = 0;
  int line_number = 0;
  while (line_start <= text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) {
      line_end = text.size();
    }
    ++line_number;
    const std::string_view line = text.substr(line_start, line_end - line_start);
    SecurityException entry;
    std::size_t at = 0;
    while (at < line.size()) {
      at = line.find_first_not_of(" \t\r", at);
      if (at == std::string_view::npos || line[at] == '#') {
        break;
      }
      std::size_t end = line.find_first_of(" \t\r", at);
      if (end == std::string_view::npos) {
        end = line.size();
      }
      const std::string_view field = line.substr(at, end - at);
      const Location where{label, line_number, static_cast<int>(at) + 1};
      if (entry.id.empty()) {
        entry.id = std::string(field);
      } else if (field.starts_with("exp:")) {
        auto date = parse_date(field.substr(4));
        if (!date) {
          return make_error(ErrorKind::input, where.to_string() +
                                                  ": expiry must be exp:YYYY-MM-DD, got '" +
                                                  std::string(field) + "'");
        }
        entry.expires = date;
      } else {
        return make_error(ErrorKind::input, where.to_string() + ": unexpected '" +
                                                std::string(field) +
                                                "' (a line is 'ID [exp:YYYY-MM-DD]')");
      }
      at = end;
    }
    if (!entry.id.empty()) {
      entry.source = label + ":" + std::to_string(line_number);
      out.push_back(std::move(entry));
    }
    line_start = line_end + 1;
  }
  return out;
}

// --- configuration -----------------------------------------------------------------------

std::optional<SecurityPolicy> read_security_policy(const pipeline::ConfigNode& with,
                                                   std::string_view gate) {
  const std::string what = "gate '" + std::string(gate) + "'";
  if (with.is_null()) {
    with.error(what + " needs 'with: { report: <file>, max: { critical: 0 } }'");
    return std::nullopt;
  }
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (!with.expect_map(what, {"report", "max", "fixable_only", "count", "ignore", "exceptions",
                              "warn_before", "on_empty"})) {
    return std::nullopt;
  }
  SecurityPolicy policy;
  if (auto node = with.require("report", what)) {
    if (auto reports = node->as_string_list("report")) {
      if (reports->empty()) {
        node->error("'report' must name at least one file");
      }
      for (const std::string& report : *reports) {
        if (report.empty()) {
          node->error("'report' must not be an empty string");
        }
      }
      policy.reports = std::move(*reports);
    }
  }
  if (auto node = with.require("max", what)) {
    const auto entries = node->entries("max");
    if (node->is_map() && entries.empty()) {
      node->error("'max' must set at least one of critical, high, medium, low, unknown");
    }
    for (const auto& [key, value] : entries) {
      auto name = key.as_string("max key");
      if (!name) {
        continue;
      }
      auto severity = severity_from_name(*name);
      if (!severity || *name != lower(*name)) {
        const std::vector<std::string> names = {"critical", "high", "medium", "low", "unknown"};
        std::string hint = pipeline::did_you_mean(lower(*name), names);
        key.error("unknown severity '" + *name + "' in 'max'" +
                  (hint.empty() ? " (use critical, high, medium, low, unknown)"
                                : " (did you mean '" + hint + "'?)"));
        continue;
      }
      const std::string field = "max." + *name;
      if (auto limit = value.as_integer(field)) {
        if (*limit < 0) {
          value.error("'" + field + "' must be 0 or more, got '" + value.yaml().Scalar() + "'");
        }
        policy.max[index(*severity)] = *limit;
      }
    }
  }
  if (auto node = with.get("fixable_only")) {
    if (auto value = node->as_bool("fixable_only")) {
      policy.fixable_only = *value;
    }
  }
  if (auto node = with.get("count")) {
    if (auto value = node->as_string("count")) {
      if (*value == "unique") {
        policy.count = CountMode::unique;
      } else if (*value == "findings") {
        policy.count = CountMode::findings;
      } else {
        node->error("'count' must be unique or findings, got '" + *value + "'");
      }
    }
  }
  if (auto node = with.get("ignore")) {
    if (auto value = node->as_string("ignore")) {
      if (value->empty()) {
        node->error("'ignore' must not be an empty string");
      }
      policy.ignore = std::move(*value);
    }
  }
  if (auto node = with.get("warn_before")) {
    if (auto value = node->as_duration("warn_before")) {
      policy.warn_before = *value;
    }
  }
  if (auto node = with.get("on_empty")) {
    if (auto value = node->as_string("on_empty")) {
      if (*value == "fail") {
        policy.on_empty = Status::fail;
      } else if (*value == "pending") {
        policy.on_empty = Status::pending;
      } else if (*value == "error") {
        policy.on_empty = Status::error;
      } else {
        node->error("'on_empty' must be fail, pending or error, got '" + *value + "'");
      }
    }
  }
  if (auto node = with.get("exceptions")) {
    for (const pipeline::ConfigNode& item : node->items("exceptions")) {
      if (!item.expect_map("exception", {"id", "reason", "owner", "expires", "image", "package"})) {
        continue;
      }
      SecurityException entry;
      const auto text = [&](const char* key, bool required) -> std::string {
        auto field = required ? item.require(key, "exception") : item.get(key);
        if (!field) {
          return {};
        }
        auto value = field->as_string(key);
        if (value && value->empty()) {
          field->error(pipeline::in_quotes(key) + " must not be empty");
        }
        return value.value_or("");
      };
      entry.id = text("id", true);
      entry.reason = text("reason", true);
      entry.owner = text("owner", true);
      entry.image = text("image", false);
      entry.package = text("package", false);
      if (auto expires = item.require("expires", "exception")) {
        if (auto value = expires->as_string("expires")) {
          entry.expires = parse_date(*value);
          if (!entry.expires) {
            expires->error("'expires' must be a date YYYY-MM-DD, got '" + *value + "'");
          }
        }
      }
      entry.source = item.location().to_string();
      policy.exceptions.push_back(std::move(entry));
    }
  }
  if (with.diagnostics().messages().size() != problems_before) {
    return std::nullopt;
  }
  return policy;
}

namespace {

nlohmann::json exception_json(const SecurityException& entry) {
  nlohmann::json out = {{"id", entry.id}, {"source", entry.source}};
  if (!entry.reason.empty()) {
    out["reason"] = entry.reason;
  }
  if (!entry.owner.empty()) {
    out["owner"] = entry.owner;
  }
  out["expires"] = entry.expires ? nlohmann::json(format_date(*entry.expires)) : nullptr;
  if (!entry.image.empty()) {
    out["image"] = entry.image;
  }
  if (!entry.package.empty()) {
    out["package"] = entry.package;
  }
  return out;
}

nlohmann::json max_json(const SecurityPolicy& policy) {
  nlohmann::json out = nlohmann::json::object();
  for (Severity severity : k_severities) {
    if (const auto& limit = policy.max[index(severity)]) {
      out[to_string(severity)] = *limit;
    }
  }
  return out;
}

}  // namespace

nlohmann::json policy_json(const SecurityPolicy& policy) {
  nlohmann::json exceptions = nlohmann::json::array();
  for (const SecurityException& entry : policy.exceptions) {
    exceptions.push_back(exception_json(entry));
  }
  nlohmann::json out = {{"report", policy.reports},
                        {"max", max_json(policy)},
                        {"fixable_only", policy.fixable_only},
                        {"count", to_string(policy.count)},
                        {"exceptions", exceptions},
                        {"warn_before", pipeline::format_duration(policy.warn_before)},
                        {"on_empty", promote::to_string(policy.on_empty)}};
  if (policy.ignore) {
    out["ignore"] = *policy.ignore;
  }
  return out;
}

// --- judging -----------------------------------------------------------------------------

namespace {

// An image reference without its tag and digest: "ghcr.io/acme/api:1.2@sha256:.." ->
// "ghcr.io/acme/api". A colon before the last slash belongs to a registry port.
std::string image_repository(std::string_view image) {
  std::string_view name = image.substr(0, image.find('@'));
  const auto slash = name.rfind('/');
  const auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    name = name.substr(0, colon);
  }
  return std::string(name);
}

bool matches(const SecurityException& entry, const Finding& finding) {
  if (entry.id != finding.id) {
    return false;
  }
  if (!entry.package.empty() && entry.package != finding.package) {
    return false;
  }
  if (!entry.image.empty() && entry.image != finding.image &&
      entry.image != image_repository(finding.image)) {
    return false;
  }
  return true;
}

enum class EntryState { active, expiring, expired };

const char* to_string(EntryState state) {
  switch (state) {
    case EntryState::active:
      return "active";
    case EntryState::expiring:
      return "expiring";
    case EntryState::expired:
      return "expired";
  }
  return "active";
}

nlohmann::json finding_json(const Finding& finding) {
  nlohmann::json out = {{"id", finding.id},
                        {"package", finding.package},
                        {"severity", to_string(finding.severity)},
                        {"fixable", finding.fixable}};
  if (!finding.image.empty()) {
    out["image"] = finding.image;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const std::string& part : parts) {
    out += (out.empty() ? "" : separator) + part;
  }
  return out;
}

}  // namespace

Verdict judge_findings(const SecurityPolicy& policy, const ScanReport& report,
                       const std::vector<SecurityException>& ignore_entries,
                       std::chrono::system_clock::time_point now) {
  std::vector<SecurityException> entries = policy.exceptions;
  entries.insert(entries.end(), ignore_entries.begin(), ignore_entries.end());
  std::vector<EntryState> states;
  // In seconds, not the clock's nanoseconds: a date far ahead (2262 and later) must not
  // overflow into the past.
  const auto now_seconds = std::chrono::floor<std::chrono::seconds>(now);
  for (const SecurityException& entry : entries) {
    EntryState state = EntryState::active;
    if (entry.expires) {
      const std::chrono::sys_seconds expires(*entry.expires);
      if (now_seconds >= expires) {
        state = EntryState::expired;
      } else if (expires - now_seconds <= policy.warn_before) {
        state = EntryState::expiring;
      }
    }
    states.push_back(state);
  }
  std::vector<long long> matched(entries.size(), 0);

  std::vector<Finding> counted;
  nlohmann::json ignored = nlohmann::json::array();
  long long ignored_total = 0;
  long long not_fixable = 0;
  for (const Finding& finding : report.findings) {
    const SecurityException* applied = nullptr;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (matches(entries[i], finding)) {
        ++matched[i];
        if (states[i] != EntryState::expired && applied == nullptr) {
          applied = &entries[i];
        }
      }
    }
    if (applied != nullptr) {
      ++ignored_total;
      if (ignored.size() < k_max_listed_findings) {
        nlohmann::json entry = finding_json(finding);
        entry["exception"] = applied->source;
        ignored.push_back(std::move(entry));
      }
      continue;
    }
    if (policy.fixable_only && !finding.fixable) {
      ++not_fixable;
      continue;
    }
    counted.push_back(finding);
  }

  std::array<long long, k_severity_count> counts{};
  if (policy.count == CountMode::findings) {
    for (const Finding& finding : counted) {
      ++counts[index(finding.severity)];
    }
  } else {
    std::map<std::string, Severity> worst;
    for (const Finding& finding : counted) {
      auto [it, inserted] = worst.emplace(finding.id, finding.severity);
      if (!inserted && index(finding.severity) < index(it->second)) {
        it->second = finding.severity;
      }
    }
    for (const auto& [id, severity] : worst) {
      ++counts[index(severity)];
    }
  }

  nlohmann::json counts_json = nlohmann::json::object();
  std::vector<std::string> broken;
  std::vector<std::string> tally;
  for (Severity severity : k_severities) {
    const long long count = counts[index(severity)];
    counts_json[to_string(severity)] = count;
    const auto& limit = policy.max[index(severity)];
    if (limit && count > *limit) {
      broken.push_back(std::to_string(count) + " " + to_string(severity) + " > max " +
                       std::to_string(*limit));
    }
    if (count > 0 || limit) {
      tally.push_back(std::to_string(count) + " " + to_string(severity) +
                      (limit ? " (max " + std::to_string(*limit) + ")" : ""));
    }
  }

  nlohmann::json exceptions = nlohmann::json::array();
  std::vector<std::string> expired;
  std::vector<std::string> expiring;
  std::vector<std::string> stale;
  nlohmann::json expired_json = nlohmann::json::array();
  nlohmann::json expiring_json = nlohmann::json::array();
  nlohmann::json stale_json = nlohmann::json::array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    nlohmann::json entry = exception_json(entries[i]);
    entry["state"] = to_string(states[i]);
    entry["matched"] = matched[i];
    exceptions.push_back(entry);
    const std::string when = entries[i].expires ? format_date(*entries[i].expires) : "";
    if (states[i] == EntryState::expired) {
      expired.push_back(entries[i].id + " (expired " + when + ")");
      expired_json.push_back(entry);
    } else if (matched[i] == 0) {
      stale.push_back(entries[i].id);
      stale_json.push_back(entry);
    }
    if (states[i] == EntryState::expiring) {
      expiring.push_back(entries[i].id + " (expires " + when + ")");
      expiring_json.push_back(entry);
    }
  }

  nlohmann::json listed = nlohmann::json::array();
  for (std::size_t i = 0; i < counted.size() && i < k_max_listed_findings; ++i) {
    listed.push_back(finding_json(counted[i]));
  }
  nlohmann::json details = {{"counts", counts_json},
                            {"count", to_string(policy.count)},
                            {"max", max_json(policy)},
                            {"fixable_only", policy.fixable_only},
                            {"findings", listed},
                            {"findings_total", counted.size()},
                            {"findings_in_report", report.findings.size()},
                            {"not_fixable_skipped", not_fixable},
                            {"ignored", ignored},
                            {"ignored_total", ignored_total},
                            {"exceptions", exceptions},
                            {"expired", expired_json},
                            {"expiring", expiring_json},
                            {"stale", stale_json},
                            {"now", format_date(std::chrono::floor<std::chrono::days>(now))}};

  std::vector<std::string> notes;
  if (!expired.empty()) {
    notes.push_back("exceptions no longer applied: " + join(expired, ", "));
  }
  if (!expiring.empty()) {
    notes.push_back("exceptions expiring soon: " + join(expiring, ", "));
  }
  if (!stale.empty()) {
    notes.push_back("stale exceptions (match nothing): " + join(stale, ", "));
  }
  const std::string noted = notes.empty() ? "" : "; " + join(notes, "; ");

  if (report.empty) {
    details["empty"] = true;
    details["condition"] = "on_empty";
    return Verdict::make(policy.on_empty,
                         std::string("the report holds no scan results (on_empty: ") +
                             promote::to_string(policy.on_empty) + ")",
                         std::move(details));
  }
  if (!broken.empty()) {
    details["condition"] = join(broken, "; ");
    return Verdict::make(Status::fail, join(broken, "; ") + noted, std::move(details));
  }
  const std::string unit = policy.count == CountMode::unique ? "unique ids" : "findings";
  const std::string within =
      (counted.empty() ? "no findings counted" : join(tally, ", ") + " (" + unit + ")") +
      ", within max" +
      (ignored_total > 0 ? "; " + std::to_string(ignored_total) + " accepted by exception" : "");
  details["condition"] = notes.empty() ? "within max" : "within max, exceptions need attention";
  return Verdict::make(notes.empty() ? Status::pass : Status::warn, within + noted,
                       std::move(details));
}

namespace {

Verdict error_verdict(const Error& error, nlohmann::json details, std::vector<Evidence> evidence) {
  details["error"] = error.message;
  Verdict verdict = Verdict::make(Status::error, error.message, std::move(details));
  verdict.evidence = std::move(evidence);
  return verdict;
}

}  // namespace

Verdict evaluate_security(const SecurityPolicy& policy, ReportParser parser,
                          const fs::path& base_dir, std::chrono::system_clock::time_point now) {
  std::vector<Evidence> evidence;
  nlohmann::json files = nlohmann::json::array();
  const auto full_path = [&](const std::string& path) {
    return fs::path(path).is_absolute() ? fs::path(path) : base_dir / path;
  };
  ScanReport combined;
  combined.empty = true;
  for (const std::string& path : policy.reports) {
    if (util::leaves_through_symlink(base_dir, path)) {
      return error_verdict(make_error(ErrorKind::input, path + ": leads out of the repository "
                                                               "through a symlink"),
                           {{"file", path}, {"files", files}}, evidence);
    }
    auto bytes = util::map_file(full_path(path), util::k_max_file_bytes, k_json_padding);
    if (!bytes) {
      return error_verdict(bytes.error(), {{"file", path}, {"files", files}}, evidence);
    }
    const std::string_view data = bytes->view();
    // The digest of a large report is computed beside its parse (for 50 MB, about 25 ms and
    // 50 ms).
    util::Sha256Beside digest(data);
    Result<ScanReport> report = make_error(ErrorKind::internal, "");
    try {
      report = parser(data, path, k_json_padding);
    } catch (const std::exception& e) {
      report = make_error(ErrorKind::internal,
                          path + ": unexpected failure while reading the report: " + e.what());
    }
    evidence.push_back(Evidence{path, digest.get()});
    if (!report) {
      return error_verdict(report.error(), {{"file", path}, {"files", files}}, evidence);
    }
    files.push_back(
        {{"path", path}, {"findings", report->findings.size()}, {"empty", report->empty}});
    combined.empty = combined.empty && report->empty;
    combined.findings.insert(combined.findings.end(), report->findings.begin(),
                             report->findings.end());
  }
  std::vector<SecurityException> ignore_entries;
  if (policy.ignore) {
    if (util::leaves_through_symlink(base_dir, *policy.ignore)) {
      return error_verdict(make_error(ErrorKind::input, *policy.ignore + ": leads out of the "
                                                                         "repository through a symlink"),
                           {{"file", *policy.ignore}, {"files", files}}, evidence);
    }
    auto data = util::read_file(full_path(*policy.ignore));
    if (!data) {
      return error_verdict(data.error(), {{"file", *policy.ignore}, {"files", files}}, evidence);
    }
    evidence.push_back(Evidence{*policy.ignore, util::sha256_hex(*data)});
    auto parsed = parse_trivyignore(*data, *policy.ignore);
    if (!parsed) {
      return error_verdict(parsed.error(), {{"file", *policy.ignore}, {"files", files}}, evidence);
    }
    ignore_entries = std::move(*parsed);
  }
  Verdict verdict = judge_findings(policy, combined, ignore_entries, now);
  verdict.details["files"] = std::move(files);
  verdict.evidence = std::move(evidence);
  return verdict;
}

boost::asio::awaitable<Verdict> SecurityGate::evaluate(const GateContext& context) {
  auto work = [policy = m_policy, parser = m_parser, base_dir = context.base_dir,
               now = context.timeline.now()] {
    return evaluate_security(policy, parser, base_dir, now);
  };
  co_return co_await scheduler::run_blocking(std::move(work));
}

std::unique_ptr<Gate> make_security_gate(const pipeline::ConfigNode& with, std::string_view gate,
                                         ReportParser parser) {
  auto policy = read_security_policy(with, gate);
  if (!policy) {
    return nullptr;
  }
  return std::make_unique<SecurityGate>(std::move(*policy), parser);
}

}  // namespace promote::gates
