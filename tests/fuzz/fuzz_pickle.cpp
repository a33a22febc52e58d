// libFuzzer target: the restricted pickle reader of torch.save checkpoints,
// with storages served as zeros (capped, as the archive reader caps them by
// the file size).
#include <ATen/ops/zeros.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pevis/error.h"
#include "pevis/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const pevis::pickle::StorageLoader load = [size](const pevis::pickle::StorageRef& ref) {
    if (ref.numel > static_cast<std::int64_t>(size) * 8 + 64) throw pevis::bad_input("fuzz", "storage larger than the input");
    return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype));
  };
  try {
    pevis::pickle::read_pickle(std::string_view(reinterpret_cast<const char*>(data), size), load, "fuzz");
  } catch (const pevis::Error&) {
  }
  return 0;
}
