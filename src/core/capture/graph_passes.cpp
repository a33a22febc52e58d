#include "graph_passes.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <string>

namespace pevis::graph {
namespace {

void collect_nodes(torch::jit::Block* block, std::vector<torch::jit::Node*>& out) {
  for (auto* node : block->nodes()) {
    out.push_back(node);
    for (auto* inner : node->blocks()) collect_nodes(inner, out);
  }
}

}  // namespace

std::shared_ptr<torch::jit::Graph> copy_forward(const torch::jit::Module& module) {
  return torch::jit::toGraphFunction(module.get_method("forward").function()).graph()->copy();
}

void inline_calls(torch::jit::Graph& graph) { torch::jit::Inline(graph); }

std::vector<torch::jit::Node*> list_nodes(torch::jit::Graph& graph) {
  std::vector<torch::jit::Node*> nodes;
  collect_nodes(graph.block(), nodes);
  return nodes;
}

void force_explicit_paths(torch::jit::Graph& graph, const std::vector<torch::jit::Node*>& nodes) {
  torch::jit::WithInsertPoint at_start(graph.block()->nodes().front());
  torch::jit::Value* yes = graph.insertConstant(true);
  for (auto* node : nodes) {
    if (is_kind(node, {"aten::is_grad_enabled", "prim::requires_grad"}) && node->outputs().size() == 1) {
      node->output()->replaceAllUsesWith(yes);
    }
  }
}

PreparedGraph prepare(const torch::jit::Module& module, bool explicit_paths) {
  PreparedGraph prepared;
  prepared.graph = copy_forward(module);
  inline_calls(*prepared.graph);
  prepared.nodes = list_nodes(*prepared.graph);
  if (explicit_paths) force_explicit_paths(*prepared.graph, prepared.nodes);
  return prepared;
}

void insert_recorder(torch::jit::Graph& graph, c10::Symbol symbol, std::vector<torch::jit::Value*> inputs,
                     torch::jit::Value* value, std::int64_t site, torch::jit::Node* anchor) {
  torch::jit::WithInsertPoint at(anchor);
  inputs.push_back(graph.insertConstant(site));
  torch::jit::Node* recorder = graph.create(symbol, inputs);
  recorder->insertAfter(inputs.back()->node());
  recorder->output()->setType(value->type());
  value->replaceAllUsesAfterNodeWith(recorder, recorder->output());
}

void insert_op_recorder(torch::jit::Graph& graph, c10::Symbol symbol, torch::jit::Node* node, std::int64_t site) {
  std::vector<torch::jit::Value*> tensors;
  for (auto* input : node->inputs()) {
    if (is_tensor(input)) {
      tensors.push_back(input);
    } else if (input->node()->kind() == c10::prim::ListConstruct) {
      for (auto* item : input->node()->inputs()) {
        if (is_tensor(item)) tensors.push_back(item);
      }
    }
  }
  torch::jit::Node* anchor = node->next();
  torch::jit::Value* list = nullptr;
  {
    torch::jit::WithInsertPoint at(anchor);
    list = graph.insertNode(graph.createList(c10::TensorType::get(), tensors))->output();
  }
  insert_recorder(graph, symbol, {list, node->output(0)}, node->output(0), site, anchor);
}

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

bool is_tensor(const torch::jit::Value* value) { return value->type()->kind() == c10::TypeKind::TensorType; }

bool is_kind(const torch::jit::Node* node, std::initializer_list<const char*> kinds) {
  const std::string kind = node->kind().toQualString();
  return std::any_of(kinds.begin(), kinds.end(), [&](const char* k) { return kind == k; });
}

}  // namespace pevis::graph
