#include "engine/pipeline/pipeline.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/image/reference.hpp"
#include "engine/overlay/splice.hpp"
#include "engine/pipeline/carry_spec.hpp"
#include "engine/pipeline/gate_specs.hpp"
#include "engine/util/files.hpp"
#include "engine/util/text.hpp"

namespace promote::pipeline {

namespace fs = std::filesystem;

const Stage* Pipeline::find_stage(std::string_view stage) const {
  for (const auto& candidate : stages) {
    if (candidate.name == stage) {
      return &candidate;
    }
  }
  return nullptr;
}

Result<const Stage*> Pipeline::stage_named(std::string_view stage) const {
  if (const Stage* found = find_stage(stage)) {
    return found;
  }
  std::string message = "the pipeline has no stage '" + std::string(stage) + "'";
  if (auto close = did_you_mean(stage, stage_names()); !close.empty()) {
    message += " (did you mean '" + close + "'?)";
  }
  return make_error(ErrorKind::usage, message);
}

std::vector<std::string> Target::paths() const {
  std::vector<std::string> out = kustomize;
  for (const auto& values : helm) {
    out.push_back(values.file);
  }
  out.insert(out.end(), manifests.begin(), manifests.end());
  out.insert(out.end(), setters.begin(), setters.end());
  for (const auto& applications : argocd) {
    out.push_back(applications.path);
  }
  for (const auto& files : charts) {
    out.push_back(files.path);
  }
  return out;
}

Location Target::where_of(const std::string& kind, const std::string& path) const {
  const auto it = path_where.find({kind, path});
  return it == path_where.end() ? where : it->second;
}

const ImageSpec* Pipeline::find_image(std::string_view image) const {
  for (const auto& candidate : images) {
    if (candidate.name == image) {
      return &candidate;
    }
  }
  return nullptr;
}

std::vector<const ImageSpec*> Pipeline::images_of(const Stage& stage) const {
  std::vector<const ImageSpec*> out;
  for (const auto& image : images) {
    if (stage.group.empty() || image.group == stage.group) {
      out.push_back(&image);
    }
  }
  return out;
}

const ChartSpec* Pipeline::find_chart(std::string_view chart) const {
  for (const auto& candidate : charts) {
    if (candidate.name == chart) {
      return &candidate;
    }
  }
  return nullptr;
}

std::vector<const ChartSpec*> Pipeline::charts_of(const Stage& stage) const {
  std::vector<const ChartSpec*> out;
  for (const auto& chart : charts) {
    if (std::find(stage.keep_range.begin(), stage.keep_range.end(), chart.name) ==
        stage.keep_range.end()) {
      out.push_back(&chart);
    }
  }
  return out;
}

std::vector<std::string> Pipeline::chart_names() const {
  std::vector<std::string> out;
  for (const auto& chart : charts) {
    out.push_back(chart.name);
  }
  return out;
}

std::vector<std::string> Pipeline::stage_names() const {
  std::vector<std::string> out;
  for (const auto& stage : stages) {
    out.push_back(stage.name);
  }
  return out;
}

std::vector<std::string> Pipeline::image_names() const {
  std::vector<std::string> out;
  for (const auto& image : images) {
    out.push_back(image.name);
  }
  return out;
}

namespace {

/// escapes_root against a root already resolved (null: no symlink check, for a repository
/// that is not on disk yet).
std::string escapes_root(const util::Within* within, const std::string& relative) {
  const fs::path path(relative);
  if (relative.empty()) {
    return "is empty";
  }
  if (path.is_absolute()) {
    return "is absolute; give a path relative to the repository";
  }
  const fs::path normal = path.lexically_normal();
  if (!normal.empty() && *normal.begin() == "..") {
    return "leaves the repository (..)";
  }
  if (within != nullptr && !(*within)(path)) {
    return "leads out of the repository through a symlink";
  }
  return "";
}

}  // namespace

std::string escapes_root(const fs::path& root, const std::string& relative) {
  if (root.empty()) {
    return escapes_root(static_cast<const util::Within*>(nullptr), relative);
  }
  const util::Within within(root);
  return escapes_root(&within, relative);
}

namespace {

/// A DNS label: lower-case letters, digits and '-', at most 63, neither first nor last a '-'.
/// (A regular expression at namespace scope was compiled at every start, --version included.)
bool is_name(std::string_view text) {
  const auto allowed = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return !text.empty() && text.size() <= 63 && allowed(text.front()) && allowed(text.back()) &&
         std::all_of(text.begin(), text.end(), [&](char c) { return allowed(c) || c == '-'; });
}

class Loader {
 public:
  Loader(const fs::path& file, const GateCatalog& gates)
      : m_label(file.string()), m_gates(gates) {}

