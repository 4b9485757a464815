#include "engine/report/ci.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pugixml.hpp>
#include <random>
#include <sstream>

#include "engine/pipeline/config_node.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/files.hpp"
#include "engine/util/json.hpp"
#include "engine/util/secrets.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"
#include "engine/util/xml.hpp"

namespace promote::report {

namespace fs = std::filesystem;

namespace {

using promoter::Outcome;
using promoter::PromotionResult;
using Status = Verdict::Status;

constexpr std::size_t k_details_limit = 16 * 1024;  ///< of a gate's details in a JUnit body
constexpr std::size_t k_dotenv_value_limit = 1024;  ///< GitLab takes 5 KiB for the whole file

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool is_true(const char* name) {
  return env(name) == "true";
}

// ---------------------------------------------------------------------------------------
// Secrets

/// The names of the variables the gates' configurations name as holding secrets (promote's
/// own are added by util::secret_values).
std::vector<std::string> secret_variables(const std::vector<promoter::GateResult>& gates) {
  std::vector<std::string> names;
  for (const auto& gate : gates) {
    for (auto& name : util::secret_variables_of(gate.config)) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(std::move(name));
      }
    }
  }
  return names;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") + 1 - first);
}

/// Everything written by this file goes through here: valid UTF-8 with no secret in it.
class Scrubber {
 public:
  explicit Scrubber(const std::vector<std::string>& names)
      : m_secrets(util::secret_values(names)), m_masks(util::secret_values(names, false)) {}
  /// The values the runner is told to mask (it masks their encoded forms itself).
  const std::vector<std::string>& masks() const { return m_masks; }

  std::string operator()(const std::string& text) const {
    return util::scrub(util::valid_utf8(text), m_secrets);
  }

 private:
  std::vector<std::string> m_secrets;
  std::vector<std::string> m_masks;
};

// ---------------------------------------------------------------------------------------
// Shared pieces

/// What the writers need to know about the attempt, also when there was none.
struct Attempt {
  const PromotionResult& result;
  bool attempted = true;  ///< false: an error stopped promote before any attempt
};

std::string outcome_of(const Attempt& attempt) {
  return attempt.attempted ? promoter::to_string(attempt.result.outcome) : "error";
}

// An empty candidate (none was resolved) has an id, of no images: it is never shown.
bool has_candidate(const Attempt& attempt) {
  return attempt.attempted && !attempt.result.candidate.images.empty();
}

std::string candidate_short(const Attempt& attempt) {
  return has_candidate(attempt) ? attempt.result.candidate.short_id() : "";
}

std::string candidate_id(const Attempt& attempt) {
  return has_candidate(attempt) ? attempt.result.candidate.id() : "";
}

/// The outputs, in order: name (GitHub), name (GitLab dotenv), value.
std::vector<std::array<std::string, 3>> outputs(const Attempt& attempt) {
  const PromotionResult& result = attempt.result;
  return {{"outcome", "PROMOTE_OUTCOME", outcome_of(attempt)},
          {"stage", "PROMOTE_STAGE", result.stage},
          {"candidate", "PROMOTE_CANDIDATE", candidate_short(attempt)},
          {"candidate-id", "PROMOTE_CANDIDATE_ID", candidate_id(attempt)},
          {"commit", "PROMOTE_COMMIT", result.commit},
          {"pr-url", "PROMOTE_PR_URL", result.pull_request},
          {"promotion-id", "PROMOTE_PROMOTION_ID", result.promotion_id}};
}

std::string failure_text(const fs::path& path, const char* what) {
  return std::string("cannot write the ") + what + " " + path.string() + ": " +
         std::strerror(errno);
}

/// Appends `text` to the file a variable names; "" or a message saying what failed.
std::string append_to(const char* variable, const char* what, const std::string& text) {
  const std::string name = env(variable);
  if (name.empty()) {
    return std::string(variable) + " is not set: no " + what + " written";
  }
  const fs::path path(name);
  std::ofstream out(path, std::ios::app | std::ios::binary);
  if (!out) {
    return failure_text(path, what);
  }
  out << text;
  out.flush();
  if (!out) {
    return failure_text(path, what);
  }
  return {};
}

