#include "pevis/output/job.h"

namespace pevis {

void Progress::say(const std::string& line) const {
  if (status) status(line);
}

void Progress::show(const std::string& lines) const {
  if (text) text(lines);
}

int ShownText::Buffer::overflow(int c) {
  if (c != traits_type::eof()) progress.show(std::string(1, static_cast<char>(c)));
  return c;
}

std::streamsize ShownText::Buffer::xsputn(const char* text, std::streamsize n) {
  progress.show(std::string(text, static_cast<std::size_t>(n)));
  return n;
}

}  // namespace pevis