  Result<Pipeline> load(const fs::path& file) {
    // Its path goes into commit trailers and records: a line feed in it would start a trailer
    // of its own.
    const std::string path = fs::absolute(file).lexically_normal().string();
    if (auto problem = util::utf8_problem("the path of the pipeline file", path);
        !problem.empty()) {
      return make_error(ErrorKind::config, problem);
    }
    if (util::one_line(path) != path) {
      return make_error(ErrorKind::config,
                        util::one_line(path) +
                            ": the path of the pipeline file holds a control character, which "
                            "promote would write into commit trailers and records");
    }
    auto text = util::read_file(file, 1 << 20);
    if (!text) {
      return make_error(ErrorKind::config, text.error().message);
    }
    // The overlays' loader: it also stops on nesting, alias bombs and the stray tokens on
    // which yaml-cpp alone would loop for ever.
    auto loaded = overlay::splice::load_all(*text, m_label);
    if (!loaded) {
      return make_error(ErrorKind::config, loaded.error().message);
    }
    std::vector<YAML::Node> documents = std::move(*loaded);
    // A second document would otherwise be ignored without a word.
    if (documents.size() > 1) {
      ConfigNode(documents[1], m_label, m_diagnostics)
          .error("the pipeline file must hold one YAML document; another starts here");
      return m_diagnostics.to_error();
    }
    const YAML::Node root = documents.empty() ? YAML::Node() : documents[0];
    Pipeline pipeline;
    pipeline.file = fs::absolute(file).lexically_normal();
    pipeline.base_dir = pipeline.file.parent_path();
    const ConfigNode node(root, m_label, m_diagnostics);
    if (!root || root.IsNull()) {
      m_diagnostics.add(Location{m_label, 1, 1}, "the pipeline file is empty");
      return m_diagnostics.to_error();
    }
    read_root(node, pipeline);
    if (!m_diagnostics.empty()) {
      return m_diagnostics.to_error();
    }
    return pipeline;
  }

 private:
  void read_root(const ConfigNode& node, Pipeline& pipeline) {
    if (!node.expect_map("the pipeline", {"apiVersion", "kind", "metadata", "repository", "images",
                                          "charts", "stages", "trust", "interval"})) {
      return;
    }
    expect_constant(node, "apiVersion", "promote/v1");
    expect_constant(node, "kind", "Pipeline");
    if (auto metadata = node.require("metadata", "the pipeline")) {
      if (metadata->expect_map("metadata", {"name", "description"})) {
        if (auto name = metadata->require("name", "metadata")) {
          pipeline.name = read_name(*name, "metadata.name");
        }
        if (auto description = metadata->get("description")) {
          description->as_string("metadata.description");
        }
      }
    }
    if (auto repository = node.get("repository")) {
      read_repository(*repository, pipeline.repository);
    }
    if (auto images = node.require("images", "the pipeline")) {
      read_images(*images, pipeline);
    }
    if (auto charts = node.get("charts")) {
      read_charts(*charts, pipeline);
    }
    if (auto stages = node.require("stages", "the pipeline")) {
      read_stages(*stages, pipeline);
    }
    if (auto interval = node.get("interval")) {
      if (auto value = interval->as_duration("interval")) {
        if (value->count() < 10) {
          interval->error("'interval' must be at least 10s, got '" + format_duration(*value) + "'");
        } else {
          pipeline.interval = *value;
        }
      }
    }
    if (auto trust = node.get("trust")) {
      read_trust(*trust, pipeline);
    }
  }

