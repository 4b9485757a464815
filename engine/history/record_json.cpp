// The canonical JSON of the history's records: what the hash chain covers and what the git
// notes hold, so that a record read back from either is the record that was written.

#include <string>
#include <utility>

#include "engine/history/canonical.hpp"
#include "engine/history/history.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/json.hpp"

namespace promote::history {

namespace {

using nlohmann::json;

/// Reads the fields of one JSON object, remembering the first problem.
class Fields {
 public:
  Fields(const json& value, std::string what) : m_value(value), m_what(std::move(what)) {
    if (!value.is_object()) {
      fail("", "is not an object");
    }
  }

  std::string text(const char* key) {
    const json* found = find(key);
    if (found != nullptr && !found->is_string()) {
      fail(key, "is not a string");
    }
    return found != nullptr && found->is_string() ? found->get<std::string>() : std::string();
  }

  /// A string that may be missing (then "").
  std::string optional_text(const char* key) {
    if (!m_value.is_object() || !m_value.contains(key)) {
      return {};
    }
    return text(key);
  }

  bool flag(const char* key) {
    const json* found = find(key);
    if (found != nullptr && !found->is_boolean()) {
      fail(key, "is not true or false");
    }
    return found != nullptr && found->is_boolean() && found->get<bool>();
  }

  /// An object of strings that may be missing (then empty): PromotionRecord::charts, carried.
  json optional_strings(const char* key) {
    if (!m_value.is_object() || !m_value.contains(key)) {
      return json::object();
    }
    json found = object(key);
    for (const auto& [name, member] : found.items()) {
      if (!member.is_string()) {
        fail(key, "holds something that is not a string");
        return json::object();
      }
    }
    return found;
  }

  json object(const char* key) {
    const json* found = find(key);
    if (found != nullptr && !found->is_object()) {
      fail(key, "is not an object");
    }
    return found != nullptr && found->is_object() ? *found : json::object();
  }

  json array(const char* key) {
    const json* found = find(key);
    if (found != nullptr && !found->is_array()) {
      fail(key, "is not an array");
    }
    return found != nullptr && found->is_array() ? *found : json::array();
  }

  std::chrono::system_clock::time_point time(const char* key) {
    const std::string value = text(key);
    if (m_error) {
      return {};
    }
    auto parsed = parse_time(value);
    if (!parsed) {
      fail(key, parsed.error().message);
      return {};
    }
    return *parsed;
  }

  /// An optional integer: absent or null is nullopt.
  std::optional<long long> integer(const char* key) {
    const auto it = m_value.is_object() ? m_value.find(key) : m_value.end();
    if (it == m_value.end() || it->is_null()) {
      return std::nullopt;
    }
    if (!it->is_number_integer()) {
      fail(key, "is not an integer");
      return std::nullopt;
    }
    return it->get<long long>();
  }

  void fail(const std::string& key, const std::string& why) {
    if (!m_error) {
      m_error = make_error(ErrorKind::input,
                           m_what + (key.empty() ? "" : ": " + key) + " " + why);
    }
  }

  const std::optional<Error>& error() const { return m_error; }

