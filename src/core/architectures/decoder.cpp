// The decoders of the Llama shape (llama, mistral, qwen2, gemma, gemma2,
// gemma3_text, phi3): RMSNorm before attention and MLP, rotary positions,
// grouped key and value heads, a causal mask (a sliding window where the
// config says), a gated MLP. What differs between the families is data
// (`Family`, `DecoderSpec`): the norm's (1 + w), four norms, QK-norm,
// soft-caps, fused projections, partial rotary, a rotary table per layer
// type. Each piece is TorchScript written here, computing what
// transformers' eager path computes, in the same order of operations, in
// float32 or, as transformers computes a model loaded in bfloat16, in
// bfloat16 with float32 where transformers upcasts (build.h says how
// products are computed).
#include "decoder.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>

#include <cmath>
#include <set>

#include "build.h"
#include "pevis/base/error.h"

namespace pevis::architectures {
namespace {

using torch::jit::Module;
using json = nlohmann::json;

// The rotary settings of one layer type ("" when the model has one table),
// in either layout, completed as transformers' standardize_rope_params does:
// v5's `rope_parameters` (per layer type for gemma3), v4's top-level
// `rope_theta`, `rope_scaling` (`type` or `rope_type`), `partial_rotary_factor`,
// `original_max_position_embeddings`, and gemma3's `rope_local_base_freq`.
json rope_settings(const std::string& source, const json& config, const Family& family, const std::string& layer_type) {
  const bool local = layer_type == "sliding_attention";
  json rope = json::object();
  if (config.contains("rope_parameters") && config["rope_parameters"].is_object()) {
    const json& p = config["rope_parameters"];
    rope = !layer_type.empty() && p.contains(layer_type) && p[layer_type].is_object() ? p[layer_type] : p;
  } else if (!local && config.contains("rope_scaling") && config["rope_scaling"].is_object()) {
    rope = config["rope_scaling"];
  }
  if (!rope.contains("rope_type") && rope.contains("type")) rope["rope_type"] = rope["type"];
  if (!rope.contains("rope_type") || rope["rope_type"].is_null()) rope["rope_type"] = "default";
  if (!rope["rope_type"].is_string()) throw bad_input(source, "the rope type is not a string", "the config is damaged");
  if (family.model_type == "phi3" && (rope["rope_type"] == "su" || rope["rope_type"] == "yarn")) {
    rope["rope_type"] = "longrope";  // Phi-3's older names for it
  }
  if (!rope.contains("rope_theta") || rope["rope_theta"].is_null()) {
    const std::string key = local && family.local_theta > 0 ? "rope_local_base_freq" : "rope_theta";
    rope["rope_theta"] = number(source, config, key, local && family.local_theta > 0 ? family.local_theta : family.theta);
  }
  if (config.contains("partial_rotary_factor") && !config["partial_rotary_factor"].is_null()) {
    rope["partial_rotary_factor"] = config["partial_rotary_factor"];
  }
  const std::string type = rope["rope_type"];
  if (type == "llama3" || type == "yarn" || type == "longrope") {
    // Phi-3 keeps the pretraining length at the top, and it wins there.
    if (config.contains("original_max_position_embeddings") && !config["original_max_position_embeddings"].is_null()) {
      rope["original_max_position_embeddings"] = config["original_max_position_embeddings"];
    } else if (!rope.contains("original_max_position_embeddings")) {
      rope["original_max_position_embeddings"] = whole(source, config, "max_position_embeddings");
    }
  }
  return rope;
}

// transformers' rotary table for `rope` over `head_dim`, with its operations
// in its order: Python's `a / t` is t.reciprocal() * a.
Rope read_rope(const std::string& source, const json& config, const json& rope, std::int64_t head_dim) {
  Rope r;
  r.type = rope["rope_type"].get<std::string>();
  const double base = positive(source, rope, "rope_theta", 10000.0);
  const double partial = number(source, rope, "partial_rotary_factor", 1.0);
  r.dim = static_cast<std::int64_t>(static_cast<double>(head_dim) * partial);
  if (partial <= 0 || partial > 1 || r.dim < 2 || r.dim % 2 != 0) {
    throw bad_input(source, "partial_rotary_factor " + std::to_string(partial) + " does not give an even number of "
                    "rotated dimensions", "the config is damaged");
  }
  const double dim = static_cast<double>(r.dim);
  const at::Tensor exponent = at::arange(0, r.dim, 2, at::kLong).to(at::kFloat) / dim;
  const at::Tensor inv_freq = at::pow(base, exponent).reciprocal() * 1.0;
  const auto original = [&] {
    const auto n = whole(source, rope, "original_max_position_embeddings");
    if (n < 2) throw bad_input(source, "original_max_position_embeddings is below 2", "the config is damaged");
    return static_cast<double>(n);
  };
  if (r.type == "default") {
    r.inv_freq = inv_freq;
  } else if (r.type == "linear") {
    r.inv_freq = inv_freq / positive(source, rope, "factor", 1.0);
  } else if (r.type == "dynamic") {
    r.inv_freq = inv_freq;
    r.base = base;
    r.factor = positive(source, rope, "factor", 1.0);
    r.switch_at = whole(source, config, "max_position_embeddings");
    if (r.switch_at < 1 || r.dim <= 2) {
      throw bad_input(source, "dynamic rope needs max_position_embeddings of 1 or more and more than 2 rotated "
                      "dimensions", "the config is damaged");
    }
  } else if (r.type == "llama3") {
    const double factor = positive(source, rope, "factor", 8.0), low = positive(source, rope, "low_freq_factor", 1.0),
                 high = positive(source, rope, "high_freq_factor", 4.0), old = original();
    if (high == low) throw bad_input(source, "llama3's high_freq_factor equals its low_freq_factor", "the config is damaged");
    const double low_wavelen = old / low, high_wavelen = old / high;
    const at::Tensor wavelen = inv_freq.reciprocal() * (2 * M_PI);
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / factor, inv_freq);
    const at::Tensor smooth = (wavelen.reciprocal() * old - low) / (high - low);
    const at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    const at::Tensor medium = (wavelen < high_wavelen).logical_not().logical_and((wavelen > low_wavelen).logical_not());
    r.inv_freq = at::where(medium, smoothed, scaled);
  } else if (r.type == "yarn") {
    const double old = original();
    const double factor = positive(source, rope, "factor", number(source, config, "max_position_embeddings", old) / old);
    const auto mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    const double m = number(source, rope, "mscale", 0), m_all = number(source, rope, "mscale_all_dim", 0);
    r.scaling = number(source, rope, "attention_factor",
                       m != 0 && m_all != 0 ? mscale(factor, m) / mscale(factor, m_all) : mscale(factor, 1));
    const double fast = number(source, rope, "beta_fast", 0) != 0 ? number(source, rope, "beta_fast", 0) : 32;
    const double slow = number(source, rope, "beta_slow", 0) != 0 ? number(source, rope, "beta_slow", 0) : 1;
    const auto correction = [&](double rotations) {
      return dim * std::log(old / (rotations * 2 * M_PI)) / (2 * std::log(base));
    };
    double low = correction(fast), high = correction(slow);
    if (!rope.contains("truncate") || rope["truncate"].is_null() || rope["truncate"] == true) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1);
    if (low == high) high += 0.001;
    const at::Tensor pos_freqs = at::pow(base, exponent);
    const at::Tensor extrapolation = pos_freqs.reciprocal() * 1.0;
    const at::Tensor interpolation = (pos_freqs * factor).reciprocal() * 1.0;
    const at::Tensor ramp = ((at::arange(r.dim / 2, at::kFloat) - low) / (high - low)).clamp(0, 1);
    const at::Tensor extrapolation_factor = 1 - ramp;
    r.inv_freq = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
  } else if (r.type == "longrope") {
    const double old = original();
    const double factor = positive(source, rope, "factor", number(source, config, "max_position_embeddings", old) / old);
    r.scaling = number(source, rope, "attention_factor",
                       factor <= 1 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(old)));
    r.switch_at = static_cast<std::int64_t>(old);
    const auto frequencies = [&](const std::string& key) {
      if (!rope.contains(key) || !rope[key].is_array() || static_cast<std::int64_t>(rope[key].size()) != r.dim / 2) {
        throw bad_input(source, "longrope's " + key + " is not a list of " + std::to_string(r.dim / 2) + " numbers",
                        "the config is damaged");
      }
      std::vector<float> factors;
      for (const auto& v : rope[key]) {
        if (!v.is_number()) throw bad_input(source, "longrope's " + key + " holds a non-number", "the config is damaged");
        factors.push_back(v.get<float>());
      }
      const at::Tensor ext = at::tensor(factors, at::kFloat);
      return (ext * at::pow(base, exponent)).reciprocal() * 1.0;
    };
    r.inv_freq = frequencies("short_factor");
    r.long_inv_freq = frequencies("long_factor");
  } else {
    throw bad_input(source, "rope type '" + one_line(r.type) + "' is not implemented (pevis builds default, linear, "
                    "dynamic, yarn, longrope and llama3)", "");
  }
  return r;
}

}  // namespace