const char* marker(Status status) {
  switch (status) {
    case Status::pass:
      return "✅ pass";
    case Status::warn:
      return "⚠️ warn";
    case Status::fail:
      return "❌ fail";
    case Status::pending:
      return "⏳ pending";
    case Status::error:
      return "❗ error";
  }
  return "";
}

const char* marker(const std::string& outcome) {
  if (outcome == "promoted" || outcome == "proposed" || outcome == "planned") {
    return "✅";
  }
  if (outcome == "no-op") {
    return "➖";
  }
  if (outcome == "pending") {
    return "⏳";
  }
  if (outcome == "blocked") {
    return "❌";
  }
  return "❗";
}

// ---------------------------------------------------------------------------------------
// GitHub Actions

/// A name the pipeline file gave (a stage, the pipeline, an image: lower-case letters, digits
/// and '-', checked at load) as Markdown text: no line break, no pipe, no HTML.
std::string md(const std::string& text) {
  std::string out;
  for (const char c : util::one_line(text)) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Text written by others (a gate's summary, a reason, an actor, a message) as a Markdown code
/// span on one line: nothing in it renders as Markdown, HTML or an emoji.
std::string code(const std::string& text) {
  return util::markdown_code(text);
}

/// The same in a table cell.
std::string cell(const std::string& text) {
  return util::markdown_code(text, true);
}

std::string github_summary(const Attempt& attempt, const Scrubber& scrub) {
  const PromotionResult& result = attempt.result;
  const std::string outcome = outcome_of(attempt);
  std::ostringstream out;
  out << "### " << marker(outcome) << " promote to "
      << md(result.stage.empty() ? "?" : result.stage) << ": " << outcome;
  if (has_candidate(attempt)) {
    out << " (candidate " << code(candidate_short(attempt)) << ")";
  }
  if (result.dry_run) {
    out << " (dry run)";
  }
  out << "\n\n";
  if (!attempt.attempted) {
    if (result.error) {
      out << "**error** (" << to_string(result.error->kind)
          << "): " << code(scrub(result.error->message)) << "\n\n";
    }
    return out.str();
  }
  std::vector<std::string> facts;
  if (!result.pipeline.empty()) {
    facts.push_back("pipeline **" + md(scrub(result.pipeline)) + "**");
  }
  if (!result.rollback_of.empty()) {
    facts.push_back("rollback of " + code(result.rollback_of));
  } else if (!result.from.empty()) {
    facts.push_back("from **" + md(result.from) + "**");
  }
  facts.push_back("promotion " + code(result.promotion_id));
  if (!result.actor.empty()) {
    facts.push_back("by " + code(scrub(result.actor)));
  }
  if (!result.reason.empty()) {
    facts.push_back("reason: " + code(scrub(result.reason)));
  }
  if (result.break_glass) {
    facts.push_back("**break glass**");
  }
  for (std::size_t i = 0; i < facts.size(); ++i) {
    out << (i == 0 ? "" : " · ") << facts[i];
  }
  out << "\n\n";

  out << "| image | from | to |\n|---|---|---|\n";
  for (const auto& [name, reference] : result.candidate.images) {
    const std::string to = reference.to_string();
    const auto before = result.previous.find(name);
    out << "| " << md(name) << " | "
        << (before == result.previous.end() ? "(not set)"
                                            : cell(scrub(short_reference(before->second))))
        << " | "
        << (before != result.previous.end() && before->second == to ? "unchanged"
                                                                    : cell(short_reference(to)))
        << " |\n";
  }
  out << "\n";
  if (!result.places.empty()) {
    out << "Places that disagreed before:\n\n";
    for (const auto& place : result.places) {
      out << "- " << code(scrub(place.file)) << ": " << md(scrub(place.image)) << " "
          << code(scrub(short_reference(place.value))) << "\n";
    }
    out << "\n";
  }

  if (result.gates_skipped) {
    out << "Gates **skipped** (`promote rollback --skip-gates`).\n\n";
  } else if (!result.gates.empty()) {
    out << "| gate | use | status | summary |\n|---|---|---|---|\n";
    for (const auto& gate : result.gates) {
      std::string summary = cell(scrub(gate.verdict.summary));
      if (gate.verdict.retry_after) {
        summary += " (retry in " + pipeline::format_duration(*gate.verdict.retry_after) + ")";
      }
      out << "| " << cell(scrub(gate.name)) << " | " << cell(scrub(gate.use)) << " | "
          << marker(gate.verdict.status) << " | " << summary << " |\n";
    }
    out << "\n";
  }

  if (!result.diff.empty()) {
    std::string diff = util::printable(scrub(result.diff));
    std::string note;
    if (diff.size() > k_summary_diff_limit) {
      const auto cut = diff.rfind('\n', k_summary_diff_limit);
      const std::size_t keep = cut == std::string::npos ? k_summary_diff_limit : cut + 1;
      const auto lines =
          std::count(diff.begin() + static_cast<std::ptrdiff_t>(keep), diff.end(), '\n');
      note = "_The diff is cut at " + std::to_string(k_summary_diff_limit / 1024) + " KiB; " +
             std::to_string(lines) + " more lines are in " +
             (result.commit.empty() ? "`promote plan --to " + result.stage + " --output json`"
                                    : "the commit") +
             "._\n\n";
      diff.resize(keep);
    }
    if (diff.back() != '\n') {
      diff += '\n';
    }
    const bool would = result.dry_run ||
                       (result.outcome != Outcome::promoted && result.outcome != Outcome::proposed);
    const std::string fence = util::markdown_fence(diff);
    out << (would ? "The change it would make:\n\n" : "The change:\n\n") << fence << "diff\n"
        << diff << fence << "\n\n"
        << note;
  }

  if (!result.commit.empty()) {
    out << "Commit " << code(result.commit.substr(0, 12))
        << (result.branch.empty() ? "" : " pushed to " + code(result.branch)) << ".\n\n";
  }
  if (!result.pull_request.empty()) {
    out << "Pull request: " << code(scrub(result.pull_request)) << "\n\n";
  }
  for (const auto& older : result.superseded) {
    out << "Superseded: " << code(scrub(older)) << "\n\n";
  }
  if (result.error) {
    out << "**error** (" << to_string(result.error->kind)
        << "): " << code(scrub(result.error->message)) << "\n\n";
  }
  if (!result.warnings.empty()) {
    out << "Warnings:\n\n";
    for (const auto& warning : result.warnings) {
      out << "- ⚠️ " << code(scrub(warning)) << "\n";
    }
    out << "\n";
  }
  return out.str();
}

/// A delimiter for a multi-line output value that the value does not hold.
std::string delimiter_for(const std::string& value) {
  std::random_device random;
  std::string delimiter;
  do {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", random(), random(), random(), random());
    delimiter = std::string("ghadelimiter_") + hex;
  } while (value.find(delimiter) != std::string::npos);
  return delimiter;
}

std::string github_outputs(const Attempt& attempt, const Scrubber& scrub) {
  std::string out;
  for (const auto& [name, dotenv, raw] : outputs(attempt)) {
    const std::string value = scrub(raw);
    if (value.find_first_of("\r\n") == std::string::npos) {
      out += name + "=" + value + "\n";
    } else {
      const std::string delimiter = delimiter_for(value);
      out += name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n";
    }
  }
  return out;
}

/// A workflow command (an annotation): the title on one line, the message's control
/// characters shown (its line breaks are the annotation's), both escaped for the runner.
void command(std::ostream& out, const char* name, const std::string& title,
             const std::string& message) {
  out << "::" << name;
  if (!title.empty()) {
    out << " title=" << escape_command_property(util::one_line(title));
  }
  out << "::" << escape_command_data(util::printable(message)) << "\n";
}

void github_commands(const Attempt& attempt, const Scrubber& scrub, std::ostream& out) {
  for (const auto& secret : scrub.masks()) {
    out << "::add-mask::" << escape_command_data(secret) << "\n";
  }
  const PromotionResult& result = attempt.result;
  const std::string where = "promote " + result.stage;
  for (const auto& gate : result.gates) {
    const std::string title = where + ": gate " + gate.name +
                              (gate.use == gate.name ? "" : " (" + gate.use + ")") + " " +
                              to_string(gate.verdict.status);
    const std::string summary = util::one_line(scrub(gate.verdict.summary));
    switch (gate.verdict.status) {
      case Status::fail:
      case Status::error:
        command(out, "error", scrub(title), summary);
        break;
      case Status::warn:
        command(out, "warning", scrub(title), summary);
        break;
      case Status::pending:
        command(out, "notice", scrub(title),
                summary + (gate.verdict.retry_after
                               ? " (retry in " +
                                     pipeline::format_duration(*gate.verdict.retry_after) + ")"
                               : std::string()));
        break;
      case Status::pass:
        break;
    }
  }
  if (result.error) {
    command(out, "error", scrub(where + ": " + to_string(result.error->kind) + " error"),
            scrub(result.error->message));
  }
  for (const auto& warning : result.warnings) {
    command(out, "warning", scrub(where), util::one_line(scrub(warning)));
  }
}

void github(const Attempt& attempt, const Scrubber& scrub, std::ostream& commands,
            std::vector<std::string>& problems) {
  github_commands(attempt, scrub, commands);
  commands.flush();
  if (auto problem =
          append_to("GITHUB_STEP_SUMMARY", "step summary", github_summary(attempt, scrub));
      !problem.empty()) {
    problems.push_back(problem);
  }
  if (auto problem = append_to("GITHUB_OUTPUT", "step outputs", github_outputs(attempt, scrub));
      !problem.empty()) {
    problems.push_back(problem);
  }
}

// ---------------------------------------------------------------------------------------
// GitLab CI

/// Text XML 1.0 can hold, and GitLab shows as it is: no secret, util::printable (valid UTF-8,
/// no control character but tab and line feed, no workflow command).
std::string xml_text(const Scrubber& scrub, const std::string& text) {
  return util::printable(scrub(text));
}

/// The same on one line: names, attributes, summaries.
std::string xml_line(const Scrubber& scrub, const std::string& text) {
  return util::one_line(scrub(text));
}

/// At most `limit` bytes of `text`, not cutting a UTF-8 sequence, with a note when cut.
std::string capped(std::string text, std::size_t limit) {
  if (text.size() <= limit) {
    return text;
  }
  std::size_t keep = limit;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  const std::size_t dropped = text.size() - keep;
  text.resize(keep);
  return text + "\n... (" + std::to_string(dropped) + " more bytes)";
}

std::string gate_body(const promoter::GateResult& gate, const Scrubber& scrub) {
  // Secrets out first: neutralising first could change a secret's text before it is found.
  std::string body = xml_line(scrub, gate.verdict.summary);
  if (!gate.verdict.details.is_null() && !gate.verdict.details.empty()) {
    body += "\n\ndetails:\n" + capped(util::dump_json(gate.verdict.details, 2), k_details_limit);
  }
  if (!gate.verdict.evidence.empty()) {
    body += "\n\nevidence:";
    for (const auto& item : gate.verdict.evidence) {
      body += "\n  " + xml_line(scrub, item.path) + " sha256:" + xml_line(scrub, item.sha256);
    }
  }
  return xml_text(scrub, body);
}

void set_counts(pugi::xml_node node, int tests, int failures, int errors, int skipped) {
  const std::pair<const char*, int> counts[] = {
      {"tests", tests}, {"failures", failures}, {"errors", errors}, {"skipped", skipped}};
  for (const auto& [name, value] : counts) {
    auto attribute = node.attribute(name);
    if (!attribute) {
      attribute = node.append_attribute(name);
    }
    attribute.set_value(value);
  }
}

std::string junit_report(const Attempt& attempt, const Scrubber& scrub, const fs::path& path,
                         std::vector<std::string>& problems) {
  const PromotionResult& result = attempt.result;
  pugi::xml_document doc;
  pugi::xml_node root;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    // An undefined entity makes the file malformed XML (pugixml would keep it as text).
    auto text = util::read_file(path);
    if (text && util::bad_xml_reference_in_document(*text) == std::string::npos &&
        doc.load_buffer(text->data(), text->size()) &&
        doc.document_element().name() == std::string("testsuites")) {
      root = doc.document_element();
    } else {
      problems.push_back(path.string() + " was not a JUnit <testsuites> file; replaced");
    }
  }
  if (!root) {
    doc.reset();
    auto declaration = doc.append_child(pugi::node_declaration);
    declaration.append_attribute("version") = "1.0";
    declaration.append_attribute("encoding") = "UTF-8";
    root = doc.append_child("testsuites");  // no attributes: the schema of junit-10.xsd
  }

  const std::string stage = result.stage.empty() ? "promote" : result.stage;
  auto suite = root.append_child("testsuite");
  suite.append_attribute("name") = xml_line(scrub, stage).c_str();
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  int tests = 0;
  set_counts(suite, 0, 0, 0, 0);
  if (attempt.attempted) {
    const double seconds = std::chrono::duration<double>(result.finished - result.started).count();
    char time[32];
    std::snprintf(time, sizeof time, "%.3f", std::max(0.0, seconds));
    suite.append_attribute("time") = time;
    suite.append_attribute("timestamp") = util::format_utc(result.started).c_str();
    auto properties = suite.append_child("properties");
    auto property = [&](const char* name, const std::string& value) {
      if (value.empty()) {
        return;
      }
      auto node = properties.append_child("property");
      node.append_attribute("name") = name;
      node.append_attribute("value") = xml_line(scrub, value).c_str();
    };
    property("promote.outcome", outcome_of(attempt));
    property("promote.pipeline", result.pipeline);
    property("promote.from", result.from);
    property("promote.candidate", candidate_id(attempt));
    property("promote.promotion_id", result.promotion_id);
    property("promote.commit", result.commit);
    property("promote.pull_request", result.pull_request);
    property("promote.actor", result.actor);
    property("promote.ci_run_url", result.ci_run_url);
  }
  const std::string classname = "promote." + stage;
  for (const auto& gate : result.gates) {
    ++tests;
    auto testcase = suite.append_child("testcase");
    testcase.append_attribute("name") = xml_line(scrub, gate.name).c_str();
    testcase.append_attribute("classname") = xml_line(scrub, classname + "." + gate.use).c_str();
    const std::string summary = xml_line(scrub, gate.verdict.summary);
    switch (gate.verdict.status) {
      case Status::pass:
      case Status::warn: {
        const std::string text =
            (gate.verdict.status == Status::warn ? "warn: " : "pass: ") + summary;
        testcase.append_child("system-out").text().set(text.c_str());
        break;
      }
      case Status::fail:
      case Status::error: {
        const bool fail = gate.verdict.status == Status::fail;
        auto node = testcase.append_child(fail ? "failure" : "error");
        node.append_attribute("message") = summary.c_str();
        node.append_attribute("type") = fail ? "fail" : "error";
        node.text().set(gate_body(gate, scrub).c_str());
        ++(fail ? failures : errors);
        break;
      }
      case Status::pending: {
        std::string message = "pending: " + summary;
        if (gate.verdict.retry_after) {
          message += " (retry in " + pipeline::format_duration(*gate.verdict.retry_after) + ")";
        }
        testcase.append_child("skipped").append_attribute("message") = message.c_str();
        ++skipped;
        break;
      }
    }
  }
  if (result.error) {
    // What stopped the promotion apart from the gates (git, the forge, the pipeline file).
    ++tests;
    ++errors;
    auto testcase = suite.append_child("testcase");
    testcase.append_attribute("name") = "promote";
    testcase.append_attribute("classname") = xml_line(scrub, classname).c_str();
    auto node = testcase.append_child("error");
    node.append_attribute("message") = xml_line(scrub, result.error->message).c_str();
    node.append_attribute("type") = to_string(result.error->kind);
    node.text().set(xml_text(scrub, result.error->message).c_str());
  }
  set_counts(suite, tests, failures, errors, skipped);

  std::ostringstream text;
  doc.save(text, "  ", pugi::format_default, pugi::encoding_utf8);
  return text.str();
}

/// A dotenv value GitLab reads back as written: one line (util::one_line), no surrounding
/// blanks, short.
std::string dotenv_value(const Scrubber& scrub, const std::string& raw) {
  std::string value = trim(util::one_line(scrub(raw)));
  if (value.size() > k_dotenv_value_limit) {
    std::size_t keep = k_dotenv_value_limit;
    while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) {
      --keep;
    }
    value.resize(keep);
  }
  return value;
}

