// libFuzzer target: the guarded operators (operators/operator_guards.h),
// every overload, called through the dispatcher as a model's code calls
// them, with arguments made from the input: tensors of small random shapes
// (index tensors holding any 64-bit values), integers and floats anywhere
// in their range, lists of any length up to 6. A call may be refused
// (c10::Error) or compute; it must never crash. List entries stay small
// and tensors few-celled, so that what an accepted call allocates stays
// within the fuzzer's memory limit (a pevis job has its budget for that).
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "pevis/operators/operator_guards.h"

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::uint64_t word() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return v;
  }
  // Mostly small, sometimes at an edge of the range.
  std::int64_t integer() {
    const std::uint8_t kind = byte() % 8;
    if (kind == 0) return static_cast<std::int64_t>(word());
    if (kind == 1) return std::numeric_limits<std::int64_t>::max();
    if (kind == 2) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(byte() % 40) - 8;
  }
  double number() {
    const std::uint8_t kind = byte() % 6;
    if (kind == 0) return 1e-12;
    if (kind == 1) return std::numeric_limits<double>::quiet_NaN();
    if (kind == 2) return -1;
    if (kind == 3) {
      double d;
      const std::uint64_t w = word();
      std::memcpy(&d, &w, sizeof d);
      return d;
    }
    return (byte() % 64) / 8.0;
  }
  std::vector<std::int64_t> small_list() {
    std::vector<std::int64_t> out(byte() % 7);
    for (auto& v : out) v = static_cast<std::int64_t>(byte() % 12) - 2;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

at::Tensor tensor_of(Bytes& in, bool indexes) {
  std::vector<std::int64_t> shape(in.byte() % 5);
  for (auto& d : shape) d = in.byte() % 5;
  if (indexes) {
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kLong));
    auto* p = t.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = in.byte() % 4 == 0 ? in.integer() : in.byte() % 8;
    return t;
  }
  return at::full(shape, in.number(), at::TensorOptions().dtype(at::kFloat));
}

c10::IValue value_of(Bytes& in, const c10::Argument& argument) {
  c10::TypePtr type = argument.type();
  if (type->kind() == c10::TypeKind::OptionalType) {
    if (in.byte() % 3 == 0) return c10::IValue();
    type = type->expectRef<c10::OptionalType>().getElementType();
  }
  const std::string& name = argument.name();
  switch (type->kind()) {
    case c10::TypeKind::TensorType:
      return tensor_of(in, name == "indices" || name == "sorter");
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      return in.integer();
    case c10::TypeKind::FloatType:
      return in.number();
    case c10::TypeKind::BoolType:
      return static_cast<bool>(in.byte() & 1);
    case c10::TypeKind::StringType:
      return std::string(in.byte() & 1 ? "left" : "right");
    case c10::TypeKind::ListType: {
      const auto element = type->expectRef<c10::ListType>().getElementType()->kind();
      if (element == c10::TypeKind::FloatType) {
        std::vector<double> out(in.byte() % 4);
        for (auto& v : out) v = in.number();
        return out;
      }
      return in.small_list();
    }
    default:
      return c10::IValue();
  }
}

std::vector<c10::OperatorHandle> guarded_overloads() {
  std::vector<c10::OperatorHandle> out;
  for (const auto& name : c10::Dispatcher::singleton().getAllOpNames()) {
    if (!pevis::operator_guard(name.name)) continue;
    // Overloads that write into a given tensor are left out: the model's
    // own tensor, resized by the kernel, is not what the guards are about.
    if (name.overload_name.find("out") != std::string::npos) continue;
    if (auto handle = c10::Dispatcher::singleton().findSchema(name)) out.push_back(*handle);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  pevis::install_operator_guards();
  static const std::vector<c10::OperatorHandle> ops = guarded_overloads();
  if (ops.empty() || size == 0) return 0;
  Bytes in(data, size);
  const c10::OperatorHandle& op = ops[in.byte() % ops.size()];
  // To tell which call a crashing input makes: PEVIS_FUZZ_SAY=1 fuzz_guards INPUT.
  static const bool say = std::getenv("PEVIS_FUZZ_SAY") != nullptr;
  if (say) std::fprintf(stderr, "fuzz_guards: %s\n", c10::toString(op.schema()).c_str());
  try {
    // Making the arguments may fail too (a float past what float32 holds).
    torch::jit::Stack stack;
    for (const auto& argument : op.schema().arguments()) stack.push_back(value_of(in, argument));
    op.callBoxed(&stack);
  } catch (const std::exception&) {
  }
  return 0;
}
