#include "pevis/io/exported_program.h"

#include <ATen/ScalarOps.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/Device.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>
#include <c10/core/Layout.h>
#include <c10/core/MemoryFormat.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unordered_map>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/base/memory.h"
#include "pevis/base/module_path.h"
#include "pevis/base/shape_text.h"
#include "pevis/io/checkpoint.h"
#include "pevis/operators/added_ops.h"
#include "exported_values.h"

namespace pevis {

namespace {

using nlohmann::json;
using exported::float_of;
using exported::layout;
using exported::memory_format;
using exported::module_path;
using exported::refine_attention_paths;
using exported::scalar_type;
using exported::size_operation;
using exported::standard_json;

constexpr const char* kProgramEntry = "serialized_exported_program.json";

class Builder {
 public:
  Builder(const std::string& path, ExportedProgram& program) : path_(path), program_(program) {}

  [[noreturn]] void refuse(const std::string& why) const {
    throw bad_input(path_, "the exported program cannot be run: " + why,
                    "pevis runs programs of torch.export (PyTorch 2.6) made of ATen operators");
  }

  int define(const std::string& name) {
    if (name.empty()) refuse("a value has no name");
    if (slots_.count(name)) refuse("the value '" + name + "' is defined twice");
    const int slot = static_cast<int>(program_.slot_count++);
    slots_[name] = slot;
    return slot;
  }

  int use(const std::string& name, std::size_t node) {
    const auto found = slots_.find(name);
    if (found == slots_.end()) refuse("node " + std::to_string(node) + " uses the value '" + name + "' before any defines it");
    last_use_[found->second] = node;
    return found->second;
  }

  // The sizes torch.export recorded for a user input, with the ranges of
  // its symbols. What pevis cannot read is left unchecked, never refused.
  static ExportedInputShape input_shape(const json& program_json, const json& graph, const std::string& name) {
    ExportedInputShape shape;
    shape.name = name;
    if (!graph.contains("tensor_values") || !graph["tensor_values"].is_object()) return shape;
    const json& values = graph["tensor_values"];
    if (!values.contains(name) || !values[name].contains("sizes") || !values[name]["sizes"].is_array()) return shape;
    const json* ranges = program_json.contains("range_constraints") && program_json["range_constraints"].is_object()
                             ? &program_json["range_constraints"] : nullptr;
    for (const auto& size : values[name]["sizes"]) {
      ExportedDim dim;
      if (size.contains("as_int") && size["as_int"].is_number_integer()) {
        dim.size = size["as_int"].get<std::int64_t>();
      } else if (size.contains("as_expr") && size["as_expr"].contains("expr_str") && size["as_expr"]["expr_str"].is_string()) {
        dim.symbol = symbol_of(size["as_expr"]["expr_str"].get<std::string>());
        if (!dim.symbol.empty() && ranges && ranges->contains(dim.symbol)) {
          const json& range = (*ranges)[dim.symbol];
          if (range.contains("min_val") && range["min_val"].is_number_integer()) dim.min = range["min_val"].get<std::int64_t>();
          // An unbounded range is written as a huge number (or not as an integer).
          if (range.contains("max_val") && range["max_val"].is_number_integer()) {
            const std::int64_t max = range["max_val"].get<std::int64_t>();
            dim.max = max >= (std::int64_t{1} << 53) ? -1 : max;
          }
        } else {
          dim.symbol.clear();
        }
      } else {
        return shape;
      }
      shape.dims.push_back(dim);
    }
    shape.known = true;
    return shape;
  }

  // "s0" from "s0" or "Symbol('s0', positive=True, integer=True)"; "" for an expression.
  static std::string symbol_of(const std::string& text) {
    std::string name = text;
    const std::string wrapped = "Symbol('";
    if (text.compare(0, wrapped.size(), wrapped) == 0) {
      const auto end = text.find('\'', wrapped.size());
      if (end == std::string::npos) return "";
      name = text.substr(wrapped.size(), end - wrapped.size());
    }
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return "";
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return "";
    }
    return name;
  }

  static std::string tensor_name(const json& arg) {
    if (!arg.is_object() || !arg.contains("name") || !arg["name"].is_string()) return "";
    return arg["name"].get<std::string>();
  }

