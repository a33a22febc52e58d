#pragma once

namespace pevis {

/// How the heads of a layer are fused into one map (rollout, overviews).
enum class Fusion { kMean, kMax, kMin };

/// How attention weights map to colours (--scale); the colour bar always
/// shows the true weights. kAuto: kRange for near-uniform weights (the
/// smallest at least half the largest), kRobust where a few weights dwarf
/// the rest (the 99th percentile under a third of the largest), kLog where
/// most are far below the largest (the median of the weights above 0 under
/// a twentieth of it), else kMax.
enum class ColourScale {
  kAuto,
  kMax,     ///< 0 to the largest weight
  kRange,   ///< the smallest to the largest weight
  kRobust,  ///< 0 to the 99th percentile (larger weights at the top colour)
  kLog,     ///< log scale from the largest / 10^4 (smaller weights at the bottom colour)
};

}  // namespace pevis
