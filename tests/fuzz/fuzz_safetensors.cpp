// libFuzzer target: the safetensors reader, with every tensor then read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/archive.h"
#include "pevis/error.h"
#include "pevis/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const pevis::Model model =
        pevis::read_safetensors(pevis::memory_source(std::string(reinterpret_cast<const char*>(data), size), "fuzz"));
    for (const auto& t : model.tensors) t.tensor();
  } catch (const pevis::Error&) {
  }
  return 0;
}
