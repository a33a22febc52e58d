#include "pevis/io/builtins.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "pevis/output/data_files.h"

namespace pevis {
namespace {

// One BLAS thread while a built-in trains. OpenBLAS (Debian's BLAS under
// LibTorch) keeps threads of its own that at::set_num_threads does not reach;
// on a busy machine they wait for each other at every small product, and
// training builtin:reverse took 160 s instead of 10. Found at run time, since
// another BLAS has no such functions.
class OneBlasThread {
 public:
  OneBlasThread() {
    if (get_ && set_) {
      before_ = get_();
      set_(1);
    }
  }
  ~OneBlasThread() {
    if (get_ && set_) set_(before_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  using Get = int (*)();
  using Set = void (*)(int);
  Get get_ = reinterpret_cast<Get>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  Set set_ = reinterpret_cast<Set>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  int before_ = 0;
};

namespace fs = std::filesystem;
using torch::jit::Module;

// Bump when builtin:reverse changes, so that old caches are not used.
constexpr const char* kReverseVersion = "reverse-v1";
constexpr std::int64_t kReverseVocab = 10;   // digits 0..9
constexpr std::int64_t kReverseLength = 8;

// Builds modules whose weights come from one seeded generator, initialised
// as PyTorch initialises its layers.
class Builder {
 public:
  explicit Builder(std::uint64_t seed)
      : cu_(std::make_shared<torch::jit::CompilationUnit>()), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}

  Module module(const std::string& cls) { return Module(cls, cu_, /*shouldMangle=*/true); }
  /// Another instance of a class made before (its methods are shared).
  Module instance_of(const c10::ClassTypePtr& type) { return Module(cu_, type); }

  at::Tensor uniform(at::IntArrayRef shape, double bound) {
    return at::empty(shape, at::kFloat).uniform_(-bound, bound, gen_);
  }
  at::Tensor normal(at::IntArrayRef shape) { return at::empty(shape, at::kFloat).normal_(0, 1, gen_); }

  Module linear(std::int64_t in, std::int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    return instance(linear_type_, "Linear", "def forward(self, x):\n    return torch.linear(x, self.weight, self.bias)\n",
                    {{"weight", uniform({out, in}, bound)}, {"bias", uniform({out}, bound)}});
  }
  Module layer_norm(std::int64_t d) {
    return instance(norm_type_, "LayerNorm",
                    "def forward(self, x):\n    return torch.layer_norm(x, [self.weight.size(0)], self.weight, self.bias, 1e-5)\n",
                    {{"weight", at::ones({d})}, {"bias", at::zeros({d})}});
  }
  Module embedding(std::int64_t n, std::int64_t d) {
    return instance(embedding_type_, "Embedding", "def forward(self, tokens):\n    return torch.embedding(self.weight, tokens)\n",
                    {{"weight", normal({n, d})}});
  }

 private:
  // One class per kind of layer; later layers of the kind are instances of it.
  Module instance(c10::ClassTypePtr& type, const std::string& cls, const std::string& code,
                  const std::vector<std::pair<std::string, at::Tensor>>& params) {
    Module m = type ? instance_of(type) : module(cls);
    for (const auto& [name, value] : params) m.register_parameter(name, value.set_requires_grad(true), /*is_buffer=*/false);
    if (!type) {
      m.define(code);
      type = m.type();
    }
    return m;
  }

  std::shared_ptr<torch::jit::CompilationUnit> cu_;
  at::Generator gen_;
  c10::ClassTypePtr linear_type_, norm_type_, embedding_type_;
};

// ---- the classic bias tutorial's network

Module simple_net() {
  Builder b(1);
  Module m = b.module("SimpleNet");
  m.register_module("fc1", b.linear(10, 20));
  m.register_module("fc2", b.linear(20, 10));
  m.define("def forward(self, x):\n    return self.fc2.forward(torch.relu(self.fc1.forward(x)))\n");
  return m;
}

// The same after 200 steps of SGD on fixed data: how training moves biases.
Module simple_net_trained() {
  Module m = simple_net();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor x = at::empty({64, 10}).normal_(0, 1, gen);
  const at::Tensor y = at::empty({64, 10}).normal_(0, 1, gen) * 0.5 + 0.3;
  std::vector<at::Tensor> params;
  for (const auto& p : m.parameters()) params.push_back(p);
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.05).momentum(0.9));
  // The plain interpreter: LibTorch 2.6's profiling executor re-specialises
  // this training graph without end (minutes for 200 steps); the numbers are
  // the same either way.
  torch::jit::GraphOptimizerEnabledGuard plain(false);
  const OneBlasThread one_blas_thread;
  for (int step = 0; step < 200; ++step) {
    optimizer.zero_grad();
    at::mse_loss(m.forward({x}).toTensor(), y).backward();
    optimizer.step();
  }
  return m;
}

// ---- attention, written out as nn.MultiheadAttention computes it

const char* kAttentionCode = R"(
def forward(self, x, mask: Optional[Tensor]):
    S = x.size(0)
    B = x.size(1)
    E = x.size(2)
    H = self.num_heads
    D = E // H
    q, k, v = torch.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
    q = q.reshape(S, B * H, D).transpose(0, 1) * (1.0 / float(D) ** 0.5)
    k = k.reshape(S, B * H, D).transpose(0, 1)
    v = v.reshape(S, B * H, D).transpose(0, 1)
    scores = torch.bmm(q, k.transpose(1, 2))
    if mask is not None:
        scores = scores + mask
    attn = torch.softmax(scores, -1)
    out = torch.bmm(attn, v).transpose(0, 1).reshape(S, B, E)
    return self.out_proj.forward(out)
)";

