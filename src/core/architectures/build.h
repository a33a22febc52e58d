#pragma once
// What every built architecture uses (architectures/build.cpp): reading
// config.json values, taking the folder's tensors as stand-in parameters,
// compiling TorchScript modules, and giving every layer one class.

#include <torch/csrc/jit/api/module.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis::architectures {

// config.json values, each as its key must be, or `fallback` where the key is
// absent or null. A value of another type, or a missing one without a
// fallback (whole: -1), is `pevis::Error` (exit 3) naming `source` and the key.
double number(const std::string& source, const nlohmann::json& config, const std::string& key, double fallback);
std::int64_t whole(const std::string& source, const nlohmann::json& config, const std::string& key,
                   std::int64_t fallback = -1);
std::string text(const std::string& source, const nlohmann::json& config, const std::string& key,
                 const std::string& fallback);
bool flag(const std::string& source, const nlohmann::json& config, const std::string& key, bool fallback);
/// `number`, which must be above 0 (a base, a factor, a scale): 0 or less
/// would divide by zero or take a logarithm of it, as transformers would.
double positive(const std::string& source, const nlohmann::json& config, const std::string& key, double fallback);

/// A module of its own class, `__torch__.pevis.built.<cls>`.
torch::jit::Module module(const std::string& cls);

/// Compiles `code` into `m`: TorchScript that knows torch's operators and
/// pevis's `pevis.weight` and `pevis.weight_rows` (stored.h).
void define(torch::jit::Module& m, const std::string& code);

/// The lowest value of `compute` (float32 or bfloat16), as TorchScript
/// reads it: what transformers adds to the scores of keys a query may not
/// see, in the dtype the model computes in.
std::string lowest(at::ScalarType compute);

/// `compute` as a TorchScript dtype argument (`dtype=` takes its number).
std::string dtype_code(at::ScalarType compute);

/// A float as TorchScript reads it back exactly.
std::string literal(double v);

/// transformers' ACT2FN[name] applied to the TorchScript expression `x`;
/// "" for an activation pevis does not build.
std::string activation(const std::string& name, const std::string& x);

/// The folder's tensors, taken by name as a model's parameters.
class Weights {
 public:
  /// `prefix`: the base model's ("model."), which the files may leave out.
  /// `file_name`: where a model's names differ from its files' (ViT), the
  /// file's name of a module's tensor, tried when the name itself is absent.
  /// `compute`: the dtype the model computes in, float32 or bfloat16 (its
  /// parameters' values are converted to it where they are used).
  Weights(const Model& model, std::string prefix, at::ScalarType compute,
          std::function<std::string(const std::string&)> file_name = nullptr)
      : model_(model), prefix_(std::move(prefix)), compute_(compute), file_name_(std::move(file_name)) {}

  at::ScalarType compute() const { return compute_; }

  /// A stand-in parameter (stored.h) for the tensor `name`, with or without
  /// the prefix, which must be of exactly `shape`.
  at::Tensor take(const std::string& name, const std::vector<std::int64_t>& shape);

  bool has(const std::string& name) const;

  /// Every tensor of the folder went somewhere, except those `ignored` says
  /// transformers recomputes (rotary inv_freq, GPT-2's old mask buffers): a
  /// tensor left over means a model pevis would not build exactly.
  void check_all_used(const std::string& family,
                      const std::function<bool(const NamedTensor&)>& ignored = nullptr) const;

 private:
  const NamedTensor* find(const std::string& name) const;

  const Model& model_;
  std::string prefix_;
  at::ScalarType compute_;
  std::function<std::string(const std::string&)> file_name_;
  std::set<std::string> used_;
};

// Products, linear layers, convolutions, LayerNorm, GELU and SiLU are
// written `op(x.float(), ...).to(x.dtype)`: in float32 from the model's
// values, rounded once to its dtype, which is how PyTorch 2's CPU kernels
// compute them in bfloat16 (LibTorch 1.13's own bfloat16 kernels accumulate
// in bfloat16). In float32 the casts do nothing.

/// nn.Linear (`weight` [out, in], and `bias` [out] where `bias`).
torch::jit::Module linear(Weights& w, const std::string& name, std::int64_t in, std::int64_t out, bool bias);

/// nn.LayerNorm over the last `d` values, with its weight and bias.
torch::jit::Module layer_norm(Weights& w, const std::string& name, std::int64_t d, double eps);

/// nn.Embedding of `rows` x `d`: only the rows of the ids are converted.
torch::jit::Module embedding(Weights& w, const std::string& name, std::int64_t rows, std::int64_t d);

/// A ModuleList of `count` layers: `first` as "0", then layers 1.. of its
/// class (and its submodules of theirs), each holding the weights named
/// `prefix`N.* where `first` holds its own. Every layer shares one class:
/// LibTorch's alias analysis of a forward that calls N modules of N
/// distinct classes grows exponentially with N.
torch::jit::Module layer_list(const torch::jit::Module& first, Weights& w, const std::string& prefix,
                              std::int64_t count);

}  // namespace pevis::architectures
