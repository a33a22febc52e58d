#include "pevis/io/load.h"
#include "pevis/attention/attention.h"

#include <gtest/gtest.h>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>
#include <nlohmann/json.hpp>

#include "pevis/capture/forward.h"
#include "pevis/base/error.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kData = PEVIS_TEST_DATA;

nlohmann::json expected() { return nlohmann::json::parse(test::read_file(kData + "/attention.expected.json")); }

std::vector<c10::IValue> token_input(const nlohmann::json& e, bool batch_first) {
  std::vector<std::int64_t> ids = e["tokens"].get<std::vector<std::int64_t>>();
  const auto n = static_cast<std::int64_t>(ids.size());
  at::Tensor t = at::tensor(ids, at::TensorOptions().dtype(at::kLong));
  return {batch_first ? t.reshape({1, n}) : t.reshape({n, 1})};
}

// Captured weights equal PyTorch's need_weights=True, average_attn_weights=False
// output (or the module's own softmax) to 1e-5, site by site.
void expect_pytorch_weights(const std::string& file, bool batch_first, const std::vector<std::string>& names) {
  const auto e = expected();
  const auto& want = e[file]["sites"];
  const Model model = load_model(kData + "/" + file);
  const auto sites = capture_attention(model, token_input(e, batch_first));
  ASSERT_EQ(sites.size(), want.size()) << file;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    EXPECT_EQ(sites[i].name, names[i]);
    const auto& w = want[sites[i].path];
    ASSERT_FALSE(w.is_null()) << file << ": unexpected site " << sites[i].path;
    ASSERT_EQ(sites[i].weights.dim(), 4);
    EXPECT_EQ(sites[i].heads, 4);
    const at::Tensor got = sites[i].weights;
    double worst = 0;
    for (std::int64_t h = 0; h < 4; ++h)
      for (std::int64_t q = 0; q < got.size(2); ++q)
        for (std::int64_t k = 0; k < got.size(3); ++k)
          worst = std::max(worst, std::fabs(got[0][h][q][k].item<double>() - w[0][h][q][k].get<double>()));
    EXPECT_LT(worst, 1e-5) << file << " " << sites[i].name;
  }
}

TEST(Attention, MultiheadAttentionCalledWithoutWeights) {
  expect_pytorch_weights("attn_mha.pt", false, {"attn"});
}

TEST(Attention, StockTransformerEncoderInEvalMode) {
  expect_pytorch_weights("attn_encoder.pt", false, {"encoder.layers.0.self_attn", "encoder.layers.1.self_attn"});
}

TEST(Attention, StockBatchFirstEncoderThatRunsFusedKernels) {
  expect_pytorch_weights("attn_encoder_batch_first.pt", true,
                         {"encoder.layers.0.self_attn", "encoder.layers.1.self_attn"});
}

TEST(Attention, StockTransformerWithDecoderAndCrossAttention) {
  expect_pytorch_weights("attn_transformer.pt", false,
                         {"transformer.encoder.layers.0.self_attn", "transformer.decoder.layers.0.self_attn",
                          "transformer.decoder.layers.0.multihead_attn"});
}

TEST(Attention, StockTransformerEncoderWithCausalMask) {
  expect_pytorch_weights("attn_encoder_causal.pt", false, {"encoder.layers.0.self_attn", "encoder.layers.1.self_attn"});
  // Causal: no query attends to a later key.
  const Model model = load_model(kData + "/attn_encoder_causal.pt");
  for (const auto& site : capture_attention(model, token_input(expected(), false))) {
    EXPECT_EQ(site.weights[0].triu(/*diagonal=*/1).abs().max().item<float>(), 0.0f);
  }
}

TEST(Attention, HandWrittenFourDimensionalSoftmax) {
  expect_pytorch_weights("attn_selfattention.pt", true, {"model"});
}

TEST(Attention, CapturingDoesNotChangeTheOutput) {
  const auto e = expected();
  for (const auto& [file, batch_first] : std::vector<std::pair<std::string, bool>>{
           {"attn_mha.pt", false}, {"attn_encoder.pt", false}, {"attn_encoder_causal.pt", false}, {"attn_encoder_batch_first.pt", true}, {"attn_transformer.pt", false},
           {"attn_selfattention.pt", true}}) {
    const Model model = load_model(kData + "/" + file);
    const auto inputs = token_input(e, batch_first);
    c10::IValue captured;
    capture_attention(model, inputs, &captured);
    const at::Tensor plain = plain_forward(model, inputs).toTensor();
    const at::Tensor with_capture = captured.toTensor();
    // The explicit path computes what the fused kernels compute, up to rounding.
    EXPECT_TRUE(at::allclose(with_capture, plain, /*rtol=*/1e-5, /*atol=*/1e-5)) << file;
    // And both agree with the output PyTorch computed in Python.
    const auto want = e[file]["output"].get<std::vector<float>>();
    const at::Tensor python = at::tensor(want).reshape(plain.sizes());
    EXPECT_TRUE(at::allclose(plain, python, 1e-5, 1e-5)) << file;
    // Capturing only the recorder, with the model's own paths, changes nothing at all.
    const auto raw = capture_forward(model, inputs, {"aten::softmax"}, /*explicit_paths=*/false);
    EXPECT_TRUE(at::equal(raw.output.toTensor(), plain)) << file;
  }
}

