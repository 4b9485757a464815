#include "engine/overlay/charts.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>

#include "engine/image/semver.hpp"
#include "engine/overlay/splice.hpp"
#include "engine/util/text.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;
using splice::Span;

/// What a place pins, which decides whether promote may replace it.
enum class Pin {
  version,      ///< a version, or a range written where a version goes
  app_version,  ///< Chart.yaml's appVersion: free text, never read as a range
  semver,       ///< Flux's spec.ref.semver: always a range
  digest,       ///< Flux's spec.ref.digest: a digest, not a version
};

/// A `key: value` pair that pins a version of the chart.
struct Place {
  YAML::Node key;
  YAML::Node value;  ///< a scalar or null
  std::string what;  ///< "HelmRelease podinfo: spec.chart.spec.version"
  Pin pin = Pin::version;
  std::optional<YAML::Mark> alias;  ///< the key whose alias (*name) the place lies in
  bool selects = false;  ///< an ApplicationSet element value that the element filter reads
};

/// A map or list on the way to a place.
struct At {
  YAML::Node node;
  std::string path;                 ///< "spec.sources[1]"
  std::optional<YAML::Mark> alias;  ///< set when it lies in an alias of a node anchored elsewhere
};

/// The walk of one text.
struct Context {
  const std::string& file;
  const Source& source;
  const ChartRef& chart;
  const std::vector<YAML::Node>& documents;
  std::string label;  ///< "HelmRelease podinfo": the document being walked
  std::vector<Place> places;
};

/// Text from the file as a message shows it: bytes outside printable ASCII as \xNN, cut after
/// 200 bytes.
std::string shown(std::string_view text) {
  return util::ascii_excerpt(text);
}

std::string kind_of(const YAML::Node& node) {
  return node.IsSequence() ? "a list"
         : node.IsMap()    ? "a map"
         : node.IsNull()   ? "empty"
                           : "a string";
}

/// The first `key: value` pair of a map whose key is `key`.
std::optional<std::pair<YAML::Node, YAML::Node>> entry(const YAML::Node& map,
                                                       std::string_view key) {
  if (!map.IsMap()) {
    return std::nullopt;
  }
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) {
      return std::pair<YAML::Node, YAML::Node>(pair.first, pair.second);
    }
  }
  return std::nullopt;
}

/// The string at `key` of a map; "" when it is absent or not a string.
std::string text_at(const YAML::Node& map, std::string_view key) {
  const auto found = entry(map, key);
  return found && found->second.IsScalar() ? found->second.Scalar() : std::string();
}

/// Whether `key` of a map holds something other than null or "".
bool holds(const YAML::Node& map, std::string_view key) {
  const auto found = entry(map, key);
  return found && !found->second.IsNull() &&
         !(found->second.IsScalar() && found->second.Scalar().empty());
}

