#include "pevis/error.h"

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

std::string one_line(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
  return out;
}

}  // namespace pevis
