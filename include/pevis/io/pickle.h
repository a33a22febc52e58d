#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pevis/base/archive.h"
#include "pevis/io/model.h"

namespace pevis::pickle {

/// A storage a checkpoint refers to: `data/<key>` in the archive, holding
/// `numel` elements of `dtype`.
struct StorageRef {
  std::string key;
  at::ScalarType dtype = at::kFloat;
  std::int64_t numel = 0;
};

/// Where a checkpoint's storages come from. `check` is called once per
/// storage while the pickle is read, and throws `pevis::Error` when the file
/// cannot back it (no record, a record too short); `read` is called only when
/// a tensor's data is asked for, and returns the storage as a 1-D CPU tensor
/// of exactly `numel` elements, or throws `pevis::Error`.
struct StorageLoader {
  std::function<void(const StorageRef&)> check;
  std::function<at::Tensor(const StorageRef&)> read;
};

/// The archive entry `record` that holds the storage `ref`, checked before
/// anything of it is read: it exists and, where `backed` (every storage but
/// a trace's example inputs, which PyTorch saves without their data), holds
/// `ref.numel` elements, a size no larger than the file where it is stored
/// uncompressed. Throws `pevis::Error` (exit 3) naming `path`.
const ZipArchive::Entry& storage_record(const ZipArchive& zip, const std::string& record, const StorageRef& ref,
                                        const std::string& path, bool backed = true);

/// What a checkpoint's pickle held, flattened: tensors by dotted path
/// (`model.fc1.bias`, list items by index; their data read when first asked
/// for, each storage once however many tensors view it), and every other
/// leaf as text.
struct Contents {
  std::vector<NamedTensor> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// Interprets the pickle `bytes` of a `torch.save` file with a restricted
/// machine: only the opcodes of protocols 2 to 5 that state_dicts use, and
/// only the globals `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_parameter(_with_state)` and the typed storages.
/// Nothing from the file is ever called or imported. `source` names the file
/// in messages. Throws `pevis::Error` (exit 3) for anything else, naming the
/// global or opcode, and for sizes the file cannot back.
Contents read_pickle(std::string_view bytes, const StorageLoader& load, const std::string& source);

/// Runs a pickle of a TorchScript archive (data.pkl, constants.pkl,
/// traced_inputs.pkl, a .debug_pkl) through the same restricted machine, so
/// that LibTorch's unpickler, which trusts its input, never sees one pevis
/// would refuse: besides the globals above, only TorchScript's own classes
/// (`__torch__.*`, made with NEWOBJ and filled with BUILD) and
/// `torch.jit._pickle`'s helpers; every storage is `load.check`ed and every
/// tensor's extent (offset and the furthest element its sizes and strides
/// reach) must lie in its storage. `load.read` is never called. Throws
/// `pevis::Error` (exit 3).
void check_torchscript_pickle(std::string_view bytes, const StorageLoader& load, const std::string& source);

}  // namespace pevis::pickle