std::string metadata_text(const YAML::Node& document, std::string_view key) {
  const auto metadata = entry(document, "metadata");
  return metadata ? text_at(metadata->second, key) : std::string();
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Error wrong_kind(const Context& context, const YAML::Node& node, const std::string& path,
                 const std::string& want) {
  return splice::error_at(
      context.file, node.Mark(),
      context.label + ": " + path + " must be " + want + " (it is " + kind_of(node) + ")");
}

/// The map (or list) at `key` of `parent`: nullopt when it is absent or null; fails when it is
/// of another kind.
Result<std::optional<At>> child(const Context& context, const At& parent, std::string_view key,
                                bool want_list = false) {
  const auto found = entry(parent.node, key);
  if (!found || found->second.IsNull()) {
    return std::optional<At>();
  }
  const YAML::Node& value = found->second;
  const std::string path = join(parent.path, key);
  if (want_list ? !value.IsSequence() : !value.IsMap()) {
    // Spelled out: a YAML::Node converts from anything, an Error too.
    return Result<std::optional<At>>(
        boost::system::in_place_error,
        wrong_kind(context, value, path, want_list ? "a list" : "a map"));
  }
  At at{value, path, parent.alias};
  // An alias is the anchored node itself: its mark is the anchor's, before the key.
  if (!at.alias &&
      context.source.offset(value.Mark()) < context.source.offset(found->first.Mark())) {
    at.alias = found->first.Mark();
  }
  return std::optional<At>(std::move(at));
}

/// The items of a list, each of which must be a map.
Result<std::vector<At>> items(const Context& context, const At& list) {
  std::vector<At> out;
  const std::size_t open = context.source.offset(list.node.Mark());
  std::size_t index = 0;
  for (const auto& item : list.node) {
    At at{item, list.path + "[" + std::to_string(index++) + "]", list.alias};
    if (!item.IsMap()) {
      return wrong_kind(context, item, at.path, "a map");
    }
    if (!at.alias && context.source.offset(item.Mark()) < open) {
      at.alias = list.node.Mark();
    }
    out.push_back(std::move(at));
  }
  return out;
}

/// Records the value at `key` of `parent` as a place, when the key is there.
Result<void> add_place(Context& context, const At& parent, std::string_view key, Pin pin) {
  const auto found = entry(parent.node, key);
  if (!found) {
    return {};
  }
  const std::string path = join(parent.path, key);
  if (!found->second.IsScalar() && !found->second.IsNull()) {
    return wrong_kind(context, found->second, path, "a string");
  }
  context.places.push_back(
      Place{found->first, found->second, context.label + ": " + path, pin, parent.alias});
  return {};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

/// A repository URL as it is compared: scheme (oci when none is written) and host in lower case,
/// no trailing '/'.
std::string normal_url(std::string_view url) {
  while (!url.empty() && url.back() == '/') {
    url.remove_suffix(1);
  }
  std::string scheme = "oci";
  if (const std::size_t separator = url.find("://"); separator != std::string_view::npos) {
    scheme = lower(url.substr(0, separator));
    url.remove_prefix(separator + 3);
  }
  const std::size_t slash = url.find('/');
  return scheme + "://" + lower(url.substr(0, slash)) +
         std::string(slash == std::string_view::npos ? "" : url.substr(slash));
}

bool same_url(std::string_view a, std::string_view b) {
  return !a.empty() && !b.empty() && normal_url(a) == normal_url(b);
}

/// Whether a chart repository URL is the chart's repository (any, when none is given).
bool repository_matches(const ChartRef& chart, std::string_view url) {
  return chart.repository.empty() || same_url(url, chart.repository);
}

/// Whether an OCI URL is the chart's own: REPOSITORY/CHART, or the repository when it already
/// ends in /CHART (any OCI URL ending in /CHART when no repository is given).
bool chart_url_matches(const ChartRef& chart, std::string_view url) {
  const std::string normal = normal_url(url);
  const std::string tail = "/" + chart.chart;
  if (url.empty() || chart.chart.empty() || !normal.starts_with("oci://")) {
    return false;
  }
  if (chart.repository.empty()) {
    return normal.ends_with(tail);
  }
  const std::string repository = normal_url(chart.repository);
  return normal == repository + tail || (repository.ends_with(tail) && normal == repository);
}

/// The key path a targetRevision of an ApplicationSet template names: `{{chartVersion}}`,
/// `{{.chartVersion}}`, `{{ .values.chartVersion }}`, `{{values.chartVersion}}`; nullopt for any
/// other text.
std::optional<std::vector<std::string>> template_key(std::string_view text) {
  if (text.size() < 4 || !text.starts_with("{{") || !text.ends_with("}}")) {
    return std::nullopt;
  }
  std::string_view inner = text.substr(2, text.size() - 4);
  if (inner.starts_with('-')) {
    inner.remove_prefix(1);
  }
  if (inner.ends_with('-')) {
    inner.remove_suffix(1);
  }
  while (!inner.empty() && inner.front() == ' ') {
    inner.remove_prefix(1);
  }
  while (!inner.empty() && inner.back() == ' ') {
    inner.remove_suffix(1);
  }
  if (inner.starts_with('.')) {
    inner.remove_prefix(1);
  }
  std::vector<std::string> path;
  for (std::size_t start = 0;;) {
    const std::size_t dot = inner.find('.', start);
    const std::string_view part =
        inner.substr(start, dot == std::string_view::npos ? dot : dot - start);
    const bool name = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-';
    });
    if (!name) {
      return std::nullopt;
    }
    path.emplace_back(part);
    if (dot == std::string_view::npos) {
      return path;
    }
    start = dot + 1;
  }
}

