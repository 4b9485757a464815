#include "gates/junit.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <system_error>

#include "engine/scheduler/blocking.hpp"
#include "engine/util/files.hpp"
#include "engine/util/hash.hpp"
#include "engine/util/xml.hpp"

namespace promote::gates {

namespace fs = std::filesystem;

JunitCounts& JunitCounts::operator+=(const JunitCounts& other) {
  tests += other.tests;
  failures += other.failures;
  errors += other.errors;
  skipped += other.skipped;
  flaky += other.flaky;
  disabled += other.disabled;
  return *this;
}

namespace {

// Only element names matter: no entity decoding, no end-of-line or attribute
// normalisation, CDATA skipped. parse_doctype only makes a DOCTYPE visible (as a node)
// so that it can be refused; it is never interpreted. Text is embedded in its element
// rather than given a node of its own, which saves memory on system-out heavy reports.
constexpr unsigned k_parse_options =
    pugi::parse_minimal | pugi::parse_doctype | pugi::parse_embed_pcdata;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool has_utf8_bom(std::string_view xml) {
  return xml.substr(0, 3) == "\xEF\xBB\xBF";
}

// UTF-16 and UTF-32 documents (with a byte order mark, or with NUL bytes in the first
// characters) are converted by pugixml; everything else is read as UTF-8, which keeps
// byte offsets exact and is harmless for single-byte encodings such as ISO-8859-1
// because only ASCII element names are looked at.
bool is_wide(std::string_view xml) {
  const std::string_view head = xml.substr(0, 4);
  return head.substr(0, 2) == "\xFF\xFE" || head.substr(0, 2) == "\xFE\xFF" ||
         head.find('\0') != std::string_view::npos;
}

// "LABEL:LINE:COL" for a byte offset; the column counts characters, not bytes.
std::string position(std::string_view xml, std::ptrdiff_t offset, const std::string& label) {
  const std::size_t end =
      std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)), xml.size());
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < end; ++i) {
    if (xml[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  if (line_start == 0 && has_utf8_bom(xml)) {
    line_start = std::min<std::size_t>(3, end);
  }
  int column = 1;
  for (std::size_t i = line_start; i < end; ++i) {
    if ((static_cast<unsigned char>(xml[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return Location{label, line, column}.to_string();
}

Error input_error(const std::string& where, const std::string& what) {
  return make_error(ErrorKind::input, where + ": " + what);
}

std::string describe(pugi::xml_parse_status status) {
  switch (status) {
    case pugi::status_unrecognized_tag:
      return "malformed XML: unrecognized tag";
    case pugi::status_bad_pi:
      return "malformed XML: bad processing instruction or declaration";
    case pugi::status_bad_comment:
      return "malformed XML: bad comment";
    case pugi::status_bad_cdata:
      return "malformed XML: bad CDATA section";
    case pugi::status_bad_pcdata:
      return "malformed XML: bad character data";
    case pugi::status_bad_start_element:
      return "malformed XML: bad start tag";
    case pugi::status_bad_attribute:
      return "malformed XML: bad attribute";
    case pugi::status_bad_end_element:
      return "malformed XML: bad end tag";
    case pugi::status_end_element_mismatch:
      return "malformed XML: mismatched end tag";
    case pugi::status_out_of_memory:
      return "out of memory while parsing";
    default:
      return "malformed XML";
  }
}

// The name of the end tag whose name starts at `offset`, for mismatch messages.
std::string tag_name_at(std::string_view xml, std::size_t offset) {
  std::size_t end = offset;
  while (end < xml.size() && end - offset < 100 && !is_space(xml[end]) && xml[end] != '>' &&
         xml[end] != '<') {
    ++end;
  }
  return std::string(xml.substr(offset, end - offset));
}

// Where the `<!DOCTYPE` that contains `offset` starts.
std::ptrdiff_t doctype_start(std::string_view xml, std::ptrdiff_t offset) {
  const std::size_t from =
      std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)), xml.size());
  const std::size_t at = xml.rfind("<!", from);
  return at == std::string_view::npos ? offset : static_cast<std::ptrdiff_t>(at);
}

Error parse_failure(std::string_view xml, const pugi::xml_parse_result& result,
                    const std::string& label, bool exact) {
  const std::size_t offset = static_cast<std::size_t>(std::max<std::ptrdiff_t>(result.offset, 0));
  const std::string where = exact ? position(xml, result.offset, label) : label;
  if (result.status == pugi::status_bad_doctype) {
    return input_error(exact ? position(xml, doctype_start(xml, result.offset), label) : label,
                       "document type declarations are not allowed");
  }
  if (result.status == pugi::status_no_document_element) {
    if (xml.find_first_not_of(" \t\r\n", has_utf8_bom(xml) ? 3 : 0) == std::string_view::npos) {
      return input_error(label, "the file is empty");
    }
    return input_error(where, "no root element");
  }
  if (!exact) {
    return input_error(label, describe(result.status));
  }
  // pugixml reports an error at the end of the input on the last byte.
  if (offset + 1 >= xml.size() ||
      xml.find_first_not_of(" \t\r\n", offset) == std::string_view::npos) {
    return input_error(position(xml, static_cast<std::ptrdiff_t>(xml.size()), label),
                       "unexpected end of file: the report is truncated");
  }
  if (result.status == pugi::status_end_element_mismatch && offset >= 2) {
    return input_error(position(xml, result.offset - 2, label),
                       "malformed XML: end tag </" + tag_name_at(xml, offset) +
                           "> does not match the open element");
  }
  return input_error(where, describe(result.status));
}

// Where an element starts: its name's offset minus the '<'.
std::string element_position(std::string_view xml, const pugi::xml_node& node,
                             const std::string& label, bool exact) {
  const std::ptrdiff_t offset = node.offset_debug();
  if (!exact || offset <= 0) {
    return label;
  }
  return position(xml, offset - 1, label);
}

// What is wrong with the first reference in `document`'s text and attribute values that XML
// does not define, for documents whose bytes as written are not at hand (UTF-16, UTF-32).
std::optional<std::string> bad_reference_in_tree(const pugi::xml_document& document) {
  const auto bad = [](const char* text) -> std::optional<std::string> {
    const std::string_view view(text);
    const std::size_t at = util::bad_xml_reference(view);
    if (at == std::string_view::npos) {
      return std::nullopt;
    }
    return util::describe_bad_xml_reference(view.substr(at));
  };
  std::vector<pugi::xml_node> stack{document.first_child()};
  while (!stack.empty()) {
    const pugi::xml_node node = stack.back();
    if (!node) {
      stack.pop_back();
      continue;
    }
    stack.back() = node.next_sibling();
    if (node.type() != pugi::node_element && node.type() != pugi::node_pcdata) {
      continue;
    }
    if (auto found = bad(node.value())) {
      return found;
    }
    for (const pugi::xml_attribute attribute : node.attributes()) {
      if (auto found = bad(attribute.value())) {
        return found;
      }
    }
    stack.push_back(node.first_child());
  }
  return std::nullopt;
}

// What the child elements of a test case said about it.
struct CaseMarks {
  bool error = false;
  bool failure = false;
  bool rerun_error = false;
  bool rerun_failure = false;
  bool skipped = false;
  bool flaky = false;
  bool disabled = false;  ///< status="disabled" (CTest): the runner never ran it
  bool not_run = false;   ///< status="notrun": disabled, unless a <skipped> says why (CTest)

  void mark(std::string_view child) {
    if (child == "error") {
      error = true;
    } else if (child == "failure") {
      failure = true;
    } else if (child == "skipped") {
      skipped = true;
    } else if (child == "flakyFailure" || child == "flakyError") {
      flaky = true;
    } else if (child == "rerunFailure") {
      rerun_failure = true;
    } else if (child == "rerunError") {
      rerun_error = true;
    }
  }

  /// The test case's outcome by precedence, and whether it passed only after flaky runs.
  std::pair<JunitTally::Outcome, bool> judge() const {
    using Outcome = JunitTally::Outcome;
    if (error || (rerun_error && !failure)) {
      return {Outcome::errored, false};
    }
    if (failure || rerun_failure) {
      return {Outcome::failed, false};
    }
    if (disabled || (not_run && !skipped)) {
      return {Outcome::disabled, false};
    }
    if (skipped) {
      return {Outcome::skipped, false};
    }
    return {Outcome::passed, flaky};
  }
};

std::size_t name_hash(std::string_view name) {
  return std::hash<std::string_view>()(name);
}

std::size_t test_hash(std::string_view classname, std::size_t name_hash) {
  return std::hash<std::string_view>()(classname) ^
         (name_hash * static_cast<std::size_t>(0x9E3779B97F4A7C15ULL));
}

std::string test_name(std::string_view classname, std::string_view name) {
  if (name.empty()) {
    return classname.empty() ? "(unnamed)" : std::string(classname);
  }
  return classname.empty() ? std::string(name) : std::string(classname) + "." + std::string(name);
}

}  // namespace

bool JunitTally::maybe_unresolved(std::size_t name_hash) const {
  const std::size_t bit = name_hash % k_filter_bits;
  return !m_filter.empty() && ((m_filter[bit / 64] >> (bit % 64)) & 1U) != 0;
}

void JunitTally::record(const TestId& id, Outcome outcome, bool flaky) {
  ++m_totals.tests;
  if (outcome == Outcome::skipped || outcome == Outcome::disabled) {
    ++m_totals.skipped;
    m_totals.disabled += outcome == Outcome::disabled ? 1 : 0;
    return;
  }
  const bool failed = outcome != Outcome::passed;
  if (failed) {
    ++(outcome == Outcome::failed ? m_totals.failures : m_totals.errors);
  }
  bool rerun = false;
  if (id.identified && (failed || !m_unresolved.empty())) {
    const auto same_test = [&](const Unresolved& item) {
      return item.classname == id.classname && item.name == id.name;
    };
    if (failed) {
      std::vector<Unresolved>& bucket = m_unresolved[id.hash];
      auto entry = std::find_if(bucket.begin(), bucket.end(), same_test);
      if (entry == bucket.end()) {
        entry = bucket.insert(bucket.end(),
                              Unresolved{std::string(id.classname), std::string(id.name)});
      }
      ++(outcome == Outcome::failed ? entry->failures : entry->errors);
      if (m_filter.empty()) {
        m_filter.resize(k_filter_bits / 64);
      }
      const std::size_t bit = id.name_hash % k_filter_bits;
      m_filter[bit / 64] |= std::uint64_t{1} << (bit % 64);
      return;
    }
    if (auto bucket = m_unresolved.find(id.hash); bucket != m_unresolved.end()) {
      auto entry = std::find_if(bucket->second.begin(), bucket->second.end(), same_test);
      if (entry != bucket->second.end()) {
        // Every earlier failed attempt of this test was a rerun of the one that passed now.
        m_totals.failures -= entry->failures;
        m_totals.errors -= entry->errors;
        m_totals.tests -= entry->failures + entry->errors;
        bucket->second.erase(entry);
        rerun = true;
      }
      if (bucket->second.empty()) {
        m_unresolved.erase(bucket);
      }
    }
  }
  if (flaky || rerun) {
    ++m_totals.flaky;
    m_flaky.push_back(test_name(id.classname, id.name));
  }
}

// Both readers report each element as it starts (its name and its `name`, `classname` and
// `status` attributes) and as it ends. The records are made in document order, since a rerun
// follows the attempt it repeats: a test case when it ends (nothing is recorded inside one), an
// `<error>` or `<failure>` directly under a suite when it starts.
class JunitTally::Walk {
 public:
  Walk(JunitTally& all, JunitTally& document) : m_all(all), m_document(document) {}

  /// False for a root that is not a suite (nothing is recorded then).
  bool start(std::string_view element, std::string_view name, std::string_view classname,
             std::string_view status) {
    if (m_open.empty()) {
      m_open.push_back(Kind::suite);
      return element == "testsuites" || element == "testsuite";
    }
    Kind kind = Kind::other;
    switch (m_open.back()) {
      case Kind::suite:
        if (element == "testcase") {
          kind = Kind::testcase;
          m_case = CaseMarks{};
          // A test the runner disabled: CTest writes status="disabled", GoogleTest
          // status="notrun" (result="suppressed"); neither adds a <skipped> child. CTest's
          // own "notrun" (a skip return code, a missing executable) has one: skipped.
          m_case.disabled = status == "disabled";
          m_case.not_run = status == "notrun";
          m_name = name;
          m_classname = classname;
        } else if (element == "testsuite" || element == "testsuites") {
          kind = Kind::suite;
        } else if (element == "error" || element == "failure") {
          record(TestId{}, Outcome::errored, false);
        }
        break;
      case Kind::testcase:
        m_case.mark(element);
        break;
      case Kind::other:
        break;
    }
    m_open.push_back(kind);
    return true;
  }

  void end() {
    const Kind kind = m_open.back();
    m_open.pop_back();
    if (kind == Kind::testcase) {
      finish_testcase();
    }
  }

 private:
  enum class Kind : unsigned char { suite, testcase, other };

  void finish_testcase() {
    const auto [outcome, flaky] = m_case.judge();
    // Only a failure, a flaky pass, or a pass that may follow a failure of the same name
    // needs the test's identity (this document's failures are among this tally's).
    TestId id;
    const bool passed = outcome == Outcome::passed;
    const bool skipped = outcome == Outcome::skipped || outcome == Outcome::disabled;
    if (!skipped && (!passed || flaky || !m_all.m_unresolved.empty())) {
      id.name = m_name;
      id.name_hash = name_hash(id.name);
      id.identified =
          !id.name.empty() && (!passed || flaky || m_all.maybe_unresolved(id.name_hash));
      if (id.identified || flaky) {
        id.classname = m_classname;
        id.hash = test_hash(id.classname, id.name_hash);
      }
    }
    record(id, outcome, flaky);
  }

  void record(const TestId& id, Outcome outcome, bool flaky) {
    m_document.record(id, outcome, flaky);
    if (&m_all != &m_document) {
      m_all.record(id, outcome, flaky);
    }
  }

  JunitTally& m_all;
  JunitTally& m_document;
  std::vector<Kind> m_open;  ///< one per open element, the root first
  CaseMarks m_case;          ///< of the open test case
  std::string_view m_name;
  std::string_view m_classname;
};

namespace {

bool is_name_start(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == ':' || u >= 0x80;
}

bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

// The streaming reader. It takes a strict subset of what pugixml reads, and for each
// document it takes the two agree on every element: a UTF-8 document (BOM allowed) with no
// NUL byte; before and after the root only white space, comments and processing
// instructions; inside, text, comments and CDATA; start tags whose attributes are each
// preceded by white space and quoted without a '<'; end tags that match. It returns false
// as soon as the document leaves that subset (having perhaps walked part of it).
template <typename Walker>
bool stream_elements(std::string_view xml, Walker& walk) {
  const char* p = xml.data() + (has_utf8_bom(xml) ? 3 : 0);
  const char* const end = xml.data() + xml.size();
  if (std::memchr(p, '\0', static_cast<std::size_t>(end - p)) != nullptr) {
    return false;
  }
  const auto find = [&](const char* from, std::string_view what) -> const char* {
    const std::string_view rest(from, static_cast<std::size_t>(end - from));
    const std::size_t at = rest.find(what);
    return at == std::string_view::npos ? nullptr : from + at + what.size();
  };
  const auto looking_at = [&](std::string_view what) {
    return std::string_view(p, static_cast<std::size_t>(end - p)).starts_with(what);
  };
  const auto skip_space = [&] {
    const char* start = p;
    while (p < end && is_space(*p)) {
      ++p;
    }
    return p != start;
  };
  const auto read_name = [&]() -> std::string_view {
    const char* start = p;
    if (p < end && is_name_start(*p)) {
      ++p;
      while (p < end && is_name_char(*p)) {
        ++p;
      }
    }
    return {start, static_cast<std::size_t>(p - start)};
  };
  // Where the name of each open element starts (its end is the first byte not of a name).
  std::vector<const char*> open;
  const auto open_name = [&] {
    const char* name_end = open.back();
    while (name_end < end && is_name_char(*name_end)) {
      ++name_end;
    }
    return std::string_view(open.back(), static_cast<std::size_t>(name_end - open.back()));
  };
  bool root_seen = false;
  while (p < end) {
    if (*p != '<') {
      if (open.empty()) {
        if (!is_space(*p)) {
          return false;
        }
        ++p;
        continue;
      }
      const char* const text = p;
      p = static_cast<const char*>(std::memchr(p, '<', static_cast<std::size_t>(end - p)));
      if (p == nullptr) {
        return false;
      }
      if (util::bad_xml_reference({text, static_cast<std::size_t>(p - text)}) !=
          std::string_view::npos) {
        return false;
      }
      continue;
    }
    if (looking_at("<?")) {
      // Processing instructions and the declaration, only outside the root; the target is
      // followed by white space or the end.
      p += 2;
      if (!open.empty() || read_name().empty() || p == end ||
          (!is_space(*p) && !looking_at("?>")) || (p = find(p, "?>")) == nullptr) {
        return false;
      }
    } else if (looking_at("<!--")) {
      if ((p = find(p + 4, "-->")) == nullptr) {
        return false;
      }
    } else if (looking_at("<![CDATA[")) {
      if (open.empty() || (p = find(p + 9, "]]>")) == nullptr) {
        return false;
      }
    } else if (looking_at("</")) {
      p += 2;
      if (open.empty() || read_name() != open_name()) {
        return false;
      }
      skip_space();
      if (p == end || *p != '>') {
        return false;
      }
      ++p;
      open.pop_back();
      walk.end();
    } else {
      ++p;
      if (open.empty() && root_seen) {
        return false;
      }
      const std::string_view element = read_name();
      if (element.empty()) {
        return false;
      }
      std::string_view name;
      std::string_view classname;
      std::string_view status;
      bool named = false;
      bool classnamed = false;
      bool statused = false;
      bool empty = false;
      while (true) {
        const bool spaced = skip_space();
        if (p == end) {
          return false;
        }
        if (*p == '>') {
          ++p;
          break;
        }
        if (*p == '/') {
          if (end - p < 2 || p[1] != '>') {
            return false;
          }
          p += 2;
          empty = true;
          break;
        }
        const std::string_view attribute = read_name();
        if (!spaced || attribute.empty()) {
          return false;
        }
        skip_space();
        if (p == end || *p != '=') {
          return false;
        }
        ++p;
        skip_space();
        if (p == end || (*p != '"' && *p != '\'')) {
          return false;
        }
        const char quote = *p++;
        const char* close =
            static_cast<const char*>(std::memchr(p, quote, static_cast<std::size_t>(end - p)));
        if (close == nullptr) {
          return false;
        }
        const std::string_view value(p, static_cast<std::size_t>(close - p));
        if (value.find('<') != std::string_view::npos ||
            util::bad_xml_reference(value) != std::string_view::npos) {
          return false;
        }
        p = close + 1;
        if (attribute == "name" && !named) {
          name = value;
          named = true;
        } else if (attribute == "classname" && !classnamed) {
          classname = value;
          classnamed = true;
        } else if (attribute == "status" && !statused) {
          status = value;
          statused = true;
        }
      }
      if (!walk.start(element, name, classname, status)) {
        return false;
      }
      root_seen = true;
      if (empty) {
        walk.end();
      } else {
        open.push_back(element.data());
      }
    }
  }
  return root_seen && open.empty();
}

}  // namespace

Result<JunitCounts> parse_junit(std::string_view xml, const std::string& label,
                                JunitReader reader) {
  JunitTally tally;
  return tally.add(xml, label, reader);
}

Result<JunitCounts> JunitTally::add(std::string_view xml, const std::string& label,
                                    JunitReader reader) {
  if (xml.empty()) {
    return input_error(label, "the file is empty");
  }
  const bool exact = !is_wide(xml);
  if (reader != JunitReader::tree) {
    // The first document's tally is the whole tally: it is recorded once, and there is
    // nothing to take back. Otherwise, what the streaming reader recorded before it gave up
    // is taken back.
    const bool first = m_totals.tests == 0 && m_unresolved.empty() && m_flaky.empty();
    std::optional<JunitTally> before;
    if (!first) {
      before = *this;
    }
    JunitTally this_document;
    Walk walk(first ? this_document : *this, this_document);
    if (exact && stream_elements(xml, walk)) {
      const JunitCounts counts = this_document.m_totals;
      if (first) {
        *this = std::move(this_document);
      }
      return counts;
    }
    if (before) {
      *this = std::move(*before);
    }
    if (reader == JunitReader::streaming_only) {
      return input_error(label, "outside the streaming reader's subset");
    }
  }
  pugi::xml_document document;
  const pugi::xml_parse_result result = document.load_buffer(
      xml.data(), xml.size(), k_parse_options, exact ? pugi::encoding_utf8 : pugi::encoding_auto);
  for (pugi::xml_node node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) {
      const std::string where =
          exact ? position(xml, doctype_start(xml, node.offset_debug()), label) : label;
      return input_error(where, "document type declarations are not allowed");
    }
  }
  if (!result) {
    return parse_failure(xml, result, label, exact);
  }
  // pugixml leaves a reference it does not know as text: an undefined entity would pass for
  // a name or an output, so it is a malformed document, as XML has it.
  if (exact) {
    if (const std::size_t bad = util::bad_xml_reference_in_document(xml);
        bad != std::string_view::npos) {
      return input_error(position(xml, static_cast<std::ptrdiff_t>(bad), label),
                         "malformed XML: " + util::describe_bad_xml_reference(xml.substr(bad)));
    }
  } else if (const auto bad = bad_reference_in_tree(document)) {
    return input_error(label, "malformed XML: " + *bad);
  }
  pugi::xml_node root;
  for (pugi::xml_node node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() != pugi::node_element) {
      continue;
    }
    if (root) {
      return input_error(element_position(xml, node, label, exact),
                         std::string("more than one root element: <") + node.name() +
                             "> follows <" + root.name() + ">");
    }
    root = node;
  }
  // The tree in document order; the stack holds the next sibling to visit at each depth, so
  // that deep nesting cannot overflow, and the end of a list of children ends their parent.
  JunitTally this_document;
  Walk walk(*this, this_document);
  if (!walk.start(root.name(), {}, {}, {})) {
    return input_error(element_position(xml, root, label, exact),
                       std::string("expected <testsuites> or <testsuite> as the root element, "
                                   "found <") +
                           root.name() + ">");
  }
  std::vector<pugi::xml_node> stack{root.first_child()};
  while (!stack.empty()) {
    const pugi::xml_node node = stack.back();
    if (!node) {
      stack.pop_back();
      walk.end();
      continue;
    }
    stack.back() = node.next_sibling();
    if (node.type() == pugi::node_element) {
      walk.start(node.name(), node.attribute("name").value(), node.attribute("classname").value(),
                 node.attribute("status").value());
      stack.push_back(node.first_child());
    }
  }
  return this_document.m_totals;
}

// --- the gate ----------------------------------------------------------------------------

namespace {

// How long a pending verdict for reports without test cases waits before asking again.
constexpr std::chrono::seconds k_empty_retry = std::chrono::minutes(1);
// The most flaky test names listed in the details.
constexpr std::size_t k_flaky_names_shown = 50;

std::string plural(long long count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// A rate as a percentage, rounded down to one decimal so it never looks better than it is.
std::string rate_percent(long long passed, long long considered) {
  const long long permille = considered > 0 ? passed * 1000 / considered : 0;
  std::string text = std::to_string(permille / 10);
  if (permille % 10 != 0) {
    text += "." + std::to_string(permille % 10);
  }
  return text + "%";
}

std::string threshold_percent(double rate) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", rate * 100);
  return std::string(buffer) + "%";
}

nlohmann::json counts_json(const JunitCounts& counts) {
  return {{"tests", counts.tests},
          {"failures", counts.failures},
          {"errors", counts.errors},
          {"skipped", counts.skipped},
          {"disabled", counts.disabled},
          {"flaky", counts.flaky}};
}

// The first threshold `totals` breaks, as a summary, or "" when none is.
std::string broken_threshold(const JunitConfig& config, const JunitCounts& totals) {
  const long long considered = totals.tests - totals.skipped;
  const double rate = considered > 0 ? static_cast<double>(totals.passed()) / considered : 0.0;
  if (totals.tests < config.min_tests) {
    return plural(totals.tests, "test") + " found, fewer than the " +
           std::to_string(config.min_tests) + " required (min_tests)";
  }
  if (config.min_pass_rate && rate < *config.min_pass_rate) {
    std::string why;
    if (totals.failures > 0) {
      why = std::to_string(totals.failures) + " failed";
    }
    if (totals.errors > 0) {
      why += (why.empty() ? "" : ", ") + std::to_string(totals.errors) + " errored";
    }
    why = why.empty() ? "all " + plural(totals.tests, "test") + " skipped"
                      : why + " of " + std::to_string(totals.tests);
    return "pass rate " + rate_percent(totals.passed(), considered) + " is below " +
           threshold_percent(*config.min_pass_rate) + " (" + why + ")";
  }
  const long long failed = totals.failures + totals.errors;
  if (config.max_failures && failed > *config.max_failures) {
    return plural(failed, "test") + " failed or errored, more than the " +
           std::to_string(*config.max_failures) + " allowed (max_failures)";
  }
  if (config.max_skipped && totals.skipped > *config.max_skipped) {
    return plural(totals.skipped, "test") + " skipped, more than the " +
           std::to_string(*config.max_skipped) + " allowed (max_skipped)";
  }
  if (config.max_flaky && totals.flaky > *config.max_flaky) {
    return plural(totals.flaky, "flaky test") + ", more than the " +
           std::to_string(*config.max_flaky) + " allowed (max_flaky)";
  }
  return {};
}

std::string pass_summary(const JunitCounts& totals) {
  std::string text =
      plural(totals.tests, "test") + ": " + std::to_string(totals.passed()) + " passed";
  if (totals.flaky > 0) {
    text += " (" + std::to_string(totals.flaky) + " flaky)";
  }
  if (totals.failures > 0) {
    text += ", " + std::to_string(totals.failures) + " failed";
  }
  if (totals.errors > 0) {
    text += ", " + std::to_string(totals.errors) + " errored";
  }
  if (totals.skipped > 0) {
    text += ", " + std::to_string(totals.skipped) + " skipped";
    if (totals.disabled > 0) {
      text += " (" + std::to_string(totals.disabled) + " disabled)";
    }
  }
  return text;
}

Verdict error_verdict(const Error& error, nlohmann::json details, std::vector<Evidence> evidence) {
  details["error"] = error.message;
  Verdict verdict = Verdict::make(Verdict::Status::error, error.message, std::move(details));
  verdict.evidence = std::move(evidence);
  return verdict;
}

Verdict judge(const JunitConfig& config, const fs::path& base_dir) {
  auto paths = expand_report_paths(base_dir, config.paths);
  if (!paths) {
    return error_verdict(paths.error(), {{"patterns", config.paths}}, {});
  }
  std::vector<Evidence> evidence;
  nlohmann::json files = nlohmann::json::array();
  JunitTally tally;
  for (const std::string& path : *paths) {
    const fs::path full = fs::path(path).is_absolute() ? fs::path(path) : base_dir / path;
    if (util::leaves_through_symlink(base_dir, path)) {
      return error_verdict(make_error(ErrorKind::input, path + ": leads out of the repository "
                                                               "through a symlink"),
                           {{"file", path}, {"files", files}}, evidence);
    }
    auto bytes = util::map_file(full);
    if (!bytes) {
      return error_verdict(bytes.error(), {{"file", path}, {"files", files}}, evidence);
    }
    util::Sha256Beside digest(bytes->view());  // a large report's, beside its parse
    auto counts = tally.add(bytes->view(), path);
    evidence.push_back(Evidence{path, digest.get()});
    if (!counts) {
      return error_verdict(counts.error(), {{"file", path}, {"files", files}}, evidence);
    }
    nlohmann::json entry = counts_json(*counts);
    entry["path"] = path;
    files.push_back(std::move(entry));
  }
  const JunitCounts& totals = tally.totals();
  const long long considered = totals.tests - totals.skipped;
  nlohmann::json totals_json = counts_json(totals);
  totals_json["passed"] = totals.passed();
  nlohmann::json thresholds = {{"min_tests", config.min_tests}};
  if (config.min_pass_rate) {
    thresholds["min_pass_rate"] = *config.min_pass_rate;
  }
  if (config.max_failures) {
    thresholds["max_failures"] = *config.max_failures;
  }
  if (config.max_skipped) {
    thresholds["max_skipped"] = *config.max_skipped;
  }
  if (config.max_flaky) {
    thresholds["max_flaky"] = *config.max_flaky;
  }
  nlohmann::json details = {
      {"files", files},
      {"totals", totals_json},
      {"pass_rate", considered > 0 ? static_cast<double>(totals.passed()) / considered : 0.0},
      {"thresholds", thresholds}};
  if (!tally.flaky_tests().empty()) {
    const auto& names = tally.flaky_tests();
    const std::size_t shown = std::min(names.size(), k_flaky_names_shown);
    details["flaky_tests"] = std::vector<std::string>(names.begin(), names.begin() + shown);
    if (shown < names.size()) {
      details["flaky_tests_omitted"] = names.size() - shown;
    }
  }
  if (totals.tests == 0) {
    // No data is its own case, never a pass: the on_empty policy decides.
    const std::string status = promote::to_string(config.on_empty);
    std::string summary =
        "no test cases found in " + plural(static_cast<long long>(paths->size()), "report");
    if (config.on_empty != Verdict::Status::error) {
      summary += " (on_empty: " + status + ")";
    }
    details["on_empty"] = status;
    Verdict verdict = Verdict::make(config.on_empty, std::move(summary), std::move(details));
    if (config.on_empty == Verdict::Status::error) {
      verdict.details["error"] = verdict.summary;
    }
    if (config.on_empty == Verdict::Status::pending) {
      verdict.retry_after = k_empty_retry;
    }
    verdict.evidence = std::move(evidence);
    return verdict;
  }
  Verdict verdict;
  if (std::string broken = broken_threshold(config, totals); !broken.empty()) {
    verdict = Verdict::make(Verdict::Status::fail, std::move(broken), std::move(details));
  } else {
    verdict = Verdict::make(totals.flaky > 0 ? Verdict::Status::warn : Verdict::Status::pass,
                            pass_summary(totals), std::move(details));
  }
  verdict.evidence = std::move(evidence);
  return verdict;
}

}  // namespace

boost::asio::awaitable<Verdict> JunitGate::evaluate(const GateContext& context) {
  // Parsing large reports blocks: run it on the worker pool so a timeout still applies.
  auto work = [config = m_config, base_dir = context.base_dir] { return judge(config, base_dir); };
  co_return co_await scheduler::run_blocking(std::move(work));
}

nlohmann::json JunitGate::config() const {
  nlohmann::json out = {{"path", m_config.paths},
                        {"min_tests", m_config.min_tests},
                        {"on_empty", promote::to_string(m_config.on_empty)}};
  if (m_config.min_pass_rate) {
    out["min_pass_rate"] = *m_config.min_pass_rate;
  }
  if (m_config.max_failures) {
    out["max_failures"] = *m_config.max_failures;
  }
  if (m_config.max_skipped) {
    out["max_skipped"] = *m_config.max_skipped;
  }
  if (m_config.max_flaky) {
    out["max_flaky"] = *m_config.max_flaky;
  }
  return out;
}

std::unique_ptr<Gate> make_junit(const pipeline::ConfigNode& with) {
  if (with.is_null()) {
    with.error("gate 'junit' needs 'with: { path: <JUnit XML files or glob patterns> }'");
    return nullptr;
  }
  const std::size_t problems_before = with.diagnostics().messages().size();
  if (!with.expect_map("gate 'junit'", {"path", "min_pass_rate", "max_failures", "max_skipped",
                                        "min_tests", "max_flaky", "on_empty"})) {
    return nullptr;
  }
  JunitConfig config;
  if (auto path = with.require("path", "gate 'junit'")) {
    if (auto paths = path->as_string_list("path")) {
      if (paths->empty()) {
        path->error("'path' must name at least one file or pattern");
      }
      for (const std::string& pattern : *paths) {
        if (pattern.empty()) {
          path->error("'path' must not be an empty string");
        }
      }
      config.paths = std::move(*paths);
    }
  }
  if (auto node = with.get("min_pass_rate")) {
    if (auto rate = node->as_number("min_pass_rate")) {
      if (*rate < 0 || *rate > 1) {
        node->error("'min_pass_rate' must be between 0 and 1, got '" + node->yaml().Scalar() + "'");
      }
      config.min_pass_rate = *rate;
    }
  }
  const auto count = [&](const char* key, long long minimum) -> std::optional<long long> {
    auto node = with.get(key);
    if (!node) {
      return std::nullopt;
    }
    auto value = node->as_integer(key);
    if (value && *value < minimum) {
      node->error("'" + std::string(key) + "' must be " + std::to_string(minimum) +
                  " or more, got '" + node->yaml().Scalar() + "'");
    }
    return value;
  };
  config.max_failures = count("max_failures", 0);
  if (config.max_failures && !with.get("min_pass_rate")) {
    // The user bounded the failures and said nothing of the pass rate: the default 1.0
    // would fail on the first failure and override the bound they wrote.
    config.min_pass_rate.reset();
  }
  config.max_skipped = count("max_skipped", 0);
  config.max_flaky = count("max_flaky", 0);
  if (auto min_tests = count("min_tests", 1)) {
    config.min_tests = *min_tests;
  }
  if (auto node = with.get("on_empty")) {
    if (auto text = node->as_string("on_empty")) {
      if (*text == "fail") {
        config.on_empty = Verdict::Status::fail;
      } else if (*text == "pending") {
        config.on_empty = Verdict::Status::pending;
      } else if (*text == "error") {
        config.on_empty = Verdict::Status::error;
      } else {
        node->error("'on_empty' must be fail, pending or error, got '" + *text + "'");
      }
    }
  }
  if (with.diagnostics().messages().size() != problems_before) {
    return nullptr;
  }
  return std::make_unique<JunitGate>(std::move(config));
}

}  // namespace promote::gates
