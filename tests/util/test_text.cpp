// Text written by others made safe to print: control characters, escapes, forged lines,
// GitHub workflow commands, invalid UTF-8, Markdown.

#include <doctest/doctest.h>

#include <string>

#include "engine/util/text.hpp"

using promote::util::invalid_utf8_at;
using promote::util::markdown_code;
using promote::util::one_line;
using promote::util::printable;

TEST_SUITE("util") {
  TEST_CASE("printable shows C0 controls, DEL and C1 controls and keeps line feeds and tabs") {
    CHECK(printable("plain text, café ✓") == "plain text, café ✓");
    CHECK(printable("a\tb\nc") == "a\tb\nc");
    CHECK(printable(std::string("nul\0!", 5)) == "nul\\x00!");
    CHECK(printable("bell\a back\b del\x7f") == "bell\\x07 back\\x08 del\\x7f");
    CHECK(printable("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
    CHECK(printable("\x1b]0;title\x07") == "\\x1b]0;title\\x07");
    CHECK(printable("next line\xc2\x85 csi\xc2\x9b"
                    "31m") == "next line\\u0085 csi\\u009b31m");
    CHECK(printable("vt\v ff\f") == "vt\\x0b ff\\x0c");
  }

  TEST_CASE("a lone carriage return is shown, so it cannot draw over a line or end one") {
    CHECK(printable("junit  fail\r  junit  pass") == "junit  fail\\x0d  junit  pass");
    CHECK(printable("crlf\r\nline") == "crlf\\x0d\nline");
  }

  TEST_CASE("ascii_excerpt shows every byte outside printable ASCII and cuts long text") {
    using promote::util::ascii_excerpt;
    CHECK(ascii_excerpt("ghcr.io/acme/api:1.4.2") == "ghcr.io/acme/api:1.4.2");
    CHECK(ascii_excerpt("a\nb\x1b[2J\xc3\xa9") == "a\\x0ab\\x1b[2J\\xc3\\xa9");
    CHECK(ascii_excerpt(std::string(5, 'x'), 3) == "xxx... (5 bytes)");
    CHECK(ascii_excerpt(std::string(3, 'x'), 3) == "xxx");
  }

  TEST_CASE("one_line shows line feeds and tabs as well") {
    CHECK(one_line("a\nb\tc\r\n") == "a\\x0ab\\x09c\\x0d\\x0a");
    CHECK(one_line("ok\n  junit  pass    all 10 tests passed") ==
          "ok\\x0a  junit  pass    all 10 tests passed");
  }

  TEST_CASE("line separators, bidirectional controls and the byte order mark are shown") {
    CHECK(printable("a\xe2\x80\xa8"
                    "b\xe2\x80\xa9"
                    "c") == "a\\u2028b\\u2029c");
    // "alice" that reads as "ecila": RIGHT-TO-LEFT OVERRIDE ... POP DIRECTIONAL FORMATTING.
    CHECK(one_line("\xe2\x80\xae"
                   "ecila\xe2\x80\xac") == "\\u202eecila\\u202c");
    CHECK(printable("\xe2\x81\xa6x\xe2\x81\xa9 \xe2\x80\x8f \xd8\x9c \xef\xbb\xbf") ==
          "\\u2066x\\u2069 \\u200f \\u061c \\ufeff");
    // Joiners stay: emoji sequences and scripts need them.
    CHECK(printable("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb") ==
          "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb");
  }

  TEST_CASE("bytes that are not valid UTF-8 are shown as \\xNN") {
    CHECK(printable("bob\xff") == "bob\\xff");
    CHECK(printable("caf\xc3") == "caf\\xc3");                       // cut sequence
    CHECK(printable("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
    CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // a surrogate
    CHECK(printable("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
    CHECK(printable("\x80x") == "\\x80x");                           // a lone continuation byte
    CHECK(printable("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");      // U+1F600 is fine
  }

  TEST_CASE("no GitHub workflow command can start from the text") {
    SUBCASE("'::' at the start of a line, also after blanks the runner trims") {
      CHECK(printable("::set-output name=x::y") == "\\x3a:set-output name=x::y");
      CHECK(printable("ok\n::set-output name=x::y") == "ok\n\\x3a:set-output name=x::y");
      CHECK(printable("ok\n  \t::stop-commands::abc") == "ok\n  \t\\x3a:stop-commands::abc");
      CHECK(printable("ok\n\xc2\xa0\xe3\x80\x80::error::x") ==
            "ok\n\xc2\xa0\xe3\x80\x80\\x3a:error::x");
      CHECK(one_line("ok\n::set-output name=x::y") == "ok\\x0a::set-output name=x::y");
      CHECK(one_line("::warning::x") == "\\x3a:warning::x");
    }
    SUBCASE("'::' after a line break the terminal or the runner sees") {
      CHECK(printable("ok\r::error::x") == "ok\\x0d::error::x");
      CHECK(printable("ok\xe2\x80\xa8::error::x") == "ok\\u2028::error::x");
      CHECK(printable("ok\xc2\x85::error::x") == "ok\\u0085::error::x");
    }
    SUBCASE("'::' inside a line is text") {
      CHECK(printable("std::string at [::1]:8080") == "std::string at [::1]:8080");
      CHECK(printable("x ::a") == "x ::a");
    }
    SUBCASE("the older '##[' form, which the runner reads anywhere in a line") {
      CHECK(printable("ok ##[set-output name=x;]y") == "ok ##\\x5bset-output name=x;]y");
      CHECK(one_line("###[x]") == "###\\x5bx]");
      CHECK(printable("#[x] # [y]") == "#[x] # [y]");
    }
  }

  TEST_CASE("invalid_utf8_at names the first bad byte") {
    CHECK(invalid_utf8_at("plain") == std::string::npos);
    CHECK(invalid_utf8_at("caf\xc3\xa9 \xe2\x9c\x93") == std::string::npos);
    CHECK(invalid_utf8_at("") == std::string::npos);
    CHECK(invalid_utf8_at("bob\xff") == 3);
    CHECK(invalid_utf8_at("ab\xc3") == 2);
    CHECK(invalid_utf8_at("\xed\xa0\x80") == 0);
    CHECK(invalid_utf8_at("x\xc0\xaf") == 1);
  }

  TEST_CASE("markdown_code puts the text in a code span that nothing in it can end") {
    CHECK(markdown_code("") == "");
    CHECK(markdown_code("all good") == "`all good`");
    CHECK(markdown_code("**pass** [x](http://e) ![i](http://e) <b> :tada: &amp;") ==
          "`**pass** [x](http://e) ![i](http://e) <b> :tada: &amp;`");
    CHECK(markdown_code("a `b` c") == "``a `b` c``");
    CHECK(markdown_code("`x``") == "``` `x`` ```");
    CHECK(markdown_code(" padded ") == "`  padded  `");
    CHECK(markdown_code("a\n| fake | row |") == "`a\\x0a| fake | row |`");
    CHECK(markdown_code("a|b", true) == "`a\\|b`");
    CHECK(markdown_code("\x1b[31m") == "`\\x1b[31m`");
  }
}
