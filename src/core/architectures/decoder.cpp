// The Llama family of decoders (llama, mistral, qwen2): RMSNorm before
// attention and MLP, rotary positions on every head, grouped key and value
// heads, a causal mask (a sliding window where the config says), SiLU-gated
// MLP. Each piece is TorchScript written here, computing what transformers'
// eager path computes, in the same order of operations.
#include "decoder.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/where.h>
#include <torch/csrc/jit/api/module.h>

#include <cmath>
#include <map>
#include <set>

#include "pevis/base/error.h"

namespace pevis::architectures {
namespace {

using torch::jit::Module;
using json = nlohmann::json;

// A module of its own class (each define compiles into its own unit).
Module module(const std::string& cls) { return Module(c10::QualifiedName("__torch__.pevis.built." + cls)); }

// What a config says of a key: its number, or `fallback` when it is absent or null.
double number(const std::string& source, const json& config, const std::string& key, double fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_number()) throw bad_input(source, "'" + key + "' is not a number", "the config is damaged");
  return config[key].get<double>();
}

std::int64_t whole(const std::string& source, const json& config, const std::string& key, std::int64_t fallback = -1) {
  const double v = number(source, config, key, static_cast<double>(fallback));
  if (v < 0 || v != std::floor(v) || v > 1e9) {
    throw bad_input(source, "'" + key + "' is " + (v < 0 && fallback < 0 ? "missing" : "not a size"),
                    "a " + std::string("config.json of this family names it"));
  }
  return static_cast<std::int64_t>(v);
}

// The rotary settings, in either layout: v5's `rope_parameters`, v4's
// top-level `rope_theta` and `rope_scaling` (`type` or `rope_type`).
json rope_settings(const json& config) {
  json rope = json::object();
  if (config.contains("rope_parameters") && config["rope_parameters"].is_object()) {
    rope = config["rope_parameters"];
  } else {
    if (config.contains("rope_scaling") && config["rope_scaling"].is_object()) rope = config["rope_scaling"];
    if (config.contains("rope_theta")) rope["rope_theta"] = config["rope_theta"];
  }
  if (!rope.contains("rope_type") && rope.contains("type")) rope["rope_type"] = rope["type"];
  if (!rope.contains("rope_type")) rope["rope_type"] = "default";
  if (!rope.contains("rope_theta")) rope["rope_theta"] = 10000.0;
  return rope;
}

// transformers' inverse frequencies for `rope` over `dim` dimensions, with
// its operations: Python's `a / t` is t.reciprocal() * a.
at::Tensor inverse_frequencies(const std::string& source, const json& rope, std::int64_t dim) {
  const std::string type = rope["rope_type"].is_string() ? rope["rope_type"].get<std::string>() : "?";
  const double base = number(source, rope, "rope_theta", 10000.0);
  const at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  const at::Tensor inv_freq = at::pow(base, exponent).reciprocal() * 1.0;
  if (type == "default") return inv_freq;
  if (type == "linear") return inv_freq / number(source, rope, "factor", 1.0);
  if (type == "llama3") {
    const double factor = number(source, rope, "factor", 8.0), low = number(source, rope, "low_freq_factor", 1.0),
                 high = number(source, rope, "high_freq_factor", 4.0),
                 old = number(source, rope, "original_max_position_embeddings", 8192.0);
    const double low_wavelen = old / low, high_wavelen = old / high;
    const at::Tensor wavelen = inv_freq.reciprocal() * (2 * M_PI);
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / factor, inv_freq);
    const at::Tensor smooth = (wavelen.reciprocal() * old - low) / (high - low);
    const at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    const at::Tensor medium = (wavelen < high_wavelen).logical_not().logical_and((wavelen > low_wavelen).logical_not());
    return at::where(medium, smoothed, scaled);
  }
  throw bad_input(source, "rope type '" + type + "' is not implemented for this family (pevis builds default, "
                  "linear and llama3)", "");
}

}  // namespace

