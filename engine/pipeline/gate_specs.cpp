// A stage's `gates:` and `verify:` lists: each entry's use, name, timeout and retries, and the
// gate its `with:` builds.
#include "engine/pipeline/gate_specs.hpp"

#include <algorithm>
#include <map>

namespace promote::pipeline {

std::vector<GateSpec> read_gate_specs(const ConfigNode& node, const GateCatalog& gates,
                                      const Stage& stage, const std::string& what, bool verify) {
  std::vector<GateSpec> out;
  const char* key = verify ? "verify" : "gates";
  std::map<std::string, Location> seen;
  for (const auto& item : node.items(key)) {
    if (!item.expect_map("a gate", {"use", "name", "with", "timeout", "retries"})) {
      continue;
    }
    GateSpec spec;
    spec.where = item.location();
    if (auto use = item.require("use", "a gate of " + what)) {
      if (auto text = use->as_string("use")) {
        spec.use = *text;
        if (!gates.knows(*text)) {
          std::string message = "unknown gate '" + *text + "'";
          if (auto close = did_you_mean(*text, gates.names()); !close.empty()) {
            message += " (did you mean '" + close + "'?)";
          } else {
            message += " (no built-in gate and no program promote-gate-" + *text +
                       " in plugins/ beside the pipeline file or on PATH)";
          }
          use->error(message);
          continue;
        }
      }
    }
    spec.name = spec.use;
    if (auto name = item.get("name")) {
      if (auto text = name->as_string("gates[].name")) {
        spec.name = *text;
        // A gate's name is one line: it is a trailer of the commit (Promote-Gates).
        if (std::any_of(text->begin(), text->end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
          name->error("'gates[].name' must be one line of text, without control characters");
        }
      }
    }
    if (!spec.name.empty()) {
      if (auto [it, fresh] = seen.emplace(spec.name, item.location()); !fresh) {
        item.error("duplicate gate name '" + spec.name + "' in " + what +
                   " (give each gate its own 'name:')");
      }
    }
    if (auto timeout = item.get("timeout")) {
      if (auto value = timeout->as_duration("timeout")) {
        if (value->count() == 0) {
          timeout->error("'timeout' must be longer than 0s");
        }
        spec.timeout = *value;
      }
    }
    if (auto retries = item.get("retries")) {
      if (auto value = retries->as_integer("retries")) {
        if (*value < 0 || *value > 10) {
          retries->error("'retries' must be between 0 and 10, got " + std::to_string(*value));
        } else {
          spec.retries = static_cast<int>(*value);
        }
      }
    }
    if (!spec.use.empty()) {
      auto with = item.get("with");
      const ConfigNode config = with ? *with : ConfigNode::absent(item);
      spec.gate = gates.make(spec.use, config);
      if (verify && spec.gate && !spec.gate->verifies()) {
        item.error("gate '" + spec.use + "' cannot verify " + what +
                   ": 'verify:' takes the gates that observe a running system (argocd, flux, "
                   "kubernetes)");
      } else if (!verify && spec.gate && spec.gate->needs_source() && !stage.from) {
        const std::string use = spec.name == spec.use ? "" : " (" + spec.use + ")";
        item.error("gate '" + spec.name + "'" + use + " cannot apply to " + what +
                   ": it judges the stage the candidate comes from, and the stage has no "
                   "'from'");
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace promote::pipeline
