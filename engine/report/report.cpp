#include "engine/report/report.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "engine/pipeline/config_node.hpp"
#include "engine/report/tables.hpp"
#include "engine/util/text.hpp"
#include "engine/util/time.hpp"

namespace promote::report {

namespace {

using Status = Verdict::Status;

const char* colour_of(Status status) {
  switch (status) {
    case Status::pass: return "\033[32m";
    case Status::warn: return "\033[33m";
    case Status::pending: return "\033[36m";
    case Status::fail:
    case Status::error: return "\033[31m";
  }
  return "";
}

const char* colour_of(promoter::Outcome outcome) {
  switch (outcome) {
    case promoter::Outcome::promoted:
    case promoter::Outcome::proposed:
    case promoter::Outcome::no_op:
    case promoter::Outcome::planned: return "\033[32m";
    case promoter::Outcome::pending: return "\033[36m";
    default: return "\033[31m";
  }
}

std::string paint(const Style& style, const char* colour, const std::string& text) {
  return style.color ? std::string(colour) + text + "\033[0m" : text;
}

// Text from the pipeline, the files, the gates or the forge, on one line (util/text.hpp).
std::string line(const std::string& text) {
  return util::one_line(text);
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

// The gates' table: name, status, summary, when to look again.
std::string gates_text(const std::vector<promoter::GateResult>& gates, const Style& style) {
  if (gates.empty()) {
    return "";
  }
  std::ostringstream out;
  out << "gates\n";
  std::size_t name_width = 0;
  for (const auto& gate : gates) {
    name_width = std::max(name_width, line(gate.name).size());
  }
  for (const auto& gate : gates) {
    const Status status = gate.verdict.status;
    out << "  " << pad(line(gate.name), name_width) << "  "
        << paint(style, colour_of(status), pad(to_string(status), 7)) << " "
        << line(gate.verdict.summary);
    if (gate.verdict.retry_after) {
      out << " (retry in " << pipeline::format_duration(*gate.verdict.retry_after) << ")";
    }
    out << "\n";
  }
  return out.str();
}

nlohmann::json gates_json(const std::vector<promoter::GateResult>& gates) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& gate : gates) {
    nlohmann::json evidence = nlohmann::json::array();
    for (const auto& item : gate.verdict.evidence) {
      evidence.push_back({{"path", item.path}, {"sha256", item.sha256}});
    }
    out.push_back({{"name", gate.name},
                   {"use", gate.use},
                   {"status", to_string(gate.verdict.status)},
                   {"summary", gate.verdict.summary},
                   {"details", gate.verdict.details.is_null() ? nlohmann::json::object()
                                                              : gate.verdict.details},
                   {"config", gate.config},
                   {"retry_after_seconds", gate.verdict.retry_after
                                               ? nlohmann::json(gate.verdict.retry_after->count())
                                               : nlohmann::json()},
                   {"evidence", evidence}});
  }
  return out;
}

nlohmann::json candidate_json(const Candidate& candidate) {
  return {{"id", candidate.id()},
          {"short_id", candidate.short_id()},
          {"images", candidate.to_json()["images"]},
          {"charts", candidate.charts},
          {"files", candidate.files}};
}

}  // namespace

bool use_color(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  return ::isatty(fd) == 1 && (no_color == nullptr || *no_color == '\0');
}

