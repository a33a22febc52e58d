#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pevis/base/matrix.h"
#include "pevis/positional/sinusoid.h"

namespace torch::jit {
struct Module;
}

namespace pevis {

struct ExportedProgram;  // io/exported_program.h

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
  /// The storage region it views, where the file says ("data/0@0[50, 32]/[32, 1]"
  /// in a torch.save archive): two tensors with the same region are one
  /// tensor saved twice (tied weights). "" where the format has no storages.
  std::string view_key;

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
  /// The same data without keeping it (the kept data where it is already
  /// read): for tensors used once and let go, such as a built model's
  /// weights, read layer by layer.
  at::Tensor read() const;
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
  std::string format;  ///< "TorchScript", "PyTorch checkpoint", "safetensors", ...; a folder's shards' ("mixed" if they differ)
  int shards = 0;      ///< the number of shards an index named; 0 for a single file
  std::vector<NamedTensor> tensors;
  std::vector<std::string> files;  ///< the files read: one, or a folder's shards in the index's order
  /// What a Hugging Face folder's config.json declares (architecture, sizes),
  /// as name and text; shown, never trusted for sizes.
  std::vector<std::pair<std::string, std::string>> config;
  std::string config_file;  ///< that config.json's path, or empty
  std::vector<std::pair<std::string, std::string>> metadata;  ///< name, value as text
  std::shared_ptr<torch::jit::Module> module;                 ///< TorchScript only; else null
  std::shared_ptr<const ExportedProgram> program;             ///< torch.export programs only; else null
  /// For a module pevis built from config.json (architectures/): the family,
  /// such as "llama". Such a module takes token ids batch-first, [B, S].
  std::string built;
  /// For a built model: the `pad_token_id` of its config.json (0 where it
  /// names none), with which a batch of token lines is padded.
  std::int64_t built_pad = 0;

  /// True when the file holds a forward pass pevis can run.
  bool runnable() const { return module || program; }

  /// What it is, for messages: "a safetensors file", "a folder of 2 safetensors shards".
  std::string described() const;

  /// The tensor of that full name, or null.
  const NamedTensor* find(const std::string& name) const {
    for (const auto& t : tensors) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
};

/// True for the names of tensors that are buffers by their role, whatever
/// their dtype (`h.0.attn.masked_bias`, `rotary_emb.inv_freq`,
/// `bn.running_mean`, `embeddings.position_ids`, ...): how a weights-only
/// file, which does not say, tells a float buffer from a parameter.
bool buffer_by_role(const std::string& name);

/// The tensor as float32, for showing (fp16 and bf16 are widened exactly).
at::Tensor as_float(const at::Tensor& tensor);

/// Copies a 2-D tensor into a labelled matrix (converted to float32).
LabeledMatrix to_matrix(const at::Tensor& values, std::string name, std::string row_title,
                        std::vector<std::string> row_labels, std::vector<std::string> col_labels);

/// `sinusoid_values(spec)` as a [max_len, d_model] float32 tensor.
/// Call `check_sinusoidal_spec` first; this one only asserts.
at::Tensor sinusoidal_table(const SinusoidalSpec& spec);

}  // namespace pevis
