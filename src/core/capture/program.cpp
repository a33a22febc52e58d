#include "pevis/capture/program.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <ATen/core/stack.h>

#include <algorithm>
#include <limits>
#include <map>

#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/module_path.h"
#include "pevis/operators/attention_ops.h"
#include "backends.h"
#include "recorders.h"

namespace pevis {

// Python's integers do not overflow; int64 does, and INT64_MIN / -1 traps.
// A size past int64 is no size a tensor can have: refused.
std::int64_t size_arithmetic(SizeOp op, std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  switch (op) {
    case SizeOp::kAdd: TORCH_CHECK(!__builtin_add_overflow(a, b, &out), "a size overflows: ", a, " + ", b); return out;
    case SizeOp::kSub: TORCH_CHECK(!__builtin_sub_overflow(a, b, &out), "a size overflows: ", a, " - ", b); return out;
    case SizeOp::kMul: TORCH_CHECK(!__builtin_mul_overflow(a, b, &out), "a size overflows: ", a, " * ", b); return out;
    case SizeOp::kFloorDiv:
    case SizeOp::kMod: {
      TORCH_CHECK(b != 0, "a size is divided by zero");
      TORCH_CHECK(!(b == -1 && a == std::numeric_limits<std::int64_t>::min()), "a size overflows: ", a, " // -1");
      std::int64_t q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) --q;  // Python's floor division
      return op == SizeOp::kFloorDiv ? q : a - q * b;
    }
    default: return 0;
  }
}