const char* kEncoderLayerCode = R"(
def forward(self, x, mask: Optional[Tensor]):
    x = self.norm1.forward(x + self.self_attn.forward(x, mask))
    return self.norm2.forward(x + self.linear2.forward(torch.relu(self.linear1.forward(x))))
)";

// The word-language-model example's TransformerModel: embedding scaled by
// sqrt(d), the sinusoidal `pe` buffer [5000, 1, d], post-norm encoder layers
// under a causal mask, and a linear decoder to log-probabilities.
Module transformer_lm(std::int64_t vocab) {
  constexpr std::int64_t d = 64, heads = 4, hidden = 128, layers = 2;
  Builder b(3);
  Module model = b.module("TransformerModel");
  model.register_module("encoder", b.embedding(vocab, d));

  Module pos = b.module("PositionalEncoding");
  pos.register_buffer("pe", sinusoidal_table({d, 5000, 10000.0}).unsqueeze(1));
  pos.define("def forward(self, x):\n    return x + self.pe[:x.size(0), :]\n");
  model.register_module("pos_encoder", pos);

  Module list = b.module("ModuleList");
  c10::ClassTypePtr attention_type, layer_type;
  std::string chain = "def forward(self, x, mask: Optional[Tensor]):\n";
  for (std::int64_t i = 0; i < layers; ++i) {
    Module attn = attention_type ? b.instance_of(attention_type) : b.module("MultiheadAttention");
    const double bound = std::sqrt(6.0 / static_cast<double>(d + 3 * d));  // xavier_uniform, as PyTorch
    attn.register_parameter("in_proj_weight", b.uniform({3 * d, d}, bound).set_requires_grad(true), false);
    attn.register_parameter("in_proj_bias", at::zeros({3 * d}).set_requires_grad(true), false);
    attn.register_module("out_proj", b.linear(d, d));
    attn.register_attribute("num_heads", c10::IntType::get(), heads);
    if (!attention_type) {
      attn.define(kAttentionCode);
      attention_type = attn.type();
    }
    Module layer = layer_type ? b.instance_of(layer_type) : b.module("TransformerEncoderLayer");
    layer.register_module("self_attn", attn);
    layer.register_module("linear1", b.linear(d, hidden));
    layer.register_module("linear2", b.linear(hidden, d));
    layer.register_module("norm1", b.layer_norm(d));
    layer.register_module("norm2", b.layer_norm(d));
    if (!layer_type) {
      layer.define(kEncoderLayerCode);
      layer_type = layer.type();
    }
    list.register_module(std::to_string(i), layer);
    chain += "    x = getattr(self, '" + std::to_string(i) + "').forward(x, mask)\n";
  }
  list.define(chain + "    return x\n");
  Module encoder = b.module("TransformerEncoder");
  encoder.register_module("layers", list);
  encoder.define("def forward(self, x, mask: Optional[Tensor]):\n    return self.layers.forward(x, mask)\n");
  model.register_module("transformer_encoder", encoder);
  model.register_module("decoder", b.linear(d, vocab));
  model.register_attribute("ninp", c10::IntType::get(), d);
  model.define(R"(
def forward(self, src):
    S = src.size(0)
    mask = torch.triu(torch.full([S, S], float('-inf')), 1)
    x = self.encoder.forward(src) * float(self.ninp) ** 0.5
    x = self.pos_encoder.forward(x)
    x = self.transformer_encoder.forward(x, mask)
    return torch.log_softmax(self.decoder.forward(x), -1)
)");
  return model;
}

