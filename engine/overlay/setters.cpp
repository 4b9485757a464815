#include "engine/overlay/setters.hpp"

#include <algorithm>
#include <optional>
#include <regex>
#include <vector>

#include "engine/overlay/splice.hpp"

namespace promote::overlay {

namespace {

using splice::Shape;
using splice::Source;
using splice::Span;

enum class Field { whole, name, tag, digest };

/// A value a marker may follow: its span and what it holds now.
struct Candidate {
  Span span;
  std::string value;  ///< "" for null
};

/// What the walk of the documents found, by position.
struct Values {
  std::map<std::size_t, Candidate> by_end;  ///< editable and null values by their end offset
  std::map<int, Shape> problems;            ///< values that cannot be edited, by line
  std::vector<std::pair<std::size_t, std::size_t>> scalars;  ///< [begin, end) of every scalar
  std::vector<std::pair<std::size_t, std::size_t>> blocks;   ///< [begin, end] of block texts
};

/// Records the lines of a block scalar's text: after its indicator line, every line indented
/// deeper than `base` (the column of its key or of its '-'), and the blank lines among them.
void add_block(const Source& source, std::size_t indicator, std::size_t base, Values& out) {
  const int first = source.line_of(indicator) + 1;
  int last = first - 1;
  for (int line = first; line < source.line_count(); ++line) {
    const std::string_view text = source.line_text(line);
    const std::size_t indent = text.find_first_not_of(' ');
    if (indent == std::string_view::npos || text[indent] == '\r') {
      continue;
    }
    if (indent <= base) {
      break;
    }
    last = line;
  }
  if (last >= first) {
    out.blocks.emplace_back(source.line_begin(first), source.line_end(last));
  }
}

void add(const Span& span, const YAML::Node& value, int line, Values& out) {
  if (span.shape == Shape::editable || span.shape == Shape::null) {
    out.by_end[span.end] = {span, value.IsScalar() ? value.Scalar() : std::string()};
    if (span.shape == Shape::editable) {
      out.scalars.emplace_back(span.begin, span.end);
    }
  } else {
    out.problems.emplace(line, span.shape);
  }
}

void walk(const Source& source, const YAML::Node& node, Values& out) {
  if (node.IsMap()) {
    for (const auto& pair : node) {
      const YAML::Node& key = pair.first;
      const YAML::Node& value = pair.second;
      const int line = source.line_of(source.offset(key.Mark()));
      if (key.IsScalar()) {
        const Span key_span = splice::locate_scalar(source, key);
        if (key_span.shape == Shape::editable) {
          out.scalars.emplace_back(key_span.begin, key_span.end);
        }
      }
      if (value.IsScalar() || value.IsNull()) {
        const Span span = splice::locate_value(source, key, value);
        add(span, value, line, out);
        if (span.shape == Shape::block) {
          add_block(source, span.begin, static_cast<std::size_t>(key.Mark().column), out);
        }
      } else if (source.offset(value.Mark()) < source.offset(key.Mark())) {
        out.problems.emplace(line, Shape::alias);
      } else {
        walk(source, value, out);
      }
    }
  } else if (node.IsSequence()) {
    const std::size_t open = source.offset(node.Mark());
    for (const auto& item : node) {
      const std::size_t at = source.offset(item.Mark());
      if (item.IsScalar()) {
        const Span span = splice::locate_scalar(source, item);
        add(span, item, source.line_of(at), out);
        if (span.shape == Shape::block) {
          // The block's text is indented deeper than the '-' before it.
          const std::size_t dash = source.text().rfind('-', at);
          const int line = source.line_of(at);
          const std::size_t base = dash != std::string_view::npos && source.line_of(dash) == line
                                       ? dash - source.line_begin(line)
                                       : static_cast<std::size_t>(item.Mark().column);
          add_block(source, span.begin, base, out);
        }
      } else if (!item.IsNull() && at >= open) {
        walk(source, item, out);
      }
    }
  } else if (node.IsScalar()) {
    add(splice::locate_scalar(source, node), node, source.line_of(source.offset(node.Mark())), out);
  }
}

/// A `# {"$imagepolicy": "NS:NAME[:field]"}` comment and the value it follows, when it follows one.
struct Marker {
  std::size_t comment = 0;  ///< the offset of its '#'
  YAML::Mark mark;
  std::string policy;  ///< NAME
  Field field = Field::whole;
  std::optional<Candidate> value;
  std::optional<Shape> problem;  ///< why the value on its line cannot be edited
};

bool inside_scalar(const Values& values, std::size_t offset) {
  return std::any_of(
             values.scalars.begin(), values.scalars.end(),
             [&](const auto& range) { return offset > range.first && offset < range.second; }) ||
         std::any_of(values.blocks.begin(), values.blocks.end(), [&](const auto& range) {
           return offset >= range.first && offset <= range.second;
         });
}

Result<std::vector<Marker>> find_markers(std::string_view text, const std::string& file) {
  static const std::regex k_marker(R"re(#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}\s*)re");
  auto documents = splice::load_all(text, file);
  if (!documents) {
    return documents.error();
  }
  const Source source(text);
  Values values;
  for (const auto& document : *documents) {
    walk(source, document, values);
  }
  std::vector<Marker> markers;
  for (int line = 0; line < source.line_count(); ++line) {
    const std::string_view content = source.line_text(line);
    if (content.find("$imagepolicy") == std::string_view::npos) {
      continue;
    }
    const std::size_t begin = source.line_begin(line);
    // The comment starts at the first '#' after a blank (or at the line start) outside a scalar.
    std::optional<std::size_t> comment;
    for (std::size_t i = 0; i < content.size(); ++i) {
      if (content[i] == '#' && (i == 0 || content[i - 1] == ' ' || content[i - 1] == '\t') &&
          !inside_scalar(values, begin + i)) {
        comment = i;
        break;
      }
    }
    if (!comment) {
      continue;
    }
    const std::string_view body = content.substr(*comment + 1);
    const std::size_t first = body.find_first_not_of(" \t");
    if (first == std::string_view::npos || body[first] != '{' ||
        body.find("$imagepolicy") == std::string_view::npos) {
      continue;  // a comment that mentions the marker, or a commented-out line holding one
    }
    Marker marker;
    marker.comment = begin + *comment;
    marker.mark = source.mark_at(marker.comment);
    const std::string comment_text(content.substr(*comment));
    std::smatch match;
    const auto malformed = [&](const std::string& why) {
      return splice::error_at(file, marker.mark,
                              "malformed $imagepolicy marker " +
                                  comment_text.substr(comment_text.find('{')) + ": " + why);
    };
    if (!std::regex_match(comment_text, match, k_marker)) {
      return malformed("expected # {\"$imagepolicy\": \"NAMESPACE:NAME\"}");
    }
    std::vector<std::string> parts;
    const std::string setter = match[1].str();
    for (std::size_t start = 0;;) {
      const std::size_t colon = setter.find(':', start);
      parts.push_back(setter.substr(start, colon == std::string::npos ? colon : colon - start));
      if (colon == std::string::npos) {
        break;
      }
      start = colon + 1;
    }
    if (parts.size() < 2 || parts.size() > 3 ||
        std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
      return malformed("expected \"NAMESPACE:NAME\" or \"NAMESPACE:NAME:tag|name|digest\"");
    }
    marker.policy = parts[1];
    if (parts.size() == 3) {
      if (parts[2] == "tag") {
        marker.field = Field::tag;
      } else if (parts[2] == "name") {
        marker.field = Field::name;
      } else if (parts[2] == "digest") {
        marker.field = Field::digest;
      } else {
        return malformed("the field '" + parts[2] + "' is none of tag, name and digest");
      }
    }
    // The value it follows ends where the blanks before the '#' start.
    std::size_t end = marker.comment;
    while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t')) {
      --end;
    }
    if (end < marker.comment) {
      if (const auto it = values.by_end.find(end); it != values.by_end.end()) {
        marker.value = it->second;
      }
    }
    if (!marker.value && values.problems.contains(line)) {
      marker.problem = values.problems.at(line);
    }
    if (!marker.value && end > begin && text[end - 1] != ':' && !marker.problem) {
      // `- *name # marker`: an alias item has its anchor's mark, on another line.
      std::size_t token = end;
      while (token > begin && text[token - 1] != ' ' && text[token - 1] != '\t') {
        --token;
      }
      if (text[token] == '*') {
        marker.problem = Shape::alias;
      }
    }
    markers.push_back(std::move(marker));
  }
  return markers;
}

std::string_view field_name(Field field) {
  switch (field) {
    case Field::whole:
      return "reference";
    case Field::name:
      return "name";
    case Field::tag:
      return "tag";
    case Field::digest:
      return "digest";
  }
  return "reference";
}

}  // namespace

