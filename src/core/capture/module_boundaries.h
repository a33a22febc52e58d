#pragma once
// Which values of an inlined forward graph cross module boundaries: the
// second half of pevis's forward hook (graph_passes.h prepares the graph).
// A summary's per-module input and output shapes come from here. Internal
// to pevis_core.
//
// The rule (the invariant `crossing_values` keeps): a tensor is an output of
// module M when it is made inside M (the path of its node is M or below) and
// used outside M; it is an input of M when it is made outside and used
// inside. Paths come from each node's call stack, which inlining left there.
// Three refinements keep that rule true of what the model means:
//   - a use by the `return` of a nested block (an if or a loop) is a use by
//     the node that owns the block, since that is where the value goes next;
//   - a tuple or list carries its tensors: one made in M and used outside
//     marks the tensors it was built from, and one unpacked outside marks the
//     unpacked tensors (nn.MultiheadAttention returns (output, weights),
//     often through an if);
//   - reading a tensor's metadata (size, dim, numel, device, dtype, is_cuda)
//     moves no data across a boundary, and such nodes may carry no call stack.
// The graph's inputs enter the root module ""; its outputs leave it.

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "graph_passes.h"

namespace pevis::graph {

/// Full module paths of graph nodes. Call stacks name each module by its last
/// attribute only ("0" for layers[0]); the full path is found by walking the
/// module tree down from the root, matching type and name, skipping
/// containers (ModuleList).
class ModulePaths {
 public:
  explicit ModulePaths(const torch::jit::Module& root);
  /// "encoder.layers.0.self_attn"; "" for a node of the root's own code.
  std::string resolve(const torch::jit::Node* node) const;

 private:
  std::string descend(const std::string& from, const std::string& name, const c10::ClassTypePtr& type) const;
  struct Entry {
    std::string path;
    c10::ClassTypePtr type;
  };
  std::vector<Entry> entries_;
};


/// The modules a value leaves (it is their output) and enters (their input).
struct Crossing {
  std::vector<std::string> out_paths, in_paths;
};

/// Every tensor value that crosses a boundary, with the boundaries, in the
/// order of the graph (its inputs, then node outputs in program order).
/// `node_path` holds the module path of every node of `prepared`.
std::vector<std::pair<torch::jit::Value*, Crossing>> crossing_values(
    const PreparedGraph& prepared, const std::map<const torch::jit::Node*, std::string>& node_path);

}  // namespace pevis::graph
