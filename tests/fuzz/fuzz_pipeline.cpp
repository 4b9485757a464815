// Fuzzes the pipeline loader with the real gate catalog: the input is written to promote.yaml in
// a scratch directory of this process and loaded; it either loads or fails as a configuration
// error whose message names the file.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/pipeline/pipeline.hpp"
#include "gates/registry.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  using namespace promote;
  static const fs::path dir = [] {
    fs::path made = fs::temp_directory_path() / ("promote-fuzz-pipeline-" + std::to_string(getpid()));
    fs::create_directories(made);
    return made;
  }();
  const fs::path file = dir / "promote.yaml";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const auto loaded = pipeline::load(file, gates::Catalog::for_pipeline(file));
  if (!loaded) {
    fuzz::require(loaded.error().kind == ErrorKind::config,
                  "a load error that is not a configuration error: " + loaded.error().message);
    fuzz::require(loaded.error().message.rfind(file.string(), 0) == 0,
                  "a load error that does not name the file: " + loaded.error().message);
  }
  return 0;
}
