// GPT-2 as transformers' GPT2LMHeadModel computes it in its eager path:
// token plus learned position embeddings; in each block LayerNorm, one
// Conv1D c_attn split into q, k and v, causal attention, c_proj, a residual,
// LayerNorm, the MLP (c_fc, gelu_new, c_proj), a residual; then ln_f.
// Conv1D is addmm(bias, x, W) with W stored [in, out].
#include "gpt2.h"

#include <cmath>

#include "build.h"
#include "pevis/base/error.h"

namespace pevis::architectures {
namespace {

using json = nlohmann::json;
using torch::jit::Module;

struct Gpt2Spec {
  std::int64_t hidden = 0, layers = 0, heads = 0, inner = 0, vocab = 0, positions = 0;
  double eps = 1e-5;
  std::string activation;
  bool scale = true;           ///< scale_attn_weights: by head_dim^-0.5
  bool scale_by_layer = false; ///< scale_attn_by_inverse_layer_idx: and by 1 / (layer + 1)
  bool tie = true;
};

Gpt2Spec read_spec(const json& config, const std::string& source) {
  Gpt2Spec s;
  // GPT2Config's names, or the common ones it maps them from.
  const auto size = [&](const char* key, const char* common, std::int64_t fallback) {
    return config.contains(key) ? whole(source, config, key) : whole(source, config, common, fallback);
  };
  s.hidden = size("n_embd", "hidden_size", 768);
  s.layers = size("n_layer", "num_hidden_layers", 12);
  s.heads = size("n_head", "num_attention_heads", 12);
  s.positions = size("n_positions", "max_position_embeddings", 1024);
  s.vocab = whole(source, config, "vocab_size", 50257);
  s.inner = config.contains("n_inner") && !config["n_inner"].is_null() ? whole(source, config, "n_inner") : 4 * s.hidden;
  s.eps = number(source, config, "layer_norm_epsilon", 1e-5);
  s.activation = text(source, config, "activation_function", "gelu_new");
  s.scale = flag(source, config, "scale_attn_weights", true);
  s.scale_by_layer = flag(source, config, "scale_attn_by_inverse_layer_idx", false);
  s.tie = flag(source, config, "tie_word_embeddings", true);
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.layers > 1000) {
    throw bad_input(source, "n_embd (" + std::to_string(s.hidden) + "), n_head (" + std::to_string(s.heads) +
                                ") or n_layer (" + std::to_string(s.layers) + ") do not fit together",
                    "the config is damaged");
  }
  if (activation(s.activation, "x").empty()) {
    throw bad_input(source, "activation_function '" + one_line(s.activation) + "' is not implemented for gpt2", "");
  }
  if (flag(source, config, "add_cross_attention", false)) {
    throw bad_input(source, "add_cross_attention (GPT-2 as a decoder of an encoder) is not implemented", "");
  }
  if (flag(source, config, "reorder_and_upcast_attn", false)) {
    throw bad_input(source, "reorder_and_upcast_attn is not implemented", "");
  }
  return s;
}

// Conv1D: y = addmm(bias, x, W), W [in, out].
Module conv1d(Weights& w, const std::string& name, std::int64_t in, std::int64_t out) {
  Module m = module("Conv1D");
  m.register_parameter("weight", w.take(name + ".weight", {in, out}), false);
  m.register_parameter("bias", w.take(name + ".bias", {out}), false);
  m.register_attribute("nf", c10::IntType::get(), out);
  define(m,
         "def forward(self, x):\n"
         "    y = torch.addmm(pevis.weight(self.bias).float(), x.reshape(-1, x.size(-1)).float(), pevis.weight(self.weight).float())"
         ".to(x.dtype)\n"
         "    return y.view(x.size(0), x.size(1), self.nf)\n");
  return m;
}

double scaling(const Gpt2Spec& s, std::int64_t layer) {
  double scale = s.scale ? std::pow(static_cast<double>(s.hidden / s.heads), -0.5) : 1.0;
  if (s.scale_by_layer) scale /= static_cast<double>(layer + 1);
  return scale;
}

Module block(Weights& w, const std::string& name, const Gpt2Spec& s) {
  Module attn = module("GPT2Attention");
  attn.register_module("c_attn", conv1d(w, name + ".attn.c_attn", s.hidden, 3 * s.hidden));
  attn.register_module("c_proj", conv1d(w, name + ".attn.c_proj", s.hidden, s.hidden));
  attn.register_attribute("hidden", c10::IntType::get(), s.hidden);
  attn.register_attribute("head_dim", c10::IntType::get(), s.hidden / s.heads);
  attn.register_attribute("scaling", c10::FloatType::get(), scaling(s, 0));
  define(attn,
         "def forward(self, x, mask):\n"
         "    b = x.size(0)\n"
         "    t = x.size(1)\n"
         "    qkv = self.c_attn.forward(x)\n"
         "    q = qkv.narrow(-1, 0, self.hidden).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    k = qkv.narrow(-1, self.hidden, self.hidden).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    v = qkv.narrow(-1, 2 * self.hidden, self.hidden).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    scores = torch.matmul(q.float(), k.transpose(-1, -2).float()).to(q.dtype) * self.scaling\n"
         "    scores = scores + mask\n"
         "    weights = torch.softmax(scores, -1)\n"
         "    out = torch.matmul(weights.float(), v.float()).to(v.dtype).transpose(1, 2).reshape(b, t, self.hidden)\n"
         "    return self.c_proj.forward(out)\n");
  Module mlp = module("GPT2MLP");
  mlp.register_module("c_fc", conv1d(w, name + ".mlp.c_fc", s.hidden, s.inner));
  mlp.register_module("c_proj", conv1d(w, name + ".mlp.c_proj", s.inner, s.hidden));
  define(mlp, "def forward(self, x):\n    h = self.c_fc.forward(x)\n    return self.c_proj.forward(" +
                  activation(s.activation, "h") + ")\n");
  Module m = module("GPT2Block");
  m.register_module("ln_1", layer_norm(w, name + ".ln_1", s.hidden, s.eps));
  m.register_module("attn", attn);
  m.register_module("ln_2", layer_norm(w, name + ".ln_2", s.hidden, s.eps));
  m.register_module("mlp", mlp);
  define(m,
         "def forward(self, x, mask):\n"
         "    h = self.attn.forward(self.ln_1.forward(x), mask) + x\n"
         "    return h + self.mlp.forward(self.ln_2.forward(h))\n");
  return m;
}

}  // namespace

