#include "pevis/capture/forward.h"

// The TorchScript back-end of the forward hook: a copy of the module's
// forward graph, prepared by the graph passes, with pevis's recorders
// inserted after the nodes of interest, run once.

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <map>
#include <set>

#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/base/module_path.h"
#include "pevis/operators/attention_ops.h"
#include "backends.h"
#include "graph_passes.h"
#include "module_boundaries.h"
#include "recorders.h"

namespace pevis {

using graph::crossing_values;
using graph::head_split_of;
using graph::insert_recorder;
using graph::is_tensor;
using graph::ModulePaths;
using graph::PreparedGraph;
using recorders::ActiveRecords;
using recorders::Records;

namespace {

// The line of a LibTorch error that says what went wrong: for errors raised
// inside TorchScript code that is the last "...Error: ..." line, after the
// interpreter's traceback; otherwise the first line that is not blank.
std::string forward_error_line(const std::string& text) {
  if (text.rfind("The following operation failed", 0) == 0) {
    const auto error = text.rfind("Error: ");
    if (error != std::string::npos) {
      const auto start = text.rfind('\n', error);
      const std::string line = text.substr(start == std::string::npos ? 0 : start + 1);
      return one_line(line.substr(0, line.find('\n')));
    }
  }
  return first_line(text);
}

torch::jit::Module& module_of(const Model& model, const std::string& needs) {
  if (!model.module) {
    throw bad_input(model.path,
                    model.described() + " holds tensors but no forward pass, and " + needs + " needs one",
                    "give a TorchScript model: torch.jit.script(model).save(path)");
  }
  return *model.module;
}

// The module whose code was running when the interpreter failed, from its
// traceback of the serialized code: each frame marks the call it was in
// ("(wte).forward(tokens, )" under "<--- HERE"), and a few lines above it
// bind that name ("wte = self.wte", "_1 = getattr(h, \"0\")"). Frames that
// call a module's forward give one part of the path each; "" when the
// traceback does not say.
std::string failing_module(const std::string& text) {
  const auto serialized = text.find("serialized code (most recent call last):");
  if (serialized == std::string::npos) return "";
  const auto end = text.find("\nTraceback of TorchScript, original code", serialized);
  std::vector<std::string> lines;
  for (std::size_t i = serialized, next; i < std::min(end, text.size()); i = next + 1) {
    next = text.find('\n', i);
    if (next == std::string::npos) next = text.size();
    lines.push_back(text.substr(i, next - i));
  }
  std::string path;
  std::map<std::string, std::string> bound;  // within a frame: name -> module path part
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const std::string& line = lines[k];
    if (line.find("  File \"") == 0) {
      bound.clear();
      continue;
    }
    // "wte = self.wte", "layer = getattr(layers, \"0\")", "h = self.h"
    const auto eq = line.find(" = ");
    if (eq != std::string::npos) {
      std::string name = line.substr(0, eq);
      name.erase(0, name.find_first_not_of(' '));
      const std::string value = line.substr(eq + 3);
      if (value.rfind("self.", 0) == 0 && value.find_first_of("(),[ ") == std::string::npos) {
        bound[name] = value.substr(5);
      } else if (value.rfind("getattr(", 0) == 0) {
        const auto comma = value.find(", \"");
        const auto close = value.find("\")", comma == std::string::npos ? 0 : comma);
        if (comma != std::string::npos && close != std::string::npos) {
          const std::string parent = value.substr(8, comma - 8);
          const std::string item = value.substr(comma + 3, close - comma - 3);
          const auto known = bound.find(parent);
          bound[name] = (known != bound.end() ? known->second : parent) + "." + item;
        }
      }
    }
    if (k + 1 < lines.size() && lines[k + 1].find("<--- HERE") != std::string::npos) {
      const auto call = line.find(").forward(");
      const auto open = call == std::string::npos ? std::string::npos : line.rfind('(', call);
      if (call == std::string::npos || open == std::string::npos) break;  // not a module call: the failing code
      const std::string callee = line.substr(open + 1, call - open - 1);
      const auto found = bound.find(callee);
      const bool direct = callee.rfind("self.", 0) == 0 && callee.find_first_of("(),[ ") == std::string::npos;
      if (found == bound.end() && !direct) break;
      path += (path.empty() ? "" : ".") + (direct ? callee.substr(5) : found->second);
    }
  }
  return path;
}

// A failed forward, told with the input, where it failed and what the forward takes.
Error script_failed(const Model& model, const std::vector<c10::IValue>& inputs, const std::string& what,
                    const std::string& full = "") {
  const std::string module = failing_module(full);
  return forward_failed(model, inputs, module.empty() ? "" : "the forward of module '" + module + "'", what,
                        "forward takes (" + forward_signature(model) + ")");
}

c10::IValue run_graph(torch::jit::Module& module, std::shared_ptr<torch::jit::Graph> graph,
                      const std::vector<c10::IValue>& inputs, const Model& model) {
  torch::jit::GraphFunction function("pevis_forward", std::move(graph), nullptr);
  std::vector<c10::IValue> stack;
  stack.push_back(module._ivalue());
  stack.insert(stack.end(), inputs.begin(), inputs.end());
  // The copied graph knows no defaults: the arguments not given take the
  // forward's own (check_arity made sure there are).
  const auto& args = module.get_method("forward").function().getSchema().arguments();
  for (std::size_t i = stack.size(); i < args.size(); ++i) stack.push_back(*args[i].default_value());
  // The copy runs once: optimising it first (profiling, fusion) costs more
  // than it saves (0.23 s -> 0.13 s for a 6-layer model on 128 tokens).
  torch::jit::GraphOptimizerEnabledGuard unoptimised(false);
  try {
    return function(std::move(stack));
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw script_failed(model, inputs, forward_error_line(e.what_without_backtrace()), e.what_without_backtrace());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw script_failed(model, inputs, forward_error_line(e.what()), e.what());
  }
}

void check_arity(const Model& model, const std::vector<c10::IValue>& inputs) {
  const auto& schema = module_of(model, "this").get_method("forward").function().getSchema();
  const auto& args = schema.arguments();
  std::size_t required = 0;
  for (std::size_t i = 1; i < args.size(); ++i) required += !args[i].default_value().has_value();
  if (inputs.size() < required || inputs.size() + 1 > args.size()) {
    throw bad_input(model.path,
                    "its forward takes (" + forward_signature(model) + "), but pevis gives it " +
                        std::to_string(inputs.size()) + " input" + (inputs.size() == 1 ? "" : "s"),
                    "pevis feeds models that take one tensor; other arguments must have defaults");
  }
}

std::string script_signature(const Model& model) {
  const auto& args = module_of(model, "this").get_method("forward").function().getSchema().arguments();
  std::string text;
  for (std::size_t i = 1; i < args.size(); ++i) {
    text += (i > 1 ? ", " : "") + args[i].name() + ": " + args[i].type()->annotation_str();
  }
  return text;
}

c10::IValue plain_script(const Model& model, const std::vector<c10::IValue>& inputs) {
  torch::jit::Module& module = module_of(model, "a forward pass");
  module.eval();
  check_arity(model, inputs);
  torch::NoGradGuard no_grad;
  try {
    return module.forward(inputs);
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw script_failed(model, inputs, forward_error_line(e.what_without_backtrace()), e.what_without_backtrace());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // LibTorch raises standard exceptions too (std::out_of_range from a
    // list index, std::runtime_error): the model's or its input's, not pevis's.
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw script_failed(model, inputs, forward_error_line(e.what()), e.what());
  }
}

// One execution of a costly operation, from what its recorder kept: the
// sizes of its tensor inputs, then of its output.
TracedOp traced_op(const torch::jit::Node* node, const std::map<const torch::jit::Node*, std::string>& node_path,
                   std::vector<std::vector<std::int64_t>> shapes) {
  TracedOp op;
  op.path = node_path.at(node);
  op.op = node->kind().toQualString();
  if (op.op == "aten::einsum") {
    if (auto equation = torch::jit::toIValue(node->input(0)); equation && equation->isString()) {
      op.equation = equation->toStringRef();
    }
  }
  op.output = shapes.back();
  shapes.pop_back();
  op.inputs = std::move(shapes);
  return op;
}

// Where a trace's shape records go: the module boundaries a value crosses,
// or (op >= 0) the costly operation it is the inputs and output of.
struct TraceSite {
  std::vector<std::string> out_paths, in_paths;
  int op = -1;  // index into the op nodes
};

// Inserts the trace's recorders: after every value crossing a module
// boundary, its shape; after every node of `op_kinds`, its inputs' and
// output's sizes. Returns the sites, and the op nodes in `op_nodes`.
std::vector<TraceSite> insert_shape_recorders(PreparedGraph& prepared,
                                              const std::map<const torch::jit::Node*, std::string>& node_path,
                                              const std::vector<std::string>& op_kinds,
                                              std::vector<const torch::jit::Node*>& op_nodes) {
  auto& graph = prepared.graph;
  std::vector<TraceSite> sites;
  const auto shape_symbol = c10::Symbol::fromQualString("pevis::record_shape");
  const auto op_symbol = c10::Symbol::fromQualString("pevis::record_op");
  for (auto& [value, crossing] : crossing_values(prepared, node_path)) {
    const auto index = static_cast<std::int64_t>(sites.size());
    sites.push_back({std::move(crossing.out_paths), std::move(crossing.in_paths)});
    const bool graph_input = value->node()->kind() == c10::prim::Param;
    insert_recorder(*graph, shape_symbol, {value}, value, index,
                    graph_input ? graph->block()->nodes().front() : value->node()->next());
  }
  for (auto* node : prepared.nodes) {
    const std::string kind = node->kind().toQualString();
    // Operators with several outputs (the attention and its weights) count by their first.
    if (std::find(op_kinds.begin(), op_kinds.end(), kind) == op_kinds.end() || node->outputs().empty() ||
        !is_tensor(node->output(0))) {
      continue;
    }
    TraceSite site;
    site.op = static_cast<int>(op_nodes.size());
    op_nodes.push_back(node);
    graph::insert_op_recorder(*graph, op_symbol, node, static_cast<std::int64_t>(sites.size()));
    sites.push_back(std::move(site));
  }
  return sites;
}

ForwardTrace trace_script(const Model& model, const std::vector<c10::IValue>& inputs,
                          const std::vector<std::string>& op_kinds) {
  torch::jit::Module& module = module_of(model, "a traced forward pass");
  module.eval();
  check_arity(model, inputs);
  PreparedGraph prepared = graph::prepare(module, /*explicit_paths=*/true);
  const ModulePaths paths(module);
  std::map<const torch::jit::Node*, std::string> node_path;
  for (auto* node : prepared.nodes) node_path[node] = paths.resolve(node);
  std::vector<const torch::jit::Node*> op_nodes;
  const std::vector<TraceSite> sites = insert_shape_recorders(prepared, node_path, op_kinds, op_nodes);

  recorders::ShapeRecords records;
  ForwardTrace trace;
  {
    torch::NoGradGuard no_grad;
    ActiveRecords active(recorders::active_shapes, &records);
    trace.output = run_graph(module, prepared.graph, inputs, model);
  }
  std::set<std::pair<std::string, std::int64_t>> seen;  // (module, site) already recorded
  for (auto& [index, shapes] : records) {
    const TraceSite& site = sites[static_cast<std::size_t>(index)];
    if (site.op >= 0) {
      trace.ops.push_back(traced_op(op_nodes[static_cast<std::size_t>(site.op)], node_path, std::move(shapes)));
      continue;
    }
    // A trace carries sizes as 0-d tensors (x.shape[0] becomes one) across
    // modules; they are bookkeeping, not a module's data.
    if (shapes[0].empty()) continue;
    for (const auto& p : site.out_paths) {
      if (seen.insert({"out:" + p, index}).second && trace.module_outputs[p].size() < 8) trace.module_outputs[p].push_back(shapes[0]);
    }
    for (const auto& p : site.in_paths) {
      if (seen.insert({"in:" + p, index}).second && trace.module_inputs[p].size() < 8) trace.module_inputs[p].push_back(shapes[0]);
    }
  }
  return trace;
}

// A cast to a dtype that is not float32 or float64 as a constant says (a
// `.float()` widens a 16-bit softmax for a product; `.to(q.dtype)` narrows).
bool cast_back(torch::jit::Node* node) {
  if (!graph::is_kind(node, {"aten::to"}) || node->outputs().size() != 1 || !node->maybeSchema()) return false;
  const auto index = node->schema().argumentIndexWithName("dtype");
  if (!index) return false;
  const auto dtype = torch::jit::toIValue(node->input(*index));
  return !(dtype && dtype->isInt() &&
           (dtype->toInt() == static_cast<int>(at::kFloat) || dtype->toInt() == static_cast<int>(at::kDouble)));
}

// Inserts a recorder after every node of `kinds`: for a formed attention
// operator, its entry's recorder on the arguments the entry names; for a
// softmax, pevis::record on its output, and pevis::record_heads after the
// view that splits the values into heads. Returns the sites, by site number.
std::vector<CapturedValue> insert_attention_recorders(PreparedGraph& prepared, const ModulePaths& paths,
                                                      const std::vector<std::string>& kinds) {
  auto& graph = prepared.graph;
  std::vector<CapturedValue> sites;
  const auto record_symbol = c10::Symbol::fromQualString("pevis::record");
  const auto heads_symbol = c10::Symbol::fromQualString("pevis::record_heads");
  for (auto* node : prepared.nodes) {
    const std::string kind = node->kind().toQualString();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() || node->outputs().empty()) continue;
    const AttentionOp* op = attention_op(kind);
    const auto site = static_cast<std::int64_t>(sites.size());
    if (op && op->formed) {
      if (!node->maybeSchema()) continue;  // an overload pevis does not know: left as it is
      std::vector<torch::jit::Value*> inputs = {node->output(0)};
      for (const auto& name : recorder_arguments(*op)) inputs.push_back(node->namedInput(name));
      sites.push_back({paths.resolve(node), kind, static_cast<std::size_t>(site), 0, {}});
      insert_recorder(*graph, c10::Symbol::fromQualString(recorder_name(*op)), std::move(inputs), node->output(0), site,
                      node->next());
      continue;
    }
    if (node->outputs().size() != 1) continue;
    sites.push_back({paths.resolve(node), kind, static_cast<std::size_t>(site), 0, {}});
    torch::jit::Node* split = head_split_of(node);  // before the recorder takes the softmax's uses
    // A softmax computed in float32 and cast back at once (transformers'
    // models in 16 bits): the weights the model uses are the cast ones.
    const auto& uses = node->output()->uses();
    torch::jit::Node* taken = uses.size() == 1 && uses[0].offset == 0 && cast_back(uses[0].user) ? uses[0].user : node;
    insert_recorder(*graph, record_symbol, {taken->output()}, taken->output(), site, taken->next());
    if (split) {
      insert_recorder(*graph, heads_symbol, {split->output(), split->input(0)}, split->output(), site, split->next());
    }
  }
  return sites;
}

