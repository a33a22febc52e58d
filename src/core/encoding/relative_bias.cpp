#include "pevis/encoding/relative_bias.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/log.h>
#include <ATen/ops/min.h>
#include <ATen/ops/minimum.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "pevis/base/archive.h"
#include "pevis/base/error.h"
#include "pevis/base/json_depth.h"
#include "pevis/base/memory.h"
#include "pevis/base/text.h"

namespace pevis {

at::Tensor t5_bucket(const at::Tensor& relative, bool bidirectional, std::int64_t num_buckets, std::int64_t max_distance) {
  // The same operations, in the same dtypes, as T5's _relative_position_bucket.
  at::Tensor buckets = at::zeros_like(relative);
  at::Tensor n;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (relative > 0).to(at::kLong) * num_buckets;
    n = at::abs(relative);
  } else {
    n = -at::minimum(relative, at::zeros_like(relative));
  }
  const std::int64_t exact = num_buckets / 2;
  const at::Tensor small = n < exact;
  // Distances below `exact` never take this branch; 1 keeps log finite there.
  const at::Tensor scaled = at::log(n.clamp_min(1).to(at::kFloat) / exact) /
                            std::log(static_cast<double>(max_distance) / static_cast<double>(exact)) *
                            (num_buckets - exact);
  at::Tensor large = exact + scaled.to(at::kLong);
  large = at::minimum(large, at::full_like(large, num_buckets - 1));
  return buckets + at::where(small, n, large);
}

T5Spec t5_from_config(const std::string& path, T5Spec spec) {
  try {
    const auto source = open_file(path);
    if (source->size() > (16u << 20)) return spec;
    const std::string text = source->read_string(0, source->size());
    check_json_depth(text, path);
    const auto config = nlohmann::json::parse(text);
    const auto whole = [&](const char* key, std::int64_t& into) {
      if (config.is_object() && config.contains(key) && config[key].is_number_integer()) into = config[key].get<std::int64_t>();
    };
    whole("relative_attention_num_buckets", spec.num_buckets);
    whole("relative_attention_max_distance", spec.max_distance);
  } catch (const nlohmann::json::exception&) {
  } catch (const Error&) {
  }
  return spec;
}

T5Spec t5_spec_of(const Model& model, const std::string& name, std::int64_t table_rows) {
  T5Spec spec;
  spec.bidirectional = name.find("decoder") == std::string::npos;
  spec.num_buckets = table_rows;
  if (!model.config_file.empty()) spec = t5_from_config(model.config_file, spec);
  return spec;
}

namespace {

// Swin V2's table, computed as torchvision's get_relative_position_bias
// does: the network (Linear(2, hidden), ReLU, Linear(hidden, heads)) over
// relative_coords_table, one row per relative offset.
at::Tensor continuous_table(const Model& model, const std::string& network, const std::string& owner) {
  const NamedTensor* w0 = model.find(network + ".0.weight");
  const NamedTensor* b0 = model.find(network + ".0.bias");
  const NamedTensor* w2 = model.find(network + ".2.weight");
  const NamedTensor* b2 = model.find(network + ".2.bias");
  const NamedTensor* coords = model.find(owner + "relative_coords_table");
  if (!w0 || !w2 || !coords || w0->dim() != 2 || w2->dim() != 2 || w0->shape()[1] != 2 || w2->shape()[1] != w0->shape()[0] ||
      coords->shape().empty() || coords->shape().back() != 2 || (b0 && b0->numel() != w0->shape()[0]) ||
      (b2 && b2->numel() != w2->shape()[0])) {
    throw bad_input(network, "not a continuous position bias network pevis can compute (Linear(2, hidden), ReLU, "
                             "Linear(hidden, heads) beside a relative_coords_table [..., 2])");
  }
  const long double rows = static_cast<long double>(coords->numel()) / 2;
  check_memory(rows * static_cast<long double>(w0->shape()[0] + w2->shape()[0]) * 8 + w0->nbytes() + w2->nbytes(),
               model.path, "the continuous position bias of " + network, "");
  const at::Tensor x = as_float(coords->tensor()).reshape({-1, 2});
  at::Tensor hidden = at::relu(at::linear(x, as_float(w0->tensor()), b0 ? as_float(b0->tensor()) : at::Tensor()));
  return at::linear(hidden, as_float(w2->tensor()), b2 ? as_float(b2->tensor()) : at::Tensor());
}

}  // namespace