std::string render_text(const promoter::PromotionResult& result, const Style& style) {
  std::ostringstream out;
  out << "promote " << line(result.pipeline) << ": "
      << (!result.rollback_of.empty() ? "(rollback)"
          : result.from.empty()       ? "(images)"
                                      : line(result.from))
      << " -> " << line(result.stage);
  // An empty candidate (none was resolved) has an id, of no images: it is not shown.
  if (!result.candidate.images.empty()) {
    out << "   candidate " << result.candidate.short_id();
  }
  out << (result.dry_run ? "   (dry run)" : "") << "\n";
  std::size_t width = 0;
  for (const auto& [name, reference] : result.candidate.images) {
    width = std::max(width, name.size());
  }
  for (const auto& [name, reference] : result.candidate.images) {
    const auto before = result.previous.find(name);
    out << "  " << pad(line(name), width) << "  ";
    const std::string to = line(short_reference(reference.to_string()));
    if (before == result.previous.end()) {
      out << "(not set) -> " << to << "\n";
    } else if (before->second == reference.to_string()) {
      out << to << " (unchanged)\n";
    } else {
      out << line(short_reference(before->second)) << " -> " << to << "\n";
    }
  }
  for (const auto& [name, version] : result.candidate.charts) {
    const auto before = result.previous_charts.find(name);
    out << "  chart " << line(name) << "  ";
    if (before == result.previous_charts.end()) {
      out << "(not pinned) -> " << line(version) << "\n";
    } else if (before->second == version) {
      out << line(version) << " (unchanged)\n";
    } else {
      out << line(before->second) << " -> " << line(version) << "\n";
    }
  }
  for (const auto& [name, digest] : result.candidate.files) {
    const auto before = result.previous_files.find(name);
    std::string to = "sha256:";
    to += digest.substr(0, 12);
    out << "  file " << line(name) << "  ";
    if (before == result.previous_files.end()) {
      out << "(none) -> " << to << "\n";
    } else if (before->second == digest) {
      out << to << " (unchanged)\n";
    } else {
      out << "sha256:" << line(before->second.substr(0, 12)) << " -> " << to << "\n";
    }
  }
  out << places_text(result.places, "");
  out << gates_text(result.gates, style);
  if (!result.diff.empty() && (result.dry_run || result.outcome == promoter::Outcome::promoted)) {
    out << (result.dry_run ? "diff it would commit\n" : "diff\n") << util::printable(result.diff);
    if (result.diff.back() != '\n') {
      out << "\n";
    }
  }
  for (const auto& warning : result.warnings) {
    out << paint(style, "\033[33m", "warning: ") << line(warning) << "\n";
  }
  out << "outcome: " << paint(style, colour_of(result.outcome), to_string(result.outcome));
  if (!result.commit.empty()) {
    out << "   commit " << result.commit.substr(0, 12) << " pushed to " << line(result.branch);
  }
  if (result.outcome == promoter::Outcome::no_op) {
    out << "   (" << line(result.stage) << " already has this candidate)";
  }
  out << "   id " << result.promotion_id << "\n";
  if (!result.pull_request.empty()) {
    out << "pull request: " << line(result.pull_request) << "\n";
  }
  for (const auto& older : result.superseded) {
    out << "superseded: " << line(older) << "\n";
  }
  if (!result.rollback_of.empty()) {
    out << "rollback of: " << line(result.rollback_of)
        << (result.gates_skipped ? " (gates skipped)" : "") << "\n";
  }
  if (result.error) {
    out << paint(style, "\033[31m", "error: ") << util::printable(result.error->message) << "\n";
  }
  return out.str();
}

nlohmann::json to_json(const promoter::PromotionResult& result) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& change : result.changes) {
    changes.push_back({{"path", change.path}});
  }
  nlohmann::json places = nlohmann::json::array();
  for (const auto& place : result.places) {
    places.push_back({{"file", place.file}, {"image", place.image}, {"value", place.value}});
  }
  nlohmann::json out = {
      {"outcome", to_string(result.outcome)},
      {"dry_run", result.dry_run},
      {"pipeline", result.pipeline},
      {"stage", result.stage},
      {"from", result.from.empty() ? nlohmann::json() : nlohmann::json(result.from)},
      {"promotion_id", result.promotion_id},
      {"candidate", candidate_json(result.candidate)},
      {"previous", result.previous},
      {"places", places},
      {"gates", gates_json(result.gates)},
      {"changes", changes},
      {"diff", result.diff},
      {"commit", result.commit.empty() ? nlohmann::json() : nlohmann::json(result.commit)},
      {"push_attempts", result.push_attempts},
      {"pull_request",
       result.pull_request.empty() ? nlohmann::json() : nlohmann::json(result.pull_request)},
      {"superseded", result.superseded},
      {"rollback_of",
       result.rollback_of.empty() ? nlohmann::json() : nlohmann::json(result.rollback_of)},
      {"gates_skipped", result.gates_skipped},
      {"actor", result.actor},
      {"reason", result.reason},
      {"break_glass", result.break_glass},
      {"warnings", result.warnings},
      {"started_at", util::format_utc(result.started)},
      {"finished_at", util::format_utc(result.finished)},
      {"error", result.error ? nlohmann::json{{"kind", to_string(result.error->kind)},
                                              {"message", result.error->message}}
                             : nlohmann::json()},
  };
  return out;
}

