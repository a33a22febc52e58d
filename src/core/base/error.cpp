#include "pevis/base/error.h"

#include <algorithm>

#include "pevis/base/utf8.h"

namespace pevis {
namespace {

std::string compose(const std::string& what, const std::string& why, const std::string& todo) {
  std::string line = one_line(what) + " : " + one_line(why);
  if (!todo.empty()) line += " (" + one_line(todo) + ")";
  return line;
}

}  // namespace

Error::Error(ExitCode code, std::string what, std::string why, std::string todo)
    : std::runtime_error(compose(what, why, todo)), code_(code) {}

Error bad_input(std::string what, std::string why, std::string todo) {
  return Error(ExitCode::kBadInput, std::move(what), std::move(why), std::move(todo));
}

Error output_error(std::string what, std::string why, std::string todo) {
  return Error(ExitCode::kOutput, std::move(what), std::move(why), std::move(todo));
}

std::string one_line(const std::string& text) { return visible_text(text, "?"); }

std::string first_line(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = one_line(text.substr(start, end - start));
    if (line.find_first_not_of(' ') != std::string::npos) return line.substr(line.find_first_not_of(' '));
    start = end + 1;
  }
  return "";
}

}  // namespace pevis