bool is_template(std::string_view text) {
  return text.find("{{") != std::string_view::npos;
}

// --- Flux -------------------------------------------------------------------------------------

/// Whether a HelmRepository of the file that `source_ref` names has another URL than the
/// chart's repository (false when the file has none of that name).
bool other_helm_repository(const Context& context, const YAML::Node& source_ref,
                           const std::string& release_namespace) {
  const std::string name = text_at(source_ref, "name");
  std::string wanted_namespace = text_at(source_ref, "namespace");
  if (wanted_namespace.empty()) {
    wanted_namespace = release_namespace;
  }
  for (const auto& document : context.documents) {
    const std::string api_version = text_at(document, "apiVersion");
    if (text_at(document, "kind") != "HelmRepository" ||
        !api_version.starts_with("source.toolkit.fluxcd.io/") ||
        metadata_text(document, "name") != name) {
      continue;
    }
    const std::string repository_namespace = metadata_text(document, "namespace");
    if (!wanted_namespace.empty() && !repository_namespace.empty() &&
        wanted_namespace != repository_namespace) {
      continue;
    }
    const auto spec = entry(document, "spec");
    return !repository_matches(context.chart, spec ? text_at(spec->second, "url") : "");
  }
  return false;
}

Result<void> helm_release(Context& context, const At& root) {
  auto spec = child(context, root, "spec");
  if (!spec || !*spec) {
    return spec ? Result<void>() : spec.error();
  }
  auto chart = child(context, **spec, "chart");
  if (!chart || !*chart) {
    return chart ? Result<void>() : chart.error();
  }
  auto chart_spec = child(context, **chart, "spec");
  if (!chart_spec || !*chart_spec) {
    return chart_spec ? Result<void>() : chart_spec.error();
  }
  const At& template_spec = **chart_spec;
  // A kustomize patch of a HelmRelease (apps/production/podinfo-values.yaml of
  // fluxcd/flux2-kustomize-helm-example) names neither the chart nor its source: it is the
  // chart's when the release has the chart's name.
  const bool patch = !entry(template_spec.node, "chart") && !entry(template_spec.node, "sourceRef");
  if (patch ? metadata_text(root.node, "name") != context.chart.chart
            : text_at(template_spec.node, "chart") != context.chart.chart) {
    return {};
  }
  auto source_ref = child(context, template_spec, "sourceRef");
  if (!source_ref) {
    return source_ref.error();
  }
  if (*source_ref) {
    const std::string kind = text_at((*source_ref)->node, "kind");
    // Flux ignores the version of a chart from a GitRepository or a Bucket.
    if (kind == "GitRepository" || kind == "Bucket" ||
        other_helm_repository(context, (*source_ref)->node,
                              metadata_text(root.node, "namespace"))) {
      return {};
    }
  }
  return add_place(context, template_spec, "version", Pin::version);
}

