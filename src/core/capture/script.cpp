#include "pevis/capture/capture.h"

#include <ATen/ops/layer_norm.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/library.h>
#include <torch/script.h>

#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/base/memory.h"
#include "pevis/base/module_path.h"
#include "pevis/operators/added_ops.h"
#include "graph_passes.h"
#include "module_boundaries.h"

namespace pevis {

using graph::crossed;
using graph::crossing_values;
using graph::fused_recorder;
using graph::head_split_of;
using graph::insert_recorder;
using graph::is_tensor;
using graph::ModulePaths;
using graph::PreparedGraph;

namespace {

// What a capture keeps: (site, weights) in the order they formed, within a
// memory limit set before the run. Weights past the limit are not kept (the
// model runs on, as it would without pevis) and are counted, so that the
// capture can be refused with what it would have needed.
struct Records {
  std::vector<std::pair<std::int64_t, at::Tensor>> kept;
  std::uint64_t limit = 0, held = 0, dropped = 0;
  std::vector<char> unwanted;  // by site: its module path was not asked for
  std::size_t skipped = 0;

  // Keeps the weights `make` returns, `bytes` large, when they are wanted and fit.
  template <typename Make>
  void keep(std::int64_t site, std::uint64_t bytes, Make&& make) {
    if (site >= 0 && static_cast<std::size_t>(site) < unwanted.size() && unwanted[static_cast<std::size_t>(site)]) {
      ++skipped;
      return;
    }
    if (dropped || held + bytes > limit) {
      dropped += bytes;
      return;
    }
    held += bytes;
    kept.emplace_back(site, make());
  }
};

// The recorders' slots: what the run in progress keeps; null outside a run.
// They belong to the process, not to a thread: the interpreter may finish a
// forward on another thread (after `wait` on a task started with
// torch.jit.fork it resumes on LibTorch's inter-op pool), and what runs
// there must be kept too. pevis runs one capture at a time; `recording`
// orders the recorders of tasks that run at once.
std::mutex recording;
Records* active_records = nullptr;

// The bytes of attention weights [.., queries, keys] formed from `query`
// ([..., L, E]) and `key` ([..., S, E]) over `heads` heads.
std::uint64_t weight_bytes(const at::Tensor& query, const at::Tensor& key, std::int64_t heads) {
  if (query.dim() < 1 || key.dim() < 2 || query.size(-1) == 0) return 0;
  return static_cast<std::uint64_t>(query.numel() / query.size(-1)) * static_cast<std::uint64_t>(heads) *
         static_cast<std::uint64_t>(key.size(-2)) * 4u;
}

// The most a capture keeps: three quarters of the memory budget when it
// starts, so that the model's own activations and the figures have room.
std::uint64_t capture_limit() { return memory_budget().bytes / 4 * 3; }

Error capture_too_large(const Model& model, const Records& records) {
  return bad_input(model.path,
                   "the attention weights of this input would need at least " +
                       human_bytes(static_cast<long double>(records.held + records.dropped)) + " of memory, more than the " +
                       human_bytes(static_cast<long double>(records.limit)) + " a capture may hold (" +
                       memory_budget().limited_by + " sets the budget)",
                   "choose sites with --layer REGEX, or give fewer tokens (weights grow with their square) or a smaller batch");
}

at::Tensor record(const at::Tensor& value, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_records) active_records->keep(site, value.nbytes(), [&] { return value; });
  return value;
}

// Shape recorders: (site, sizes of each tensor), for summaries.
std::vector<std::pair<std::int64_t, std::vector<std::vector<std::int64_t>>>>* active_shapes = nullptr;

at::Tensor record_shape(const at::Tensor& value, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_shapes) active_shapes->push_back({site, {value.sizes().vec()}});
  return value;
}

at::Tensor record_op(const std::vector<at::Tensor>& inputs, const at::Tensor& output, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_shapes) {
    std::vector<std::vector<std::int64_t>> shapes;
    for (const auto& t : inputs) shapes.push_back(t.sizes().vec());
    shapes.push_back(output.sizes().vec());
    active_shapes->push_back({site, std::move(shapes)});
  }
  return output;
}

// Operators that form attention without returning it: their recorders
// compute the weights from the node's own inputs and pass its output on.
at::Tensor record_sdpa(const at::Tensor& output, const at::Tensor& query, const at::Tensor& key,
                       const c10::optional<at::Tensor>& attn_mask, bool is_causal, c10::optional<double> scale,
                       bool enable_gqa, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_records) {
    active_records->keep(site, weight_bytes(query, key, 1),
                         [&] { return sdpa_weights(query, key, attn_mask, is_causal, scale, enable_gqa); });
  }
  return output;
}