DecoderSpec read_decoder_spec(const Family& family, const json& config, const std::string& source) {
  DecoderSpec spec;
  spec.family = family;
  const std::string& type = family.model_type;
  spec.hidden = whole(source, config, "hidden_size");
  spec.intermediate = whole(source, config, "intermediate_size");
  spec.layers = whole(source, config, "num_hidden_layers");
  spec.heads = whole(source, config, "num_attention_heads");
  spec.kv_heads = whole(source, config, "num_key_value_heads", spec.heads);
  spec.head_dim = whole(source, config, "head_dim", spec.heads > 0 ? spec.hidden / spec.heads : 0);
  spec.vocab = whole(source, config, "vocab_size");
  spec.eps = number(source, config, "rms_norm_eps", family.model_type == "phi3" ? 1e-5 : 1e-6);
  if (spec.heads <= 0 || spec.kv_heads <= 0 || spec.heads % spec.kv_heads != 0 || spec.head_dim <= 0 ||
      spec.head_dim % 2 != 0 || spec.layers <= 0 || spec.layers > 1000) {
    throw bad_input(source, "heads (" + std::to_string(spec.heads) + "), key-value heads (" +
                                       std::to_string(spec.kv_heads) + "), head_dim (" + std::to_string(spec.head_dim) +
                                       ") or layers (" + std::to_string(spec.layers) + ") do not fit together",
                    "the config is damaged");
  }
  // Gemma 2 and 3 name it hidden_activation; the others (and Gemma 1) hidden_act.
  spec.activation = text(source, config, "hidden_activation", text(source, config, "hidden_act", family.activation));
  if (activation(spec.activation, "x").empty()) {
    throw bad_input(source, "hidden_act '" + one_line(spec.activation) + "' is not implemented for " + type +
                    " (pevis builds silu, gelu, gelu_pytorch_tanh and gelu_new)", "");
  }
  if (flag(source, config, "use_bidirectional_attention", false)) {
    throw bad_input(source, "use_bidirectional_attention (an encoder made of " + type + ") is not implemented", "");
  }
  for (const char* key : {"num_local_experts", "num_experts", "n_routed_experts"}) {
    if (number(source, config, key, 0) > 0) throw bad_input(source, "mixture of experts is not implemented", "");
  }
  spec.scaling = family.pre_attn_scalar
                     ? std::pow(positive(source, config, "query_pre_attn_scalar", 256), -0.5)
                     : std::pow(static_cast<double>(spec.head_dim), -0.5);
  // A cap absent from config.json is the class's default; null is none.
  const auto cap = [&](const std::string& key, double fallback) {
    return config.contains(key) && config[key].is_null() ? 0.0 : number(source, config, key, fallback);
  };
  spec.attn_softcap = cap("attn_logit_softcapping", family.attn_softcap);
  spec.final_softcap = cap("final_logit_softcapping", family.final_softcap);
  spec.tie = flag(source, config, "tie_word_embeddings", family.tie);
  const bool bias = flag(source, config, "attention_bias", false);
  spec.attention_bias = family.qkv_bias || bias;
  spec.output_bias = !family.qkv_bias && bias;
  spec.mlp_bias = flag(source, config, "mlp_bias", false);
  if (family.fused && (bias || spec.mlp_bias)) throw bad_input(source, "biases are not implemented for " + type, "");

  // Which layers see only a window of keys, and which rotary table each uses.
  std::int64_t window = family.window;
  if (config.contains("sliding_window")) {
    window = config["sliding_window"].is_null() ? 0 : whole(source, config, "sliding_window");
  }
  std::vector<std::string> layer_types;
  if (config.contains("layer_types") && config["layer_types"].is_array()) {
    if (static_cast<std::int64_t>(config["layer_types"].size()) != spec.layers) {
      throw bad_input(source, "layer_types does not name one type per layer", "the config is damaged");
    }
    for (const auto& t : config["layer_types"]) {
      if (t != "sliding_attention" && t != "full_attention") {
        throw bad_input(source, "layer type " + one_line(t.dump()) + " is not implemented", "");
      }
      layer_types.push_back(t.get<std::string>());
    }
  }
  const std::int64_t pattern = whole(source, config, "sliding_window_pattern", family.pattern);
  for (std::int64_t i = 0; i < spec.layers; ++i) {
    bool sliding = false;
    if (!layer_types.empty()) {
      sliding = layer_types[static_cast<std::size_t>(i)] == "sliding_attention";
    } else if (family.windows == Windows::kEvery) {
      sliding = window > 0;
    } else if (family.windows == Windows::kQwen2) {
      sliding = flag(source, config, "use_sliding_window", false) && i >= whole(source, config, "max_window_layers", 28);
    } else if (family.windows == Windows::kPattern) {
      sliding = pattern > 0 && (i + 1) % pattern != 0;
    }
    if (sliding && window <= 0) throw bad_input(source, "a sliding layer without a sliding_window", "");
    spec.windows.push_back(sliding ? window : 0);
  }
  if (family.local_theta > 0) {  // gemma3: a table per layer type (of one size: the layers are of one class)
    for (const std::string layer_type : {"full_attention", "sliding_attention"}) {
      spec.ropes.push_back(read_rope(source, config, rope_settings(source, config, family, layer_type), spec.head_dim));
    }
    for (const auto w : spec.windows) spec.rope_of.push_back(w > 0 ? 1 : 0);
    if (spec.ropes[0].dim != spec.ropes[1].dim) {
      throw bad_input(source, "layer types rotating different parts of a head are not implemented", "");
    }
  } else {
    spec.ropes.push_back(read_rope(source, config, rope_settings(source, config, family, ""), spec.head_dim));
    spec.rope_of.assign(static_cast<std::size_t>(spec.layers), 0);
  }
  return spec;
}

