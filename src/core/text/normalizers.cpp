// Normalizers: the registry of tokenizer.json's `normalizer` types pevis
// implements. Unicode normalisation comes from utf8proc, one segment at a
// time (a character with everything that may compose or reorder with it),
// so that every byte of the result knows the input bytes it came from.
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

// Whether a segment may end before the code point `c`: a starter that is not
// a mark and not a Hangul vowel or final consonant (which compose with what
// precedes them).
bool starts_segment(utf8proc_int32_t c) {
  if (c < 0x80) return true;
  const utf8proc_property_t* p = utf8proc_get_property(c);
  if (p->combining_class != 0) return false;
  if (p->category == UTF8PROC_CATEGORY_MN || p->category == UTF8PROC_CATEGORY_MC || p->category == UTF8PROC_CATEGORY_ME) {
    return false;
  }
  return !((c >= 0x1161 && c <= 0x1175) || (c >= 0x11a8 && c <= 0x11c2));
}

std::string mapped(const std::string& text, int options, const std::string& where) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                              static_cast<utf8proc_ssize_t>(text.size()), &out, static_cast<utf8proc_option_t>(options));
  if (n < 0) throw bad_input(where, std::string("cannot normalise the text: ") + utf8proc_errmsg(n));
  std::string result(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

// `map` applied to each segment of `in`; each output byte comes from its segment.
Span by_segment(const Span& in, const std::function<std::string(const std::string&)>& map) {
  Span out;
  std::size_t begin = 0;
  while (begin < in.text.size()) {
    std::size_t end = begin + utf8_length(static_cast<unsigned char>(in.text[begin]));
    while (end < in.text.size()) {
      std::int32_t c = 0;
      const std::size_t length = code_point(in.text, end, c);
      if (c < 0 || starts_segment(c)) break;
      end += length;
    }
    end = std::min(end, in.text.size());
    const std::string segment = in.text.substr(begin, end - begin);
    const std::string result = map(segment);
    if (result == segment) {
      out.text += segment;
      out.origin.insert(out.origin.end(), in.origin.begin() + static_cast<std::ptrdiff_t>(begin),
                        in.origin.begin() + static_cast<std::ptrdiff_t>(end));
    } else {
      // As the Rust library aligns them: the result's k-th character comes
      // from the segment's k-th (a composed character from its first, the
      // marks it absorbed from none), the ones past the segment's length
      // from its last.
      std::vector<std::size_t> starts;
      for (std::size_t i = begin; i < end; i += utf8_length(static_cast<unsigned char>(in.text[i]))) starts.push_back(i);
      std::size_t k = 0;
      for (std::size_t i = 0; i < result.size(); ++k) {
        const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(result[i])), result.size() - i);
        const std::size_t from = starts[std::min(k, starts.size() - 1)];
        out.add(result.substr(i, n), in.covered(from, from + utf8_length(static_cast<unsigned char>(in.text[from]))));
        i += n;
      }
    }
    begin = end;
  }
  return out;
}

Normalizer unicode(int options, const std::string& where) {
  return [options, where](const Span& in) {
    return by_segment(in, [&](const std::string& s) { return mapped(s, options | UTF8PROC_STABLE, where); });
  };
}

Normalizer sequence(const nlohmann::json& spec, const std::string& where) {
  std::vector<Normalizer> parts;
  if (!spec.contains("normalizers") || !spec["normalizers"].is_array()) {
    throw bad_input(where, "a Sequence normalizer without a list of normalizers", "the file is damaged");
  }
  for (const auto& part : spec["normalizers"]) parts.push_back(make_normalizer(part, where));
  return [parts](const Span& in) {
    Span s = in;
    for (const auto& p : parts) s = p(s);
    return s;
  };
}

Normalizer prepend(const nlohmann::json& spec, const std::string& where) {
  const std::string text = word(spec, "prepend", "", where);
  return [text](const Span& in) {
    if (in.text.empty()) return in;
    Span out;
    out.add(text, in.covered(0, utf8_length(static_cast<unsigned char>(in.text[0]))));
    out.text += in.text;
    out.origin.insert(out.origin.end(), in.origin.begin(), in.origin.end());
    return out;
  };
}

// Replace: each match of the pattern (a string, or a regular expression)
// becomes `content`, which comes from the match's last byte (as the Rust
// library aligns it).
Normalizer replace(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern")) throw bad_input(where, "a Replace normalizer without a pattern", "the file is damaged");
  const Pattern pattern = Pattern::of(spec["pattern"], where);
  const std::string to = word(spec, "content", "", where);
  return [pattern, to](const Span& in) {
    Span out;
    std::size_t at = 0;
    for (const auto& [b, e] : pattern.find(in.text)) {
      out.text.append(in.text, at, b - at);
      out.origin.insert(out.origin.end(), in.origin.begin() + static_cast<std::ptrdiff_t>(at),
                        in.origin.begin() + static_cast<std::ptrdiff_t>(b));
      out.add(to, in.origin[e - 1]);
      at = e;
    }
    out.text.append(in.text, at, std::string::npos);
    out.origin.insert(out.origin.end(), in.origin.begin() + static_cast<std::ptrdiff_t>(at), in.origin.end());
    return out;
  };
}

// Strip: whitespace removed from the start, the end, or both.
Normalizer strip(const nlohmann::json& spec, const std::string& where) {
  const bool left = flag(spec, "strip_left", true, where), right = flag(spec, "strip_right", true, where);
  return [left, right](const Span& in) {
    std::vector<std::size_t> starts;  // of each character, and the end
    std::vector<bool> space;
    for (std::size_t i = 0; i < in.text.size();) {
      std::int32_t c = 0;
      const std::size_t length = code_point(in.text, i, c);
      starts.push_back(i);
      space.push_back(is_whitespace(c));
      i += length;
    }
    starts.push_back(in.text.size());
    std::size_t first = 0, last = space.size();
    if (left) while (first < last && space[first]) ++first;
    if (right) while (last > first && space[last - 1]) --last;
    return in.part(starts[first], starts[last]);
  };
}