  void build(const json& program_json) {
    const json& module = program_json.at("graph_module");
    const json& graph = module.at("graph");
    const json& signature = module.at("signature");
    // Graph inputs, in order: parameters, buffers, constants, then user inputs.
    const json& specs = signature.at("input_specs");
    if (!specs.is_array() || specs.size() != graph.at("inputs").size()) refuse("its signature does not match its graph");
    for (const auto& spec : specs) {
      if (spec.contains("user_input")) {
        const json& arg = spec["user_input"].at("arg");
        if (!arg.contains("as_tensor")) refuse("a user input that is not a tensor");
        const std::string name = tensor_name(arg["as_tensor"]);
        const int slot = define(name);
        program_.input_slots.push_back(slot);
        program_.user_inputs.push_back(slot);
        program_.graph.inputs.push_back(name);
        program_.input_shapes.push_back(input_shape(program_json, graph, name));
        continue;
      }
      std::string kind, key, name;
      if (spec.contains("parameter")) {
        kind = "parameter";
        key = spec["parameter"].at("parameter_name").get<std::string>();
        name = tensor_name(spec["parameter"].at("arg"));
      } else if (spec.contains("buffer")) {
        kind = "buffer";
        key = spec["buffer"].at("buffer_name").get<std::string>();
        name = tensor_name(spec["buffer"].at("arg"));
      } else if (spec.contains("tensor_constant")) {
        kind = "constant";
        key = spec["tensor_constant"].at("tensor_constant_name").get<std::string>();
        name = tensor_name(spec["tensor_constant"].at("arg"));
      } else {
        refuse("an input of a kind pevis does not run (" + spec.begin().key() + ")");
      }
      const int slot = define(name);
      program_.input_slots.push_back(slot);
      lifted_.push_back({slot, kind, key, name});
    }
    const json& nodes = graph.at("nodes");
    if (!nodes.is_array()) refuse("its graph has no node list");
    for (std::size_t i = 0; i < nodes.size(); ++i) add_node(nodes[i], i);
    // User outputs.
    for (const auto& spec : signature.at("output_specs")) {
      if (!spec.contains("user_output")) continue;
      const json& arg = spec["user_output"].at("arg");
      if (!arg.contains("as_tensor")) refuse("an output that is not a tensor");
      const std::string name = tensor_name(arg["as_tensor"]);
      program_.user_outputs.push_back(use(name, nodes.size()));
      program_.graph.outputs.push_back(name);
    }
    if (program_.user_outputs.empty()) refuse("it has no output");
    program_.release_after.assign(nodes.size(), {});
    for (const auto& [slot, node] : last_use_) {
      if (node < nodes.size()) program_.release_after[node].push_back(slot);
    }
  }

  struct Lifted {
    int slot;
    std::string kind, key, name;
  };
  const std::vector<Lifted>& lifted() const { return lifted_; }
  std::map<std::string, std::string> parameter_of_value() const {
    std::map<std::string, std::string> out;
    for (const auto& l : lifted_) {
      if (l.kind == "parameter") out[l.name] = l.key;
    }
    return out;
  }

 private:
  void add_node(const json& node, std::size_t index) {
    ExportedNode out;
    c10::optional<c10::FunctionSchema> builtin;
    const std::string op = resolve_operator(node.at("target").get<std::string>(), index, out, builtin);
    const c10::FunctionSchema& schema = builtin ? *builtin : out.handle->schema();
    ExportedNodeInfo info;
    info.op = op;
    info.stack_path = module_path(node.contains("metadata") ? node["metadata"] : json());
    info.path = info.stack_path;
    add_arguments(node.at("inputs"), schema, index, out, info);
    const std::vector<std::string> names = output_names(node.at("outputs"), index, op);
    const bool list_return = schema.returns().size() == 1 && schema.returns()[0].type()->kind() == c10::TypeKind::ListType;
    if (!list_return && names.size() > schema.returns().size()) {
      refuse("node " + std::to_string(index) + " (" + op + ") names more outputs than its operator returns");
    }
    for (const auto& n : names) {
      out.outputs.push_back(n.empty() ? -1 : define(n));
      if (!n.empty()) info.outputs.push_back(n);
    }
    program_.nodes.push_back(std::move(out));
    program_.graph.nodes.push_back(std::move(info));
  }

