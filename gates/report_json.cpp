// The JSON of security reports (Trivy, Grype, SARIF): parsed whole with nlohmann, or read as
// it streams (stream_json: a strict scanner feeding nlohmann's SAX events, only the members a
// gate judges built), and the checked accessors the report parsers read members with. Errors
// name LABEL:LINE:COL and the byte.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "gates/security_policy.hpp"

namespace promote::gates {

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

// "LABEL:LINE:COL: malformed JSON at byte N: what" for nlohmann's parse error at `byte`
// (1-based: the last character read) with message `what`.
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

}  // namespace

Result<nlohmann::json> parse_json_text(std::string_view text, const std::string& label) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(ErrorKind::input, label + ": the file is empty");
  }
  try {
    nlohmann::json document = nlohmann::json::parse(text.begin(), text.end());
    return Result<nlohmann::json>(boost::system::in_place_value, std::move(document));
  } catch (const nlohmann::json::parse_error& error) {
    return syntax_error(text, error.byte, error.what(), label);
  } catch (const nlohmann::json::out_of_range& error) {
    // A number too large for a double ("1e630"): the parser says so without a position.
    return make_error(ErrorKind::input, label + ": " + error.what());
  }
}

namespace {

// The SAX side of stream_json: walks the values the handler descends into, counts its way
// past skipped ones and builds captured ones with a stack of their open containers.
class StreamSax {
 public:
  StreamSax(std::string_view text, const std::string& label, JsonStreamHandler& handler)
      : m_text(text), m_label(label), m_handler(handler) {}

  bool null() { return scalar(nullptr); }
  bool boolean(bool value) { return scalar(value); }
  bool number_integer(nlohmann::json::number_integer_t value) { return scalar(value); }
  bool number_unsigned(nlohmann::json::number_unsigned_t value) { return scalar(value); }
  bool number_float(nlohmann::json::number_float_t value, const std::string&) {
    return scalar(value);
  }
  bool string(std::string& value) { return scalar(value); }
  bool binary(nlohmann::json::binary_t&) { return true; }
  bool start_object(std::size_t) { return start(JsonKind::object); }
  bool start_array(std::size_t) { return start(JsonKind::array); }
  bool end_object() { return end(); }
  bool end_array() { return end(); }
  bool key(std::string& name) {
    if (m_skip > 0) {
      return true;
    }
    if (!m_build.empty()) {
      m_build_key = name;
    } else {
      m_open.back().key = name;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) {
    const auto* error = dynamic_cast<const nlohmann::json::parse_error*>(&ex);
    m_error = syntax_error(m_text, error != nullptr ? error->byte : position, ex.what(), m_label);
    return false;
  }

  std::optional<Error>& error() { return m_error; }
  /// Whether scalars matter now (false while reading past a skipped container).
  bool wants_values() const { return m_skip == 0; }
  /// A scalar decoded elsewhere.
  bool scalar_value(nlohmann::json value) { return scalar(std::move(value)); }

 private:
  struct Open {
    bool array = false;
    std::size_t next_index = 0;
    std::string key;
  };

  // Puts `value` into the innermost container being built; returns where it went.
  nlohmann::json* insert(nlohmann::json value) {
    nlohmann::json* top = m_build.back();
    if (top->is_array()) {
      top->push_back(std::move(value));
      return &top->back();
    }
    nlohmann::json& slot = (*top)[m_build_key];
    slot = std::move(value);
    return &slot;
  }

  // Pushes the step naming the value that starts now (none for the root).
  void push_step() {
    if (m_open.empty()) {
      return;
    }
    Open& parent = m_open.back();
    JsonStep step;
    if (parent.array) {
      step.index = parent.next_index++;
      step.in_array = true;
    } else {
      step.key = parent.key;
    }
    m_path.push_back(std::move(step));
  }
  void pop_step() {
    if (!m_path.empty() && m_path.size() >= m_open.size()) {
      m_path.pop_back();
    }
  }

  template <typename T>
  bool scalar(T&& value) {
    if (m_skip > 0) {
      return true;
    }
    if (!m_build.empty()) {
      insert(nlohmann::json(std::forward<T>(value)));
      return true;
    }
    push_step();
    if (m_handler.on_value(m_path, JsonKind::scalar) != JsonAction::skip) {
      m_handler.on_captured(m_path, nlohmann::json(std::forward<T>(value)));
    }
    pop_step();
    return true;
  }

  bool start(JsonKind kind) {
    if (m_skip > 0) {
      ++m_skip;
      return true;
    }
    nlohmann::json empty =
        kind == JsonKind::object ? nlohmann::json::object() : nlohmann::json::array();
    if (!m_build.empty()) {
      m_build.push_back(insert(std::move(empty)));
      return true;
    }
    push_step();
    switch (m_handler.on_value(m_path, kind)) {
      case JsonAction::skip:
        m_skip = 1;
        pop_step();
        break;
      case JsonAction::capture:
        m_captured = std::move(empty);
        m_build.push_back(&m_captured);
        break;
      case JsonAction::descend:
        m_open.push_back(Open{kind == JsonKind::array, 0, {}});
        break;
    }
    return true;
  }

  bool end() {
    if (m_skip > 0) {
      --m_skip;
      return true;
    }
    if (!m_build.empty()) {
      m_build.pop_back();
      if (m_build.empty()) {
        m_handler.on_captured(m_path, std::move(m_captured));
        m_captured = nullptr;
        pop_step();
      }
      return true;
    }
    m_handler.on_end(m_path);
    m_open.pop_back();
    if (!m_open.empty()) {
      m_path.pop_back();
    }
    return true;
  }

  std::string_view m_text;
  const std::string& m_label;
  JsonStreamHandler& m_handler;
  std::vector<Open> m_open;              ///< the containers walked into, the root first
  std::vector<JsonStep> m_path;          ///< the path of the innermost one (+ the value starting)
  std::size_t m_skip = 0;                ///< depth inside a skipped container
  nlohmann::json m_captured;             ///< the value being captured
  std::vector<nlohmann::json*> m_build;  ///< its open containers
  std::string m_build_key;
  std::optional<Error> m_error;
};

// A strict scanner of the JSON nlohmann accepts (RFC 8259; UTF-8 checked as RFC 3629 has
// it; a leading byte order mark skipped), much faster than nlohmann's lexer on what it
// reads past. Without a consumer it only says whether the text is well formed; with one it
// feeds it the events of nlohmann's SAX interface, skipping the scalars of the containers
// the consumer reads past. Scalars it hands over are decoded by nlohmann itself, so their
// values are exactly nlohmann's.
class FastScan {
 public:
  FastScan(std::string_view text, StreamSax* sax)
      : m_p(text.data()), m_end(text.data() + text.size()), m_sax(sax) {}