at::Tensor record_mha(const at::Tensor& output, const at::Tensor& query, const at::Tensor& key,
                      const at::Tensor& value, std::int64_t embed_dim, std::int64_t num_head,
                      const at::Tensor& qkv_weight, const at::Tensor& qkv_bias, const at::Tensor& proj_weight,
                      const at::Tensor& proj_bias, const c10::optional<at::Tensor>& mask,
                      c10::optional<std::int64_t> mask_type, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_records && !query.is_nested()) {
    active_records->keep(site, weight_bytes(query, key, num_head), [&] {
      return native_mha_weights(query, key, value, embed_dim, num_head, qkv_weight, qkv_bias, proj_weight, proj_bias,
                                mask, mask_type);
    });
  }
  return output;
}

// The fused encoder layer runs the same attention kernel on its input, after
// the first layer norm where the norm comes first.
at::Tensor record_encoder_layer(const at::Tensor& output, const at::Tensor& src, std::int64_t embed_dim,
                                std::int64_t num_heads, const at::Tensor& qkv_weight, const at::Tensor& qkv_bias,
                                const at::Tensor& proj_weight, const at::Tensor& proj_bias, bool norm_first,
                                double eps, const at::Tensor& norm_weight_1, const at::Tensor& norm_bias_1,
                                const c10::optional<at::Tensor>& mask, c10::optional<std::int64_t> mask_type,
                                std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_records && !src.is_nested()) {
    const at::Tensor x = norm_first ? at::layer_norm(src, {embed_dim}, norm_weight_1, norm_bias_1, eps) : src;
    active_records->keep(site, weight_bytes(x, x, num_heads), [&] {
      return native_mha_weights(x, x, x, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, mask,
                                mask_type);
    });
  }
  return output;
}

// Heads seen by the split recorders of the run in progress: site -> heads.
std::map<std::int64_t, std::int64_t>* active_heads = nullptr;

// After the view that splits the values into heads: embed_dim / head_dim.
at::Tensor record_heads(const at::Tensor& split, const at::Tensor& whole, std::int64_t site) {
  const std::lock_guard<std::mutex> lock(recording);
  if (active_heads && split.dim() >= 1 && whole.dim() >= 1 && split.size(-1) > 0 &&
      whole.size(-1) % split.size(-1) == 0) {
    (*active_heads)[site] = whole.size(-1) / split.size(-1);
  }
  return split;
}

