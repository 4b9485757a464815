#pragma once
// Kubernetes-style objects kept as YAML in the corpus, read as the JSON an API server returns:
// plain scalars that are integers, booleans or null become those; everything else a string.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace promote::test {

/// The JSON of a YAML node (the first document of a file read with YAML::LoadFile): maps,
/// sequences, and scalars typed as YAML 1.2's core schema types plain ones; quoted ones stay
/// strings.
inline nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& entry : node) {
        out[entry.first.as<std::string>()] = yaml_to_json(entry.second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) {
        out.push_back(yaml_to_json(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "?") {
        return text;  // quoted, or explicitly tagged: a string
      }
      if (text == "true" || text == "false") {
        return text == "true";
      }
      if (text == "null" || text == "~") {
        return nullptr;
      }
      std::int64_t number = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error == std::errc() && end == text.data() + text.size() && !text.empty()) {
        return number;
      }
      return text;
    }
    default:
      return nullptr;
  }
}

}  // namespace promote::test
