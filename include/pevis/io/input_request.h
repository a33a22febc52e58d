#pragma once
// A model's one input as the user asked for it: plain values, parsed at the
// door (the front executable, without LibTorch), built by io/model_input.h.

#include <cstdint>
#include <string>
#include <vector>

namespace pevis {

struct InputRequest {
  std::string input;                ///< token file (or text, where a tokenizer reads it)
  std::vector<std::string> texts;   ///< --text: texts for the tokenizer, one input each
  std::string tokenizer;            ///< --tokenizer: a tokenizer.json (else a folder's own)
  std::string vocab;                ///< vocabulary file: one token per line
  std::string unk;                  ///< the vocabulary's token for unknown words
  bool batch_first = false;         ///< token ids as [1, S] (--layout batch-first), else [S, 1]
  std::vector<std::int64_t> shape;  ///< a random float input of this shape instead (--input-shape)
  std::uint64_t seed = 0;           ///< of that random input, or of the random block
  /// --repeat-random P: P random token ids (from the seed), then the same P
  /// again: the input on which induction heads show. 0: not asked for
  /// (any other value is asked for, and checked).
  std::int64_t repeat_random = 0;
  /// --dtype bfloat16: a folder pevis builds from config.json computes in
  /// bfloat16, as transformers computes a model loaded in that dtype (else
  /// float32). Programs compute in the dtypes they were saved with.
  bool bfloat16 = false;

  /// True when the user gave an input (tokens or a shape).
  bool given() const { return !input.empty() || !shape.empty() || !texts.empty() || repeat_random != 0; }
};

}  // namespace pevis