// The classic single self-attention block, written correctly: Q, K, V and
// output projections over the whole embedding, 8 heads split from it, a 4-D
// softmax over the keys scaled by sqrt(head size). Input: [batch, length, 64].
Module self_attention() {
  Builder b(4);
  Module m = b.module("SelfAttention");
  for (const char* name : {"values", "keys", "queries", "fc_out"}) m.register_module(name, b.linear(64, 64));
  m.register_attribute("heads", c10::IntType::get(), 8);
  m.define(R"(
def forward(self, x):
    N = x.size(0)
    L = x.size(1)
    H = self.heads
    D = x.size(2) // H
    q = self.queries.forward(x).reshape(N, L, H, D)
    k = self.keys.forward(x).reshape(N, L, H, D)
    v = self.values.forward(x).reshape(N, L, H, D)
    energy = torch.einsum("nqhd,nkhd->nhqk", [q, k])
    attention = torch.softmax(energy / float(D) ** 0.5, 3)
    out = torch.einsum("nhql,nlhd->nqhd", [attention, v]).reshape(N, L, H * D)
    return self.fc_out.forward(out)
)");
  return m;
}

// ---- builtin:reverse: one attention layer that learns to reverse a sequence

Module reverse_untrained() {
  constexpr std::int64_t d = 32;
  Builder b(5);
  Module m = b.module("Reverse");
  m.register_module("embed", b.embedding(kReverseVocab, d));
  m.register_parameter("pos_embedding", (b.normal({kReverseLength, d}) * 0.5).set_requires_grad(true), false);
  Module attn = b.module("Attention");
  attn.register_module("query", b.linear(d, d));
  attn.register_module("key", b.linear(d, d));
  attn.register_module("value", b.linear(d, d));
  attn.define(R"(
def forward(self, x):
    q = self.query.forward(x)
    k = self.key.forward(x)
    scores = torch.matmul(q, k.transpose(1, 2)).unsqueeze(1) * (1.0 / float(q.size(2)) ** 0.5)
    weights = torch.softmax(scores, -1)
    return torch.matmul(weights.squeeze(1), self.value.forward(x))
)");
  m.register_module("attn", attn);
  m.register_module("out", b.linear(d, kReverseVocab));
  m.define(R"(
def forward(self, tokens):
    x = self.embed.forward(tokens) + self.pos_embedding[:tokens.size(1)]
    return self.out.forward(self.attn.forward(x))
)");
  return m;
}

// Random digit sequences [n, L] and their reversals.
std::pair<at::Tensor, at::Tensor> reverse_batch(at::Generator& gen, std::int64_t n) {
  at::Tensor x = at::randint(kReverseVocab, {n, kReverseLength}, gen, at::kLong);
  return {x, x.flip({1})};
}