Result<std::map<std::string, image::Reference>> get_marked_images(
    std::string_view text, const std::string& file, const std::vector<std::string>& names) {
  auto markers = find_markers(text, file);
  if (!markers) {
    return markers.error();
  }
  struct Parts {
    std::optional<image::Reference> whole;
    std::optional<std::string> name, tag, digest;
  };
  std::map<std::string, Parts> found;
  for (const auto& marker : *markers) {
    if (std::find(names.begin(), names.end(), marker.policy) == names.end() || !marker.value ||
        marker.value->value.empty()) {
      continue;
    }
    Parts& parts = found[marker.policy];
    const std::string& value = marker.value->value;
    const auto bad = [&](const std::string& why) {
      return splice::error_at(file, marker.mark,
                              "the value marked for '" + marker.policy + "' ('" + value + "') " + why);
    };
    switch (marker.field) {
      case Field::whole:
        if (!parts.whole) {
          auto reference = image::parse(value);
          if (!reference) {
            return bad("is not an image reference: " + reference.error().message);
          }
          parts.whole = std::move(*reference);
        }
        break;
      case Field::name:
        if (!parts.name) {
          auto reference = image::parse(value);
          if (!reference || !reference->tag.empty() || !reference->digest.empty()) {
            return bad("is not an image repository");
          }
          parts.name = reference->repository();
        }
        break;
      case Field::tag:
        if (!parts.tag) {
          parts.tag = value;
        }
        break;
      case Field::digest:
        if (!parts.digest) {
          parts.digest = value;
        }
        break;
    }
  }
  std::map<std::string, image::Reference> out;
  for (auto& [name, parts] : found) {
    if (parts.whole) {
      out.emplace(name, *parts.whole);
      continue;
    }
    if (!parts.name || (!parts.tag && !parts.digest)) {
      continue;
    }
    std::string text_reference = *parts.name;
    if (parts.tag) {
      text_reference += ":" + *parts.tag;
    }
    if (parts.digest) {
      text_reference += "@" + *parts.digest;
    }
    auto reference = image::parse(text_reference);
    if (!reference) {
      return make_error(ErrorKind::input, file + ": the values marked for '" + name +
                                              "' do not make an image reference: " +
                                              reference.error().message);
    }
    out.emplace(name, std::move(*reference));
  }
  return out;
}

