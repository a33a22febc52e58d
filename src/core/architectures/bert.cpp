// BERT as transformers' BertModel computes it in its eager path, for one
// unpadded sequence: word + token type 0 + position embeddings, LayerNorm;
// in each layer attention.self (q, k, v, no mask), attention.output
// (LayerNorm(dense(a) + x)), intermediate (dense, activation), output
// (LayerNorm(dense(i) + h)); then the pooler where the weights hold one.
// RoBERTa differs only in its positions: pad_token_id + 1 + i.
#include "bert.h"

#include <cmath>

#include "build.h"
#include "pevis/base/error.h"

namespace pevis::architectures {
namespace {

using json = nlohmann::json;
using torch::jit::Module;

struct BertSpec {
  std::int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, vocab = 0, positions = 0, types = 0, pad = 0;
  double eps = 1e-12;
  std::string activation;
  bool roberta = false;
};

BertSpec read_spec(const std::string& family, const json& config, const std::string& source) {
  BertSpec s;
  s.roberta = family == "roberta";
  s.hidden = whole(source, config, "hidden_size", 768);
  s.layers = whole(source, config, "num_hidden_layers", 12);
  s.heads = whole(source, config, "num_attention_heads", 12);
  s.intermediate = whole(source, config, "intermediate_size", 3072);
  s.vocab = whole(source, config, "vocab_size", s.roberta ? 50265 : 30522);
  s.positions = whole(source, config, "max_position_embeddings", 512);
  s.types = whole(source, config, "type_vocab_size", 2);
  s.pad = whole(source, config, "pad_token_id", s.roberta ? 1 : 0);
  s.eps = number(source, config, "layer_norm_eps", 1e-12);
  s.activation = text(source, config, "hidden_act", "gelu");
  if (s.heads <= 0 || s.hidden % s.heads != 0 || s.layers <= 0 || s.layers > 1000 || s.types <= 0) {
    throw bad_input(source, "hidden_size (" + std::to_string(s.hidden) + "), num_attention_heads (" +
                                std::to_string(s.heads) + ") or num_hidden_layers (" + std::to_string(s.layers) +
                                ") do not fit together",
                    "the config is damaged");
  }
  if (activation(s.activation, "x").empty()) {
    throw bad_input(source, "hidden_act '" + one_line(s.activation) + "' is not implemented for " + family, "");
  }
  const std::string positions = text(source, config, "position_embedding_type", "absolute");
  if (positions != "absolute") {
    throw bad_input(source, "position_embedding_type '" + one_line(positions) + "' is not implemented", "");
  }
  if (flag(source, config, "is_decoder", false) || flag(source, config, "add_cross_attention", false)) {
    throw bad_input(source, family + " as a decoder (is_decoder, add_cross_attention) is not implemented", "");
  }
  return s;
}

Module layer(Weights& w, const std::string& name, const BertSpec& s) {
  Module self = module("BertSelfAttention");
  self.register_module("query", linear(w, name + ".attention.self.query", s.hidden, s.hidden, true));
  self.register_module("key", linear(w, name + ".attention.self.key", s.hidden, s.hidden, true));
  self.register_module("value", linear(w, name + ".attention.self.value", s.hidden, s.hidden, true));
  self.register_attribute("head_dim", c10::IntType::get(), s.hidden / s.heads);
  self.register_attribute("scaling", c10::FloatType::get(), std::pow(static_cast<double>(s.hidden / s.heads), -0.5));
  define(self,
         "def forward(self, x, mask: Optional[Tensor]):\n"
         "    b = x.size(0)\n"
         "    t = x.size(1)\n"
         "    q = self.query.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    k = self.key.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    v = self.value.forward(x).view(b, t, -1, self.head_dim).transpose(1, 2)\n"
         "    scores = torch.matmul(q.float(), k.transpose(2, 3).float()).to(q.dtype) * self.scaling\n"
         "    if mask is not None:\n"
         "        scores = scores + mask\n"
         "    weights = torch.softmax(scores, -1)\n"
         "    return torch.matmul(weights.float(), v.float()).to(v.dtype).transpose(1, 2).reshape(b, t, -1)\n");
  // dense, then LayerNorm of it plus the block's input: BertSelfOutput and BertOutput.
  const auto output = [&](const std::string& cls, const std::string& at, std::int64_t in) {
    Module m = module(cls);
    m.register_module("dense", linear(w, at + ".dense", in, s.hidden, true));
    m.register_module("LayerNorm", layer_norm(w, at + ".LayerNorm", s.hidden, s.eps));
    define(m, "def forward(self, h, x):\n    return self.LayerNorm.forward(self.dense.forward(h) + x)\n");
    return m;
  };
  Module attention = module("BertAttention");
  attention.register_module("self", self);
  attention.register_module("output", output("BertSelfOutput", name + ".attention.output", s.hidden));
  define(attention, "def forward(self, x, mask: Optional[Tensor]):\n"
                    "    return self.output.forward(self.self.forward(x, mask), x)\n");
  Module intermediate = module("BertIntermediate");
  intermediate.register_module("dense", linear(w, name + ".intermediate.dense", s.hidden, s.intermediate, true));
  define(intermediate,
         "def forward(self, x):\n    h = self.dense.forward(x)\n    return " + activation(s.activation, "h") + "\n");
  Module m = module("BertLayer");
  m.register_module("attention", attention);
  m.register_module("intermediate", intermediate);
  m.register_module("output", output("BertOutput", name + ".output", s.intermediate));
  define(m,
         "def forward(self, x, mask: Optional[Tensor]):\n"
         "    h = self.attention.forward(x, mask)\n"
         "    return self.output.forward(self.intermediate.forward(h), h)\n");
  return m;
}

}  // namespace

Module build_bert(const std::string& family, const Model& weights, const json& config, const std::string& source,
                  at::ScalarType compute) {
  const BertSpec s = read_spec(family, config, source);
  const std::string cls = s.roberta ? "Roberta" : "Bert";
  Weights w(weights, "", compute);
  // The files of BertFor*/RobertaFor* models name the base model's tensors with its prefix.
  const std::string prefix = w.has(family + ".embeddings.word_embeddings.weight") ? family + "." : "";

  Module embeddings = module(cls + "Embeddings");
  embeddings.register_module("word_embeddings", embedding(w, prefix + "embeddings.word_embeddings", s.vocab, s.hidden));
  embeddings.register_module("position_embeddings",
                             embedding(w, prefix + "embeddings.position_embeddings", s.positions, s.hidden));
  embeddings.register_module("token_type_embeddings",
                             embedding(w, prefix + "embeddings.token_type_embeddings", s.types, s.hidden));
  embeddings.register_module("LayerNorm", layer_norm(w, prefix + "embeddings.LayerNorm", s.hidden, s.eps));
  embeddings.register_attribute("pad", c10::IntType::get(), s.pad);
  embeddings.register_attribute("positions", c10::IntType::get(), s.positions);
  std::string code =
      "def forward(self, ids):\n"
      "    t = ids.size(1)\n";
  code += s.roberta ? "    mask = ids.ne(self.pad).int()\n"
                      "    position_ids = (torch.cumsum(mask, 1).type_as(mask) * mask).long() + self.pad\n"
                    : "    position_ids = torch.arange(t).unsqueeze(0)\n";
  code +=
      "    assert int(position_ids.max()) < self.positions, 'the input is longer than the model\\'s positions'\n"
      "    x = self.word_embeddings.forward(ids) + self.token_type_embeddings.forward(torch.zeros_like(ids))\n"
      "    x = x + self.position_embeddings.forward(position_ids)\n"
      "    return self.LayerNorm.forward(x)\n";
  define(embeddings, code);

  const Module layers = layer_list(layer(w, prefix + "encoder.layer.0", s), w, prefix + "encoder.layer.", s.layers);
  Module encoder = module(cls + "Encoder");
  encoder.register_module("layer", layers);
  code = "def forward(self, x, mask: Optional[Tensor]):\n";
  for (std::int64_t i = 0; i < s.layers; ++i) {
    code += "    x = getattr(self.layer, \"" + std::to_string(i) + "\").forward(x, mask)\n";
  }
  define(encoder, code + "    return x\n");

  Module root = module(cls + "Model");
  // A padded batch: no query sees a padded key (none is added otherwise, as in transformers).
  const std::string forward =
      "def forward(self, input_ids, attention_mask: Optional[Tensor] = None):\n"
      "    mask: Optional[Tensor] = None\n"
      "    if attention_mask is not None:\n"
      "        b = attention_mask.size(0)\n"
      "        t = attention_mask.size(1)\n"
      "        mask = torch.zeros([b, 1, 1, t], dtype=" + dtype_code(compute) + ").masked_fill((attention_mask == 0).view(b, 1, 1, t), " +
      lowest(compute) + ")\n";
  root.register_module("embeddings", embeddings);
  root.register_module("encoder", encoder);
  if (w.has(prefix + "pooler.dense.weight")) {
    Module pooler = module(cls + "Pooler");
    pooler.register_module("dense", linear(w, prefix + "pooler.dense", s.hidden, s.hidden, true));
    define(pooler, "def forward(self, x):\n    return torch.tanh(self.dense.forward(x.select(1, 0)))\n");
    root.register_module("pooler", pooler);
    define(root, forward +
                     "    h = self.encoder.forward(self.embeddings.forward(input_ids), mask)\n"
                     "    return (h, self.pooler.forward(h))\n");
  } else {
    define(root, forward + "    return self.encoder.forward(self.embeddings.forward(input_ids), mask)\n");
  }
  // The task heads, which attention does not pass through; and recomputed buffers.
  w.check_all_used(family, [](const NamedTensor& t) {
    const std::string& n = t.name;
    for (const char* head : {"cls.", "lm_head.", "classifier.", "qa_outputs."}) {
      if (n.rfind(head, 0) == 0) return true;
    }
    return buffer_by_role(n);
  });
  root.eval();
  return root;
}

}  // namespace pevis::architectures
