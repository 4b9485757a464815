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

constexpr std::size_t k_kind_count = 3;
constexpr const char* k_kind_names[k_kind_count] = {"Vulnerabilities", "Misconfigurations",
                                                    "Secrets"};
constexpr Reader k_readers[k_kind_count] = {&read_vulnerability, &read_misconfiguration,
                                            &read_secret};
// The members of an entry the readers look at; the others are read past.
constexpr std::string_view k_entry_fields[] = {
    "VulnerabilityID", "PkgName", "FixedVersion", "Status", "Severity",
    "VendorSeverity",  "SeveritySource", "ID", "AVDID", "RuleID"};

int kind_index(std::string_view key) {
  for (std::size_t k = 0; k < k_kind_count; ++k) {
    if (key == k_kind_names[k]) {
      return static_cast<int>(k);
    }
  }
  return -1;
}

// Reads a Trivy report as it streams: the root's SchemaVersion, ArtifactName, ArtifactType
// and Results; each result's Target and lists; of each entry only the members a reader
// looks at, one entry at a time. The errors are those the reader of a whole document
// would give, in the same order: the root's first, then the first result's that has one.
class TrivyStream : public JsonStreamHandler {
 public:
  explicit TrivyStream(const std::string& label) : m_label(label) {}

  JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) override {
    switch (path.size()) {
      case 0:
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 1: {
        const std::string_view key = path[0].key;
        if (key == "Results") {  // a repeated key replaces the earlier value, as in a DOM
          m_findings.clear();
          m_error.reset();
          m_result_count = 0;
          if (kind == JsonKind::array) {
            m_root["Results"] = nlohmann::json::array();
            return JsonAction::descend;
          }
          return JsonAction::capture;
        }
        return key == "SchemaVersion" || key == "ArtifactName" || key == "ArtifactType"
                   ? JsonAction::capture
                   : JsonAction::skip;
      }
      case 2:
        ++m_result_count;
        if (m_error) {
          return JsonAction::skip;  // an earlier result is already wrong
        }
        m_result = ResultState{};
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 3: {
        const std::string_view key = path[2].key;
        if (key == "Target") {
          return JsonAction::capture;
        }
        const int k = kind_index(key);
        if (k < 0) {
          return JsonAction::skip;
        }
        m_result.kinds[k] = KindState{};
        m_result.skeleton.erase(key);
        if (kind == JsonKind::array) {
          m_result.skeleton[key] = nlohmann::json::array();
          return JsonAction::descend;
        }
        return JsonAction::capture;
      }
      case 4:
        if (m_result.kinds[kind_index(path[2].key)].error) {
          return JsonAction::skip;
        }
        m_entry = nlohmann::json::object();
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 5:
        for (std::string_view field : k_entry_fields) {
          if (path[4].key == field) {
            return JsonAction::capture;
          }
        }
        return JsonAction::skip;
      default:
        return JsonAction::skip;
    }
  }

  void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) override {
    switch (path.size()) {
      case 0:
        m_root = std::move(value);
        break;
      case 1:
        m_root[path[0].key] = std::move(value);
        break;
      case 2:
        if (!m_error) {
          m_error = expect_object(value, result_path(path), m_label).error();
        }
        break;
      case 3:
        m_result.skeleton[path[2].key] = std::move(value);
        break;
      case 4:
        m_result.kinds[kind_index(path[2].key)].error =
            expect_object(value, entry_path(path), m_label).error();
        break;
      default:
        m_entry[path[4].key] = std::move(value);
        break;
    }
  }

  void on_end(const std::vector<JsonStep>& path) override {
    if (path.size() == 2) {
      finish_result(path);
    } else if (path.size() == 4) {
      KindState& state = m_result.kinds[kind_index(path[2].key)];
      if (auto ok = k_readers[kind_index(path[2].key)](m_entry, entry_path(path), "", m_label,
                                                        state.findings);
          !ok) {
        state.error = ok.error();
      }
    }
  }

  // The report, once the whole text has streamed through.
  Result<ScanReport> report() {
    if (!m_root.is_object()) {
      return shape_error(m_label,
                         "not a Trivy JSON report: expected an object, got " + json_type(m_root));
    }
    if (!m_root.contains("SchemaVersion") && !m_root.contains("ArtifactName") &&
        !m_root.contains("Results")) {
      return shape_error(m_label,
                         "not a Trivy JSON report: no SchemaVersion, ArtifactName or Results");
    }
    if (auto it = m_root.find("SchemaVersion"); it != m_root.end()) {
      if (!it->is_number_integer() || it->get<long long>() != 2) {
        return shape_error(m_label,
                           "unsupported Trivy SchemaVersion " + it->dump() + " (expected 2)");
      }
    }
    auto artifact = member_string(m_root, "ArtifactName", "", m_label);
    auto type = member_string(m_root, "ArtifactType", "", m_label);
    auto results = member_list(m_root, "Results", "", m_label);
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
    if (*results == nullptr || m_result_count == 0) {
      report.empty = true;
      return report;
    }
    if (m_error) {
      return *m_error;
    }
    const std::string image =
        *type && **type == "container_image" ? artifact->value_or("") : std::string();
    report.findings = std::move(m_findings);
    for (Finding& finding : report.findings) {
      finding.image = image;
    }
    return report;
  }

 private:
  struct KindState {
    std::vector<Finding> findings;
    std::optional<Error> error;
  };
  struct ResultState {
    nlohmann::json skeleton = nlohmann::json::object();  ///< Target and lists that are not lists
    std::array<KindState, k_kind_count> kinds;
  };

  static std::string result_path(const std::vector<JsonStep>& path) {
    return "Results[" + std::to_string(path[1].index) + "]";
  }
  static std::string entry_path(const std::vector<JsonStep>& path) {
    return result_path(path) + "." + std::string(path[2].key) + "[" +
           std::to_string(path[3].index) + "]";
  }

  // Checks a result as the whole-document reader does (Target, then each list in turn) and
  // keeps its findings, vulnerabilities first.
  void finish_result(const std::vector<JsonStep>& path) {
    if (m_error) {
      return;
    }
    const std::string where = result_path(path);
    auto target = member_string(m_result.skeleton, "Target", where, m_label);
    if (!target) {
      m_error = target.error();
      return;
    }
    for (std::size_t k = 0; k < k_kind_count; ++k) {
      if (auto list = member_list(m_result.skeleton, k_kind_names[k], where, m_label); !list) {
        m_error = list.error();
        return;
      }
      if (m_result.kinds[k].error) {
        m_error = m_result.kinds[k].error;
        return;
      }
    }
    for (std::size_t k = 0; k < k_kind_count; ++k) {
      for (Finding& finding : m_result.kinds[k].findings) {
        if (k > 0) {
          finding.package = target->value_or("");
        }
        m_findings.push_back(std::move(finding));
      }
    }
  }

  const std::string& m_label;
  nlohmann::json m_root = nlohmann::json::object();
  std::size_t m_result_count = 0;
  ResultState m_result;
  nlohmann::json m_entry;
  std::vector<Finding> m_findings;
  std::optional<Error> m_error;  ///< the first result's that has one
};

}  // namespace

Result<ScanReport> parse_trivy(std::string_view text, const std::string& label,
                               std::size_t padding) {
  TrivyStream stream(label);
  if (auto ok = stream_json(text, label, stream, padding); !ok) {
    return ok.error();
  }
  return stream.report();
}

std::unique_ptr<Gate> make_trivy(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "trivy", &parse_trivy);
}

}  // namespace promote::gates
