#include <c10/core/ScalarType.h>

#include <mutex>

#include "pevis/base/error.h"
#include "pevis/io/model.h"

namespace pevis {

struct NamedTensor::Data {
  std::mutex mutex;
  TensorReader read;
  at::Tensor tensor;
  bool lazy = false;
};

NamedTensor::NamedTensor(std::string name_, at::Tensor tensor, std::string kind_)
    : name(std::move(name_)), kind(std::move(kind_)), dtype_(tensor.scalar_type()), shape_(tensor.sizes().vec()),
      data_(std::make_shared<Data>()) {
  data_->tensor = std::move(tensor);
}

NamedTensor::NamedTensor(std::string name_, at::ScalarType dtype, std::vector<std::int64_t> shape, TensorReader read,
                         std::string kind_)
    : name(std::move(name_)), kind(std::move(kind_)), dtype_(dtype), shape_(std::move(shape)), data_(std::make_shared<Data>()) {
  data_->read = std::move(read);
  data_->lazy = true;
}

std::int64_t NamedTensor::numel() const {
  std::int64_t n = 1;
  for (auto d : shape_) n *= d;
  return n;
}

std::uint64_t NamedTensor::nbytes() const {
  return static_cast<std::uint64_t>(numel()) * c10::elementSize(dtype_);
}

bool NamedTensor::is_floating_point() const { return c10::isFloatingType(dtype_); }

const void* NamedTensor::identity() const {
  if (data_->lazy) return data_.get();
  return data_->tensor.unsafeGetTensorImpl();
}

bool NamedTensor::loaded() const {
  std::lock_guard<std::mutex> lock(data_->mutex);
  return data_->tensor.defined();
}

const at::Tensor& NamedTensor::tensor() const {
  std::lock_guard<std::mutex> lock(data_->mutex);
  if (!data_->tensor.defined()) {
    at::Tensor t = data_->read();
    if (t.scalar_type() != dtype_ || t.sizes().vec() != shape_) {
      throw Error(ExitCode::kInternal, name, "its data was read with another dtype or shape than its index gives");
    }
    data_->tensor = std::move(t);
    data_->read = nullptr;
  }
  return data_->tensor;
}

}  // namespace pevis
