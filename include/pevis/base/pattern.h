#pragma once

#include <optional>
#include <regex>
#include <string>

namespace pevis {

/// A pattern option's regex (ECMAScript), compiled; nothing when empty.
/// Throws `pevis::Error` (exit 2) naming `option` for a malformed pattern.
std::optional<std::regex> pattern_option(const std::string& option, const std::string& pattern);

}  // namespace pevis
