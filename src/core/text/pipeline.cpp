#include "pipeline.h"

#include <utf8proc.h>

#include <cstdio>

#include "pevis/base/error.h"

namespace pevis::text {

Span Span::of(std::string_view input, std::size_t begin, std::size_t end) {
  Span s;
  s.text.assign(input.substr(begin, end - begin));
  s.origin.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) s.origin.emplace_back(i, i + 1);
  return s;
}

Span Span::part(std::size_t begin, std::size_t end) const {
  Span s;
  s.text = text.substr(begin, end - begin);
  s.origin.assign(origin.begin() + static_cast<std::ptrdiff_t>(begin), origin.begin() + static_cast<std::ptrdiff_t>(end));
  return s;
}

std::pair<std::size_t, std::size_t> Span::covered(std::size_t begin, std::size_t end) const {
  if (begin >= end || end > origin.size()) return {0, 0};
  std::size_t first = origin[begin].first, last = origin[begin].second;
  for (std::size_t i = begin; i < end; ++i) {
    first = std::min(first, origin[i].first);
    last = std::max(last, origin[i].second);
  }
  return {first, last};
}

void Span::add(std::string_view bytes, std::pair<std::size_t, std::size_t> from) {
  text.append(bytes);
  origin.insert(origin.end(), bytes.size(), from);
}

const std::vector<std::string>& byte_characters() {
  // Printable bytes stand for themselves; the others (controls, space, DEL,
  // the non-breaking and soft-hyphen bytes) for U+0100 onwards, in order.
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae); };
    int next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const int code = printable(b) ? b : next++;
      std::string c;
      if (code < 0x80) {
        c += static_cast<char>(code);
      } else {
        c += static_cast<char>(0xc0 | (code >> 6));
        c += static_cast<char>(0x80 | (code & 0x3f));
      }
      t[static_cast<std::size_t>(b)] = c;
    }
    return t;
  }();
  return table;
}

std::size_t utf8_length(unsigned char lead) {
  return lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 1;
}

std::size_t code_point(const std::string& s, std::size_t i, std::int32_t& c) {
  utf8proc_int32_t value = -1;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                  static_cast<utf8proc_ssize_t>(s.size() - i), &value);
  c = n > 0 ? value : -1;
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

std::string byte_piece(unsigned char b) {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", b);
  return name;
}

bool is_whitespace(std::int32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
         c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string lossy_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
  for (std::size_t i = 0; i < bytes.size();) {
    const unsigned char lead = at(i);
    std::size_t want = 0;
    unsigned char low = 0x80, high = 0xbf;  // the second byte's range
    if (lead < 0x80) want = 1;
    else if (lead >= 0xc2 && lead <= 0xdf) want = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      want = 3;
      if (lead == 0xe0) low = 0xa0;
      if (lead == 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      want = 4;
      if (lead == 0xf0) low = 0x90;
      if (lead == 0xf4) high = 0x8f;
    }
    if (want == 0) {  // not a lead byte
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    std::size_t n = 1;
    while (n < want && i + n < bytes.size()) {
      const unsigned char c = at(i + n);
      if (n == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xbf)) break;
      ++n;
    }
    if (n == want) out.append(bytes.substr(i, n));
    else out += "\xef\xbf\xbd";  // the longest start of a character, as one replacement
    i += n;
  }
  return out;
}

std::string type_of(const nlohmann::json& spec, const std::string& where, const char* fallback) {
  return spec.is_object() ? word(spec, "type", fallback, where) : "";
}

void not_implemented(const char* family, const std::string& type, const std::string& known, const std::string& where) {
  throw bad_input(where, std::string("the ") + family + " '" + one_line(type) + "' is not implemented (pevis runs " + known + ")",
                  "");
}

bool flag(const nlohmann::json& spec, const char* key, bool fallback, const std::string& where) {
  if (!spec.contains(key) || spec[key].is_null()) return fallback;
  if (!spec[key].is_boolean()) throw bad_input(where, std::string("'") + key + "' is not true or false", "the file is damaged");
  return spec[key].get<bool>();
}

std::string word(const nlohmann::json& spec, const char* key, const std::string& fallback, const std::string& where) {
  if (!spec.contains(key) || spec[key].is_null()) return fallback;
  if (!spec[key].is_string()) throw bad_input(where, std::string("'") + key + "' is not a string", "the file is damaged");
  return spec[key].get<std::string>();
}

}  // namespace pevis::text