  void read_trust(const ConfigNode& node, Pipeline& pipeline) {
    if (!node.expect_map("trust", {"signed", "allowed_signers"})) {
      return;
    }
    if (auto signed_records = node.get("signed")) {
      pipeline.trust.signed_records = signed_records->as_bool("trust.signed").value_or(false);
    }
    const auto file = node.get("allowed_signers");
    if (!pipeline.trust.signed_records) {
      if (file) {
        file->error("'trust.allowed_signers' is read only with 'trust.signed: true'");
      }
      return;
    }
    if (!file) {
      node.error(
          "'trust.signed: true' needs 'trust.allowed_signers': the file of the keys "
          "that may sign promote's records");
      return;
    }
    if (auto text = file->as_string("trust.allowed_signers")) {
      const fs::path path = (pipeline.base_dir / *text).lexically_normal();
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) {
        file->error("'trust.allowed_signers': no file " + util::one_line(path.string()));
      }
      pipeline.trust.allowed_signers = path;
    }
  }

  void expect_constant(const ConfigNode& node, std::string_view key, const std::string& value) {
    if (auto field = node.require(key, "the pipeline")) {
      if (auto text = field->as_string(key); text && *text != value) {
        field->error(in_quotes(key) + " must be " + in_quotes(value) + ", got " + in_quotes(*text));
      }
    }
  }

  std::string read_name(const ConfigNode& node, std::string_view what) {
    auto text = node.as_string(what);
    if (!text) {
      return {};
    }
    if (!is_name(*text)) {
      node.error(in_quotes(what) +
                 " must be lower-case letters, digits and '-' (at most 63), got '" + *text + "'");
    }
    return *text;
  }

  void read_repository(const ConfigNode& node, RepositorySpec& repository) {
    if (!node.expect_map("repository",
                         {"url", "branch", "provider", "remote", "api", "project"})) {
      return;
    }
    if (auto api = node.get("api")) {
      if (auto text = api->as_string("repository.api")) {
        if (!text->starts_with("https://") && !text->starts_with("http://")) {
          api->error("'repository.api' must be an http(s) URL, got '" + *text + "'");
        }
        repository.api = *text;
      }
    }
    if (auto project = node.get("project")) {
      if (auto text = project->as_string("repository.project")) {
        repository.project = *text;
      }
    }
    if (auto url = node.get("url")) {
      if (auto text = url->as_string("repository.url")) {
        repository.url = text->empty() ? "." : *text;
      }
    }
    if (auto branch = node.get("branch")) {
      if (auto text = branch->as_string("repository.branch")) {
        repository.branch = *text;
        if (text->empty() || text->find_first_of(" ~^:?*[\\") != std::string::npos) {
          branch->error("'repository.branch' is not a valid branch name: '" + *text + "'");
        }
      }
    }
    if (auto remote = node.get("remote")) {
      if (auto text = remote->as_string("repository.remote")) {
        repository.remote = *text;
      }
    }
    if (auto provider = node.get("provider")) {
      if (auto text = provider->as_string("repository.provider")) {
        static const std::vector<std::string> k_providers = {"github", "gitlab", "gitea",
                                                             "forgejo", "none"};
        if (std::find(k_providers.begin(), k_providers.end(), *text) == k_providers.end()) {
          provider->error(
              "'repository.provider' must be one of github, gitlab, gitea, forgejo, none; got '" +
              *text + "'");
        }
        repository.provider = *text;
      }
    }
  }

