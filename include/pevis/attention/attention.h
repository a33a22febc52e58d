#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

#include <regex>
#include <string>
#include <vector>

#include "pevis/capture/forward.h"
#include "pevis/attention/fusion.h"
#include "pevis/io/model.h"

namespace pevis {

/// The attention probabilities one softmax produced, as [batch, heads, target, source].
struct AttentionSite {
  std::string path;     ///< module path, "" for the root module
  std::string name;     ///< unique display and file name: the path, "model" for the root, "#2" for a second softmax
  std::int64_t heads = 1;
  at::Tensor weights;   ///< float32 [batch * windows, heads, target, source]
  /// How the leading dimension splits (see `split_batches`): `batch` inputs,
  /// each attended in `windows` windows (Swin), batch-major as Swin orders
  /// them. Until split, every leading element counts as an input.
  std::int64_t batch = 1;
  std::int64_t windows = 1;
  /// Whether the windows are known to be blocks of neighbouring positions
  /// (Swin's window partition, MaxViT's window attention); a grid attention,
  /// or windows only inferred from an image batch, are not.
  bool neighbours = false;
  /// The windows' grid, row-major, when they are neighbours and their count
  /// a square; else 0.
  std::int64_t grid_rows = 0, grid_cols = 0;
  std::int64_t shift = -1;  ///< shifted windows: the shift in tokens, 0 for none, -1 when unknown
};

/// Splits each site's leading dimension into `input_batch` inputs and the
/// windows each is cut into. A site is windowed when its module (or an
/// ancestor) has a `window_size` attribute (scripted Swin), or, where
/// attributes are gone (traces), when the input is an image batch
/// (`image_input`) and the leading dimension is a multiple of its batch.
/// Windows are known to be blocks of neighbouring patches when the module
/// (or an ancestor) has `window_size`, its class is a window attention
/// (Swin's), or its path names a window attention (MaxViT's); only those are
/// placed on a square grid (when their count is a square), and `shift_size`
/// gives the shift when the module has it. A leading dimension
/// that `input_batch` does not divide stays one input per element.
void split_batches(std::vector<AttentionSite>& sites, const Model& model, std::int64_t input_batch, bool image_input);

/// The operators whose runs are attention sites: every entry of the
/// attention-operator registry (operators/attention_ops.h).
const std::vector<std::string>& attention_operators();

/// Runs the model once (see `capture_forward`) and returns its attention
/// sites in order of execution: softmax outputs with at least three
/// dimensions whose last dimension sums to one, and the weights the fused
/// operators form, computed from their inputs (heads from their tensors or
/// arguments). A 3-D `[batch*heads, T, S]`
/// output (nn.MultiheadAttention's) is split using the `num_heads` attribute
/// of its module, or of the nearest ancestor that has one; without one, it is
/// taken as one sequence of `N` heads. `output`, when given, receives the
/// model's output. With `wanted`, sites whose name could not match it are
/// not kept (see `site_filter`); `skipped`, when given, receives how many
/// runs were left out so. Throws `pevis::Error` (exit 3) as `capture_forward`
/// does.
std::vector<AttentionSite> capture_attention(const Model& model, const std::vector<c10::IValue>& inputs,
                                             c10::IValue* output = nullptr, const SiteFilter& wanted = {},
                                             std::size_t* skipped = nullptr);

/// A filter for `capture_attention` that keeps every module path whose site
/// name could match `pattern` (regex search): the path itself, "model" for
/// the root, the `.self_attn` a fused encoder layer's site is named after,
/// and, when the pattern names a repeat (`#2`), every path.
SiteFilter site_filter(const std::regex& pattern, const std::string& source);

/// Attention rollout (Abnar and Zuidema, 2020) over `layers`, each a fused
/// [T, T] map of one layer in order: A + I with rows renormalised, multiplied
/// from the first layer up. Returns [T, T]. Throws `pevis::Error` (exit 3)
/// when the maps are not square and of one size.
at::Tensor attention_rollout(const std::vector<at::Tensor>& layers);

/// Fuses the heads of a [heads, T, S] map.
at::Tensor fuse_heads(const at::Tensor& heads, Fusion fusion);

}  // namespace pevis