Result<void> oci_repository(Context& context, const At& root) {
  auto spec = child(context, root, "spec");
  if (!spec || !*spec) {
    return spec ? Result<void>() : spec.error();
  }
  if (!chart_url_matches(context.chart, text_at((*spec)->node, "url"))) {
    return {};
  }
  auto ref = child(context, **spec, "ref");
  if (!ref || !*ref) {
    return ref ? Result<void>() : ref.error();
  }
  // Flux prefers the digest to the semver range, and the range to the tag.
  if (holds((*ref)->node, "digest")) {
    return add_place(context, **ref, "digest", Pin::digest);
  }
  if (holds((*ref)->node, "semver")) {
    return add_place(context, **ref, "semver", Pin::semver);
  }
  return add_place(context, **ref, "tag", Pin::version);
}

// --- Argo CD ----------------------------------------------------------------------------------

/// Whether an Application source installs the chart: `chart: CHART` from the repository, or an
/// OCI repoURL that is the chart's.
bool source_matches(const ChartRef& chart, const YAML::Node& source) {
  const std::string url = text_at(source, "repoURL");
  if (const auto name = entry(source, "chart"); name && !name->second.IsNull()) {
    return name->second.IsScalar() && name->second.Scalar() == chart.chart &&
           repository_matches(chart, url);
  }
  return chart_url_matches(chart, url);
}

/// Whether a list element holds every value of the filter.
bool element_selected(const ChartRef& chart, const YAML::Node& element) {
  return std::all_of(chart.elements.begin(), chart.elements.end(), [&](const auto& wanted) {
    const auto found = entry(element, wanted.first);
    return found && found->second.IsScalar() && found->second.Scalar() == wanted.second;
  });
}

/// The values `key` names in the elements of the list generators (also inside matrix and merge
/// generators).
Result<void> generator_places(Context& context, const At& generators,
                              const std::vector<std::string>& key) {
  auto list = items(context, generators);
  if (!list) {
    return list.error();
  }
  for (const At& generator : *list) {
    for (const char* nested : {"matrix", "merge"}) {
      auto combined = child(context, generator, nested);
      if (!combined) {
        return combined.error();
      }
      if (*combined) {
        auto inner = child(context, **combined, "generators", true);
        if (!inner) {
          return inner.error();
        }
        if (*inner) {
          if (auto done = generator_places(context, **inner, key); !done) {
            return done.error();
          }
        }
      }
    }
    auto list_generator = child(context, generator, "list");
    if (!list_generator || !*list_generator) {
      if (!list_generator) {
        return list_generator.error();
      }
      continue;
    }
    auto elements = child(context, **list_generator, "elements", true);
    if (!elements || !*elements) {
      if (!elements) {
        return elements.error();
      }
      continue;
    }
    auto element_list = items(context, **elements);
    if (!element_list) {
      return element_list.error();
    }
    for (const At& element : *element_list) {
      if (!element_selected(context.chart, element.node)) {
        continue;
      }
      // Never assigned: assigning a YAML::Node overwrites, in the document, the node it referred
      // to.
      std::optional<At> at(element);
      for (std::size_t i = 0; at && i + 1 < key.size(); ++i) {
        auto next = child(context, *at, key[i]);
        if (!next) {
          return next.error();
        }
        at.reset();
        if (*next) {
          at.emplace(**next);
        }
      }
      if (!at) {
        continue;
      }
      const std::size_t before = context.places.size();
      if (auto done = add_place(context, *at, key.back(), Pin::version); !done) {
        return done.error();
      }
      if (context.places.size() > before && key.size() == 1 &&
          context.chart.elements.contains(key.front())) {
        context.places.back().selects = true;
      }
    }
  }
  return {};
}

/// Where the values of an ApplicationSet's template expressions are.
struct Generators {
  std::optional<At> list;  ///< spec.generators, when there are any
};

/// The targetRevision of a source that installs the chart; in an ApplicationSet template
/// (`generators` given), the element values a template expression there names.
Result<void> source_places(Context& context, const At& source, const Generators* generators) {
  if (!source_matches(context.chart, source.node)) {
    return {};
  }
  if (generators) {
    const std::string revision = text_at(source.node, "targetRevision");
    if (const auto key = template_key(revision)) {
      // Without list generators the values are not in this file.
      return generators->list ? generator_places(context, *generators->list, *key) : Result<void>();
    }
  }
  return add_place(context, source, "targetRevision", Pin::version);
}

