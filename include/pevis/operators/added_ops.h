#pragma once

#include <string>
#include <vector>

namespace pevis {

/// The operators that TorchScript files from PyTorch 2.x call and the
/// LibTorch pevis is built on lacks, e.g. "aten::scaled_dot_product_attention".
/// pevis registers each (PyTorch's own schema and a kernel doing the math
/// PyTorch documents) when the program starts, before any model loads; on a
/// LibTorch that has them the list is empty and nothing is registered.
const std::vector<std::string>& added_operators();

/// The version of the LibTorch pevis runs on, e.g. "1.13.0".
std::string libtorch_version();

}  // namespace pevis
