#pragma once
// Small text helpers with one home each.

#include <cctype>
#include <optional>
#include <string>

namespace pevis {

/// `value` printed by printf's `format`, which holds one floating-point
/// conversion ("%.3g", "%.2f", "%.3f s").
std::string number_text(const char* format, double value);

/// The last part of a path, as titles and labels name a file or folder
/// (`runs/a/model.pt` -> `model.pt`, `Qwen2-7B/` -> `Qwen2-7B`).
std::string file_label(const std::string& path);

/// `text` as a whole number (optional sign, digits only), or nothing.
std::optional<long long> whole_number(const std::string& text);

/// Whether `text` ends with `suffix` (a name ending in ".weight", ...).
inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// `text` with ASCII letters in lower case, for matching names and classes.
inline std::string lower_case(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace pevis