namespace {

// The most elements one operator may be handed in a tensor: 2^34 (17
// billion), far past any tensor that fits in memory (attention of 12 heads
// over 8192 tokens is 0.8 billion), yet an expanded view (stride 0) can claim
// any number for free, and reducing 2^33 x 16 of them took a minute.
constexpr std::int64_t kMaxOperatorElements = std::int64_t{1} << 34;

// A node that failed, told with the user's inputs of the run (`diagnosis`:
// what pevis knows better than LibTorch's line, or "").
Error node_failed(const Model& model, const std::vector<c10::IValue>& inputs, std::size_t i, const ExportedNodeInfo& info,
                  const std::string& what, const std::string& diagnosis = "") {
  return forward_failed(model, inputs, "node " + std::to_string(i) + " (" + info.op + " in '" + info.path + "')", what,
                        "the program takes (" + exported_signature(model) + ")", diagnosis);
}

void check_work(const Model& model, const std::vector<c10::IValue>& inputs, std::size_t i, const ExportedNodeInfo& info,
                const torch::jit::Stack& stack) {
  for (const auto& value : stack) {
    if (!value.isTensor()) continue;
    const std::int64_t n = value.toTensor().numel();
    if (n > kMaxOperatorElements) {
      throw node_failed(model, inputs, i, info,
                        "it would work on a tensor of " + std::to_string(n) + " elements, more than the " +
                            std::to_string(kMaxOperatorElements) + " pevis lets one operator take");
    }
  }
}

// An embedding given an index outside its table: the user's token ids, or
// positions past the table's rows.
std::string embedding_diagnosis(const ExportedNodeInfo& info, const std::vector<c10::IValue>& arguments,
                                const std::vector<c10::IValue>& inputs) {
  if (info.op != "aten::embedding" || arguments.size() < 2 || !arguments[0].isTensor() || !arguments[1].isTensor()) return "";
  const at::Tensor& table = arguments[0].toTensor();
  const at::Tensor& indices = arguments[1].toTensor();
  if (table.dim() != 2 || indices.numel() == 0 || at::isFloatingType(indices.scalar_type())) return "";
  const std::int64_t rows = table.size(0), low = indices.min().item<std::int64_t>(), high = indices.max().item<std::int64_t>();
  const std::int64_t bad = low < 0 ? low : high;
  if (bad >= 0 && bad < rows) return "";
  const std::string name = info.path.empty() ? "the embedding" : info.path;
  const bool tokens = !inputs.empty() && inputs[0].isTensor() && inputs[0].toTensor().is_same(indices);
  return (tokens ? "token id " : "index ") + std::to_string(bad) + " is outside " + name + "'s " +
         std::to_string(rows) + " rows (ids 0 to " + std::to_string(rows - 1) + ")" +
         (tokens ? "" : ": is the input longer than the model's context?");
}

// The stack a node is called with: its arguments from the values computed so far.
torch::jit::Stack node_arguments(const ExportedNode& node, const std::vector<c10::IValue>& values) {
  torch::jit::Stack stack;
  const auto value = [&values](int slot) -> const c10::IValue& { return values[static_cast<std::size_t>(slot)]; };
  for (const auto& a : node.arguments) {
    if (a.kind == ExportedArgument::Kind::kValue) {
      stack.push_back(value(a.slot));
    } else if (a.kind != ExportedArgument::Kind::kList) {
      stack.push_back(a.constant);
    } else if (a.list_of == ExportedArgument::ListOf::kTensor) {
      c10::List<at::Tensor> list;
      for (int s : a.slots) list.push_back(value(s).toTensor());
      stack.emplace_back(list);
    } else if (a.list_of == ExportedArgument::ListOf::kOptionalTensor) {
      c10::List<c10::optional<at::Tensor>> list;
      for (int s : a.slots) list.push_back(s < 0 ? c10::optional<at::Tensor>() : value(s).toTensor());
      stack.emplace_back(list);
    } else {
      c10::List<std::int64_t> list;
      for (std::size_t k = 0; k < a.slots.size(); ++k) list.push_back(a.slots[k] < 0 ? a.items[k].toInt() : value(a.slots[k]).toInt());
      stack.emplace_back(list);
    }
  }
  return stack;
}

// Calls node `i` on `stack`, leaving its results there. `arguments` holds
// the stack as it was called, for views and observers.
void call_node(const Model& model, const std::vector<c10::IValue>& inputs, std::size_t i, const ExportedNode& node,
               const ExportedNodeInfo& info, torch::jit::Stack& stack, const std::vector<c10::IValue>& arguments) {
  const bool is_view = info.op == "aten::view";
  try {
    try {
      if (node.size_op == SizeOp::kSymSize) {
        const at::Tensor t = stack[0].toTensor();
        const std::int64_t dim = stack[1].toInt();
        TORCH_CHECK(dim >= -t.dim() && dim < t.dim(), "sym_size: dimension ", dim, " of a tensor of ", t.dim());
        stack = {c10::IValue(t.size(dim))};
      } else if (node.size_op == SizeOp::kSymNumel) {
        stack = {c10::IValue(stack[0].toTensor().numel())};
      } else if (node.size_op != SizeOp::kNone) {
        stack = {c10::IValue(size_arithmetic(node.size_op, stack[0].toInt(), stack[1].toInt()))};
      } else {
        node.handle->callBoxed(&stack);
      }
    } catch (const c10::Error&) {
      // A view of a tensor whose strides LibTorch's kernels made otherwise
      // than PyTorch 2.6's: the same values, copied.
      if (!is_view) throw;
      static const auto reshape = c10::Dispatcher::singleton().findSchemaOrThrow("aten::reshape", "");
      stack.assign(arguments.begin(), arguments.begin() + 2);
      reshape.callBoxed(&stack);
    }
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running node " + std::to_string(i) + " (" + info.op + ")");
    throw node_failed(model, inputs, i, info, first_line(e.what_without_backtrace()),
                      embedding_diagnosis(info, arguments, inputs));
  } catch (const std::exception& e) {
    // LibTorch's kernels raise standard exceptions too: still the
    // program's or its input's failure, not pevis's.
    if (is_out_of_memory(e)) throw out_of_memory("running node " + std::to_string(i) + " (" + info.op + ")");
    throw node_failed(model, inputs, i, info, first_line(e.what()));
  }
  // One list return spreads over several named outputs.
  if (stack.size() == 1 && stack[0].isTensorList() && node.outputs.size() != 1) {
    const auto list = stack[0].toTensorList();
    stack.clear();
    for (const auto& t : list) stack.emplace_back(at::Tensor(t));
  }
}

}  // namespace

