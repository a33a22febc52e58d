// Pre-tokenizers: the registry of tokenizer.json's `pre_tokenizer` types
// pevis implements. Regular expressions are PCRE2's, in UTF mode with
// Unicode properties (\p{L}, \p{N}, \s as Unicode defines them), with a
// match limit so that a pattern that backtracks for ever is stopped.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <cctype>

#include <memory>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

// What a pattern may cost per match attempt before it is stopped: far above
// any tokenizer's pattern on any text (they match in a few steps per byte).
constexpr std::uint32_t kMatchLimit = 10'000'000;

struct Pattern {
  std::shared_ptr<pcre2_code> code;
  std::string source;
};

Pattern compile(const std::string& source, const std::string& where) {
  int error = 0;
  PCRE2_SIZE at = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &at, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw bad_input(where, "the pattern '" + one_line(source.substr(0, 80)) + "' is not a regular expression pevis reads (" +
                               reinterpret_cast<const char*>(message) + " at " + std::to_string(at) + ")",
                    "");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // faster where the JIT is there; the same matches
  return {std::shared_ptr<pcre2_code>(code, &pcre2_code_free), source};
}

// The matches of `pattern` in `text`, as byte ranges, leftmost first, empty ones skipped.
std::vector<std::pair<std::size_t, std::size_t>> matches(const Pattern& pattern, const std::string& text) {
  std::vector<std::pair<std::size_t, std::size_t>> found;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(pattern.code.get(), nullptr), &pcre2_match_data_free);
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(pcre2_match_context_create(nullptr),
                                                                                   &pcre2_match_context_free);
  pcre2_set_match_limit(context.get(), kMatchLimit);
  pcre2_set_depth_limit(context.get(), kMatchLimit);
  std::size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(pattern.code.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                               PCRE2_NO_UTF_CHECK, data.get(), context.get());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw bad_input("the pattern '" + one_line(pattern.source.substr(0, 80)) + "'",
                      rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT
                          ? "it backtracks without end on this text, so it was stopped"
                          : "matching failed (PCRE2 error " + std::to_string(rc) + ")",
                      "the tokenizer's pattern is hostile or damaged");
    }
    const PCRE2_SIZE* at = pcre2_get_ovector_pointer(data.get());
    const std::size_t begin = at[0], end = at[1];
    if (end > begin) {
      found.emplace_back(begin, end);
      start = end;
    } else {
      start = begin + (begin < text.size() ? utf8_length(static_cast<unsigned char>(text[begin])) : 1);
    }
  }
  return found;
}

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
      case Behavior::kMergedWithNext:
        if (!kept.empty() && previous_match) kept.back().second = range.second;
        else kept.push_back(range);
        break;
      case Behavior::kContiguous:
        if (match && previous_match && !kept.empty()) kept.back().second = range.second;
        else kept.push_back(range);
        break;
    }
    previous_match = match;
  }
  std::vector<Span> out;
  for (const auto& [b, e] : kept) {
    if (e > b) out.push_back(span.part(b, e));
  }
  return out;
}

PreTokenizer split(const nlohmann::json& spec, const std::string& where) {
  if (!spec.contains("pattern") || !spec["pattern"].is_object()) {
    throw bad_input(where, "a Split pre-tokenizer without a pattern", "the file is damaged");
  }
  const nlohmann::json& p = spec["pattern"];
  std::string source;
  if (p.contains("Regex")) {
    source = word(p, "Regex", "", where);
  } else {
    // A plain string: its characters, escaped.
    for (const char c : word(p, "String", "", where)) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) source += '\\';
      source += c;
    }
  }
  const Pattern pattern = compile(source, where);
  const std::string name = word(spec, "behavior", "Isolated", where);
  const std::map<std::string, Behavior> behaviors = {{"Removed", Behavior::kRemoved},
                                                     {"Isolated", Behavior::kIsolated},
                                                     {"MergedWithPrevious", Behavior::kMergedWithPrevious},
                                                     {"MergedWithNext", Behavior::kMergedWithNext},
                                                     {"Contiguous", Behavior::kContiguous}};
  const auto behavior = behaviors.find(name);
  if (behavior == behaviors.end()) throw bad_input(where, "the Split behavior '" + one_line(name) + "' is not implemented", "");
  const bool invert = flag(spec, "invert", false, where);
  return [pattern, b = behavior->second, invert](std::vector<Span> spans) {
    std::vector<Span> out;
    for (const auto& s : spans) {
      for (auto& piece : cut(s, matches(pattern, s.text), b, invert)) out.push_back(std::move(piece));
    }
    return out;
  };
}

// GPT-2's pattern, which ByteLevel applies where `use_regex`.
const char* const kGpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

PreTokenizer byte_level(const nlohmann::json& spec, const std::string& where) {
  const bool prefix = flag(spec, "add_prefix_space", true, where), regex = flag(spec, "use_regex", true, where);
  const Pattern pattern = compile(kGpt2Pattern, where);
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
        for (auto& piece : cut(s, matches(pattern, s.text), Behavior::kIsolated, false)) pieces.push_back(std::move(piece));
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
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    const std::size_t length = n > 0 ? static_cast<std::size_t>(n) : 1;
    if (n > 0 && matches(c)) found.emplace_back(i, i + length);
    i += length;
  }
  return found;
}

bool is_whitespace(std::int32_t c) {  // Rust's char::is_whitespace (White_Space)
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
         c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
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

Behavior behavior_of(const nlohmann::json& spec, const std::string& where, const char* fallback) {
  const std::string name = word(spec, "behavior", fallback, where);
  const std::map<std::string, Behavior> behaviors = {{"Removed", Behavior::kRemoved},
                                                     {"Isolated", Behavior::kIsolated},
                                                     {"MergedWithPrevious", Behavior::kMergedWithPrevious},
                                                     {"MergedWithNext", Behavior::kMergedWithNext},
                                                     {"Contiguous", Behavior::kContiguous}};
  const auto found = behaviors.find(name);
  if (found == behaviors.end()) throw bad_input(where, "the behavior '" + one_line(name) + "' is not implemented", "");
  return found->second;
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
  return by_characters(&is_punctuation, behavior_of(spec, where, "Isolated"));
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

using Builder = PreTokenizer (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, Builder>& registry() {
  static const std::map<std::string, Builder> builders = {
      {"Split", &split},          {"ByteLevel", &byte_level}, {"Sequence", &sequence},  {"BertPreTokenizer", &bert},
      {"WhitespaceSplit", &whitespace_split}, {"Punctuation", &punctuation}, {"Digits", &digits}};
  return builders;
}

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& where) {
  const std::string type = spec.is_object() ? word(spec, "type", "", where) : "";
  const auto found = registry().find(type);
  if (found == registry().end()) {
    std::string known;
    for (const auto& [name, builder] : registry()) known += (known.empty() ? "" : ", ") + name;
    throw bad_input(where, "the pre-tokenizer '" + one_line(type) + "' is not implemented (pevis runs " + known + ")", "");
  }
  return found->second(spec, where);
}

}  // namespace pevis::text
