#pragma once

#include <string>

namespace pevis {

/// Dotted module paths (`encoder.layers.0.self_attn`, "" for the root).

/// The path of the module that holds `path`: "encoder.layers.0" for
/// "encoder.layers.0.self_attn", "" for a top-level name.
inline std::string parent_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

/// True when `path` is `root` or below it ("" holds everything).
inline bool within(const std::string& path, const std::string& root) {
  return root.empty() || path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '.');
}

/// The deepest module that holds both.
inline std::string common_ancestor(std::string a, const std::string& b) {
  while (!within(b, a)) a = parent_of(a);
  return a;
}

}  // namespace pevis