DecoderSpec read_decoder_spec(const std::string& family, const json& config, const std::string& source) {
  DecoderSpec spec;
  spec.family = family;
  spec.hidden = whole(source, config, "hidden_size");
  spec.intermediate = whole(source, config, "intermediate_size");
  spec.layers = whole(source, config, "num_hidden_layers");
  spec.heads = whole(source, config, "num_attention_heads");
  spec.kv_heads = whole(source, config, "num_key_value_heads", spec.heads);
  spec.head_dim = whole(source, config, "head_dim", spec.heads > 0 ? spec.hidden / spec.heads : 0);
  spec.vocab = whole(source, config, "vocab_size");
  spec.eps = number(source, config, "rms_norm_eps", 1e-6);
  if (spec.heads <= 0 || spec.kv_heads <= 0 || spec.heads % spec.kv_heads != 0 || spec.head_dim <= 0 ||
      spec.head_dim % 2 != 0 || spec.layers <= 0 || spec.layers > 1000) {
    throw bad_input(source, "heads (" + std::to_string(spec.heads) + "), key-value heads (" +
                                       std::to_string(spec.kv_heads) + "), head_dim (" + std::to_string(spec.head_dim) +
                                       ") or layers (" + std::to_string(spec.layers) + ") do not fit together",
                    "the config is damaged");
  }
  const std::string act = config.value("hidden_act", std::string("silu"));
  if (act != "silu") throw bad_input(source, "hidden_act '" + act + "' is not implemented for " + family, "");
  const json rope = rope_settings(config);
  if (number(source, rope, "partial_rotary_factor", 1.0) != 1.0) {
    throw bad_input(source, "a partial_rotary_factor is not implemented for " + family, "");
  }
  spec.inv_freq = inverse_frequencies(source, rope, spec.head_dim);
  spec.tie = config.value("tie_word_embeddings", false);
  spec.attention_bias = family == "qwen2" || config.value("attention_bias", false);
  spec.output_bias = family != "qwen2" && config.value("attention_bias", false);
  spec.mlp_bias = config.value("mlp_bias", false);
  // Which layers see only a window of keys.
  const std::int64_t window = config.contains("sliding_window") && config["sliding_window"].is_number_integer()
                                  ? config["sliding_window"].get<std::int64_t>()
                                  : 0;
  for (std::int64_t i = 0; i < spec.layers; ++i) {
    bool sliding = false;
    if (config.contains("layer_types") && config["layer_types"].is_array() &&
        static_cast<std::int64_t>(config["layer_types"].size()) == spec.layers) {
      sliding = config["layer_types"][i] == "sliding_attention";
    } else if (family == "mistral") {
      sliding = window > 0;
    } else if (family == "qwen2") {
      sliding = config.value("use_sliding_window", false) && i >= whole(source, config, "max_window_layers", 28);
    }
    if (sliding && window <= 0) throw bad_input(source, "a sliding layer without a sliding_window", "");
    spec.windows.push_back(sliding ? window : 0);
  }
  return spec;
}

namespace {

class Weights {
 public:
  Weights(const Model& model, std::string prefix) : model_(model), prefix_(std::move(prefix)) {}

  // The tensor `name` (with or without the base model's prefix), as float32,
  // of exactly `shape`.
  at::Tensor take(const std::string& name, const std::vector<std::int64_t>& shape) {
    const NamedTensor* t = model_.find(name);
    if (!t && name.rfind(prefix_, 0) == 0) t = model_.find(name.substr(prefix_.size()));
    if (!t) {
      throw bad_input(model_.path, "the weights lack " + name + " " + shape_text(shape),
                      "the folder is incomplete or of another architecture than its config.json says");
    }
    if (t->shape() != shape) {
      throw bad_input(model_.path, t->name + " is " + shape_text(t->shape()) + ", not the " + shape_text(shape) +
                                       " its config.json implies",
                      "the folder's weights and config.json disagree");
    }
    used_.insert(t->name);
    return as_float(t->tensor()).contiguous().set_requires_grad(true);  // a trained parameter, as in the model
  }

  bool has(const std::string& name) const {
    return model_.find(name) || (name.rfind(prefix_, 0) == 0 && model_.find(name.substr(prefix_.size())));
  }

  // Every tensor of the folder went somewhere, except buffers transformers
  // recomputes: a tensor left over means a model pevis would not build exactly.
  void check_all_used(const std::string& family) const {
    for (const auto& t : model_.tensors) {
      if (used_.count(t.name) || t.name.find("rotary_emb.inv_freq") != std::string::npos) continue;
      throw bad_input(model_.path, "the weights hold " + one_line(t.name) + ", which a " + family + " model as its "
                                       "config.json describes does not use",
                      "the config.json does not describe these weights");
    }
  }

