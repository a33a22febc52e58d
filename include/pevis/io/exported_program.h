#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"
#include "pevis/operators/allowed_ops.h"

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

/// How one argument of a node is filled in when the node runs.
struct ExportedArgument {
  enum class Kind { kConstant, kValue, kList, kDefault };
  Kind kind = Kind::kDefault;
  c10::IValue constant;
  int slot = -1;                      ///< kValue
  std::vector<int> slots;             ///< kList: -1 where the item is a constant (or None)
  std::vector<c10::IValue> items;     ///< kList: the constant items
  enum class ListOf { kTensor, kOptionalTensor, kInt } list_of = ListOf::kInt;
};

/// Operations on sizes that a program exported with dynamic shapes holds:
/// pevis computes them itself (LibTorch 1.13 has no aten::sym_size.int, and
/// Python's operator module is no ATen operator).
enum class SizeOp { kNone, kSymSize, kSymNumel, kAdd, kSub, kMul, kFloorDiv, kMod };

/// One node as the interpreter runs it.
struct ExportedNode {
  c10::optional<c10::OperatorHandle> handle;
  SizeOp size_op = SizeOp::kNone;
  std::vector<ExportedArgument> arguments;  ///< in schema order
  std::vector<int> outputs;                 ///< slot per return; -1 where unused
};

/// One size of a user input as the program was exported: fixed, or a
/// symbol of torch.export's dynamic shapes with the range it was exported for.
struct ExportedDim {
  std::int64_t size = -1;     ///< a fixed size; -1 where the size is a symbol
  std::string symbol;         ///< "s0"; "" for a fixed size or an expression pevis does not check
  std::int64_t min = 0;       ///< the symbol's range (range_constraints), both ends included
  std::int64_t max = -1;      ///< -1: no upper end
};

/// The shape a user input must have; empty `dims` where the program does not say.
struct ExportedInputShape {
  std::string name;
  bool known = false;
  std::vector<ExportedDim> dims;
};

/// A program read and checked: what capture/program.cpp runs.
struct ExportedProgram {
  ExportedGraph graph;
  std::vector<ExportedNode> nodes;
  std::vector<int> input_slots;                        ///< every graph input, in order
  std::vector<std::pair<int, at::Tensor>> fixed;       ///< parameters, buffers, constants
  std::vector<int> user_inputs;                        ///< slots the caller fills, in order
  std::vector<std::string> user_input_text;            ///< for messages
  std::vector<ExportedInputShape> input_shapes;        ///< per user input
  std::vector<int> user_outputs;
  std::vector<std::vector<int>> release_after;         ///< per node: slots no later node reads
  std::size_t slot_count = 0;
  std::vector<c10::IValue> examples;
};

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

/// The program a model holds; throws `pevis::Error` (exit 3) for other models.
const ExportedProgram& exported_program(const Model& model);

/// Every node's operator, for the allow-list: "node 12 ('encoder')".
std::vector<OperatorUse> program_operators(const ExportedGraph& graph);

/// The graph's structure, for analyses that follow values across modules.
const ExportedGraph& exported_graph(const Model& model);

/// The example inputs `torch.export` stored with the program.
std::vector<c10::IValue> exported_example_inputs(const Model& model);

/// "t: Tensor [1, 8] int64": the user inputs the program was exported with.
std::string exported_signature(const Model& model);

/// "[1, s0] with s0 from 2 to 1024": the shape a user input must have.
std::string shape_text(const ExportedInputShape& shape);

/// Refuses inputs the program was not exported for, before anything runs:
/// another rank, a fixed size that differs, a dynamic size outside the range
/// torch.export recorded. Throws `pevis::Error` (exit 3) naming the input,
/// its shape, the program's and, where the other layout would fit, the flag.
void check_exported_inputs(const Model& model, const std::vector<c10::IValue>& inputs);

}  // namespace pevis
