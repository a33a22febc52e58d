#include "pevis/operators/operator_guards.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/LegacyTypeDispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>

namespace pevis {

const c10::IValue* GuardedCall::get(std::string_view name) const {
  const auto index = schema_.argumentIndexWithName(c10::string_view(name.data(), name.size()));
  if (!index || static_cast<std::size_t>(*index) >= count_) return nullptr;
  const c10::IValue* value = arguments_ + *index;
  return value->isNone() ? nullptr : value;
}

const at::Tensor* GuardedCall::tensor(std::string_view name) const {
  const c10::IValue* value = get(name);
  if (!value || !value->isTensor() || !value->toTensor().defined()) return nullptr;
  return &value->toTensor();
}

std::string GuardedCall::op() const {
  return schema_.name() + (schema_.overload_name().empty() ? "" : "." + schema_.overload_name());
}

namespace {

// The first of these arguments that is a tensor (overloads name it self or input).
const at::Tensor* input_of(const GuardedCall& call) {
  const at::Tensor* t = call.tensor("self");
  return t ? t : call.tensor("input");
}

// The CPU kernels of these operators divide by sizes of their input: an
// empty one (a dimension of 0) is refused, as no model runs them on one.
void check_not_empty(const GuardedCall& call, const at::Tensor* input) {
  TORCH_CHECK(!input || input->numel() > 0, call.op(), ": the input ", input->sizes(), " is empty");
}

std::vector<std::int64_t> ints_of(const GuardedCall& call, std::string_view name) {
  const c10::IValue* v = call.get(name);
  if (!v || !v->isIntList()) return {};
  return v->toIntVector();
}

std::int64_t int_of(const GuardedCall& call, std::string_view name) {
  const c10::IValue* v = call.get(name);
  TORCH_CHECK(v && v->isInt(), call.op(), ": no integer ", name);
  return v->toInt();
}

// A sorter must be a permutation of each row's indexes: the kernel reads
// the sorted sequence at whatever indexes it holds.
void check_searchsorted(const GuardedCall& call) {
  const at::Tensor* sorter = call.tensor("sorter");
  const at::Tensor* sequence = call.tensor("sorted_sequence");
  if (!sorter || !sequence) return;
  TORCH_CHECK(sequence->dim() >= 1, call.op(), ": the sorted sequence has no dimension");
  TORCH_CHECK(sorter->sizes() == sequence->sizes(), call.op(), ": the sorter's shape ", sorter->sizes(),
              " is not the sorted sequence's ", sequence->sizes());
  TORCH_CHECK(sorter->scalar_type() == at::kLong, call.op(), ": the sorter is ", sorter->scalar_type(), ", not Long");
  if (sorter->numel() == 0) return;
  const std::int64_t low = sorter->min().item<std::int64_t>(), high = sorter->max().item<std::int64_t>();
  const std::int64_t n = sequence->size(-1);
  TORCH_CHECK(low >= 0 && high < n, call.op(), ": the sorter holds indexes from ", low, " to ", high,
              ", outside the sequence's 0 to ", n - 1);
}

// Weight, bias and running statistics have one value per channel: the
// kernels index them by channel unchecked.
void check_channel_statistics(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  if (!input) return;
  TORCH_CHECK(input->dim() >= 2, call.op(), ": the input ", input->sizes(), " has no channel dimension");
  check_not_empty(call, input);
  const std::int64_t channels = input->size(1);
  for (const char* name : {"weight", "bias", "running_mean", "running_var"}) {
    if (const at::Tensor* t = call.tensor(name)) {
      TORCH_CHECK(t->numel() == channels, call.op(), ": ", name, " has ", t->numel(), " values for ", channels,
                  " channels");
      TORCH_CHECK(t->scalar_type() == input->scalar_type() || at::isFloatingType(t->scalar_type()), call.op(), ": ",
                  name, " is ", t->scalar_type());
    }
  }
  // Without training the kernel reads the running statistics, given or not.
  const c10::IValue* training = call.get("training");
  const bool trains = training && training->isBool() ? training->toBool() : false;
  if (!trains) {
    TORCH_CHECK(call.tensor("running_mean") && call.tensor("running_var"), call.op(),
                ": normalising with running statistics that are not given");
  }
}

// native_group_norm takes N, C and HxW as numbers: they must be the input's.
void check_group_norm(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  if (!input) return;
  check_not_empty(call, input);
  const std::int64_t n = int_of(call, "N"), c = int_of(call, "C"), hw = int_of(call, "HxW"), groups = int_of(call, "group");
  std::int64_t nc = 0, total = 0;
  TORCH_CHECK(n >= 0 && c >= 0 && hw >= 0 && !__builtin_mul_overflow(n, c, &nc) && !__builtin_mul_overflow(nc, hw, &total) &&
                  total == input->numel(),
              call.op(), ": N x C x HxW = ", n, " x ", c, " x ", hw, " is not the input's ", input->numel(), " values");
  TORCH_CHECK(groups > 0 && c % groups == 0, call.op(), ": ", c, " channels cannot form ", groups, " groups");
  for (const char* name : {"weight", "bias"}) {
    if (const at::Tensor* t = call.tensor(name)) {
      TORCH_CHECK(t->numel() == c, call.op(), ": ", name, " has ", t->numel(), " values for ", c, " channels");
    }
  }
}

// Antialiased resizing sizes its filters from the scale: a scale far from
// output / input makes filters of any length.
void check_antialiased_scales(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  check_not_empty(call, input);
  if (!input || input->dim() < 2) return;
  const std::vector<std::int64_t> out = ints_of(call, "output_size");
  std::vector<c10::optional<double>> scales;
  if (const c10::IValue* factors = call.get("scale_factors"); factors && factors->isDoubleList()) {
    for (double f : factors->toDoubleVector()) scales.emplace_back(f);
  } else {
    for (const char* name : {"scales_h", "scales_w"}) {
      const c10::IValue* v = call.get(name);
      scales.push_back(v && v->isDouble() ? c10::optional<double>(v->toDouble()) : c10::nullopt);
    }
  }
  for (std::size_t d = 0; d < scales.size() && d < 2; ++d) {
    if (!scales[d]) continue;
    const double s = *scales[d];
    const auto in = static_cast<double>(input->size(input->dim() - 2 + static_cast<std::int64_t>(d)));
    TORCH_CHECK(std::isfinite(s) && s > 0, call.op(), ": a scale of ", s);
    if (d < out.size()) {
      const auto want = static_cast<double>(out[d]);
      // At least half an output value from the whole input: the filters
      // span input / (scale x input) values, at most twice the input.
      TORCH_CHECK(s * in >= std::max(want / 2, 0.5) && s * in <= 2 * want + 2, call.op(), ": a scale of ", s,
                  " does not take ", in, " values to ", want);
    }
  }
}

// The output's size is a list the kernels read as many entries of as they
// need; the indexes must lie in each output plane.
void check_max_unpool(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  const at::Tensor* indices = call.tensor("indices");
  const std::size_t dims = call.get("stride") ? 3 : 2;
  const std::vector<std::int64_t> size = ints_of(call, "output_size");
  TORCH_CHECK(size.size() == dims, call.op(), ": output_size has ", size.size(), " values, not ", dims);
  for (const char* name : {"stride", "padding"}) {
    if (call.get(name)) {
      TORCH_CHECK(ints_of(call, name).size() == dims, call.op(), ": ", name, " has not ", dims, " values");
    }
  }
  std::int64_t plane = 1;
  for (std::int64_t s : size) {
    TORCH_CHECK(s > 0 && !__builtin_mul_overflow(plane, s, &plane), call.op(), ": an output size of ", s);
  }
  check_not_empty(call, input);
  if (!input || !indices) return;
  TORCH_CHECK(indices->sizes() == input->sizes(), call.op(), ": the indexes' shape ", indices->sizes(),
              " is not the input's ", input->sizes());
  if (indices->numel() == 0) return;
  const std::int64_t low = indices->min().item<std::int64_t>(), high = indices->max().item<std::int64_t>();
  TORCH_CHECK(low >= 0 && high < plane, call.op(), ": indexes from ", low, " to ", high, " outside an output plane of ",
              plane);
}

// Padding lists of exactly two values per padded dimension.
template <std::size_t kDims>
void check_padding(const GuardedCall& call) {
  check_not_empty(call, input_of(call));
  const std::vector<std::int64_t> padding = ints_of(call, "padding");
  TORCH_CHECK(padding.size() == 2 * kDims, call.op(), ": padding has ", padding.size(), " values, not ", 2 * kDims);
}

void check_channel_shuffle(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  const std::int64_t groups = int_of(call, "groups");
  TORCH_CHECK(groups > 0, call.op(), ": ", groups, " groups");
  if (!input) return;
  TORCH_CHECK(input->dim() >= 3, call.op(), ": the input ", input->sizes(), " has fewer than 3 dimensions");
  TORCH_CHECK(input->size(1) >= groups && input->size(1) % groups == 0, call.op(), ": ", input->size(1),
              " channels cannot form ", groups, " groups");
  check_not_empty(call, input);
}

// The factor's square divides the channels (shuffle) or the factor each
// side (unshuffle); a factor past 2^16 overflows where the kernel squares it.
void check_pixel_shuffle(const GuardedCall& call) {
  const at::Tensor* input = input_of(call);
  const bool up = call.get("upscale_factor") != nullptr;
  const std::int64_t f = int_of(call, up ? "upscale_factor" : "downscale_factor");
  TORCH_CHECK(f > 0 && f <= (1 << 16), call.op(), ": a factor of ", f);
  check_not_empty(call, input);
  if (!input) return;
  TORCH_CHECK(input->dim() >= 3, call.op(), ": the input ", input->sizes(), " has fewer than 3 dimensions");
  if (up) {
    TORCH_CHECK(input->size(-3) % (f * f) == 0, call.op(), ": ", input->size(-3), " channels are not a multiple of ",
                f * f);
  } else {
    TORCH_CHECK(input->size(-2) % f == 0 && input->size(-1) % f == 0, call.op(), ": ", input->size(-2), " x ",
                input->size(-1), " is not a multiple of ", f);
  }
}

// Runs in front of the kernel of every overload of a guarded operator (at
// the CPU autograd key, which every CPU tensor outside inference mode
// passes): checks the call's arguments, the last entries of the stack, then
// calls the operator again below autograd, where its own kernel runs.
void guarded(const c10::OperatorHandle& handle, torch::jit::Stack* stack) {
  const auto& schema = handle.schema();
  const OperatorGuard* guard = operator_guard(schema.name());
  const std::size_t count = schema.arguments().size();
  TORCH_CHECK(stack->size() >= count, schema.name(), " was called with too few values");
  if (guard) guard->check(GuardedCall(schema, stack->data() + (stack->size() - count), count));
  at::AutoDispatchBelowADInplaceOrView below;
  handle.callBoxed(stack);
}

}  // namespace

const std::vector<OperatorGuard>& operator_guards() {
  static const std::vector<OperatorGuard> guards = {
      {"aten::searchsorted", "reads the sorted sequence at the sorter's indexes", &check_searchsorted},
      {"aten::native_batch_norm", "indexes weight, bias and running statistics by channel", &check_channel_statistics},
      {"aten::_native_batch_norm_legit", "the same", &check_channel_statistics},
      {"aten::_native_batch_norm_legit_no_training", "the same", &check_channel_statistics},
      {"aten::_native_batch_norm_legit_functional", "the same", &check_channel_statistics},
      {"aten::_batch_norm_impl_index", "the same", &check_channel_statistics},
      {"aten::native_group_norm", "takes N, C and HxW as numbers", &check_group_norm},
      {"aten::_upsample_bicubic2d_aa", "sizes its filters from the scales", &check_antialiased_scales},
      {"aten::_upsample_bilinear2d_aa", "sizes its filters from the scales", &check_antialiased_scales},
      {"aten::max_unpool2d", "reads output_size's entries and writes at the indexes", &check_max_unpool},
      {"aten::max_unpool3d", "reads output_size's, stride's and padding's entries", &check_max_unpool},
      {"aten::reflection_pad1d", "reads the padding's entries", &check_padding<1>},
      {"aten::reflection_pad2d", "reads the padding's entries", &check_padding<2>},
      {"aten::reflection_pad3d", "reads the padding's entries", &check_padding<3>},
      {"aten::replication_pad1d", "reads the padding's entries", &check_padding<1>},
      {"aten::replication_pad2d", "reads the padding's entries", &check_padding<2>},
      {"aten::replication_pad3d", "reads the padding's entries", &check_padding<3>},
      {"aten::channel_shuffle", "divides by the groups", &check_channel_shuffle},
      {"aten::native_channel_shuffle", "divides by the groups", &check_channel_shuffle},
      {"aten::pixel_shuffle", "divides by the factor's square", &check_pixel_shuffle},
      {"aten::pixel_unshuffle", "divides by the factor", &check_pixel_shuffle},
  };
  return guards;
}

const OperatorGuard* operator_guard(std::string_view name) {
  const auto& guards = operator_guards();
  const auto found = std::find_if(guards.begin(), guards.end(), [&](const OperatorGuard& g) { return g.name == name; });
  return found == guards.end() ? nullptr : &*found;
}

void install_operator_guards() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Kept for the process's life: the registrations end with the library.
    static auto* library =
        new torch::Library(torch::Library::IMPL, "aten", c10::DispatchKey::AutogradCPU, __FILE__, __LINE__);
    for (const auto& name : c10::Dispatcher::singleton().getAllOpNames()) {
      if (!operator_guard(name.name)) continue;
      const std::string unqualified = name.name.substr(name.name.find("::") + 2);
      const std::string overload = name.overload_name.empty() ? unqualified : unqualified + "." + name.overload_name;
      library->impl(overload.c_str(), torch::CppFunction::makeFromBoxedFunction<&guarded>());
    }
  });
}

}  // namespace pevis
