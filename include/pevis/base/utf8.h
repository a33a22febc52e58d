#pragma once
// UTF-8, checked in one place: token files are refused when they are not
// UTF-8 (tokens.h), and text for gnuplot has each invalid byte replaced
// (plot/gnuplot.h).

#include <cstddef>
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

}  // namespace pevis