c10::IValue run_exported(const Model& model, const std::vector<c10::IValue>& inputs, const ExportedObserver& observe) {
  const ExportedProgram& program = exported_program(model);
  if (inputs.size() != program.user_inputs.size()) {
    throw bad_input(model.path,
                    "the program takes " + std::to_string(program.user_inputs.size()) + " input(s) (" +
                        exported_signature(model) + "), but pevis gives it " + std::to_string(inputs.size()),
                    "give one tensor, or no --input to use the example the program was exported with");
  }
  check_exported_inputs(model, inputs);
  std::vector<c10::IValue> values(program.slot_count);
  for (const auto& [slot, tensor] : program.fixed) values[static_cast<std::size_t>(slot)] = tensor;
  for (std::size_t i = 0; i < inputs.size(); ++i) values[static_cast<std::size_t>(program.user_inputs[i])] = inputs[i];
  at::NoGradGuard no_grad;
  std::vector<c10::IValue> arguments, results;
  for (std::size_t i = 0; i < program.nodes.size(); ++i) {
    const ExportedNode& node = program.nodes[i];
    const ExportedNodeInfo& info = program.graph.nodes[i];
    torch::jit::Stack stack = node_arguments(node, values);
    check_work(model, inputs, i, info, stack);
    if (observe || info.op == "aten::view" || info.op == "aten::embedding") arguments = stack;
    call_node(model, inputs, i, node, info, stack, arguments);
    for (std::size_t k = 0; k < node.outputs.size() && k < stack.size(); ++k) {
      if (node.outputs[k] >= 0) values[static_cast<std::size_t>(node.outputs[k])] = stack[k];
    }
    if (observe) {
      results.assign(stack.begin(), stack.end());
      observe({i, info, arguments, results, node.handle ? &node.handle->schema() : nullptr});
    }
    for (int slot : program.release_after[i]) values[static_cast<std::size_t>(slot)] = c10::IValue();
  }
  if (program.user_outputs.size() == 1) return values[static_cast<std::size_t>(program.user_outputs[0])];
  std::vector<c10::IValue> outputs;
  for (int slot : program.user_outputs) outputs.push_back(values[static_cast<std::size_t>(slot)]);
  return c10::ivalue::Tuple::create(std::move(outputs));
}