CaptureResult capture_script(const Model& model, const std::vector<c10::IValue>& inputs,
                             const std::vector<std::string>& kinds, bool explicit_paths, const SiteFilter& wanted) {
  torch::jit::Module& module = module_of(model, "capturing");
  module.eval();
  check_arity(model, inputs);
  PreparedGraph prepared = graph::prepare(module, explicit_paths);
  std::vector<CapturedValue> sites = insert_attention_recorders(prepared, ModulePaths(module), kinds);

  Records records;
  records.limit = recorders::capture_limit();
  if (wanted) {
    for (const auto& site : sites) records.unwanted.push_back(wanted(site.path) ? 0 : 1);
  }
  std::map<std::int64_t, std::int64_t> heads;
  CaptureResult result;
  {
    torch::NoGradGuard no_grad;
    ActiveRecords active(recorders::active_records, &records);
    ActiveRecords active_split(recorders::active_heads, &heads);
    result.output = run_graph(module, prepared.graph, inputs, model);
  }
  if (records.dropped) throw recorders::capture_too_large(model, records);
  result.skipped = records.skipped;
  const auto& nodes = prepared.nodes;
  result.forked = static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const torch::jit::Node* n) { return n->kind() == c10::prim::fork; }));
  for (const auto& [site, n] : heads) sites[static_cast<std::size_t>(site)].heads = n;
  std::vector<std::int64_t> order;
  for (auto& [site, value] : records.kept) {
    auto& target = sites[static_cast<std::size_t>(site)];
    if (target.values.empty()) order.push_back(site);
    target.values.push_back(std::move(value));
  }
  for (auto site : order) result.captured.push_back(std::move(sites[static_cast<std::size_t>(site)]));
  return result;
}

}  // namespace

const ForwardBackend& script_backend() {
  static const ForwardBackend backend{&plain_script, &capture_script, &trace_script, &script_signature};
  return backend;
}

}  // namespace pevis