  void read_images(const ConfigNode& node, Pipeline& pipeline) {
    const auto items = node.items("images");
    if (node.is_sequence() && items.empty()) {
      node.error("'images' must name at least one image");
    }
    std::map<std::string, Location> seen;
    for (const auto& item : items) {
      if (!item.expect_map("an image", {"name", "repository", "match", "group"})) {
        continue;
      }
      ImageSpec image;
      image.where = item.location();
      if (auto name = item.require("name", "an image")) {
        image.name = read_name(*name, "images[].name");
        if (!image.name.empty()) {
          if (auto [it, fresh] = seen.emplace(image.name, name->location()); !fresh) {
            name->error("duplicate image name '" + image.name + "' (first at " +
                        it->second.to_string() + ")");
          }
        }
      }
      if (auto repository = item.require("repository", "image '" + image.name + "'")) {
        if (auto text = repository->as_string("images[].repository")) {
          auto reference = image::parse(*text);
          if (!reference) {
            repository->error(reference.error().message);
          } else if (!reference->tag.empty() || !reference->digest.empty()) {
            repository->error("'images[].repository' must be a repository without tag or digest, got '" +
                              *text + "'");
          } else {
            image.repository = *text;
          }
        }
      }
      if (auto group = item.get("group")) {
        image.group = read_name(*group, "images[].group");
      }
      image.match = image.repository;
      if (auto match = item.get("match")) {
        if (auto text = match->as_string("images[].match")) {
          image.match = *text;
        }
      }
      pipeline.images.push_back(std::move(image));
    }
  }

  void read_charts(const ConfigNode& node, Pipeline& pipeline) {
    const auto items = node.items("charts");
    if (node.is_sequence() && items.empty()) {
      node.error("'charts' must name at least one chart (or be left out)");
    }
    std::map<std::string, Location> seen;
    for (const auto& item : items) {
      if (!item.expect_map("a chart", {"name", "chart", "repository"})) {
        continue;
      }
      ChartSpec chart;
      chart.where = item.location();
      if (auto name = item.require("name", "a chart")) {
        chart.name = read_name(*name, "charts[].name");
        if (!chart.name.empty()) {
          if (auto [it, fresh] = seen.emplace(chart.name, name->location()); !fresh) {
            name->error("duplicate chart name '" + chart.name + "' (first at " +
                        it->second.to_string() + ")");
          }
        }
      }
      chart.chart = chart.name;
      if (auto named = item.get("chart")) {
        if (auto text = named->as_string("charts[].chart")) {
          if (text->empty() || text->find_first_of(" /:@") != std::string::npos) {
            named->error(
                "'charts[].chart' must be a chart name (no spaces, '/', ':' or '@'), got '" +
                util::one_line(*text) + "'");
          }
          chart.chart = *text;
        }
      }
      if (auto repository = item.require("repository", "chart '" + chart.name + "'")) {
        if (auto text = repository->as_string("charts[].repository")) {
          if (!text->starts_with("oci://") && !text->starts_with("https://") &&
              !text->starts_with("http://")) {
            repository->error(
                "'charts[].repository' must be an oci:// reference or an http(s) chart "
                "repository URL, got '" +
                util::one_line(*text) + "'");
          }
          chart.repository = *text;
        }
      }
      pipeline.charts.push_back(std::move(chart));
    }
  }

  // A target.charts entry: a path, or {path: P, elements: {KEY: VALUE}, version: BOOL,
  // app_version: BOOL}.
  void read_chart_target(const ConfigNode& node, Target& target, const Pipeline& pipeline) {
    ChartTarget files;
    files.where = node.location();
    const ConfigNode* path_node = &node;
    std::optional<ConfigNode> field;
    if (node.is_map()) {
      if (!node.expect_map("a target.charts entry",
                           {"path", "elements", "version", "app_version"})) {
        return;
      }
      field = node.require("path", "a target.charts entry");
      if (!field) {
        return;
      }
      path_node = &*field;
      if (auto elements = node.get("elements")) {
        for (const auto& [key, value] : elements->entries("target.charts[].elements")) {
          auto name = key.as_string("an element key");
          auto text = value.as_string("target.charts[].elements values");
          if (name && text) {
            files.elements.emplace(*name, *text);
          }
        }
      }
      if (auto version = node.get("version")) {
        files.chart_version = version->as_bool("target.charts[].version").value_or(false);
      }
      if (auto app_version = node.get("app_version")) {
        files.app_version = app_version->as_bool("target.charts[].app_version").value_or(false);
      }
    }
    if (auto text = path_node->as_string("target.charts")) {
      if (auto path = read_target_path(*path_node, *text, pipeline)) {
        target.path_where.try_emplace({"charts", *path}, path_node->location());
        files.path = std::move(*path);
        target.charts.push_back(std::move(files));
      }
    }
  }

