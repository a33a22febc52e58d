#pragma once
// Preparing and rewriting a TorchScript forward graph for capture: the first
// half of pevis's forward hook (the second, module_boundaries.h, says which
// values cross module boundaries). Internal to pevis_core.
//
// The passes, in the order `prepare` runs them, and what each relies on:
//   1. copy_forward        the module's own graph is never changed: every
//                          rewrite below works on a copy, run once and dropped.
//   2. inline_calls        after it, the forward is one graph: no node calls a
//                          submodule's method, and every node carries its call
//                          stack (module_boundaries.h reads module paths from it).
//   3. list_nodes          every node, nested blocks (if, loop) included, in
//                          program order; the list is taken before any
//                          recorder is inserted, so it names the model's own
//                          nodes only.
//   4. force_explicit_paths (optional) the run-time tests by which stock layers
//                          choose fused kernels read as true; needs 2, since
//                          the tests sit inside nn.MultiheadAttention's code.
// Then, per value of interest:
//   5. insert_recorder     routes every later use of a value through a
//                          recorder that returns it unchanged: the graph
//                          computes what it computed before.
//                          An operator that forms attention without returning
//                          it gets its registry entry's recorder
//                          (operators/attention_ops.h), on the node's own
//                          inputs by schema name (the node must have a schema
//                          pevis knows).

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <initializer_list>
#include <memory>
#include <vector>

namespace pevis::graph {

/// The forward graph, copied and inlined, with every node listed.
struct PreparedGraph {
  std::shared_ptr<torch::jit::Graph> graph;
  std::vector<torch::jit::Node*> nodes;  ///< the model's nodes (pass 3), recorders excluded
};

std::shared_ptr<torch::jit::Graph> copy_forward(const torch::jit::Module& module);
void inline_calls(torch::jit::Graph& graph);
std::vector<torch::jit::Node*> list_nodes(torch::jit::Graph& graph);
void force_explicit_paths(torch::jit::Graph& graph, const std::vector<torch::jit::Node*>& nodes);

/// Passes 1 to 4.
PreparedGraph prepare(const torch::jit::Module& module, bool explicit_paths);

/// Pass 5: inserts `symbol(inputs..., site)` just before `anchor`, and routes
/// every use of `value` after it through the recorder's output.
void insert_recorder(torch::jit::Graph& graph, c10::Symbol symbol, std::vector<torch::jit::Value*> inputs,
                     torch::jit::Value* value, std::int64_t site, torch::jit::Node* anchor);

/// Pass 5 for a costly operation: records the sizes of its tensor inputs
/// (the items of a list input too) and of its first output, through
/// `symbol(Tensor[] inputs, Tensor output, int site)`.
void insert_op_recorder(torch::jit::Graph& graph, c10::Symbol symbol, torch::jit::Node* node, std::int64_t site);

/// nn.MultiheadAttention's explicit path forms weights [batch*heads, T, S]
/// and multiplies them with v = view(x, [S, batch*heads, head_dim]) (then
/// transposed): the view that splits the heads, found from the softmax; null
/// where the graph has no such shape.
torch::jit::Node* head_split_of(torch::jit::Node* softmax);

bool is_tensor(const torch::jit::Value* value);
bool is_kind(const torch::jit::Node* node, std::initializer_list<const char*> kinds);

}  // namespace pevis::graph
