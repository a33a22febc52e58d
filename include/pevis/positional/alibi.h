#pragma once

// ALiBi, computed: no LibTorch, so that `encoding --kind alibi` runs in the
// front executable.

#include <cstdint>
#include <vector>

namespace pevis {

/// ALiBi's slopes (Press et al. 2022) for `heads` heads: 2^(-8/n), its
/// powers; for a count that is not a power of two, those of the closest
/// smaller power, then every other slope of twice that many. Throws
/// `pevis::Error` (exit 3) for a count outside 1..65536.
std::vector<double> alibi_slopes(std::int64_t heads);

/// The [n, n] causal ALiBi bias of one head, row-major float32: -slope * (query - key)
/// where the key is not after the query, NaN (masked) after it.
std::vector<float> alibi_bias(double slope, std::int64_t n);

}  // namespace pevis
