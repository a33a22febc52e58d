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
      utf8proc_int32_t c = 0;
      const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(in.text.data() + end),
                                      static_cast<utf8proc_ssize_t>(in.text.size() - end), &c);
      if (n <= 0 || starts_segment(c)) break;
      end += static_cast<std::size_t>(n);
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

Normalizer replace(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern") || !spec["pattern"].is_object() || !spec["pattern"].contains("String")) {
    throw bad_input(where, "a Replace normalizer with a Regex pattern is not implemented", "");
  }
  const std::string from = word(spec["pattern"], "String", "", where), to = word(spec, "content", "", where);
  if (from.empty()) throw bad_input(where, "a Replace normalizer with an empty pattern", "the file is damaged");
  return [from, to](const Span& in) {
    Span out;
    std::size_t i = 0;
    while (i < in.text.size()) {
      if (in.text.compare(i, from.size(), from) == 0) {
        out.add(to, in.covered(i, i + from.size()));
        i += from.size();
      } else {
        out.text += in.text[i];
        out.origin.push_back(in.origin[i]);
        ++i;
      }
    }
    return out;
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
  };
  return builders;
}

}  // namespace

Normalizer make_normalizer(const nlohmann::json& spec, const std::string& where) {
  const std::string type = spec.is_object() ? word(spec, "type", "", where) : "";
  const auto found = registry().find(type);
  if (found == registry().end()) {
    std::string known;
    for (const auto& [name, builder] : registry()) known += (known.empty() ? "" : ", ") + name;
    throw bad_input(where, "the normalizer '" + one_line(type) + "' is not implemented (pevis runs " + known + ")", "");
  }
  return found->second(spec, where);
}

}  // namespace pevis::text
