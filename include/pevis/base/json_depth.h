#pragma once

#include <cstddef>
#include <string>

namespace pevis {

/// The deepest nesting of objects and arrays pevis reads in a JSON file: far
/// beyond any config.json, index, safetensors header or torch.export program
/// (a few tens), and shallow enough that copying, printing and freeing a
/// parsed value, which recurse, stay well within the stack.
constexpr std::size_t kMaxJsonDepth = 256;

/// Refuses, before it is parsed, JSON text nested deeper than `kMaxJsonDepth`:
/// `pevis::Error` (exit 3) naming `what`. One pass over the text, no
/// recursion; strings (with their escapes) are skipped. Says nothing of
/// whether the text is valid JSON: the parser does that.
void check_json_depth(const std::string& text, const std::string& what);

}  // namespace pevis