/// spec.source and spec.sources[] of an Application spec (or an ApplicationSet's template spec).
Result<void> application_spec(Context& context, const At& spec, const Generators* generators) {
  auto single = child(context, spec, "source");
  if (!single) {
    return single.error();
  }
  if (*single) {
    if (auto done = source_places(context, **single, generators); !done) {
      return done.error();
    }
  }
  auto several = child(context, spec, "sources", true);
  if (!several || !*several) {
    return several ? Result<void>() : several.error();
  }
  auto sources = items(context, **several);
  if (!sources) {
    return sources.error();
  }
  for (const At& source : *sources) {
    if (auto done = source_places(context, source, generators); !done) {
      return done.error();
    }
  }
  return {};
}

Result<void> application(Context& context, const At& root) {
  auto spec = child(context, root, "spec");
  if (!spec || !*spec) {
    return spec ? Result<void>() : spec.error();
  }
  return application_spec(context, **spec, nullptr);
}

Result<void> application_set(Context& context, const At& root) {
  auto spec = child(context, root, "spec");
  if (!spec || !*spec) {
    return spec ? Result<void>() : spec.error();
  }
  auto generators = child(context, **spec, "generators", true);
  if (!generators) {
    return generators.error();
  }
  auto template_ = child(context, **spec, "template");
  if (!template_ || !*template_) {
    return template_ ? Result<void>() : template_.error();
  }
  auto template_spec = child(context, **template_, "spec");
  if (!template_spec || !*template_spec) {
    return template_spec ? Result<void>() : template_spec.error();
  }
  const Generators where{*generators};
  return application_spec(context, **template_spec, &where);
}

// --- Helm and kustomize -----------------------------------------------------------------------

/// Whether a Chart.yaml dependency's repository is the chart's: a URL is compared, a repository
/// named by `@name` or `alias:name` or none at all is not.
bool dependency_repository_matches(const ChartRef& chart, const std::string& repository) {
  if (repository.empty() || repository.starts_with('@') || repository.starts_with("alias:")) {
    return true;
  }
  return repository_matches(chart, repository);
}

Result<void> chart_yaml(Context& context, const At& root) {
  if (text_at(root.node, "name") == context.chart.chart) {
    if (context.chart.chart_version) {
      if (auto done = add_place(context, root, "version", Pin::version); !done) {
        return done.error();
      }
    }
    if (context.chart.app_version) {
      if (auto done = add_place(context, root, "appVersion", Pin::app_version); !done) {
        return done.error();
      }
    }
  }
  auto dependencies = child(context, root, "dependencies", true);
  if (!dependencies || !*dependencies) {
    return dependencies ? Result<void>() : dependencies.error();
  }
  auto list = items(context, **dependencies);
  if (!list) {
    return list.error();
  }
  for (const At& dependency : *list) {
    if (text_at(dependency.node, "name") == context.chart.chart &&
        dependency_repository_matches(context.chart, text_at(dependency.node, "repository"))) {
      if (auto done = add_place(context, dependency, "version", Pin::version); !done) {
        return done.error();
      }
    }
  }
  return {};
}

Result<void> helm_charts(Context& context, const At& root) {
  auto charts = child(context, root, "helmCharts", true);
  if (!charts || !*charts) {
    return charts ? Result<void>() : charts.error();
  }
  auto list = items(context, **charts);
  if (!list) {
    return list.error();
  }
  for (const At& chart : *list) {
    if (text_at(chart.node, "name") == context.chart.chart &&
        repository_matches(context.chart, text_at(chart.node, "repo"))) {
      if (auto done = add_place(context, chart, "version", Pin::version); !done) {
        return done.error();
      }
    }
  }
  return {};
}

