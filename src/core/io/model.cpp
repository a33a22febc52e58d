#include "pevis/io/model.h"

#include <ATen/ops/from_blob.h>
#include <c10/core/ScalarType.h>

#include <algorithm>
#include <cassert>
#include <memory>
#include <mutex>

#include "pevis/base/error.h"
#include "pevis/base/module_path.h"

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

at::Tensor NamedTensor::read() const {
  TensorReader read;
  {
    std::lock_guard<std::mutex> lock(data_->mutex);
    if (data_->tensor.defined()) return data_->tensor;
    read = data_->read;
  }
  at::Tensor t = read();
  if (t.scalar_type() != dtype_ || t.sizes().vec() != shape_) {
    throw Error(ExitCode::kInternal, name, "its data was read with another dtype or shape than its index gives");
  }
  return t;
}

std::string Model::described() const {
  if (shards > 0) return "a folder of " + std::to_string(shards) + " " + format + (shards == 1 ? " shard" : " shards");
  const bool vowel = !format.empty() && std::string("aeiouAEIOU").find(format[0]) != std::string::npos;
  return std::string(vowel ? "an " : "a ") + format + " file";
}

namespace {

// The last parts of the names buffer_by_role knows.
const std::vector<std::string>& buffer_role_names() {
  // Buffers a module registers for what they do, never trained: attention
  // masks and their fill value (GPT-2's masked_bias), rotary frequencies,
  // batch-norm statistics, position index tables.
  static const std::vector<std::string> names = {"masked_bias",         "inv_freq",    "original_inv_freq",
                                                 "running_mean",        "running_var", "num_batches_tracked",
                                                 "position_ids",        "token_type_ids", "relative_position_index",
                                                 "relative_coords_table"};
  return names;
}

}  // namespace

bool buffer_by_role(const std::string& name) {
  const auto& names = buffer_role_names();
  return std::find(names.begin(), names.end(), last_part(name)) != names.end();
}

at::Tensor as_float(const at::Tensor& tensor) { return tensor.to(at::kFloat); }

at::Tensor sinusoidal_table(const SinusoidalSpec& spec) {
  auto values = std::make_unique<std::vector<float>>(sinusoid_values(spec));
  float* data = values->data();
  return at::from_blob(
      data, {spec.max_len, spec.d_model}, [owner = values.release()](void*) { delete owner; }, at::kFloat);
}

LabeledMatrix to_matrix(const at::Tensor& values, std::string name, std::string row_title,
                        std::vector<std::string> row_labels, std::vector<std::string> col_labels) {
  assert(values.dim() == 2);
  at::Tensor dense = values.to(at::kFloat).contiguous();
  LabeledMatrix m;
  m.name = std::move(name);
  m.row_title = std::move(row_title);
  m.rows = static_cast<std::size_t>(dense.size(0));
  m.cols = static_cast<std::size_t>(dense.size(1));
  m.row_labels = std::move(row_labels);
  m.col_labels = std::move(col_labels);
  assert(m.row_labels.size() == m.rows && m.col_labels.size() == m.cols);
  const float* data = dense.data_ptr<float>();
  m.values.assign(data, data + m.rows * m.cols);
  return m;
}

}  // namespace pevis
