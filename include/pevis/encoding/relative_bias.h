#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pevis/base/text.h"
#include "pevis/positional/alibi.h"
#include "pevis/io/model.h"

namespace pevis {

/// T5's bucket of a relative position (key position minus query position),
/// computed in float32 with the same operations as T5: exact below half the
/// buckets, logarithmic up to `max_distance`; bidirectional tables give
/// the other half of the buckets to keys after the query. `relative` is an
/// int64 tensor of any shape; the result has its shape.
at::Tensor t5_bucket(const at::Tensor& relative, bool bidirectional, std::int64_t num_buckets, std::int64_t max_distance);

/// The settings of a T5 relative attention bias table.
struct T5Spec {
  bool bidirectional = true;       ///< encoders: true; decoders: false (keys after the query masked out)
  std::int64_t num_buckets = 32;
  std::int64_t max_distance = 128;
};

/// `spec` with `relative_attention_num_buckets` and
/// `relative_attention_max_distance` taken from a T5 `config.json` at `path`
/// where it gives them as whole numbers; a config that cannot be read or
/// parsed leaves `spec` as it is (it is shown, never trusted for sizes).
T5Spec t5_from_config(const std::string& path, T5Spec spec);

/// The settings of the T5 table `name` of `model` ([buckets, heads]):
/// causal when the name says `decoder`, the table's rows as buckets, then
/// what the model's config.json gives. Callers apply their own options after.
T5Spec t5_spec_of(const Model& model, const std::string& name, std::int64_t table_rows);

/// The names Swin V2's continuous position bias network goes by:
/// torchvision's `cpb_mlp`, Hugging Face's `continuous_position_bias_mlp`.
inline const std::vector<std::string>& continuous_bias_networks() {
  static const std::vector<std::string> names = {"cpb_mlp", "continuous_position_bias_mlp"};
  return names;
}

/// The network's name when `path` ends with one ("features.1.0.attn.cpb_mlp"), else "".
inline std::string continuous_bias_network(const std::string& path) {
  for (const auto& name : continuous_bias_networks()) {
    if (ends_with(path, name)) return name;
  }
  return "";
}

/// A Swin `...relative_position_bias_table`'s maps from `model`: the table
/// and the `...relative_position_index` beside it (computed when the model
/// has none; `index_found` says which). The memory the maps need is checked
/// first. Throws `pevis::Error` (exit 3).
at::Tensor swin_maps_of(const Model& model, const std::string& name, bool* index_found = nullptr);

/// Checks `num_buckets` (from 2, even when bidirectional, and the table's
/// rows) and `max_distance` (above the exact range). Throws `pevis::Error` (exit 3).
void check_t5_spec(const T5Spec& spec, std::int64_t table_rows);

/// The bias of `table` ([num_buckets, heads]) as a [heads, n, n] query x key
/// tensor, float32.
at::Tensor t5_bias_matrix(const at::Tensor& table, const T5Spec& spec, std::int64_t n);

/// Swin's bias maps: `table` ([(2Wh-1)(2Ww-1), heads]) looked up by
/// `index` ([Wh*Ww*Wh*Ww] or [N, N]; computed from the window when absent)
/// as [heads, N, N], as torchvision's `_get_relative_position_bias` does.
/// Throws `pevis::Error` (exit 3) when the table is not of a square window's
/// size or the index does not fit it.
at::Tensor swin_bias_maps(const at::Tensor& table, const std::optional<at::Tensor>& index);

/// The side of the square window whose table has `rows` rows ((2W-1)^2), or 0.
std::int64_t swin_window_of_table(std::int64_t rows);

/// Swin's relative position index of a W x W window: [W*W, W*W] int64.
at::Tensor swin_relative_index(std::int64_t window);

}  // namespace pevis
