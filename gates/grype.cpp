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

// Reads a Grype report as it streams: the root's `source`, whole; each match, whole, one at
// a time; of `ignoredMatches` only how many there are. The errors are those the reader of a
// whole document gives, in its order: the root's first (matches, ignoredMatches, source),
// then the first match's that has one. A repeated key replaces the earlier value.
class GrypeStream : public JsonStreamHandler {
 public:
  explicit GrypeStream(const std::string& label) : m_label(label) {}

  JsonAction on_value(const std::vector<JsonStep>& path, JsonKind kind) override {
    switch (path.size()) {
      case 0:
        return kind == JsonKind::object ? JsonAction::descend : JsonAction::capture;
      case 1: {
        const std::string_view key = path[0].key;
        if (key == "matches") {
          m_findings.clear();
          m_error.reset();
        } else if (key == "ignoredMatches") {
          m_ignored = 0;
        } else if (key != "source") {
          return JsonAction::skip;
        }
        if (key != "source" && kind == JsonKind::array) {
          m_root[std::string(key)] = nlohmann::json::array();  // a list, walked into
          return JsonAction::descend;
        }
        return JsonAction::capture;
      }
      case 2:
        if (path[0].key == "matches" && !m_error) {
          return JsonAction::capture;
        }
        m_ignored += path[0].key == "ignoredMatches" ? 1 : 0;
        return JsonAction::skip;
      default:
        return JsonAction::skip;
    }
  }

  void on_captured(const std::vector<JsonStep>& path, nlohmann::json value) override {
    if (path.empty()) {
      m_root = std::move(value);
    } else if (path.size() == 1) {
      m_root[std::string(path[0].key)] = std::move(value);
    } else if (auto finding =
                   read_match(value, "matches[" + std::to_string(path[1].index) + "]", m_label)) {
      m_findings.push_back(std::move(*finding));
    } else {
      m_error = finding.error();
    }
  }

  void on_end(const std::vector<JsonStep>&) override {}

  // The report, once the whole text has streamed through.
  Result<ScanReport> report() {
    if (!m_root.is_object()) {
      return shape_error(m_label,
                         "not a Grype JSON report: expected an object, got " + json_type(m_root));
    }
    auto matches = member_list(m_root, "matches", "", m_label);
    if (!matches) {
      return matches.error();
    }
    if (*matches == nullptr) {
      return shape_error(m_label, "not a Grype JSON report: no 'matches' list");
    }
    auto ignored = member_list(m_root, "ignoredMatches", "", m_label);
    if (!ignored) {
      return ignored.error();
    }
    auto image = scanned_image(m_root, m_label);
    if (!image) {
      return image.error();
    }
    if (m_error) {
      return *m_error;
    }
    ScanReport report;
    report.findings = std::move(m_findings);
    for (Finding& finding : report.findings) {
      finding.image = *image;
    }
    if (report.findings.empty() && m_ignored == 0) {
      std::string type;
      if (auto source = m_root.find("source"); source != m_root.end() && source->is_object()) {
        if (auto it = source->find("type"); it != source->end() && it->is_string()) {
          type = it->get<std::string>();
        }
      }
      report.empty = type.empty() || type == "unknown";
    }
    return report;
  }

 private:
  const std::string& m_label;
  nlohmann::json m_root = nlohmann::json::object();  ///< source; matches and ignoredMatches
                                                     ///< as [] when lists, else as they are
  std::vector<Finding> m_findings;
  std::optional<Error> m_error;  ///< the first match's that has one
  std::size_t m_ignored = 0;     ///< the ignored matches
};

}  // namespace

Result<ScanReport> parse_grype(std::string_view text, const std::string& label,
                               std::size_t padding) {
  GrypeStream stream(label);
  if (auto ok = stream_json(text, label, stream, padding); !ok) {
    return ok.error();
  }
  return stream.report();
}

std::unique_ptr<Gate> make_grype(const pipeline::ConfigNode& with) {
  return make_security_gate(with, "grype", &parse_grype);
}

}  // namespace promote::gates
