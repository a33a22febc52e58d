#include "pevis/base/text.h"
#include "pevis/base/utf8.h"

#include <algorithm>
#include <cstdio>

namespace pevis {

std::string number_text(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string file_label(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::optional<long long> whole_number(const std::string& text) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used == 0 || used != text.size()) return std::nullopt;
  return value;
}

std::string visible_text(const std::string& text, const std::string& invalid, char control) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {  // a lone 0x9b is a terminal's CSI
      out += invalid;
      ++i;
      continue;
    }
    if (length == 1) {
      out += (c < 0x20 || c == 0x7f) ? control : static_cast<char>(c);
      ++i;
      continue;
    }
    std::uint32_t code = c & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07);
    for (std::size_t k = 1; k < length; ++k) code = (code << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
    if (is_hidden_code_point(code)) {
      char shown[32];
      std::snprintf(shown, sizeof shown, "\u27e8U+%04X\u27e9", static_cast<unsigned>(code));
      out += shown;
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

std::string visible_lines(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    out += visible_text(text.substr(start, end - start), "?");
    if (end < text.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace pevis
