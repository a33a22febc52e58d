// libFuzzer target: the token and vocabulary parsers. Any exception other
// than pevis::Error, or a sanitizer report, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/base/error.h"
#include "pevis/io/tokens.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A form feed splits the input: the vocabulary before it, the tokens after.
  const std::size_t split = text.find('\f');
  const std::string vocab_text = split == std::string::npos ? text : text.substr(0, split);
  const std::string tokens_text = split == std::string::npos ? text : text.substr(split + 1);
  try {
    const auto tokens = pevis::split_tokens(tokens_text, "tokens");
    try {
      const auto vocab = pevis::parse_vocab(vocab_text, "vocab");
      pevis::map_tokens(tokens, &vocab, std::nullopt, "tokens");
      if (!vocab.empty() && !vocab[0].empty()) pevis::map_tokens(tokens, &vocab, vocab[0], "tokens");
    } catch (const pevis::Error&) {
    }
    pevis::map_tokens(tokens, nullptr, std::nullopt, "tokens");
  } catch (const pevis::Error&) {
  }
  return 0;
}
