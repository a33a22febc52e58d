// libFuzzer target: the restricted pickle reader of torch.save checkpoints,
// with storages served as zeros (capped, as the archive reader caps them by
// its records' sizes), and every tensor then read; and the same bytes as a
// pickle of a TorchScript archive, checked before LibTorch would read it.
#include <ATen/ops/zeros.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pevis/base/error.h"
#include "pevis/io/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pevis::pickle::StorageLoader load;
  load.check = [size](const pevis::pickle::StorageRef& ref) {
    if (ref.numel > static_cast<std::int64_t>(size) * 8 + 64) throw pevis::bad_input("fuzz", "storage larger than the input");
  };
  load.read = [](const pevis::pickle::StorageRef& ref) {
    return at::zeros({ref.numel}, at::TensorOptions().dtype(ref.dtype));
  };
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto contents = pevis::pickle::read_pickle(bytes, load, "fuzz");
    for (const auto& t : contents.tensors) t.tensor();
  } catch (const pevis::Error&) {
  }
  try {
    pevis::pickle::check_torchscript_pickle(bytes, load, "fuzz");
  } catch (const pevis::Error&) {
  }
  return 0;
}