// --- The walk ---------------------------------------------------------------------------------

Result<void> collect_document(Context& context, const YAML::Node& document) {
  if (!document.IsMap()) {
    return {};
  }
  const std::string kind = text_at(document, "kind");
  const std::string api_version = text_at(document, "apiVersion");
  const std::string group = api_version.substr(0, api_version.find('/'));
  const std::string name = metadata_text(document, "name");
  const At root{document, "", std::nullopt};
  context.label = shown(kind) + (name.empty() ? "" : " " + shown(name));
  if (!entry(document, "kind")) {
    Result<void> done;
    if ((api_version == "v1" || api_version == "v2") && !text_at(document, "name").empty()) {
      context.label = "Chart " + shown(text_at(document, "name"));
      done = chart_yaml(context, root);
    }
    if (done && entry(document, "helmCharts")) {
      context.label = "kustomization";
      done = helm_charts(context, root);
    }
    return done;
  }
  if (kind == "HelmRelease" && group == "helm.toolkit.fluxcd.io") {
    return helm_release(context, root);
  }
  if (kind == "OCIRepository" && group == "source.toolkit.fluxcd.io") {
    return oci_repository(context, root);
  }
  if (kind == "Application" && group == "argoproj.io") {
    return application(context, root);
  }
  if (kind == "ApplicationSet" && group == "argoproj.io") {
    return application_set(context, root);
  }
  if (kind == "Kustomization" && group == "kustomize.config.k8s.io") {
    context.label = "kustomization";
    return helm_charts(context, root);
  }
  return {};
}

/// The places of the text, in file order.
Result<std::vector<Place>> collect(std::string_view text, const std::string& file,
                                   const ChartRef& chart) {
  if (chart.chart.empty()) {
    return make_error(ErrorKind::usage, file + ": no chart to look for (its name is empty)");
  }
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  const Source source(text);
  Context context{file, source, chart, *documents, "", {}};
  for (const auto& document : *documents) {
    if (auto done = collect_document(context, document); !done) {
      return done.error();
    }
  }
  // Sorted by index: std::sort assigns, and assigning a YAML::Node overwrites, in the document,
  // the node it referred to.
  std::vector<std::size_t> order(context.places.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return source.offset(context.places[a].key.Mark()) <
           source.offset(context.places[b].key.Mark());
  });
  std::vector<Place> sorted;
  sorted.reserve(order.size());
  for (const std::size_t i : order) {
    sorted.push_back(context.places[i]);
  }
  return sorted;
}

std::string current(const Place& place) {
  return place.value.IsScalar() ? place.value.Scalar() : std::string();
}

/// Where a place's value is: its own mark when it is written after its key, else its key's
/// (an empty value, an alias).
YAML::Mark mark_of(const Source& source, const Place& place) {
  if (place.value.IsScalar() &&
      source.offset(place.value.Mark()) > source.offset(place.key.Mark())) {
    return place.value.Mark();
  }
  return place.key.Mark();
}

