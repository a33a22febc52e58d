#pragma once
// What pevis knows of each ATen operator that forms attention, written once:
// capture (TorchScript recorders and the torch.export interpreter), summary's
// mult-adds, the site names and the messages all read this table. Adding a
// fused attention operator is one entry in attention_ops.cpp (and a kernel in
// added_ops.cpp where an older LibTorch lacks the operator).

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pevis {

using Shape = std::vector<std::int64_t>;

/// One operator whose runs are attention sites.
struct AttentionOp {
  std::string_view name;     ///< qualified: "aten::scaled_dot_product_attention"
  std::string_view display;  ///< in messages: "scaled_dot_product_attention"
  /// false: the operator's output is the weights (a softmax; pevis checks its
  /// rows sum to 1); true: pevis forms the weights from its arguments.
  bool formed = false;
  /// Where `formed`: the schema of its recorder, "pevis::record_X(Tensor
  /// output, <the arguments `weights` needs, named as in the operator's own
  /// schema>, int site) -> Tensor". The recorder passes `output` on.
  std::string_view recorder;
  /// Where `formed`: the weights [.., heads, T, S] for the recorder's
  /// arguments (between `output` and `site`, in its order). Throws
  /// `c10::Error` on shapes PyTorch would refuse.
  at::Tensor (*weights)(const std::vector<c10::IValue>& args) = nullptr;
  /// Where `formed`: the bytes those weights take, from the arguments' shapes
  /// alone (checked against the capture's limit before forming); nullopt
  /// where nothing can be formed (nested tensors).
  std::optional<std::uint64_t> (*weight_bytes)(const std::vector<c10::IValue>& args) = nullptr;
  /// Its mult-adds for `pevis summary`, from the sizes of its tensor inputs
  /// and its output; null where it is not counted.
  std::int64_t (*mult_adds)(const std::vector<Shape>& inputs, const Shape& output) = nullptr;
  /// torch.export: the tensor arguments whose projections name the site (the
  /// module owning both); -1 where the recorded module stack is kept.
  int query_arg = -1, key_arg = -1;
  /// A site is named after this child of the module that ran it ("self_attn"
  /// for a fused encoder layer, which is no attention module itself); "" for
  /// the module itself.
  std::string_view site_child;
};

/// Every attention operator, softmax first.
const std::vector<AttentionOp>& attention_ops();

/// The entry for a qualified operator name; null for every other operator.
const AttentionOp* attention_op(std::string_view name);

/// The qualified names of every entry, for capture.
const std::vector<std::string>& attention_op_names();

/// The arguments a formed operator's recorder takes, by name (between
/// `output` and `site` in its `recorder` schema).
const std::vector<std::string>& recorder_arguments(const AttentionOp& op);

/// The qualified name of a formed operator's recorder: "pevis::record_sdpa".
std::string recorder_name(const AttentionOp& op);

/// "scaled_dot_product_attention, ... or X": the display names of the formed
/// operators, for messages.
std::string formed_ops_text();

/// The attention probabilities of scaled dot-product attention as PyTorch
/// defines them: softmax(Q K^T * scale + mask) over the keys.
/// `query` [..., Hq, L, E], `key` [..., Hk, S, E]; `attn_mask` (bool: true
/// keeps, or float: added) broadcasts to [..., Hq, L, S]; `is_causal` keeps
/// key j <= query i (and refuses an explicit mask alongside, as PyTorch
/// does); `scale` defaults to 1/sqrt(E); with `enable_gqa` each key head
/// serves Hq/Hk query heads. Rows whose every key is masked are all zero
/// (as PyTorch 2.5+ computes them). Returns [..., Hq, L, S] in the query's
/// dtype. Throws `c10::Error` on shapes PyTorch would refuse.
at::Tensor sdpa_weights(const at::Tensor& query, const at::Tensor& key, const c10::optional<at::Tensor>& attn_mask,
                        bool is_causal, c10::optional<double> scale, bool enable_gqa);

/// Repeats each of the Hk key/value heads (dim -3) for Hq / Hk query heads
/// (grouped-query attention). Throws `c10::Error` where Hk does not divide Hq.
at::Tensor repeat_heads(const at::Tensor& kv, std::int64_t query_heads);

}  // namespace pevis
