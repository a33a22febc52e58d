#pragma once
// The parts of a torch.export program's JSON that are plain values (dtypes,
// layouts, floats as Python writes them, module paths, size operations),
// and the refinement of nodes' module paths. Internal to io/exported_program.cpp.

#include <c10/core/Layout.h>
#include <c10/core/MemoryFormat.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "pevis/io/exported_program.h"

namespace pevis::exported {

/// The size operations pevis computes itself, with the schema they are read by.
std::pair<SizeOp, std::string> size_operation(const std::string& target);

/// torch.export's numbering of dtypes, layouts and memory formats (its
/// serialization schema), to LibTorch's. Throw `std::invalid_argument` for
/// a number pevis does not know.
c10::ScalarType scalar_type(std::int64_t code);
c10::Layout layout(std::int64_t code);
c10::MemoryFormat memory_format(std::int64_t code);

/// The innermost module's path in a node's nn_module_stack metadata.
std::string module_path(const nlohmann::json& metadata);

/// Python's bare Infinity, -Infinity and NaN, outside strings, as the
/// strings "inf", "-inf" and "nan" (which `float_of` reads back).
std::string standard_json(const std::string& text);

/// A float argument: a number, or one of those strings.
double float_of(const nlohmann::json& v);

/// Refines each node's module path: attention by the module owning the
/// parameters that project its query and key, an operation on a parameter by
/// the parameter's module.
void refine_attention_paths(ExportedProgram& program, const std::map<std::string, std::string>& parameter_of_value);

}  // namespace pevis::exported
