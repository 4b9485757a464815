// Fuzzes the chart version editor: with a chart, repository, flags, element filter and version
// picked by the input's size, set_chart_versions either fails cleanly or returns text that
// differs from the input only inside the version values, holds the same YAML apart from them,
// reads back with the version at every place, and is left as it is by the same edit made again.
#include <set>

#include "engine/overlay/charts.hpp"
#include "tests/fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  static const char* const k_repositories[] = {"", "https://stefanprodan.github.io/podinfo/",
                                               "oci://GHCR.io/stefanprodan/charts"};
  // No '+': the shared check knows the characters of image references only.
  static const char* const k_versions[] = {"6.5.1", "1.10", "2.0.0-rc.1", "v1.16.2"};
  overlay::ChartRef chart;
  chart.chart = "podinfo";
  chart.repository = k_repositories[size % 3];
  chart.chart_version = (size / 3) % 2 == 1;
  chart.app_version = (size / 6) % 2 == 1;
  if ((size / 12) % 2 == 1) {
    chart.elements = {{"env", "staging"}};
  }
  const std::string version = k_versions[(size / 24) % 4];

  const auto edited = overlay::set_chart_versions(text, "charts.yaml", chart, version);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    require(edited.error().kind != ErrorKind::internal,
            "an internal error: " + edited.error().message);
    return 0;
  }
  const auto& [after, count] = *edited;
  require((count == 0) == (after == text), "the count does not say whether the text changed");
  fuzz::require_only_values_changed(text, after);
  // The lines that changed hold the edited values: their scalars are left out of the trees.
  std::set<int> changed;
  const auto old_lines = fuzz::lines_of(text);
  const auto new_lines = fuzz::lines_of(after);
  for (std::size_t i = 0; i < old_lines.size() && i < new_lines.size(); ++i) {
    if (old_lines[i] != new_lines[i]) {
      changed.insert(static_cast<int>(i));
    }
  }
  fuzz::require_same_tree(text, after,
                          [&](const std::string&, const std::string&, const YAML::Node& node) {
                            return node.IsScalar() && changed.count(node.Mark().line) > 0;
                          });
  const auto places = overlay::get_chart_versions(after, "charts.yaml", chart);
  require(places.has_value(), "the edited text does not read");
  for (const auto& place : *places) {
    require(place.version == version, place.where + ": " + place.what + " reads '" + place.version +
                                          "', not '" + version + "'");
  }
  const auto again = overlay::set_chart_versions(after, "charts.yaml", chart, version);
  require(again.has_value() && again->second == 0 && again->first == after,
          "the same edit made again changed the text");
  return 0;
}
