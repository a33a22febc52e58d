// torch.save zip checkpoints, read by the restricted pickle machine: only the
// pickle is read when the file is opened; each tensor's record when it is
// first asked for.
#include "pevis/io/checkpoint.h"

#include <torch/script.h>

#include <cstring>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/memory.h"
#include "pevis/io/pickle.h"

namespace pevis {

bool is_checkpoint_archive(const ZipArchive& zip) { return zip.find_suffix("data.pkl") != nullptr; }

bool is_legacy_checkpoint_head(const std::string& head) {
  // Python's pickle protocol 2 header followed by torch's magic number.
  return head.rfind("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 0) == 0;
}

bool is_pickle_head(const std::string& head) { return !head.empty() && static_cast<unsigned char>(head[0]) == 0x80; }

// Reads the pickle of a checkpoint; storages are checked against the zip
// directory now and read from the archive only when a tensor is asked for.
Model read_checkpoint_archive(std::shared_ptr<const ZipArchive> zip, const std::string& path) {
  const std::string* pickle_name = zip->find_suffix("data.pkl");
  if (!pickle_name) throw bad_input(path, "a zip archive, but not one torch.save writes (it has no data.pkl)", "give a file written by torch.save");
  const std::string prefix = pickle_name->substr(0, pickle_name->size() - std::strlen("data.pkl"));
  Model model;
  model.path = path;
  model.format = "PyTorch checkpoint";
  model.files.push_back(path);
  if (zip->find(prefix + "byteorder") && zip->read(prefix + "byteorder") != "little") {
    throw bad_input(path, "the checkpoint was saved on a big-endian machine", "save it again on a little-endian one");
  }
  const std::string bytes = zip->read(*pickle_name);
  const auto record_of = [zip, prefix, path](const pickle::StorageRef& ref) {
    std::string record = prefix + "data/" + ref.key;
    const ZipArchive::Entry* entry = &pickle::storage_record(*zip, record, ref, path);
    return std::make_pair(std::move(record), entry);
  };
  pickle::StorageLoader load;
  load.check = [record_of](const pickle::StorageRef& ref) { record_of(ref); };
  load.read = [zip, record_of](const pickle::StorageRef& ref) {
    const auto [record, entry] = record_of(ref);
    const std::uint64_t need = static_cast<std::uint64_t>(ref.numel) * c10::elementSize(ref.dtype);
    at::Tensor storage = at::empty({static_cast<std::int64_t>(entry->size)}, at::TensorOptions().dtype(at::kByte));
    zip->read(record, *entry, storage.data_ptr());
    count_tensor_bytes(entry->size);
    if (need == 0) return at::empty({0}, at::TensorOptions().dtype(ref.dtype));
    return storage.slice(0, 0, static_cast<std::int64_t>(need)).view(ref.dtype);
  };
  auto contents = pickle::read_pickle(bytes, load, path);
  model.tensors = std::move(contents.tensors);
  model.metadata = std::move(contents.metadata);
  return model;
}

Model read_checkpoint(const std::string& path) { return read_checkpoint_archive(open_pytorch_archive(open_file(path)), path); }

Model read_checkpoint_bytes(const std::string& bytes, const std::string& path) {
  return read_checkpoint_archive(open_pytorch_archive(memory_source(bytes, path)), path);
}

}  // namespace pevis
