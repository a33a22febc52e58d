#pragma once

// Figures of relative-position bias tables a model holds (T5, Swin).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/output/products.h"

namespace pevis {

/// Products of a T5 table ([buckets, heads]) named `name`: `t5-bias` (each
/// head's bias over relative distance key - query, -(n-1)..n-1, or ..0 when
/// causal; data relative, bucket, one column per head) and `t5-matrix`
/// (query x key bias of up to four heads; data `t5-matrix-head<h>`).
std::vector<Product> t5_products(const at::Tensor& table, bool bidirectional, std::int64_t num_buckets,
                                 std::int64_t max_distance, std::int64_t positions, const std::string& name,
                                 bool figures = true);

/// Products of Swin bias maps ([heads, N, N]) of table `name`: `swin-bias`,
/// one panel per head, data `swin-bias` with a row per head and query.
/// `continuous`: Swin V2's maps (16 sigmoid of a network's output), drawn
/// on a sequential scale over their range.
std::vector<Product> swin_products(const at::Tensor& maps, const std::string& name, bool figures = true,
                                   bool continuous = false);

}  // namespace pevis
