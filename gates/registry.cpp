#include "gates/registry.hpp"

#include <array>

#include "gates/approval.hpp"
#include "gates/argocd.hpp"
#include "gates/flux.hpp"
#include "gates/grype.hpp"
#include "gates/http.hpp"
#include "gates/junit.hpp"
#include "gates/kubernetes.hpp"
#include "gates/prometheus.hpp"
#include "gates/sarif.hpp"
#include "gates/soak.hpp"
#include "gates/trivy.hpp"
#include "gates/window.hpp"
#include "plugins/host.hpp"

namespace promote::gates {
namespace {

constexpr std::array k_builtin = {
    GateType{"junit", "test results from JUnit XML reports", &make_junit},
    GateType{"soak", "time the candidate has spent in the source stage", &make_soak},
    GateType{"trivy", "vulnerabilities in a Trivy JSON report, judged by a severity policy",
             &make_trivy},
    GateType{"grype", "vulnerabilities in a Grype JSON report, judged by a severity policy",
             &make_grype},
    GateType{"sarif", "findings in a SARIF 2.1.0 log, judged by a severity policy", &make_sarif},
    GateType{"prometheus", "instant PromQL queries judged by a condition, sampled over time",
             &make_prometheus},
    GateType{"window", "allowed weekly time windows and freeze periods in an IANA time zone",
             &make_window},
    GateType{"approval", "approvals of this exact candidate by enough eligible people",
             &make_approval},
    GateType{"http", "a webhook's answer: its status code or a JSON value by pointer and condition",
             &make_http},
    GateType{"argocd", "the source stage's Argo CD applications: synced to the candidate, healthy",
             &make_argocd},
    GateType{"kubernetes",
             "the source stage's workloads rolled out (kubectl rollout status) with the "
             "candidate's images",
             &make_kubernetes},
    GateType{"flux",
             "the source stage's Flux Kustomizations and HelmReleases Ready with the candidate",
             &make_flux},
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

Catalog::Catalog(std::filesystem::path pipeline_dir) : m_pipeline_dir(std::move(pipeline_dir)) {}

Catalog Catalog::for_pipeline(const std::filesystem::path& file) {
  return Catalog(file.has_parent_path() ? file.parent_path() : std::filesystem::path("."));
}

Catalog::~Catalog() = default;

bool Catalog::knows(std::string_view use) const {
  return find(use) != nullptr ||
         plugins::find_plugin(std::string(use), m_pipeline_dir).has_value();
}

std::unique_ptr<Gate> Catalog::make(std::string_view use, const pipeline::ConfigNode& with) const {
  if (const GateType* type = find(use)) {
    return type->make(with);
  }
  if (auto program = plugins::find_plugin(std::string(use), m_pipeline_dir)) {
    return plugins::make_plugin_gate(std::string(use), *program, with);
  }
  return nullptr;
}

std::vector<std::string> Catalog::names() const { return gates::names(); }

}  // namespace promote::gates
