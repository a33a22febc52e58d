#pragma once
// Guards of allowed operators whose LibTorch kernels trust some arguments:
// a sorter's indexes, running statistics' lengths, scales that size the
// work, lists whose length the kernel assumes. Each guard checks those
// arguments before the kernel runs, for TorchScript and torch.export
// programs alike, and refuses a call that would read or write outside its
// tensors (or divide by zero) with a c10::Error the forward reports as the
// model's failure on this input (exit 3).

#include <ATen/core/ivalue.h>

#include <string_view>
#include <vector>

namespace c10 {
struct FunctionSchema;
}

namespace pevis {

/// One call's arguments, by their schema's names.
class GuardedCall {
 public:
  GuardedCall(const c10::FunctionSchema& schema, const c10::IValue* arguments, std::size_t count)
      : schema_(schema), arguments_(arguments), count_(count) {}

  /// The argument of that name, or null when the schema has none (or it is None).
  const c10::IValue* get(std::string_view name) const;
  /// The tensor argument of that name, or null when absent, None or undefined.
  const at::Tensor* tensor(std::string_view name) const;
  /// The operator's name with its overload ("aten::searchsorted.Tensor").
  std::string op() const;

 private:
  const c10::FunctionSchema& schema_;
  const c10::IValue* arguments_;
  std::size_t count_;
};

/// An operator whose every overload is guarded.
struct OperatorGuard {
  std::string_view name;  ///< "aten::searchsorted"
  std::string_view why;   ///< what the kernel trusts
  void (*check)(const GuardedCall& call);  ///< throws c10::Error for a call it refuses
};

/// Every guard: the registry.
const std::vector<OperatorGuard>& operator_guards();

/// The guard of that operator ("aten::pixel_shuffle"), or null.
const OperatorGuard* operator_guard(std::string_view name);

/// Puts the guards in front of LibTorch's kernels (once per process; later
/// calls do nothing). Called before any model is read.
void install_operator_guards();

}  // namespace pevis