TEST(Attention, StockLayersHideTheSoftmaxWithoutForcing) {
  // In eval mode without autograd the stock encoder takes fused kernels that
  // never form the softmax: the reason capture forces the explicit path.
  const Model model = load_model(kData + "/attn_encoder_batch_first.pt");
  const auto raw = capture_forward(model, token_input(expected(), true), {"aten::softmax"}, /*explicit_paths=*/false);
  EXPECT_TRUE(raw.captured.empty());
}

TEST(Attention, ModelsWithoutAForwardOrWithTheWrongInputAreRefused) {
  const Model state = load_model(kData + "/simple_net.state.pt");
  try {
    capture_attention(state, token_input(expected(), false));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("TorchScript"), std::string::npos) << e.what();
  }
  const Model model = load_model(kData + "/attn_encoder.pt");
  try {
    capture_attention(model, {at::ones({2, 3}, at::kFloat)});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("forward takes (tokens: Tensor)"), std::string::npos) << e.what();
  }
  try {
    capture_attention(model, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gives it 0 inputs"), std::string::npos) << e.what();
  }
}

TEST(Rollout, MatchesAHandComputation) {
  const at::Tensor a1 = at::tensor({1.0f, 0.0f, 0.5f, 0.5f}).reshape({2, 2});
  const at::Tensor a2 = at::tensor({0.5f, 0.5f, 0.0f, 1.0f}).reshape({2, 2});
  // (A+I) renormalised: [[1, 0], [.25, .75]] and [[.75, .25], [0, 1]]; their product, second layer on the left.
  const at::Tensor r = attention_rollout({a1, a2});
  const at::Tensor want = at::tensor({0.8125f, 0.1875f, 0.25f, 0.75f}).reshape({2, 2});
  EXPECT_TRUE(at::allclose(r, want, 1e-6, 1e-6)) << r;
  EXPECT_THROW(attention_rollout({a1, at::ones({3, 3})}), Error);
  EXPECT_THROW(attention_rollout({}), Error);
}

TEST(Rollout, FusesHeads) {
  const at::Tensor heads = at::tensor({1.0f, 3.0f, 3.0f, 1.0f}).reshape({2, 1, 2});
  EXPECT_TRUE(at::equal(fuse_heads(heads, Fusion::kMean), at::tensor({2.0f, 2.0f}).reshape({1, 2})));
  EXPECT_TRUE(at::equal(fuse_heads(heads, Fusion::kMax), at::tensor({3.0f, 3.0f}).reshape({1, 2})));
  EXPECT_TRUE(at::equal(fuse_heads(heads, Fusion::kMin), at::tensor({1.0f, 1.0f}).reshape({1, 2})));
}

}  // namespace
TEST(Capture, FailedForwardsSayWhatTheFirstLayerTakes) {
  EXPECT_EQ(first_layer_expects(load_model(kData + "/positions/swin_tiny.scripted.pt")), "features.0.0 expects [N, 3, H, W]");
  EXPECT_EQ(first_layer_expects(load_model(kData + "/word_lm.pt")), "encoder takes token ids (give them with --input)");
  EXPECT_EQ(first_layer_expects(load_model(kData + "/simple_net.script.pt")), "fc1 expects [..., 10]");
  EXPECT_EQ(first_layer_expects(load_model(kData + "/simple_net.safetensors")), "fc1 expects [..., 10]");
  const Model vit = load_model(kData + "/torch2/v113_vit_trace_grad_b2.pt");
  try {
    capture_attention(vit, {at::ones({1, 3, 32})});
    ADD_FAILURE() << "a 3-D input ran through a 2-D convolution";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("conv_proj expects [N, 3, H, W]"), std::string::npos) << e.what();
  }
}

// Work started with torch.jit.fork runs a subgraph of its own, on another
// thread: pevis does not look into it. What the forward computes outside it
// is captured, also after the `wait`, where the interpreter resumes the
// forward on another thread (recorders with thread-local slots lost it); a
// capture that finds attention only inside forked work is refused in one
// line instead of showing nothing.
TEST(Capture, ForkedWorkIsNotLookedIntoAndSaysSo) {
  // Scripted by PyTorch (make_fixtures.py): attend(x) in a forked task, and
  // again in forward itself (attn_forked.pt) or not (attn_forked_only.pt).
  const auto forked_model = [](bool also_here) {
    return load_model(kData + (also_here ? "/attn_forked.pt" : "/attn_forked_only.pt"));
  };
  const at::Tensor x = at::ones({1, 3, 4});
  const CaptureResult both = capture_forward(forked_model(true), {x}, {"aten::softmax"});
  EXPECT_EQ(both.forked, 1u);
  ASSERT_EQ(both.captured.size(), 1u);  // the softmax of forward's own call, not the forked one
  EXPECT_EQ(both.captured[0].values.size(), 1u);
  EXPECT_EQ(capture_attention(forked_model(true), {x}).size(), 1u);
  try {
    capture_attention(forked_model(false), {x});
    ADD_FAILURE() << "attention only inside forked work was not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("torch.jit.fork"), std::string::npos) << e.what();
  }
}

}  // namespace pevis
