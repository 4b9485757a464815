#include "gates/sarif.hpp"

#include <cmath>
#include <cstdlib>

namespace promote::gates {

Severity severity_from_score(double score) {
  if (score >= 9.0) {
    return Severity::critical;
  }
  if (score >= 7.0) {
    return Severity::high;
  }
  if (score >= 4.0) {
    return Severity::medium;
  }
  if (score > 0.0) {
    return Severity::low;
  }
  return Severity::unknown;
}

namespace {

// `properties["security-severity"]` of `object` as a number: nullopt when absent; fails
// when it is neither a number nor a string holding one.
Result<std::optional<double>> score_of(const nlohmann::json& object, const std::string& path,
                                       const std::string& label) {
  auto properties = member_object(object, "properties", path, label);
  if (!properties) {
    return properties.error();
  }
  if (*properties == nullptr) {
    return std::optional<double>();
  }
  auto it = (*properties)->find("security-severity");
  if (it == (*properties)->end() || it->is_null()) {
    return std::optional<double>();
  }
  const std::string where = path + ".properties[\"security-severity\"]";
  if (it->is_number()) {
    return std::optional<double>(it->get<double>());
  }
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(value)) {
      return std::optional<double>(value);
    }
    return shape_error(label, where + " must be a number, got \"" + text + "\"");
  }
  return shape_error(label, where + " must be a number, got " + json_type(*it));
}

// The rule a result refers to, or nullptr: by ruleIndex (or rule.index), else by id.
Result<const nlohmann::json*> rule_of(const nlohmann::json& result, const nlohmann::json* rules,
                                      const std::string& rule_id, const std::string& path,
                                      const std::string& label) {
  std::optional<long long> index;
  std::string index_path = path + ".ruleIndex";
  if (auto it = result.find("ruleIndex"); it != result.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return shape_error(label, index_path + " must be an integer, got " + json_type(*it));
    }
    index = it->get<long long>();
  } else if (auto rule = result.find("rule"); rule != result.end() && rule->is_object()) {
    if (auto it = rule->find("index"); it != rule->end() && it->is_number_integer()) {
      index = it->get<long long>();
      index_path = path + ".rule.index";
    }
  }
  if (index && *index >= 0) {
    const std::size_t count = rules == nullptr ? 0 : rules->size();
    if (static_cast<std::size_t>(*index) >= count) {
      return shape_error(label, index_path + " " + std::to_string(*index) +
                                    " is out of range (the driver has " + std::to_string(count) +
                                    " rules)");
    }
    return &(*rules)[static_cast<std::size_t>(*index)];
  }
  if (rules != nullptr && !rule_id.empty()) {
    for (const nlohmann::json& rule : *rules) {
      if (rule.is_object() && rule.value("id", nlohmann::json()).is_string() &&
          rule["id"].get<std::string>() == rule_id) {
        return &rule;
      }
    }
  }
  return static_cast<const nlohmann::json*>(nullptr);
}

// Whether a suppression that is not "rejected" removes the result.
Result<bool> suppressed(const nlohmann::json& result, const std::string& path,
                        const std::string& label) {
  auto suppressions = member_list(result, "suppressions", path, label);
  if (!suppressions) {
    return suppressions.error();
  }
  if (*suppressions == nullptr) {
    return false;
  }
  for (std::size_t i = 0; i < (*suppressions)->size(); ++i) {
    const std::string spath = path + ".suppressions[" + std::to_string(i) + "]";
    const nlohmann::json& suppression = (**suppressions)[i];
    if (auto ok = expect_object(suppression, spath, label); !ok) {
      return ok.error();
    }
    auto status = member_string(suppression, "status", spath, label);
    if (!status) {
      return status.error();
    }
    if (!*status || **status != "rejected") {
      return true;
    }
  }
  return false;
}

std::string first_uri(const nlohmann::json& result) {
  auto locations = result.find("locations");
  if (locations == result.end() || !locations->is_array() || locations->empty()) {
    return {};
  }
  const nlohmann::json& first = (*locations)[0];
  const nlohmann::json::json_pointer pointer("/physicalLocation/artifactLocation/uri");
  if (first.is_object() && first.contains(pointer) && first[pointer].is_string()) {
    return first[pointer].get<std::string>();
  }
  return {};
}

