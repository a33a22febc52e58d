#pragma once
// Hugging Face tokenizer.json files read as data (text/): the normalizer,
// pre-tokenizer, model, post-processor and added tokens it describes, run in
// the order the Rust `tokenizers` library runs them. No LibTorch: the front
// executable serves `pevis tokenize`. A component pevis does not implement
// is refused by name when the file is loaded, never skipped.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pevis::text {

/// One token of an encoding.
struct Token {
  std::int64_t id = 0;
  std::string piece;        ///< as the vocabulary spells it (byte-level `Ġ`, `▁`, `##`)
  std::size_t begin = 0;    ///< the bytes of the input it covers: [begin, end)
  std::size_t end = 0;      ///< (a token the post-processor adds covers nothing)
  bool special = false;     ///< a special added token, or one the post-processor added
};

struct Encoding {
  std::vector<Token> tokens;
  std::vector<std::int64_t> ids() const;
};

class Tokenizer {
 public:
  /// Reads `path`, a tokenizer.json or a folder holding one. Throws
  /// `pevis::Error`: exit 3 for a file that is not a tokenizer pevis can run
  /// exactly (naming the component it does not implement), exit 4 for a
  /// file it cannot read.
  static Tokenizer load(const std::string& path);
  /// The same from the text of a tokenizer.json, named `name` in messages.
  static Tokenizer parse(const std::string& json, const std::string& name);

  /// `text` (UTF-8; invalid bytes are refused, exit 3) as the tokenizer
  /// encodes it; with the special tokens its post-processor adds where
  /// `add_special` (what `tokenizer(text)` does in transformers).
  Encoding encode(std::string_view text, bool add_special = true) const;

  /// The text a token stands for, made readable: the decoder's bytes of its
  /// piece (byte-level `Ġ` and `▁` as spaces), shown as `<0xE2>`-style bytes
  /// where they are not valid UTF-8 on their own, and invisible or
  /// bidirectional control characters as `⟨U+202E⟩`.
  std::string label(const Token& token) const;
  /// The labels of an encoding's tokens: as `label`, but a character whose
  /// bytes are split across tokens next to each other (a byte-fallback run,
  /// byte-level pieces of an emoji) is shown whole in each of them, marked
  /// with the part each holds: `☕(1/3)`, `☕(2/3)`, `☕(3/3)`.
  std::vector<std::string> labels(const std::vector<Token>& tokens) const;

  /// The text `ids` stand for, as the Rust library's `decode` gives it: each
  /// id's piece (an added token's content), through the decoders (joined by
  /// spaces where there are none); ids of no piece are left out, and so are
  /// special tokens where `skip_special`.
  std::string decode(const std::vector<std::int64_t>& ids, bool skip_special = false) const;

  const std::string& path() const;
  std::size_t vocabulary_size() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

/// Byte offsets of a text as character offsets, as Python's and Node's
/// bindings give them: a token that covers part of a character (one byte of
/// it) covers all of it. Made once per text; each lookup is constant time.
class CharacterOffsets {
 public:
  explicit CharacterOffsets(std::string_view text);
  /// Bytes [begin, end) of the text, as characters.
  std::pair<std::size_t, std::size_t> operator()(std::size_t begin, std::size_t end) const;

 private:
  std::vector<std::size_t> before_;  ///< per byte offset: characters that start before it
  std::vector<bool> inside_;         ///< per byte offset: within a character, not at its start
};

}  // namespace pevis::text
