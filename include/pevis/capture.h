#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "pevis/model.h"

namespace pevis {

/// Every tensor one graph node produced during a forward pass.
struct CapturedValue {
  std::string path;  ///< module path of the node, e.g. "encoder.layers.0.self_attn" ("" for the root)
  std::string op;    ///< the node's kind, e.g. "aten::softmax"
  std::size_t node = 0;             ///< which node of the inlined graph (several may share a path)
  std::vector<at::Tensor> values;   ///< one per execution, in order
};

/// What a capturing forward pass returns.
struct CaptureResult {
  c10::IValue output;                   ///< the model's own output, unchanged by capturing
  std::vector<CapturedValue> captured;  ///< nodes that ran, in order of their first execution
};

/// A forward hook for TorchScript: copies the module's forward graph, inlines
/// it, inserts pevis's recording operator after every node whose kind is in
/// `kinds`, and runs it on the module with `inputs` (without autograd). The
/// recorder passes its input through, so the output is the model's own.
///
/// With `explicit_paths`, the run-time tests by which stock PyTorch layers
/// choose fused kernels (`torch.is_grad_enabled()`, `x.requires_grad`) read
/// as true, so nn.MultiheadAttention and nn.TransformerEncoderLayer take their
/// explicit path, the one that forms the softmax; it computes the same outputs.
///
/// Throws `pevis::Error`: exit 3 when the model has no forward or fails on
/// these inputs (the message names the expected argument types).
CaptureResult capture_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool explicit_paths = true);

/// Runs the model's forward as it is, for comparison.
c10::IValue plain_forward(const Model& model, const std::vector<c10::IValue>& inputs);

/// "x: Tensor, mask: Optional[Tensor]": the forward's arguments, for messages.
std::string forward_signature(const Model& model);

}  // namespace pevis
