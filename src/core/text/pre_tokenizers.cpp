// Pre-tokenizers: the registry of tokenizer.json's `pre_tokenizer` types
// pevis implements. Regular expressions are pipeline.h's Pattern (PCRE2).
#include <utf8proc.h>

#include <algorithm>
#include <cctype>

#include <memory>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// `span` cut by the ranges `found` as `behavior` says (invert: the ranges are the text kept apart).
std::vector<Span> cut(const Span& span, const std::vector<std::pair<std::size_t, std::size_t>>& found, Behavior behavior,
                      bool invert) {
  std::vector<std::pair<std::pair<std::size_t, std::size_t>, bool>> pieces;  // range, is a match
  std::size_t at = 0;
  for (const auto& [b, e] : found) {
    if (b > at) pieces.push_back({{at, b}, invert});
    pieces.push_back({{b, e}, !invert});
    at = e;
  }
  if (at < span.text.size()) pieces.push_back({{at, span.text.size()}, invert});
  std::vector<std::pair<std::size_t, std::size_t>> kept;
  bool previous_match = false;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto [range, match] = pieces[i];
    switch (behavior) {
      case Behavior::kRemoved:
        if (!match) kept.push_back(range);
        break;
      case Behavior::kIsolated:
        kept.push_back(range);
        break;
      case Behavior::kMergedWithPrevious:
        if (match && !kept.empty() && !previous_match) kept.back().second = range.second;
        else kept.push_back(range);
        break;
      case Behavior::kMergedWithNext:  // done below, from the end
        kept.push_back(range);
        break;
      case Behavior::kContiguous:
        if (match && previous_match && !kept.empty()) kept.back().second = range.second;
        else kept.push_back(range);
        break;
    }
    previous_match = match;
  }
  if (behavior == Behavior::kMergedWithNext) {
    // From the end: a match joins the piece after it unless that is a match too.
    kept.clear();
    bool next_match = false;
    for (std::size_t i = pieces.size(); i-- > 0;) {
      const auto [range, match] = pieces[i];
      if (match && !next_match && !kept.empty()) kept.back().first = range.first;
      else kept.push_back(range);
      next_match = match;
    }
    std::reverse(kept.begin(), kept.end());
  }
  std::vector<Span> out;
  for (const auto& [b, e] : kept) {
    if (e > b) out.push_back(span.part(b, e));
  }
  return out;
}

Behavior behavior_of(const nlohmann::json& spec, const std::string& where, const char* fallback, const char* owner) {
  const std::string name = word(spec, "behavior", fallback, where);
  static const std::map<std::string, Behavior> behaviors = {{"Removed", Behavior::kRemoved},
                                                            {"Isolated", Behavior::kIsolated},
                                                            {"MergedWithPrevious", Behavior::kMergedWithPrevious},
                                                            {"MergedWithNext", Behavior::kMergedWithNext},
                                                            {"Contiguous", Behavior::kContiguous}};
  const auto found = behaviors.find(name);
  if (found == behaviors.end()) {
    throw bad_input(where, std::string("the ") + owner + " behavior '" + one_line(name) + "' is not implemented", "");
  }
  return found->second;
}

PreTokenizer split(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern")) throw bad_input(where, "a Split pre-tokenizer without a pattern", "the file is damaged");
  const Pattern pattern = Pattern::of(spec["pattern"], where);
  const Behavior behavior = behavior_of(spec, where, "Isolated", "Split");
  const bool invert = flag(spec, "invert", false, where);
  return [pattern, behavior, invert](std::vector<Span> spans) {
    std::vector<Span> out;
    for (const auto& s : spans) {
      for (auto& piece : cut(s, pattern.find(s.text), behavior, invert)) out.push_back(std::move(piece));
    }
    return out;
  };
}

// GPT-2's pattern, which ByteLevel applies where `use_regex`.
const char* const kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

