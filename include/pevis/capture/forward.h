#pragma once
// The forward hook: one interface, two back-ends (TorchScript modules and
// torch.export programs), chosen once per model in capture/forward.cpp.

#include <ATen/core/ivalue.h>

#include <map>
#include <functional>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis {

/// Every tensor one graph node produced during a forward pass.
struct CapturedValue {
  std::string path;  ///< module path of the node, e.g. "encoder.layers.0.self_attn" ("" for the root)
  std::string op;    ///< the node's kind, e.g. "aten::softmax"
  std::size_t node = 0;             ///< which node of the inlined graph (several may share a path)
  /// For a softmax over [batch*heads, T, S] as nn.MultiheadAttention forms
  /// it: the heads, embed_dim / head_dim as the view that splits the values
  /// into heads saw them in the run (traces keep no num_heads); 0 when unknown.
  std::int64_t heads = 0;
  std::vector<at::Tensor> values;   ///< one per execution, in order
};

/// What a capturing forward pass returns.
struct CaptureResult {
  c10::IValue output;                   ///< the model's own output, unchanged by capturing
  std::vector<CapturedValue> captured;  ///< nodes that ran, in order of their first execution
  std::size_t skipped = 0;              ///< executions not kept: their module path was not wanted
  /// Tasks the forward starts with torch.jit.fork (prim::fork nodes). Their
  /// code is a subgraph of its own that runs on another thread: pevis
  /// inserts no recorder there, so what they form is not captured.
  std::size_t forked = 0;
};

/// Which module paths a capture keeps (all when empty): what is not wanted is
/// never copied or formed, so it costs no memory.
using SiteFilter = std::function<bool(const std::string& path)>;

/// A forward hook. For TorchScript (capture/script.cpp): copies the module's
/// forward graph, inlines it, inserts pevis's recording operator after every
/// node whose kind is in `kinds`, and runs it on the module with `inputs`
/// (without autograd); the recorder passes its input through, so the output
/// is the model's own. For a torch.export program (capture/program.cpp):
/// runs pevis's interpreter and records the same nodes as they run. Formed
/// attention operators are recorded as their registry entry says
/// (operators/attention_ops.h).
///
/// With `explicit_paths`, the run-time tests by which stock PyTorch layers
/// choose fused kernels (`torch.is_grad_enabled()`, `x.requires_grad`) read
/// as true, so nn.MultiheadAttention and nn.TransformerEncoderLayer take their
/// explicit path, the one that forms the softmax; it computes the same outputs.
///
/// Work started with torch.jit.fork is not looked into (`forked` counts it).
/// The recorders keep what they see in a slot of the capturing thread.
///
/// Keeps only the nodes whose module path `wanted` accepts. What is kept may
/// hold at most three quarters of the memory budget (see memory.h).
///
/// Throws `pevis::Error`: exit 3 when the model has no forward or fails on
/// these inputs (the message names the expected argument types), or when
/// what it would keep exceeds the budget.
CaptureResult capture_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool explicit_paths = true,
                              const SiteFilter& wanted = {});

/// One execution of an operation whose cost pevis counts (matrix products,
/// convolutions): the sizes of its tensor inputs and of its output.
struct TracedOp {
  std::string path;  ///< module path of the node
  std::string op;    ///< e.g. "aten::linear"
  std::string equation;  ///< aten::einsum only
  std::vector<std::vector<std::int64_t>> inputs;
  std::vector<std::int64_t> output;
};

/// Shapes seen in one forward pass.
struct ForwardTrace {
  c10::IValue output;
  /// Module path -> shapes of the tensors leaving it (its outputs), and of
  /// those entering it from outside (its inputs), in the first call.
  std::map<std::string, std::vector<std::vector<std::int64_t>>> module_outputs;
  std::map<std::string, std::vector<std::vector<std::int64_t>>> module_inputs;
  std::vector<TracedOp> ops;  ///< every execution of the `op_kinds`, in order
};

/// Runs the forward pass as `capture_forward` does, recording only shapes:
/// of every tensor that crosses a module boundary (module paths as there), and
/// of the inputs and output of every node whose kind is in `op_kinds`.
ForwardTrace trace_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& op_kinds);

/// Runs the model's forward as it is, for comparison.
c10::IValue plain_forward(const Model& model, const std::vector<c10::IValue>& inputs);

/// "x: Tensor, mask: Optional[Tensor]": the forward's arguments, for messages.
std::string forward_signature(const Model& model);

/// What the model's first layer takes, from the first weight in model order,
/// for messages: "conv_proj expects [N, 3, H, W]" (a 2-D convolution),
/// "fc1 expects [..., 784]" (a linear layer), "embedding takes token ids"; ""
/// when there is no such weight.
std::string first_layer_expects(const Model& model);

/// How a forward pass that failed on `inputs` is told (exit 3): the error's
/// first line `what`, where it happened (`where`: "node 5 (aten::view in
/// 'layers.0')" or ""), and a hint: a token id outside an embedding's rows or
/// an input longer than a position table said with the id and the table's
/// size, the input as pevis built it with the other layout's flag, and what
/// the model takes (`takes`: its forward's arguments).
/// `diagnosis`, where the caller knows better (the failing node's own
/// table), replaces the one pevis works out from the model's tables.
Error forward_failed(const Model& model, const std::vector<c10::IValue>& inputs, const std::string& where,
                     const std::string& what, const std::string& takes, const std::string& diagnosis = "");

/// The class of the module at `path` where the file keeps it (TorchScript:
/// "__torch__.torch.nn.modules.sparse.Embedding"), else `path` itself.
std::string module_class(const Model& model, const std::string& path);

/// The embedding tables of a model, in file order: (module path, rows): the
/// 2-D weights of modules whose class (or, without one, path) says
/// embedding ("emb", "wte", "wpe").
std::vector<std::pair<std::string, std::int64_t>> embedding_tables(const Model& model);

}  // namespace pevis
