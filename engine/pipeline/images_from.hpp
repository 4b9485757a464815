#pragma once
// `--images-from FILE`: the images a build wrote, for a first stage. Three forms, told apart by
// the first character that is not white space:
//   a JSON object       {"api": "ghcr.io/acme/api:1.4.3", "web": "ghcr.io/acme/web:1.4.3"}
//   NAME=REF lines      api=ghcr.io/acme/api:1.4.3
//   a dotenv file       export API_IMAGE="ghcr.io/acme/api:1.4.3"   # comments, quotes, export
// A key names a pipeline image as it is (`api`) or as an environment variable spells it (upper
// case, '_' for '-', with an optional _IMAGE, _REF or _REFERENCE suffix). A key that names no
// image is matched by its value's repository, when exactly one pipeline image has it; else the
// line is passed over (a dotenv file holds other variables too) and named in `skipped`.

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/pipeline/pipeline.hpp"

namespace promote::pipeline {

/// One image of the file: the pipeline image it is for, its value, and where it is written.
struct ImageEntry {
  std::string name;   ///< a pipeline image name
  std::string value;  ///< the reference as written
  std::string where;  ///< FILE:LINE (FILE:LINE:COL for JSON)
};

/// What a file gave: its images in file order, and the keys that named none.
struct ImagesFrom {
  std::vector<ImageEntry> images;
  std::vector<std::string> skipped;  ///< "FILE:LINE: KEY"
};

/// Reads the images of `text` (`file` labels messages). Fails (usage, FILE:LINE[:COL]) on a
/// line that is not KEY=VALUE, an unterminated quote, JSON that is not an object of strings,
/// and an image given twice.
Result<ImagesFrom> parse_images_from(std::string_view text, const std::string& file,
                                     const Pipeline& pipeline);

/// parse_images_from of a file read from disk (at most 1 MiB); fails (usage) when it cannot be
/// read.
Result<ImagesFrom> read_images_from(const std::filesystem::path& file, const Pipeline& pipeline);

}  // namespace promote::pipeline