Result<std::vector<SetterMarker>> list_markers(std::string_view text, const std::string& file) {
  auto markers = find_markers(text, file);
  if (!markers) {
    return markers.error();
  }
  std::vector<SetterMarker> out;
  for (const auto& marker : *markers) {
    out.push_back(
        SetterMarker{marker.policy, Location{file, marker.mark.line + 1, marker.mark.column + 1}});
  }
  return out;
}

Result<std::pair<std::string, int>> set_marked_images(
    std::string_view text, const std::string& file,
    const std::map<std::string, image::Reference>& images) {
  auto markers = find_markers(text, file);
  if (!markers) {
    return markers.error();
  }
  std::vector<splice::Edit> edits;
  std::map<std::size_t, std::string> expected;  // marker offset -> the value it must read
  for (const auto& marker : *markers) {
    const auto image = images.find(marker.policy);
    if (image == images.end()) {
      continue;
    }
    const image::Reference& target = image->second;
    const std::string label = "the value marked for '" + marker.policy + "'";
    if (!marker.value) {
      return splice::error_at(
          file, marker.mark,
          "cannot set " + label + ": " +
              (marker.problem ? splice::describe(*marker.problem)
                              : std::string("the marker does not follow a single-line value on "
                                            "its line")));
    }
    // A Docker Hub repository keeps the spelling the value has (`redis` stays `redis`).
    const auto written = image::parse(marker.value->value);
    std::string wanted;
    switch (marker.field) {
      case Field::whole:
        wanted = written ? target.spelled_as(*written).to_string() : target.to_string();
        break;
      case Field::name:
        wanted = written ? target.spelled_as(*written).repository() : target.repository();
        break;
      case Field::tag:
        wanted = target.tag;
        break;
      case Field::digest:
        wanted = target.digest;
        break;
    }
    if (wanted.empty()) {
      return splice::error_at(file, marker.mark,
                              "cannot set " + label + ": the marker asks for the " +
                                  std::string(field_name(marker.field)) + " and '" +
                                  target.to_string() + "' has none");
    }
    expected[marker.comment] = wanted;
    if (marker.value->value == wanted) {
      continue;
    }
    edits.push_back(splice::replace(marker.value->span, wanted));
  }
  auto edited = splice::splice(text, edits, file);
  if (!edited) {
    return edited.error();
  }
  if (edits.empty()) {
    return std::pair{std::move(*edited), 0};
  }
  // Read back: every marked value holds what it must.
  const auto guard_failed = [&](const std::string& why) -> Result<std::pair<std::string, int>> {
    return make_error(
        ErrorKind::internal,
        file + ": setting the marked images did not give the expected YAML (" + why + ")");
  };
  auto reread = find_markers(*edited, file);
  if (!reread) {
    return guard_failed(reread.error().message);
  }
  std::vector<std::string> want;
  std::vector<std::string> got;
  for (const auto& [offset, value] : expected) {
    want.push_back(value);
  }
  for (const auto& marker : *reread) {
    if (images.contains(marker.policy)) {
      got.push_back(marker.value ? marker.value->value : std::string("(no value)"));
    }
  }
  if (want != got) {
    return guard_failed("the marked values do not read back as written");
  }
  return std::pair{std::move(*edited), static_cast<int>(edits.size())};
}

}  // namespace promote::overlay
