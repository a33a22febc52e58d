#pragma once

#include <ATen/core/Tensor.h>

#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace torch::jit {
struct Module;
}

namespace pevis {

struct ExportedProgram;  // exported.h

/// One tensor of a model, by its full dotted name (`layers.0.self_attn.in_proj_bias`).
struct NamedTensor {
  std::string name;
  at::Tensor tensor;     ///< on the CPU, in the dtype the file stores
  std::string kind;      ///< "parameter", "buffer", or "tensor" (formats that do not say)
};

/// A model as pevis sees it, whatever file it came from: its tensors in the
/// model's order (or the file's, where the format keeps no other), anything
/// else the file held (such as `epoch`), and for TorchScript the runnable module.
struct Model {
  std::string path;
  std::string format;  ///< "TorchScript", "PyTorch checkpoint" or "safetensors"
  std::vector<NamedTensor> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;  ///< name, value as text
  std::shared_ptr<torch::jit::Module> module;                 ///< TorchScript only; else null
  std::shared_ptr<const ExportedProgram> program;             ///< torch.export programs only; else null

  /// True when the file holds a forward pass pevis can run.
  bool runnable() const { return module || program; }
};

/// Reads a model file, telling its format from its content (not its name):
/// a TorchScript archive, a `torch.save` checkpoint of a state_dict or of a
/// dict/list holding one (read by a restricted reader that runs no code from
/// the file), or a `.safetensors` file. Throws `pevis::Error` (exit 3) with
/// what to do for anything else: a missing or unreadable file, a damaged
/// archive, a pickled Python model (`torch.save(model)`), a pickle that asks
/// for any function a state_dict does not use.
Model load_model(const std::string& path);

/// Reads a `torch.save` zip checkpoint with the restricted pickle reader.
Model read_checkpoint(const std::string& path);

/// The same from the bytes of a checkpoint held inside another archive;
/// `path` names it in messages.
Model read_checkpoint_bytes(const std::string& bytes, const std::string& path);

/// Reads a `.safetensors` file, validating its header against the file size
/// before reading any tensor.
Model read_safetensors(const std::string& path);

/// The same from a stream of `size` bytes; `path` names it in messages.
Model read_safetensors(std::istream& in, std::uint64_t size, const std::string& path);

/// The tensor as float32, for showing (fp16 and bf16 are widened exactly).
at::Tensor as_float(const at::Tensor& tensor);

}  // namespace pevis
