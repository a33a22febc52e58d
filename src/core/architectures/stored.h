#pragma once
// Parameters of a built model that do not hold their data
// (architectures/stored.cpp). A built module's parameters stand for the
// folder's tensors: their names, shapes and dtypes are the file's, their
// storage one element. The module's code asks for the values where it uses
// them, `pevis.weight(self.weight)`, which reads the tensor from
// the file then, in the dtype the model computes in (float32, or bfloat16
// where asked), and lets it go after use: a layer's weights are in memory
// while that layer runs, not the whole model.

#include <ATen/core/Tensor.h>
#include <torch/csrc/jit/frontend/resolver.h>

#include "pevis/io/model.h"

namespace pevis::architectures {

/// A parameter standing for `tensor` (its shape and dtype, no data), whose
/// values the model uses in `compute` (float32 or bfloat16).
at::Tensor stored_parameter(const NamedTensor& tensor, at::ScalarType compute);

/// What TorchScript compiled by `Module::define` resolves names with: `torch`
/// as usual, and `pevis` for `pevis.weight(p)` (p's values in the dtype the
/// model computes in) and `pevis.weight_rows(p, ids)` (an embedding's rows
/// for ids, likewise).
torch::jit::ResolverPtr stored_resolver();

}  // namespace pevis::architectures
