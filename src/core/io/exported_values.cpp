#include "exported_values.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "pevis/base/module_path.h"
#include "pevis/operators/attention_ops.h"

namespace pevis::exported {

using nlohmann::json;

// The size operations pevis computes itself, with the schema they are read by.
std::pair<SizeOp, std::string> size_operation(const std::string& target) {
  if (target == "torch.ops.aten.sym_size.int") return {SizeOp::kSymSize, "aten::sym_size.int(Tensor self, int dim) -> int"};
  if (target == "torch.ops.aten.sym_numel.default") return {SizeOp::kSymNumel, "aten::sym_numel(Tensor self) -> int"};
  static const std::map<std::string, SizeOp> binary = {{"_operator.add", SizeOp::kAdd}, {"_operator.sub", SizeOp::kSub},
                                                       {"_operator.mul", SizeOp::kMul},
                                                       {"_operator.floordiv", SizeOp::kFloorDiv},
                                                       {"_operator.mod", SizeOp::kMod}};
  const auto found = binary.find(target);
  if (found == binary.end()) return {SizeOp::kNone, ""};
  return {found->second, "_operator::" + target.substr(10) + "(int a, int b) -> int"};
}

// torch.export's numbering of dtypes, layouts and memory formats (its
// serialization schema), to LibTorch's.
c10::ScalarType scalar_type(std::int64_t code) {
  switch (code) {
    case 1: return at::kByte;
    case 2: return at::kChar;
    case 3: return at::kShort;
    case 4: return at::kInt;
    case 5: return at::kLong;
    case 6: return at::kHalf;
    case 7: return at::kFloat;
    case 8: return at::kDouble;
    case 9: return at::kComplexHalf;
    case 10: return at::kComplexFloat;
    case 11: return at::kComplexDouble;
    case 12: return at::kBool;
    case 13: return at::kBFloat16;
    default: throw std::invalid_argument("dtype " + std::to_string(code));
  }
}

c10::Layout layout(std::int64_t code) {
  if (code == 7) return c10::kStrided;
  throw std::invalid_argument("layout " + std::to_string(code) + " (only strided tensors are run)");
}

c10::MemoryFormat memory_format(std::int64_t code) {
  switch (code) {
    case 1: return c10::MemoryFormat::Contiguous;
    case 2: return c10::MemoryFormat::ChannelsLast;
    case 3: return c10::MemoryFormat::ChannelsLast3d;
    case 4: return c10::MemoryFormat::Preserve;
    default: throw std::invalid_argument("memory format " + std::to_string(code));
  }
}

// "L__self__,,__main__.M;L__self___enc,enc,torch...TransformerEncoder": the
// innermost module's path.
std::string module_path(const json& metadata) {
  if (!metadata.is_object() || !metadata.contains("nn_module_stack") || !metadata["nn_module_stack"].is_string()) {
    return "";
  }
  const std::string stack = metadata["nn_module_stack"].get<std::string>();
  const std::string last = stack.substr(stack.rfind(';') == std::string::npos ? 0 : stack.rfind(';') + 1);
  const auto first = last.find(',');
  if (first == std::string::npos) return "";
  const auto second = last.find(',', first + 1);
  return last.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
}

// Attention in an exported stock layer is tagged with the outer module only
// (`enc`); the parameters that project its query and key
// (`enc.layers.0.self_attn.in_proj_weight`) say which layer it belongs to.
void refine_attention_paths(ExportedProgram& program, const std::map<std::string, std::string>& parameter_of_value) {
  std::map<std::string, std::size_t> producer;  // value name -> node
  for (std::size_t i = 0; i < program.graph.nodes.size(); ++i) {
    for (const auto& out : program.graph.nodes[i].outputs) producer[out] = i;
  }
  // The module of the nearest parameter upstream of `value`, breadth first.
  const auto owner = [&](const std::string& value) -> std::optional<std::string> {
    std::vector<std::string> frontier = {value};
    std::set<std::string> seen;
    for (int depth = 0; depth < 16 && !frontier.empty(); ++depth) {
      std::vector<std::string> next;
      for (const auto& name : frontier) {
        if (!seen.insert(name).second) continue;
        const auto p = parameter_of_value.find(name);
        if (p != parameter_of_value.end()) return parent_of(p->second);
        const auto made = producer.find(name);
        if (made == producer.end()) continue;
        for (const auto& in : program.graph.nodes[made->second].inputs) next.push_back(in);
      }
      frontier = std::move(next);
    }
    return std::nullopt;
  };
  const auto refine = [](ExportedNodeInfo& node, const std::string& module) {
    if (within(module, node.path) && module.size() > node.path.size()) node.path = module;
  };
  for (auto& node : program.graph.nodes) {
    const AttentionOp* attention = attention_op(node.op);
    if (attention && attention->query_arg >= 0 &&
        node.inputs.size() > static_cast<std::size_t>(std::max(attention->query_arg, attention->key_arg))) {
      const auto q = owner(node.inputs[static_cast<std::size_t>(attention->query_arg)]);
      const auto k = owner(node.inputs[static_cast<std::size_t>(attention->key_arg)]);
      if (q && k) refine(node, common_ancestor(*q, *k));
      continue;
    }
    // An operation on a parameter (a linear layer's weight) belongs to the
    // parameter's module.
    for (const auto& in : node.inputs) {
      const auto p = parameter_of_value.find(in);
      if (p == parameter_of_value.end()) continue;
      refine(node, parent_of(p->second));
      break;
    }
  }
}

// Python's json module writes infinities and NaN as bare words, which JSON
// lacks: outside strings they become the strings "inf", "-inf" and "nan",
// read back where a float is wanted.
std::string standard_json(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (text.compare(i, 9, "-Infinity") == 0) {
      out += "\"-inf\"";
      i += 8;
    } else if (text.compare(i, 8, "Infinity") == 0) {
      out += "\"inf\"";
      i += 7;
    } else if (text.compare(i, 3, "NaN") == 0) {
      out += "\"nan\"";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

double float_of(const json& v) {
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    throw std::invalid_argument("the float '" + text + "'");
  }
  return v.get<double>();
}

}  // namespace pevis::exported
