#include "gates/trivy.hpp"

namespace promote::gates {

namespace {

// Trivy's VendorSeverity numbers: 0 unknown, 1 low, 2 medium, 3 high, 4 critical.
std::optional<Severity> vendor_severity(const nlohmann::json& value) {
  if (!value.is_number_integer()) {
    return std::nullopt;
  }
  switch (value.get<long long>()) {
    case 0:
      return Severity::unknown;
    case 1:
      return Severity::low;
    case 2:
      return Severity::medium;
    case 3:
      return Severity::high;
    case 4:
      return Severity::critical;
    default:
      return std::nullopt;
  }
}

// `Severity` when present; else the VendorSeverity of `SeveritySource`, else the worst
// vendor's (ignoring unknown), else unknown.
Result<Severity> severity_of(const nlohmann::json& entry, const std::string& path,
                             const std::string& label) {
  auto name = member_string(entry, "Severity", path, label);
  if (!name) {
    return name.error();
  }
  if (*name) {
    if (auto severity = severity_from_name(**name)) {
      return *severity;
    }
    return shape_error(label, path +
                                  ".Severity must be CRITICAL, HIGH, MEDIUM, LOW or "
                                  "UNKNOWN, got \"" +
                                  **name + "\"");
  }
  auto vendors = member_object(entry, "VendorSeverity", path, label);
  if (!vendors) {
    return vendors.error();
  }
  if (*vendors == nullptr) {
    return Severity::unknown;
  }
  auto source = member_string(entry, "SeveritySource", path, label);
  if (source && *source && (*vendors)->contains(**source)) {
    if (auto severity = vendor_severity((**vendors)[**source])) {
      return *severity;
    }
  }
  std::optional<Severity> worst;
  for (const auto& [vendor, value] : (*vendors)->items()) {
    auto severity = vendor_severity(value);
    if (severity && *severity != Severity::unknown &&
        (!worst || static_cast<int>(*severity) < static_cast<int>(*worst))) {
      worst = severity;
    }
  }
  return worst.value_or(Severity::unknown);
}

using Reader = Result<void> (*)(const nlohmann::json& entry, const std::string& path,
                                const std::string& target, const std::string& label,
                                std::vector<Finding>& out);

Result<void> read_vulnerability(const nlohmann::json& entry, const std::string& path,
                                const std::string&, const std::string& label,
                                std::vector<Finding>& out) {
  auto id = member_string(entry, "VulnerabilityID", path, label);
  auto package = member_string(entry, "PkgName", path, label);
  auto fixed = member_string(entry, "FixedVersion", path, label);
  auto status = member_string(entry, "Status", path, label);
  for (const auto* field : {&id, &package, &fixed, &status}) {
    if (!*field) {
      return field->error();
    }
  }
  if (!*id || (*id)->empty()) {
    return shape_error(label, path + " has no VulnerabilityID");
  }
  auto severity = severity_of(entry, path, label);
  if (!severity) {
    return severity.error();
  }
  const bool fixable = (*fixed && !(*fixed)->empty()) || (*status && **status == "fixed");
  out.push_back(Finding{**id, package->value_or(""), *severity, fixable, {}});
  return {};
}

Result<void> read_misconfiguration(const nlohmann::json& entry, const std::string& path,
                                   const std::string& target, const std::string& label,
                                   std::vector<Finding>& out) {
  auto status = member_string(entry, "Status", path, label);
  if (!status) {
    return status.error();
  }
  if (!*status || **status != "FAIL") {
    return {};
  }
  auto id = member_string(entry, "ID", path, label);
  auto avd_id = member_string(entry, "AVDID", path, label);
  if (!id) {
    return id.error();
  }
  if (!avd_id) {
    return avd_id.error();
  }
  std::string name = id->value_or(avd_id->value_or(""));
  if (name.empty()) {
    return shape_error(label, path + " has no ID");
  }
  auto severity = severity_of(entry, path, label);
  if (!severity) {
    return severity.error();
  }
  out.push_back(Finding{std::move(name), target, *severity, true, {}});
  return {};
}

Result<void> read_secret(const nlohmann::json& entry, const std::string& path,
                         const std::string& target, const std::string& label,
                         std::vector<Finding>& out) {
  auto id = member_string(entry, "RuleID", path, label);
  if (!id) {
    return id.error();
  }
  if (!*id || (*id)->empty()) {
    return shape_error(label, path + " has no RuleID");
  }
  auto severity = severity_of(entry, path, label);
  if (!severity) {
    return severity.error();
  }
  out.push_back(Finding{**id, target, *severity, true, {}});
  return {};
}

}  // namespace

Result<ScanReport> parse_trivy(std::string_view text, const std::string& label) {
  auto document = parse_json_text(text, label);
  if (!document) {
    return document.error();
  }
  const nlohmann::json& root = *document;
  if (!root.is_object()) {
    return shape_error(label,
                       "not a Trivy JSON report: expected an object, got " + json_type(root));
  }
  if (!root.contains("SchemaVersion") && !root.contains("ArtifactName") &&
      !root.contains("Results")) {
    return shape_error(label, "not a Trivy JSON report: no SchemaVersion, ArtifactName or Results");
  }
  if (auto it = root.find("SchemaVersion"); it != root.end()) {
    if (!it->is_number_integer() || it->get<long long>() != 2) {
      return shape_error(label, "unsupported Trivy SchemaVersion " + it->dump() + " (expected 2)");
    }
  }
  auto artifact = member_string(root, "ArtifactName", "", label);
  auto type = member_string(root, "ArtifactType", "", label);
  auto results = member_list(root, "Results", "", label);
  if (!artifact) {
    return artifact.error();
  }
  if (!type) {
    return type.error();
  }
  if (!results) {
    return results.error();
  }
  ScanReport report;
  if (*results == nullptr || (*results)->empty()) {
    report.empty = true;
    return report;
  }
  const std::string image =
      *type && **type == "container_image" ? artifact->value_or("") : std::string();
  const std::pair<const char*, Reader> k_kinds[] = {{"Vulnerabilities", &read_vulnerability},
                                                    {"Misconfigurations", &read_misconfiguration},
                                                    {"Secrets", &read_secret}};
  for (std::size_t r = 0; r < (*results)->size(); ++r) {
    const nlohmann::json& result = (**results)[r];
    const std::string path = "Results[" + std::to_string(r) + "]";
    if (auto ok = expect_object(result, path, label); !ok) {
      return ok.error();
    }
    auto target = member_string(result, "Target", path, label);
    if (!target) {
      return target.error();
    }
    for (const auto& [key, reader] : k_kinds) {
      auto list = member_list(result, key, path, label);
      if (!list) {
        return list.error();
      }
      if (*list == nullptr) {
        continue;
      }
      for (std::size_t i = 0; i < (*list)->size(); ++i) {
        const std::string entry_path = path + "." + key + "[" + std::to_string(i) + "]";
        const nlohmann::json& entry = (**list)[i];
        if (auto ok = expect_object(entry, entry_path, label); !ok) {
          return ok.error();
        }
        if (auto ok = reader(entry, entry_path, target->value_or(""), label, report.findings);
            !ok) {
          return ok.error();
        }
      }
    }
  }
  for (Finding& finding : report.findings) {
    finding.image = image;
  }
  return report;
}

std::unique_ptr<Gate> make_trivy(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "trivy", &parse_trivy);
}

}  // namespace promote::gates
