#pragma once
// The pieces of a tokenizer.json pipeline (text/): text that remembers where
// each of its bytes came from, and the families of components, each a
// registry from the `type` tokenizer.json names to its builder.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pevis/text/tokenizer.h"

namespace pevis::text {

/// Text on its way through the pipeline: for each of its bytes, the bytes of
/// the input it came from, [first, second).
struct Span {
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> origin;

  /// The input's bytes [begin, end) as they are.
  static Span of(std::string_view input, std::size_t begin, std::size_t end);
  /// Bytes [begin, end) of this span.
  Span part(std::size_t begin, std::size_t end) const;
  /// The input's bytes covered by bytes [begin, end) of this span.
  std::pair<std::size_t, std::size_t> covered(std::size_t begin, std::size_t end) const;
  /// Appends `bytes`, each coming from the input's [from.first, from.second).
  void add(std::string_view bytes, std::pair<std::size_t, std::size_t> from);
};

using Normalizer = std::function<Span(const Span&)>;
using PreTokenizer = std::function<std::vector<Span>(std::vector<Span>)>;
/// A model: one pre-tokenized span to tokens (id, piece, input bytes).
using Model = std::function<std::vector<Token>(const Span&)>;
/// A post-processor: the tokens of one sequence, and whether to add the special ones.
using PostProcessor = std::function<std::vector<Token>(std::vector<Token>, bool)>;
/// A decoder: what decoding does to a list of token strings (the Rust
/// library's `decode_chain`), and one token's piece as the bytes it stands
/// for, for its label (a step that joins or trims a whole sequence leaves a
/// lone piece as it is).
struct Decoder {
  std::function<std::vector<std::string>(std::vector<std::string>)> chain;
  std::function<std::string(const std::string&)> piece;
};

/// The component `spec` describes (`spec["type"]`), or `pevis::Error` (exit 3)
/// naming a type pevis does not implement. `where` names the file.
Normalizer make_normalizer(const nlohmann::json& spec, const std::string& where);
PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& where);
/// `vocabulary` is filled with the model's pieces and their ids; the model
/// may refer to it, so it must outlive the model (both live in the tokenizer).
Model make_model(const nlohmann::json& spec, const std::string& where,
                 std::unordered_map<std::string, std::int64_t>& vocabulary);
PostProcessor make_post_processor(const nlohmann::json& spec, const std::string& where,
                                  const std::unordered_map<std::string, std::int64_t>& vocabulary);
Decoder make_decoder(const nlohmann::json& spec, const std::string& where);

/// GPT-2's byte-to-character table: each byte a printable character.
const std::vector<std::string>& byte_characters();

/// The UTF-8 length of the character starting with byte `lead` (1 for a
/// byte that cannot start one).
std::size_t utf8_length(unsigned char lead);

/// A regular expression of tokenizer.json (PCRE2, in UTF mode with Unicode
/// properties: \p{L}, \p{N} and \s as Unicode defines them), with a match
/// limit so that a pattern that backtracks for ever is stopped (exit 3).
class Pattern {
 public:
  /// `spec` is {"Regex": "..."} or {"String": "..."} (matched as it is).
  static Pattern of(const nlohmann::json& spec, const std::string& where);
  static Pattern regex(const std::string& source, const std::string& where);
  /// The matches in `text`, as byte ranges, leftmost first, empty ones skipped.
  std::vector<std::pair<std::size_t, std::size_t>> find(const std::string& text) const;

 private:
  std::shared_ptr<const void> code_;
  std::string source_;
};

/// The code point at byte `i` of `s` into `c` (-1 where the bytes there are
/// not UTF-8), and its length in bytes (1 for such a byte).
std::size_t code_point(const std::string& s, std::size_t i, std::int32_t& c);

/// A byte's byte-fallback piece: `<0xE2>`.
std::string byte_piece(unsigned char b);

/// Rust's char::is_whitespace (Unicode's White_Space).
bool is_whitespace(std::int32_t c);

/// `bytes` as UTF-8, each maximal invalid run replaced by U+FFFD, as Rust's
/// String::from_utf8_lossy does.
std::string lossy_utf8(std::string_view bytes);

/// The builder `registry` holds for `spec["type"]` (`fallback` where the
/// file names none), or `pevis::Error` (exit 3) naming the type and the
/// ones pevis runs: "the {family} 'X' is not implemented (pevis runs ...)".
template <typename Builder>
const Builder& registered(const std::map<std::string, Builder>& registry, const nlohmann::json& spec, const char* family,
                          const std::string& where, const char* fallback = "");

/// A value of `spec` of the expected kind, or `fallback` where absent or null;
/// another kind is `pevis::Error` (exit 3) naming `where` and the key.
bool flag(const nlohmann::json& spec, const char* key, bool fallback, const std::string& where);
std::string word(const nlohmann::json& spec, const char* key, const std::string& fallback, const std::string& where);

/// The type a component names, for messages.
std::string type_of(const nlohmann::json& spec, const std::string& where, const char* fallback);
[[noreturn]] void not_implemented(const char* family, const std::string& type, const std::string& known,
                                  const std::string& where);

template <typename Builder>
const Builder& registered(const std::map<std::string, Builder>& registry, const nlohmann::json& spec, const char* family,
                          const std::string& where, const char* fallback) {
  const std::string type = type_of(spec, where, fallback);
  const auto found = registry.find(type);
  if (found != registry.end()) return found->second;
  std::string known;
  for (const auto& entry : registry) known += (known.empty() ? "" : ", ") + entry.first;
  not_implemented(family, type, known, where);
}

}  // namespace pevis::text
