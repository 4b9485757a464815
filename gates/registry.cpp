#include "gates/registry.hpp"

#include <array>

#include "gates/junit.hpp"
#include "gates/soak.hpp"

namespace promote::gates {
namespace {

constexpr std::array k_builtin = {
    GateType{"junit", "test results from JUnit XML reports", &make_junit},
    GateType{"soak", "time the candidate has spent in the source stage", &make_soak},
};

}  // namespace

std::span<const GateType> builtin() { return k_builtin; }

const GateType* find(std::string_view name) {
  for (const auto& type : k_builtin) {
    if (type.name == name) {
      return &type;
    }
  }
  return nullptr;
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& type : k_builtin) {
    out.emplace_back(type.name);
  }
  return out;
}

Catalog::~Catalog() = default;

bool Catalog::knows(std::string_view use) const { return find(use) != nullptr; }

std::unique_ptr<Gate> Catalog::make(std::string_view use, const pipeline::ConfigNode& with) const {
  const GateType* type = find(use);
  return type != nullptr ? type->make(with) : nullptr;
}

std::vector<std::string> Catalog::names() const { return gates::names(); }

}  // namespace promote::gates
