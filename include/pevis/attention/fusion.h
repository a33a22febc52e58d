#pragma once

namespace pevis {

/// How the heads of a layer are fused into one map (rollout, overviews).
enum class Fusion { kMean, kMax, kMin };

}  // namespace pevis