  void read_stages(const ConfigNode& node, Pipeline& pipeline) {
    const auto items = node.items("stages");
    if (node.is_sequence() && items.empty()) {
      node.error("'stages' must name at least one stage");
    }
    std::map<std::string, Location> seen;
    std::vector<SourceLink> froms;
    for (const auto& item : items) {
      if (!item.expect_map("a stage", {"name", "from", "group", "keep_range", "target", "carry",
                                       "strategy", "pull_request", "gates", "verify", "fail_fast",
                                       "max_concurrency", "auto"})) {
        continue;
      }
      Stage stage;
      stage.where = item.location();
      if (auto name = item.require("name", "a stage")) {
        stage.name = read_name(*name, "stages[].name");
        if (!stage.name.empty()) {
          if (auto [it, fresh] = seen.emplace(stage.name, name->location()); !fresh) {
            name->error("duplicate stage name '" + stage.name + "' (first at " +
                        it->second.to_string() + ")");
          }
        }
      }
      const std::string what = "stage '" + stage.name + "'";
      if (auto from = item.get("from")) {
        if (auto text = from->as_string("from")) {
          stage.from = *text;
          froms.push_back(SourceLink{stage.name, *text, *from});
        }
      }
      if (auto group = item.get("group")) {
        stage.group = read_name(*group, "stages[].group");
        std::vector<std::string> groups;
        for (const auto& image : pipeline.images) {
          if (!image.group.empty() &&
              std::find(groups.begin(), groups.end(), image.group) == groups.end()) {
            groups.push_back(image.group);
          }
        }
        if (!stage.group.empty() &&
            std::find(groups.begin(), groups.end(), stage.group) == groups.end()) {
          std::string message = "no image of the pipeline has group '" + stage.group + "'";
          if (auto close = did_you_mean(stage.group, groups); !close.empty()) {
            message += " (did you mean '" + close + "'?)";
          }
          group->error(message);
        }
      }
      if (auto kept = item.get("keep_range")) {
        if (auto names = kept->as_string_list("keep_range")) {
          for (const auto& name : *names) {
            if (pipeline.find_chart(name) == nullptr) {
              std::string message = "keep_range: the pipeline has no chart '" + name + "'";
              if (auto close = did_you_mean(name, pipeline.chart_names()); !close.empty()) {
                message += " (did you mean '" + close + "'?)";
              }
              kept->error(message);
            }
          }
          stage.keep_range = std::move(*names);
        }
      }
      if (auto target = item.require("target", what)) {
        read_target(*target, stage.target, pipeline);
      }
      if (auto carry = item.get("carry")) {
        read_carry(*carry, stage, [&](const ConfigNode& path, const std::string& text) {
          return read_target_path(path, text, pipeline);
        });
      }
      if (auto strategy = item.get("strategy")) {
        if (auto text = strategy->as_string("strategy")) {
          if (*text == "pull-request") {
            stage.strategy = Strategy::pull_request;
            const std::string& provider = pipeline.repository.provider;
            if (provider.empty() || provider == "none") {
              strategy->error("strategy 'pull-request' needs repository.provider: github, gitlab, "
                              "gitea or forgejo");
            }
          } else if (*text != "commit") {
            strategy->error("'strategy' must be 'commit' or 'pull-request', got '" + *text + "'");
          }
        }
      }
      if (auto pull_request = item.get("pull_request")) {
        read_pull_request(*pull_request, stage.pull_request);
        if (stage.strategy != Strategy::pull_request) {
          pull_request->error("'pull_request' is for stages with strategy: pull-request");
        }
      }
      if (auto fail_fast = item.get("fail_fast")) {
        stage.fail_fast = fail_fast->as_bool("fail_fast").value_or(true);
      }
      if (auto automatic = item.get("auto")) {
        stage.automatic = automatic->as_bool("auto").value_or(false);
      }
      if (auto limit = item.get("max_concurrency")) {
        if (auto value = limit->as_integer("max_concurrency")) {
          if (*value < 1) {
            limit->error("'max_concurrency' must be at least 1, got " + std::to_string(*value));
          } else {
            stage.max_concurrency = static_cast<std::size_t>(*value);
          }
        }
      }
      if (auto gates = item.get("gates")) {
        stage.gates = read_gate_specs(*gates, m_gates, stage, what, false);
      }
      if (auto verify = item.get("verify")) {
        stage.verify = read_gate_specs(*verify, m_gates, stage, what, true);
      }
      pipeline.stages.push_back(std::move(stage));
    }
    check_sources(froms, pipeline);
    check_carried(pipeline, m_diagnostics);
  }

