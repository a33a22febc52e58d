// libFuzzer target: the safetensors reader.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "pevis/error.h"
#include "pevis/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    pevis::read_safetensors(in, size, "fuzz");
  } catch (const pevis::Error&) {
  }
  return 0;
}
