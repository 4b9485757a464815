// Fuzzes the editor of an Argo CD Application's Helm image values (helm.parameters,
// helm.valuesObject, helm.values): with image paths and a target picked by the input's size,
// set_argocd_helm_images either fails cleanly or returns text that differs from the input only
// inside values (and added `digest:` lines), holds the same YAML apart from them, also inside
// each `values` string, reads back with the target's tag and digest, and is left as it is by
// the same edit made again.
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "engine/overlay/argocd_helm.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using promote::overlay::HelmImage;

/// The keys whose values an edit may change: the image's parts, and a parameter's value.
bool edited_key(const std::string& key) {
  static const std::set<std::string> k_keys = {"registry", "repository", "tag",
                                               "digest",   "image",      "value"};
  return k_keys.contains(key);
}

/// Every `values` string of a text, by its path in the tree.
std::map<std::string, std::string> values_strings(std::string_view text) {
  std::map<std::string, std::string> out;
  bool parsed = false;
  promote::fuzz::render_documents(
      text,
      [&](const std::string& path, const std::string& key, const YAML::Node& node) {
        if (key == "values" && node.IsScalar()) {
          out[path] = node.Scalar();
        }
        return false;
      },
      parsed);
  return out;
}

/// The runs of a line: alternately characters an image value may hold and others.
std::vector<std::string_view> runs_of(std::string_view line) {
  std::vector<std::string_view> runs;
  std::size_t begin = 0;
  for (std::size_t i = 1; i <= line.size(); ++i) {
    if (i == line.size() || promote::fuzz::is_reference_char(line[i]) !=
                                promote::fuzz::is_reference_char(line[i - 1])) {
      runs.push_back(line.substr(begin, i - begin));
      begin = i;
    }
  }
  return runs;
}

/// `fuzz::require_only_values_changed`, for texts where one line may change in several values
/// (`image: {repository: a, tag: b}`), which that check, one run per line, refuses: such a line
/// must keep every run of other characters and change only runs of value characters before any
/// comment; a line that changes otherwise is checked alone by the shared check.
void require_only_values_changed(std::string_view before, std::string_view after) {
  using promote::fuzz::require;
  const auto old_lines = promote::fuzz::lines_of(before);
  const auto new_lines = promote::fuzz::lines_of(after);
  const auto content = [](std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    return line;
  };
  const auto inserted = [](std::string_view line) {
    return line.find("digest:") != std::string_view::npos;
  };
  std::size_t j = 0;
  for (std::size_t i = 0; i < old_lines.size(); ++i, ++j) {
    if (j + 1 < new_lines.size() && new_lines[j] != old_lines[i] && inserted(new_lines[j]) &&
        content(new_lines[j + 1]) == content(old_lines[i])) {
      ++j;
    }
    require(j < new_lines.size(), "the edit removed lines");
    const std::string_view a = content(old_lines[i]);
    const std::string_view b = content(new_lines[j]);
    const bool last_without_eol = i + 1 == old_lines.size() && a.size() == old_lines[i].size();
    require(last_without_eol || old_lines[i].substr(a.size()) == new_lines[j].substr(b.size()),
            "line " + std::to_string(i + 1) + " changed its line ending");
    if (a == b) {
      continue;
    }
    const auto old_runs = runs_of(a);
    const auto new_runs = runs_of(b);
    bool same_frame = old_runs.size() == new_runs.size();
    for (std::size_t k = 0; same_frame && k < old_runs.size(); ++k) {
      same_frame =
          promote::fuzz::is_reference_char(old_runs[k].front()) || old_runs[k] == new_runs[k];
    }
    if (!same_frame) {
      promote::fuzz::require_only_values_changed(a, b, inserted);
      continue;
    }
    // Where a comment starts: a '#' after a blank, outside quotes.
    std::size_t comment = a.size();
    for (std::size_t k = 0; k < a.size() && comment == a.size(); ++k) {
      if (a[k] == '#' && (k == 0 || a[k - 1] == ' ' || a[k - 1] == '\t') &&
          !promote::fuzz::inside_quotes(a, k)) {
        comment = k;
      }
    }
    for (std::size_t k = 0, at = 0; k < old_runs.size(); at += old_runs[k].size(), ++k) {
      require(old_runs[k] == new_runs[k] || at < comment,
              "line " + std::to_string(i + 1) + " changed inside a comment: '" + std::string(a) +
                  "' -> '" + std::string(b) + "'");
    }
  }
  while (j < new_lines.size()) {
    require(inserted(new_lines[j]), "the edit appended lines");
    ++j;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  const std::string_view text = fuzz::as_text(data, size);
  static const HelmImage k_shapes[] = {
      {"", "", "image.repository", "image.tag", "image.digest"},
      {"", "image.registry", "image.repository", "image.tag", "image.digest"},
      {"", "", "image.repository", "image.tag", ""},
      {"", "", "", "image.tag", ""},
      {"image", "", "", "", ""},
      {"", "", "images[0].repository", "images[name=api].tag", "images[name=api].digest"},
  };
  const HelmImage& where = k_shapes[size % std::size(k_shapes)];
  const image::Reference target = fuzz::pick_target(size / std::size(k_shapes));
  const std::string application = size % 5 == 0 ? "shop-prod" : "";

  const auto read = overlay::get_argocd_helm_images(text, "app.yaml", where, application);
  require(read.has_value() || !read.error().message.empty(), "an error without a message");
  const auto edited = overlay::set_argocd_helm_images(text, "app.yaml", where, target, application);
  if (!edited) {
    require(!edited.error().message.empty(), "an error without a message");
    return 0;
  }
  require(read.has_value(), "a file that cannot be read was edited");
  const auto& [after, count] = *edited;
  require((count == 0) == (after == text), "the count does not say whether the text changed");
  require_only_values_changed(text, after);
  const auto mask = [](const std::string&, const std::string& key, const YAML::Node& node) {
    return (edited_key(key) || key == "values") && (node.IsScalar() || node.IsNull());
  };
  fuzz::require_same_tree(text, after, mask);
  // Inside each values string, the same YAML too, apart from the image's values.
  const auto before_values = values_strings(text);
  const auto after_values = values_strings(after);
  require(before_values.size() == after_values.size(), "values strings appeared or went");
  for (const auto& [path, before] : before_values) {
    const auto it = after_values.find(path);
    require(it != after_values.end(), "the values string at " + path + " went");
    bool parsed = false;
    fuzz::load_documents(before, &parsed);
    if (!parsed) {
      require(it->second == before, "a values string that is not YAML changed");
      continue;
    }
    fuzz::require_same_tree(before, it->second,
                            [](const std::string&, const std::string& key, const YAML::Node& node) {
                              return edited_key(key) && (node.IsScalar() || node.IsNull());
                            });
  }
  // What Helm gets now is the target, as far as the Application says it.
  const auto read_back = overlay::get_argocd_helm_images(after, "app.yaml", where, application);
  require(read_back.has_value(), "the edited text cannot be read back");
  for (const auto& reference : *read_back) {
    const std::string what =
        "'" + reference.to_string() + "' read back for '" + target.to_string() + "'";
    require(reference.tag.empty() || reference.tag == target.tag, what);
    require(reference.digest.empty() || reference.digest == target.digest, what);
    require(reference.path.empty() || !where.registry.empty() || reference.same_repository(target),
            what);
  }
  const auto again = overlay::set_argocd_helm_images(after, "app.yaml", where, target, application);
  require(again.has_value() && again->second == 0 && again->first == after,
          "the same edit made again changed the text");
  return 0;
}
