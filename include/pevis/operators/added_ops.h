#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <string>
#include <vector>

namespace pevis {

/// The operators that TorchScript files from PyTorch 2.x call and the
/// LibTorch pevis is built on lacks, e.g. "aten::scaled_dot_product_attention".
/// pevis registers each (PyTorch's own schema and a kernel doing the math
/// PyTorch documents) when the program starts, before any model loads; on a
/// LibTorch that has them the list is empty and nothing is registered.
const std::vector<std::string>& added_operators();

/// The version of the LibTorch pevis runs on, e.g. "1.13.0".
std::string libtorch_version();

/// The attention probabilities of scaled dot-product attention as PyTorch
/// defines them: softmax(Q K^T * scale + mask) over the keys.
/// `query` [..., Hq, L, E], `key` [..., Hk, S, E]; `attn_mask` (bool: true
/// keeps, or float: added) broadcasts to [..., Hq, L, S]; `is_causal` keeps
/// key j <= query i (and refuses an explicit mask alongside, as PyTorch
/// does); `scale` defaults to 1/sqrt(E); with `enable_gqa` each key head
/// serves Hq/Hk query heads. Rows whose every key is masked are all zero
/// (as PyTorch 2.5+ computes them). Returns [..., Hq, L, S] in the query's
/// dtype. Throws `c10::Error` on shapes PyTorch would refuse.
at::Tensor sdpa_weights(const at::Tensor& query, const at::Tensor& key, const c10::optional<at::Tensor>& attn_mask,
                        bool is_causal, c10::optional<double> scale, bool enable_gqa);

/// The per-head weights [batch, heads, target, source] that
/// `aten::_native_multi_head_attention` forms for these arguments, computed
/// by LibTorch's own kernel with need_weights=true, average_attn_weights=false.
at::Tensor native_mha_weights(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                              std::int64_t embed_dim, std::int64_t num_heads, const at::Tensor& qkv_weight,
                              const at::Tensor& qkv_bias, const at::Tensor& proj_weight, const at::Tensor& proj_bias,
                              const c10::optional<at::Tensor>& mask, c10::optional<std::int64_t> mask_type);

}  // namespace pevis