  bool run() {
    if (m_end - m_p >= 3 && static_cast<unsigned char>(m_p[0]) == 0xEF &&
        static_cast<unsigned char>(m_p[1]) == 0xBB && static_cast<unsigned char>(m_p[2]) == 0xBF) {
      m_p += 3;
    }
    std::vector<bool> objects;  // the open containers: true for an object
  value:
    whitespace();
    if (m_p == m_end) {
      return false;
    }
    switch (*m_p) {
      case '{':
        ++m_p;
        objects.push_back(true);
        if (m_sax != nullptr) {
          m_sax->start_object(0);
        }
        whitespace();
        if (m_p != m_end && *m_p == '}') {
          goto close;
        }
        goto key;
      case '[':
        ++m_p;
        objects.push_back(false);
        if (m_sax != nullptr) {
          m_sax->start_array(0);
        }
        whitespace();
        if (m_p != m_end && *m_p == ']') {
          goto close;
        }
        goto value;
      case '"': {
        const char* start = m_p;
        bool escaped = false;
        if (!string(escaped)) {
          return false;
        }
        if (m_sax != nullptr && m_sax->wants_values()) {
          std::string text = decode(start, escaped);
          m_sax->string(text);
        }
        goto after;
      }
      default: {
        const char* start = m_p;
        if (!literal_or_number()) {
          return false;
        }
        if (m_sax != nullptr && m_sax->wants_values()) {
          m_sax->scalar_value(nlohmann::json::parse(start, m_p));
        }
        goto after;
      }
    }
  key:
    whitespace();
    if (m_p == m_end || *m_p != '"') {
      return false;
    }
    {
      const char* start = m_p;
      bool escaped = false;
      if (!string(escaped)) {
        return false;
      }
      if (m_sax != nullptr && m_sax->wants_values()) {
        std::string text = decode(start, escaped);
        m_sax->key(text);
      }
    }
    whitespace();
    if (m_p == m_end || *m_p != ':') {
      return false;
    }
    ++m_p;
    goto value;
  close:  // at the '}' or ']' of the innermost container
    ++m_p;
    objects.pop_back();
    if (m_sax != nullptr) {
      m_sax->end_object();  // end_object and end_array do the same
    }
  after:
    if (objects.empty()) {
      whitespace();
      return m_p == m_end;
    }
    whitespace();
    if (m_p == m_end) {
      return false;
    }
    if (*m_p == ',') {
      ++m_p;
      if (objects.back()) {
        goto key;
      }
      goto value;
    }
    if (*m_p == (objects.back() ? '}' : ']')) {
      goto close;
    }
    return false;
  }

 private:
  void whitespace() {
    while (m_p != m_end && (*m_p == ' ' || *m_p == '\n' || *m_p == '\r' || *m_p == '\t')) {
      ++m_p;
    }
  }