  // The operator a node's target names: a size operation pevis computes
  // (its schema in `builtin`), or an operator of this LibTorch (`out.handle`).
  std::string resolve_operator(const std::string& target, std::size_t index, ExportedNode& out,
                               c10::optional<c10::FunctionSchema>& builtin) {
    const auto size_op = size_operation(target);
    if (size_op.first != SizeOp::kNone) {
      out.size_op = size_op.first;
      builtin = torch::jit::parseSchema(size_op.second);
      return builtin->name();
    }
    const std::string prefix = "torch.ops.";
    if (target.rfind(prefix, 0) != 0) refuse("node " + std::to_string(index) + " calls " + target + ", not an operator");
    const std::string rest = target.substr(prefix.size());
    const auto dot1 = rest.find('.'), dot2 = rest.rfind('.');
    if (dot1 == std::string::npos || dot1 == dot2) refuse("node " + std::to_string(index) + " calls " + target);
    const std::string ns = rest.substr(0, dot1), name = rest.substr(dot1 + 1, dot2 - dot1 - 1);
    std::string overload = rest.substr(dot2 + 1);
    if (overload == "default") overload.clear();
    const std::string op = ns + "::" + name;
    out.handle = c10::Dispatcher::singleton().findSchema({op, overload});
    if (!out.handle) {
      refuse("node " + std::to_string(index) + " calls the operator " + op + (overload.empty() ? "" : "." + overload) +
             ", which LibTorch " + libtorch_version() + " lacks (the program was made by a newer PyTorch)");
    }
    return op;
  }

  // The node's arguments in schema order: given, or the schema's default.
  void add_arguments(const json& inputs, const c10::FunctionSchema& schema, std::size_t index, ExportedNode& out,
                     ExportedNodeInfo& info) {
    const std::string& op = info.op;
    std::map<std::string, const json*> given;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      // Python's operators are called positionally: their inputs go in order.
      const bool positional = out.size_op != SizeOp::kNone && out.size_op != SizeOp::kSymSize &&
                              out.size_op != SizeOp::kSymNumel && k < schema.arguments().size();
      given[positional ? schema.arguments()[k].name() : inputs[k].at("name").get<std::string>()] = &inputs[k].at("arg");
    }
    for (const auto& argument : schema.arguments()) {
      const auto found = given.find(argument.name());
      if (found == given.end()) {
        if (!argument.default_value()) {
          refuse("node " + std::to_string(index) + " (" + op + ") lacks its argument '" + argument.name() + "'");
        }
        out.arguments.push_back({ExportedArgument::Kind::kConstant, *argument.default_value()});
        continue;
      }
      try {
        out.arguments.push_back(convert(*found->second, argument, index, info));
      } catch (const std::invalid_argument& e) {
        refuse("node " + std::to_string(index) + " (" + op + ") gives '" + argument.name() + "' " + e.what());
      }
      given.erase(found);
    }
    if (!given.empty()) {
      refuse("node " + std::to_string(index) + " (" + op + ") gives '" + given.begin()->first +
             "', an argument its operator does not have");
    }
  }

  // The names of the values a node defines ("" for an output it drops).
  std::vector<std::string> output_names(const json& outputs, std::size_t index, const std::string& op) {
    std::vector<std::string> names;
    for (const auto& output : outputs) {
      if (output.contains("as_tensor")) {
        names.push_back(tensor_name(output["as_tensor"]));
      } else if (output.contains("as_tensors")) {
        for (const auto& t : output["as_tensors"]) names.push_back(tensor_name(t));
      } else if (output.contains("as_sym_int") && output["as_sym_int"].contains("as_name")) {
        names.push_back(output["as_sym_int"]["as_name"].get<std::string>());
      } else if (output.contains("as_none")) {
        names.emplace_back();
      } else {
        refuse("node " + std::to_string(index) + " (" + op + ") has an output of a kind pevis does not run");
      }
    }
    return names;
  }