// Appends the finding of one result, if it counts.
Result<void> read_result(const nlohmann::json& result, const nlohmann::json* rules,
                         const std::string& path, const std::string& label,
                         std::vector<Finding>& out) {
  if (auto ok = expect_object(result, path, label); !ok) {
    return ok.error();
  }
  auto kind = member_string(result, "kind", path, label);
  auto baseline = member_string(result, "baselineState", path, label);
  auto rule_id = member_string(result, "ruleId", path, label);
  auto level = member_string(result, "level", path, label);
  for (const auto* field : {&kind, &baseline, &rule_id, &level}) {
    if (!*field) {
      return field->error();
    }
  }
  if ((*kind && **kind != "fail") || (*baseline && **baseline == "absent")) {
    return {};
  }
  auto is_suppressed = suppressed(result, path, label);
  if (!is_suppressed) {
    return is_suppressed.error();
  }
  if (*is_suppressed) {
    return {};
  }
  auto rule = rule_of(result, rules, rule_id->value_or(""), path, label);
  if (!rule) {
    return rule.error();
  }
  std::string id = rule_id->value_or("");
  if (id.empty() && *rule != nullptr && (*rule)->is_object()) {
    id = (*rule)->value("id", std::string());
  }
  if (id.empty()) {
    if (auto it = result.find("rule"); it != result.end() && it->is_object()) {
      id = it->value("id", std::string());
    }
  }
  if (id.empty()) {
    return shape_error(label, path + " has no ruleId");
  }
  std::string effective = "warning";
  if (*level) {
    effective = **level;
  } else if (*rule != nullptr && (*rule)->is_object()) {
    const nlohmann::json::json_pointer pointer("/defaultConfiguration/level");
    if ((*rule)->contains(pointer) && (**rule)[pointer].is_string()) {
      effective = (**rule)[pointer].get<std::string>();
    }
  }
  if (effective != "none" && effective != "note" && effective != "warning" &&
      effective != "error") {
    return shape_error(
        label, path + ": level must be none, note, warning or error, got \"" + effective + "\"");
  }
  if (effective == "none") {
    return {};
  }
  auto score = score_of(result, path, label);
  if (!score) {
    return score.error();
  }
  if (!*score && *rule != nullptr && (*rule)->is_object()) {
    score = score_of(**rule, path + " rule", label);
    if (!score) {
      return score.error();
    }
  }
  Finding finding;
  finding.id = std::move(id);
  finding.package = first_uri(result);
  if (*score) {
    finding.severity = severity_from_score(**score);
  } else {
    finding.severity = effective == "error"     ? Severity::high
                       : effective == "warning" ? Severity::medium
                                                : Severity::low;
  }
  auto fixes = result.find("fixes");
  finding.fixable = fixes != result.end() && fixes->is_array() && !fixes->empty();
  out.push_back(std::move(finding));
  return {};
}

// `tool.driver.rules` of a run, when each is what it must be (an object, an object, a list).
const nlohmann::json* rules_of(const nlohmann::json& run) {
  if (!run.is_object()) {
    return nullptr;
  }
  const auto tool = run.find("tool");
  if (tool == run.end() || !tool->is_object()) {
    return nullptr;
  }
  const auto driver = tool->find("driver");
  if (driver == tool->end() || !driver->is_object()) {
    return nullptr;
  }
  const auto rules = driver->find("rules");
  return rules != driver->end() && rules->is_array() ? &*rules : nullptr;
}

// A run of a SARIF log, read in two passes over the text (SarifOutline, SarifResults).
struct SarifRun {
  nlohmann::json skeleton = nlohmann::json::object();  ///< its members but the results (a list
                                                       ///< as []); not an object: as it is
  std::size_t results_keys = 0;                        ///< how many `results` keys it has
  const nlohmann::json* rules = nullptr;               ///< tool.driver.rules, when a list
  std::vector<Finding> findings;
  std::optional<Error> error;  ///< the first result's that has one
};

// What a SARIF log's two passes find: the first its root and runs without their results, the
// second the findings of each run's results, read one at a time against the rules of the
// run's tool (which the run may hold after them). A repeated key replaces the earlier value:
// the second pass reads only the lists the first kept.
struct SarifLog {
  nlohmann::json root = nlohmann::json::object();  ///< version; runs as [] when a list
  std::size_t runs_keys = 0;                       ///< how many `runs` keys the root has
  std::vector<SarifRun> runs;

  // The report, as the reader of a whole document gives it: the root's errors first, then
  // those of each run in turn (its tool, its results list, its first result that has one).
  Result<ScanReport> report(const std::string& label) {
    if (!root.is_object()) {
      return shape_error(label, "not a SARIF log: expected an object, got " + json_type(root));
    }
    auto version = member_string(root, "version", "", label);
    if (!version) {
      return version.error();
    }
    if (*version && **version != "2.1.0") {
      return shape_error(label, "unsupported SARIF version \"" + **version + "\" (expected 2.1.0)");
    }
    auto list = member_list(root, "runs", "", label);
    if (!list) {
      return list.error();
    }
    if (*list == nullptr) {
      return shape_error(label, "not a SARIF log: no 'runs' list");
    }
    ScanReport report;
    report.empty = true;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      const nlohmann::json& run = runs[r].skeleton;
      const std::string path = "runs[" + std::to_string(r) + "]";
      if (auto ok = expect_object(run, path, label); !ok) {
        return ok.error();
      }
      auto tool = member_object(run, "tool", path, label);
      if (!tool) {
        return tool.error();
      }
      if (*tool != nullptr) {
        auto driver = member_object(**tool, "driver", path + ".tool", label);
        if (!driver) {
          return driver.error();
        }
        if (*driver != nullptr) {
          if (auto rules = member_list(**driver, "rules", path + ".tool.driver", label); !rules) {
            return rules.error();
          }
        }
      }
      auto results = member_list(run, "results", path, label);
      if (!results) {
        return results.error();
      }
      if (*results == nullptr) {
        continue;
      }
      report.empty = false;
      if (runs[r].error) {
        return *runs[r].error;
      }
      report.findings.insert(report.findings.end(), runs[r].findings.begin(),
                             runs[r].findings.end());
    }
    return report;
  }
};

