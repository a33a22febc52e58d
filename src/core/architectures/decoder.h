#pragma once
// The decoder-only language models of the Llama shape (architectures/decoder.cpp):
// one block described by data, for llama, mistral, qwen2, gemma, gemma2,
// gemma3_text and phi3.

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

/// Which layers of a family see only a window of keys, when config.json
/// has no `layer_types` list.
enum class Windows {
  kNone,     ///< none (llama)
  kEvery,    ///< every layer, when `sliding_window` is set (mistral, phi3)
  kQwen2,    ///< layers from `max_window_layers` on, when `use_sliding_window` is true
  kPattern,  ///< every layer but each Nth (`sliding_window_pattern`; gemma2: 2, gemma3: 6)
};

/// What transformers' classes of one `model_type` fix, and the defaults
/// they take for what a config.json leaves out (config.json omits a common
/// key whose value is the class's default).
struct Family {
  std::string model_type;  ///< "gemma2"
  std::string classes;     ///< the prefix of transformers' class names: "Gemma2" (Gemma2Attention, ...)
  std::string base;        ///< the base model's class where it is not classes + "Model" (Gemma3TextModel)
  std::string activation = "silu";
  bool tie = false;                  ///< `tie_word_embeddings` when absent
  double theta = 10000.0;            ///< `rope_theta` when absent (gemma3: the full layers')
  double local_theta = 0;            ///< gemma3: the sliding layers' (`rope_local_base_freq`)
  std::int64_t window = 0;           ///< `sliding_window` when absent
  Windows windows = Windows::kNone;
  int pattern = 0;                   ///< for `Windows::kPattern`
  bool gemma = false;                ///< RMSNorm multiplies by (1 + w); embeddings times sqrt(hidden)
  bool four_norms = false;           ///< norms after attention and around the MLP (gemma2, gemma3)
  bool qk_norm = false;              ///< RMSNorm of each query and key head before rope (gemma3)
  bool pre_attn_scalar = false;      ///< scores scaled by `query_pre_attn_scalar`^-0.5 (gemma2, gemma3)
  double attn_softcap = 0;           ///< `attn_logit_softcapping` when absent (0: none)
  double final_softcap = 0;          ///< `final_logit_softcapping` when absent
  bool fused = false;                ///< one `qkv_proj` and one `gate_up_proj` (phi3)
  bool qkv_bias = false;             ///< q, k and v have biases, o does not (qwen2)
};

/// One rotary table, as transformers' RotaryEmbedding holds it for a layer type.
struct Rope {
  std::string type;              ///< default, linear, dynamic, yarn, longrope, llama3
  std::int64_t dim = 0;          ///< the rotated dimensions of each head (head_dim x partial_rotary_factor)
  at::Tensor inv_freq;           ///< [dim / 2]
  at::Tensor long_inv_freq;      ///< longrope: used when the input is longer than `switch_at`
  std::int64_t switch_at = 0;    ///< longrope: original_max_position_embeddings; dynamic: max_position_embeddings
  double scaling = 1.0;          ///< multiplies cos and sin (yarn, longrope)
  double base = 0, factor = 1;   ///< dynamic: the frequencies are recomputed past `switch_at`
};

/// A decoder, read from its config.json.
struct DecoderSpec {
  Family family;
  std::int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  double eps = 1e-6;
  std::string activation;
  double scaling = 0;                 ///< multiplies q.k
  double attn_softcap = 0, final_softcap = 0;
  std::vector<Rope> ropes;            ///< one per layer type that has its own
  std::vector<std::size_t> rope_of;   ///< per layer: its index in `ropes`
  bool tie = false;                   ///< the output head is the embedding
  bool attention_bias = false;        ///< q, k and v projections have biases
  bool output_bias = false;           ///< o_proj has one
  bool mlp_bias = false;
  std::vector<std::int64_t> windows;  ///< per layer: keys seen (0: all before the query)
};

/// Reads `config` (both layouts: v4's `rope_theta`/`rope_scaling`, v5's
/// `rope_parameters`, `layer_types`). Throws `pevis::Error` (exit 3), naming
/// `source` (the config.json's path), for what is missing or not implemented.
DecoderSpec read_decoder_spec(const Family& family, const nlohmann::json& config, const std::string& source);

/// The module, holding `weights`' tensors as parameters named as
/// transformers names them, computing in `compute` (float32, or bfloat16
/// with transformers' float32 norms, rotary tables and softmax). Throws
/// `pevis::Error` (exit 3) for a missing tensor, a shape that does not fit,
/// or a tensor the model would not use.
torch::jit::Module build_decoder(const Model& weights, const DecoderSpec& spec, at::ScalarType compute);

}  // namespace pevis::architectures
