#pragma once
// GPT-2 (architectures/gpt2.cpp): learned positions, LayerNorm before
// attention and MLP, one fused c_attn, Conv1D weights stored [in, out].

#include <nlohmann/json.hpp>

#include <string>

#include "pevis/io/model.h"

namespace torch::jit {
struct Module;
}

namespace pevis::architectures {

/// GPT2LMHeadModel from `config` (n_embd, n_layer, n_head, n_inner,
/// n_positions, activation_function, layer_norm_epsilon,
/// scale_attn_weights, scale_attn_by_inverse_layer_idx) on `weights`
/// (`transformer.`-prefixed or not; old checkpoints' `attn.bias` and
/// `attn.masked_bias` mask buffers are recomputed, not read). Throws
/// `pevis::Error` (exit 3) naming `source` for what it cannot build exactly.
/// It computes in `compute`.
torch::jit::Module build_gpt2(const Model& weights, const nlohmann::json& config, const std::string& source,
                              at::ScalarType compute);

}  // namespace pevis::architectures