std::string verify_text(const promoter::VerifyResult& result, const Style& style) {
  std::ostringstream out;
  out << "verify " << line(result.pipeline) << ": " << line(result.stage) << "   candidate "
      << result.candidate.short_id() << "\n";
  std::size_t width = 0;
  for (const auto& [name, reference] : result.candidate.images) {
    width = std::max(width, name.size());
  }
  for (const auto& [name, reference] : result.candidate.images) {
    out << "  " << pad(line(name), width) << "  " << line(short_reference(reference.to_string()))
        << "\n";
  }
  // The source names the commit ("commit 85b5c3f9d3a8 (last change)"), or is "history".
  std::string brought = "(no record names the commit)";
  if (result.entered_source.starts_with("commit ")) {
    brought = line(result.entered_source);
  } else if (!result.commit.empty()) {
    brought =
        "commit " + result.commit.substr(0, 12) + " (from the " + line(result.entered_source) + ")";
  }
  out << "  brought by " << brought << "\n";
  out << gates_text(result.gates, style);
  for (const auto& warning : result.warnings) {
    out << paint(style, "\033[33m", "warning: ") << line(warning) << "\n";
  }
  const bool verified = result.outcome == "verified";
  out << "outcome: "
      << paint(style,
               verified                      ? "\033[32m"
               : result.outcome == "pending" ? "\033[36m"
                                             : "\033[31m",
               result.outcome);
  if (result.healthy_since) {
    out << "   healthy since " << util::format_utc(*result.healthy_since) << " ("
        << (result.recorded.empty() ? line(result.healthy_source)
                                    : "first seen now: recorded as " + result.recorded)
        << ")";
  }
  out << "\n";
  return out.str();
}

nlohmann::json verify_json(const promoter::VerifyResult& result) {
  return {
      {"outcome", result.outcome},
      {"pipeline", result.pipeline},
      {"stage", result.stage},
      {"candidate", candidate_json(result.candidate)},
      {"commit", result.commit.empty() ? nlohmann::json() : nlohmann::json(result.commit)},
      {"entered_source", result.entered_source},
      {"gates", gates_json(result.gates)},
      {"healthy_since", result.healthy_since
                            ? nlohmann::json(util::format_utc(*result.healthy_since))
                            : nlohmann::json()},
      {"healthy_source", result.healthy_source},
      {"recorded", result.recorded.empty() ? nlohmann::json() : nlohmann::json(result.recorded)},
      {"actor", result.actor},
      {"warnings", result.warnings},
      {"started_at", util::format_utc(result.started)}};
}

nlohmann::json error_json(const Error& error) {
  return {{"outcome", "error"},
          {"error", {{"kind", to_string(error.kind)}, {"message", error.message}}}};
}

std::string explain_text(const promoter::PromotionResult& result) {
  using promoter::Outcome;
  std::ostringstream out;
  out << line(result.stage) << " would take "
      << (result.candidate.empty() ? "no candidate"
                                   : "candidate " + result.candidate.short_id() + " (" +
                                         line(release_text(result.candidate, ", ")) + ")")
      << (result.from.empty() ? "" : " from " + line(result.from)) << ": ";
  switch (result.outcome) {
    case Outcome::no_op:
      out << "nothing to do, " << line(result.stage) << " already holds it\n";
      break;
    case Outcome::planned: out << "it would be promoted now (exit 0)\n"; break;
    case Outcome::blocked: out << "blocked (exit 1)\n"; break;
    case Outcome::pending: out << "not yet (exit 3)\n"; break;
    default:
      out << "it cannot be judged (exit 4)"
          << (result.error ? ": " + util::printable(result.error->message) : std::string()) << "\n";
  }
  std::vector<std::string> passing;
  for (const auto& gate : result.gates) {
    const Status status = gate.verdict.status;
    if (passes(status)) {
      passing.push_back(line(gate.name) + (status == Status::warn ? " (warn)" : ""));
      continue;
    }
    out << "  " << line(gate.name) << ": " << line(gate.verdict.summary) << "\n";
    const nlohmann::json& details = gate.verdict.details;
    if (details.is_object() && details.contains("entered_at") && details.contains("stage")) {
      out << "    " << line(details["stage"].get<std::string>()) << " got candidate "
          << result.candidate.short_id() << " at " << line(details["entered_at"].get<std::string>())
          << " (from the " << line(details.value("entered_source", std::string("record"))) << ")\n";
    }
    if (details.is_object() && details.contains("next_opening_local")) {
      out << "    the window opens " << line(details["next_opening_local"].get<std::string>())
          << "\n";
    }
    switch (status) {
      case Status::fail:
        out << "    blocks it: only a change to what it judges (or to the gate) lets it through\n";
        break;
      case Status::pending:
        out << "    waits: it can change "
            << (gate.verdict.retry_after
                    ? "in " + pipeline::format_duration(*gate.verdict.retry_after)
                    : std::string("later"))
            << "; promote --to " << line(result.stage) << " --wait DURATION waits for it\n";
        break;
      default:
        out << "    could not judge: fix what it names, then run again\n";
        break;
    }
  }
  if (!passing.empty()) {
    std::string names;
    for (const auto& name : passing) {
      names += (names.empty() ? "" : ", ") + name;
    }
    out << "passing: " << names << "\n";
  }
  return out.str();
}

}  // namespace promote::report
