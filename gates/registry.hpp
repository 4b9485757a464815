#pragma once
// The built-in gates: an explicit table, name -> factory. A new gate is one file
// pair in gates/, one schema in schemas/, and one line in the table in registry.cpp.

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gate.hpp"
#include "engine/pipeline/config_node.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::gates {

/// Builds a gate from its `with:` block (a null node when absent). Reports every
/// problem into `with.diagnostics()` as FILE:LINE:COL and returns nullptr when invalid.
using Factory = std::unique_ptr<Gate> (*)(const pipeline::ConfigNode& with);

struct GateType {
  std::string_view name;     ///< the `use:` value
  std::string_view summary;  ///< one line for `promote gates` and --help
  Factory make;
};

/// The built-in gate types, in the order they are listed to people.
std::span<const GateType> builtin();

/// The built-in gate type called `name`, or nullptr.
const GateType* find(std::string_view name);

/// The names of the built-in gates, for "did you mean".
std::vector<std::string> names();

/// The catalog the pipeline loader takes: the built-in table, then external plugins
/// (`promote-gate-NAME` in `<pipeline_dir>/plugins/`, then on PATH) for any other name.
class Catalog : public pipeline::GateCatalog {
 public:
  explicit Catalog(std::filesystem::path pipeline_dir = ".");
  /// The catalog for the pipeline file `file` (plugins/ beside it).
  static Catalog for_pipeline(const std::filesystem::path& file);
  ~Catalog() override;
  bool knows(std::string_view use) const override;
  std::unique_ptr<Gate> make(std::string_view use, const pipeline::ConfigNode& with) const override;
  std::vector<std::string> names() const override;

 private:
  std::filesystem::path m_pipeline_dir;
};

}  // namespace promote::gates
