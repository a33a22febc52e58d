#pragma once
// What each attention head does, summed up in numbers (attention/): from the
// weights A[q, k] of one input's real tokens (each row sums to 1), in float64.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace pevis {

/// A repeated block in the input: after `first` tokens (0 or 1, such as a
/// BOS), `period` tokens, then the same `period` tokens again, and nothing more.
struct RepeatedBlock {
  std::int64_t first = 0;
  std::int64_t period = 0;
};

/// The block `ids` repeats, if they are [first token] + block + the same block
/// with a block of at least 2 tokens; else nothing.
std::optional<RepeatedBlock> repeated_block(const std::vector<std::int64_t>& ids);

/// One head's statistics. NaN where a statistic does not apply (`self` and
/// `prev` need as many keys as queries; `induction` a repeated block).
struct HeadStatistics {
  double entropy = 0;   ///< mean over queries of -sum_k A ln A (0 ln 0 = 0), in nats
  double distance = 0;  ///< mean over queries of sum_k A[q,k] |q - k|: tokens, or patches of the grid (see below)
  double sink = 0;      ///< mean over queries of A[q, 0]
  double self = 0;      ///< mean over queries of A[q, q]
  double prev = 0;      ///< mean over q >= 1 of A[q, q - 1]
  double induction = 0; ///< mean over the second copy's queries q of A[q, q - period + 1]
};

/// How to read the maps' positions.
struct StatisticsContext {
  /// The input is an image: where a map is square over g*g patches, or over
  /// one class token and g*g patches, `distance` is the mean over patch
  /// queries of sum over patch keys of A[q,k] times the Euclidean distance
  /// of their places on the g x g grid, in patches (the class token left
  /// out, the rows not renormalised), as the ViT paper's mean attention
  /// distance is taken.
  bool image = false;
  std::optional<RepeatedBlock> repeat;
};

/// The statistics of each head of `maps`, [windows, heads, T, S] (any
/// floating dtype): per window, then averaged over the windows.
std::vector<HeadStatistics> head_statistics(const at::Tensor& maps, const StatisticsContext& context);

}  // namespace pevis
