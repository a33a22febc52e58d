#pragma once

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis {

/// One node of a `torch.export` graph as pevis runs it.
struct ExportedNodeInfo {
  std::string op;    ///< the ATen operator, e.g. "aten::linear"
  /// The module whose code ran it: its nn_module_stack ("" for the root),
  /// refined by the parameters it reads (a linear layer's weight names its
  /// layer) or, for attention, that project its query and key.
  std::string path;
  std::string stack_path;  ///< the nn_module_stack path as recorded
  std::vector<std::string> inputs;   ///< names of the values it reads (tensors and sizes), in schema order
  std::vector<std::string> outputs;  ///< names of the values it defines
};

/// The graph of a program: its user inputs, nodes in order, user outputs.
struct ExportedGraph {
  std::vector<std::string> inputs;
  std::vector<ExportedNodeInfo> nodes;
  std::vector<std::string> outputs;
};

/// What an observer sees after each node runs: the node, its arguments in
/// schema order (tensors, sizes, flags) and its results.
struct ExportedStep {
  std::size_t index;
  const ExportedNodeInfo& node;
  const std::vector<c10::IValue>& arguments;
  const std::vector<c10::IValue>& results;
};
using ExportedObserver = std::function<void(const ExportedStep&)>;

/// Tells a `torch.export` archive (`torch.export.save`, `.pt2`) from its
/// zip directory, without reading it.
bool is_exported_program(const ZipArchive& zip);

/// Reads a `.pt2` archive of PyTorch 2.6's layout (schema version 8): the
/// graph, validated before anything runs (every operator exists in this
/// LibTorch or is one pevis adds, every value is defined before it is used,
/// every argument has the kind its schema wants), and the weights, constants
/// and example inputs through pevis's restricted reader (no code from the file
/// runs). `path` names it in messages. Throws `pevis::Error` (exit 3), one
/// line, for anything else.
Model read_exported(const ZipArchive& zip, const std::string& path);

/// Reads and checks the graph of a program from its JSON (the archive's
/// `serialized_exported_program.json`) as `read_exported` does, without its
/// weights: for tests and fuzzing. Throws `pevis::Error` (exit 3).
ExportedGraph read_exported_graph(const std::string& program_json, const std::string& path);

/// Runs the program's graph node by node through LibTorch's dispatcher on
/// `inputs` (its user inputs, in order), calling `observe` after each node.
/// Returns the user output (a tuple when there are several). Throws
/// `pevis::Error` (exit 3) when the inputs do not fit or a node fails.
c10::IValue run_exported(const Model& model, const std::vector<c10::IValue>& inputs,
                         const ExportedObserver& observe = {});

/// The graph's structure, for analyses that follow values across modules.
const ExportedGraph& exported_graph(const Model& model);

/// The example inputs `torch.export` stored with the program.
std::vector<c10::IValue> exported_example_inputs(const Model& model);

/// "t: Tensor [1, 8] int64": the user inputs the program was exported with.
std::string exported_signature(const Model& model);

}  // namespace pevis
