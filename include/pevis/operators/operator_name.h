#pragma once

#include <string>

namespace pevis {

/// True for an operator's qualified name as `--allow-op` takes it
/// (`aten::from_file`): a namespace, `::`, a name, no blanks or parentheses.
/// No LibTorch: the front checks `--allow-op` with it too.
inline bool is_qualified_operator_name(const std::string& name) {
  const auto colons = name.find("::");
  return colons != std::string::npos && colons > 0 && colons + 2 < name.size() &&
         name.find_first_of(" \t\n(") == std::string::npos;
}

}  // namespace pevis
