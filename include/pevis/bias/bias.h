#pragma once

#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis {

/// A 1-D vector of a model, as float32 values.
struct BiasVector {
  std::string name;
  std::vector<float> values;
};

/// Summary of one vector. Moments, extremes and percentiles are over the
/// finite values; `nonfinite` counts the NaN and Inf ones. `std` divides by
/// n-1 as torch.std does (0 for a single value). Percentiles interpolate
/// linearly between order statistics, as torch.quantile does.
struct BiasStats {
  std::size_t size = 0;
  double mean = 0, std = 0, min = 0, max = 0, l2 = 0;
  double p5 = 0, p25 = 0, p50 = 0, p75 = 0, p95 = 0;
  std::size_t nonfinite = 0;
};

/// Which vectors count. By default, every 1-D tensor whose name ends in
/// `bias`; `match` (searched in the full name) chooses others, for example
/// `norm.*weight$`. `layer` (searched too) keeps only some of them.
struct BiasSelection {
  std::optional<std::regex> match;
  std::optional<std::regex> layer;
};

/// The selected vectors of `model`, in its order.
std::vector<BiasVector> find_biases(const Model& model, const BiasSelection& selection);

BiasStats bias_stats(const std::vector<float>& values);

/// A name with the wrappers checkpoints add in front removed (`model.`,
/// `state_dict.`, `module.`, list indices), so that the same layer matches
/// across a plain state_dict and a nested checkpoint.
std::string canonical_name(const std::string& name);

/// How two sets of vectors relate, by canonical name.
struct BiasComparison {
  struct Pair {
    std::string name;
    std::vector<float> before, after;
  };
  std::vector<Pair> common;             ///< same name and size, in the first set's order
  std::vector<std::string> only_before;
  std::vector<std::string> only_after;
  std::vector<std::string> resized;     ///< same name, different sizes ("name: 20 -> 30")
};

BiasComparison compare_biases(const std::vector<BiasVector>& before, const std::vector<BiasVector>& after);

/// One vector of the first file followed through the others.
struct BiasTrack {
  std::string name;
  std::vector<BiasStats> stats;  ///< one per file; size 0 where the file lacks it
};

/// The vectors of the first of `sets`, each followed through every set by
/// its canonical name (see `canonical_name`).
std::vector<BiasTrack> track_biases(const std::vector<std::vector<BiasVector>>& sets);

}  // namespace pevis
