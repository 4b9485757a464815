#include "gates/grype.hpp"

namespace promote::gates {

namespace {

// The scanned image: `source.target.userInput` (or a string target) when the source is an
// image, else "".
Result<std::string> scanned_image(const nlohmann::json& root, const std::string& label) {
  auto source = member_object(root, "source", "", label);
  if (!source) {
    return source.error();
  }
  if (*source == nullptr) {
    return std::string();
  }
  auto type = member_string(**source, "type", "source", label);
  if (!type) {
    return type.error();
  }
  if (!*type || **type != "image") {
    return std::string();
  }
  auto target = (*source)->find("target");
  if (target == (*source)->end()) {
    return std::string();
  }
  if (target->is_string()) {
    return target->get<std::string>();
  }
  if (target->is_object()) {
    auto input = member_string(*target, "userInput", "source.target", label);
    if (!input) {
      return input.error();
    }
    return input->value_or("");
  }
  return std::string();
}

Result<Finding> read_match(const nlohmann::json& match, const std::string& path,
                           const std::string& label) {
  if (auto ok = expect_object(match, path, label); !ok) {
    return ok.error();
  }
  auto vulnerability = member_object(match, "vulnerability", path, label);
  if (!vulnerability) {
    return vulnerability.error();
  }
  if (*vulnerability == nullptr) {
    return shape_error(label, path + " has no vulnerability");
  }
  const std::string vpath = path + ".vulnerability";
  auto id = member_string(**vulnerability, "id", vpath, label);
  auto severity_name = member_string(**vulnerability, "severity", vpath, label);
  auto fix = member_object(**vulnerability, "fix", vpath, label);
  auto artifact = member_object(match, "artifact", path, label);
  if (!id) {
    return id.error();
  }
  if (!severity_name) {
    return severity_name.error();
  }
  if (!fix) {
    return fix.error();
  }
  if (!artifact) {
    return artifact.error();
  }
  if (!*id || (*id)->empty()) {
    return shape_error(label, vpath + " has no id");
  }
  Finding finding;
  finding.id = **id;
  if (*severity_name) {
    if (auto severity = severity_from_name(**severity_name)) {
      finding.severity = *severity;
    } else if (**severity_name == "Negligible" || **severity_name == "negligible") {
      finding.severity = Severity::low;
    } else {
      return shape_error(label, vpath +
                                    ".severity must be Critical, High, Medium, Low, "
                                    "Negligible or Unknown, got \"" +
                                    **severity_name + "\"");
    }
  }
  if (*fix != nullptr) {
    auto state = member_string(**fix, "state", vpath + ".fix", label);
    if (!state) {
      return state.error();
    }
    finding.fixable = *state && **state == "fixed";
  }
  if (*artifact != nullptr) {
    auto name = member_string(**artifact, "name", path + ".artifact", label);
    if (!name) {
      return name.error();
    }
    finding.package = name->value_or("");
  }
  return finding;
}

}  // namespace

Result<ScanReport> parse_grype(std::string_view text, const std::string& label,
                               std::size_t padding) {
  auto document = parse_json_text(text, label, padding);
  if (!document) {
    return document.error();
  }
  const nlohmann::json& root = *document;
  if (!root.is_object()) {
    return shape_error(label,
                       "not a Grype JSON report: expected an object, got " + json_type(root));
  }
  auto matches = member_list(root, "matches", "", label);
  if (!matches) {
    return matches.error();
  }
  if (*matches == nullptr) {
    return shape_error(label, "not a Grype JSON report: no 'matches' list");
  }
  auto ignored = member_list(root, "ignoredMatches", "", label);
  if (!ignored) {
    return ignored.error();
  }
  auto image = scanned_image(root, label);
  if (!image) {
    return image.error();
  }
  ScanReport report;
  for (std::size_t i = 0; i < (*matches)->size(); ++i) {
    auto finding = read_match((**matches)[i], "matches[" + std::to_string(i) + "]", label);
    if (!finding) {
      return finding.error();
    }
    finding->image = *image;
    report.findings.push_back(std::move(*finding));
  }
  if (report.findings.empty() && (*ignored == nullptr || (*ignored)->empty())) {
    std::string type;
    if (auto source = root.find("source"); source != root.end() && source->is_object()) {
      if (auto it = source->find("type"); it != source->end() && it->is_string()) {
        type = it->get<std::string>();
      }
    }
    report.empty = type.empty() || type == "unknown";
  }
  return report;
}

std::unique_ptr<Gate> make_grype(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "grype", &parse_grype);
}

}  // namespace promote::gates
