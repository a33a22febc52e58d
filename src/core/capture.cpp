#include "pevis/capture.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/library.h>
#include <torch/script.h>

#include <deque>
#include <map>

#include "pevis/error.h"

namespace pevis {
namespace {

// The recorder of the run in progress on this thread; null outside capture_forward.
thread_local std::vector<std::pair<std::int64_t, at::Tensor>>* active_records = nullptr;

at::Tensor record(const at::Tensor& value, std::int64_t site) {
  if (active_records) active_records->emplace_back(site, value);
  return value;
}

TORCH_LIBRARY(pevis, m) {
  m.def(torch::schema("pevis::record(Tensor value, int site) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &record);
}

std::string first_line(const std::string& text) { return one_line(text.substr(0, text.find('\n'))); }

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
  try {
    return function(std::move(stack));
  } catch (const c10::Error& e) {
    throw bad_input(model.path, "the model's forward failed on this input: " + first_line(e.what_without_backtrace()),
                    "forward takes (" + forward_signature(model) + "); check --input, --layout or --input-shape");
  } catch (const std::exception& e) {
    throw bad_input(model.path, "the model's forward failed on this input: " + first_line(e.what()),
                    "forward takes (" + forward_signature(model) + ")");
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

std::string forward_signature(const Model& model) {
  const auto& args = module_of(model, "this").get_method("forward").function().getSchema().arguments();
  std::string text;
  for (std::size_t i = 1; i < args.size(); ++i) {
    text += (i > 1 ? ", " : "") + args[i].name() + ": " + args[i].type()->annotation_str();
  }
  return text;
}

c10::IValue plain_forward(const Model& model, const std::vector<c10::IValue>& inputs) {
  torch::jit::Module& module = module_of(model, "a forward pass");
  module.eval();
  check_arity(model, inputs);
  torch::NoGradGuard no_grad;
  try {
    return module.forward(inputs);
  } catch (const c10::Error& e) {
    throw bad_input(model.path, "the model's forward failed on this input: " + first_line(e.what_without_backtrace()),
                    "forward takes (" + forward_signature(model) + ")");
  }
}

CaptureResult capture_forward(const Model& model, const std::vector<c10::IValue>& inputs,
                              const std::vector<std::string>& kinds, bool explicit_paths) {
  torch::jit::Module& module = module_of(model, "capturing");
  module.eval();
  check_arity(model, inputs);

  auto graph = torch::jit::toGraphFunction(module.get_method("forward").function()).graph()->copy();
  torch::jit::Inline(*graph);
  std::vector<torch::jit::Node*> nodes;
  collect_nodes(graph->block(), nodes);

  if (explicit_paths) {
    torch::jit::WithInsertPoint at_start(graph->block()->nodes().front());
    torch::jit::Value* yes = graph->insertConstant(true);
    for (auto* node : nodes) {
      const std::string kind = node->kind().toQualString();
      if ((kind == "aten::is_grad_enabled" || kind == "prim::requires_grad") && node->outputs().size() == 1) {
        node->output()->replaceAllUsesWith(yes);
      }
    }
  }

  const ModulePaths paths(module);
  std::vector<CapturedValue> sites;
  const auto record_symbol = c10::Symbol::fromQualString("pevis::record");
  for (auto* node : nodes) {
    const std::string kind = node->kind().toQualString();
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end() || node->outputs().size() != 1) continue;
    const auto site = static_cast<std::int64_t>(sites.size());
    sites.push_back({paths.resolve(node), kind, static_cast<std::size_t>(site), {}});
    torch::jit::WithInsertPoint after(node->next());
    torch::jit::Value* site_value = graph->insertConstant(site);
    torch::jit::Node* recorder = graph->create(record_symbol, {node->output(), site_value});
    recorder->insertAfter(site_value->node());
    recorder->output()->setType(node->output()->type());
    node->output()->replaceAllUsesAfterNodeWith(recorder, recorder->output());
  }

  std::vector<std::pair<std::int64_t, at::Tensor>> records;
  CaptureResult result;
  {
    torch::NoGradGuard no_grad;
    active_records = &records;
    try {
      result.output = run_graph(module, graph, inputs, model);
    } catch (...) {
      active_records = nullptr;
      throw;
    }
    active_records = nullptr;
  }
  std::vector<std::int64_t> order;
  for (auto& [site, value] : records) {
    auto& target = sites[static_cast<std::size_t>(site)];
    if (target.values.empty()) order.push_back(site);
    target.values.push_back(std::move(value));
  }
  for (auto site : order) result.captured.push_back(std::move(sites[static_cast<std::size_t>(site)]));
  return result;
}

}  // namespace pevis
