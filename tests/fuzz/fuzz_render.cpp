// Fuzzes the kustomization graph renderer over a small repository held in the input: the text
// up to the first line "#@ PATH" is overlay/kustomization.yaml, and each such line starts the
// file PATH (relative to the root, e.g. `base/kustomization.yaml`, `overlay/patch.yaml`).
// render_images either fails cleanly or renders; rendered twice (with and without a cache of
// bases) it renders the same; and each image set in place (a resource, a strategic-merge patch,
// a JSON6902 value) is edited there by set_values, after which the overlay renders that
// container with the new image.
#include <map>
#include <string>

#include "engine/overlay/kustomize_graph.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using promote::overlay::RenderedImage;
using promote::overlay::RepositoryFiles;

/// The files of the input, by path, and the directories that hold them.
struct Repository {
  std::map<std::string, std::string> files;

  explicit Repository(std::string_view text) {
    std::string* file = &files["overlay/kustomization.yaml"];
    for (const std::string_view line : promote::fuzz::lines_of(text)) {
      if (line.starts_with("#@ ")) {
        std::string_view path = line.substr(3);
        while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
          path.remove_suffix(1);
        }
        file = &files[std::string(path)];
      } else {
        *file += line;
      }
    }
  }

  RepositoryFiles view() const {
    RepositoryFiles out;
    out.read = [this](const std::string& file) -> promote::Result<const std::string*> {
      const auto found = files.find(file);
      if (found == files.end()) {
        return promote::make_error(promote::ErrorKind::input, file + ": no such file");
      }
      return &found->second;
    };
    out.type = [this](const std::string& path) -> promote::Result<RepositoryFiles::Type> {
      if (files.contains(path)) {
        return RepositoryFiles::Type::file;
      }
      const std::string prefix = path.empty() ? "" : path + "/";
      for (const auto& [file, text] : files) {
        if (file.starts_with(prefix)) {
          return RepositoryFiles::Type::directory;
        }
      }
      return RepositoryFiles::Type::missing;
    };
    return out;
  }
};

/// What a rendering says, as text, to compare two renderings.
std::string describe(const promote::overlay::Rendering& rendering) {
  std::string out;
  for (const RenderedImage& image : rendering.images) {
    out += image.resource + " " + image.container + " " + image.value + " @" +
           image.origin.where() + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  using fuzz::require;
  Repository repository(fuzz::as_text(data, size));
  const auto rendering = overlay::render_images("overlay", repository.view());
  if (!rendering) {
    require(!rendering.error().message.empty(), "an error without a message");
    return 0;
  }
  overlay::RenderCache cache;
  const auto cached = overlay::render_images("overlay", repository.view(), &cache);
  require(cached.has_value() && describe(*cached) == describe(*rendering),
          "a rendering with a cache differs from one without");
  const auto again = overlay::render_images("overlay", repository.view(), &cache);
  require(again.has_value() && describe(*again) == describe(*rendering),
          "a rendering from the cache differs from the first");

  // Edit the first image that is set in place, and render again (unless an images: entry may
  // name the new image, which would then change it again).
  const std::string target = "ghcr.io/fuzz/app:9.9.9";
  for (const auto& [path, text] : repository.files) {
    if (text.find("ghcr.io/fuzz") != std::string::npos) {
      return 0;
    }
  }
  for (const RenderedImage& image : rendering->images) {
    const overlay::ImageOrigin& origin = image.origin;
    if (!origin.editable || origin.kind == overlay::ImageOrigin::Kind::images_entry) {
      continue;
    }
    const auto file = repository.files.find(origin.file);
    require(file != repository.files.end(), origin.where() + ": an origin in no file");
    require(origin.begin <= origin.end && origin.end <= file->second.size(),
            origin.where() + ": an origin outside its file");
    auto edited = overlay::set_values(file->second, origin.file, {{origin, target}});
    if (!edited) {
      require(!edited.error().message.empty(), "an error without a message");
      return 0;
    }
    file->second = std::move(*edited);
    const auto after = overlay::render_images("overlay", repository.view());
    require(after.has_value(), "the edited repository does not render: " +
                                   (after ? std::string() : after.error().message));
    bool found = false;
    for (const RenderedImage& now : after->images) {
      if (now.resource == image.resource && now.container == image.container) {
        found = true;
        require(now.value == target, image.resource + " " + image.container +
                                         " renders as " + now.value + " after its edit at " +
                                         origin.where() + ", not " + target);
      }
    }
    require(found, image.resource + " " + image.container + " is gone after its edit");
    break;
  }
  return 0;
}
