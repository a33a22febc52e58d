#pragma once
// Small text helpers with one home each.

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

}  // namespace pevis
