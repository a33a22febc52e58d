#include "pevis/capture.h"

#include <ATen/ops/layer_norm.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/library.h>
#include <torch/script.h>

#include <deque>
#include <map>
#include <set>

#include "pevis/error.h"
#include "pevis/exported.h"
#include "pevis/memory.h"
#include "pevis/module_path.h"
#include "pevis/operators.h"

namespace pevis {
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

// The recorder of the run in progress on this thread; null outside capture_forward.
thread_local Records* active_records = nullptr;

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
  if (active_records) active_records->keep(site, value.nbytes(), [&] { return value; });
  return value;
}

// Shape recorders: (site, sizes of each tensor), for summaries.
thread_local std::vector<std::pair<std::int64_t, std::vector<std::vector<std::int64_t>>>>* active_shapes = nullptr;

at::Tensor record_shape(const at::Tensor& value, std::int64_t site) {
  if (active_shapes) active_shapes->push_back({site, {value.sizes().vec()}});
  return value;
}

at::Tensor record_op(const std::vector<at::Tensor>& inputs, const at::Tensor& output, std::int64_t site) {
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
thread_local std::map<std::int64_t, std::int64_t>* active_heads = nullptr;

// After the view that splits the values into heads: embed_dim / head_dim.
at::Tensor record_heads(const at::Tensor& split, const at::Tensor& whole, std::int64_t site) {
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

// For each fused attention operator: its recorder, and the node's inputs
// (by schema name) that the recorder takes after the node's first output.
struct FusedRecorder {
  const char* kind;
  const char* recorder;
  std::vector<const char*> inputs;
};

const std::vector<FusedRecorder>& fused_recorders() {
  static const std::vector<FusedRecorder> recorders = {
      {"aten::scaled_dot_product_attention", "pevis::record_sdpa",
       {"query", "key", "attn_mask", "is_causal", "scale", "enable_gqa"}},
      {"aten::_native_multi_head_attention", "pevis::record_mha",
       {"query", "key", "value", "embed_dim", "num_head", "qkv_weight", "qkv_bias", "proj_weight", "proj_bias", "mask",
        "mask_type"}},
      {"aten::_transformer_encoder_layer_fwd", "pevis::record_encoder_layer",
       {"src", "embed_dim", "num_heads", "qkv_weight", "qkv_bias", "proj_weight", "proj_bias", "norm_first", "eps",
        "norm_weight_1", "norm_bias_1", "mask", "mask_type"}},
  };
  return recorders;
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

// Callstacks name each module by its last attribute only ("0" for
// layers[0]); the full path is found by walking the module tree down from
// the root, matching type and name, skipping containers (ModuleList).
class ModulePaths {
 public:
  explicit ModulePaths(const torch::jit::Module& root) {
    for (const auto& item : root.named_modules()) {
      const std::string name = item.name;
      entries_.push_back({name, item.value.type()});
    }
  }

  std::string resolve(const torch::jit::Node* node) const {
    std::string path;
    const auto stack = node->callstack();
    if (!stack) return path;
    for (const auto& entry : (*stack)->vec()) {
      const auto& info = std::get<2>(entry);
      if (!info || info->instance_name() == "SELF") continue;
      path = descend(path, info->instance_name(), info->class_type());
    }
    return path;
  }

 private:
  std::string descend(const std::string& from, const std::string& name, const c10::ClassTypePtr& type) const {
    // The shallowest module below `from` with this last name and type.
    const std::string prefix = from.empty() ? "" : from + ".";
    const std::string* best = nullptr;
    for (const auto& e : entries_) {
      if (e.path.size() <= prefix.size() || e.path.compare(0, prefix.size(), prefix) != 0) continue;
      const auto dot = e.path.rfind('.');
      const std::string last = dot == std::string::npos ? e.path : e.path.substr(dot + 1);
      if (last != name || (type && e.type != type)) continue;
      if (!best || e.path.size() < best->size()) best = &e.path;
    }
    return best ? *best : prefix + name;
  }

  struct Entry {
    std::string path;
    c10::ClassTypePtr type;
  };
  std::vector<Entry> entries_;
};

void collect_nodes(torch::jit::Block* block, std::vector<torch::jit::Node*>& out) {
  for (auto* node : block->nodes()) {
    out.push_back(node);
    for (auto* inner : node->blocks()) collect_nodes(inner, out);
  }
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
  }
}

namespace {

// The forward graph, copied and inlined, with every node listed.
struct PreparedGraph {
  std::shared_ptr<torch::jit::Graph> graph;
  std::vector<torch::jit::Node*> nodes;
};

PreparedGraph prepare(torch::jit::Module& module, bool explicit_paths) {
  PreparedGraph prepared;
  prepared.graph = torch::jit::toGraphFunction(module.get_method("forward").function()).graph()->copy();
  torch::jit::Inline(*prepared.graph);
  collect_nodes(prepared.graph->block(), prepared.nodes);
  if (explicit_paths) {
    torch::jit::WithInsertPoint at_start(prepared.graph->block()->nodes().front());
    torch::jit::Value* yes = prepared.graph->insertConstant(true);
    for (auto* node : prepared.nodes) {
      const std::string kind = node->kind().toQualString();
      if ((kind == "aten::is_grad_enabled" || kind == "prim::requires_grad") && node->outputs().size() == 1) {
        node->output()->replaceAllUsesWith(yes);
      }
    }
  }
  return prepared;
}

bool is_tensor(const torch::jit::Value* v) { return v->type()->kind() == c10::TypeKind::TensorType; }

bool is_kind(const torch::jit::Node* node, std::initializer_list<const char*> kinds) {
  const std::string kind = node->kind().toQualString();
  return std::any_of(kinds.begin(), kinds.end(), [&](const char* k) { return kind == k; });
}

// nn.MultiheadAttention's explicit path forms weights [batch*heads, T, S]
// and multiplies them with v = view(x, [S, batch*heads, head_dim]) (then
// transposed), x being [S, batch, embed_dim]: the view that splits the heads.
// Null where the graph has no such shape.
torch::jit::Node* head_split_of(torch::jit::Node* softmax) {
  torch::jit::Value* weights = softmax->output();
  for (bool moved = true; moved;) {  // past dropout
    moved = false;
    for (const auto& use : weights->uses()) {
      if (is_kind(use.user, {"aten::dropout", "aten::feature_dropout"}) && use.offset == 0) {
        weights = use.user->output();
        moved = true;
        break;
      }
    }
  }
  for (const auto& use : weights->uses()) {
    if (!is_kind(use.user, {"aten::bmm"}) || use.offset != 0) continue;
    torch::jit::Node* v = use.user->input(1)->node();
    while (is_kind(v, {"aten::transpose", "aten::contiguous"})) v = v->input(0)->node();
    if (is_kind(v, {"aten::view", "aten::reshape"})) return v;
  }
  return nullptr;
}

// Routes every later use of `value` through `symbol(inputs..., site)`, a
// recorder that passes `value` on unchanged, inserted just before `anchor`.
void insert_recorder(torch::jit::Graph& graph, c10::Symbol symbol, std::vector<torch::jit::Value*> inputs,
                     torch::jit::Value* value, std::int64_t site, torch::jit::Node* anchor) {
  torch::jit::WithInsertPoint at(anchor);
  inputs.push_back(graph.insertConstant(site));
  torch::jit::Node* recorder = graph.create(symbol, inputs);
  recorder->insertAfter(inputs.back()->node());
  recorder->output()->setType(value->type());
  value->replaceAllUsesAfterNodeWith(recorder, recorder->output());
}

// Points a recorder slot at `records` for the life of the guard.
template <typename T>
class ActiveRecords {
 public:
  ActiveRecords(T*& slot, T* records) : slot_(slot) { slot_ = records; }
  ~ActiveRecords() { slot_ = nullptr; }
  ActiveRecords(const ActiveRecords&) = delete;
  ActiveRecords& operator=(const ActiveRecords&) = delete;

 private:
  T*& slot_;
};

// The modules a value passes through from `from` to `to`: from `from` up to,
// not including, their nearest common ancestor.
std::vector<std::string> crossed(std::string from, const std::string& to) {
  std::vector<std::string> out;
  while (!within(to, from)) {
    out.push_back(from);
    from = parent_of(from);
  }
  return out;
}

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

}  // namespace

ForwardTrace trace_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                           const std::vector<std::string>& op_kinds) {
  if (model.program) return trace_program(model, inputs, op_kinds);
  torch::jit::Module& module = module_of(model, "a traced forward pass");
  module.eval();
  check_arity(model, inputs);
  PreparedGraph prepared = prepare(module, /*explicit_paths=*/true);
  auto& graph = prepared.graph;
  const ModulePaths paths(module);
  std::map<const torch::jit::Node*, std::string> node_path;
  for (auto* node : prepared.nodes) node_path[node] = paths.resolve(node);
  // Where a use happens: a block's return counts as its owning node; the
  // graph's return is the root.
  const auto user_path = [&](const torch::jit::Use& use) -> std::string {
    const torch::jit::Node* user = use.user;
    while (user->kind() == c10::prim::Return) {
      const torch::jit::Node* owner = user->owningBlock()->owningNode();
      if (!owner) return "";
      user = owner;
    }
    const auto found = node_path.find(user);
    return found == node_path.end() ? "" : found->second;
  };

  struct Site {
    std::vector<std::string> out_paths, in_paths;
    int op = -1;  // index into op_nodes for op records
  };
  std::vector<Site> sites;
  std::vector<const torch::jit::Node*> op_nodes;
  const auto shape_symbol = c10::Symbol::fromQualString("pevis::record_shape");
  const auto op_symbol = c10::Symbol::fromQualString("pevis::record_op");

  // Values crossing module boundaries: defined in one module, used in
  // another. A tuple or list that crosses (nn.MultiheadAttention returns
  // (output, weights)) carries its tensors across.
  std::vector<torch::jit::Value*> values;
  for (auto* input : graph->inputs()) values.push_back(input);
  for (auto* node : prepared.nodes)
    for (auto* output : node->outputs()) values.push_back(output);
  std::map<torch::jit::Value*, Site> crossing;
  const auto add = [](std::vector<std::string>& list, const std::string& p) {
    if (std::find(list.begin(), list.end(), p) == list.end()) list.push_back(p);
  };
  for (auto* value : values) {
    const bool graph_input = value->node()->kind() == c10::prim::Param;
    const std::string from = graph_input ? "" : node_path[value->node()];
    const bool packed = value->node()->kind() == c10::prim::TupleConstruct || value->node()->kind() == c10::prim::ListConstruct;
    if (value->type()->kind() == c10::TypeKind::TupleType) {
      // A tuple that leaves a module (often through an if): its tensors are
      // the module's outputs where the receiving side unpacks them.
      for (const auto& use : value->uses()) {
        const auto kind = use.user->kind();
        if (kind != c10::prim::TupleUnpack && kind != c10::prim::TupleIndex) continue;
        for (const auto& p : crossed(from, user_path(use))) {
          for (auto* item : use.user->outputs()) {
            if (is_tensor(item)) add(crossing[item].out_paths, p);
          }
        }
      }
    }
    if (!is_tensor(value) && !packed) continue;
    for (const auto& use : value->uses()) {
      // Reading a tensor's metadata is not data leaving a module (and such
      // nodes may carry no call stack at all).
      const std::string user_kind = use.user->kind().toQualString();
      if (user_kind == "aten::size" || user_kind == "aten::dim" || user_kind == "aten::numel" ||
          user_kind == "prim::device" || user_kind == "prim::dtype" || user_kind == "prim::is_cuda") {
        continue;
      }
      const std::string to = user_path(use);
      for (const auto& p : crossed(from, to)) {
        if (is_tensor(value)) {
          add(crossing[value].out_paths, p);
        } else {
          for (auto* item : value->node()->inputs()) {
            if (is_tensor(item)) add(crossing[item].out_paths, p);
          }
        }
      }
      if (is_tensor(value)) {
        for (const auto& p : crossed(to, from)) add(crossing[value].in_paths, p);
      }
    }
  }
  // What the forward returns leaves the root module; what it takes enters it.
  for (auto* value : graph->outputs()) {
    if (is_tensor(value)) add(crossing[value].out_paths, "");
    else if (value->node()->kind() == c10::prim::TupleConstruct || value->node()->kind() == c10::prim::ListConstruct) {
      for (auto* item : value->node()->inputs()) {
        if (is_tensor(item)) add(crossing[item].out_paths, "");
      }
    }
  }
  for (auto* value : graph->inputs()) {
    if (is_tensor(value)) add(crossing[value].in_paths, "");
  }
  for (auto* value : values) {
    auto found = crossing.find(value);
    if (found == crossing.end() || (found->second.out_paths.empty() && found->second.in_paths.empty())) continue;
    const auto index = static_cast<std::int64_t>(sites.size());
    sites.push_back(std::move(found->second));
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
    std::vector<torch::jit::Value*> tensors;
    for (auto* input : node->inputs()) {
      if (is_tensor(input)) tensors.push_back(input);
      else if (input->node()->kind() == c10::prim::ListConstruct) {
        for (auto* item : input->node()->inputs()) {
          if (is_tensor(item)) tensors.push_back(item);
        }
      }
    }
    Site site;
    site.op = static_cast<int>(op_nodes.size());
    op_nodes.push_back(node);
    const auto index = static_cast<std::int64_t>(sites.size());
    sites.push_back(std::move(site));
    torch::jit::Node* anchor = node->next();
    torch::jit::Value* list = nullptr;
    {
      torch::jit::WithInsertPoint at(anchor);
      list = graph->insertNode(graph->createList(c10::TensorType::get(), tensors))->output();
    }
    insert_recorder(*graph, op_symbol, {list, node->output(0)}, node->output(0), index, anchor);
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
      const torch::jit::Node* node = op_nodes[static_cast<std::size_t>(site.op)];
      TracedOp op;
      op.path = node_path[node];
      op.op = node->kind().toQualString();
      if (op.op == "aten::einsum") {
        if (auto equation = torch::jit::toIValue(node->input(0)); equation && equation->isString()) {
          op.equation = equation->toStringRef();
        }
      }
      op.output = shapes.back();
      shapes.pop_back();
      op.inputs = std::move(shapes);
      trace.ops.push_back(std::move(op));
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
  PreparedGraph prepared = prepare(module, explicit_paths);
  auto& graph = prepared.graph;
  auto& nodes = prepared.nodes;
  const ModulePaths paths(module);
  std::vector<CapturedValue> sites;
  const auto record_symbol = c10::Symbol::fromQualString("pevis::record");
  const auto heads_symbol = c10::Symbol::fromQualString("pevis::record_heads");
  for (auto* node : nodes) {
    const std::string kind = node->kind().toQualString();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() || node->outputs().empty()) continue;
    const auto fused = std::find_if(fused_recorders().begin(), fused_recorders().end(),
                                    [&](const FusedRecorder& r) { return kind == r.kind; });
    const auto site = static_cast<std::int64_t>(sites.size());
    if (fused != fused_recorders().end()) {
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
