// ViT as transformers 5's ViTModel computes it in its eager path: patches
// by a strided Conv2d, the class token in front, learned positions added
// (no interpolation: the image must be of the config's size); in each layer
// LayerNorm, attention (q, k, v, o), a residual, LayerNorm, the MLP (fc1,
// activation, fc2), a residual; then LayerNorm, and the pooler where the
// weights hold one.
#include "vit.h"

#include <cmath>
#include <regex>

#include "build.h"
#include "pevis/base/error.h"

namespace pevis::architectures {
namespace {

using json = nlohmann::json;
using torch::jit::Module;

struct VitSpec {
  std::int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, channels = 3;
  std::int64_t image_h = 0, image_w = 0, patch_h = 0, patch_w = 0;
  double eps = 1e-12;
  std::string activation, pooler_activation;
  bool qkv_bias = true;
};

// An int, or a list of two, as ViTConfig takes image_size and patch_size.
std::pair<std::int64_t, std::int64_t> size_pair(const std::string& source, const json& config, const std::string& key,
                                                std::int64_t fallback) {
  if (config.contains(key) && config[key].is_array()) {
    const json& v = config[key];
    if (v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() || v[0].get<std::int64_t>() <= 0 ||
        v[1].get<std::int64_t>() <= 0 || v[0].get<std::int64_t>() > 100000 || v[1].get<std::int64_t>() > 100000) {
      throw bad_input(source, "'" + key + "' is not a size or a pair of sizes", "the config is damaged");
    }
    return {v[0].get<std::int64_t>(), v[1].get<std::int64_t>()};
  }
  const std::int64_t n = whole(source, config, key, fallback);
  return {n, n};
}

VitSpec read_spec(const json& config, const std::string& source) {
  VitSpec s;
  s.hidden = whole(source, config, "hidden_size", 768);
  s.layers = whole(source, config, "num_hidden_layers", 12);
  s.heads = whole(source, config, "num_attention_heads", 12);
  s.intermediate = whole(source, config, "intermediate_size", 3072);
  s.channels = whole(source, config, "num_channels", 3);
  std::tie(s.image_h, s.image_w) = size_pair(source, config, "image_size", 224);
  std::tie(s.patch_h, s.patch_w) = size_pair(source, config, "patch_size", 16);
  s.eps = number(source, config, "layer_norm_eps", 1e-12);
  s.activation = text(source, config, "hidden_act", "gelu");
  s.pooler_activation = text(source, config, "pooler_act", "tanh");
  s.qkv_bias = flag(source, config, "qkv_bias", true);
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.layers > 1000 || s.patch_h <= 0 ||
      s.patch_w <= 0 || s.image_h < s.patch_h || s.image_w < s.patch_w || s.channels <= 0) {
    throw bad_input(source, "hidden_size, num_attention_heads, num_hidden_layers, image_size or patch_size do not fit "
                            "together",
                    "the config is damaged");
  }
  if (activation(s.activation, "x").empty()) {
    throw bad_input(source, "hidden_act '" + one_line(s.activation) + "' is not implemented for vit", "");
  }
  return s;
}

// transformers 5's module names, as its ViT files name the same tensors.
std::string file_name(const std::string& prefix, const std::string& name) {
  static const std::vector<std::pair<std::regex, std::string>> renames = {
      {std::regex(R"(^layers\.(\d+)\.attention\.q_proj\.)"), "encoder.layer.$1.attention.attention.query."},
      {std::regex(R"(^layers\.(\d+)\.attention\.k_proj\.)"), "encoder.layer.$1.attention.attention.key."},
      {std::regex(R"(^layers\.(\d+)\.attention\.v_proj\.)"), "encoder.layer.$1.attention.attention.value."},
      {std::regex(R"(^layers\.(\d+)\.attention\.o_proj\.)"), "encoder.layer.$1.attention.output.dense."},
      {std::regex(R"(^layers\.(\d+)\.mlp\.fc1\.)"), "encoder.layer.$1.intermediate.dense."},
      {std::regex(R"(^layers\.(\d+)\.mlp\.fc2\.)"), "encoder.layer.$1.output.dense."},
      {std::regex(R"(^layers\.(\d+)\.layernorm_)"), "encoder.layer.$1.layernorm_"},
  };
  std::string renamed = name;
  for (const auto& [from, to] : renames) renamed = std::regex_replace(renamed, from, to);
  return prefix + renamed;
}

Module layer(Weights& w, const std::string& name, const VitSpec& s) {
  Module attention = module("ViTAttention");
  attention.register_module("q_proj", linear(w, name + ".attention.q_proj", s.hidden, s.hidden, s.qkv_bias));
  attention.register_module("k_proj", linear(w, name + ".attention.k_proj", s.hidden, s.hidden, s.qkv_bias));
  attention.register_module("v_proj", linear(w, name + ".attention.v_proj", s.hidden, s.hidden, s.qkv_bias));
  attention.register_module("o_proj", linear(w, name + ".attention.o_proj", s.hidden, s.hidden, true));
  attention.register_attribute("head_dim", c10::IntType::get(), s.hidden / s.heads);
  attention.register_attribute("scaling", c10::FloatType::get(),
                               std::pow(static_cast<double>(s.hidden / s.heads), -0.5));
  define(attention,
         "def forward(self, x):\n"
         "    b = x.size(0)\n"
         "    t = x.size(1)\n"
         "    q = self.q_proj.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    k = self.k_proj.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    v = self.v_proj.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    scores = torch.matmul(q.float(), k.transpose(2, 3).float()).to(q.dtype) * self.scaling\n"
         "    weights = torch.softmax(scores, -1, dtype=" + dtype_code(at::kFloat) + ")\n"  // in float32, as transformers
         "    out = torch.matmul(weights.to(q.dtype).float(), v.float()).to(q.dtype).transpose(1, 2).reshape(b, t, -1)\n"
         "    return self.o_proj.forward(out)\n");
  Module mlp = module("ViTMLP");
  mlp.register_module("fc1", linear(w, name + ".mlp.fc1", s.hidden, s.intermediate, true));
  mlp.register_module("fc2", linear(w, name + ".mlp.fc2", s.intermediate, s.hidden, true));
  define(mlp, "def forward(self, x):\n    h = self.fc1.forward(x)\n    return self.fc2.forward(" +
                  activation(s.activation, "h") + ")\n");
  Module m = module("ViTLayer");
  m.register_module("attention", attention);
  m.register_module("layernorm_before", layer_norm(w, name + ".layernorm_before", s.hidden, s.eps));
  m.register_module("layernorm_after", layer_norm(w, name + ".layernorm_after", s.hidden, s.eps));
  m.register_module("mlp", mlp);
  define(m,
         "def forward(self, x):\n"
         "    h = self.attention.forward(self.layernorm_before.forward(x)) + x\n"
         "    return self.mlp.forward(self.layernorm_after.forward(h)) + h\n");
  return m;
}

}  // namespace