at::Tensor swin_maps_of(const Model& model, const std::string& name, bool* index_found) {
  if (const std::string mlp = continuous_bias_network(name); !mlp.empty()) {
    const std::string owner = name.substr(0, name.size() - mlp.size());
    const NamedTensor* index = model.find(owner + "relative_position_index");
    const at::Tensor table = continuous_table(model, name, owner);
    if (index_found) *index_found = index != nullptr;
    check_memory(static_cast<long double>(table.numel()) * 4 * 8 + (index ? index->nbytes() * 2.0L : 0), model.path,
                 "the bias maps of " + name, "");
    return at::sigmoid(swin_bias_maps(table, index ? std::optional<at::Tensor>(index->tensor()) : std::nullopt)) * 16;
  }
  const NamedTensor* table = model.find(name);
  const NamedTensor* index = model.find(name.substr(0, name.size() - std::string("bias_table").size()) + "index");
  if (!table || table->dim() != 2) throw bad_input(name, "the model has no [rows, heads] table of that name");
  // N^2 entries of the maps, per head: from the index, else from the window the table implies.
  const auto window = static_cast<long double>(swin_window_of_table(table->shape()[0]));
  const long double cells = index ? static_cast<long double>(index->numel()) : window * window * window * window;
  check_memory(static_cast<long double>(table->nbytes()) * 3 + (index ? index->nbytes() * 2.0L : 0) +
                   4.0L * cells * static_cast<long double>(table->shape()[1]) * 4 + 40.0L * cells,
               model.path, "the bias maps of " + name, "");
  if (index_found) *index_found = index != nullptr;
  return swin_bias_maps(as_float(table->tensor()), index ? std::optional<at::Tensor>(index->tensor()) : std::nullopt);
}

void check_t5_spec(const T5Spec& spec, std::int64_t table_rows) {
  if (spec.num_buckets != table_rows) {
    throw bad_input("--num-buckets " + std::to_string(spec.num_buckets),
                    "the table has " + std::to_string(table_rows) + " buckets", "leave --num-buckets out to use them");
  }
  if (spec.num_buckets < (spec.bidirectional ? 4 : 2) || (spec.bidirectional && spec.num_buckets % 2 != 0)) {
    throw bad_input("relative_attention_bias", std::to_string(spec.num_buckets) +
                                                   " buckets cannot be split as T5 splits them (at least 2, and an even "
                                                   "count of at least 4 for a bidirectional table)");
  }
  const std::int64_t exact = (spec.bidirectional ? spec.num_buckets / 2 : spec.num_buckets) / 2;
  if (spec.max_distance <= exact || spec.max_distance > (std::int64_t{1} << 40)) {
    throw bad_input("--max-distance " + std::to_string(spec.max_distance),
                    "must be above the " + std::to_string(exact) + " exact buckets", "T5 uses 128");
  }
}

at::Tensor t5_bias_matrix(const at::Tensor& table, const T5Spec& spec, std::int64_t n) {
  const at::Tensor position = at::arange(n, at::kLong);
  const at::Tensor relative = position.unsqueeze(0) - position.unsqueeze(1);  // [query, key]: key - query
  const at::Tensor bucket = t5_bucket(relative, spec.bidirectional, spec.num_buckets, spec.max_distance);
  at::Tensor bias = table.to(at::kFloat).index_select(0, bucket.flatten()).view({n, n, table.size(1)});
  bias = bias.permute({2, 0, 1}).contiguous();
  if (!spec.bidirectional) {
    // A decoder's own causal mask hides the keys after the query.
    bias.masked_fill_((relative > 0).unsqueeze(0), std::numeric_limits<float>::quiet_NaN());
  }
  return bias;
}

std::int64_t swin_window_of_table(std::int64_t rows) {
  for (std::int64_t w = 1; (2 * w - 1) * (2 * w - 1) <= rows; ++w) {
    if ((2 * w - 1) * (2 * w - 1) == rows) return w;
  }
  return 0;
}

at::Tensor swin_relative_index(std::int64_t window) {
  const std::int64_t n = window * window, side = 2 * window - 1;
  at::Tensor index = at::empty({n, n}, at::kLong);
  std::int64_t* out = index.data_ptr<std::int64_t>();
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t b = 0; b < n; ++b) {
      const std::int64_t dh = a / window - b / window + window - 1, dw = a % window - b % window + window - 1;
      out[a * n + b] = dh * side + dw;
    }
  }
  return index;
}

at::Tensor swin_bias_maps(const at::Tensor& table, const std::optional<at::Tensor>& index) {
  const std::int64_t rows = table.size(0), heads = table.size(1);
  at::Tensor flat;
  if (index) {
    if (at::isFloatingType(index->scalar_type()) || index->scalar_type() == at::kBool) {
      throw bad_input("relative_position_index", "the index holds " + std::string(c10::toString(index->scalar_type())) +
                                                     " values, not whole numbers");
    }
    flat = index->flatten().to(at::kLong);
  } else {
    const std::int64_t window = swin_window_of_table(rows);
    if (window == 0) {
      throw bad_input("relative_position_bias_table",
                      std::to_string(rows) + " rows are not (2W-1)^2 for a square window, and the model has no "
                                             "relative_position_index beside it");
    }
    flat = swin_relative_index(window).flatten();
  }
  const auto n = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(flat.numel()))));
  if (n * n != flat.numel() || n == 0) {
    throw bad_input("relative_position_index", std::to_string(flat.numel()) + " entries are not N x N");
  }
  if (flat.min().item<std::int64_t>() < 0 || flat.max().item<std::int64_t>() >= rows) {
    throw bad_input("relative_position_index", "an entry lies outside the table's " + std::to_string(rows) + " rows");
  }
  return table.to(at::kFloat).index_select(0, flat).view({n, n, heads}).permute({2, 0, 1}).contiguous();
}

}  // namespace pevis
