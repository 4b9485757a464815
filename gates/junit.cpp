#include "gates/junit.hpp"

#include "engine/scheduler/blocking.hpp"

#include <fnmatch.h>

#include <cstdio>
#include <cstring>
#include <pugixml.hpp>
#include <set>
#include <system_error>

#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"

namespace promote::gates {

namespace fs = std::filesystem;

JunitCounts& JunitCounts::operator+=(const JunitCounts& other) {
  tests += other.tests;
  failures += other.failures;
  errors += other.errors;
  skipped += other.skipped;
  flaky += other.flaky;
  return *this;
}

namespace {

// Only element names matter: no entity decoding, no end-of-line or attribute
// normalisation, CDATA skipped. parse_doctype only makes a DOCTYPE visible (as a node)
// so that it can be refused; it is never interpreted. Text is embedded in its element
// rather than given a node of its own, which saves memory on system-out heavy reports.
constexpr unsigned k_parse_options =
    pugi::parse_minimal | pugi::parse_doctype | pugi::parse_embed_pcdata;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool has_utf8_bom(std::string_view xml) {
  return xml.substr(0, 3) == "\xEF\xBB\xBF";
}

// UTF-16 and UTF-32 documents (with a byte order mark, or with NUL bytes in the first
// characters) are converted by pugixml; everything else is read as UTF-8, which keeps
// byte offsets exact and is harmless for single-byte encodings such as ISO-8859-1
// because only ASCII element names are looked at.
bool is_wide(std::string_view xml) {
  const std::string_view head = xml.substr(0, 4);
  return head.substr(0, 2) == "\xFF\xFE" || head.substr(0, 2) == "\xFE\xFF" ||
         head.find('\0') != std::string_view::npos;
}

// "LABEL:LINE:COL" for a byte offset; the column counts characters, not bytes.
std::string position(std::string_view xml, std::ptrdiff_t offset, const std::string& label) {
  const std::size_t end =
      std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)), xml.size());
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < end; ++i) {
    if (xml[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  if (line_start == 0 && has_utf8_bom(xml)) {
    line_start = std::min<std::size_t>(3, end);
  }
  int column = 1;
  for (std::size_t i = line_start; i < end; ++i) {
    if ((static_cast<unsigned char>(xml[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return Location{label, line, column}.to_string();
}

Error input_error(const std::string& where, const std::string& what) {
  return make_error(ErrorKind::input, where + ": " + what);
}

std::string describe(pugi::xml_parse_status status) {
  switch (status) {
    case pugi::status_unrecognized_tag:
      return "malformed XML: unrecognized tag";
    case pugi::status_bad_pi:
      return "malformed XML: bad processing instruction or declaration";
    case pugi::status_bad_comment:
      return "malformed XML: bad comment";
    case pugi::status_bad_cdata:
      return "malformed XML: bad CDATA section";
    case pugi::status_bad_pcdata:
      return "malformed XML: bad character data";
    case pugi::status_bad_start_element:
      return "malformed XML: bad start tag";
    case pugi::status_bad_attribute:
      return "malformed XML: bad attribute";
    case pugi::status_bad_end_element:
      return "malformed XML: bad end tag";
    case pugi::status_end_element_mismatch:
      return "malformed XML: mismatched end tag";
    case pugi::status_out_of_memory:
      return "out of memory while parsing";
    default:
      return "malformed XML";
  }
}

// The name of the end tag whose name starts at `offset`, for mismatch messages.
std::string tag_name_at(std::string_view xml, std::size_t offset) {
  std::size_t end = offset;
  while (end < xml.size() && end - offset < 100 && !is_space(xml[end]) && xml[end] != '>' &&
         xml[end] != '<') {
    ++end;
  }
  return std::string(xml.substr(offset, end - offset));
}

// Where the `<!DOCTYPE` that contains `offset` starts.
std::ptrdiff_t doctype_start(std::string_view xml, std::ptrdiff_t offset) {
  const std::size_t from =
      std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)), xml.size());
  const std::size_t at = xml.rfind("<!", from);
  return at == std::string_view::npos ? offset : static_cast<std::ptrdiff_t>(at);
}

Error parse_failure(std::string_view xml, const pugi::xml_parse_result& result,
                    const std::string& label, bool exact) {
  const std::size_t offset = static_cast<std::size_t>(std::max<std::ptrdiff_t>(result.offset, 0));
  const std::string where = exact ? position(xml, result.offset, label) : label;
  if (result.status == pugi::status_bad_doctype) {
    return input_error(exact ? position(xml, doctype_start(xml, result.offset), label) : label,
                       "document type declarations are not allowed");
  }
  if (result.status == pugi::status_no_document_element) {
    if (xml.find_first_not_of(" \t\r\n", has_utf8_bom(xml) ? 3 : 0) == std::string_view::npos) {
      return input_error(label, "the file is empty");
    }
    return input_error(where, "no root element");
  }
  if (!exact) {
    return input_error(label, describe(result.status));
  }
  // pugixml reports an error at the end of the input on the last byte.
  if (offset + 1 >= xml.size() ||
      xml.find_first_not_of(" \t\r\n", offset) == std::string_view::npos) {
    return input_error(position(xml, static_cast<std::ptrdiff_t>(xml.size()), label),
                       "unexpected end of file: the report is truncated");
  }
  if (result.status == pugi::status_end_element_mismatch && offset >= 2) {
    return input_error(position(xml, result.offset - 2, label),
                       "malformed XML: end tag </" + tag_name_at(xml, offset) +
                           "> does not match the open element");
  }
  return input_error(where, describe(result.status));
}

// Where an element starts: its name's offset minus the '<'.
std::string element_position(std::string_view xml, const pugi::xml_node& node,
                             const std::string& label, bool exact) {
  const std::ptrdiff_t offset = node.offset_debug();
  if (!exact || offset <= 0) {
    return label;
  }
  return position(xml, offset - 1, label);
}

bool named(const pugi::xml_node& node, const char* name) {
  return std::strcmp(node.name(), name) == 0;
}

void count_testcase(const pugi::xml_node& testcase, JunitCounts& counts) {
  bool error = false;
  bool failure = false;
  bool rerun_error = false;
  bool rerun_failure = false;
  bool skipped = false;
  bool flaky = false;
  for (pugi::xml_node child = testcase.first_child(); child; child = child.next_sibling()) {
    if (child.type() != pugi::node_element) {
      continue;
    }
    const char* name = child.name();
    if (std::strcmp(name, "error") == 0) {
      error = true;
    } else if (std::strcmp(name, "failure") == 0) {
      failure = true;
    } else if (std::strcmp(name, "skipped") == 0) {
      skipped = true;
    } else if (std::strcmp(name, "flakyFailure") == 0 || std::strcmp(name, "flakyError") == 0) {
      flaky = true;
    } else if (std::strcmp(name, "rerunFailure") == 0) {
      rerun_failure = true;
    } else if (std::strcmp(name, "rerunError") == 0) {
      rerun_error = true;
    }
  }
  ++counts.tests;
  if (error || (rerun_error && !failure)) {
    ++counts.errors;
  } else if (failure || rerun_failure) {
    ++counts.failures;
  } else if (skipped) {
    ++counts.skipped;
  } else if (flaky) {
    ++counts.flaky;
  }
}

}  // namespace

Result<JunitCounts> parse_junit(std::string_view xml, const std::string& label) {
  if (xml.empty()) {
    return input_error(label, "the file is empty");
  }
  const bool exact = !is_wide(xml);
  pugi::xml_document document;
  const pugi::xml_parse_result result = document.load_buffer(
      xml.data(), xml.size(), k_parse_options, exact ? pugi::encoding_utf8 : pugi::encoding_auto);
  for (pugi::xml_node node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) {
      const std::string where =
          exact ? position(xml, doctype_start(xml, node.offset_debug()), label) : label;
      return input_error(where, "document type declarations are not allowed");
    }
  }
  if (!result) {
    return parse_failure(xml, result, label, exact);
  }
  pugi::xml_node root;
  for (pugi::xml_node node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() != pugi::node_element) {
      continue;
    }
    if (root) {
      return input_error(element_position(xml, node, label, exact),
                         std::string("more than one root element: <") + node.name() +
                             "> follows <" + root.name() + ">");
    }
    root = node;
  }
  if (!named(root, "testsuites") && !named(root, "testsuite")) {
    return input_error(element_position(xml, root, label, exact),
                       std::string("expected <testsuites> or <testsuite> as the root element, "
                                   "found <") +
                           root.name() + ">");
  }
  JunitCounts counts;
  std::vector<pugi::xml_node> suites{root};
  while (!suites.empty()) {
    const pugi::xml_node suite = suites.back();
    suites.pop_back();
    for (pugi::xml_node child = suite.first_child(); child; child = child.next_sibling()) {
      if (child.type() != pugi::node_element) {
        continue;
      }
      if (named(child, "testcase")) {
        count_testcase(child, counts);
      } else if (named(child, "testsuite") || named(child, "testsuites")) {
        suites.push_back(child);
      } else if (named(child, "error") || named(child, "failure")) {
        ++counts.tests;
        ++counts.errors;
      }
    }
  }
  return counts;
}

// --- globs -------------------------------------------------------------------------------

namespace {

bool has_wildcard(std::string_view segment) {
  return segment.find_first_of("*?[") != std::string_view::npos;
}

// Matches pattern segments below a directory. Paths are kept as written (relative to the
// base directory, or absolute) and resolved against the base only to touch the disk.
class Expander {
 public:
  explicit Expander(fs::path base) : m_base(std::move(base)) {}

  const std::set<std::string>& found() const { return m_found; }
  const std::optional<Error>& error() const { return m_error; }

  void match(const fs::path& dir, const std::vector<std::string>& segments, std::size_t index) {
    if (m_error || index >= segments.size()) {
      return;
    }
    const std::string& segment = segments[index];
    const bool last = index + 1 == segments.size();
    if (segment == "**") {
      if (last) {
        match_any_depth(dir, segments, index, "*");
        return;
      }
      match(dir, segments, index + 1);
      match_any_depth(dir, segments, index + 1, {});
      return;
    }
    if (!has_wildcard(segment)) {
      visit(dir / segment, segments, index);
      return;
    }
    for (const fs::path& entry : list(dir)) {
      if (::fnmatch(segment.c_str(), entry.filename().c_str(), FNM_PERIOD) == 0) {
        visit(entry, segments, index);
      }
    }
  }

 private:
  fs::path on_disk(const fs::path& path) const {
    if (m_base.empty() || path.is_absolute()) {
      return path;
    }
    return path.empty() ? m_base : m_base / path;
  }

  // `path` matched segments[index]: a file when that was the last one, else a directory
  // to look into.
  void visit(const fs::path& path, const std::vector<std::string>& segments, std::size_t index) {
    std::error_code ec;
    if (index + 1 == segments.size()) {
      if (fs::is_regular_file(on_disk(path), ec)) {
        m_found.insert(path.lexically_normal().generic_string());
      }
    } else if (fs::is_directory(on_disk(path), ec)) {
      match(path, segments, index + 1);
    }
  }

  // Every directory below `dir` (not `dir` itself), then segments[index..] in each; for a
  // trailing `**`, the files matching `final_segment` in `dir` and below instead.
  void match_any_depth(const fs::path& dir, const std::vector<std::string>& segments,
                       std::size_t index, const std::string& final_segment) {
    if (!final_segment.empty()) {
      match(dir, {final_segment}, 0);
    }
    std::error_code ec;
    for (const fs::path& entry : list(dir)) {
      if (m_error) {
        return;
      }
      const fs::path real = on_disk(entry);
      if (entry.filename().string().starts_with(".") || fs::is_symlink(real, ec) ||
          !fs::is_directory(real, ec)) {
        continue;
      }
      if (final_segment.empty()) {
        match(entry, segments, index);
      }
      match_any_depth(entry, segments, index, final_segment);
    }
  }

  // The entries of `dir` (as `dir/name`); none when it is no directory.
  std::vector<fs::path> list(const fs::path& dir) {
    std::vector<fs::path> entries;
    std::error_code ec;
    const fs::path real = on_disk(dir);
    if (m_error || !fs::is_directory(real, ec)) {
      return entries;
    }
    fs::directory_iterator it(real, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      entries.push_back(dir / it->path().filename());
    }
    if (ec) {
      m_error = make_error(ErrorKind::input,
                           "cannot list directory " + real.generic_string() + ": " + ec.message());
      return {};
    }
    return entries;
  }

  fs::path m_base;
  std::set<std::string> m_found;
  std::optional<Error> m_error;
};

std::vector<std::string> split_segments(const std::string& pattern) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= pattern.size()) {
    std::size_t end = pattern.find('/', start);
    if (end == std::string::npos) {
      end = pattern.size();
    }
    if (end > start) {
      segments.push_back(pattern.substr(start, end - start));
    }
    start = end + 1;
  }
  return segments;
}

}  // namespace

