#include "stored.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/index_select.h>
#include <torch/csrc/jit/frontend/sugared_value.h>
#include <torch/library.h>

#include <memory>
#include <vector>

namespace pevis::architectures {
namespace {

// A stand-in parameter's storage: one element, and the tensor it stands
// for, which lives as long as the parameter (and its ties) do, with the
// dtype the model computes in.
struct Holder {
  Holder(NamedTensor t, at::ScalarType c) : tensor(std::move(t)), compute(c) {}
  NamedTensor tensor;
  at::ScalarType compute;
  alignas(16) unsigned char element[16] = {};
};

void release(void* holder) { delete static_cast<Holder*>(holder); }

const Holder* stands_for(const at::Tensor& parameter) {
  if (!parameter.has_storage()) return nullptr;
  const c10::DataPtr& data = parameter.storage().data_ptr();
  if (data.get_deleter() != &release) return nullptr;
  return static_cast<const Holder*>(data.get_context());
}

// pevis::weight(Tensor stored) -> Tensor: the values, in the compute dtype.
at::Tensor weight(const at::Tensor& stored) {
  const Holder* h = stands_for(stored);
  return h ? h->tensor.read().to(h->compute).contiguous() : stored;
}

// pevis::weight_rows(Tensor stored, Tensor ids) -> Tensor: an embedding
// table's rows for `ids` in the compute dtype ([*ids.shape, dim]),
// converting only those.
at::Tensor weight_rows(const at::Tensor& stored, const at::Tensor& ids) {
  const Holder* h = stands_for(stored);
  const at::Tensor table = h ? h->tensor.read() : stored;
  std::vector<std::int64_t> shape = ids.sizes().vec();
  shape.push_back(table.size(1));
  return at::index_select(table, 0, ids.reshape({-1})).to(h ? h->compute : table.scalar_type()).reshape(shape);
}

TORCH_LIBRARY_FRAGMENT(pevis, m) {
  m.def("weight(Tensor stored) -> Tensor", &weight);
  m.def("weight_rows(Tensor stored, Tensor ids) -> Tensor", &weight_rows);
}

// torch's names as the native resolver knows them, and pevis's operators.
struct Resolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name, torch::jit::GraphFunction& m,
                                                         const torch::jit::SourceRange& loc) override {
    if (name == "pevis") return std::make_shared<torch::jit::BuiltinModule>("pevis");
    return torch::jit::nativeResolver()->resolveValue(name, m, loc);
  }
};

}  // namespace

torch::jit::ResolverPtr stored_resolver() { return std::make_shared<Resolver>(); }

at::Tensor stored_parameter(const NamedTensor& tensor, at::ScalarType compute) {
  auto holder = std::make_unique<Holder>(tensor, compute);
  void* element = holder->element;
  const auto size = static_cast<std::size_t>(c10::elementSize(tensor.dtype()));
  c10::Storage storage(c10::Storage::use_byte_size_t(), size,
                       c10::DataPtr(element, holder.release(), &release, c10::Device(c10::DeviceType::CPU)),
                       /*allocator=*/nullptr, /*resizable=*/false);
  at::Tensor parameter = at::empty({0}, at::TensorOptions().dtype(tensor.dtype()));
  parameter.set_(storage, 0, tensor.shape(), std::vector<std::int64_t>(tensor.shape().size(), 0));
  return parameter;
}

}  // namespace pevis::architectures