// Each character of `in` as `map` replaces it (by code point; "" drops it),
// every byte of the replacement coming from that character.
Span by_character(const Span& in, const std::function<std::string(utf8proc_int32_t, const std::string&)>& map) {
  Span out;
  for (std::size_t i = 0; i < in.text.size();) {
    std::int32_t c = 0;
    const std::size_t length = code_point(in.text, i, c);
    const std::string original = in.text.substr(i, length);
    const std::string result = map(c, original);
    if (result == original) {
      out.text += original;
      out.origin.insert(out.origin.end(), in.origin.begin() + static_cast<std::ptrdiff_t>(i),
                        in.origin.begin() + static_cast<std::ptrdiff_t>(i + length));
    } else if (!result.empty()) {
      out.add(result, in.covered(i, i + length));
    }
    i += length;
  }
  return out;
}

std::string encoded(utf8proc_int32_t c) {
  utf8proc_uint8_t bytes[4];
  const auto n = utf8proc_encode_char(c, bytes);
  return std::string(reinterpret_cast<char*>(bytes), static_cast<std::size_t>(n));
}

// Rust's char::to_lowercase: the simple mapping, but for U+0130 (the one
// character whose full lowercase is two).
std::string lower(utf8proc_int32_t c, const std::string& original) {
  if (c == 0x130) return "i\xcc\x87";
  const utf8proc_int32_t l = utf8proc_tolower(c);
  return l == c ? original : encoded(l);
}

bool is_chinese(utf8proc_int32_t c) {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) ||
         (c >= 0x2a700 && c <= 0x2b73f) || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
         (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

// StripAccents: every combining mark (Mn, Mc, Me) dropped, as they are
// (the Rust library does not decompose first; a file that wants it puts NFD before).
Normalizer strip_accents(const nlohmann::json&, const std::string&) {
  return [](const Span& in) {
    return by_character(in, [](utf8proc_int32_t c, const std::string& original) {
      const auto category = utf8proc_category(c);
      const bool mark = category == UTF8PROC_CATEGORY_MN || category == UTF8PROC_CATEGORY_MC || category == UTF8PROC_CATEGORY_ME;
      return mark ? std::string() : original;
    });
  };
}

// BERT's: control characters dropped and whitespace made a space, spaces
// around CJK ideographs, accents stripped (NFD, then no Mn), lowercase.
Normalizer bert(const nlohmann::json& spec, const std::string& where) {
  const bool clean = flag(spec, "clean_text", true, where), chinese = flag(spec, "handle_chinese_chars", true, where),
             lowercase = flag(spec, "lowercase", true, where), strip = flag(spec, "strip_accents", lowercase, where);
  // BERT's own accent stripping: NFD, then the non-spacing marks dropped.
  const Normalizer nfd = unicode(UTF8PROC_DECOMPOSE, where);
  const Normalizer accents = [nfd](const Span& in) {
    return by_character(nfd(in), [](utf8proc_int32_t c, const std::string& original) {
      return utf8proc_category(c) == UTF8PROC_CATEGORY_MN ? std::string() : original;
    });
  };
  return [=](const Span& in) {
    Span s = in;
    if (clean) {
      s = by_character(s, [](utf8proc_int32_t c, const std::string& original) {
        if (c == '\t' || c == '\n' || c == '\r') return std::string(" ");
        const auto category = utf8proc_category(c);
        const bool other = category == UTF8PROC_CATEGORY_CC || category == UTF8PROC_CATEGORY_CF ||
                           category == UTF8PROC_CATEGORY_CN || category == UTF8PROC_CATEGORY_CO ||
                           category == UTF8PROC_CATEGORY_CS;
        if (c == 0 || c == 0xfffd || other) return std::string();
        return is_whitespace(c) ? std::string(" ") : original;
      });
    }
    if (chinese) {
      s = by_character(s, [](utf8proc_int32_t c, const std::string& original) {
        return is_chinese(c) ? " " + original + " " : original;
      });
    }
    if (strip) s = accents(s);
    if (lowercase) s = by_character(s, &lower);
    return s;
  };
}

using Builder = Normalizer (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> builders = {
      {"NFC", [](const nlohmann::json&, const std::string& w) { return unicode(UTF8PROC_COMPOSE, w); }},
      {"NFD", [](const nlohmann::json&, const std::string& w) { return unicode(UTF8PROC_DECOMPOSE, w); }},
      {"NFKC", [](const nlohmann::json&, const std::string& w) { return unicode(UTF8PROC_COMPOSE | UTF8PROC_COMPAT, w); }},
      {"NFKD", [](const nlohmann::json&, const std::string& w) { return unicode(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, w); }},
      {"Sequence", &sequence},
      {"Prepend", &prepend},
      {"Replace", &replace},
      {"BertNormalizer", &bert},
      {"Lowercase", [](const nlohmann::json&, const std::string&) -> Normalizer {
         return [](const Span& in) { return by_character(in, &lower); };
       }},
      {"StripAccents", &strip_accents},
      {"Strip", &strip},
  };
  return builders;
}

}  // namespace

Normalizer make_normalizer(const nlohmann::json& spec, const std::string& where) {
  return registered(registry(), spec, "normalizer", where)(spec, where);
}

}  // namespace pevis::text