Result<std::vector<std::string>> expand_report_paths(const fs::path& base_dir,
                                                     const std::vector<std::string>& patterns) {
  std::set<std::string> paths;
  for (const std::string& pattern : patterns) {
    const bool absolute = pattern.starts_with("/");
    Expander expander(absolute ? fs::path() : base_dir.empty() ? fs::path(".") : base_dir);
    expander.match(absolute ? fs::path("/") : fs::path(), split_segments(pattern), 0);
    if (expander.error()) {
      return *expander.error();
    }
    if (expander.found().empty()) {
      return make_error(ErrorKind::input, "no JUnit report matches " + pattern);
    }
    paths.insert(expander.found().begin(), expander.found().end());
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

// --- the gate ----------------------------------------------------------------------------

namespace {

std::string plural(long long count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// A rate as a percentage, rounded down to one decimal so it never looks better than it is.
std::string rate_percent(long long passed, long long considered) {
  const long long permille = considered > 0 ? passed * 1000 / considered : 0;
  std::string text = std::to_string(permille / 10);
  if (permille % 10 != 0) {
    text += "." + std::to_string(permille % 10);
  }
  return text + "%";
}

std::string threshold_percent(double rate) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", rate * 100);
  return std::string(buffer) + "%";
}

nlohmann::json counts_json(const JunitCounts& counts) {
  return {{"tests", counts.tests},
          {"failures", counts.failures},
          {"errors", counts.errors},
          {"skipped", counts.skipped},
          {"flaky", counts.flaky}};
}

// The first threshold `totals` breaks, as a summary, or "" when none is.
std::string broken_threshold(const JunitConfig& config, const JunitCounts& totals) {
  const long long considered = totals.tests - totals.skipped;
  const double rate = considered > 0 ? static_cast<double>(totals.passed()) / considered : 0.0;
  if (totals.tests < config.min_tests) {
    return plural(totals.tests, "test") + " found, fewer than the " +
           std::to_string(config.min_tests) + " required (min_tests)";
  }
  if (rate < config.min_pass_rate) {
    std::string why;
    if (totals.failures > 0) {
      why = std::to_string(totals.failures) + " failed";
    }
    if (totals.errors > 0) {
      why += (why.empty() ? "" : ", ") + std::to_string(totals.errors) + " errored";
    }
    why = why.empty() ? "all " + plural(totals.tests, "test") + " skipped"
                      : why + " of " + std::to_string(totals.tests);
    return "pass rate " + rate_percent(totals.passed(), considered) + " is below " +
           threshold_percent(config.min_pass_rate) + " (" + why + ")";
  }
  const long long failed = totals.failures + totals.errors;
  if (config.max_failures && failed > *config.max_failures) {
    return plural(failed, "test") + " failed or errored, more than the " +
           std::to_string(*config.max_failures) + " allowed (max_failures)";
  }
  if (config.max_skipped && totals.skipped > *config.max_skipped) {
    return plural(totals.skipped, "test") + " skipped, more than the " +
           std::to_string(*config.max_skipped) + " allowed (max_skipped)";
  }
  return {};
}

std::string pass_summary(const JunitCounts& totals) {
  std::string text =
      plural(totals.tests, "test") + ": " + std::to_string(totals.passed()) + " passed";
  if (totals.flaky > 0) {
    text += " (" + std::to_string(totals.flaky) + " flaky)";
  }
  if (totals.failures > 0) {
    text += ", " + std::to_string(totals.failures) + " failed";
  }
  if (totals.errors > 0) {
    text += ", " + std::to_string(totals.errors) + " errored";
  }
  if (totals.skipped > 0) {
    text += ", " + std::to_string(totals.skipped) + " skipped";
  }
  return text;
}

Verdict error_verdict(const Error& error, nlohmann::json details, std::vector<Evidence> evidence) {
  details["error"] = error.message;
  Verdict verdict = Verdict::make(Verdict::Status::error, error.message, std::move(details));
  verdict.evidence = std::move(evidence);
  return verdict;
}

Verdict judge(const JunitConfig& config, const fs::path& base_dir) {
  auto paths = expand_report_paths(base_dir, config.paths);
  if (!paths) {
    return error_verdict(paths.error(), {{"patterns", config.paths}}, {});
  }
  std::vector<Evidence> evidence;
  nlohmann::json files = nlohmann::json::array();
  JunitCounts totals;
  for (const std::string& path : *paths) {
    const fs::path full = fs::path(path).is_absolute() ? fs::path(path) : base_dir / path;
    auto data = util::read_file(full);
    if (!data) {
      return error_verdict(data.error(), {{"file", path}, {"files", files}}, evidence);
    }
    evidence.push_back(Evidence{path, util::sha256_hex(*data)});
    auto counts = parse_junit(*data, path);
    if (!counts) {
      return error_verdict(counts.error(), {{"file", path}, {"files", files}}, evidence);
    }
    nlohmann::json entry = counts_json(*counts);
    entry["path"] = path;
    files.push_back(std::move(entry));
    totals += *counts;
  }
  const long long considered = totals.tests - totals.skipped;
  nlohmann::json totals_json = counts_json(totals);
  totals_json["passed"] = totals.passed();
  nlohmann::json thresholds = {{"min_pass_rate", config.min_pass_rate},
                               {"min_tests", config.min_tests}};
  if (config.max_failures) {
    thresholds["max_failures"] = *config.max_failures;
  }
  if (config.max_skipped) {
    thresholds["max_skipped"] = *config.max_skipped;
  }
  nlohmann::json details = {
      {"files", files},
      {"totals", totals_json},
      {"pass_rate", considered > 0 ? static_cast<double>(totals.passed()) / considered : 0.0},
      {"thresholds", thresholds}};
  if (totals.tests == 0) {
    return error_verdict(
        make_error(ErrorKind::input, "no test cases found in " +
                                         plural(static_cast<long long>(paths->size()), "report")),
        std::move(details), std::move(evidence));
  }
  Verdict verdict;
  if (std::string broken = broken_threshold(config, totals); !broken.empty()) {
    verdict = Verdict::make(Verdict::Status::fail, std::move(broken), std::move(details));
  } else {
    verdict = Verdict::make(totals.flaky > 0 ? Verdict::Status::warn : Verdict::Status::pass,
                            pass_summary(totals), std::move(details));
  }
  verdict.evidence = std::move(evidence);
  return verdict;
}

}  // namespace

boost::asio::awaitable<Verdict> JunitGate::evaluate(const GateContext& context) {
  // Parsing large reports blocks: run it on the worker pool so a timeout still applies.
  auto work = [config = m_config, base_dir = context.base_dir] { return judge(config, base_dir); };
  co_return co_await scheduler::run_blocking(std::move(work));
}

nlohmann::json JunitGate::config() const {
  nlohmann::json out = {{"path", m_config.paths},
                        {"min_pass_rate", m_config.min_pass_rate},
                        {"min_tests", m_config.min_tests}};
  if (m_config.max_failures) {
    out["max_failures"] = *m_config.max_failures;
  }
  if (m_config.max_skipped) {
    out["max_skipped"] = *m_config.max_skipped;
  }
  return out;
}

std::unique_ptr<Gate> make_junit(const pipeline::ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'junit' needs 'with: { path: <JUnit XML files or glob patterns> }'");
    return nullptr;
  }
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (!with.expect_map("gate 'junit'",
                       {"path", "min_pass_rate", "max_failures", "max_skipped", "min_tests"})) {
    return nullptr;
  }
  JunitConfig config;
  if (auto path = with.require("path", "gate 'junit'")) {
    if (auto paths = path->as_string_list("path")) {
      if (paths->empty()) {
        path->error("'path' must name at least one file or pattern");
      }
      for (const std::string& pattern : *paths) {
        if (pattern.empty()) {
          path->error("'path' must not be an empty string");
        }
      }
      config.paths = std::move(*paths);
    }
  }
  if (auto node = with.get("min_pass_rate")) {
    if (auto rate = node->as_number("min_pass_rate")) {
      if (*rate < 0 || *rate > 1) {
        node->error("'min_pass_rate' must be between 0 and 1, got '" + node->yaml().Scalar() + "'");
      }
      config.min_pass_rate = *rate;
    }
  }
  const auto count = [&](const char* key, long long minimum) -> std::optional<long long> {
    auto node = with.get(key);
    if (!node) {
      return std::nullopt;
    }
    auto value = node->as_integer(key);
    if (value && *value < minimum) {
      node->error("'" + std::string(key) + "' must be " + std::to_string(minimum) +
                  " or more, got '" + node->yaml().Scalar() + "'");
    }
    return value;
  };
  config.max_failures = count("max_failures", 0);
  config.max_skipped = count("max_skipped", 0);
  if (auto min_tests = count("min_tests", 1)) {
    config.min_tests = *min_tests;
  }
  if (with.diagnostics().messages().size() != problems_before) {
    return nullptr;
  }
  return std::make_unique<JunitGate>(std::move(config));
}

}  // namespace promote::gates