// The first pass: the root's `version` and `runs`; of each run its `tool`, whole, and whether
// `results` is a list (the results are read past).
class SarifOutline : public JsonStreamHandler {
 public:
  explicit SarifOutline(SarifLog& log) : m_log(log) {}

  JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) override {
    switch (path.size()) {
      case 0:
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 1:
        if (path[0].key == "runs") {
          ++m_log.runs_keys;
          m_log.runs.clear();
          if (kind == JsonKind::array) {
            m_log.root["runs"] = nlohmann::json::array();
            return JsonAction::descend;
          }
          return JsonAction::capture;
        }
        return path[0].key == "version" ? JsonAction::capture : JsonAction::skip;
      case 2:
        m_log.runs.emplace_back();
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 3: {
        SarifRun& run = m_log.runs.back();
        if (path[2].key == "results") {
          ++run.results_keys;
          if (kind == JsonKind::array) {
            run.skeleton["results"] = nlohmann::json::array();
            return JsonAction::skip;
          }
          return JsonAction::capture;
        }
        return path[2].key == "tool" ? JsonAction::capture : JsonAction::skip;
      }
      default:
        return JsonAction::skip;
    }
  }

  void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) override {
    switch (path.size()) {
      case 0:
        m_log.root = std::move(value);
        break;
      case 1:
        m_log.root[std::string(path[0].key)] = std::move(value);
        break;
      case 2:
        m_log.runs.back().skeleton = std::move(value);
        break;
      default:
        m_log.runs.back().skeleton[std::string(path[2].key)] = std::move(value);
        break;
    }
  }

  void on_end(const std::vector<JsonStep>&) override {}

 private:
  SarifLog& m_log;
};

// The second pass: the results of the runs the first pass kept, one at a time.
class SarifResults : public JsonStreamHandler {
 public:
  SarifResults(SarifLog& log, const std::string& label) : m_log(log), m_label(label) {}

  JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) override {
    const bool list = kind == JsonKind::array;
    switch (path.size()) {
      case 0:
        return JsonAction::descend;
      case 1:
        return path[0].key == "runs" && ++m_runs_keys == m_log.runs_keys && list
                   ? JsonAction::descend
                   : JsonAction::skip;
      case 2:
        m_results_keys = 0;
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::skip;
      case 3:
        return path[2].key == "results" &&
                       ++m_results_keys == m_log.runs[path[1].index].results_keys && list
                   ? JsonAction::descend
                   : JsonAction::skip;
      case 4:
        return m_log.runs[path[1].index].error ? JsonAction::skip : JsonAction::capture;
      default:
        return JsonAction::skip;
    }
  }

  void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) override {
    if (path.size() != 4) {
      return;  // a scalar at the root: the first pass has it
    }
    SarifRun& run = m_log.runs[path[1].index];
    const std::string where = "runs[" + std::to_string(path[1].index) + "].results[" +
                              std::to_string(path[3].index) + "]";
    if (auto ok = read_result(value, run.rules, where, m_label, run.findings); !ok) {
      run.error = ok.error();
    }
  }

  void on_end(const std::vector<JsonStep>&) override {}

 private:
  SarifLog& m_log;
  const std::string& m_label;
  std::size_t m_runs_keys = 0;
  std::size_t m_results_keys = 0;  ///< of the run being read
};

}  // namespace

Result<ScanReport> parse_sarif(std::string_view text, const std::string& label,
                               std::size_t padding) {
  SarifLog log;
  SarifOutline outline(log);
  if (auto ok = stream_json(text, label, outline, padding); !ok) {
    return ok.error();
  }
  if (log.root.is_object() && log.root.contains("runs") && log.root["runs"].is_array()) {
    for (SarifRun& run : log.runs) {
      run.rules = rules_of(run.skeleton);
    }
    SarifResults results(log, label);
    if (auto ok = stream_json(text, label, results, padding); !ok) {
      return ok.error();
    }
  }
  return log.report(label);
}

std::unique_ptr<Gate> make_sarif(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "sarif", &parse_sarif);
}

}  // namespace promote::gates