namespace {

using recorders::capture_limit;
using recorders::capture_too_large;
using recorders::keep_formed;
using recorders::Records;

// The arguments of a formed attention operator's recorder, taken by name
// from the node's arguments in its operator's schema order.
std::vector<c10::IValue> arguments_by_name(const AttentionOp& op, const c10::FunctionSchema& schema,
                                           const std::vector<c10::IValue>& given) {
  std::vector<c10::IValue> args;
  for (const auto& name : recorder_arguments(op)) {
    const auto index = schema.argumentIndexWithName(name);
    TORCH_CHECK(index.has_value(), schema.name(), " has no argument ", name);
    const auto i = static_cast<std::size_t>(*index);
    args.push_back(i < given.size() ? given[i] : schema.arguments()[i].default_value().value_or(c10::IValue()));
  }
  return args;
}

std::vector<std::int64_t> sizes_of(const c10::IValue& v) {
  return v.isTensor() ? v.toTensor().sizes().vec() : std::vector<std::int64_t>{};
}

// A torch.export program runs in pevis's interpreter: the recorders are
// its observer, module paths come from each node's nn_module_stack.
CaptureResult capture_program(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool /*explicit_paths*/,
                              const SiteFilter& wanted) {
  std::map<std::size_t, std::size_t> site_of_node;
  std::vector<CapturedValue> sites;
  CaptureResult result;
  Records records;
  records.limit = capture_limit();
  result.output = run_exported(model, inputs, [&](const ExportedStep& step) {
    const std::string& op = step.node.op;
    if (std::find(kinds.begin(), kinds.end(), op) == kinds.end() || step.results.empty()) return;
    if (wanted && !wanted(step.node.path)) {
      ++records.skipped;
      return;
    }
    const auto site = static_cast<std::int64_t>(step.index);
    const AttentionOp* attention = attention_op(op);
    if (attention && attention->formed) {
      if (!step.schema) return;
      keep_formed(records, *attention, arguments_by_name(*attention, *step.schema, step.arguments), site);
    } else if (attention) {
      if (!step.results[0].isTensor()) return;
      const at::Tensor value = step.results[0].toTensor();
      records.keep(site, value.nbytes(), [&] { return value; });
    } else {
      return;
    }
    if (records.dropped || records.kept.empty()) return;
    auto [at, added] = site_of_node.emplace(step.index, sites.size());
    if (added) sites.push_back({step.node.path, op, step.index, 0, {}});
    sites[at->second].values.push_back(std::move(records.kept.back().second));
    records.kept.clear();
  });
  if (records.dropped) throw capture_too_large(model, records);
  result.skipped = records.skipped;
  result.captured = std::move(sites);
  return result;
}

ForwardTrace trace_program(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& op_kinds) {
  const ExportedGraph& graph = exported_graph(model);
  std::map<std::string, std::string> defined_in;  // value -> module path where it is made
  for (const auto& name : graph.inputs) defined_in[name] = "";
  struct Crossing {
    std::vector<std::string> out_paths, in_paths;
  };
  std::map<std::string, Crossing> crossing;
  const auto add = [](std::vector<std::string>& list, const std::string& p) {
    if (std::find(list.begin(), list.end(), p) == list.end()) list.push_back(p);
  };
  const auto link = [&](const std::string& value, const std::string& to) {
    const auto from = defined_in.find(value);
    if (from == defined_in.end()) return;  // a parameter, buffer or constant
    for (const auto& p : crossed(from->second, to)) add(crossing[value].out_paths, p);
    for (const auto& p : crossed(to, from->second)) add(crossing[value].in_paths, p);
  };
  // Module boundaries as the recorded stacks draw them (a refined path would
  // put the inside of a module whose stack export lost in the wrong place).
  for (const auto& node : graph.nodes) {
    for (const auto& in : node.inputs) link(in, node.stack_path);
    for (const auto& out : node.outputs) defined_in[out] = node.stack_path;
  }
  for (const auto& out : graph.outputs) {
    link(out, "");
    add(crossing[out].out_paths, "");
  }
  for (const auto& in : graph.inputs) add(crossing[in].in_paths, "");

  ForwardTrace trace;
  const auto keep = [&](const std::string& value, const std::vector<std::int64_t>& shape) {
    const auto found = crossing.find(value);
    if (found == crossing.end() || shape.empty()) return;
    for (const auto& p : found->second.out_paths) {
      if (trace.module_outputs[p].size() < 8) trace.module_outputs[p].push_back(shape);
    }
    for (const auto& p : found->second.in_paths) {
      if (trace.module_inputs[p].size() < 8) trace.module_inputs[p].push_back(shape);
    }
  };
  for (std::size_t i = 0; i < graph.inputs.size() && i < inputs.size(); ++i) keep(graph.inputs[i], sizes_of(inputs[i]));
  trace.output = run_exported(model, inputs, [&](const ExportedStep& step) {
    for (std::size_t k = 0; k < step.node.outputs.size() && k < step.results.size(); ++k) {
      keep(step.node.outputs[k], sizes_of(step.results[k]));
    }
    const std::string& op = step.node.op;
    if (std::find(op_kinds.begin(), op_kinds.end(), op) == op_kinds.end() || step.results.empty()) return;
    TracedOp traced;
    traced.path = step.node.path;
    traced.op = op;
    for (const auto& a : step.arguments) {
      if (a.isTensor()) traced.inputs.push_back(a.toTensor().sizes().vec());
      else if (a.isTensorList()) {
        for (const auto& t : a.toTensorList()) traced.inputs.push_back(at::Tensor(t).sizes().vec());
      } else if (a.isString() && op == "aten::einsum" && traced.equation.empty()) {
        traced.equation = a.toStringRef();
      }
    }
    traced.output = sizes_of(step.results[0]);
    trace.ops.push_back(std::move(traced));
  });
  return trace;
}


c10::IValue plain_program(const Model& model, const std::vector<c10::IValue>& inputs) {
  return run_exported(model, inputs);
}

}  // namespace

const ForwardBackend& program_backend() {
  static const ForwardBackend backend{&plain_program, &capture_program, &trace_program, &exported_signature};
  return backend;
}

}  // namespace pevis
