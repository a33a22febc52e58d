#pragma once

// What the built-in models are, without building them: `pevis builtins`
// lists them in the front executable, which does not load LibTorch.

#include <cstddef>
#include <string>
#include <vector>

namespace pevis {

/// The prefix that names a built-in model wherever a model file is accepted.
constexpr const char* kBuiltinPrefix = "builtin:";

/// One built-in model.
struct BuiltinInfo {
  std::string name;         ///< e.g. "reverse"
  std::string description;  ///< one line
  std::string example;      ///< a pevis command that shows it
};

/// Every built-in, in the order `pevis builtins` lists them.
const std::vector<BuiltinInfo>& builtin_list();

/// The vocabulary (one token per line) and a sample sequence of
/// builtin:transformer-lm, and a sample input of builtin:reverse.
std::string builtin_lm_vocab();
std::string builtin_lm_sequence();
std::string builtin_reverse_sequence();

/// Tokens in builtin:transformer-lm's vocabulary.
std::size_t builtin_lm_vocab_size();

}  // namespace pevis
