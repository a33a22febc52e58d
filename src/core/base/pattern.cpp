#include "pevis/base/pattern.h"

#include "pevis/base/error.h"

namespace pevis {

std::optional<std::regex> pattern_option(const std::string& option, const std::string& pattern) {
  if (pattern.empty()) return std::nullopt;
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(ExitCode::kUsage, option + " " + pattern, std::string("not a valid regular expression: ") + e.what());
  }
}

}  // namespace pevis
