// The regular expressions of tokenizer.json, run by PCRE2: UTF mode with
// Unicode properties, JIT-compiled where the JIT is there (the same
// matches), and a match and depth limit per attempt.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pevis/base/error.h"
#include "pipeline.h"

namespace pevis::text {
namespace {

// What a pattern may cost per match attempt before it is stopped: far above
// any tokenizer's pattern on any text (they match in a few steps per byte).
constexpr std::uint32_t kMatchLimit = 10'000'000;

}  // namespace

Pattern Pattern::regex(const std::string& source, const std::string& where) {
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
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  Pattern p;
  p.code_ = std::shared_ptr<const void>(code, [](const void* c) { pcre2_code_free(static_cast<pcre2_code*>(const_cast<void*>(c))); });
  p.source_ = source;
  return p;
}

Pattern Pattern::of(const nlohmann::json& spec, const std::string& where) {
  if (!spec.is_object() || !(spec.contains("Regex") || spec.contains("String"))) {
    throw bad_input(where, "a pattern that is neither a Regex nor a String", "the file is damaged");
  }
  if (spec.contains("Regex")) return regex(word(spec, "Regex", "", where), where);
  std::string source;  // the string's characters, each matched as itself
  for (const char c : word(spec, "String", "", where)) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) source += '\\';
    source += c;
  }
  return regex(source, where);
}

std::vector<std::pair<std::size_t, std::size_t>> Pattern::find(const std::string& text) const {
  auto* code = static_cast<pcre2_code*>(const_cast<void*>(code_.get()));
  std::vector<std::pair<std::size_t, std::size_t>> found;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(pcre2_match_data_create_from_pattern(code, nullptr),
                                                                           &pcre2_match_data_free);
  std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(pcre2_match_context_create(nullptr),
                                                                                   &pcre2_match_context_free);
  pcre2_set_match_limit(context.get(), kMatchLimit);
  pcre2_set_depth_limit(context.get(), kMatchLimit);
  std::size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, PCRE2_NO_UTF_CHECK,
                               data.get(), context.get());
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw bad_input("the pattern '" + one_line(source_.substr(0, 80)) + "'",
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

}  // namespace pevis::text
