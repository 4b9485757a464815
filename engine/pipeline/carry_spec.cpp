#include "engine/pipeline/carry_spec.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "engine/util/text.hpp"

namespace promote::pipeline {

namespace {

constexpr std::string_view k_stage = "{stage}";

std::string with_stage(std::string pattern, const std::string& stage) {
  for (auto at = pattern.find(k_stage); at != std::string::npos;
       at = pattern.find(k_stage, at + stage.size())) {
    pattern.replace(at, k_stage.size(), stage);
  }
  return pattern;
}

// What a commit line ("file NAME: sha256:HEX") and a record can hold as a name; "" when fine.
std::string name_problem(const std::string& name) {
  if (name.empty()) {
    return "must not be empty";
  }
  if (util::one_line(name) != name || name.find(": ") != std::string::npos || name.front() == ' ' ||
      name.back() == ' ') {
    return "must be one line without ': ' or surrounding spaces, as a commit line holds it";
  }
  return "";
}

// One entry: a pattern, or {from|file, to, name, keys, overwrite}.
void read_entry(const ConfigNode& node, Stage& stage, const PathCheck& check) {
  CarrySpec carry;
  carry.where = node.location();
  // Optional nodes are emplaced, never assigned: assigning a ConfigNode assigns its YAML node,
  // which would overwrite the node it refers to in the document.
  std::optional<ConfigNode> from;
  std::optional<ConfigNode> to;
  std::optional<ConfigNode> name;
  if (!node.is_map()) {
    from.emplace(node);
  } else {
    if (!node.expect_map("a carry entry", {"from", "file", "to", "name", "keys", "overwrite"})) {
      return;
    }
    if (auto given = node.get("from")) {
      from.emplace(*given);
    }
    if (auto file = node.get("file")) {
      if (from) {
        file->error("a carry entry takes 'from' or 'file', not both");
        return;
      }
      from.emplace(*file);
    }
    if (!from) {
      node.error("a carry entry needs 'from' (or 'file'): the file it carries");
      return;
    }
    if (auto given = node.get("to")) {
      to.emplace(*given);
    }
    if (auto given = node.get("name")) {
      name.emplace(*given);
    }
    if (auto keys = node.get("keys")) {
      if (auto list = keys->as_string_list("carry[].keys")) {
        std::set<std::string> seen;
        for (const auto& key : *list) {
          if (key.empty() || key.front() == '.' || key.back() == '.' ||
              key.find("..") != std::string::npos) {
            keys->error("'carry[].keys' must be dotted paths (config.featureFlags), got '" +
                        util::one_line(key) + "'");
          } else if (!seen.insert(key).second) {
            keys->error("'carry[].keys' names '" + util::one_line(key) + "' twice");
          }
        }
        if (list->empty()) {
          keys->error("'carry[].keys' must name at least one key (or be left out)");
        }
        carry.keys = std::move(*list);
      }
    }
    if (auto overwrite = node.get("overwrite")) {
      carry.overwrite = overwrite->as_bool("carry[].overwrite").value_or(false);
    }
  }
  const auto from_text = from->as_string("carry[].from");
  if (!from_text) {
    return;
  }
  std::string to_text = *from_text;
  if (to) {
    if (auto text = to->as_string("carry[].to")) {
      to_text = *text;
    } else {
      return;
    }
  } else if (from_text->find(k_stage) == std::string::npos) {
    from->error("carried file '" + util::one_line(*from_text) +
                "' has no {stage} in its path and no 'to': it would be carried onto itself; "
                "write the stage's directory as {stage} (envs/{stage}/settings.yaml) or give 'to'");
    return;
  }
  if (name) {
    if (auto text = name->as_string("carry[].name")) {
      if (auto problem = name_problem(*text); !problem.empty()) {
        name->error("'carry[].name' " + problem);
        return;
      }
      carry.name = *text;
    }
  } else if (to_text.find(k_stage) != std::string::npos) {
    carry.name = to_text;  // the same in every stage: one release, one id
  } else {
    (to ? *to : *from)
        .error("a carried pair needs a 'name': the release knows the file by it in every stage");
    return;
  }
  if (auto problem = name_problem(carry.name); !problem.empty()) {
    node.error("the carried file's name '" + util::one_line(carry.name) + "' " + problem +
               "; give it a 'name'");
    return;
  }
  if (!stage.from) {
    return;  // reported once by read_carry
  }
  auto source = check(*from, with_stage(*from_text, *stage.from));
  auto target = check(to ? *to : *from, with_stage(to_text, stage.name));
  if (!source || !target) {
    return;
  }
  if (*source == *target) {
    (to ? *to : *from).error("carried file '" + *target + "' would be carried onto itself");
    return;
  }
  carry.source = std::move(*source);
  carry.target = std::move(*target);
  for (const auto& other : stage.carry) {
    if (other.name == carry.name) {
      node.error("stage '" + stage.name + "' carries '" + carry.name + "' twice (first at " +
                 other.where.to_string() + "); give one a different 'name'");
      return;
    }
    if (other.target == carry.target && (other.keys.empty() || carry.keys.empty())) {
      node.error("stage '" + stage.name + "' carries into " + carry.target + " twice (first at " +
                 other.where.to_string() +
                 "); a file carried whole cannot also be carried key by key");
      return;
    }
  }
  stage.carry.push_back(std::move(carry));
}

}  // namespace

void read_carry(const ConfigNode& node, Stage& stage, const PathCheck& check) {
  if (!stage.from) {
    node.error("'carry' is for stages with 'from': stage '" + stage.name +
               "' has no source stage to carry from");
    return;
  }
  if (node.is_sequence()) {
    const auto items = node.items("carry");
    if (items.empty()) {
      node.error("'carry' must name at least one file (or be left out)");
    }
    for (const auto& item : items) {
      read_entry(item, stage, check);
    }
  } else {
    read_entry(node, stage, check);
  }
}

std::vector<CarriedFile> Pipeline::carried_in(const Stage& stage) const {
  std::vector<CarriedFile> out;
  const auto add = [&](const CarrySpec& carry, const std::string& path) {
    if (std::none_of(out.begin(), out.end(),
                     [&](const CarriedFile& file) { return file.name == carry.name; })) {
      out.push_back(CarriedFile{carry.name, path, carry.keys});
    }
  };
  for (const auto& carry : stage.carry) {
    add(carry, carry.target);
  }
  for (const auto& next : stages) {
    if (next.from == stage.name) {
      for (const auto& carry : next.carry) {
        add(carry, carry.source);
      }
    }
  }
  return out;
}

void check_carried(const Pipeline& pipeline, Diagnostics& diagnostics) {
  for (const auto& stage : pipeline.stages) {
    // name -> (path, keys, which stage's carry says so)
    std::map<std::string, std::pair<const CarrySpec*, std::string>> seen;
    for (const auto& carry : stage.carry) {
      seen.emplace(carry.name, std::pair{&carry, carry.target});
    }
    for (const auto& next : pipeline.stages) {
      if (next.from != stage.name) {
        continue;
      }
      for (const auto& carry : next.carry) {
        const auto [it, fresh] = seen.emplace(carry.name, std::pair{&carry, carry.source});
        if (fresh || (it->second.second == carry.source && it->second.first->keys == carry.keys)) {
          continue;
        }
        diagnostics.add(carry.where,
                        "carried file '" + carry.name + "' is " + carry.source +
                            (carry.keys.empty() ? "" : " (some keys)") + " in stage '" +
                            stage.name + "' here, but " + it->second.second +
                            (it->second.first->keys.empty() ? "" : " (some keys)") + " at " +
                            it->second.first->where.to_string() +
                            "; one name is one file in a stage: give one a different 'name'");
      }
    }
  }
}

}  // namespace promote::pipeline