TORCH_LIBRARY(pevis, m) {
  m.def(torch::schema("pevis::record(Tensor value, int site) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &record);
  m.def(torch::schema("pevis::record_shape(Tensor value, int site) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &record_shape);
  m.def(torch::schema("pevis::record_op(Tensor[] inputs, Tensor output, int site) -> Tensor",
                      c10::AliasAnalysisKind::CONSERVATIVE),
        &record_op);
  const auto conservative = c10::AliasAnalysisKind::CONSERVATIVE;
  m.def(torch::schema("pevis::record_heads(Tensor split, Tensor whole, int site) -> Tensor", conservative),
        &record_heads);
  m.def(torch::schema("pevis::record_sdpa(Tensor output, Tensor query, Tensor key, Tensor? attn_mask, bool is_causal, "
                      "float? scale, bool enable_gqa, int site) -> Tensor",
                      conservative),
        &record_sdpa);
  m.def(torch::schema("pevis::record_mha(Tensor output, Tensor query, Tensor key, Tensor value, int embed_dim, "
                      "int num_head, Tensor qkv_weight, Tensor qkv_bias, Tensor proj_weight, Tensor proj_bias, "
                      "Tensor? mask, int? mask_type, int site) -> Tensor",
                      conservative),
        &record_mha);
  m.def(torch::schema("pevis::record_encoder_layer(Tensor output, Tensor src, int embed_dim, int num_heads, "
                      "Tensor qkv_weight, Tensor qkv_bias, Tensor proj_weight, Tensor proj_bias, bool norm_first, "
                      "float eps, Tensor norm_weight_1, Tensor norm_bias_1, Tensor? mask, int? mask_type, "
                      "int site) -> Tensor",
                      conservative),
        &record_encoder_layer);
}

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
                    "a " + model.format + " file holds tensors but no forward pass, and " + needs + " needs one",
                    "give a TorchScript model: torch.jit.script(model).save(path)");
  }
  return *model.module;
}

// What a failed forward's message suggests: the forward's arguments, and
// what its first layer takes.
std::string input_hint(const Model& model) {
  const std::string first = first_layer_expects(model);
  return "forward takes (" + forward_signature(model) + ")" + (first.empty() ? "" : "; " + first);
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
    throw bad_input(model.path, "the model's forward failed on this input: " + forward_error_line(e.what_without_backtrace()),
                    input_hint(model) + "; check --input, --layout or --input-shape");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw bad_input(model.path, "the model's forward failed on this input: " + forward_error_line(e.what()), input_hint(model));
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

}  // namespace

std::string first_layer_expects(const Model& model) {
  for (const auto& t : model.tensors) {
    const std::string suffix = ".weight";
    if (t.name.size() <= suffix.size() || t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::string layer = t.name.substr(0, t.name.size() - suffix.size());
    const auto& shape = t.shape();
    if (shape.size() < 2 || shape.size() > 5) continue;  // not a linear, embedding or convolution weight
    // The module's class where the file keeps it (TorchScript), else the name.
    std::string lower = layer;
    if (model.module) {
      for (const auto& item : model.module->named_modules()) {
        if (item.name == layer && item.value.type()->name()) lower = item.value.type()->name()->qualifiedName();
      }
    }
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (shape.size() == 2 && (lower.find("emb") != std::string::npos || lower.find("wte") != std::string::npos)) {
      return layer + " takes token ids (give them with --input)";
    }
    if (shape.size() == 2) return layer + " expects [..., " + std::to_string(shape[1]) + "]";
    if (shape.size() >= 3 && shape.size() <= 5) {
      static const char* spatial[] = {"L", "H, W", "D, H, W"};
      return layer + " expects [N, " + std::to_string(shape[1]) + ", " + spatial[shape.size() - 3] + "]";
    }
  }
  return "";
}

std::string forward_signature(const Model& model) {
  if (model.program) return exported_signature(model);
  const auto& args = module_of(model, "this").get_method("forward").function().getSchema().arguments();
  std::string text;
  for (std::size_t i = 1; i < args.size(); ++i) {
    text += (i > 1 ? ", " : "") + args[i].name() + ": " + args[i].type()->annotation_str();
  }
  return text;
}

c10::IValue plain_forward(const Model& model, const std::vector<c10::IValue>& inputs) {
  if (model.program) return run_exported(model, inputs);
  torch::jit::Module& module = module_of(model, "a forward pass");
  module.eval();
  check_arity(model, inputs);
  torch::NoGradGuard no_grad;
  try {
    return module.forward(inputs);
  } catch (const c10::Error& e) {
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw bad_input(model.path, "the model's forward failed on this input: " + forward_error_line(e.what_without_backtrace()),
                    input_hint(model));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // LibTorch raises standard exceptions too (std::out_of_range from a
    // list index, std::runtime_error): the model's or its input's, not pevis's.
    if (is_out_of_memory(e)) throw out_of_memory("running the model's forward");
    throw bad_input(model.path, "the model's forward failed on this input: " + forward_error_line(e.what()), input_hint(model));
  }
}

namespace {

// Points a recorder slot at `records` for the life of the guard.
template <typename T>
class ActiveRecords {
 public:
  ActiveRecords(T*& slot, T* records) : slot_(slot) {
    const std::lock_guard<std::mutex> lock(recording);
    slot_ = records;
  }
  ~ActiveRecords() {
    const std::lock_guard<std::mutex> lock(recording);
    slot_ = nullptr;
  }
  ActiveRecords(const ActiveRecords&) = delete;
  ActiveRecords& operator=(const ActiveRecords&) = delete;

 private:
  T*& slot_;
};

std::vector<std::int64_t> sizes_of(const c10::IValue& v) {
  return v.isTensor() ? v.toTensor().sizes().vec() : std::vector<std::int64_t>{};
}

// A torch.export program runs in pevis's interpreter: the recorders are
// its observer, module paths come from each node's nn_module_stack.
CaptureResult capture_program(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, const SiteFilter& wanted) {
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
    const auto& a = step.arguments;
    const auto site = static_cast<std::int64_t>(step.index);
    if (op == "aten::scaled_dot_product_attention") {
      // query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa
      const at::Tensor query = a[0].toTensor(), key = a[1].toTensor();
      records.keep(site, weight_bytes(query, key, 1), [&] {
        return sdpa_weights(query, key, a[3].toOptional<at::Tensor>(), a[5].toBool(), a[6].toOptional<double>(),
                            a.size() > 7 && a[7].toBool());
      });
    } else if (op == "aten::softmax" || op == "aten::_softmax") {
      if (!step.results[0].isTensor()) return;
      const at::Tensor value = step.results[0].toTensor();
      records.keep(site, value.nbytes(), [&] { return value; });
    } else {
      return;  // the fused kernels are decomposed by export; nothing else forms attention
    }
    if (records.dropped) return;
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

}  // namespace

ForwardTrace trace_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& op_kinds) {
  if (model.program) return trace_program(model, inputs, op_kinds);
  torch::jit::Module& module = module_of(model, "a traced forward pass");
  module.eval();
  check_arity(model, inputs);
  PreparedGraph prepared = graph::prepare(module, /*explicit_paths=*/true);
  auto& graph = prepared.graph;
  const ModulePaths paths(module);
  std::map<const torch::jit::Node*, std::string> node_path;
  for (auto* node : prepared.nodes) node_path[node] = paths.resolve(node);

  struct Site {
    std::vector<std::string> out_paths, in_paths;
    int op = -1;  // index into op_nodes for op records
  };
  std::vector<Site> sites;
  std::vector<const torch::jit::Node*> op_nodes;
  const auto shape_symbol = c10::Symbol::fromQualString("pevis::record_shape");
  const auto op_symbol = c10::Symbol::fromQualString("pevis::record_op");

  // Every value crossing a module boundary: its shape after each run.
  for (auto& [value, crossing] : crossing_values(prepared, node_path)) {
    const auto index = static_cast<std::int64_t>(sites.size());
    sites.push_back({std::move(crossing.out_paths), std::move(crossing.in_paths)});
    const bool graph_input = value->node()->kind() == c10::prim::Param;
    insert_recorder(*graph, shape_symbol, {value}, value, index,
                    graph_input ? graph->block()->nodes().front() : value->node()->next());
  }

  // Costly operations: their inputs' and output's sizes after each run.
  for (auto* node : prepared.nodes) {
    const std::string kind = node->kind().toQualString();
    // Operators with several outputs (the attention and its weights) count by their first.
    if (std::find(op_kinds.begin(), op_kinds.end(), kind) == op_kinds.end() || node->outputs().empty() ||
        !is_tensor(node->output(0))) {
      continue;
    }
    Site site;
    site.op = static_cast<int>(op_nodes.size());
    op_nodes.push_back(node);
    graph::insert_op_recorder(*graph, op_symbol, node, static_cast<std::int64_t>(sites.size()));
    sites.push_back(std::move(site));
  }

  std::vector<std::pair<std::int64_t, std::vector<std::vector<std::int64_t>>>> records;
  ForwardTrace trace;
  {
    torch::NoGradGuard no_grad;
    ActiveRecords active(active_shapes, &records);
    trace.output = run_graph(module, graph, inputs, model);
  }
  std::set<std::pair<std::string, std::int64_t>> seen;  // (module, site) already recorded
  for (auto& [index, shapes] : records) {
    const Site& site = sites[static_cast<std::size_t>(index)];
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

CaptureResult capture_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool explicit_paths, const SiteFilter& wanted) {
  if (model.program) return capture_program(model, inputs, kinds, wanted);
  torch::jit::Module& module = module_of(model, "capturing");
  module.eval();
  check_arity(model, inputs);
  PreparedGraph prepared = graph::prepare(module, explicit_paths);
  auto& graph = prepared.graph;
  auto& nodes = prepared.nodes;
  const ModulePaths paths(module);
  std::vector<CapturedValue> sites;
  const auto record_symbol = c10::Symbol::fromQualString("pevis::record");
  const auto heads_symbol = c10::Symbol::fromQualString("pevis::record_heads");
  for (auto* node : nodes) {
    const std::string kind = node->kind().toQualString();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() || node->outputs().empty()) continue;
    const graph::FusedRecorder* fused = fused_recorder(kind);
    const auto site = static_cast<std::int64_t>(sites.size());
    if (fused) {
      if (!node->maybeSchema()) continue;  // an overload pevis does not know: left as it is
      std::vector<torch::jit::Value*> inputs = {node->output(0)};
      for (const char* name : fused->inputs) inputs.push_back(node->namedInput(name));
      sites.push_back({paths.resolve(node), kind, static_cast<std::size_t>(site), 0, {}});
      insert_recorder(*graph, c10::Symbol::fromQualString(fused->recorder), std::move(inputs), node->output(0), site,
                      node->next());
      continue;
    }
    if (node->outputs().size() != 1) continue;
    sites.push_back({paths.resolve(node), kind, static_cast<std::size_t>(site), 0, {}});
    torch::jit::Node* split = head_split_of(node);  // before the recorder takes the softmax's uses
    insert_recorder(*graph, record_symbol, {node->output()}, node->output(), site, node->next());
    if (split) {
      insert_recorder(*graph, heads_symbol, {split->output(), split->input(0)}, split->output(), site, split->next());
    }
  }

  Records records;
  records.limit = capture_limit();
  if (wanted) {
    for (const auto& site : sites) records.unwanted.push_back(wanted(site.path) ? 0 : 1);
  }
  std::map<std::int64_t, std::int64_t> heads;
  CaptureResult result;
  {
    torch::NoGradGuard no_grad;
    ActiveRecords active(active_records, &records);
    ActiveRecords active_split(active_heads, &heads);
    result.output = run_graph(module, graph, inputs, model);
  }
  if (records.dropped) throw capture_too_large(model, records);
  result.skipped = records.skipped;
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

}  // namespace pevis
