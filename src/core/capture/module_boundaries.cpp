#include "module_boundaries.h"

#include <algorithm>

#include "pevis/base/module_path.h"

namespace pevis::graph {

ModulePaths::ModulePaths(const torch::jit::Module& root) {
  for (const auto& item : root.named_modules()) entries_.push_back({item.name, item.value.type()});
}

std::string ModulePaths::resolve(const torch::jit::Node* node) const {
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

std::string ModulePaths::descend(const std::string& from, const std::string& name,
                                 const c10::ClassTypePtr& type) const {
  // The shallowest module below `from` with this last name and type.
  const std::string prefix = from.empty() ? "" : from + ".";
  const std::string* best = nullptr;
  for (const auto& e : entries_) {
    if (e.path.size() <= prefix.size() || e.path.compare(0, prefix.size(), prefix) != 0) continue;
    if (last_part(e.path) != name || (type && e.type != type)) continue;
    if (!best || e.path.size() < best->size()) best = &e.path;
  }
  return best ? *best : prefix + name;
}

namespace {

void add(std::vector<std::string>& list, const std::string& path) {
  if (std::find(list.begin(), list.end(), path) == list.end()) list.push_back(path);
}

bool is_packed(const torch::jit::Value* value) {
  return is_kind(value->node(), {"prim::TupleConstruct", "prim::ListConstruct"});
}

}  // namespace

std::vector<std::pair<torch::jit::Value*, Crossing>> crossing_values(
    const PreparedGraph& prepared, const std::map<const torch::jit::Node*, std::string>& node_path) {
  const auto path_of = [&](const torch::jit::Node* node) {
    const auto found = node_path.find(node);
    return found == node_path.end() ? std::string() : found->second;
  };
  // Where a use happens: a block's return counts as its owning node; the
  // graph's return is the root.
  const auto user_path = [&](const torch::jit::Use& use) -> std::string {
    const torch::jit::Node* user = use.user;
    while (user->kind() == c10::prim::Return) {
      const torch::jit::Node* owner = user->owningBlock()->owningNode();
      if (!owner) return "";
      user = owner;
    }
    return path_of(user);
  };

  torch::jit::Graph& graph = *prepared.graph;
  std::vector<torch::jit::Value*> values;
  for (auto* input : graph.inputs()) values.push_back(input);
  for (auto* node : prepared.nodes)
    for (auto* output : node->outputs()) values.push_back(output);
  std::map<torch::jit::Value*, Crossing> crossing;
  for (auto* value : values) {
    const bool graph_input = value->node()->kind() == c10::prim::Param;
    const std::string from = graph_input ? "" : path_of(value->node());
    if (value->type()->kind() == c10::TypeKind::TupleType) {
      // A tuple that leaves a module (often through an if): its tensors are
      // the module's outputs where the receiving side unpacks them.
      for (const auto& use : value->uses()) {
        if (!is_kind(use.user, {"prim::TupleUnpack", "prim::TupleIndex"})) continue;
        for (const auto& p : crossed(from, user_path(use))) {
          for (auto* item : use.user->outputs()) {
            if (is_tensor(item)) add(crossing[item].out_paths, p);
          }
        }
      }
    }
    if (!is_tensor(value) && !is_packed(value)) continue;
    for (const auto& use : value->uses()) {
      if (is_kind(use.user, {"aten::size", "aten::dim", "aten::numel", "prim::device", "prim::dtype", "prim::is_cuda"})) {
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
  for (auto* value : graph.outputs()) {
    if (is_tensor(value)) {
      add(crossing[value].out_paths, "");
    } else if (is_packed(value)) {
      for (auto* item : value->node()->inputs()) {
        if (is_tensor(item)) add(crossing[item].out_paths, "");
      }
    }
  }
  for (auto* value : graph.inputs()) {
    if (is_tensor(value)) add(crossing[value].in_paths, "");
  }

  std::vector<std::pair<torch::jit::Value*, Crossing>> out;
  for (auto* value : values) {
    auto found = crossing.find(value);
    if (found == crossing.end() || (found->second.out_paths.empty() && found->second.in_paths.empty())) continue;
    out.emplace_back(value, std::move(found->second));
  }
  return out;
}

}  // namespace pevis::graph
