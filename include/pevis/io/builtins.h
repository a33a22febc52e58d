#pragma once

#include <string>
#include <vector>

#include "pevis/io/builtin_info.h"

namespace pevis {

// Declared, not included: model.h's loader reads `builtin:NAME` through this
// header, so including model.h here would make the two headers a cycle.
struct Model;

/// Builds `builtin:NAME` as a TorchScript module (deterministic weights from
/// a fixed seed; trained ones are trained on first use and cached) and
/// returns it as a Model, exactly like a loaded file. Throws `pevis::Error`
/// (exit 3) for an unknown name, listing the known ones.
Model load_builtin(const std::string& name);

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
