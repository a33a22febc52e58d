#pragma once
// Reading the references PyTorch wrote (JSON) into tensors, for the tests
// that compare against them.

#include <ATen/TensorOperators.h>
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pevis/attention/attention.h"

#include <functional>
#include <vector>

namespace pevis::test {

/// {"dtype": "long"|"float", "shape": [...], "values": [...]} as a tensor.
inline at::Tensor tensor_of(const nlohmann::json& j) {
  const auto shape = j["shape"].get<std::vector<std::int64_t>>();
  if (j["dtype"] == "long") return at::tensor(j["values"].get<std::vector<std::int64_t>>()).reshape(shape);
  return at::tensor(j["values"].get<std::vector<float>>()).reshape(shape);
}

/// Nested lists of numbers (a tensor's tolist()) as a float tensor.
inline at::Tensor nested_to_tensor(const nlohmann::json& j) {
  std::vector<std::int64_t> shape;
  for (const nlohmann::json* p = &j; p->is_array(); p = &(*p)[0]) shape.push_back(static_cast<std::int64_t>(p->size()));
  std::vector<float> flat;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& x) {
    if (x.is_array()) {
      for (const auto& item : x) walk(item);
    } else {
      flat.push_back(x.get<float>());
    }
  };
  walk(j);
  return at::tensor(flat).reshape(shape);
}

/// Every captured site has a reference (keyed by module path) of its shape,
/// and every head equals it within 1e-5.
inline void expect_sites_equal(const std::vector<AttentionSite>& sites, const nlohmann::json& want) {
  ASSERT_EQ(sites.size(), want.size());
  for (const auto& site : sites) {
    SCOPED_TRACE(site.name);
    ASSERT_TRUE(want.contains(site.path)) << "a site PyTorch does not have: " << site.path;
    const at::Tensor reference = nested_to_tensor(want[site.path]);
    ASSERT_EQ(site.weights.sizes(), reference.sizes());
    EXPECT_EQ(site.heads, reference.size(1));
    for (std::int64_t h = 0; h < site.heads; ++h) {
      const double worst = (site.weights.select(1, h) - reference.select(1, h)).abs().max().item<double>();
      EXPECT_LT(worst, 1e-5) << "head " << h;
    }
  }
}

}  // namespace pevis::test