  static c10::TypePtr unwrap(const c10::TypePtr& type) {
    if (type->kind() == c10::TypeKind::OptionalType) return type->expectRef<c10::OptionalType>().getElementType();
    return type;
  }
  static bool is_int(const c10::TypePtr& t) {
    const auto k = t->kind();
    return k == c10::TypeKind::IntType || k == c10::TypeKind::SymIntType || k == c10::TypeKind::NumberType;
  }
  static bool is_list_of(const c10::TypePtr& t, bool (*element)(const c10::TypePtr&)) {
    return t->kind() == c10::TypeKind::ListType && element(t->expectRef<c10::ListType>().getElementType());
  }
  static bool is_tensor(const c10::TypePtr& t) { return t->kind() == c10::TypeKind::TensorType; }

  ExportedArgument convert(const json& arg, const c10::Argument& schema_arg, std::size_t index,
                           ExportedNodeInfo& info) {
    const c10::TypePtr& declared = schema_arg.type();
    const c10::TypePtr type = unwrap(declared);
    const bool optional = declared->kind() == c10::TypeKind::OptionalType;
    ExportedArgument out;
    out.kind = ExportedArgument::Kind::kConstant;
    if (!arg.is_object() || arg.size() != 1) throw std::invalid_argument("a malformed argument");
    const std::string kind = arg.begin().key();
    const json& v = arg.begin().value();
    const auto want = [&](bool ok) {
      if (!ok) throw std::invalid_argument(kind + " where its schema wants " + declared->annotation_str());
    };
    if (kind == "as_none") {
      want(optional || declared->kind() == c10::TypeKind::NoneType);
      out.constant = c10::IValue();
    } else if (kind == "as_tensor") {
      want(is_tensor(type));
      out.kind = ExportedArgument::Kind::kValue;
      const std::string name = tensor_name(v);
      out.slot = use(name, index);
      info.inputs.push_back(name);
    } else if (kind == "as_tensors" || kind == "as_optional_tensors") {
      const bool opt = kind == "as_optional_tensors";
      want(type->kind() == c10::TypeKind::ListType &&
           (opt ? unwrap(type->expectRef<c10::ListType>().getElementType())->kind() == c10::TypeKind::TensorType
                : is_list_of(type, is_tensor)));
      out.kind = ExportedArgument::Kind::kList;
      out.list_of = opt ? ExportedArgument::ListOf::kOptionalTensor : ExportedArgument::ListOf::kTensor;
      for (const auto& item : v) {
        if (opt && item.contains("as_none")) {
          out.slots.push_back(-1);
          out.items.emplace_back();
          continue;
        }
        const std::string name = tensor_name(opt ? item.at("as_tensor") : item);
        out.slots.push_back(use(name, index));
        out.items.emplace_back();
        info.inputs.push_back(name);
      }
    } else if (is_tensor(type) && (kind == "as_int" || kind == "as_float" || kind == "as_bool")) {
      // A Python number where the operator takes a tensor (x * 4.0 as
      // mul.Tensor): a wrapped number, which promotes as a scalar does.
      const at::Scalar number = kind == "as_int"     ? at::Scalar(v.get<std::int64_t>())
                                : kind == "as_bool" ? at::Scalar(v.get<bool>())
                                                    : at::Scalar(float_of(v));
      out.constant = at::native::wrapped_scalar_tensor(number);
    } else if (kind == "as_int") {
      want(is_int(type) || type->kind() == c10::TypeKind::FloatType);
      // A dtype, layout or memory format is an int to the schema's parser,
      // but LibTorch casts such an int to its enum unchecked: the program
      // must name them as torch.export does (as_scalar_type, ...).
      const auto real = unwrap(schema_arg.real_type())->kind();
      if (real == c10::TypeKind::ScalarTypeType || real == c10::TypeKind::LayoutType ||
          real == c10::TypeKind::MemoryFormatType) {
        throw std::invalid_argument("a plain integer where its schema wants a " +
                                    unwrap(schema_arg.real_type())->annotation_str());
      }
      out.constant = type->kind() == c10::TypeKind::FloatType ? c10::IValue(static_cast<double>(v.get<std::int64_t>()))
                                                              : c10::IValue(v.get<std::int64_t>());
    } else if (kind == "as_float") {
      want(type->kind() == c10::TypeKind::FloatType || type->kind() == c10::TypeKind::NumberType);
      out.constant = float_of(v);
    } else if (kind == "as_bool") {
      want(type->kind() == c10::TypeKind::BoolType || type->kind() == c10::TypeKind::NumberType);
      out.constant = v.get<bool>();
    } else if (kind == "as_string") {
      want(type->kind() == c10::TypeKind::StringType);
      out.constant = v.get<std::string>();
    } else if (kind == "as_ints") {
      want(is_list_of(type, is_int));
      out.constant = c10::IValue(v.get<std::vector<std::int64_t>>());
    } else if (kind == "as_floats") {
      want(type->kind() == c10::TypeKind::ListType &&
           type->expectRef<c10::ListType>().getElementType()->kind() == c10::TypeKind::FloatType);
      std::vector<double> floats;
      for (const auto& f : v) floats.push_back(float_of(f));
      out.constant = c10::IValue(floats);
    } else if (kind == "as_bools") {
      want(type->kind() == c10::TypeKind::ListType &&
           type->expectRef<c10::ListType>().getElementType()->kind() == c10::TypeKind::BoolType);
      c10::List<bool> bools;
      for (const auto& b : v) bools.push_back(b.get<bool>());
      out.constant = bools;
    } else if (kind == "as_sym_int") {
      want(is_int(type));
      if (v.contains("as_int")) {
        out.constant = v["as_int"].get<std::int64_t>();
      } else {
        out.kind = ExportedArgument::Kind::kValue;
        const std::string name = v.at("as_name").get<std::string>();
        out.slot = use(name, index);
        info.inputs.push_back(name);
      }
    } else if (kind == "as_sym_ints") {
      want(is_list_of(type, is_int));
      out.kind = ExportedArgument::Kind::kList;
      out.list_of = ExportedArgument::ListOf::kInt;
      for (const auto& item : v) {
        if (item.contains("as_int")) {
          out.slots.push_back(-1);
          out.items.emplace_back(item["as_int"].get<std::int64_t>());
        } else {
          const std::string name = item.at("as_name").get<std::string>();
          out.slots.push_back(use(name, index));
          out.items.emplace_back();
          info.inputs.push_back(name);
        }
      }
    } else if (kind == "as_scalar_type") {
      want(is_int(type));
      out.constant = static_cast<std::int64_t>(scalar_type(v.get<std::int64_t>()));
    } else if (kind == "as_layout") {
      want(is_int(type));
      out.constant = static_cast<std::int64_t>(layout(v.get<std::int64_t>()));
    } else if (kind == "as_memory_format") {
      want(is_int(type));
      out.constant = static_cast<std::int64_t>(memory_format(v.get<std::int64_t>()));
    } else if (kind == "as_device") {
      want(type->kind() == c10::TypeKind::DeviceObjType);
      out.constant = c10::Device(c10::kCPU);  // pevis runs everything on the CPU
    } else {
      throw std::invalid_argument(kind + ", a kind of argument pevis does not run");
    }
    return out;
  }

