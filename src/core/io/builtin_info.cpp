#include "pevis/io/builtin_info.h"

namespace pevis {
namespace {

const char* kLmWords[] = {"<unk>", "<eos>", "the", "a",     "cat",  "dog",   "sat",  "ran",   "on",  "in",
                          "mat",   "park",  "and", "then",  "it",   "was",   "very", "happy", "big", "small",
                          "red",   "ball",  "saw", "chased", "home", "went",  "she",  "he",    "to",  "with"};

}  // namespace

const std::vector<BuiltinInfo>& builtin_list() {
  static const std::vector<BuiltinInfo> list = {
      {"simple-net", "the classic bias tutorial's network: Linear 10->20, ReLU, Linear 20->10", "pevis bias builtin:simple-net"},
      {"simple-net-trained", "simple-net after 200 SGD steps on fixed data", "pevis bias builtin:simple-net builtin:simple-net-trained"},
      {"transformer-lm",
       "the word-language-model example's Transformer: embedding, sinusoidal pe buffer [5000, 1, 64], 2 causal "
       "encoder layers of 4 heads, linear decoder; input: token ids [S, 1]",
       "pevis attention builtin:transformer-lm --input seq.txt --vocab vocab.txt"},
      {"self-attention", "the classic self-attention block: Q, K, V and output projections, 8 heads, 4-D softmax; "
                         "input: floats [1, L, 64]",
       "pevis attention builtin:self-attention --input-shape 1,12,64"},
      {"reverse", "one attention layer trained inside pevis to reverse 8 digits: it must attend to the mirrored "
                  "position (an anti-diagonal); input: token ids [1, 8]",
       "pevis attention builtin:reverse --input reverse.txt --layout batch-first"},
  };
  return list;
}

std::string builtin_lm_vocab() {
  std::string text;
  for (const char* word : kLmWords) text += std::string(word) + "\n";
  return text;
}

std::string builtin_lm_sequence() { return "the cat sat on the mat and then the dog chased a red ball in the park\n"; }

std::string builtin_reverse_sequence() { return "3 1 4 1 5 9 2 6\n"; }

std::size_t builtin_lm_vocab_size() { return sizeof kLmWords / sizeof *kLmWords; }

}  // namespace pevis
