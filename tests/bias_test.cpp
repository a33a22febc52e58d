#include "pevis/bias/bias.h"

#include <gtest/gtest.h>

#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <cmath>

namespace pevis {
namespace {

TEST(BiasStats, MatchesAHandComputation) {
  const BiasStats s = bias_stats({1, 2, 3, 4});
  EXPECT_EQ(s.size, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(5.0 / 3.0));  // n-1, as torch.std
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.l2, std::sqrt(30.0));
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
  EXPECT_DOUBLE_EQ(s.p25, 1.75);  // linear, as torch.quantile
  EXPECT_NEAR(s.p5, 1.15, 1e-12);
  EXPECT_NEAR(s.p95, 3.85, 1e-12);
  EXPECT_EQ(s.nonfinite, 0u);
}

TEST(BiasStats, CountsNonFiniteAndDescribesTheRest) {
  const BiasStats s = bias_stats({1, NAN, 3, INFINITY, -INFINITY});
  EXPECT_EQ(s.size, 5u);
  EXPECT_EQ(s.nonfinite, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 2);
  EXPECT_DOUBLE_EQ(s.max, 3);
  const BiasStats none = bias_stats({NAN});
  EXPECT_EQ(none.nonfinite, 1u);
  EXPECT_TRUE(std::isnan(none.mean));
  EXPECT_DOUBLE_EQ(bias_stats({7}).std, 0);
}

Model toy_model() {
  Model m;
  m.tensors.push_back({"enc.weight", at::ones({3, 3}), "tensor"});
  m.tensors.push_back({"enc.bias", at::tensor({1.0f, 2.0f, 3.0f}), "tensor"});
  m.tensors.push_back({"norm.weight", at::tensor({1.0f, 1.0f}), "tensor"});
  m.tensors.push_back({"attn.in_proj_bias", at::tensor({0.5f}).to(at::kHalf), "tensor"});
  m.tensors.push_back({"odd.bias", at::zeros({2, 2}), "tensor"});  // 2-D: not a vector
  m.tensors.push_back({"dec.bias", at::tensor({-1.0f}), "tensor"});
  return m;
}

std::vector<std::string> names(const std::vector<BiasVector>& biases) {
  std::vector<std::string> out;
  for (const auto& b : biases) out.push_back(b.name);
  return out;
}

TEST(FindBiases, SelectsOneDimensionalBiasesInOrder) {
  const auto found = find_biases(toy_model(), {});
  EXPECT_EQ(names(found), (std::vector<std::string>{"enc.bias", "attn.in_proj_bias", "dec.bias"}));
  EXPECT_EQ(found[0].values, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(found[1].values, (std::vector<float>{0.5f}));  // fp16 widened
  EXPECT_EQ(names(find_biases(toy_model(), {std::regex("weight$"), std::nullopt})),
            (std::vector<std::string>{"norm.weight"}));
  EXPECT_EQ(names(find_biases(toy_model(), {std::nullopt, std::regex("^(enc|dec)")})),
            (std::vector<std::string>{"enc.bias", "dec.bias"}));
}

TEST(CanonicalName, RemovesCheckpointWrappersOnly) {
  EXPECT_EQ(canonical_name("fc1.bias"), "fc1.bias");
  EXPECT_EQ(canonical_name("model.fc1.bias"), "fc1.bias");
  EXPECT_EQ(canonical_name("0.state_dict.fc1.bias"), "fc1.bias");
  EXPECT_EQ(canonical_name("module.layers.0.bias"), "layers.0.bias");
  EXPECT_EQ(canonical_name("layers.0.bias"), "layers.0.bias");
  EXPECT_EQ(canonical_name("model.bias"), "model.bias");
  EXPECT_EQ(canonical_name("bias"), "bias");
}

TEST(CompareBiases, PairsByNameAndReportsTheRest) {
  const std::vector<BiasVector> before = {{"a.bias", {1, 2}}, {"b.bias", {1}}, {"c.bias", {0}}};
  const std::vector<BiasVector> after = {{"model.a.bias", {1.5f, 2}}, {"b.bias", {1, 2}}, {"d.bias", {3}}};
  const BiasComparison cmp = compare_biases(before, after);
  ASSERT_EQ(cmp.common.size(), 1u);
  EXPECT_EQ(cmp.common[0].name, "a.bias");
  EXPECT_EQ(cmp.common[0].after, (std::vector<float>{1.5f, 2}));
  EXPECT_EQ(cmp.resized, (std::vector<std::string>{"b.bias: 1 -> 2"}));
  EXPECT_EQ(cmp.only_before, (std::vector<std::string>{"c.bias"}));
  EXPECT_EQ(cmp.only_after, (std::vector<std::string>{"d.bias"}));
}

}  // namespace
}  // namespace pevis