 private:
  std::string path_;
  ExportedProgram& program_;
  std::unordered_map<std::string, int> slots_;
  std::map<int, std::size_t> last_use_;
  std::vector<Lifted> lifted_;
};

std::string describe(const at::Tensor& t) {
  std::string text = "Tensor [";
  for (std::int64_t i = 0; i < t.dim(); ++i) text += (i ? ", " : "") + std::to_string(t.size(i));
  return text + "] " + std::string(c10::toString(t.scalar_type()));
}

}  // namespace

namespace {

// The program's JSON, checked for depth, parsed and of schema version 8;
// with its version as text.
std::pair<json, std::string> parse_program(const std::string& text, const std::string& path) {
  const std::string program_text = standard_json(text);
  check_json_depth(program_text, path);
  json program_json;
  try {
    program_json = json::parse(program_text);
  } catch (const json::exception& e) {
    throw bad_input(path, std::string("the program's JSON cannot be read (") + e.what() + ")", "the file is damaged");
  }
  std::string version;
  try {
    const json& v = program_json.at("schema_version");
    version = std::to_string(v.at("major").get<int>()) + "." + std::to_string(v.at("minor").get<int>());
    if (v.at("major").get<int>() != 8) {
      throw bad_input(path, "a torch.export program of schema version " + version + "; pevis reads version 8 (PyTorch 2.6)",
                      "export it again with PyTorch 2.6");
    }
  } catch (const json::exception&) {
    throw bad_input(path, "the program's JSON has no schema version", "the file is damaged");
  }
  return {std::move(program_json), version};
}

void build_graph(Builder& builder, const json& program_json, const std::string& path) {
  try {
    builder.build(program_json);
  } catch (const json::exception& e) {
    throw bad_input(path, std::string("the program's graph is malformed (") + e.what() + ")", "the file is damaged");
  }
}

}  // namespace