  static bool hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  // Reads \uXXXX at m_p (after the backslash and 'u'); sets `code`.
  bool unicode_escape(unsigned& code) {
    if (m_end - m_p < 4 || !hex(m_p[0]) || !hex(m_p[1]) || !hex(m_p[2]) || !hex(m_p[3])) {
      return false;
    }
    code = static_cast<unsigned>(std::stoul(std::string(m_p, 4), nullptr, 16));
    m_p += 4;
    return true;
  }

  // Reads a string token at m_p (its opening quote); `escaped` tells whether it has escapes.
  bool string(bool& escaped) {
    ++m_p;
    while (m_p != m_end) {
      const auto c = static_cast<unsigned char>(*m_p);
      if (c == '"') {
        ++m_p;
        return true;
      }
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        escaped = true;
        if (++m_p == m_end) {
          return false;
        }
        const char e = *m_p++;
        if (e == 'u') {
          unsigned code = 0;
          if (!unicode_escape(code) || (code >= 0xDC00 && code <= 0xDFFF)) {
            return false;
          }
          if (code >= 0xD800 && code <= 0xDBFF) {
            unsigned low = 0;
            if (m_end - m_p < 2 || m_p[0] != '\\' || m_p[1] != 'u') {
              return false;
            }
            m_p += 2;
            if (!unicode_escape(low) || low < 0xDC00 || low > 0xDFFF) {
              return false;
            }
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++m_p;
        continue;
      }
      if (!utf8()) {
        return false;
      }
    }
    return false;
  }

  // One multi-byte UTF-8 sequence at m_p, as RFC 3629 allows it.
  bool utf8() {
    const auto at = [&](std::ptrdiff_t i) {
      return m_end - m_p > i ? static_cast<unsigned char>(m_p[i]) : 0u;
    };
    const auto in = [](unsigned c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
    const unsigned c = at(0);
    std::ptrdiff_t length = 0;
    if (in(c, 0xC2, 0xDF)) {
      length = in(at(1), 0x80, 0xBF) ? 2 : 0;
    } else if (c == 0xE0) {
      length = in(at(1), 0xA0, 0xBF) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    } else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) {
      length = in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    } else if (c == 0xED) {
      length = in(at(1), 0x80, 0x9F) && in(at(2), 0x80, 0xBF) ? 3 : 0;
    } else if (c == 0xF0) {
      length = in(at(1), 0x90, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    } else if (in(c, 0xF1, 0xF3)) {
      length = in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    } else if (c == 0xF4) {
      length = in(at(1), 0x80, 0x8F) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
    }
    m_p += length;
    return length > 0;
  }

  bool digits() {
    const char* start = m_p;
    while (m_p != m_end && *m_p >= '0' && *m_p <= '9') {
      ++m_p;
    }
    return m_p != start;
  }

  bool literal_or_number() {
    for (std::string_view word : {"true", "false", "null"}) {
      if (static_cast<std::size_t>(m_end - m_p) >= word.size() &&
          std::string_view(m_p, word.size()) == word) {
        m_p += word.size();
        return true;
      }
    }
    const char* start = m_p;
    if (m_p != m_end && *m_p == '-') {
      ++m_p;
    }
    if (m_p == m_end) {
      return false;
    }
    if (*m_p == '0') {
      ++m_p;
    } else if (!digits()) {
      return false;
    }
    if (m_p != m_end && *m_p == '.') {
      ++m_p;
      if (!digits()) {
        return false;
      }
    }
    if (m_p != m_end && (*m_p == 'e' || *m_p == 'E')) {
      ++m_p;
      if (m_p != m_end && (*m_p == '+' || *m_p == '-')) {
        ++m_p;
      }
      if (!digits()) {
        return false;
      }
    }
    // nlohmann refuses what does not fit a double ("number overflow"); it says so itself.
    const std::string_view number(start, static_cast<std::size_t>(m_p - start));
    if (number.size() > 18 || number.find_first_of(".eE") != std::string_view::npos) {
      return std::isfinite(std::strtod(std::string(number).c_str(), nullptr));
    }
    return true;
  }

  // The string token [start, m_p) decoded: as it is without escapes, else by nlohmann.
  std::string decode(const char* start, bool escaped) const {
    if (!escaped) {
      return std::string(start + 1, m_p - 1);
    }
    return nlohmann::json::parse(start, m_p).get<std::string>();
  }

  const char* m_p;
  const char* m_end;
  StreamSax* m_sax;
};

}  // namespace

Result<void> stream_json(std::string_view text, const std::string& label,
                         JsonStreamHandler& handler) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(ErrorKind::input, label + ": the file is empty");
  }
  StreamSax sax(text, label, handler);
  if (FastScan(text, nullptr).run()) {
    try {
      FastScan(text, &sax).run();
    } catch (const nlohmann::json::exception& error) {
      return make_error(ErrorKind::input, label + ": malformed JSON: " + error.what());
    }
    return {};
  }
  // Malformed (or beyond what the scanner knows): nlohmann reads it and says where.
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &sax) && sax.error()) {
    return *sax.error();
  }
  return {};
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
