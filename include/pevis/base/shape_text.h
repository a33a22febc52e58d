#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pevis {

/// Tensor sizes as the listings show them: "5000x1x32" ("" for a scalar).
inline std::string sizes_text(const std::vector<std::int64_t>& sizes) {
  std::string text;
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? "x" : "") + std::to_string(sizes[i]);
  return text;
}

/// Tensor sizes as PyTorch prints a shape: "[1, 3, 224, 224]".
inline std::string shape_list_text(const std::vector<std::int64_t>& sizes) {
  std::string text = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + "]";
}

}  // namespace pevis
