#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace torch::jit {
struct Module;
}

namespace pevis {

struct ExportedProgram;  // exported.h
class ByteSource;       // archive.h
class ZipArchive;       // archive.h

/// Reads the data of a tensor whose name, dtype and shape are already known.
/// Throws `pevis::Error` (exit 3) when the data cannot be read.
using TensorReader = std::function<at::Tensor()>;

/// One tensor of a model, by its full dotted name (`layers.0.self_attn.in_proj_bias`).
/// Its dtype and shape are known from the file's index; its data is read
/// the first time `tensor()` asks for it, and kept while any copy lives.
class NamedTensor {
 public:
  /// A tensor already in memory.
  NamedTensor(std::string name, at::Tensor tensor, std::string kind);
  /// A tensor read by `read` when first asked for; `read` must return a CPU
  /// tensor of exactly `dtype` and `shape`.
  NamedTensor(std::string name, at::ScalarType dtype, std::vector<std::int64_t> shape, TensorReader read,
              std::string kind);

  std::string name;
  std::string kind;  ///< "parameter", "buffer", or "tensor" (formats that do not say)

  at::ScalarType dtype() const { return dtype_; }
  const std::vector<std::int64_t>& shape() const { return shape_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t numel() const;
  std::uint64_t nbytes() const;
  bool is_floating_point() const;
  /// True once the data is in memory.
  bool loaded() const;
  /// The data, on the CPU, in the dtype the file stores: read now if not yet.
  const at::Tensor& tensor() const;
  /// The same for every copy of this tensor, and for tensors made from the
  /// same `at::Tensor`: how tied weights are counted once.
  const void* identity() const;

 private:
  struct Data;
  at::ScalarType dtype_;
  std::vector<std::int64_t> shape_;
  std::shared_ptr<Data> data_;
};

/// A model as pevis sees it, whatever file it came from: its tensors in the
/// model's order (or the file's, where the format keeps no other), anything
/// else the file held (such as `epoch`), and for TorchScript the runnable module.
struct Model {
  std::string path;
  std::string format;  ///< "TorchScript", "PyTorch checkpoint" or "safetensors", and for folders "(N shards)"
  std::vector<NamedTensor> tensors;
  std::vector<std::string> files;  ///< the files read: one, or a folder's shards in the index's order
  /// What a Hugging Face folder's config.json declares (architecture, sizes),
  /// as name and text; shown, never trusted for sizes.
  std::vector<std::pair<std::string, std::string>> config;
  std::string config_file;  ///< that config.json's path, or empty
  std::vector<std::pair<std::string, std::string>> metadata;  ///< name, value as text
  std::shared_ptr<torch::jit::Module> module;                 ///< TorchScript only; else null
  std::shared_ptr<const ExportedProgram> program;             ///< torch.export programs only; else null

  /// True when the file holds a forward pass pevis can run.
  bool runnable() const { return module || program; }
};

/// Reads a model file, telling its format from its content (not its name):
/// a TorchScript archive, a `torch.save` checkpoint of a state_dict or of a
/// dict/list holding one (read by a restricted reader that runs no code from
/// the file), or a `.safetensors` file. `path` may also be a Hugging Face
/// folder or the index of a sharded checkpoint (see `read_folder`). Only
/// checkpoints' and safetensors files' indexes are read here: tensor data is
/// read when an analysis asks for it. Throws `pevis::Error` (exit 3) with
/// what to do for anything else: a missing or unreadable file, a damaged
/// archive, a pickled Python model (`torch.save(model)`), a pickle that asks
/// for any function a state_dict does not use.
Model load_model(const std::string& path);

/// Reads a `torch.save` zip checkpoint with the restricted pickle reader.
Model read_checkpoint(const std::string& path);

/// The same from a zip archive already opened (`load_model` opens each file once).
Model read_checkpoint_archive(std::shared_ptr<const ZipArchive> zip, const std::string& path);

/// The same from the bytes of a checkpoint held inside another archive;
/// `path` names it in messages.
Model read_checkpoint_bytes(const std::string& bytes, const std::string& path);

/// Reads a `.safetensors` file's header, validated against the file size;
/// each tensor's bytes are read by a positioned read when first asked for.
Model read_safetensors(const std::string& path);

/// The same from any source of bytes (a file, or bytes in memory).
Model read_safetensors(std::shared_ptr<const ByteSource> source);

/// Reads a Hugging Face folder (`model.safetensors`, or
/// `model.safetensors.index.json` and its shards, or `pytorch_model.bin` or
/// its index and shards) or a `*.index.json` file. Shards are checked against
/// the index: a missing shard, a tensor the index names that its shard lacks,
/// or a tensor in two shards is `pevis::Error` (exit 3). `config.json`, when
/// present, fills `Model::config`.
Model read_folder(const std::string& path);

/// For a folder of the Hugging Face cache (`REPO/snapshots/REVISION/`, whose
/// files are links to `REPO/blobs/`): REPO, with links resolved. "" for any
/// other folder.
std::string hub_cache_repo(const std::string& folder);

/// True when a file of `size` bytes that begins with `head` (its first 16
/// bytes, or all of a shorter file) is JSON: an index of shards, not a
/// safetensors file.
bool is_index_head(const std::string& head, std::uint64_t size);

/// The tensor as float32, for showing (fp16 and bf16 are widened exactly).
at::Tensor as_float(const at::Tensor& tensor);

}  // namespace pevis
