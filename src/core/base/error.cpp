#include "pevis/base/error.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "pevis/base/utf8.h"

namespace pevis {
namespace {

std::string compose(const std::string& what, const std::string& why, const std::string& todo) {
  std::string line = one_line(what) + " : " + one_line(why);
  if (!todo.empty()) line += " (" + one_line(todo) + ")";
  return line;
}

}  // namespace

Error::Error(ExitCode code, std::string what, std::string why, std::string todo)
    : std::runtime_error(compose(what, why, todo)), code_(code) {}

Error bad_input(std::string what, std::string why, std::string todo) {
  return Error(ExitCode::kBadInput, std::move(what), std::move(why), std::move(todo));
}

Error output_error(std::string what, std::string why, std::string todo) {
  return Error(ExitCode::kOutput, std::move(what), std::move(why), std::move(todo));
}

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {  // not UTF-8: a lone 0x9b is a terminal's CSI
      out += '?';
      ++i;
      continue;
    }
    if (length == 1) {
      out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
      ++i;
      continue;
    }
    // Decoded, so that C1 controls (U+0080 to U+009F: CSI, OSC) and the
    // characters that reorder or hide text (bidi embeddings, overrides and
    // isolates, marks, zero-width characters) are shown, never obeyed.
    std::uint32_t code = c & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07);
    for (std::size_t k = 1; k < length; ++k) code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    const bool hidden = (code >= 0x80 && code <= 0x9f) || code == 0x061c || (code >= 0x200b && code <= 0x200f) ||
                        (code >= 0x202a && code <= 0x202e) || (code >= 0x2060 && code <= 0x2069) || code == 0xfeff;
    if (hidden) {
      char shown[16];
      std::snprintf(shown, sizeof shown, "<U+%04X>", static_cast<unsigned>(code));
      out += shown;
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

std::string first_line(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = one_line(text.substr(start, end - start));
    if (line.find_first_not_of(' ') != std::string::npos) return line.substr(line.find_first_not_of(' '));
    start = end + 1;
  }
  return "";
}

}  // namespace pevis
