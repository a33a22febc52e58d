// libFuzzer target: the safetensors reader, with every tensor then read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const pevis::Model model =
        pevis::read_safetensors(pevis::memory_source(std::string(reinterpret_cast<const char*>(data), size), "fuzz"));
    for (const auto& t : model.tensors) t.tensor();
  } catch (const pevis::Error&) {
  }
  return 0;
}
