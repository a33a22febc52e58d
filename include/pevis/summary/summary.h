#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <vector>

#include "pevis/io/model.h"

namespace pevis {

/// One module of the model's tree.
struct SummaryRow {
  std::string path;   ///< "" for the root
  std::string type;   ///< class name, e.g. "MultiheadAttention"; "" when the file does not say
  int depth = 0;      ///< 0 for the root
  std::vector<std::vector<std::int64_t>> outputs;  ///< shapes of the tensors it returned (first call)
  std::vector<std::vector<std::int64_t>> inputs;   ///< shapes of the tensors it received
  std::int64_t own_params = 0;       ///< elements of the parameters registered on it (shared ones counted where first seen)
  std::int64_t own_trainable = 0;    ///< of which require grad
  std::int64_t subtree_params = 0;   ///< with everything below it
  std::int64_t own_bytes = 0;        ///< bytes of its own parameters, from each tensor's dtype
  std::int64_t subtree_bytes = 0;    ///< with everything below it
  std::vector<std::string> dtypes;   ///< dtypes of the parameters in its subtree, e.g. {"BFloat16"}
  std::int64_t own_mult_adds = 0;    ///< of the operations in its own code
  std::int64_t subtree_mult_adds = 0;
  bool called = false;               ///< it ran in the forward pass
};

/// Totals over the whole model. Sizes are in bytes, from each tensor's dtype.
struct SummaryTotals {
  std::int64_t params = 0, trainable = 0, non_trainable = 0;
  std::int64_t buffers = 0;          ///< buffer elements
  std::int64_t param_bytes = 0, buffer_bytes = 0;
  std::int64_t mult_adds = 0;
  std::int64_t activation_bytes = 0;  ///< the outputs of every module, float32, one forward pass
  bool forward = false;               ///< shapes and mult-adds come from a forward pass
};

/// A buffer (a tensor that is not a parameter, such as a positional table).
struct SummaryBuffer {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string dtype;
};

struct Summary {
  std::vector<SummaryRow> rows;  ///< the module tree in order, depth first
  std::vector<SummaryBuffer> buffers;
  /// Tensors saved twice over one storage (tied weights), counted once:
  /// (the later name, the name it was counted under).
  std::vector<std::pair<std::string, std::string>> shared;
  SummaryTotals totals;
};

/// Mult-adds of one traced operation (see docs/summary.md, "Mult-adds"): the output's
/// elements times the length of the contracted dimension for linear layers
/// and matrix products (so attention's QK^T and AV are counted), times
/// in_channels/groups x kernel size for convolutions, and the product of
/// every index's size for einsum.
std::int64_t mult_adds_of(const std::string& op, const std::string& equation,
                          const std::vector<std::vector<std::int64_t>>& inputs, const std::vector<std::int64_t>& output);

/// The operations whose mult-adds are counted.
const std::vector<std::string>& counted_ops();

/// Builds the table for `model`. With `inputs` and a TorchScript model, one
/// forward pass gives shapes and mult-adds; otherwise the table has
/// parameters only (the tree is then built from the dotted tensor names).
/// Parameters shared by several modules (tied weights), and tensors a
/// checkpoint saves twice over one storage region, are counted once (and
/// listed in `shared`). In files that do not tell parameters from buffers,
/// bool and integer tensors are buffers (no parameter is).
/// Reads no tensor data for files that are not runnable: names, dtypes and
/// shapes come from the file's index.
Summary summarize(const Model& model, const std::vector<c10::IValue>* inputs);

}  // namespace pevis
