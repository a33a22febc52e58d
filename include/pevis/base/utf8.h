#pragma once
// UTF-8, checked in one place: token files are refused when they are not
// UTF-8 (tokens.h), and text for gnuplot has each invalid byte replaced
// (plot/gnuplot.h).

#include <cstddef>
#include <cstdint>
#include <string>

namespace pevis {

/// True for the bytes that continue a character (10xxxxxx).
inline bool is_utf8_continuation(unsigned char byte) { return (byte & 0xc0) == 0x80; }

/// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is
/// invalid: a stray or missing continuation byte, an overlong form, a
/// surrogate or a code point past U+10FFFF.
inline std::size_t utf8_sequence_length(const std::string& s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (length == 0 || i + length > s.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if (!is_utf8_continuation(byte(i + k))) return 0;
  }
  if (length == 2 && c < 0xc2) return 0;
  if (length == 3 && c == 0xe0 && byte(i + 1) < 0xa0) return 0;
  if (length == 3 && c == 0xed && byte(i + 1) >= 0xa0) return 0;
  if (length == 4 && (c > 0xf4 || (c == 0xf0 && byte(i + 1) < 0x90) || (c == 0xf4 && byte(i + 1) >= 0x90))) return 0;
  return length;
}

/// Offset of the first byte of `s` that is not part of valid UTF-8, or npos.
inline std::size_t invalid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t length = utf8_sequence_length(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string::npos;
}

/// Whether the code point reorders or hides the text around it, or steers a
/// terminal: C1 controls (U+0080..U+009F: CSI, OSC), the Arabic letter mark,
/// zero-width characters and directional marks (U+200B..U+200F), bidi
/// embeddings and overrides (U+202A..U+202E), word joiner and isolates
/// (U+2060..U+2069) and the byte-order mark.
inline bool is_hidden_code_point(std::uint32_t code) {
  return (code >= 0x80 && code <= 0x9f) || code == 0x061c || (code >= 0x200b && code <= 0x200f) ||
         (code >= 0x202a && code <= 0x202e) || (code >= 0x2060 && code <= 0x2069) || code == 0xfeff;
}

/// `text` made safe to show, wherever text from a model or a user's file is
/// shown (messages, tables on the terminal, figures, pages): each C0 control
/// and DEL becomes `control`, each byte that is not UTF-8 becomes `invalid`,
/// and each hidden code point (`is_hidden_code_point`) is shown as a visible
/// mark, `⟨U+202E⟩`, so that nothing can make the text around it read
/// backwards, vanish or drive the terminal.
std::string visible_text(const std::string& text, const std::string& invalid, char control = ' ');

/// Each line of `text` as `visible_text` shows it (invalid bytes as `?`),
/// its newlines kept: every text a job prints on the terminal passes here, so
/// that a name from a model cannot set the terminal's title, clear its
/// screen or overwrite a row (tables also show each cell with `one_line`, so
/// that a newline in a name cannot split its row).
std::string visible_lines(const std::string& text);

}  // namespace pevis
