#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pevis {

/// One input sequence: a label per position and the ids fed to the model.
struct TokenSequence {
  std::vector<std::string> labels;
  std::vector<std::int64_t> ids;
};

/// The most tokens pevis feeds a model in one sequence.
constexpr std::size_t kMaxTokens = 8192;

/// Splits UTF-8 text into whitespace-separated tokens. Throws `pevis::Error`
/// (exit 3) for text that is not UTF-8 (naming the byte offset), has no
/// token, or has more than `kMaxTokens`. `source` names the text in messages.
std::vector<std::string> split_tokens(const std::string& text, const std::string& source);

/// A vocabulary: one token per line, the line number (from 0) is its id.
/// Throws for invalid UTF-8 and for a token listed twice (naming both lines).
std::vector<std::string> parse_vocab(const std::string& text, const std::string& source);

/// Maps tokens to ids. When every token is a whole number they are ids
/// (labelled with the vocabulary's token when one is given); otherwise each
/// is looked up in `vocab`, and unknown tokens are an error listing them,
/// unless `unk` names a vocabulary token to use instead.
TokenSequence map_tokens(const std::vector<std::string>& tokens, const std::vector<std::string>* vocab,
                         const std::optional<std::string>& unk, const std::string& source);

/// Reads a whole text file (at most `limit` bytes), or throws (exit 3).
std::string read_text_file(const std::string& path, std::size_t limit);

}  // namespace pevis
