#include "pevis/io/load.h"
#include "pevis/summary/summary.h"

#include <gtest/gtest.h>

#include <ATen/ops/cat.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "pevis/encoding/encoding.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;

nlohmann::json expected() { return nlohmann::json::parse(test::read_file(kData + "/summary.expected.json")); }

at::Tensor input_for(const nlohmann::json& e) {
  const auto shape = e["input_shape"].get<std::vector<std::int64_t>>();
  if (e["input_dtype"] == "torch.int64") {
    // The same tokens the fixture script used.
    if (shape[1] == 1) return at::tensor({1, 5, 9, 2, 7, 3}, at::kLong).reshape(shape);
    return at::tensor({1, 2, 3, 4, 5}, at::kLong).reshape(shape);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  return at::randn(shape, gen);
}

const SummaryRow& row(const Summary& s, const std::string& path) {
  for (const auto& r : s.rows) {
    if (r.path == path) return r;
  }
  throw std::runtime_error("no row " + path);
}

TEST(Summary, TotalsAndShapesEqualPyTorchs) {
  const auto all = expected();
  for (const auto& [file, e] : all.items()) {
    SCOPED_TRACE(file);
    const Model model = load_model(kData + "/" + file);
    const std::vector<c10::IValue> inputs = {input_for(e)};
    const Summary s = summarize(model, &inputs);
    EXPECT_TRUE(s.totals.forward);
    EXPECT_EQ(s.totals.params, e["total_params"].get<std::int64_t>());
    EXPECT_EQ(s.totals.trainable, e["trainable_params"].get<std::int64_t>());
    EXPECT_EQ(s.totals.non_trainable, s.totals.params - s.totals.trainable);
    EXPECT_EQ(s.totals.buffers, e["buffers"].get<std::int64_t>());
    std::int64_t sum = 0;
    for (const auto& r : s.rows) sum += r.own_params;
    EXPECT_EQ(sum, s.totals.params);
    EXPECT_EQ(row(s, "").subtree_params, s.totals.params);
    for (const auto& [path, shape] : e["outputs"].items()) {
      const auto& r = row(s, path);
      ASSERT_FALSE(r.outputs.empty()) << path << " has no output shape";
      EXPECT_EQ(r.outputs[0], shape.get<std::vector<std::int64_t>>()) << path;
    }
  }
}

TEST(Summary, TiedWeightsCountOnce) {
  const Model model = load_model(kData + "/summary_tied.pt");
  const Summary s = summarize(model, nullptr);
  EXPECT_FALSE(s.totals.forward);
  // embed.weight is out.weight: 50x16 once, not twice.
  EXPECT_EQ(s.totals.params, 50 * 16 + (16 * 16 + 16) + 50);
  EXPECT_EQ(row(s, "out").own_params, 50);  // only its bias: the weight was counted at embed
}

TEST(Summary, MultAddsOfALinearAndAnAttentionLayerMatchAHandComputation) {
  const Model model = load_model(kData + "/word_lm.pt");
  const std::vector<c10::IValue> inputs = {at::tensor({1, 5, 9, 2, 7, 3}, at::kLong).reshape({6, 1})};
  const Summary s = summarize(model, &inputs);
  const std::int64_t S = 6, E = 32, H = 4, V = 40;
  // decoder: every one of S positions times a 32 -> 40 product.
  EXPECT_EQ(row(s, "decoder").subtree_mult_adds, S * E * V);
  // One attention layer: the in-projection (3E outputs), QK^T and AV per
  // head (S x S x E/H each), and the out-projection.
  const std::int64_t attention = S * E * 3 * E + 2 * H * S * S * (E / H) + S * E * E;
  EXPECT_EQ(row(s, "transformer_encoder.layers.0.self_attn").subtree_mult_adds, attention);
  EXPECT_EQ(row(s, "").subtree_mult_adds, s.totals.mult_adds);
}

TEST(Summary, CheckpointsGiveAParameterTreeFromTheirNames) {
  const Summary s = summarize(load_model(kData + "/simple_net.state.pt"), nullptr);
  EXPECT_EQ(s.totals.params, 10 * 20 + 20 + 20 * 10 + 10);
  EXPECT_EQ(row(s, "fc1").own_params, 220);
  EXPECT_EQ(row(s, "fc2").depth, 1);
}

// Older transformers saved GPT-2's masked_bias (a float scalar) with the
// weights; rotary inv_freq and batch-norm statistics are float too. In a
// weights-only file they are buffers by their names, in any dtype.
TEST(Summary, FloatBuffersOfWeightsOnlyFilesAreKnownByTheirNames) {
  test::TempDir dir;
  const auto path = dir / "gpt2_old.safetensors";
  test::write_safetensors(path, {{"h.0.attn.c_attn.weight", "F32", {4, 12}, ""},
                                 {"h.0.attn.c_attn.bias", "F32", {12}, ""},
                                 {"h.0.attn.masked_bias", "F32", {}, ""},
                                 {"h.0.attn.bias", "U8", {1, 1, 4, 4}, ""},
                                 {"h.0.rotary.inv_freq", "F32", {2}, ""},
                                 {"h.0.bn.weight", "F32", {3}, ""},
                                 {"h.0.bn.running_mean", "F16", {3}, ""},
                                 {"h.0.bn.running_var", "BF16", {3}, ""},
                                 {"h.0.bn.num_batches_tracked", "I64", {}, ""},
                                 {"h.0.mlp.masked_bias_scale", "F32", {5}, ""}});
  const Summary s = summarize(load_model(path.string()), nullptr);
  // c_attn (48 + 12), the norm's weight (3) and a name that only starts like a buffer's (5).
  EXPECT_EQ(s.totals.params, 48 + 12 + 3 + 5);
  EXPECT_EQ(s.totals.buffers, 1 + 16 + 2 + 3 + 3 + 1);
  EXPECT_EQ(row(s, "h.0.attn").subtree_params, 60);  // masked_bias beside c_attn is no parameter
  EXPECT_EQ(s.buffers.size(), 6u);
}

TEST(MultAdds, Formulas) {
  EXPECT_EQ(mult_adds_of("aten::linear", "", {{2, 5, 8}, {3, 8}}, {2, 5, 3}), 2 * 5 * 3 * 8);
  EXPECT_EQ(mult_adds_of("aten::matmul", "", {{4, 6, 8}, {4, 8, 6}}, {4, 6, 6}), 4 * 6 * 6 * 8);
  EXPECT_EQ(mult_adds_of("aten::matmul", "", {{8}, {8}}, {}), 8);
  EXPECT_EQ(mult_adds_of("aten::bmm", "", {{4, 6, 8}, {4, 8, 5}}, {4, 6, 5}), 4 * 6 * 5 * 8);
  EXPECT_EQ(mult_adds_of("aten::baddbmm", "", {{4, 6, 5}, {4, 6, 8}, {4, 8, 5}}, {4, 6, 5}), 4 * 6 * 5 * 8);
  EXPECT_EQ(mult_adds_of("aten::addmm", "", {{5}, {6, 8}, {8, 5}}, {6, 5}), 6 * 5 * 8);
  EXPECT_EQ(mult_adds_of("aten::einsum", "nqhd,nkhd->nhqk", {{1, 6, 4, 8}, {1, 7, 4, 8}}, {1, 4, 6, 7}), 6 * 4 * 8 * 7);
  EXPECT_EQ(mult_adds_of("aten::conv2d", "", {{1, 3, 16, 16}, {8, 3, 3, 3}}, {1, 8, 16, 16}), 8 * 16 * 16 * 27);
  EXPECT_EQ(mult_adds_of("aten::relu", "", {{4}}, {4}), 0);
}

TEST(PositionalTables, FoundAndCheckedAgainstTheSinusoid) {
  const Model model = load_model(kData + "/word_lm.pt");
  const auto candidates = find_positional_tables(model);
  ASSERT_FALSE(candidates.empty());
  EXPECT_EQ(candidates[0].name, "pos_encoder.pe");
  EXPECT_EQ(candidates[0].shape, (std::vector<std::int64_t>{5000, 1, 32}));
  const at::Tensor table = positional_table(model, "pos_encoder.pe");
  EXPECT_EQ(table.sizes(), (std::vector<std::int64_t>{5000, 32}));
  const SinusoidCheck check = compare_with_sinusoid(table, 10000.0);
  ASSERT_TRUE(check.comparable);
  EXPECT_LE(check.deviation, 1e-6);  // PyTorch computed it in Python; pevis in C++
}

TEST(PositionalTables, WrongLayoutsAreCaught) {
  const at::Tensor ideal = sinusoidal_table({16, 40, 10000.0});
  // Sin and cos halves instead of interleaved.
  const at::Tensor halves = at::cat({ideal.slice(1, 0, 16, 2), ideal.slice(1, 1, 16, 2)}, 1);
  auto check = compare_with_sinusoid(halves, 10000.0);
  EXPECT_GT(check.deviation, 0.5);
  EXPECT_EQ(check.closest, "halves");
  EXPECT_LE(check.closest_deviation, 1e-6);
  // Stored transposed: [16 positions, 40 dims] read as a table.
  check = compare_with_sinusoid(sinusoidal_table({40, 16, 10000.0}).t().contiguous(), 10000.0);
  EXPECT_EQ(check.closest, "transposed");
  EXPECT_GT(check.deviation, 0.5);
  // A wrong base is not sinusoidal at all.
  check = compare_with_sinusoid(sinusoidal_table({16, 40, 100.0}), 10000.0);
  EXPECT_GT(check.deviation, 0.1);
  EXPECT_FALSE(compare_with_sinusoid(at::randn({5, 7}), 10000.0).comparable);
}

}  // namespace
}  // namespace pevis