PreTokenizer byte_level(const nlohmann::json& spec, const std::string& where) {
  const bool prefix = flag(spec, "add_prefix_space", true, where), regex = flag(spec, "use_regex", true, where);
  const Pattern pattern = Pattern::regex(kGpt2Pattern, where);
  return [prefix, regex, pattern](std::vector<Span> spans) {
    std::vector<Span> pieces;
    for (auto& s : spans) {
      if (prefix && (s.text.empty() || s.text[0] != ' ')) {
        Span with;
        with.add(" ", s.text.empty() ? std::pair<std::size_t, std::size_t>{0, 0} : s.origin[0]);
        with.text += s.text;
        with.origin.insert(with.origin.end(), s.origin.begin(), s.origin.end());
        s = std::move(with);
      }
      if (regex) {
        for (auto& piece : cut(s, pattern.find(s.text), Behavior::kIsolated, false)) pieces.push_back(std::move(piece));
      } else if (!s.text.empty()) {
        pieces.push_back(std::move(s));
      }
    }
    const auto& table = byte_characters();
    for (auto& s : pieces) {
      Span mapped;
      for (std::size_t i = 0; i < s.text.size(); ++i) mapped.add(table[static_cast<unsigned char>(s.text[i])], s.origin[i]);
      s = std::move(mapped);
    }
    return pieces;
  };
}

PreTokenizer sequence(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pretokenizers") || !spec["pretokenizers"].is_array()) {
    throw bad_input(where, "a Sequence pre-tokenizer without a list of pretokenizers", "the file is damaged");
  }
  std::vector<PreTokenizer> parts;
  for (const auto& part : spec["pretokenizers"]) parts.push_back(make_pre_tokenizer(part, where));
  return [parts](std::vector<Span> spans) {
    for (const auto& p : parts) spans = p(std::move(spans));
    return spans;
  };
}

// Each character of `s` for which `matches` holds, as a range of its own.
std::vector<std::pair<std::size_t, std::size_t>> characters(const std::string& s,
                                                            const std::function<bool(std::int32_t)>& matches) {
  std::vector<std::pair<std::size_t, std::size_t>> found;
  for (std::size_t i = 0; i < s.size();) {
    std::int32_t c = 0;
    const std::size_t length = code_point(s, i, c);
    if (c >= 0 && matches(c)) found.emplace_back(i, i + length);
    i += length;
  }
  return found;
}

bool is_punctuation(std::int32_t c) {  // ASCII punctuation, or Unicode's P categories
  if (c < 0x80) return std::ispunct(c) != 0;
  const auto category = utf8proc_category(c);
  return category >= UTF8PROC_CATEGORY_PC && category <= UTF8PROC_CATEGORY_PO;
}

// Splits each span by the characters `matches` picks out, as `behavior` says.
PreTokenizer by_characters(std::function<bool(std::int32_t)> matches, Behavior behavior) {
  return [matches, behavior](std::vector<Span> spans) {
    std::vector<Span> out;
    for (const auto& s : spans) {
      for (auto& piece : cut(s, characters(s.text, matches), behavior, false)) out.push_back(std::move(piece));
    }
    return out;
  };
}

// BERT's: whitespace removed, each punctuation character a piece of its own.
PreTokenizer bert(const nlohmann::json&, const std::string&) {
  const PreTokenizer spaces = by_characters(&is_whitespace, Behavior::kRemoved);
  const PreTokenizer marks = by_characters(&is_punctuation, Behavior::kIsolated);
  return [spaces, marks](std::vector<Span> spans) { return marks(spaces(std::move(spans))); };
}

PreTokenizer whitespace_split(const nlohmann::json&, const std::string&) {
  return by_characters(&is_whitespace, Behavior::kRemoved);
}

PreTokenizer punctuation(const nlohmann::json& spec, const std::string& where) {
  return by_characters(&is_punctuation, behavior_of(spec, where, "Isolated", "Punctuation"));
}

PreTokenizer digits(const nlohmann::json& spec, const std::string& where) {
  const bool each = flag(spec, "individual_digits", false, where);
  return by_characters([](std::int32_t c) {  // Rust's char::is_numeric: Nd, Nl, No
                         const auto category = utf8proc_category(c);
                         return category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL ||
                                category == UTF8PROC_CATEGORY_NO;
                       },
                       each ? Behavior::kIsolated : Behavior::kContiguous);
}