ExportedGraph read_exported_graph(const std::string& program_json, const std::string& path) {
  ExportedProgram program;
  Builder builder(path, program);
  build_graph(builder, parse_program(program_json, path).first, path);
  return program.graph;
}

bool is_exported_program(const ZipArchive& zip) { return zip.find_suffix(kProgramEntry) != nullptr; }

Model read_exported(const ZipArchive& zip, const std::string& path) {
  const std::string* entry = zip.find_suffix(kProgramEntry);
  if (!entry) throw bad_input(path, "not a torch.export archive (no " + std::string(kProgramEntry) + ")");
  const std::string prefix = entry->substr(0, entry->size() - std::strlen(kProgramEntry));
  const auto read = [&](const std::string& name) -> std::string {
    if (!zip.find(prefix + name)) {
      throw bad_input(path, "the torch.export archive lacks " + name, "the file may be damaged: export it again");
    }
    return zip.read(prefix + name);
  };
  const auto [program_json, version] = parse_program(read(kProgramEntry), path);
  auto program = std::make_shared<ExportedProgram>();
  Model model;
  model.path = path;
  model.format = "torch.export program";
  model.files.push_back(path);
  model.metadata.emplace_back("schema_version", version);
  if (program_json.contains("torch_version") && program_json["torch_version"].is_string()) {
    model.metadata.emplace_back("torch_version", program_json["torch_version"].get<std::string>());
  }
  Builder builder(path, *program);
  build_graph(builder, program_json, path);
  // Weights and constants, through the restricted reader.
  const Model weights = read_checkpoint_bytes(read("serialized_state_dict.pt"), path + " (weights)");
  const Model constants = read_checkpoint_bytes(read("serialized_constants.pt"), path + " (constants)");
  std::map<std::string, at::Tensor> by_name;
  for (const auto& t : weights.tensors) by_name[t.name] = t.tensor();
  for (const auto& t : constants.tensors) by_name.emplace(t.name, t.tensor());
  for (const auto& lifted : builder.lifted()) {
    auto found = by_name.find(lifted.key);
    if (found == by_name.end()) {
      throw bad_input(path, "the program needs the " + lifted.kind + " " + lifted.key + ", which the archive lacks",
                      "the file is damaged");
    }
    program->fixed.emplace_back(lifted.slot, found->second);
    if (lifted.kind != "constant") model.tensors.push_back({lifted.key, found->second, lifted.kind});
  }
  refine_attention_paths(*program, builder.parameter_of_value());
  // Example inputs: torch.save((args, kwargs)); the tensors of args are "0.0", "0.1", ...
  if (zip.find(prefix + "serialized_example_inputs.pt")) {
    const Model examples = read_checkpoint_bytes(read("serialized_example_inputs.pt"), path + " (example inputs)");
    for (std::size_t i = 0; i < program->user_inputs.size(); ++i) {
      for (const auto& t : examples.tensors) {
        if (t.name == "0." + std::to_string(i)) program->examples.emplace_back(t.tensor());
      }
    }
    if (program->examples.size() != program->user_inputs.size()) program->examples.clear();
  }
  for (std::size_t i = 0; i < program->graph.inputs.size(); ++i) {
    std::string text = program->graph.inputs[i];
    if (i < program->examples.size()) text += ": " + describe(program->examples[i].toTensor());
    program->user_input_text.push_back(text);
  }
  model.program = std::move(program);
  return model;
}