Module build_vit(const Model& weights, const json& config, const std::string& source, at::ScalarType compute) {
  const VitSpec s = read_spec(config, source);
  // ViTFor* files name the base model "vit."; ViTModel's do not.
  const std::string prefix = weights.find("vit.embeddings.cls_token") ? "vit." : "";
  Weights w(weights, "", compute, [prefix](const std::string& name) { return file_name(prefix, name); });
  const std::int64_t patches = (s.image_h / s.patch_h) * (s.image_w / s.patch_w);

  Module projection = module("Conv2d");
  projection.register_parameter(
      "weight", w.take("embeddings.patch_embeddings.projection.weight", {s.hidden, s.channels, s.patch_h, s.patch_w}),
      false);
  projection.register_parameter("bias", w.take("embeddings.patch_embeddings.projection.bias", {s.hidden}), false);
  projection.register_attribute("stride", c10::ListType::ofInts(), c10::List<std::int64_t>({s.patch_h, s.patch_w}));
  define(projection,
         "def forward(self, x):\n"
         "    weight = pevis.weight(self.weight)\n"
         "    return torch.conv2d(x.to(weight.dtype).float(), weight.float(), pevis.weight(self.bias).float(), self.stride)"
         ".to(weight.dtype)\n");
  Module patch = module("ViTPatchEmbeddings");
  patch.register_module("projection", projection);
  patch.register_attribute("channels", c10::IntType::get(), s.channels);
  patch.register_attribute("height", c10::IntType::get(), s.image_h);
  patch.register_attribute("width", c10::IntType::get(), s.image_w);
  define(patch,
         "def forward(self, x):\n"
         "    assert x.dim() == 4 and x.size(1) == self.channels and x.size(2) == self.height and "
         "x.size(3) == self.width, 'vit takes images [N, ' + str(self.channels) + ', ' + str(self.height) + ', ' + "
         "str(self.width) + ']'\n"
         "    return self.projection.forward(x).flatten(2).transpose(1, 2)\n");
  Module embeddings = module("ViTEmbeddings");
  embeddings.register_parameter("cls_token", w.take("embeddings.cls_token", {1, 1, s.hidden}), false);
  embeddings.register_parameter("position_embeddings",
                                w.take("embeddings.position_embeddings", {1, patches + 1, s.hidden}), false);
  embeddings.register_module("patch_embeddings", patch);
  define(embeddings,
         "def forward(self, pixel_values):\n"
         "    e = self.patch_embeddings.forward(pixel_values)\n"
         "    cls = pevis.weight(self.cls_token).expand(e.size(0), -1, -1)\n"
         "    return torch.cat([cls, e], 1) + pevis.weight(self.position_embeddings)\n");

  const Module layers = layer_list(layer(w, "layers.0", s), w, "layers.", s.layers);
  Module root = module("ViTModel");
  root.register_module("embeddings", embeddings);
  root.register_module("layers", layers);
  root.register_module("layernorm", layer_norm(w, "layernorm", s.hidden, s.eps));
  std::string code =
      "def forward(self, pixel_values):\n"
      "    x = self.embeddings.forward(pixel_values)\n";
  for (std::int64_t i = 0; i < s.layers; ++i) code += "    x = getattr(self.layers, \"" + std::to_string(i) + "\").forward(x)\n";
  code += "    x = self.layernorm.forward(x)\n";
  if (w.has("pooler.dense.weight")) {
    if (activation(s.pooler_activation, "x").empty() && s.pooler_activation != "tanh") {
      throw bad_input(source, "pooler_act '" + one_line(s.pooler_activation) + "' is not implemented for vit", "");
    }
    const std::int64_t pooled = whole(source, config, "pooler_output_size", s.hidden);
    Module pooler = module("ViTPooler");
    pooler.register_module("dense", linear(w, "pooler.dense", s.hidden, pooled, true));
    define(pooler, "def forward(self, x):\n    p = self.dense.forward(x.select(1, 0))\n    return " +
                       (s.pooler_activation == "tanh" ? std::string("torch.tanh(p)") : activation(s.pooler_activation, "p")) +
                       "\n");
    root.register_module("pooler", pooler);
    code += "    return (x, self.pooler.forward(x))\n";
  } else {
    code += "    return x\n";
  }
  define(root, code);
  w.check_all_used("vit", [](const NamedTensor& t) { return t.name.rfind("classifier.", 0) == 0; });
  root.eval();
  return root;
}

}  // namespace pevis::architectures