  // A target path: relative, inside the repository, normalised; nullopt when it is not.
  std::optional<std::string> read_target_path(const ConfigNode& node, const std::string& text,
                                              const Pipeline& pipeline) {
    // A remote repository is not on disk yet: its symlinks are checked after the clone.
    const util::Within* within = nullptr;
    if (pipeline.repository.is_local()) {
      if (!m_within) {
        m_within.emplace(pipeline.base_dir);  // the root resolved once for all the paths
      }
      within = &*m_within;
    }
    if (const std::string reason = escapes_root(within, text); !reason.empty()) {
      node.error("target path '" + text + "' " + reason);
      return std::nullopt;
    }
    return fs::path(text).lexically_normal().generic_string();
  }

  // The paths of `target.KIND`, one or a list; where each is written goes to target.path_where.
  std::vector<std::string> read_target_paths(const ConfigNode& node, const std::string& kind,
                                             Target& target, const Pipeline& pipeline) {
    const std::string what = "target." + kind;
    std::vector<std::string> out;
    const auto add = [&](const ConfigNode& item) {
      if (auto text = item.as_string(what)) {
        if (auto path = read_target_path(item, *text, pipeline)) {
          target.path_where.try_emplace({kind, *path}, item.location());
          out.push_back(std::move(*path));
        }
      }
    };
    if (node.is_sequence()) {
      if (node.items(what).empty()) {
        node.error("'" + what + "' must name at least one path");
      }
      for (const auto& item : node.items(what)) {
        add(item);
      }
    } else {
      add(node);
    }
    return out;
  }

  // `document: {kind: K, name: N}`: the document of a multi-document file that holds the values.
  overlay::HelmDocument read_document(const ConfigNode& node) {
    overlay::HelmDocument document;
    if (!node.expect_map("target.helm[].document", {"kind", "name"})) {
      return document;
    }
    if (auto kind = node.get("kind")) {
      document.kind = kind->as_string("target.helm[].document.kind").value_or("");
    }
    if (auto name = node.get("name")) {
      document.name = name->as_string("target.helm[].document.name").value_or("");
    }
    if (document.kind.empty() && document.name.empty()) {
      node.error("'target.helm[].document' must give a kind, a name or both");
    }
    return document;
  }

