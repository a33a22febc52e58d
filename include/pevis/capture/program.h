#pragma once
// The torch.export back-end of the forward hook: pevis's interpreter of a
// program's graph, and what it lets an observer see.

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "pevis/io/exported_program.h"

namespace pevis {

/// What an observer sees after each node runs: the node, its arguments in
/// schema order (tensors, sizes, flags) and its results.
struct ExportedStep {
  std::size_t index;
  const ExportedNodeInfo& node;
  const std::vector<c10::IValue>& arguments;
  const std::vector<c10::IValue>& results;
  const c10::FunctionSchema* schema;  ///< the operator's, naming the arguments; null for size operations
};
using ExportedObserver = std::function<void(const ExportedStep&)>;

/// Runs the program's graph node by node through LibTorch's dispatcher on
/// `inputs` (its user inputs, in order), calling `observe` after each node.
/// Returns the user output (a tuple when there are several). Throws
/// `pevis::Error` (exit 3) when the inputs do not fit or a node fails.
c10::IValue run_exported(const Model& model, const std::vector<c10::IValue>& inputs,
                         const ExportedObserver& observe = {});

/// A size operation pevis computes itself (Python's integer semantics: floor
/// division, the sign of the divisor for modulo). Throws `c10::Error` where
/// the result does not fit in int64 or a size is divided by zero.
std::int64_t size_arithmetic(SizeOp op, std::int64_t a, std::int64_t b);

}  // namespace pevis
