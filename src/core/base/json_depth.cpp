#include "pevis/base/json_depth.h"

#include "pevis/base/error.h"

namespace pevis {

void check_json_depth(const std::string& text, const std::string& what) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > kMaxJsonDepth) {
          throw bad_input(what, "its JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                          "the file is damaged or hostile");
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
}

}  // namespace pevis