/// Why a place cannot be set to another version whatever its shape; nullopt when it can.
std::optional<std::string> not_replaceable(const Place& place) {
  const std::string value = current(place);
  switch (place.pin) {
    case Pin::semver:
      return "Flux reads '" + shown(value) +
             "' as a version range, and promote replaces only exact versions (spec.ref.tag)";
    case Pin::digest:
      return "the chart is pinned by digest, and promote sets versions (spec.ref.tag)";
    case Pin::version:
    case Pin::app_version:
      break;
  }
  if (is_template(value)) {
    return "'" + shown(value) + "' is a template expression, which promote never edits";
  }
  if (place.pin == Pin::version && image::is_version_range(value)) {
    return "'" + shown(value) + "' is a version range, and promote replaces only exact versions";
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<ChartPlace>> get_chart_versions(std::string_view text, const std::string& file,
                                                   const ChartRef& chart) {
  auto places = collect(text, file, chart);
  if (!places) {
    return places.error();
  }
  const Source source(text);
  std::vector<ChartPlace> out;
  for (const auto& place : *places) {
    const YAML::Mark mark = mark_of(source, place);
    out.push_back(ChartPlace{
        current(place), Location{file, mark.line + 1, mark.column + 1}.to_string(), place.what});
  }
  return out;
}

Result<std::pair<std::string, int>> set_chart_versions(std::string_view text,
                                                       const std::string& file,
                                                       const ChartRef& chart,
                                                       const std::string& version) {
  const std::string cannot =
      "cannot set chart '" + shown(chart.chart) + "' to '" + shown(version) + "': ";
  if (version.empty()) {
    return make_error(ErrorKind::usage,
                      "cannot set chart '" + shown(chart.chart) + "' to an empty version");
  }
  if (image::is_version_range(version)) {
    return make_error(
        ErrorKind::usage,
        cannot + "it is a version range, and promote sets exact versions (e.g. 1.4.2)");
  }
  const bool plain = std::all_of(version.begin(), version.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '+' || c == '_';
  });
  if (!plain) {
    return make_error(ErrorKind::usage,
                      cannot + "a version holds only letters, digits, '.', '-', '+' and '_'");
  }
  auto places = collect(text, file, chart);
  if (!places) {
    return places.error();
  }
  const Source source(text);
  std::vector<splice::Edit> edits;
  std::vector<std::string> expected;  // every place as it must read after the edit
  for (const auto& place : *places) {
    const std::string now = current(place);
    const YAML::Mark mark = mark_of(source, place);
    if (auto why = not_replaceable(place)) {
      return splice::error_at(file, mark, "cannot set " + place.what + ": " + *why);
    }
    if (place.selects) {
      return splice::error_at(
          file, mark,
          "cannot set " + place.what + ": the element filter selects elements by this key");
    }
    expected.push_back(version);
    if (now == version) {
      continue;
    }
    if (place.alias) {
      return splice::error_at(file, *place.alias,
                              "cannot edit " + place.what +
                                  " in place: it lies in an alias (*name) of a map or list "
                                  "anchored elsewhere, and promote does not edit through aliases");
    }
    Span span = splice::locate_value(source, place.key, place.value);
    // splice::locate_scalar takes a double-quoted scalar for one line when a backslash escapes
    // its line break.
    if (span.shape == Shape::editable &&
        source.text().substr(span.begin, span.end - span.begin).find_first_of("\r\n") !=
            std::string_view::npos) {
      span.shape = Shape::multi_line;
    }
    if (span.shape != Shape::editable && span.shape != Shape::null) {
      return splice::error_at(
          file, mark, "cannot edit " + place.what + " in place: " + splice::describe(source, span));
    }
    if (std::any_of(edits.begin(), edits.end(),
                    [&](const splice::Edit& edit) { return edit.begin == span.begin; })) {
      return splice::error_at(
          file, mark, "cannot edit " + place.what + " in place: " + splice::describe(Shape::alias));
    }
    edits.push_back(splice::replace(span, version));
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  if (edits.empty()) {
    return std::pair{std::move(*edited), 0};
  }
  // Read back: every place holds the version, and there are as many.
  const auto guard_failed = [&](const std::string& why) -> Result<std::pair<std::string, int>> {
    return make_error(ErrorKind::internal, file + ": setting the versions of chart '" +
                                               shown(chart.chart) +
                                               "' did not give the expected YAML (" + why + ")");
  };
  auto read_back = collect(*edited, file, chart);
  if (!read_back) {
    return guard_failed(read_back.error().message);
  }
  std::vector<std::string> actual;
  for (const auto& place : *read_back) {
    actual.push_back(current(place));
  }
  if (actual != expected) {
    return guard_failed("the versions do not read back as written");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