namespace {

// RMSNorm in float32 whatever the model computes in. Llama's then scales
// the result, back in the model's dtype, by w; Gemma's scales by (1 + w) in
// float32 and then converts.
Module rms_norm(Weights& w, const std::string& name, std::int64_t d, const DecoderSpec& s) {
  Module m = module(s.family.classes + "RMSNorm");
  m.register_parameter("weight", w.take(name + ".weight", {d}), false);
  m.register_attribute("eps", c10::FloatType::get(), s.eps);
  define(m, std::string("def forward(self, x):\n"
                        "    h = x.float()\n"
                        "    variance = h.pow(2).mean(-1, keepdim=True)\n"
                        "    h = h * torch.rsqrt(variance + self.eps)\n") +
                (s.family.gemma ? "    return (h * (1.0 + pevis.weight(self.weight).float())).to(x.dtype)\n"
                                : "    return pevis.weight(self.weight) * h.to(x.dtype)\n"));
  return m;
}

// rotate_half on the first `dim` dimensions of a head: q * cos + rotate_half(q) * sin.
std::string rotary(const std::string& x, std::int64_t dim, std::int64_t head_dim) {
  const std::string half = std::to_string(dim / 2);
  const std::string r = dim == head_dim ? x : x + "_rot";
  std::string code;
  if (dim != head_dim) code += "    " + r + " = " + x + ".narrow(-1, 0, " + std::to_string(dim) + ")\n";
  const std::string turned = "(" + r + " * c) + (torch.cat([torch.neg(" + r + ".narrow(-1, " + half + ", " + half +
                             ")), " + r + ".narrow(-1, 0, " + half + ")], -1) * s)";
  if (dim == head_dim) return code + "    " + x + " = " + turned + "\n";
  return code + "    " + x + " = torch.cat([" + turned + ", " + x + ".narrow(-1, " + std::to_string(dim) + ", " +
         std::to_string(head_dim - dim) + ")], -1)\n";
}

Module attention(Weights& w, const std::string& name, const DecoderSpec& s, const Rope& rope) {
  Module m = module(s.family.classes + "Attention");
  const std::int64_t q_size = s.heads * s.head_dim, kv_size = s.kv_heads * s.head_dim;
  std::string code =
      "def forward(self, x, cos, sin, mask):\n"
      "    b = x.size(0)\n"
      "    t = x.size(1)\n";
  const std::string heads = ".view(b, t, -1, self.head_dim).transpose(1, 2)\n";
  if (s.family.fused) {
    m.register_module("qkv_proj", linear(w, name + ".qkv_proj", s.hidden, q_size + 2 * kv_size, false));
    const std::string q = std::to_string(q_size), kv = std::to_string(kv_size);
    code += "    qkv = self.qkv_proj.forward(x)\n"
            "    q = qkv.narrow(-1, 0, " + q + ")" + heads +
            "    k = qkv.narrow(-1, " + q + ", " + kv + ")" + heads +
            "    v = qkv.narrow(-1, " + std::to_string(q_size + kv_size) + ", " + kv + ")" + heads;
  } else {
    m.register_module("q_proj", linear(w, name + ".q_proj", s.hidden, q_size, s.attention_bias));
    m.register_module("k_proj", linear(w, name + ".k_proj", s.hidden, kv_size, s.attention_bias));
    m.register_module("v_proj", linear(w, name + ".v_proj", s.hidden, kv_size, s.attention_bias));
    code += "    q = self.q_proj.forward(x)" + heads + "    k = self.k_proj.forward(x)" + heads +
            "    v = self.v_proj.forward(x)" + heads;
  }
  m.register_module("o_proj", linear(w, name + ".o_proj", q_size, s.hidden, s.output_bias));
  if (s.family.qk_norm) {
    m.register_module("q_norm", rms_norm(w, name + ".q_norm", s.head_dim, s));
    m.register_module("k_norm", rms_norm(w, name + ".k_norm", s.head_dim, s));
    code += "    q = self.q_norm.forward(q)\n    k = self.k_norm.forward(k)\n";
  }
  m.register_attribute("heads", c10::IntType::get(), s.heads);
  m.register_attribute("kv_heads", c10::IntType::get(), s.kv_heads);
  m.register_attribute("head_dim", c10::IntType::get(), s.head_dim);
  m.register_attribute("scaling", c10::FloatType::get(), s.scaling);
  code += "    c = cos.unsqueeze(1)\n    s = sin.unsqueeze(1)\n";
  code += rotary("q", rope.dim, s.head_dim) + rotary("k", rope.dim, s.head_dim);
  // repeat_kv is repeat_interleave on the heads.
  code +=
      "    groups = self.heads // self.kv_heads\n"
      "    k = torch.repeat_interleave(k, groups, 1)\n"
      "    v = torch.repeat_interleave(v, groups, 1)\n"
      "    scores = torch.matmul(q.float(), k.transpose(2, 3).float()).to(q.dtype) * self.scaling\n";
  if (s.attn_softcap > 0) {
    m.register_attribute("softcap", c10::FloatType::get(), s.attn_softcap);
    code += "    scores = torch.tanh(scores / self.softcap) * self.softcap\n";
  }
  code +=
      "    scores = scores + mask\n"
      "    weights = torch.softmax(scores, -1, dtype=" + dtype_code(at::kFloat) + ")\n"  // in float32, as transformers
      "    out = torch.matmul(weights.to(q.dtype).float(), v.float()).to(q.dtype).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)\n"
      "    return self.o_proj.forward(out)\n";
  define(m, code);
  return m;
}

Module mlp(Weights& w, const std::string& name, const DecoderSpec& s) {
  Module m = module(s.family.classes + "MLP");
  if (s.family.fused) {
    m.register_module("gate_up_proj", linear(w, name + ".gate_up_proj", s.hidden, 2 * s.intermediate, false));
    m.register_module("down_proj", linear(w, name + ".down_proj", s.intermediate, s.hidden, false));
    const std::string i = std::to_string(s.intermediate);
    define(m, "def forward(self, x):\n"
             "    h = self.gate_up_proj.forward(x)\n"
             "    gate = h.narrow(-1, 0, " + i + ")\n"
             "    return self.down_proj.forward(h.narrow(-1, " + i + ", " + i + ") * " +
             activation(s.activation, "gate") + ")\n");
    return m;
  }
  m.register_module("gate_proj", linear(w, name + ".gate_proj", s.hidden, s.intermediate, s.mlp_bias));
  m.register_module("up_proj", linear(w, name + ".up_proj", s.hidden, s.intermediate, s.mlp_bias));
  m.register_module("down_proj", linear(w, name + ".down_proj", s.intermediate, s.hidden, s.mlp_bias));
  define(m, "def forward(self, x):\n"
           "    gate = self.gate_proj.forward(x)\n"
           "    return self.down_proj.forward(" + activation(s.activation, "gate") + " * self.up_proj.forward(x))\n");
  return m;
}

Module decoder_layer(Weights& w, const std::string& name, const DecoderSpec& s, const Rope& rope) {
  Module m = module(s.family.classes + "DecoderLayer");
  m.register_module("input_layernorm", rms_norm(w, name + ".input_layernorm", s.hidden, s));
  m.register_module("self_attn", attention(w, name + ".self_attn", s, rope));
  m.register_module("post_attention_layernorm", rms_norm(w, name + ".post_attention_layernorm", s.hidden, s));
  if (s.family.four_norms) {
    // Gemma 2 and 3: the post-attention norm comes before the residual add.
    m.register_module("pre_feedforward_layernorm", rms_norm(w, name + ".pre_feedforward_layernorm", s.hidden, s));
    m.register_module("post_feedforward_layernorm", rms_norm(w, name + ".post_feedforward_layernorm", s.hidden, s));
  }
  m.register_module("mlp", mlp(w, name + ".mlp", s));
  if (s.family.four_norms) {
    define(m, 
        "def forward(self, x, cos, sin, mask):\n"
        "    a = self.self_attn.forward(self.input_layernorm.forward(x), cos, sin, mask)\n"
        "    h = x + self.post_attention_layernorm.forward(a)\n"
        "    f = self.mlp.forward(self.pre_feedforward_layernorm.forward(h))\n"
        "    return h + self.post_feedforward_layernorm.forward(f)\n");
  } else {
    define(m, 
        "def forward(self, x, cos, sin, mask):\n"
        "    h = x + self.self_attn.forward(self.input_layernorm.forward(x), cos, sin, mask)\n"
        "    return h + self.mlp.forward(self.post_attention_layernorm.forward(h))\n");
  }
  return m;
}


// The lines of the base model's forward that make cos{r} and sin{r} of
// rotary table r for positions 0..t-1, as transformers' RotaryEmbedding does
// (the frequencies of a longer input where longrope and dynamic say so).
std::string rotary_tables(Module& base, std::size_t r, const Rope& rope) {
  const std::string n = std::to_string(r), inv = "inv" + n;
  base.register_buffer("inv_freq" + (r ? n : std::string()), rope.inv_freq);
  std::string code = "    " + inv + " = self.inv_freq" + (r ? n : std::string()) + "\n";
  if (rope.long_inv_freq.defined()) {
    base.register_buffer("long_inv_freq" + (r ? n : std::string()), rope.long_inv_freq);
    code += "    if t > " + std::to_string(rope.switch_at) + ":\n        " + inv + " = self.long_inv_freq" +
            (r ? n : std::string()) + "\n";
  } else if (rope.type == "dynamic") {
    // As transformers computes it then: on float32 tensors, the length a tensor.
    const std::string d = std::to_string(rope.dim);
    code += "    if t > " + std::to_string(rope.switch_at) + ":\n"
            "        grown = " + literal(rope.base) + " * ((" + literal(rope.factor) + " * torch.tensor(t) / " +
            std::to_string(rope.switch_at) + ") - (" + literal(rope.factor) + " - 1)) ** (" + d + " / (" + d +
            " - 2))\n"
            "        " + inv + " = (grown ** (torch.arange(0, " + d + ", 2).float() / " + d + ")).reciprocal() * 1.0\n";
  }
  code += "    f" + n + " = positions.unsqueeze(1) * " + inv + ".unsqueeze(0)\n"
          "    e" + n + " = torch.cat([f" + n + ", f" + n + "], -1).unsqueeze(0)\n"
          "    cos" + n + " = (e" + n + ".cos() * " + literal(rope.scaling) + ").to(x.dtype)\n"
          "    sin" + n + " = (e" + n + ".sin() * " + literal(rope.scaling) + ").to(x.dtype)\n";
  return code;
}

}  // namespace

