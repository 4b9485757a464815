#pragma once
// Entity and character references in XML as written, checked without a DTD: the five entities
// XML predefines and character references are all a document without a DTD may use; any
// other '&' makes it malformed (promote refuses DTDs, so no other entity is ever defined).

#include <cstddef>
#include <string>
#include <string_view>

namespace promote::util {

/// The length of the reference that `text` starts with (its first byte is '&'): &lt; &gt;
/// &amp; &apos; &quot;, or &#N; / &#xH; naming a character XML allows. 0 when it starts none:
/// an undefined entity, a bare '&', a reference to a character XML forbids.
std::size_t xml_reference_length(std::string_view text);

/// The offset in `text` (character data or an attribute value, as written) of the first '&'
/// that starts no reference; npos when there is none.
std::size_t bad_xml_reference(std::string_view text);

/// The offset in the whole document `xml` (UTF-8, as written) of the first '&' outside
/// comments, CDATA sections and processing instructions that starts no reference; npos when
/// there is none. For a document an XML parser read: its markup is taken as well-formed.
std::size_t bad_xml_reference_in_document(std::string_view xml);

/// What is wrong with the '&' that `text` starts with, for a message: "undefined entity
/// '&nbsp;' (...)", "invalid character reference '&#0;'" or "'&' that starts no reference
/// (...)". What it quotes is at most 40 bytes, of the characters a name may hold.
std::string describe_bad_xml_reference(std::string_view text);

}  // namespace promote::util
