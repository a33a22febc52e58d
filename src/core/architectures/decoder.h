#pragma once
// The Llama family of decoders, described by data (architectures/decoder.cpp).

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace torch::jit {
struct Module;
}

namespace pevis::architectures {

/// What a decoder of the Llama family is, read from its config.json.
struct DecoderSpec {
  std::string family;  ///< "llama", "mistral", "qwen2"
  std::int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  double eps = 1e-6;
  at::Tensor inv_freq;               ///< [head_dim / 2], as transformers computes it
  bool tie = false;                  ///< the output head is the embedding
  bool attention_bias = false;       ///< q, k and v projections have biases
  bool output_bias = false;          ///< o_proj has one
  bool mlp_bias = false;
  std::vector<std::int64_t> windows;  ///< per layer: keys seen (0: all before the query)
};

/// Reads `config` (both layouts: v4's `rope_theta`/`rope_scaling`, v5's
/// `rope_parameters`, `layer_types`). Throws `pevis::Error` (exit 3), naming
/// `source` (the config.json's path), for what is missing or not implemented.
DecoderSpec read_decoder_spec(const std::string& family, const nlohmann::json& config, const std::string& source);

/// The module, holding `weights`' tensors as float32 parameters named as
/// transformers names them. Throws `pevis::Error` (exit 3) for a missing
/// tensor, a shape that does not fit, or a tensor the model would not use.
torch::jit::Module build_decoder(const Model& weights, const DecoderSpec& spec);

}  // namespace pevis::architectures
