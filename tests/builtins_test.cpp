#include "pevis/io/load.h"
#include "pevis/io/builtins.h"

#include <gtest/gtest.h>

#include <iostream>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/tensor.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include "pevis/attention/attention.h"
#include "pevis/bias/bias.h"
#include "pevis/capture/forward.h"
#include "pevis/encoding/encoding.h"
#include "pevis/base/error.h"
#include "pevis/io/model.h"
#include "test_util.h"

namespace pevis {
namespace {

// The built-ins train into a cache: the tests' own (shared by every test of
// a run, tests/CMakeLists.txt), never the user's.
class Builtins : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("XDG_CACHE_HOME", PEVIS_TEST_CACHE, 1); }
};

nlohmann::json expected() {
  return nlohmann::json::parse(test::read_file(std::string(PEVIS_TEST_DATA) + "/builtins.expected.json"));
}

at::Tensor input_of(const nlohmann::json& e) {
  const auto shape = e["input_shape"].get<std::vector<std::int64_t>>();
  if (e["input_dtype"] == "torch.int64") {
    return at::tensor(e["input"].get<std::vector<std::int64_t>>(), at::kLong).reshape(shape);
  }
  return at::tensor(e["input"].get<std::vector<float>>(), at::kFloat).reshape(shape);
}

TEST_F(Builtins, EveryOneRunsAndRoundTripsThroughExport) {
  const auto e = expected();
  for (const auto& info : builtin_list()) {
    SCOPED_TRACE(info.name);
    const Model model = load_model(std::string(kBuiltinPrefix) + info.name);
    EXPECT_EQ(model.format, "TorchScript");
    ASSERT_TRUE(model.module);
    const at::Tensor x = input_of(e[info.name]);
    const at::Tensor y = plain_forward(model, {x}).toTensor();
    // Saved and loaded again: the same outputs, bit for bit.
    test::TempDir dir;
    const std::string path = (dir / "m.pt").string();
    model.module->save(path);
    torch::jit::Module loaded = torch::jit::load(path);
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(loaded.forward({x}).toTensor(), y));
    // Python's torch.jit.load read pevis's export of it and computed this
    // (make_fixtures.py). The trained reverse model is checked by behaviour.
    if (info.name != "reverse") {
      const at::Tensor python =
          at::tensor(e[info.name]["output"].get<std::vector<float>>()).reshape(e[info.name]["output_shape"].get<std::vector<std::int64_t>>());
      EXPECT_TRUE(at::allclose(y, python, 1e-4, 1e-5)) << (y - python).abs().max();
    }
  }
}

TEST_F(Builtins, UnknownNamesListTheKnownOnes) {
  try {
    load_model("builtin:nope");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(error.what()).find("reverse"), std::string::npos);
  }
}

TEST_F(Builtins, TrainingMovesTheSimpleNetsBiases) {
  const auto before = find_biases(load_model("builtin:simple-net"), {});
  const auto after = find_biases(load_model("builtin:simple-net-trained"), {});
  const auto cmp = compare_biases(before, after);
  ASSERT_EQ(cmp.common.size(), 2u);
  for (const auto& pair : cmp.common) EXPECT_NE(pair.before, pair.after) << pair.name;
}

TEST_F(Builtins, TransformerLmHoldsTheSinusoidalTable) {
  const Model lm = load_model("builtin:transformer-lm");
  const NamedTensor* pe = nullptr;
  for (const auto& t : lm.tensors) {
    if (t.name == "pos_encoder.pe") pe = &t;
  }
  ASSERT_NE(pe, nullptr);
  EXPECT_EQ(pe->kind, "buffer");
  EXPECT_EQ(pe->tensor().sizes(), (std::vector<std::int64_t>{5000, 1, 64}));
  EXPECT_TRUE(at::equal(pe->tensor().squeeze(1), sinusoidal_table({64, 5000, 10000.0})));
  // Its attention: two causal layers of four heads, found by their module paths.
  const auto sites = capture_attention(lm, {at::tensor({2, 4, 6, 8, 2, 10}, at::kLong).reshape({6, 1})});
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].name, "transformer_encoder.layers.0.self_attn");
  EXPECT_EQ(sites[0].heads, 4);
  EXPECT_EQ(sites[1].weights[0].triu(1).abs().max().item<float>(), 0.0f);
}

// CTest runs this first (a fixture): it trains builtin:reverse into the
// tests' cache, which the other tests then read.
TEST_F(Builtins, ReverseLearnsItsTaskAndAttendsBackwards) {
  std::filesystem::remove(cache_dir() + "/builtin-reverse-v1.pt");
  const ReverseReport report = reverse_report();
  EXPECT_GE(report.sequence_accuracy, 0.95);
  EXPECT_FALSE(report.cached);  // trained here
  EXPECT_EQ(report.cache_path, cache_dir() + "/builtin-reverse-v1.pt");
  EXPECT_LT(report.seconds, 60.0);
  EXPECT_TRUE(reverse_report().cached);

  // Once captured, the attention of output position i sits on input
  // position 7-i: measured over 256 random sequences.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor x = at::randint(10, {256, 8}, gen, at::kLong);
  const auto sites = capture_attention(load_model("builtin:reverse"), {x});
  ASSERT_EQ(sites.size(), 1u);
  const at::Tensor w = sites[0].weights.select(1, 0);  // [256, 8, 8]
  const double on_anti_diagonal = w.flip({2}).diagonal(0, 1, 2).sum().item<double>() / w.sum().item<double>();
  // Training reaches about 0.95; the bound leaves room for other machines' rounding.
  EXPECT_GT(on_anti_diagonal, 0.85) << on_anti_diagonal;
  RecordProperty("anti_diagonal_mass", std::to_string(on_anti_diagonal));
  std::cout << "builtin:reverse: " << on_anti_diagonal << " of the attention on the anti-diagonal, "
            << report.sequence_accuracy << " sequence accuracy\n";
}

}  // namespace
}  // namespace pevis
