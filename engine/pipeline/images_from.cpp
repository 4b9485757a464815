#include "engine/pipeline/images_from.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/image/reference.hpp"
#include "engine/util/files.hpp"
#include "engine/util/text.hpp"

namespace promote::pipeline {

namespace {

Error bad(const std::string& where, const std::string& what) {
  return make_error(ErrorKind::usage, where + ": " + what);
}

/// The pipeline image a key names: as it is, or spelled as an environment variable.
const ImageSpec* image_named(const Pipeline& pipeline, const std::string& key) {
  if (const ImageSpec* exact = pipeline.find_image(key)) {
    return exact;
  }
  std::string name;
  for (const char c : key) {
    name += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (const std::string suffix : {"", "-image", "-ref", "-reference"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      if (const ImageSpec* found =
              pipeline.find_image(name.substr(0, name.size() - suffix.size()))) {
        return found;
      }
    }
  }
  return nullptr;
}

/// The one pipeline image whose repository the value has, or null.
const ImageSpec* image_of_value(const Pipeline& pipeline, const std::string& value) {
  auto reference = image::parse(value);
  if (!reference) {
    return nullptr;
  }
  const ImageSpec* found = nullptr;
  for (const auto& image : pipeline.images) {
    if (image::same_repository(reference->repository(), image.repository)) {
      if (found != nullptr) {
        return nullptr;
      }
      found = &image;
    }
  }
  return found;
}

class Collector {
 public:
  explicit Collector(const Pipeline& pipeline) : m_pipeline(pipeline) {}

  Result<void> add(const std::string& key, const std::string& value, const std::string& where) {
    const ImageSpec* image = image_named(m_pipeline, key);
    if (image == nullptr) {
      image = image_of_value(m_pipeline, value);
    }
    if (image == nullptr) {
      m_out.skipped.push_back(where + ": " + util::one_line(key));
      return {};
    }
    if (const auto [first, fresh] = m_seen.emplace(image->name, where); !fresh) {
      return bad(where,
                 "image '" + image->name + "' is given twice (first at " + first->second + ")");
    }
    m_out.images.push_back(ImageEntry{image->name, value, where});
    return {};
  }

  ImagesFrom take() { return std::move(m_out); }

 private:
  const Pipeline& m_pipeline;
  ImagesFrom m_out;
  std::map<std::string, std::string> m_seen;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

/// The value of a line after its '=': unquoted up to a ` #` comment, or in single or double
/// quotes (a double-quoted one with \" and \\ escapes).
Result<std::string> line_value(std::string_view text, const std::string& where) {
  text = trim(text);
  if (text.empty() || (text.front() != '"' && text.front() != '\'')) {
    if (const std::size_t comment = text.find(" #"); comment != std::string_view::npos) {
      text = trim(text.substr(0, comment));
    }
    return std::string(text);
  }
  const char quote = text.front();
  std::string out;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == quote) {
      const std::string_view rest = trim(text.substr(i + 1));
      if (!rest.empty() && rest.front() != '#') {
        return bad(where, "text after the closing quote");
      }
      return out;
    }
    if (quote == '"' && c == '\\' && i + 1 < text.size()) {
      out += text[++i];
      continue;
    }
    out += c;
  }
  return bad(where, "the quote is not closed");
}

Result<ImagesFrom> parse_lines(std::string_view text, const std::string& file,
                               const Pipeline& pipeline) {
  Collector collector(pipeline);
  int number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    const std::string where = file + ":" + std::to_string(++number);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (line.starts_with("export ")) {
      line = trim(line.substr(7));
    }
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return bad(where, "expected NAME=REFERENCE, got '" + util::one_line(line) + "'");
    }
    const std::string key(trim(line.substr(0, equals)));
    auto value = line_value(line.substr(equals + 1), where);
    if (!value) {
      return value.error();
    }
    if (auto added = collector.add(key, *value, where); !added) {
      return added.error();
    }
  }
  return collector.take();
}

Result<ImagesFrom> parse_json(std::string_view text, const std::string& file,
                              const Pipeline& pipeline) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    // The byte offset as a line and column.
    const std::size_t at = std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(
                                     text.begin(), text.begin() + static_cast<long>(at), '\n'));
    const std::size_t start = text.rfind('\n', at == 0 ? 0 : at - 1);
    const std::size_t column = start == std::string_view::npos ? at + 1 : at - start;
    return bad(file + ":" + std::to_string(line) + ":" + std::to_string(column), "not valid JSON");
  }
  if (!document.is_object()) {
    return bad(file, "a JSON file of images must be an object of NAME: REFERENCE");
  }
  Collector collector(pipeline);
  for (const auto& [key, value] : document.items()) {
    const std::string where = file + ": \"" + util::one_line(key) + "\"";
    if (!value.is_string()) {
      return bad(where, "the reference must be a string");
    }
    if (auto added = collector.add(key, value.get<std::string>(), where); !added) {
      return added.error();
    }
  }
  return collector.take();
}

}  // namespace

Result<ImagesFrom> parse_images_from(std::string_view text, const std::string& file,
                                     const Pipeline& pipeline) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    return parse_json(text, file, pipeline);
  }
  return parse_lines(text, file, pipeline);
}

Result<ImagesFrom> read_images_from(const std::filesystem::path& file, const Pipeline& pipeline) {
  auto text = util::read_file(file, 1u << 20);
  if (!text) {
    return make_error(ErrorKind::usage, "--images-from: " + text.error().message);
  }
  return parse_images_from(*text, util::one_line(file.string()), pipeline);
}

}  // namespace promote::pipeline