Module build_decoder(const Model& weights, const DecoderSpec& s, at::ScalarType compute) {
  const std::string& cls = s.family.classes;  // transformers' class names
  Weights w(weights, "model.", compute);
  const std::string low = lowest(compute);
  // Every layer of one class (the rotary tables are arguments, of one size).
  const Module layers =
      layer_list(decoder_layer(w, "model.layers.0", s, s.ropes[s.rope_of[0]]), w, "model.layers.", s.layers);
  Module embed = module(s.family.gemma ? cls + "TextScaledWordEmbedding" : std::string("Embedding"));
  embed.register_parameter("weight", w.take("model.embed_tokens.weight", {s.vocab, s.hidden}), false);
  if (s.family.gemma) {
    // sqrt(hidden), a float32 buffer cast to the weights' dtype first.
    const float scale = static_cast<float>(std::sqrt(static_cast<double>(s.hidden)));
    embed.register_attribute("embed_scale", c10::FloatType::get(),
                             compute == at::kBFloat16 ? static_cast<double>(static_cast<float>(c10::BFloat16(scale)))
                                                      : static_cast<double>(scale));
    define(embed, "def forward(self, ids):\n    return pevis.weight_rows(self.weight, ids) * self.embed_scale\n");
  } else {
    define(embed, "def forward(self, ids):\n    return pevis.weight_rows(self.weight, ids)\n");
  }

  Module base = module(s.family.base.empty() ? cls + "Model" : s.family.base);
  base.register_module("embed_tokens", embed);
  base.register_module("layers", layers);
  base.register_module("norm", rms_norm(w, "model.norm", s.hidden, s));
  // Positions 0..T-1; the mask is additive: 0 where a query sees a key,
  // the compute dtype's lowest value elsewhere, as transformers adds (softmax
  // turns it into exact zeros; a row with no key to see stays finite, where
  // -inf would make it NaN and spread). Each layer's window its own.
  std::string code =
      "def forward(self, ids, attention_mask: Optional[Tensor]):\n"
      "    x = self.embed_tokens.forward(ids)\n"
      "    t = ids.size(1)\n"
      "    positions = torch.arange(t).float()\n";
  for (std::size_t r = 0; r < s.ropes.size(); ++r) code += rotary_tables(base, r, s.ropes[r]);
  code +=
      "    q = torch.arange(t).unsqueeze(1)\n"
      "    k = torch.arange(t).unsqueeze(0)\n"
      "    zeros = torch.zeros([t, t], dtype=x.dtype)\n"
      "    causal = zeros.masked_fill(k > q, " + low + ")\n";
  std::set<std::int64_t> windows(s.windows.begin(), s.windows.end());
  for (std::int64_t window : windows) {
    if (window > 0) {
      code += "    window" + std::to_string(window) + " = zeros.masked_fill((k > q) | (k <= q - " +
              std::to_string(window) + "), " + low + ")\n";
    }
  }
  // A padded batch: no query sees a padded key.
  code += "    if attention_mask is not None:\n"
          "        padded = (attention_mask == 0).view(ids.size(0), 1, 1, t)\n"
          "        causal = causal.masked_fill(padded, " + low + ")\n";
  for (std::int64_t window : windows) {
    if (window > 0) {
      const std::string name = "window" + std::to_string(window);
      code += "        " + name + " = " + name + ".masked_fill(padded, " + low + ")\n";
    }
  }
  for (std::int64_t i = 0; i < s.layers; ++i) {
    const auto l = static_cast<std::size_t>(i);
    const std::string r = std::to_string(s.rope_of[l]);
    const std::int64_t window = s.windows[l];
    code += "    x = getattr(self.layers, \"" + std::to_string(i) + "\").forward(x, cos" + r + ", sin" + r + ", " +
            (window > 0 ? "window" + std::to_string(window) : std::string("causal")) + ")\n";
  }
  code += "    return self.norm.forward(x)\n";
  define(base, code);

  Module root = module(cls + "ForCausalLM");
  root.register_module("model", base);
  const bool head = w.has("lm_head.weight");
  if (head || s.tie) {
    Module lm_head = module("Linear");
    lm_head.register_parameter(
        "weight", head ? w.take("lm_head.weight", {s.vocab, s.hidden}) : embed.attr("weight").toTensor(), false);
    define(lm_head, "def forward(self, x):\n    return torch.linear(x.float(), pevis.weight(self.weight).float()).to(x.dtype)\n");
    root.register_module("lm_head", lm_head);
    // The logits only where asked for (summary shows them; attention does
    // not need them, and a large vocabulary's head is the largest matrix).
    root.register_attribute("logits", c10::BoolType::get(), true);
    std::string forward =
        "def forward(self, input_ids, attention_mask: Optional[Tensor] = None):\n"
        "    h = self.model.forward(input_ids, attention_mask)\n"
        "    if not self.logits:\n"
        "        return h\n"
        "    logits = self.lm_head.forward(h)\n";
    if (s.final_softcap > 0) {
      root.register_attribute("final_logit_softcapping", c10::FloatType::get(), s.final_softcap);
      forward += "    logits = torch.tanh(logits / self.final_logit_softcapping) * self.final_logit_softcapping\n";
    }
    define(root, forward + "    return logits\n");
  } else {
    define(root, "def forward(self, input_ids, attention_mask: Optional[Tensor] = None):\n"
                 "    return self.model.forward(input_ids, attention_mask)\n");
  }
  w.check_all_used(s.family.model_type);
  root.eval();
  return root;
}

}  // namespace pevis::architectures
