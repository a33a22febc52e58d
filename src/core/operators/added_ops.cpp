#include "pevis/operators/added_ops.h"

#include <ATen/ops/dropout.h>
#include <ATen/ops/matmul.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "pevis/operators/attention_ops.h"
#include "pevis/operators/torch_version.h"

namespace pevis {
namespace {

constexpr bool kLacksSdpa = !PEVIS_TORCH_HAS_SDPA;
constexpr bool kLacksRmsNorm = !PEVIS_TORCH_HAS_RMS_NORM;

[[maybe_unused]] at::Tensor scaled_dot_product_attention(const at::Tensor& query, const at::Tensor& key,
                                                         const at::Tensor& value,
                                                         const c10::optional<at::Tensor>& attn_mask, double dropout_p,
                                                         bool is_causal, c10::optional<double> scale, bool enable_gqa) {
  at::Tensor weights = sdpa_weights(query, key, attn_mask, is_causal, scale, enable_gqa);
  if (dropout_p > 0) weights = at::dropout(weights, dropout_p, /*train=*/true);
  const at::Tensor v = enable_gqa && value.dim() >= 3 ? repeat_heads(value, query.size(-3)) : value;
  const at::Tensor out = at::matmul(weights, v);
  // PyTorch's CPU kernel lays its [B, H, L, E] output out as [B, L, H, E]
  // (heads innermost but one), and exported graphs rely on it: they view
  // the output permuted back without copying it first.
  if (out.dim() != 4) return out;
  return out.transpose(1, 2).contiguous().transpose(1, 2);
}

[[maybe_unused]] at::Tensor rms_norm(const at::Tensor& input, at::IntArrayRef normalized_shape,
                                     const c10::optional<at::Tensor>& weight, c10::optional<double> eps) {
  const auto n = static_cast<std::int64_t>(normalized_shape.size());
  TORCH_CHECK(n >= 1 && n <= input.dim(), "rms_norm: normalized_shape has ", n, " dimensions, the input ",
              input.dim());
  for (std::int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(input.size(input.dim() - n + i) == normalized_shape[static_cast<std::size_t>(i)],
                "rms_norm: normalized_shape ", normalized_shape, " does not end the input's shape ", input.sizes());
  }
  std::vector<std::int64_t> dims;
  for (std::int64_t i = input.dim() - n; i < input.dim(); ++i) dims.push_back(i);
  // PyTorch's default: the machine epsilon of the input's dtype.
  const double e = eps.has_value() ? *eps
                   : input.scalar_type() == at::kDouble ? std::numeric_limits<double>::epsilon()
                   : input.scalar_type() == at::kHalf   ? 0.0009765625
                   : input.scalar_type() == at::kBFloat16 ? 0.0078125
                                                          : std::numeric_limits<float>::epsilon();
  at::Tensor out = input.mul(input.pow(2).mean(dims, /*keepdim=*/true).add(e).rsqrt());
  if (weight.has_value() && weight->defined()) out = out.mul(*weight);
  return out;
}

}  // namespace

// The schemas are PyTorch 2.6's, so that code saved by PyTorch 2.0-2.6
// (which passes fewer arguments where it is older) resolves to them.
#if !PEVIS_TORCH_HAS_SDPA
TORCH_LIBRARY_FRAGMENT(aten, m) {
  m.def(
      "scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, "
      "float dropout_p=0.0, bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor");
  m.def("rms_norm(Tensor input, int[] normalized_shape, Tensor? weight=None, float? eps=None) -> Tensor");
}
// Composite: made of differentiable ATen calls, so it serves every backend.
TORCH_LIBRARY_IMPL(aten, CompositeImplicitAutograd, m) {
  m.impl("scaled_dot_product_attention", &scaled_dot_product_attention);
  m.impl("rms_norm", &rms_norm);
}
#elif !PEVIS_TORCH_HAS_RMS_NORM
TORCH_LIBRARY_FRAGMENT(aten, m) {
  m.def("rms_norm(Tensor input, int[] normalized_shape, Tensor? weight=None, float? eps=None) -> Tensor");
}
TORCH_LIBRARY_IMPL(aten, CompositeImplicitAutograd, m) { m.impl("rms_norm", &rms_norm); }
#endif

const std::vector<std::string>& added_operators() {
  static const std::vector<std::string> added = [] {
    std::vector<std::string> names;
    if (kLacksSdpa) names.push_back("aten::scaled_dot_product_attention");
    if (kLacksRmsNorm) names.push_back("aten::rms_norm");
    return names;
  }();
  return added;
}

std::string libtorch_version() { return TORCH_VERSION; }

}  // namespace pevis
