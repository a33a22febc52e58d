// libFuzzer target: a tokenizer.json and a text to encode with it, split at
// the first NUL byte: loading (components, vocabulary, merges, added
// tokens, patterns), encoding (normalisation, patterns, merges, Viterbi,
// offsets), labels and decoding. Refusals are pevis::Error; nothing else
// may escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/base/error.h"
#include "pevis/text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = input.find('\0');
  const std::string json = input.substr(0, cut), text = cut == std::string::npos ? "" : input.substr(cut + 1);
  try {
    const auto tokenizer = pevis::text::Tokenizer::parse(json, "fuzz");
    const pevis::text::CharacterOffsets characters(text);
    for (const bool special : {true, false}) {
      const auto encoding = tokenizer.encode(text, special);
      for (const auto& token : encoding.tokens) {
        (void)tokenizer.label(token);
        (void)characters(token.begin, token.end);
      }
      auto ids = encoding.ids();
      ids.push_back(static_cast<std::int64_t>(size));  // an id of no piece, most likely
      (void)tokenizer.decode(ids, special);
    }
  } catch (const pevis::Error&) {
  }
  return 0;
}
