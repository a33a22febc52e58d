// libFuzzer target: the one function that turns text into gnuplot strings.
// Its output must be exactly one single-quoted literal (no way out of it),
// with no line break, that reads back as the input with control characters
// made spaces, invalid UTF-8 replaced and characters that reorder or hide
// text shown as marks (no such character survives).
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/base/utf8.h"
#include "pevis/plot/gnuplot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string quoted = pevis::plot::quote(input);
  if (quoted.size() < 2 || quoted.front() != '\'' || quoted.back() != '\'') __builtin_trap();
  std::string back;
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    const char c = quoted[i];
    if (c == '\n' || c == '\r' || c == '\0') __builtin_trap();
    if (c == '\'') {
      if (i + 2 >= quoted.size() || quoted[i + 1] != '\'') __builtin_trap();  // the literal would end early
      ++i;
    }
    back += c;
  }
  // Every byte of the input survives unless it was a control character or
  // part of invalid UTF-8: the read-back never loses valid printable text.
  std::size_t kept = 0;
  for (unsigned char c : input) kept += c >= 0x20 && c < 0x7f;
  std::size_t seen = 0;
  for (unsigned char c : back) seen += c >= 0x20 && c < 0x7f;
  if (seen < kept) __builtin_trap();
  // What gnuplot reads is UTF-8 without a hidden character.
  for (std::size_t i = 0; i < back.size();) {
    const std::size_t length = pevis::utf8_sequence_length(back, i);
    if (length == 0) __builtin_trap();
    std::uint32_t code = static_cast<unsigned char>(back[i]) & (length == 1 ? 0x7f : length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07);
    for (std::size_t k = 1; k < length; ++k) code = (code << 6) | (static_cast<unsigned char>(back[i + k]) & 0x3f);
    if (pevis::is_hidden_code_point(code)) __builtin_trap();
    i += length;
  }
  // Requoting the read-back is stable.
  if (pevis::plot::quote(back) != quoted) __builtin_trap();
  return 0;
}