double sequence_accuracy(Module& m, std::uint64_t seed, std::int64_t n) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto [x, y] = reverse_batch(gen, n);
  const at::Tensor predicted = m.forward({x}).toTensor().argmax(-1);
  return predicted.eq(y).all(/*dim=*/1).to(at::kDouble).mean().item<double>();
}

Module reverse_trained() {
  Module m = reverse_untrained();
  std::vector<at::Tensor> params;
  for (const auto& p : m.parameters()) params.push_back(p);
  torch::optim::Adam optimizer(params, torch::optim::AdamOptions(3e-3));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  torch::jit::GraphOptimizerEnabledGuard plain(false);  // as in simple_net_trained
  const OneBlasThread one_blas_thread;
  for (int step = 0; step < 1500; ++step) {
    const auto [x, y] = reverse_batch(gen, 64);
    optimizer.zero_grad();
    const at::Tensor logits = m.forward({x}).toTensor();
    at::cross_entropy_loss(logits.reshape({-1, kReverseVocab}), y.reshape({-1})).backward();
    optimizer.step();
  }
  return m;
}

// A file of the cache, written whole or not at all; "" when there is no cache.
std::string reverse_cache_path() {
  const std::string dir = cache_dir();
  if (dir.empty()) return {};
  return (fs::path(dir) / (std::string("builtin-") + kReverseVersion + ".pt")).string();
}

struct Loaded {
  Module module;
  double seconds = 0;
  bool cached = false;
};

Loaded reverse_module() {
  const std::string path = reverse_cache_path();
  if (!path.empty() && fs::exists(path)) {
    try {
      return {torch::jit::load(path, at::kCPU), 0, true};
    } catch (const std::exception&) {
      // A damaged cache is trained again below.
    }
  }
  const auto start = std::chrono::steady_clock::now();
  // Deterministic: one thread, fixed seeds.
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  Module m = reverse_trained();
  at::set_num_threads(threads);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!path.empty()) {
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
    try {
      write_via_temporary(path, [&](const std::string& temp) { m.save(temp); });
    } catch (const Error&) {
      // No cache this time: the model is still usable.
    }
  }
  return {m, seconds, false};
}

Model as_model(Module module, const std::string& name) {
  Model model;
  model.path = kBuiltinPrefix + name;
  model.format = "TorchScript";
  module.eval();
  for (const auto& p : module.named_parameters(/*recurse=*/true)) model.tensors.push_back({p.name, p.value, "parameter"});
  for (const auto& b : module.named_buffers(/*recurse=*/true)) model.tensors.push_back({b.name, b.value, "buffer"});
  model.module = std::make_shared<Module>(std::move(module));
  return model;
}


}  // namespace

std::string cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return (fs::path(xdg) / "pevis").string();
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "pevis").string();
  return {};
}

Model load_builtin(const std::string& name) {
  if (name == "simple-net") return as_model(simple_net(), name);
  if (name == "simple-net-trained") return as_model(simple_net_trained(), name);
  if (name == "transformer-lm") return as_model(transformer_lm(static_cast<std::int64_t>(builtin_lm_vocab_size())), name);
  if (name == "self-attention") return as_model(self_attention(), name);
  if (name == "reverse") return as_model(reverse_module().module, name);
  std::string known;
  for (const auto& b : builtin_list()) known += (known.empty() ? "" : ", ") + b.name;
  throw bad_input(kBuiltinPrefix + name, "there is no such built-in model", "the built-ins are: " + known);
}

ReverseReport reverse_report() {
  Loaded loaded = reverse_module();
  ReverseReport report;
  report.sequence_accuracy = sequence_accuracy(loaded.module, /*seed=*/7, /*n=*/2000);
  report.seconds = loaded.seconds;
  report.cached = loaded.cached;
  const std::string path = reverse_cache_path();
  report.cache_path = !path.empty() && fs::exists(path) ? path : "";
  return report;
}

}  // namespace pevis
