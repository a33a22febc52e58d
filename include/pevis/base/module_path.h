#pragma once

#include <string>
#include <vector>

namespace pevis {

/// Dotted module paths (`encoder.layers.0.self_attn`, "" for the root).

/// The path of the module that holds `path`: "encoder.layers.0" for
/// "encoder.layers.0.self_attn", "" for a top-level name.
inline std::string parent_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

/// The last name of a path: "self_attn" for "encoder.layers.0.self_attn".
inline std::string last_part(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

/// True when `path` is `root` or below it ("" holds everything).
inline bool within(const std::string& path, const std::string& root) {
  return root.empty() || path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '.');
}

/// The modules a value passes through from `from` to `to`: from `from` up
/// to, not including, their nearest common ancestor.
inline std::vector<std::string> crossed(std::string from, const std::string& to) {
  std::vector<std::string> out;
  while (!within(to, from)) {
    out.push_back(from);
    from = parent_of(from);
  }
  return out;
}

/// The deepest module that holds both.
inline std::string common_ancestor(std::string a, const std::string& b) {
  while (!within(b, a)) a = parent_of(a);
  return a;
}

/// Orders names as people count: runs of digits compare by value, so
/// `layers.2` comes before `layers.10` (files that sort names as text, as
/// safetensors writers do, put them the other way round).
inline bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && a[ie] == '0') ++ie;  // leading zeros do not count
      while (je < b.size() && b[je] == '0') ++je;
      std::size_t ia = ie, jb = je;
      while (ia < a.size() && digit(a[ia])) ++ia;
      while (jb < b.size() && digit(b[jb])) ++jb;
      if (ia - ie != jb - je) return ia - ie < jb - je;
      for (std::size_t k = 0; k < ia - ie; ++k) {
        if (a[ie + k] != b[je + k]) return a[ie + k] < b[je + k];
      }
      i = ia;
      j = jb;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

}  // namespace pevis
