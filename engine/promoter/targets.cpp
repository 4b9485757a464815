#include "engine/promoter/targets.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <system_error>

#include "engine/overlay/argocd.hpp"
#include "engine/overlay/argocd_helm.hpp"
#include "engine/overlay/charts.hpp"
#include "engine/overlay/helm.hpp"
#include "engine/overlay/kustomize.hpp"
#include "engine/overlay/kustomize_graph.hpp"
#include "engine/overlay/manifests.hpp"
#include "engine/overlay/setters.hpp"
#include "engine/promoter/target_places.hpp"
#include "engine/promoter/target_texts.hpp"

namespace promote::promoter {

namespace fs = std::filesystem;

using detail::Held;
using detail::Kind;
using detail::Place;

namespace {

using detail::chart_ref;
using detail::check_shared_places;
using detail::holds;
using detail::is_image;
using detail::manifest_names;
using detail::pins_charts;
using detail::places_of;
using detail::read_places;

/// `old` (an image as a file spells it) made to say `target`: when both name one repository,
/// the file's spelling of it is kept and only the tag and digest change.
std::string respelled(const std::string& old, const image::Reference& target) {
  auto written = image::parse(old);
  return written ? target.spelled_as(*written).to_string() : target.to_string();
}

/// Sets the images in an overlay where each is rendered from: an images: entry of the overlay
/// (or of a file below it) is edited; a value set by a patch or a resource below the overlay is
/// changed there; a value that comes from outside the overlay (a shared base or Component) gets
/// an images: entry in the overlay's kustomization, which is never shared. An image the overlay
/// does not render is given an entry there.
Result<void> edit_kustomize(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                            const Place& place, Texts& texts, Held& held,
                            const std::map<std::string, image::Reference>& images,
                            std::set<std::string>& placed) {
  auto cached = held.renderings.find(place.file);
  if (cached == held.renderings.end() || !texts.unchanged(cached->second.files)) {
    auto rendering = overlay::render_images(place.dir, texts.view());
    if (!rendering) {
      return rendering.error();
    }
    cached = held.renderings.insert_or_assign(place.file, std::move(*rendering)).first;
  }
  const overlay::Rendering& rendering = cached->second;
  // The files other stages' overlays read are never edited: they are shared bases.
  std::optional<std::map<std::string, std::string>> shared;  // file -> a stage that reads it
  const auto shared_with = [&](const std::string& file) -> Result<std::string> {
    if (!shared) {
      shared.emplace();
      for (const auto& other : pipeline.stages) {
        if (other.name == stage.name) {
          continue;
        }
        auto places = places_of(pipeline, other, texts.root());
        if (!places) {
          return places.error();
        }
        for (const auto& other_place : *places) {
          if (other_place.kind != Kind::kustomize) {
            continue;
          }
          // Only which files it reads counts here, which no edit of a value changes.
          auto read = overlay::render_images(other_place.dir, texts.view(), &held.cache);
          if (!read) {
            continue;  // that stage's own problem, reported when it is read
          }
          for (const auto& file : read->files) {
            shared->emplace(file, other.name);
          }
        }
      }
    }
    const auto found = shared->find(file);
    return found == shared->end() ? std::string() : found->second;
  };
  if (auto other = shared_with(place.file); !other) {
    return other.error();
  } else if (!other->empty()) {
    return make_error(ErrorKind::config,
                      stage.target.where.to_string() + ": the overlay of stage '" + stage.name +
                          "' (" + place.dir + ") is also read by stage '" + *other +
                          "': promote does not edit a base that stages share; give '" + stage.name +
                          "' an overlay of its own over it");
  }
  const auto own = [&](const std::string& file) -> Result<bool> {
    if (!place.dir.empty() && !file.starts_with(place.dir + "/")) {
      return false;
    }
    auto other = shared_with(file);
    if (!other) {
      return other.error();
    }
    return other->empty();
  };
  std::map<std::string, std::vector<std::pair<overlay::ImageOrigin, std::string>>> values;
  // (file, entry name) -> the image name and reference its entry is set to
  std::map<std::pair<std::string, std::string>, std::pair<std::string, image::Reference>> entries;
  const auto set_entry = [&](const std::string& file, const std::string& entry,
                             const std::string& name,
                             const image::Reference& reference) -> Result<void> {
    const auto [found, added] = entries.try_emplace({file, entry}, name, reference);
    if (!added && found->second.second != reference) {
      return make_error(ErrorKind::usage,
                        "stage '" + stage.name + "': images '" + found->second.first + "' and '" +
                            name + "' are both set by the images: entry '" + entry + "' of " +
                            file + ", to " + found->second.second.to_string() + " and " +
                            reference.to_string() + "; one place cannot hold both");
    }
    return {};
  };
  for (const auto& [name, reference] : images) {
    const pipeline::ImageSpec& image = *pipeline.find_image(name);
    if (held.images.contains(name) && !held.places[place.file].contains(name)) {
      continue;  // the image lives elsewhere in the target
    }
    placed.insert(name);
    bool rendered = false;
    for (const auto& found : rendering.images) {
      if (!is_image(image, found.value)) {
        continue;
      }
      rendered = true;
      if (auto now = image::parse(found.value); now && holds(*now, reference)) {
        continue;  // already so
      }
      std::vector<const overlay::ImageOrigin*> patches;
      for (const auto& patch : found.patched_by) {
        auto mine = own(patch.file);
        if (!mine) {
          return mine.error();
        }
        if (*mine &&
            std::none_of(patches.begin(), patches.end(), [&](const overlay::ImageOrigin* seen) {
              return seen->where() == patch.where();
            })) {
          patches.push_back(&patch);
        }
      }
      if (patches.size() > 1) {
        return make_error(ErrorKind::input,
                          "stage '" + stage.name + "': the image of " + found.resource + " " +
                              found.container + " is set by " + patches[0]->describe() +
                              " and by " + patches[1]->describe() +
                              "; promote cannot tell which one to change: keep one");
      }
      const overlay::ImageOrigin& origin = found.origin;
      auto mine = own(origin.file);
      if (!mine) {
        return mine.error();
      }
      Result<void> done;
      if (!*mine) {
        done = set_entry(place.file, overlay::split_image(found.value).name, name, reference);
      } else if (origin.kind == overlay::ImageOrigin::Kind::images_entry) {
        done = set_entry(origin.file, origin.entry, name, reference);
      } else if (!origin.editable) {
        return make_error(ErrorKind::input,
                          origin.where() + ": the image of " + found.resource + " " +
                              found.container +
                              " is set here, in a value promote cannot change in place (an "
                              "alias, an anchor, a tag, a block or several lines)");
      } else {
        values[origin.file].emplace_back(origin, respelled(found.value, reference));
      }
      if (!done) {
        return done.error();
      }
    }
    if (!rendered) {
      if (auto done = set_entry(place.file, image.match, name, reference); !done) {
        return done.error();
      }
    }
  }
  for (const auto& [file, edits] : values) {
    auto text = texts.get(file);
    if (!text) {
      return text.error();
    }
    auto edited = overlay::set_values(**text, file, edits);
    if (!edited) {
      return edited.error();
    }
    **text = std::move(*edited);
  }
  for (const auto& [where, wanted] : entries) {
    auto text = texts.get(where.first);
    if (!text) {
      return text.error();
    }
    auto edited = overlay::set_image(**text, where.first, where.second, wanted.second, &held.cache);
    if (!edited) {
      return edited.error();
    }
    **text = std::move(*edited);
  }
  return {};
}

}  // namespace

struct TargetReading::State {
  const pipeline::Stage* stage;
  fs::path root;
  std::vector<Place> places;
  Texts texts;
  Held held;
};

TargetReading::TargetReading() = default;
TargetReading::~TargetReading() = default;
TargetReading::TargetReading(TargetReading&&) noexcept = default;
TargetReading& TargetReading::operator=(TargetReading&&) noexcept = default;

namespace {

Result<std::unique_ptr<TargetReading::State>> read_state(const pipeline::Pipeline& pipeline,
                                                         const pipeline::Stage& stage,
                                                         const fs::path& root) {
  auto places = places_of(pipeline, stage, root);
  if (!places) {
    return places.error();
  }
  Texts texts(root);
  auto held = read_places(pipeline, *places, texts);
  if (!held) {
    return held.error();
  }
  return std::make_unique<TargetReading::State>(
      TargetReading::State{&stage, root, std::move(*places), std::move(texts), std::move(*held)});
}

}  // namespace

Result<TargetImages> read_target(const pipeline::Pipeline& pipeline, const pipeline::Stage& stage,
                                 const fs::path& root, TargetReading* keep, EmptyValues* empty) {
  auto state = read_state(pipeline, stage, root);
  if (!state) {
    return state.error();
  }
  TargetImages images = (*state)->held.images;
  if (empty != nullptr) {
    *empty = (*state)->held.empty;
  }
  if (keep != nullptr) {
    keep->state = std::move(*state);
  }
  return images;
}

Result<std::vector<FileChange>> edit_target(const pipeline::Pipeline& pipeline,
                                            const pipeline::Stage& stage, const fs::path& root,
                                            const std::map<std::string, image::Reference>& images,
                                            TargetReading* reading, const PlaceEdits* places,
                                            const std::map<std::string, std::string>* charts) {
  std::unique_ptr<TargetReading::State> state;
  if (reading != nullptr && reading->state && reading->state->stage == &stage &&
      reading->state->root == root) {
    state = std::move(reading->state);
  } else {
    auto read = read_state(pipeline, stage, root);
    if (!read) {
      return read.error();
    }
    state = std::move(*read);
  }
  if (reading != nullptr) {
    reading->state.reset();
  }
  Texts& texts = state->texts;
  Held& held = state->held;
  const PlaceEdits no_place_edits;
  const PlaceEdits& own = places != nullptr ? *places : no_place_edits;
  // Files put back whole come first; each must still hold what the promotion being undone wrote.
  for (const auto& [file, restore] : own.files) {
    auto text = texts.get(file);
    if (!text) {
      return text.error();
    }
    if (**text != restore.expected) {
      return make_error(ErrorKind::conflict,
                        file + ": changed since the promotion that is rolled back, and before it " +
                            "held several values of one image, which promote can put back only " +
                            "by putting the file back whole; nothing was written: roll back with " +
                            "--to ID, or edit it by hand");
    }
    **text = restore.text;
  }
  for (const auto& [file, carried] : own.carried) {
    auto text = texts.get(file);
    if (!text) {
      return text.error();
    }
    **text = carried;
  }
  std::set<std::string> placed;
  for (const auto& [name, references] : held.images) {
    placed.insert(name);
  }
  // What each place is given: the edits, with the place's own values over them.
  const auto images_of = [&](const Place& place) {
    std::map<std::string, image::Reference> out = images;
    if (const auto values = own.values.find(place.file); values != own.values.end()) {
      for (const auto& [name, reference] : values->second) {
        out.insert_or_assign(name, reference);
      }
    }
    return out;
  };
  for (const auto& place : state->places) {
    if (own.kept.contains(place.file)) {
      continue;
    }
    auto found = texts.get(place.file);
    if (!found) {
      return found.error();
    }
    // What the candidate gives each image: the edits, and for the others what the target holds.
    const auto edits = images_of(place);
    std::map<std::string, image::Reference> given = edits;
    for (const auto& [name, references] : held.images) {
      given.emplace(name, references.front());
    }
    if (auto shared = check_shared_places(pipeline, place, **found, given, edits); !shared) {
      return shared.error();
    }
  }
  for (const auto& place : state->places) {
    if (own.kept.contains(place.file)) {
      continue;
    }
    auto found = texts.get(place.file);
    if (!found) {
      return found.error();
    }
    std::string& text = **found;
    const auto edits = images_of(place);
    switch (place.kind) {
      case Kind::kustomize:
        if (auto edited = edit_kustomize(pipeline, stage, place, texts, held, edits, placed);
            !edited) {
          return edited.error();
        }
        break;
      case Kind::helm:
        for (const auto& [name, paths] : place.helm->images) {
          const auto wanted = edits.find(name);
          if (wanted == edits.end()) {
            continue;
          }
          auto edited = overlay::set_helm_image(text, place.file, paths, wanted->second,
                                                place.helm->document);
          if (!edited) {
            return edited.error();
          }
          text = std::move(*edited);
          placed.insert(name);  // an empty value (a chart's `tag: ""`) is a place, too
        }
        break;
      case Kind::manifests:
        for (const auto& [name, reference] : edits) {
          for (const auto& match : manifest_names(*pipeline.find_image(name))) {
            auto edited = overlay::set_manifest_images(text, place.file, match, reference);
            if (!edited) {
              return edited.error();
            }
            text = std::move(edited->first);
          }
        }
        break;
      case Kind::setters: {
        auto edited = overlay::set_marked_images(text, place.file, edits);
        if (!edited) {
          return edited.error();
        }
        text = std::move(edited->first);
        break;
      }
      case Kind::argocd:
        for (const auto& [name, reference] : edits) {
          if (const auto helm = place.argocd->helm.find(name); helm != place.argocd->helm.end()) {
            auto edited = overlay::set_argocd_helm_images(text, place.file, helm->second, reference,
                                                          place.argocd->application);
            if (!edited) {
              return edited.error();
            }
            text = std::move(edited->first);
            placed.insert(name);  // an empty value is a place, too
            continue;
          }
          auto edited =
              overlay::set_argocd_images(text, place.file, pipeline.find_image(name)->match,
                                         reference, place.argocd->application);
          if (!edited) {
            return edited.error();
          }
          text = std::move(edited->first);
        }
        break;
      case Kind::charts:
        break;
    }
    if (pins_charts(place) && charts != nullptr) {
      for (const auto& [name, version] : *charts) {
        auto edited = overlay::set_chart_versions(
            text, place.file, chart_ref(*pipeline.find_chart(name), place), version);
        if (!edited) {
          return edited.error();
        }
        text = std::move(edited->first);
      }
    }
  }
  if (charts != nullptr) {
    for (const auto& [name, version] : *charts) {
      if (const auto found = held.charts.find(name);
          found == held.charts.end() || found->second.empty()) {
        return make_error(ErrorKind::config,
                          stage.target.where.to_string() + ": stage '" + stage.name +
                              "' pins no version of chart '" + name +
                              "' in its target: name the files that do in target.charts (a "
                              "HelmRelease, OCIRepository, Application, ApplicationSet, "
                              "Chart.yaml or kustomization with helmCharts)");
      }
    }
  }
  for (const auto& [name, reference] : images) {
    if (!placed.contains(name)) {
      std::string paths;
      for (const auto& path : stage.target.paths()) {
        paths += (paths.empty() ? "" : ", ") + path;
      }
      return make_error(ErrorKind::config,
                        stage.target.where.to_string() + ": stage '" + stage.name +
                            "' has no place for image '" + name + "' in its target (" + paths +
                            "): add it to a kustomization's images:, a helm images: entry, a "
                            "manifest, a $imagepolicy marker or an Argo CD Application's "
                            "kustomize.images");
    }
  }
  // What is recorded is what the files hold: the edited target, read back as read_target
  // reads it, must render every image as asked, at every place. (The cache holds parses and
  // renderings by the text of the files they read: only what the edits changed is parsed and
  // rendered again.)
  auto after = read_places(pipeline, state->places, texts, std::move(held.cache));
  if (!after) {
    return after.error();
  }
  if (charts != nullptr) {
    for (const auto& [name, version] : *charts) {
      for (const auto& place : after->charts[name]) {
        if (place.version != version) {
          return make_error(ErrorKind::input,
                            "stage '" + stage.name + "': after its edits " + place.where + " (" +
                                place.what + ") would pin chart " + name + " at '" + place.version +
                                "', not " + version + "; nothing was written");
        }
      }
    }
  }
  for (const auto& [name, target] : images) {
    const auto now = after->images.find(name);
    bool right = now != after->images.end();
    std::string wrong_place;  // a place given its own value that does not hold it
    for (const auto& [file, held_there] : after->places) {
      const auto there = held_there.find(name);
      if (!right || there == held_there.end()) {
        continue;
      }
      std::vector<image::Reference> wanted{target};
      if (const auto kept = own.kept.find(file); kept != own.kept.end()) {
        const auto values = kept->second.find(name);
        wanted = values == kept->second.end() ? std::vector<image::Reference>() : values->second;
      } else if (const auto values = own.values.find(file); values != own.values.end()) {
        if (const auto value = values->second.find(name); value != values->second.end()) {
          wanted = {value->second};
        }
      }
      const auto in = [](const std::vector<image::Reference>& list, const image::Reference& one) {
        return std::any_of(list.begin(), list.end(),
                           [&](const image::Reference& other) { return holds(one, other); });
      };
      const bool same =
          std::all_of(there->second.begin(), there->second.end(),
                      [&](const image::Reference& held_now) { return in(wanted, held_now); }) &&
          std::all_of(wanted.begin(), wanted.end(),
                      [&](const image::Reference& value) { return in(there->second, value); });
      if (!same) {
        right = false;
        if (wanted.size() != 1 || !holds(wanted.front(), target)) {
          std::string values;
          for (const auto& value : wanted) {
            values += (values.empty() ? "" : " and ") + value.to_string();
          }
          wrong_place = file + " (it should hold " + (values.empty() ? "none" : values) + ")";
        }
      }
    }
    if (!right) {
      std::string holds;
      if (now != after->images.end()) {
        for (const auto& reference : now->second) {
          holds += (holds.empty() ? "" : " and ") + reference.to_string();
        }
      }
      const pipeline::ImageSpec& image = *pipeline.find_image(name);
      return make_error(
          ErrorKind::input,
          "stage '" + stage.name + "': after its edits the target would hold " + name + " as " +
              (holds.empty() ? "nothing (no container it renders has the image " + image.match +
                                   "; where a base names it otherwise, give the image that name "
                                   "as match:)"
                             : holds) +
              (wrong_place.empty() ? ", not " + target.to_string() : " at " + wrong_place) +
              "; nothing was written");
    }
  }
  return texts.changes();
}

TargetCharts target_charts(const TargetReading& reading) {
  return reading.state ? reading.state->held.charts : TargetCharts();
}

PlaceImages target_places(const TargetReading& reading) {
  return reading.state ? reading.state->held.places : PlaceImages();
}

std::vector<std::string> place_files(const TargetReading& reading, const std::string& place) {
  if (!reading.state) {
    return {};
  }
  const auto& places = reading.state->places;
  const auto found = std::find_if(places.begin(), places.end(),
                                  [&](const Place& one) { return one.file == place; });
  if (found == places.end()) {
    return {};
  }
  const auto rendering = reading.state->held.renderings.find(place);
  if (found->kind != Kind::kustomize || rendering == reading.state->held.renderings.end()) {
    return {place};
  }
  std::vector<std::string> out;
  for (const auto& file : rendering->second.files) {
    if ((found->dir.empty() || file.starts_with(found->dir + "/")) &&
        std::find(out.begin(), out.end(), file) == out.end()) {
      out.push_back(file);
    }
  }
  return out;
}

/// Warnings of reading a target (remote resources skipped), deduplicated, in order.
std::vector<std::string> target_warnings(const TargetReading& reading) {
  return reading.state ? reading.state->held.warnings : std::vector<std::string>();
}

}  // namespace promote::promoter
