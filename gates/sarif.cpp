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

}  // namespace

Result<ScanReport> parse_sarif(std::string_view text, const std::string& label,
                               std::size_t padding) {
  auto document = parse_json_text(text, label, padding);
  if (!document) {
    return document.error();
  }
  const nlohmann::json& root = *document;
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
  auto runs = member_list(root, "runs", "", label);
  if (!runs) {
    return runs.error();
  }
  if (*runs == nullptr) {
    return shape_error(label, "not a SARIF log: no 'runs' list");
  }
  ScanReport report;
  report.empty = true;
  for (std::size_t r = 0; r < (*runs)->size(); ++r) {
    const nlohmann::json& run = (**runs)[r];
    const std::string path = "runs[" + std::to_string(r) + "]";
    if (auto ok = expect_object(run, path, label); !ok) {
      return ok.error();
    }
    const nlohmann::json* rules = nullptr;
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
        auto list = member_list(**driver, "rules", path + ".tool.driver", label);
        if (!list) {
          return list.error();
        }
        rules = *list;
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
    for (std::size_t i = 0; i < (*results)->size(); ++i) {
      const std::string result_path = path + ".results[" + std::to_string(i) + "]";
      if (auto ok = read_result((**results)[i], rules, result_path, label, report.findings); !ok) {
        return ok.error();
      }
    }
  }
  return report;
}

std::unique_ptr<Gate> make_sarif(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "sarif", &parse_sarif);
}

}  // namespace promote::gates