 private:
  static std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  const Model& model_;
  std::string prefix_;
  std::set<std::string> used_;
};

Module linear(Weights& w, const std::string& name, std::int64_t in, std::int64_t out, bool bias) {
  Module m = module("Linear");
  m.register_parameter("weight", w.take(name + ".weight", {out, in}), false);
  if (bias) {
    m.register_parameter("bias", w.take(name + ".bias", {out}), false);
    m.define("def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n");
  } else {
    m.define("def forward(self, x):\n    return torch.linear(x, self.weight)\n");
  }
  return m;
}

Module rms_norm(Weights& w, const std::string& name, std::int64_t d, double eps) {
  Module m = module("RMSNorm");
  m.register_parameter("weight", w.take(name + ".weight", {d}), false);
  m.register_attribute("eps", c10::FloatType::get(), eps);
  m.define(
      "def forward(self, x):\n"
      "    variance = x.pow(2).mean(-1, keepdim=True)\n"
      "    return self.weight * (x * torch.rsqrt(variance + self.eps))\n");
  return m;
}

Module attention(Weights& w, const std::string& name, const DecoderSpec& s) {
  Module m = module("Attention");
  m.register_module("q_proj", linear(w, name + ".q_proj", s.hidden, s.heads * s.head_dim, s.attention_bias));
  m.register_module("k_proj", linear(w, name + ".k_proj", s.hidden, s.kv_heads * s.head_dim, s.attention_bias));
  m.register_module("v_proj", linear(w, name + ".v_proj", s.hidden, s.kv_heads * s.head_dim, s.attention_bias));
  m.register_module("o_proj", linear(w, name + ".o_proj", s.heads * s.head_dim, s.hidden, s.output_bias));
  m.register_attribute("heads", c10::IntType::get(), s.heads);
  m.register_attribute("kv_heads", c10::IntType::get(), s.kv_heads);
  m.register_attribute("head_dim", c10::IntType::get(), s.head_dim);
  m.register_attribute("scaling", c10::FloatType::get(), std::pow(static_cast<double>(s.head_dim), -0.5));
  // rotate_half(x) = cat(-x2, x1); repeat_kv = repeat_interleave on the heads.
  m.define(
      "def forward(self, x, cos, sin, mask):\n"
      "    b = x.size(0)\n"
      "    t = x.size(1)\n"
      "    q = self.q_proj.forward(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)\n"
      "    k = self.k_proj.forward(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)\n"
      "    v = self.v_proj.forward(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)\n"
      "    c = cos.unsqueeze(1)\n"
      "    s = sin.unsqueeze(1)\n"
      "    half = self.head_dim // 2\n"
      "    q = (q * c) + (torch.cat([torch.neg(q.narrow(-1, half, half)), q.narrow(-1, 0, half)], -1) * s)\n"
      "    k = (k * c) + (torch.cat([torch.neg(k.narrow(-1, half, half)), k.narrow(-1, 0, half)], -1) * s)\n"
      "    groups = self.heads // self.kv_heads\n"
      "    k = torch.repeat_interleave(k, groups, 1)\n"
      "    v = torch.repeat_interleave(v, groups, 1)\n"
      "    scores = torch.matmul(q, k.transpose(2, 3)) * self.scaling\n"
      "    scores = scores + mask\n"
      "    weights = torch.softmax(scores, -1)\n"
      "    out = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, self.heads * self.head_dim)\n"
      "    return self.o_proj.forward(out)\n");
  return m;
}

Module mlp(Weights& w, const std::string& name, const DecoderSpec& s) {
  Module m = module("MLP");
  m.register_module("gate_proj", linear(w, name + ".gate_proj", s.hidden, s.intermediate, s.mlp_bias));
  m.register_module("up_proj", linear(w, name + ".up_proj", s.hidden, s.intermediate, s.mlp_bias));
  m.register_module("down_proj", linear(w, name + ".down_proj", s.intermediate, s.hidden, s.mlp_bias));
  m.define(
      "def forward(self, x):\n"
      "    return self.down_proj.forward(torch.silu(self.gate_proj.forward(x)) * self.up_proj.forward(x))\n");
  return m;
}

Module decoder_layer(Weights& w, const std::string& name, const DecoderSpec& s) {
  Module m = module("DecoderLayer");
  m.register_module("input_layernorm", rms_norm(w, name + ".input_layernorm", s.hidden, s.eps));
  m.register_module("self_attn", attention(w, name + ".self_attn", s));
  m.register_module("post_attention_layernorm", rms_norm(w, name + ".post_attention_layernorm", s.hidden, s.eps));
  m.register_module("mlp", mlp(w, name + ".mlp", s));
  m.define(
      "def forward(self, x, cos, sin, mask):\n"
      "    h = x + self.self_attn.forward(self.input_layernorm.forward(x), cos, sin, mask)\n"
      "    return h + self.mlp.forward(self.post_attention_layernorm.forward(h))\n");
  return m;
}

}  // namespace

