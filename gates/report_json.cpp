// The JSON of security reports (Trivy, Grype, SARIF), read with simdjson's On-Demand API:
// streamed through a handler that walks into, captures (as nlohmann values) or reads past
// each value (stream_json); and the checked accessors the report parsers read members with.
// Every value is checked, those read past too; errors name LABEL:LINE:COL and the byte, in
// the words of nlohmann's parser.
#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "engine/util/json.hpp"
#include "gates/security_policy.hpp"

namespace promote::gates {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

static_assert(k_json_padding >= simdjson::SIMDJSON_PADDING);

Location location_of(std::string_view text, std::size_t offset, const std::string& label) {
  offset = std::min(offset, text.size());
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return Location{label, line, static_cast<int>(offset - line_start) + 1};
}

namespace {

// "LABEL:LINE:COL: malformed JSON at byte N: what" for an error at `byte` (1-based: the last
// character read) described by `what` (nlohmann's message: its position prefix is dropped).
Error syntax_error(std::string_view text, std::size_t byte, std::string what,
                   const std::string& label) {
  if (const auto column = what.find("column "); column != std::string::npos) {
    if (const auto colon = what.find(": ", column); colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
  }
  const std::size_t offset = byte > 0 ? byte - 1 : 0;
  return make_error(ErrorKind::input, location_of(text, offset, label).to_string() +
                                          ": malformed JSON at byte " + std::to_string(byte) +
                                          ": " + what);
}

// nlohmann's parser as a SAX consumer that keeps nothing: it says where and why text that
// simdjson refused is malformed (simdjson only names a class of error).
class Diagnosis {
 public:
  Diagnosis(std::string_view text, const std::string& label) : m_text(text), m_label(label) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(nlohmann::json::number_integer_t) { return true; }
  bool number_unsigned(nlohmann::json::number_unsigned_t) { return true; }
  bool number_float(nlohmann::json::number_float_t, const std::string&) { return true; }
  bool string(std::string&) { return true; }
  bool binary(nlohmann::json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_object() { return true; }
  bool end_array() { return true; }
  bool key(std::string&) { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    if (const auto* error = dynamic_cast<const nlohmann::json::parse_error*>(&ex)) {
      m_error = syntax_error(m_text, error->byte, ex.what(), m_label);
    } else {
      // A number too large for a double ("1e630"): nlohmann says so without a position.
      m_error = make_error(ErrorKind::input, m_label + ": " + ex.what());
    }
    return false;
  }

  const std::optional<Error>& error() const { return m_error; }

 private:
  std::string_view m_text;
  const std::string& m_label;
  std::optional<Error> m_error;
};

// Checks a number: simdjson reads it, or nlohmann's parser accepts it where simdjson does not
// ("0e99999999999999999999" is 0 to nlohmann; simdjson refuses an exponent that long).
error_code check_number(ondemand::value& value) {
  const error_code error = value.get_double().error();
  return error == simdjson::SUCCESS || nlohmann::json::accept(value.raw_json_token())
             ? simdjson::SUCCESS
             : error;
}

// Reads a number or a literal past: the form and range of a number, the spelling of a
// literal.
error_code check_scalar(ondemand::value& value, ondemand::json_type type) {
  switch (type) {
    case ondemand::json_type::number:
      return check_number(value);
    case ondemand::json_type::boolean:
      return value.get_bool().error();
    case ondemand::json_type::null: {
      bool null = false;
      SIMDJSON_TRY(value.is_null().get(null));
      return null ? simdjson::SUCCESS : simdjson::INCORRECT_TYPE;
    }
    default:
      return simdjson::INCORRECT_TYPE;
  }
}

// A scalar as nlohmann's parser makes it: a string without escapes as written, a number with
// nlohmann's types and values.
error_code scalar_json(ondemand::value& value, ondemand::json_type type, nlohmann::json& out) {
  switch (type) {
    case ondemand::json_type::string: {
      std::string_view text = value.raw_json_token();
      if (text.find('\\') == std::string_view::npos) {
        SIMDJSON_TRY(value.get_raw_json_string().error());
        text = text.substr(1, text.find_last_of('"') - 1);
      } else {
        SIMDJSON_TRY(value.get_string().get(text));
      }
      out = std::string(text);
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::number: {
      // nlohmann's types: an integer is unsigned unless written with a minus, one beyond 64
      // bits is a float; simdjson refuses those, which nlohmann then decodes (or refuses).
      const std::string_view token = value.raw_json_token();
      ondemand::number number;
      if (value.get_number().get(number) != simdjson::SUCCESS) {
        out = nlohmann::json::parse(token, nullptr, false);
        return out.is_discarded() ? simdjson::NUMBER_ERROR : simdjson::SUCCESS;
      }
      switch (number.get_number_type()) {
        case ondemand::number_type::signed_integer:
          if (token.starts_with('-')) {
            out = number.get_int64();
          } else {
            out = static_cast<std::uint64_t>(number.get_int64());
          }
          break;
        case ondemand::number_type::unsigned_integer:
          out = number.get_uint64();
          break;
        case ondemand::number_type::floating_point_number:
          out = number.get_double();
          break;
      }
      return simdjson::SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool flag = false;
      SIMDJSON_TRY(value.get_bool().get(flag));
      out = flag;
      return simdjson::SUCCESS;
    }
    default:
      SIMDJSON_TRY(check_scalar(value, type));
      out = nullptr;
      return simdjson::SUCCESS;
  }
}

// A member's key: as written when it holds no escape (nothing copied to the parser's buffer),
// else unescaped, which checks its escapes. The text up to its closing quote is there: stage
// 1 found every string closed.
error_code key_of(ondemand::field& field, std::string_view& key) {
  const char* start = field.key().raw();
  const char* end = start;
  while (*end != '"' && *end != '\\') {
    ++end;
  }
  if (*end == '"') {
    key = std::string_view(start, static_cast<std::size_t>(end - start));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(key);
}

// Walks a document for a handler with simdjson On-Demand, which only skips what it is not
// asked for: the values the handler reads past are walked too, and checked. DEPTH_ERROR
// stands for a container nested deeper than util::k_max_json_depth.
class Walk {
 public:
  // The walk of the document of `text`.
  Walk(JsonStreamHandler& handler, std::string_view text)
      : m_handler(handler), m_end(text.data() + text.size()) {}

  error_code document(ondemand::document& document) {
    ondemand::json_type type{};
    SIMDJSON_TRY(document.type().get(type));
    if (type == ondemand::json_type::object || type == ondemand::json_type::array) {
      ondemand::value root;
      SIMDJSON_TRY(document.get_value().get(root));
      SIMDJSON_TRY(value(root, type, 0));
      // Nothing but blanks after the root.
      return document.current_location().error() == simdjson::OUT_OF_BOUNDS
                 ? simdjson::SUCCESS
                 : simdjson::TRAILING_CONTENT;
    }
    // A scalar root (never a report): its token and the blanks after it end the text, and
    // nlohmann's parser reads it (simdjson takes "false\v" at the root for false).
    std::string_view token;
    SIMDJSON_TRY(document.raw_json_token().get(token));
    if (token.data() + token.size() != m_end) {
      return simdjson::TRAILING_CONTENT;
    }
    nlohmann::json scalar = nlohmann::json::parse(token, nullptr, false);
    if (scalar.is_discarded()) {
      return simdjson::TAPE_ERROR;
    }
    if (m_handler.on_value(m_path, JsonKind::scalar) != JsonAction::skip) {
      m_handler.on_captured(m_path, std::move(scalar));
    }
    return simdjson::SUCCESS;
  }

 private:
  static JsonKind kind_of(ondemand::json_type type) {
    return type == ondemand::json_type::object  ? JsonKind::object
           : type == ondemand::json_type::array ? JsonKind::array
                                                : JsonKind::scalar;
  }

  // `depth` is the number of containers around `value`.
  static error_code enter(std::size_t depth) {
    return depth >= util::k_max_json_depth ? simdjson::DEPTH_ERROR : simdjson::SUCCESS;
  }

  // Calls `each(member, type)` for each member of the object `value`, `type` its value's.
  template <class Each>
  static error_code each_member(ondemand::value& value, Each&& each) {
    ondemand::object object;
    SIMDJSON_TRY(value.get_object().get(object));
    for (auto field : object) {
      ondemand::field member;
      SIMDJSON_TRY(std::move(field).get(member));
      ondemand::json_type type{};
      SIMDJSON_TRY(member.value().type().get(type));
      SIMDJSON_TRY(each(member, type));
    }
    return simdjson::SUCCESS;
  }

  // Calls `each(item, type)` for each item of the array `value`.
  template <class Each>
  static error_code each_element(ondemand::value& value, Each&& each) {
    ondemand::array array;
    SIMDJSON_TRY(value.get_array().get(array));
    for (auto element : array) {
      ondemand::value item;
      SIMDJSON_TRY(element.get(item));
      ondemand::json_type type{};
      SIMDJSON_TRY(item.type().get(type));
      SIMDJSON_TRY(each(item, type));
    }
    return simdjson::SUCCESS;
  }

  // A value the handler is asked about, at m_path.
  error_code value(ondemand::value& value, ondemand::json_type type, std::size_t depth) {
    const JsonKind kind = kind_of(type);
    switch (m_handler.on_value(m_path, kind)) {
      case JsonAction::skip:
        return check(value, type, depth);
      case JsonAction::descend:
        if (kind != JsonKind::scalar) {
          return descend(value, type, depth);
        }
        break;  // a scalar is captured
      case JsonAction::capture:
        break;
    }
    nlohmann::json captured;
    SIMDJSON_TRY(capture(value, type, depth, captured));
    m_handler.on_captured(m_path, std::move(captured));
    return simdjson::SUCCESS;
  }

  // A container walked into: its values in turn, then on_end.
  error_code descend(ondemand::value& value, ondemand::json_type type, std::size_t depth) {
    SIMDJSON_TRY(enter(depth));
    if (type == ondemand::json_type::object) {
      SIMDJSON_TRY(each_member(value, [&](ondemand::field& member, ondemand::json_type inner) {
        std::string_view key;
        SIMDJSON_TRY(key_of(member, key));
        m_path.push_back(JsonStep{key, 0, false});
        SIMDJSON_TRY(this->value(member.value(), inner, depth + 1));
        m_path.pop_back();
        return simdjson::SUCCESS;
      }));
    } else {
      std::size_t index = 0;
      SIMDJSON_TRY(each_element(value, [&](ondemand::value& item, ondemand::json_type inner) {
        m_path.push_back(JsonStep{{}, index++, true});
        SIMDJSON_TRY(this->value(item, inner, depth + 1));
        m_path.pop_back();
        return simdjson::SUCCESS;
      }));
    }
    m_handler.on_end(m_path);
    return simdjson::SUCCESS;
  }

  // Whether the text from `begin` to `end` holds a backslash. Asked in document order, as the
  // walk goes, it looks for each backslash once: one search through the text in all (one per
  // string cost a tenth of the walk).
  bool backslash_in(const char* begin, const char* end) {
    if (m_backslash < begin) {
      const void* found = std::memchr(begin, '\\', static_cast<std::size_t>(m_end - begin));
      m_backslash = found != nullptr ? static_cast<const char*>(found) : m_end;
    }
    return m_backslash < end;
  }

  // A value read past, checked whole: the escapes of its strings and keys too (stage 1
  // checked their UTF-8 and control characters). A string without escapes is not unescaped:
  // every string copied to the parser's buffer would cost as much memory as the text.
  error_code check(ondemand::value& value, ondemand::json_type type, std::size_t depth) {
    if (type == ondemand::json_type::string) {
      const std::string_view token = value.raw_json_token();
      if (backslash_in(token.data(), token.data() + token.size())) {
        return value.get_string().error();
      }
      return value.get_raw_json_string().error();
    }
    if (type == ondemand::json_type::object) {
      SIMDJSON_TRY(enter(depth));
      return each_member(value, [&](ondemand::field& member, ondemand::json_type inner) {
        // The key lies before its value's token.
        if (backslash_in(member.key().raw(), member.value().raw_json_token().data())) {
          SIMDJSON_TRY(member.unescaped_key().error());
        }
        return check(member.value(), inner, depth + 1);
      });
    }
    if (type == ondemand::json_type::array) {
      SIMDJSON_TRY(enter(depth));
      return each_element(value, [&](ondemand::value& item, ondemand::json_type inner) {
        return check(item, inner, depth + 1);
      });
    }
    return check_scalar(value, type);
  }

  // A value captured whole, as nlohmann's parser builds it (a repeated key keeps its last
  // value).
  static error_code capture(ondemand::value& value, ondemand::json_type type, std::size_t depth,
                            nlohmann::json& out) {
    if (type == ondemand::json_type::object) {
      SIMDJSON_TRY(enter(depth));
      out = nlohmann::json::object();
      return each_member(value, [&](ondemand::field& member, ondemand::json_type inner) {
        std::string_view key;
        SIMDJSON_TRY(key_of(member, key));
        return capture(member.value(), inner, depth + 1, out[std::string(key)]);
      });
    }
    if (type == ondemand::json_type::array) {
      SIMDJSON_TRY(enter(depth));
      out = nlohmann::json::array();
      return each_element(value, [&](ondemand::value& item, ondemand::json_type inner) {
        out.push_back(nullptr);
        return capture(item, inner, depth + 1, out.back());
      });
    }
    return scalar_json(value, type, out);
  }

  JsonStreamHandler& m_handler;
  const char* m_end;                  ///< of the text
  const char* m_backslash = nullptr;  ///< the next backslash (m_end: none), see backslash_in
  std::vector<JsonStep> m_path;       ///< the path of the value being walked
};

}  // namespace

Result<void> stream_json(std::string_view text, const std::string& label,
                         JsonStreamHandler& handler, std::size_t padding) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(ErrorKind::input, label + ": the file is empty");
  }
  // As nlohmann's parser (which says what is malformed) reads it: past a leading byte order
  // mark, and up to the first NUL byte (in a string, one that is malformed all the same).
  const std::size_t start = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  const std::string_view body = text.substr(start, text.find('\0') - start);
  simdjson::padded_string copy;
  simdjson::padded_string_view padded(body.data(), body.size(), text.size() - start + padding);
  if (padding < simdjson::SIMDJSON_PADDING) {
    copy = simdjson::padded_string(body);
    padded = copy;
  }
  ondemand::parser parser;
  ondemand::document document;
  error_code error = parser.iterate(padded).get(document);
  const bool iterated = error == simdjson::SUCCESS;
  if (iterated) {
    error = Walk(handler, padded).document(document);
  }
  if (error == simdjson::SUCCESS) {
    return {};
  }
  if (const std::size_t deep = util::json_too_deep(text); deep != std::string_view::npos) {
    return make_error(ErrorKind::input,
                      location_of(text, deep, label).to_string() + ": the JSON nests more than " +
                          std::to_string(util::k_max_json_depth) + " levels deep");
  }
  Diagnosis diagnosis(text, label);
  nlohmann::json::sax_parse(text.begin(), text.end(), &diagnosis);
  if (diagnosis.error()) {
    return *diagnosis.error();
  }
  // What simdjson refuses and nlohmann accepts: simdjson's words, where it stopped.
  std::size_t offset = text.size();
  if (iterated) {
    if (auto at = document.current_location(); at.error() == simdjson::SUCCESS) {
      offset = start + static_cast<std::size_t>(at.value_unsafe() - padded.data());
    }
  }
  return syntax_error(text, offset + 1, simdjson::error_message(error), label);
}

Error shape_error(const std::string& label, const std::string& what) {
  return make_error(ErrorKind::input, label + ": " + what);
}

std::string json_type(const nlohmann::json& value) {
  if (value.is_number()) {
    return "number";
  }
  return value.type_name();
}

namespace {

std::string member_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

const nlohmann::json* find_member(const nlohmann::json& object, const std::string& key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

Result<const nlohmann::json*> member_list(const nlohmann::json& object, const std::string& key,
                                          const std::string& path, const std::string& label) {
  const nlohmann::json* value = find_member(object, key);
  if (value != nullptr && !value->is_array()) {
    return shape_error(label, member_path(path, key) + " must be a list, got " + json_type(*value));
  }
  return value;
}

Result<const nlohmann::json*> member_object(const nlohmann::json& object, const std::string& key,
                                            const std::string& path, const std::string& label) {
  const nlohmann::json* value = find_member(object, key);
  if (value != nullptr && !value->is_object()) {
    return shape_error(label,
                       member_path(path, key) + " must be an object, got " + json_type(*value));
  }
  return value;
}

Result<std::optional<std::string>> member_string(const nlohmann::json& object,
                                                 const std::string& key, const std::string& path,
                                                 const std::string& label) {
  const nlohmann::json* value = find_member(object, key);
  if (value == nullptr) {
    return std::optional<std::string>();
  }
  if (!value->is_string()) {
    return shape_error(label,
                       member_path(path, key) + " must be a string, got " + json_type(*value));
  }
  return std::optional<std::string>(value->get<std::string>());
}

Result<void> expect_object(const nlohmann::json& value, const std::string& path,
                           const std::string& label) {
  if (!value.is_object()) {
    return shape_error(label, path + " must be an object, got " + json_type(value));
  }
  return {};
}

}  // namespace promote::gates