const ExportedProgram& exported_program(const Model& model) {
  if (!model.program) throw bad_input(model.path, "not a torch.export program");
  return *model.program;
}

std::vector<OperatorUse> program_operators(const ExportedGraph& graph) {
  std::vector<OperatorUse> uses;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& node = graph.nodes[i];
    uses.push_back({node.op, "node " + std::to_string(i) + (node.path.empty() ? "" : " ('" + node.path + "')")});
  }
  return uses;
}

const ExportedGraph& exported_graph(const Model& model) { return exported_program(model).graph; }

std::vector<c10::IValue> exported_example_inputs(const Model& model) {
  const ExportedProgram& program = exported_program(model);
  if (program.examples.empty()) {
    throw bad_input(model.path, "the archive holds no example inputs pevis can read",
                    "give --input or --input-shape");
  }
  return program.examples;
}

std::string shape_text(const ExportedInputShape& shape) {
  std::string text = "[", ranges;
  for (std::size_t i = 0; i < shape.dims.size(); ++i) {
    const ExportedDim& d = shape.dims[i];
    text += (i ? ", " : "") + (d.size >= 0 ? std::to_string(d.size) : d.symbol.empty() ? std::string("?") : d.symbol);
    if (!d.symbol.empty() && ranges.find(d.symbol + " ") == std::string::npos) {
      ranges += (ranges.empty() ? " with " : ", ") + d.symbol + " " +
                (d.max >= 0 ? "from " + std::to_string(d.min) + " to " + std::to_string(d.max)
                            : "of " + std::to_string(d.min) + " or more");
    }
  }
  return text + "]" + ranges;
}

namespace {

bool dim_fits(const ExportedDim& d, std::int64_t size) {
  if (d.size >= 0) return size == d.size;
  if (d.symbol.empty()) return true;
  return size >= d.min && (d.max < 0 || size <= d.max);
}

bool shape_fits(const ExportedInputShape& shape, c10::IntArrayRef sizes) {
  if (sizes.size() != shape.dims.size()) return false;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (!dim_fits(shape.dims[i], sizes[i])) return false;
  }
  return true;
}

}  // namespace

void check_exported_inputs(const Model& model, const std::vector<c10::IValue>& inputs) {
  const ExportedProgram& program = exported_program(model);
  for (std::size_t i = 0; i < inputs.size() && i < program.input_shapes.size(); ++i) {
    const ExportedInputShape& shape = program.input_shapes[i];
    if (!shape.known || !inputs[i].isTensor()) continue;
    const auto sizes = inputs[i].toTensor().sizes();
    if (shape_fits(shape, sizes)) continue;
    std::string hint = "give an input of that shape";
    if (sizes.size() == 2) {
      const std::vector<std::int64_t> swapped = {sizes[1], sizes[0]};
      if (shape_fits(shape, swapped)) {
        hint = std::string("the other layout fits: --layout ") + (sizes[1] == 1 ? "batch-first" : "seq-first");
      }
    }
    // Which size is out of its range, said in words.
    std::string why;
    for (std::size_t k = 0; k < sizes.size() && k < shape.dims.size() && sizes.size() == shape.dims.size(); ++k) {
      const ExportedDim& d = shape.dims[k];
      if (dim_fits(d, sizes[k]) || d.symbol.empty()) continue;
      why = ": size " + std::to_string(sizes[k]) + " of dimension " + std::to_string(k) + " is outside " + d.symbol +
            "'s range";
      break;
    }
    throw bad_input(model.path,
                    "the program takes " + shape.name + " of shape " + shape_text(shape) + " (as torch.export recorded it), "
                        "but the input is " + shape_list_text(sizes.vec()) + why,
                    hint);
  }
}

std::string exported_signature(const Model& model) {
  std::string text;
  for (const auto& s : exported_program(model).user_input_text) text += (text.empty() ? "" : ", ") + s;
  return text;
}

}  // namespace pevis