std::string dotenv(const Attempt& attempt, const Scrubber& scrub) {
  std::string out;
  for (const auto& [name, variable, raw] : outputs(attempt)) {
    out += variable + "=" + dotenv_value(scrub, raw) + "\n";
  }
  return out;
}

fs::path path_from(const char* variable, const char* fallback) {
  const std::string value = env(variable);
  return fs::path(value.empty() ? fallback : value);
}

void gitlab(const Attempt& attempt, const Scrubber& scrub, std::vector<std::string>& problems) {
  const fs::path junit = path_from("PROMOTE_JUNIT_REPORT", "promote-gates.xml");
  const std::string report = junit_report(attempt, scrub, junit, problems);
  if (auto written = util::write_file_atomic(junit, report); !written) {
    problems.push_back("cannot write the JUnit report " + junit.string() + ": " +
                       scrub(written.error().message));
  }
  const fs::path env_file = path_from("PROMOTE_DOTENV", "promote.env");
  if (auto written = util::write_file_atomic(env_file, dotenv(attempt, scrub)); !written) {
    problems.push_back("cannot write the dotenv file " + env_file.string() + ": " +
                       scrub(written.error().message));
  }
}

std::vector<std::string> write(const Attempt& attempt, std::ostream& commands) {
  std::vector<std::string> problems;
  const bool on_github = is_true("GITHUB_ACTIONS");
  const bool on_gitlab = is_true("GITLAB_CI");
  if (!on_github && !on_gitlab) {
    return problems;
  }
  const Scrubber scrub(secret_variables(attempt.result.gates));
  if (on_github) {
    github(attempt, scrub, commands, problems);
  }
  if (on_gitlab) {
    gitlab(attempt, scrub, problems);
  }
  for (auto& problem : problems) {
    problem = scrub(problem);
  }
  return problems;
}

}  // namespace

std::string escape_command_data(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '\r':
        out += "%0D";
        break;
      case '\n':
        out += "%0A";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_command_property(const std::string& text) {
  std::string out;
  for (char c : escape_command_data(text)) {
    switch (c) {
      case ':':
        out += "%3A";
        break;
      case ',':
        out += "%2C";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::string> write_ci_outputs(const promoter::PromotionResult& result,
                                          std::ostream& commands) {
  return write(Attempt{result, true}, commands);
}

std::vector<std::string> write_ci_error(const Error& error, const std::string& stage,
                                        std::ostream& commands) {
  PromotionResult result;
  result.outcome = Outcome::error;
  result.stage = stage;
  result.error = error;
  return write(Attempt{result, false}, commands);
}

}  // namespace promote::report
