// The allow-list of operators a model file may call (the walks that find
// every operator a model's code names are its readers', in io/).
//
// How the list was chosen: every operator that the survey of 333 TorchScript
// files made by PyTorch 2.6 from torch.nn's layers and torchvision's models
// calls (tests/data/torch2/survey.json), every operator of the fixtures, the
// built-ins and the torch.export programs pevis runs, and the pure tensor
// operators of the same families that real models use (shape changes,
// elementwise arithmetic, reductions, normalisations, attention). An operator
// is on the list only when it computes on tensors and values it is given:
// it touches no file, no storage it was not handed, no raw memory, no
// terminal, no clock and no other process. Left off on purpose, among others:
// aten::from_file and aten::save (files), aten::set_ and aten::_reshape_alias
// and aten::as_strided (storage and strides unchecked against their
// storage), prim::Print (the terminal), aten::sleep, the profiler's and
// RPC's operators, and pevis's own recorders (pevis inserts them after the
// check; a model has no business calling them). Anything not listed is
// refused until a user allows it by name with --allow-op.
#include "pevis/operators/allowed_ops.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string_view>

#include "pevis/base/error.h"
#include "pevis/operators/operator_name.h"

namespace pevis {
namespace {

constexpr std::string_view kAllowed[] = {
    // TorchScript's control flow, values and objects: prim::CallMethod and
    // prim::CallFunction are followed into what they call; prim::fork's
    // subgraph is walked like any other.
    "prim::AutogradAdd", "prim::AutogradAnyNonZero", "prim::AutogradZero", "prim::BroadcastSizes",
    "prim::CallFunction", "prim::CallMethod", "prim::Constant", "prim::CreateObject", "prim::DictConstruct",
    "prim::DictIndex", "prim::Enter", "prim::Exit", "prim::GetAttr", "prim::If", "prim::ImplicitTensorToNum",
    "prim::IntToFloat", "prim::ListConstruct", "prim::ListUnpack", "prim::Loop", "prim::ModuleContainerIndex",
    "prim::NumToTensor", "prim::RaiseException", "prim::Return", "prim::SetAttr", "prim::TupleConstruct",
    "prim::TupleIndex", "prim::TupleSlice", "prim::TupleUnpack", "prim::TypeCheck", "prim::Uninitialized",
    "prim::abs", "prim::device", "prim::dtype", "prim::fork", "prim::is_cuda", "prim::is_cpu", "prim::is_mps",
    "prim::is_meta", "prim::is_quantized", "prim::is_sparse", "prim::is_xpu", "prim::isinstance", "prim::layout",
    "prim::max", "prim::min", "prim::requires_grad", "prim::shape", "prim::data", "prim::grad", "prim::tolist", "prim::type",
    "prim::unchecked_cast", "prim::unchecked_unwrap_optional", "prim::name", "prim::id", "prim::rangelist",
    "prim::StringIndex", "prim::EnumName", "prim::EnumValue", "prim::is_nested", "prim::is_vulkan",
    "prim::is_mkldnn", "prim::is_ipu", "prim::is_hpu", "prim::is_sparse_csr", "prim::itemsize", "prim::nbytes",
    "aten::wait",
    // Python's integer and float arithmetic in torch.export graphs (pevis
    // computes these itself, with overflow checked).
    "_operator::add", "_operator::sub", "_operator::mul", "_operator::floordiv", "_operator::mod",
    "aten::sym_size", "aten::sym_numel", "aten::sym_stride", "aten::sym_storage_offset",
    // Python values: numbers, strings, lists, dicts.
    "aten::Bool", "aten::Float", "aten::Int", "aten::Complex", "aten::FloatImplicit", "aten::IntImplicit",
    "aten::ScalarImplicit", "aten::ComplexImplicit", "aten::str", "aten::format", "aten::warn",
    "aten::__and__", "aten::__or__", "aten::__xor__", "aten::__not__", "aten::__is__", "aten::__isnot__",
    "aten::__contains__", "aten::__getitem__", "aten::__derive_index", "aten::__range_length", "aten::__round_to_zero_floordiv",
    "aten::__lshift__", "aten::__rshift__", "aten::__interpolate", "aten::__upsample", "aten::__upsample_bilinear",
    "aten::_set_item", "aten::append", "aten::extend", "aten::insert", "aten::pop", "aten::clear", "aten::copy",
    "aten::list", "aten::len", "aten::keys", "aten::values", "aten::items", "aten::get", "aten::setdefault",
    "aten::dict", "aten::reverse", "aten::sort", "aten::sorted", "aten::count", "aten::index", "aten::join",
    "aten::split", "aten::strip", "aten::startswith", "aten::endswith", "aten::replace", "aten::lower", "aten::upper",
    "aten::splitlines", "aten::find", "aten::isdigit", "aten::add", "aten::sub", "aten::mul", "aten::div",
    "aten::floordiv", "aten::remainder", "aten::pow", "aten::neg", "aten::abs", "aten::eq", "aten::ne", "aten::lt",
    "aten::le", "aten::gt", "aten::ge", "aten::floor", "aten::ceil", "aten::sqrt", "aten::exp", "aten::log",
    "aten::log10", "aten::sin", "aten::cos", "aten::tanh", "aten::max", "aten::min", "aten::sum", "aten::all",
    "aten::any", "aten::dim", "aten::size", "aten::numel", "aten::item", "aten::device", "aten::is_floating_point",
    "aten::is_complex", "aten::is_grad_enabled", "aten::is_autocast_enabled", "aten::is_autocast_cpu_enabled",
    "aten::is_scripting", "aten::is_contiguous", "aten::is_nonzero", "aten::isnan", "aten::isinf", "aten::isfinite",
    "aten::get_device", "aten::element_size", "aten::stride", "aten::mathremainder", "aten::fmod", "aten::round",
    "aten::trunc", "aten::hash", "aten::ord", "aten::chr", "aten::hex", "aten::oct", "aten::bin", "aten::divmod",
    "aten::_assert_async", "aten::_assert_scalar", "aten::sym_constrain_range", "aten::sym_constrain_range_for_size",
    "aten::_functional_sym_constrain_range", "aten::_functional_assert_async", "aten::_assert_tensor_metadata",
    // Making tensors.
    "aten::tensor", "aten::scalar_tensor", "aten::as_tensor", "aten::empty", "aten::empty_like", "aten::new_empty",
    "aten::zeros", "aten::zeros_like", "aten::new_zeros", "aten::ones", "aten::ones_like", "aten::new_ones",
    "aten::full", "aten::full_like", "aten::new_full", "aten::arange", "aten::linspace", "aten::logspace",
    "aten::eye", "aten::rand", "aten::rand_like", "aten::randn", "aten::randn_like", "aten::randint",
    "aten::randint_like", "aten::randperm", "aten::bernoulli", "aten::bernoulli_", "aten::normal_", "aten::uniform_",
    "aten::multinomial", "aten::one_hot", "aten::tril_indices", "aten::triu_indices", "aten::lift_fresh",
    "aten::lift_fresh_copy", "aten::empty_strided", "aten::new_empty_strided", "aten::clone", "aten::detach",
    "aten::detach_", "aten::alias", "aten::lift", "aten::contiguous", "aten::to", "aten::type_as", "aten::_to_copy",
    "aten::copy_", "aten::fill_", "aten::zero_", "aten::fill", "aten::requires_grad_", "aten::cpu",
    "aten::float", "aten::double", "aten::half", "aten::bfloat16", "aten::long", "aten::int", "aten::bool", "aten::byte",
    "aten::char", "aten::short",
    // Shapes and views (every one checks its sizes against its input).
    "aten::view", "aten::view_as", "aten::reshape", "aten::reshape_as", "aten::_unsafe_view", "aten::flatten",
    "aten::unflatten", "aten::squeeze", "aten::squeeze_", "aten::unsqueeze", "aten::unsqueeze_", "aten::permute",
    "aten::transpose", "aten::transpose_", "aten::t", "aten::swapaxes", "aten::swapdims", "aten::movedim",
    "aten::moveaxis", "aten::expand", "aten::expand_as", "aten::repeat", "aten::repeat_interleave", "aten::tile",
    "aten::select", "aten::slice", "aten::narrow", "aten::chunk", "aten::unsafe_chunk", "aten::split_with_sizes",
    "aten::unsafe_split", "aten::unsafe_split_with_sizes", "aten::tensor_split", "aten::unbind", "aten::cat",
    "aten::concat", "aten::concatenate", "aten::stack", "aten::hstack", "aten::vstack", "aten::flip", "aten::roll",
    "aten::rot90", "aten::diagonal", "aten::diag", "aten::diag_embed", "aten::tril", "aten::triu", "aten::tril_",
    "aten::triu_", "aten::unfold", "aten::pad", "aten::constant_pad_nd", "aten::reflection_pad1d",
    "aten::reflection_pad2d", "aten::reflection_pad3d", "aten::replication_pad1d", "aten::replication_pad2d",
    "aten::replication_pad3d", "aten::_pad_circular", "aten::_pad_enum", "aten::pixel_shuffle", "aten::pixel_unshuffle",
    "aten::channel_shuffle", "aten::native_channel_shuffle", "aten::im2col", "aten::col2im", "aten::broadcast_to",
    "aten::broadcast_tensors", "aten::meshgrid", "aten::atleast_1d", "aten::atleast_2d", "aten::atleast_3d",
    "aten::slice_scatter", "aten::select_scatter", "aten::index_select", "aten::gather", "aten::scatter",
    "aten::scatter_", "aten::scatter_add", "aten::scatter_add_", "aten::scatter_reduce", "aten::index_put",
    "aten::index_put_", "aten::_index_put_impl_", "aten::index_add", "aten::index_add_", "aten::index_copy",
    "aten::index_fill", "aten::index_fill_", "aten::masked_select", "aten::masked_scatter", "aten::take",
    "aten::take_along_dim", "aten::nonzero", "aten::where", "aten::masked_fill", "aten::masked_fill_",
    "aten::split_copy", "aten::unbind_copy", "aten::view_copy", "aten::expand_copy", "aten::permute_copy",
    "aten::unsqueeze_copy", "aten::squeeze_copy", "aten::t_copy", "aten::transpose_copy", "aten::select_copy",
    "aten::slice_copy", "aten::alias_copy", "aten::clamp_copy",
    // Elementwise arithmetic and functions.
    "aten::add_", "aten::sub_", "aten::mul_", "aten::div_", "aten::rsub", "aten::true_divide", "aten::floor_divide",
    "aten::remainder_", "aten::fmod_", "aten::pow_", "aten::neg_", "aten::abs_", "aten::reciprocal",
    "aten::reciprocal_", "aten::sign", "aten::sgn", "aten::signbit", "aten::exp_", "aten::exp2", "aten::expm1",
    "aten::log_", "aten::log2", "aten::log1p", "aten::sqrt_", "aten::rsqrt", "aten::rsqrt_", "aten::square",
    "aten::sin_", "aten::cos_", "aten::tan", "aten::asin", "aten::acos", "aten::atan", "aten::atan2", "aten::sinh",
    "aten::cosh", "aten::tanh_", "aten::asinh", "aten::acosh", "aten::atanh", "aten::erf", "aten::erfc",
    "aten::erfinv", "aten::lgamma", "aten::digamma", "aten::floor_", "aten::ceil_", "aten::round_", "aten::trunc_",
    "aten::frac", "aten::clamp", "aten::clamp_", "aten::clamp_min", "aten::clamp_min_", "aten::clamp_max",
    "aten::clamp_max_", "aten::clip", "aten::clip_", "aten::maximum", "aten::minimum", "aten::fmax", "aten::fmin",
    "aten::lerp", "aten::addcmul", "aten::addcdiv", "aten::hypot", "aten::logaddexp", "aten::xlogy",
    "aten::nan_to_num", "aten::nan_to_num_", "aten::logical_and", "aten::logical_or", "aten::logical_xor",
    "aten::logical_not", "aten::bitwise_and", "aten::bitwise_or", "aten::bitwise_xor", "aten::bitwise_not",
    "aten::eq_", "aten::ne_", "aten::lt_", "aten::le_", "aten::gt_", "aten::ge_", "aten::isclose", "aten::allclose",
    "aten::equal", "aten::isneginf", "aten::isposinf", "aten::heaviside", "aten::cumsum", "aten::cumprod",
    "aten::cummax", "aten::cummin", "aten::logcumsumexp", "aten::diff", "aten::real", "aten::imag",
    "aten::view_as_real", "aten::view_as_complex", "aten::polar", "aten::complex", "aten::angle", "aten::conj",
    "aten::resolve_conj", "aten::resolve_neg", "aten::_conj", "aten::positive",
    // Reductions, sorting and statistics.
    "aten::mean", "aten::nanmean", "aten::nansum", "aten::prod", "aten::var", "aten::std", "aten::var_mean",
    "aten::std_mean", "aten::norm", "aten::frobenius_norm", "aten::linalg_vector_norm", "aten::linalg_norm",
    "aten::linalg_matrix_norm", "aten::logsumexp", "aten::amax", "aten::amin", "aten::aminmax", "aten::argmax",
    "aten::argmin", "aten::topk", "aten::argsort", "aten::msort", "aten::kthvalue", "aten::median",
    "aten::nanmedian", "aten::mode", "aten::quantile", "aten::nanquantile", "aten::count_nonzero", "aten::bincount",
    "aten::histc", "aten::unique_consecutive", "aten::_unique2", "aten::unique_dim", "aten::bucketize",
    "aten::searchsorted", "aten::cosine_similarity", "aten::pairwise_distance", "aten::cdist", "aten::dist",
    "aten::_euclidean_dist",
    // Linear algebra.
    "aten::matmul", "aten::mm", "aten::bmm", "aten::addmm", "aten::addmm_", "aten::addbmm", "aten::baddbmm",
    "aten::addmv", "aten::mv", "aten::dot", "aten::vdot", "aten::outer", "aten::ger", "aten::einsum",
    "aten::tensordot", "aten::kron", "aten::linear", "aten::bilinear", "aten::_trilinear", "aten::cross",
    "aten::linalg_cross", "aten::inner",
    // Layers: convolutions, pooling, normalisation, activations, dropout,
    // embeddings, recurrent cells, resampling, losses.
    "aten::_convolution", "aten::convolution", "aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::conv_tbc",
    "aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d", "aten::mkldnn_convolution",
    "aten::avg_pool1d", "aten::avg_pool2d", "aten::avg_pool3d", "aten::max_pool1d", "aten::max_pool2d",
    "aten::max_pool3d", "aten::max_pool1d_with_indices", "aten::max_pool2d_with_indices",
    "aten::max_pool3d_with_indices", "aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d",
    "aten::adaptive_avg_pool3d", "aten::_adaptive_avg_pool2d", "aten::_adaptive_avg_pool3d",
    "aten::adaptive_max_pool1d", "aten::adaptive_max_pool2d", "aten::adaptive_max_pool3d", "aten::lp_pool1d",
    "aten::lp_pool2d", "aten::lp_pool3d", "aten::fractional_max_pool2d", "aten::fractional_max_pool3d",
    "aten::max_unpool2d", "aten::max_unpool3d", "aten::batch_norm", "aten::_batch_norm_impl_index",
    "aten::native_batch_norm", "aten::_native_batch_norm_legit", "aten::_native_batch_norm_legit_no_training",
    "aten::_native_batch_norm_legit_functional", "aten::instance_norm", "aten::layer_norm", "aten::native_layer_norm",
    "aten::group_norm", "aten::native_group_norm", "aten::rms_norm", "aten::local_response_norm", "aten::normalize",
    "aten::relu", "aten::relu_", "aten::relu6", "aten::relu6_", "aten::leaky_relu", "aten::leaky_relu_", "aten::elu",
    "aten::elu_", "aten::selu", "aten::selu_", "aten::celu", "aten::celu_", "aten::gelu", "aten::gelu_", "aten::silu",
    "aten::silu_", "aten::mish", "aten::mish_", "aten::sigmoid", "aten::sigmoid_", "aten::hardsigmoid",
    "aten::hardsigmoid_", "aten::hardswish", "aten::hardswish_", "aten::hardtanh", "aten::hardtanh_",
    "aten::hardshrink", "aten::softshrink", "aten::tanhshrink", "aten::softplus", "aten::softsign", "aten::threshold",
    "aten::threshold_", "aten::prelu", "aten::_prelu_kernel", "aten::rrelu", "aten::rrelu_", "aten::glu",
    "aten::log_sigmoid", "aten::logit", "aten::softmax", "aten::_softmax", "aten::_safe_softmax", "aten::log_softmax",
    "aten::_log_softmax", "aten::softmin", "aten::dropout", "aten::dropout_", "aten::native_dropout",
    "aten::feature_dropout", "aten::feature_dropout_", "aten::alpha_dropout", "aten::alpha_dropout_",
    "aten::feature_alpha_dropout", "aten::feature_alpha_dropout_", "aten::embedding", "aten::embedding_bag",
    "aten::_embedding_bag", "aten::embedding_renorm_", "aten::lstm", "aten::gru", "aten::rnn_tanh", "aten::rnn_relu",
    "aten::lstm_cell", "aten::gru_cell", "aten::rnn_tanh_cell", "aten::rnn_relu_cell", "aten::upsample_nearest1d",
    "aten::upsample_nearest2d", "aten::upsample_nearest3d", "aten::_upsample_nearest_exact1d",
    "aten::_upsample_nearest_exact2d", "aten::_upsample_nearest_exact3d", "aten::upsample_linear1d",
    "aten::upsample_bilinear2d", "aten::upsample_bicubic2d", "aten::upsample_trilinear3d",
    "aten::_upsample_bilinear2d_aa", "aten::_upsample_bicubic2d_aa", "aten::grid_sampler", "aten::grid_sampler_2d",
    "aten::affine_grid_generator", "aten::interpolate", "aten::cross_entropy_loss", "aten::nll_loss",
    "aten::nll_loss_nd", "aten::nll_loss2d", "aten::mse_loss", "aten::l1_loss", "aten::smooth_l1_loss",
    "aten::huber_loss", "aten::binary_cross_entropy", "aten::binary_cross_entropy_with_logits", "aten::kl_div",
    // Attention, fused and not; nested tensors as stock encoder layers make them.
    "aten::scaled_dot_product_attention", "aten::_scaled_dot_product_attention_math",
    "aten::_scaled_dot_product_flash_attention_for_cpu", "aten::_native_multi_head_attention",
    "aten::_transformer_encoder_layer_fwd", "aten::_nested_tensor_from_mask",
    "aten::_nested_tensor_from_mask_left_aligned", "aten::to_padded_tensor", "aten::_masked_softmax",
};

// Operators the user allowed for this process (--allow-op).
std::vector<std::string>& extra() {
  static std::vector<std::string> ops;
  return ops;
}

}  // namespace

bool operator_allowed(const std::string& op) {
  static const std::set<std::string_view> allowed(std::begin(kAllowed), std::end(kAllowed));
  return allowed.count(op) > 0 || std::find(extra().begin(), extra().end(), op) != extra().end();
}

void set_extra_allowed_operators(const std::vector<std::string>& ops) {
  for (const auto& op : ops) {
    if (!is_qualified_operator_name(op)) {
      throw Error(ExitCode::kUsage, "--allow-op " + one_line(op), "give one operator by its qualified name",
                  "for example --allow-op aten::from_file");
    }
  }
  extra() = ops;
}

const std::vector<std::string>& extra_allowed_operators() { return extra(); }

void check_operators(const std::vector<OperatorUse>& uses, const std::string& path) {
  for (const auto& use : uses) {
    if (operator_allowed(use.op)) continue;
    throw bad_input(path,
                    "the model calls " + use.op + " (in " + use.where +
                        "), an operator pevis does not run: it is not on the list of pure tensor operators",
                    "if you trust this file, allow it by name with --allow-op " + use.op);
  }
}

}  // namespace pevis