Module build_gpt2(const Model& weights, const json& config, const std::string& source, at::ScalarType compute) {
  const Gpt2Spec s = read_spec(config, source);
  Weights w(weights, "transformer.", compute);
  const Module h = layer_list(block(w, "transformer.h.0", s), w, "transformer.h.", s.layers);
  for (std::int64_t i = 1; i < s.layers; ++i) {  // one class, each layer its own scale
    h.attr(std::to_string(i)).toModule().attr("attn").toModule().setattr("scaling", scaling(s, i));
  }
  Module base = module("GPT2Model");
  base.register_module("wte", embedding(w, "transformer.wte", s.vocab, s.hidden));
  base.register_module("wpe", embedding(w, "transformer.wpe", s.positions, s.hidden));
  base.register_module("h", h);
  base.register_module("ln_f", layer_norm(w, "transformer.ln_f", s.hidden, s.eps));
  base.register_attribute("positions", c10::IntType::get(), s.positions);
  std::string code =
      "def forward(self, ids, attention_mask: Optional[Tensor]):\n"
      "    t = ids.size(1)\n"
      "    assert t <= self.positions, 'the input is longer than the ' + str(self.positions) + ' positions of gpt2'\n"
      "    x = self.wte.forward(ids) + self.wpe.forward(torch.arange(t).unsqueeze(0))\n"
      "    q = torch.arange(t).unsqueeze(1)\n"
      "    k = torch.arange(t).unsqueeze(0)\n"
      "    mask = torch.zeros([t, t], dtype=x.dtype).masked_fill(k > q, " + lowest(compute) + ")\n"
      "    if attention_mask is not None:\n"
      "        mask = mask.masked_fill((attention_mask == 0).view(ids.size(0), 1, 1, t), " + lowest(compute) + ")\n";
  for (std::int64_t i = 0; i < s.layers; ++i) {
    code += "    x = getattr(self.h, \"" + std::to_string(i) + "\").forward(x, mask)\n";
  }
  base.define(code + "    return self.ln_f.forward(x)\n");  // no pevis operator here

  Module root = module("GPT2LMHeadModel");
  root.register_module("transformer", base);
  const bool head = w.has("lm_head.weight");
  if (head || s.tie) {
    Module lm_head = module("Linear");
    lm_head.register_parameter("weight",
                               head ? w.take("lm_head.weight", {s.vocab, s.hidden})
                                    : base.attr("wte").toModule().attr("weight").toTensor(),
                               false);
    define(lm_head, "def forward(self, x):\n    return torch.linear(x.float(), pevis.weight(self.weight).float()).to(x.dtype)\n");
    root.register_module("lm_head", lm_head);
    root.register_attribute("logits", c10::BoolType::get(), true);
    define(root,
           "def forward(self, input_ids, attention_mask: Optional[Tensor] = None):\n"
           "    h = self.transformer.forward(input_ids, attention_mask)\n"
           "    if not self.logits:\n"
           "        return h\n"
           "    return self.lm_head.forward(h)\n");
  } else {
    define(root, "def forward(self, input_ids, attention_mask: Optional[Tensor] = None):\n"
                 "    return self.transformer.forward(input_ids, attention_mask)\n");
  }
  // Old checkpoints hold each block's causal mask as buffers: recomputed here.
  w.check_all_used("gpt2", [](const NamedTensor& t) {
    const std::string& n = t.name;
    const auto ends = [&](const std::string& tail) {
      return n.size() >= tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0;
    };
    return ends("attn.masked_bias") || (ends("attn.bias") && t.dim() == 4);
  });
  root.eval();
  return root;
}

}  // namespace pevis::architectures