 private:
  const json* find(const char* key) {
    if (!m_value.is_object()) {
      return nullptr;
    }
    const auto it = m_value.find(key);
    if (it == m_value.end()) {
      fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  const json& m_value;
  std::string m_what;
  std::optional<Error> m_error;
};

}  // namespace

json to_json(const PromotionRecord& record) {
  json gates = json::array();
  for (const GateRecord& gate : record.gates) {
    json evidence = json::array();
    for (const EvidenceRecord& file : gate.evidence) {
      evidence.push_back({{"path", file.path}, {"sha256", file.sha256}});
    }
    gates.push_back({{"name", gate.name},
                     {"use", gate.use},
                     {"status", gate.status},
                     {"summary", gate.summary},
                     {"details", gate.details},
                     {"config", gate.config},
                     {"evidence", std::move(evidence)},
                     {"retry_after_seconds", gate.retry_after_seconds
                                                 ? json(*gate.retry_after_seconds)
                                                 : json(nullptr)}});
  }
  json out = {{"id", record.id},
              {"pipeline", record.pipeline},
              {"stage", record.stage},
              {"from", record.from},
              {"candidate_id", record.candidate_id},
              {"images", record.images},
              {"outcome", record.outcome},
              {"actor", record.actor},
              {"reason", record.reason},
              {"ci_provider", record.ci_provider},
              {"ci_run_url", record.ci_run_url},
              {"commit", record.commit},
              {"error", record.error},
              {"started", format_time(record.started)},
              {"finished", format_time(record.finished)},
              {"break_glass", record.break_glass},
              {"pull_request", record.pull_request},
              {"rollback_of", record.rollback_of},
              {"gates_skipped", record.gates_skipped},
              {"previous", record.previous},
              {"files", record.files},
              {"gates", std::move(gates)}};
  if (!record.pipeline_file.empty()) {
    out["pipeline_file"] = record.pipeline_file;
  }
  if (!record.places.empty()) {
    out["places"] = record.places;
  }
  if (!record.charts.empty()) {
    out["charts"] = record.charts;
  }
  if (!record.carried.empty()) {
    out["carried"] = record.carried;
  }
  if (record.healthy_since) {
    out["healthy_since"] = format_time(*record.healthy_since);
  }
  return out;
}

json to_json(const ApprovalRecord& approval) {
  json out = {{"pipeline", approval.pipeline},
              {"stage", approval.stage},
              {"candidate_id", approval.candidate_id},
              {"decision", approval.decision},
              {"actor", approval.actor},
              {"reason", approval.reason},
              {"at", format_time(approval.at)}};
  if (!approval.pipeline_file.empty()) {
    out["pipeline_file"] = approval.pipeline_file;
  }
  return out;
}

json to_json(const HoldRecord& hold) {
  json out = {{"pipeline", hold.pipeline}, {"stage", hold.stage},   {"action", hold.action},
              {"actor", hold.actor},       {"reason", hold.reason}, {"at", format_time(hold.at)}};
  if (!hold.pipeline_file.empty()) {
    out["pipeline_file"] = hold.pipeline_file;
  }
  return out;
}

Result<PromotionRecord> promotion_from_json(const json& value) {
  const auto id = value.is_object() ? value.find("id") : value.end();
  Fields fields(value, id != value.end() && id->is_string()
                           ? "promotion " + id->get<std::string>()
                           : std::string("promotion record"));
  PromotionRecord record;
  record.id = fields.text("id");
  record.pipeline = fields.text("pipeline");
  record.pipeline_file = fields.optional_text("pipeline_file");
  record.stage = fields.text("stage");
  record.from = fields.text("from");
  record.candidate_id = fields.text("candidate_id");
  record.images = fields.object("images");
  record.outcome = fields.text("outcome");
  record.actor = fields.text("actor");
  record.reason = fields.text("reason");
  record.ci_provider = fields.text("ci_provider");
  record.ci_run_url = fields.text("ci_run_url");
  record.commit = fields.text("commit");
  record.error = fields.text("error");
  record.started = fields.time("started");
  record.finished = fields.time("finished");
  record.break_glass = fields.flag("break_glass");
  record.pull_request = fields.text("pull_request");
  record.rollback_of = fields.text("rollback_of");
  record.gates_skipped = fields.flag("gates_skipped");
  record.previous = fields.object("previous");
  record.charts = fields.optional_strings("charts");  // missing in the records before them
  record.carried = fields.optional_strings("carried");
  if (value.is_object() && value.contains("healthy_since")) {  // a verification's alone
    record.healthy_since = fields.time("healthy_since");
  }
  if (value.is_object() && value.contains("places")) {  // missing in the records before it
    for (const json& place : fields.array("places")) {
      Fields place_fields(place, "promotion " + record.id + ": place");
      record.places.push_back({{"file", place_fields.text("file")},
                               {"image", place_fields.text("image")},
                               {"value", place_fields.text("value")}});
      if (place_fields.error()) {
        return *place_fields.error();
      }
    }
  }
  for (const json& file : fields.array("files")) {
    if (!file.is_string()) {
      fields.fail("files", "holds something that is not a string");
      break;
    }
    record.files.push_back(file.get<std::string>());
  }
  for (const json& gate_value : fields.array("gates")) {
    Fields gate_fields(gate_value, "promotion " + record.id + ": gate");
    GateRecord& gate = record.gates.emplace_back();
    gate.name = gate_fields.text("name");
    gate.use = gate_fields.text("use");
    gate.status = gate_fields.text("status");
    gate.summary = gate_fields.text("summary");
    gate.details = gate_fields.object("details");
    gate.config = gate_fields.object("config");
    gate.retry_after_seconds = gate_fields.integer("retry_after_seconds");
    for (const json& file : gate_fields.array("evidence")) {
      Fields file_fields(file, "promotion " + record.id + ": evidence");
      gate.evidence.push_back({file_fields.text("path"), file_fields.text("sha256")});
      if (file_fields.error()) {
        return *file_fields.error();
      }
    }
    if (gate_fields.error()) {
      return *gate_fields.error();
    }
  }
  if (fields.error()) {
    return *fields.error();
  }
  return record;
}

Result<ApprovalRecord> approval_from_json(const json& value) {
  Fields fields(value, "approval record");
  ApprovalRecord approval{fields.text("pipeline"),
                          fields.text("stage"),
                          fields.text("candidate_id"),
                          fields.text("decision"),
                          fields.text("actor"),
                          fields.text("reason"),
                          fields.time("at"),
                          "",
                          fields.optional_text("pipeline_file")};
  if (fields.error()) {
    return *fields.error();
  }
  return approval;
}

Result<HoldRecord> hold_from_json(const json& value) {
  Fields fields(value, "hold record");
  HoldRecord hold{fields.text("pipeline"),
                  fields.text("stage"),
                  fields.text("action"),
                  fields.text("actor"),
                  fields.text("reason"),
                  fields.time("at"),
                  "",
                  fields.optional_text("pipeline_file")};
  if (fields.error()) {
    return *fields.error();
  }
  return hold;
}

std::string note_line(const PromotionRecord& record) {
  return util::dump_json(json{{"promotion", to_json(record)}});
}

std::string note_line(const ApprovalRecord& approval) {
  return util::dump_json(json{{"approval", to_json(approval)}});
}

std::string note_line(const HoldRecord& hold) {
  return util::dump_json(json{{"hold", to_json(hold)}});
}

std::string chain_hash(const std::string& previous, const std::string& canonical) {
  return util::sha256_hex(previous + canonical);
}

}  // namespace promote::history

namespace promote::history::detail {

namespace {

/// Appends `text` as a JSON string exactly as util::dump_json writes one: plain printable
/// ASCII as it is, anything else (escapes, UTF-8, invalid bytes) through the JSON writer.
void append_string(std::string& out, const std::string& text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
      out += util::dump_json(nlohmann::json(text));
      return;
    }
  }
  out += '"';
  out += text;
  out += '"';
}

/// Writes one JSON object's members in the order given (which must be sorted).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : m_out(out) { m_out += '{'; }
  ~ObjectWriter() { m_out += '}'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  std::string& key(const char* name) {
    if (!m_first) {
      m_out += ',';
    }
    m_first = false;
    m_out += '"';
    m_out += name;
    m_out += "\":";
    return m_out;
  }
  void string(const char* name, const std::string& value) { append_string(key(name), value); }
  void raw(const char* name, const std::string& json) { key(name) += json; }
  void flag(const char* name, bool value) { key(name) += value ? "true" : "false"; }

 private:
  std::string& m_out;
  bool m_first = true;
};

}  // namespace

PromotionText text_of(const PromotionRecord& record) {
  PromotionText text{record.id,
                     record.pipeline,
                     record.stage,
                     record.from,
                     record.candidate_id,
                     util::dump_json(record.images),
                     record.outcome,
                     record.actor,
                     record.reason,
                     record.ci_provider,
                     record.ci_run_url,
                     record.commit,
                     record.error,
                     format_time(record.started),
                     format_time(record.finished),
                     record.break_glass,
                     record.pull_request,
                     record.rollback_of,
                     record.gates_skipped,
                     util::dump_json(record.previous),
                     util::dump_json(nlohmann::json(record.files)),
                     {},
                     record.pipeline_file,
                     record.places.empty() ? "[]" : util::dump_json(record.places),
                     record.charts.empty() ? "{}" : util::dump_json(record.charts),
                     record.carried.empty() ? "{}" : util::dump_json(record.carried),
                     record.healthy_since ? format_time(*record.healthy_since) : std::string()};
  for (const GateRecord& gate : record.gates) {
    GateText& out = text.gates.emplace_back();
    out.name = gate.name;
    out.use = gate.use;
    out.status = gate.status;
    out.summary = gate.summary;
    out.details_json = util::dump_json(gate.details);
    out.config_json = util::dump_json(gate.config);
    out.retry_after_seconds = gate.retry_after_seconds;
    for (const EvidenceRecord& file : gate.evidence) {
      out.evidence.emplace_back(file.path, file.sha256);
    }
  }
  return text;
}

std::string canonical(const PromotionText& text) {
  std::string out;
  out.reserve(1024);
  {
    ObjectWriter record(out);
    record.string("actor", text.actor);
    record.flag("break_glass", text.break_glass);
    record.string("candidate_id", text.candidate_id);
    if (text.carried_json != "{}") {  // left out when there are none, as before it was kept
      record.raw("carried", text.carried_json);
    }
    if (text.charts_json != "{}") {
      record.raw("charts", text.charts_json);
    }
    record.string("ci_provider", text.ci_provider);
    record.string("ci_run_url", text.ci_run_url);
    record.string("commit", text.commit);
    record.string("error", text.error);
    record.raw("files", text.files_json);
    record.string("finished", text.finished);
    record.string("from", text.from);
    std::string& gates = record.key("gates");
    gates += '[';
    for (std::size_t g = 0; g < text.gates.size(); ++g) {
      const GateText& gate = text.gates[g];
      if (g > 0) {
        gates += ',';
      }
      ObjectWriter object(gates);
      object.raw("config", gate.config_json);
      object.raw("details", gate.details_json);
      std::string& evidence = object.key("evidence");
      evidence += '[';
      for (std::size_t e = 0; e < gate.evidence.size(); ++e) {
        if (e > 0) {
          evidence += ',';
        }
        ObjectWriter file(evidence);
        file.string("path", gate.evidence[e].first);
        file.string("sha256", gate.evidence[e].second);
      }
      evidence += ']';
      object.string("name", gate.name);
      object.raw("retry_after_seconds", gate.retry_after_seconds
                                            ? std::to_string(*gate.retry_after_seconds)
                                            : std::string("null"));
      object.string("status", gate.status);
      object.string("summary", gate.summary);
      object.string("use", gate.use);
    }
    gates += ']';
    record.flag("gates_skipped", text.gates_skipped);
    if (!text.healthy_since.empty()) {  // a verification's alone
      record.string("healthy_since", text.healthy_since);
    }
    record.string("id", text.id);
    record.raw("images", text.images_json);
    record.string("outcome", text.outcome);
    record.string("pipeline", text.pipeline);
    if (!text.pipeline_file.empty()) {  // left out of the records written before it was kept
      record.string("pipeline_file", text.pipeline_file);
    }
    if (text.places_json != "[]") {  // left out when there are none, as before it was kept
      record.raw("places", text.places_json);
    }
    record.raw("previous", text.previous_json);
    record.string("pull_request", text.pull_request);
    record.string("reason", text.reason);
    record.string("rollback_of", text.rollback_of);
    record.string("stage", text.stage);
    record.string("started", text.started);
  }
  return out;
}

}  // namespace promote::history::detail