// Whitespace: runs of word characters and runs of other characters that
// are not spaces (the Rust library's `\w+|[^\w\s]+`, with its Unicode
// `\w`: alphabetic, marks, decimal digits, connector punctuation, joiners).
bool is_word(std::int32_t c) {
  if (c < 0x80) return std::isalnum(c) != 0 || c == '_';
  if (c == 0x200c || c == 0x200d) return true;
  if ((c >= 0x24b6 && c <= 0x24e9) || (c >= 0x1f130 && c <= 0x1f149) || (c >= 0x1f150 && c <= 0x1f169) ||
      (c >= 0x1f170 && c <= 0x1f189)) {
    return true;  // the letters that are symbols (circled, squared): Other_Alphabetic
  }
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

PreTokenizer whitespace(const nlohmann::json&, const std::string&) {
  const PreTokenizer spaces = by_characters(&is_whitespace, Behavior::kRemoved);
  const PreTokenizer words = by_characters(&is_word, Behavior::kContiguous);  // word runs, and the runs between
  return [spaces, words](std::vector<Span> spans) { return words(spaces(std::move(spans))); };
}

// Metaspace (SentencePiece's): spaces become the replacement character
// (`▁`), which is put before the text too (always, only before the start of
// the input: "first", or never), and where `split` each `▁` starts a piece.
PreTokenizer metaspace(const nlohmann::json& spec, const std::string& where) {
  const std::string replacement = word(spec, "replacement", "\xe2\x96\x81", where);
  if (replacement.empty() || utf8_length(static_cast<unsigned char>(replacement[0])) != replacement.size()) {
    throw bad_input(where, "the Metaspace replacement is not one character", "the file is damaged");
  }
  std::string scheme = word(spec, "prepend_scheme", "always", where);
  if (spec.contains("add_prefix_space") && spec["add_prefix_space"] == false) {
    if (scheme != "never" && spec.contains("prepend_scheme")) {
      throw bad_input(where, "the Metaspace add_prefix_space does not match its prepend_scheme", "the file is damaged");
    }
    scheme = "never";
  }
  if (scheme != "always" && scheme != "first" && scheme != "never") {
    throw bad_input(where, "the Metaspace prepend_scheme '" + one_line(scheme) + "' is not implemented", "");
  }
  const bool split = flag(spec, "split", true, where);
  return [replacement, scheme, split](std::vector<Span> spans) {
    std::vector<Span> out;
    for (const auto& s : spans) {
      Span m;
      for (std::size_t i = 0; i < s.text.size(); ++i) {
        if (s.text[i] == ' ') {
          m.add(replacement, s.origin[i]);
        } else {
          m.text += s.text[i];
          m.origin.push_back(s.origin[i]);
        }
      }
      const bool starts = m.text.rfind(replacement, 0) == 0;
      if (!m.text.empty() && !starts && (scheme == "always" || (scheme == "first" && m.origin[0].first == 0))) {
        Span with;
        with.add(replacement, m.covered(0, utf8_length(static_cast<unsigned char>(m.text[0]))));
        with.text += m.text;
        with.origin.insert(with.origin.end(), m.origin.begin(), m.origin.end());
        m = std::move(with);
      }
      if (!split) {
        if (!m.text.empty()) out.push_back(std::move(m));
        continue;
      }
      std::vector<std::pair<std::size_t, std::size_t>> found;
      for (std::size_t at = m.text.find(replacement); at != std::string::npos; at = m.text.find(replacement, at + 1)) {
        found.emplace_back(at, at + replacement.size());
      }
      for (auto& piece : cut(m, found, Behavior::kMergedWithNext, false)) out.push_back(std::move(piece));
    }
    return out;
  };
}

using Builder = PreTokenizer (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> builders = {
      {"Split", &split},          {"ByteLevel", &byte_level}, {"Sequence", &sequence},  {"BertPreTokenizer", &bert},
      {"WhitespaceSplit", &whitespace_split}, {"Punctuation", &punctuation}, {"Digits", &digits},
      {"Whitespace", &whitespace}, {"Metaspace", &metaspace}};
  return builders;
}

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& where) {
  return registered(registry(), spec, "pre-tokenizer", where)(spec, where);
}

}  // namespace pevis::text