  // Where each pipeline image lives in Helm values (`what`: "target.helm[].images"): image name
  // -> its value paths, where each path is written going to `path_where`.
  void read_helm_images(const ConfigNode& images, const std::string& what, const Pipeline& pipeline,
                        std::map<std::string, overlay::HelmImage>& out,
                        std::map<std::pair<std::string, std::string>, Location>& path_where) {
    const auto entries = images.entries(what);
    if (images.is_map() && entries.empty()) {
      images.error("'" + what + "' must name at least one image");
    }
    for (const auto& [key, value] : entries) {
      const auto name = key.as_string("an image name");
      if (!name) {
        continue;
      }
      if (pipeline.find_image(*name) == nullptr) {
        std::string message = what + ": the pipeline has no image '" + *name + "'";
        if (auto close = did_you_mean(*name, pipeline.image_names()); !close.empty()) {
          message += " (did you mean '" + close + "'?)";
        }
        key.error(message);
        continue;
      }
      if (!value.expect_map("the value paths of image '" + *name + "'",
                            {"image", "registry", "repository", "tag", "digest"})) {
        continue;
      }
      overlay::HelmImage paths;
      const auto& value_paths = value;  // clang 14 cannot capture a structured binding
      const auto part = [&](const char* field, std::string& into) {
        if (auto node = value_paths.get(field)) {
          if (auto text = node->as_string(what + "." + field)) {
            into = *text;
            path_where.emplace(std::pair{*name, std::string(field)}, node->location());
          }
        }
      };
      part("image", paths.image);
      part("registry", paths.registry);
      part("repository", paths.repository);
      part("tag", paths.tag);
      part("digest", paths.digest);
      if (auto checked = overlay::check_helm_image(paths); !checked) {
        value.error("image '" + *name + "': " + checked.error().message);
        continue;
      }
      out.emplace(*name, std::move(paths));
    }
  }

  void read_helm_target(const ConfigNode& node, Target& target, const Pipeline& pipeline) {
    if (!node.expect_map("a target.helm entry", {"file", "images", "document"})) {
      return;
    }
    HelmTarget helm;
    helm.where = node.location();
    if (auto chosen = node.get("document")) {
      helm.document = read_document(*chosen);
    }
    if (auto file = node.require("file", "a target.helm entry")) {
      helm.file_where = file->location();
      if (auto text = file->as_string("target.helm[].file")) {
        if (auto path = read_target_path(*file, *text, pipeline)) {
          helm.file = std::move(*path);
        }
      }
    }
    if (auto images = node.require("images", "a target.helm entry")) {
      read_helm_images(*images, "target.helm[].images", pipeline, helm.images, helm.path_where);
    }
    target.helm.push_back(std::move(helm));
  }

  // An Argo CD entry: a path, or {path: P, application: NAME, helm: {IMAGE: PATHS}}.
  void read_argocd_target(const ConfigNode& node, Target& target, const Pipeline& pipeline) {
    ArgoCdTarget applications;
    applications.where = node.location();
    if (!node.is_map()) {
      if (auto text = node.as_string("target.argocd")) {
        if (auto path = read_target_path(node, *text, pipeline)) {
          applications.path = std::move(*path);
          target.argocd.push_back(std::move(applications));
        }
      }
      return;
    }
    if (!node.expect_map("a target.argocd entry", {"path", "application", "helm"})) {
      return;
    }
    if (auto path_node = node.require("path", "a target.argocd entry")) {
      if (auto text = path_node->as_string("target.argocd[].path")) {
        if (auto path = read_target_path(*path_node, *text, pipeline)) {
          applications.path = std::move(*path);
        }
      }
    }
    if (auto application = node.get("application")) {
      if (auto name = application->as_string("target.argocd[].application")) {
        if (name->empty()) {
          application->error("'target.argocd[].application' must not be empty");
        }
        applications.application = *name;
      }
    }
    if (auto helm = node.get("helm")) {
      read_helm_images(*helm, "target.argocd[].helm", pipeline, applications.helm,
                       applications.path_where);
    }
    if (!applications.path.empty()) {
      target.argocd.push_back(std::move(applications));
    }
  }

