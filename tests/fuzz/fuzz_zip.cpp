// libFuzzer target: the zip reader of torch.save, torch.jit.save and
// torch.export.save archives (directory, ZIP64 fields, local headers,
// inflation, checksums), with every entry then read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const pevis::ZipArchive zip(pevis::memory_source(std::string(reinterpret_cast<const char*>(data), size), "fuzz"),
                                "zip archive");
    for (const auto& name : zip.names()) {
      if (zip.find(name)->size <= (1u << 20)) zip.read(name);
    }
  } catch (const pevis::Error&) {
  }
  return 0;
}
