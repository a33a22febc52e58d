#pragma once

#include <string>
#include <vector>

#include "pevis/model.h"

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

/// Builds `builtin:NAME` as a TorchScript module (deterministic weights from
/// a fixed seed; trained ones are trained on first use and cached) and
/// returns it as a Model, exactly like a loaded file. Throws `pevis::Error`
/// (exit 3) for an unknown name, listing the known ones.
Model load_builtin(const std::string& name);

/// The vocabulary (one token per line) and a sample sequence of
/// builtin:transformer-lm, and a sample input of builtin:reverse.
std::string builtin_lm_vocab();
std::string builtin_lm_sequence();
std::string builtin_reverse_sequence();

/// How well builtin:reverse has learnt its task.
struct ReverseReport {
  double sequence_accuracy = 0;  ///< share of held-out sequences reversed without error
  double seconds = 0;            ///< training time (0 when it came from the cache)
  bool cached = false;
  std::string cache_path;        ///< where it is kept ("" when it could not be)
};

/// Loads (or trains and caches) builtin:reverse and measures it on held-out
/// sequences.
ReverseReport reverse_report();

/// Where pevis keeps trained built-ins: $XDG_CACHE_HOME/pevis, else
/// ~/.cache/pevis.
std::string cache_dir();

}  // namespace pevis