Module build_decoder(const Model& weights, const DecoderSpec& s) {
  static const std::map<std::string, std::string> kClasses = {{"llama", "Llama"}, {"mistral", "Mistral"}, {"qwen2", "Qwen2"}};
  const std::string cls = kClasses.count(s.family) ? kClasses.at(s.family) : "Decoder";  // transformers' class names
  Weights w(weights, "model.");
  Module layers = module("Layers");
  for (std::int64_t i = 0; i < s.layers; ++i) {
    layers.register_module(std::to_string(i), decoder_layer(w, "model.layers." + std::to_string(i), s));
  }
  Module embed = module("Embedding");
  embed.register_parameter("weight", w.take("model.embed_tokens.weight", {s.vocab, s.hidden}), false);
  embed.define("def forward(self, ids):\n    return torch.embedding(self.weight, ids)\n");

  Module base = module(cls + "Model");
  base.register_module("embed_tokens", embed);
  base.register_module("layers", layers);
  base.register_module("norm", rms_norm(w, "model.norm", s.hidden, s.eps));
  base.register_buffer("inv_freq", s.inv_freq);
  // Positions 0..T-1; the mask is additive: 0 where a query sees a key,
  // -inf elsewhere (transformers adds the dtype's lowest value, which
  // softmax turns into the same zeros). Each layer's window its own.
  std::string code =
      "def forward(self, ids):\n"
      "    x = self.embed_tokens.forward(ids)\n"
      "    t = ids.size(1)\n"
      "    positions = torch.arange(t).float()\n"
      "    freqs = positions.unsqueeze(1) * self.inv_freq.unsqueeze(0)\n"
      "    emb = torch.cat([freqs, freqs], -1).unsqueeze(0)\n"
      "    cos = emb.cos()\n"
      "    sin = emb.sin()\n"
      "    q = torch.arange(t).unsqueeze(1)\n"
      "    k = torch.arange(t).unsqueeze(0)\n"
      "    zeros = torch.zeros([t, t])\n"
      "    causal = zeros.masked_fill(k > q, float('-inf'))\n";
  std::set<std::int64_t> windows(s.windows.begin(), s.windows.end());
  for (std::int64_t window : windows) {
    if (window > 0) {
      code += "    window" + std::to_string(window) + " = zeros.masked_fill((k > q) | (k <= q - " +
              std::to_string(window) + "), float('-inf'))\n";
    }
  }
  for (std::int64_t i = 0; i < s.layers; ++i) {
    const std::int64_t window = s.windows[static_cast<std::size_t>(i)];
    code += "    x = getattr(self.layers, \"" + std::to_string(i) + "\").forward(x, cos, sin, " +
            (window > 0 ? "window" + std::to_string(window) : std::string("causal")) + ")\n";
  }
  code += "    return self.norm.forward(x)\n";
  base.define(code);

  Module root = module(cls + "ForCausalLM");
  root.register_module("model", base);
  const bool head = w.has("lm_head.weight");
  if (head || s.tie) {
    Module lm_head = module("Linear");
    lm_head.register_parameter(
        "weight", head ? w.take("lm_head.weight", {s.vocab, s.hidden}) : embed.attr("weight").toTensor(), false);
    lm_head.define("def forward(self, x):\n    return torch.linear(x, self.weight)\n");
    root.register_module("lm_head", lm_head);
    root.define("def forward(self, input_ids):\n    return self.lm_head.forward(self.model.forward(input_ids))\n");
  } else {
    root.define("def forward(self, input_ids):\n    return self.model.forward(input_ids)\n");
  }
  w.check_all_used(s.family);
  root.eval();
  return root;
}

}  // namespace pevis::architectures