  void read_target(const ConfigNode& node, Target& target, const Pipeline& pipeline) {
    target.where = node.location();
    if (!node.expect_map("target",
                         {"kustomize", "helm", "manifests", "setters", "argocd", "charts"})) {
      return;
    }
    bool any = false;
    if (auto kustomize = node.get("kustomize")) {
      target.kustomize = read_target_paths(*kustomize, "kustomize", target, pipeline);
      any = true;
    }
    if (auto helm = node.get("helm")) {
      if (helm->is_map()) {
        read_helm_target(*helm, target, pipeline);
      } else {
        const auto items = helm->items("target.helm");
        if (helm->is_sequence() && items.empty()) {
          helm->error("'target.helm' must name at least one values file");
        }
        for (const auto& item : items) {
          read_helm_target(item, target, pipeline);
        }
      }
      any = true;
    }
    if (auto manifests = node.get("manifests")) {
      target.manifests = read_target_paths(*manifests, "manifests", target, pipeline);
      any = true;
    }
    if (auto setters = node.get("setters")) {
      target.setters = read_target_paths(*setters, "setters", target, pipeline);
      any = true;
    }
    if (auto argocd = node.get("argocd")) {
      if (argocd->is_sequence()) {
        const auto items = argocd->items("target.argocd");
        if (items.empty()) {
          argocd->error("'target.argocd' must name at least one path");
        }
        for (const auto& item : items) {
          read_argocd_target(item, target, pipeline);
        }
      } else {
        read_argocd_target(*argocd, target, pipeline);
      }
      any = true;
    }
    if (auto charts = node.get("charts")) {
      if (charts->is_sequence()) {
        const auto items = charts->items("target.charts");
        if (items.empty()) {
          charts->error("'target.charts' must name at least one path");
        }
        for (const auto& item : items) {
          read_chart_target(item, target, pipeline);
        }
      } else {
        read_chart_target(*charts, target, pipeline);
      }
      if (pipeline.charts.empty()) {
        charts->error(
            "'target.charts' names where chart versions live, but the pipeline "
            "declares no charts:");
      }
      any = true;
    }
    if (!any && node.yaml().size() == 0) {
      node.error(
          "'target' must name where the stage's images live: kustomize, helm, manifests, "
          "setters or argocd");
    }
  }

  void read_pull_request(const ConfigNode& node, PullRequestSpec& spec) {
    if (!node.expect_map("pull_request", {"labels", "reviewers", "superseded"})) {
      return;
    }
    if (auto labels = node.get("labels")) {
      spec.labels = labels->as_string_list("pull_request.labels").value_or(std::vector<std::string>{});
    }
    if (auto reviewers = node.get("reviewers")) {
      spec.reviewers =
          reviewers->as_string_list("pull_request.reviewers").value_or(std::vector<std::string>{});
    }
    if (auto superseded = node.get("superseded")) {
      if (auto text = superseded->as_string("pull_request.superseded")) {
        if (*text == "close") {
          spec.close_superseded = true;
        } else if (*text == "keep") {
          spec.close_superseded = false;
        } else {
          superseded->error("'pull_request.superseded' must be 'close' or 'keep', got '" + *text +
                            "'");
        }
      }
    }
  }

  struct SourceLink {
    std::string stage;
    std::string from;
    ConfigNode node;
  };

  void check_sources(const std::vector<SourceLink>& links, const Pipeline& pipeline) {
    const auto names = pipeline.stage_names();
    for (const auto& [stage, from_name, node] : links) {
      const std::string* from = &from_name;
      if (*from == stage) {
        node.error("stage '" + stage + "' cannot come from itself");
        continue;
      }
      if (pipeline.find_stage(*from) == nullptr) {
        std::string message = "'from' names unknown stage '" + *from + "'";
        if (auto close = did_you_mean(*from, names); !close.empty()) {
          message += " (did you mean '" + close + "'?)";
        }
        node.error(message);
        continue;
      }
      // Follow the chain of sources; coming back to this stage is a cycle.
      std::vector<std::string> chain{stage};
      const Stage* current = pipeline.find_stage(*from);
      while (current != nullptr && chain.size() <= pipeline.stages.size()) {
        chain.push_back(current->name);
        if (current->name == stage) {
          std::string path;
          for (const auto& link : chain) {
            path += (path.empty() ? "" : " <- ") + link;
          }
          node.error("'from' makes a cycle: " + path);
          break;
        }
        current = current->from ? pipeline.find_stage(*current->from) : nullptr;
      }
    }
  }

  std::string m_label;
  const GateCatalog& m_gates;
  std::optional<util::Within> m_within;
  Diagnostics m_diagnostics;
};

}  // namespace

Result<Pipeline> load(const fs::path& file, const GateCatalog& gates) {
  return Loader(file, gates).load(file);
}

}  // namespace promote::pipeline
