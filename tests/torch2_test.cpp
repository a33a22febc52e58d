// Models saved by PyTorch 2.6 (and traced by 1.13 to run its fused kernels):
// they load, their attention equals PyTorch's own, their output is PyTorch's.
// The fixtures and references are made by tests/data/torch2/make.sh.
#include <gtest/gtest.h>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones_like.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/Context.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <nlohmann/json.hpp>

#include "pevis/io/load.h"
#include "pevis/attention/attention.h"
#include "pevis/capture/forward.h"
#include "pevis/base/error.h"
#include "pevis/operators/added_ops.h"
#include "pevis/operators/attention_ops.h"
#include <torch/csrc/jit/runtime/operator.h>

#include <set>
#include <sstream>
#include "pevis/summary/summary.h"
#include "reference.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kDir = std::string(PEVIS_TEST_DATA) + "/torch2/";

const nlohmann::json& expected(const std::string& tag) {
  static std::map<std::string, nlohmann::json> cache;
  auto found = cache.find(tag);
  if (found == cache.end()) {
    found = cache.emplace(tag, nlohmann::json::parse(test::read_file(kDir + "expected_" + tag + ".json"))).first;
  }
  return found->second;
}

using test::nested_to_tensor;
using test::tensor_of;

// Every site equals PyTorch's weights within 1e-5, head by head, and the
// model's output (capturing or not) equals PyTorch's within 1e-5.
void expect_as_pytorch(const std::string& tag, const std::string& file) {
  SCOPED_TRACE(file);
  const auto& e = expected(tag)["models"][file];
  ASSERT_FALSE(e.is_null()) << "no reference for " << file;
  const Model model = load_model(kDir + file);
  const std::vector<c10::IValue> inputs = {tensor_of(e["input"])};
  c10::IValue output;
  const auto sites = capture_attention(model, inputs, &output);
  test::expect_sites_equal(sites, e["sites"]);
  const at::Tensor python = tensor_of(e["output"]);
  EXPECT_TRUE(at::allclose(output.toTensor(), python, /*rtol=*/1e-5, /*atol=*/1e-5));
  EXPECT_TRUE(at::allclose(plain_forward(model, inputs).toTensor(), python, 1e-5, 1e-5));
}

// Every form of a scaled_dot_product_attention call the registry claims, as
// PyTorch 2.6 saves it (tests/data/torch2/make_sdpa_forms.py): eight
// arguments or seven or six, enable_gqa true, false or absent, a scale or
// none, a causal flag, a bool or a float mask; scripted, traced with and
// without grad, and exported. Each equals PyTorch's weights and output.
TEST(Torch2, EveryFormOfAnSdpaCallIsCapturedAsPyTorchComputesIt) {
  std::size_t scripts = 0, traces = 0, programs = 0;
  for (const auto& [file, e] : expected("forms")["models"].items()) {
    expect_as_pytorch("forms", file);
    scripts += file.find("_script.pt") != std::string::npos;
    traces += file.find("_trace_") != std::string::npos;
    programs += file.find(".pt2") != std::string::npos;
  }
  EXPECT_EQ(scripts, 6u);
  EXPECT_EQ(traces, 12u);
  EXPECT_EQ(programs, 6u);
}

TEST(Torch2, StockLayersScriptedByPyTorch26) {
  for (const char* file : {"v26_mha.pt", "v26_encoder_post.pt", "v26_encoder_pre.pt", "v26_word_lm.pt",
                           "v26_vit_script.pt"}) {
    expect_as_pytorch("v26", file);
  }
}

TEST(Torch2, ModelsTracedByPyTorch26WithAndWithoutGrad) {
  for (const char* file : {"v26_vit_trace_grad.pt", "v26_encoder_trace_grad.pt", "v26_vit_trace_nograd.pt",
                           "v26_vit_trace_nograd_b2.pt", "v26_encoder_post_trace_nograd.pt",
                           "v26_encoder_post_trace_nograd_b2.pt", "v26_encoder_pre_trace_nograd.pt"}) {
    expect_as_pytorch("v26", file);
  }
}

TEST(Torch2, ModelsTracedByPyTorch113RunningFusedKernels) {
  for (const char* file : {"v113_vit_trace_nograd.pt", "v113_vit_trace_nograd_b2.pt", "v113_vit_trace_grad_b2.pt",
                           "v113_encoder_post_trace_nograd.pt", "v113_encoder_post_trace_nograd_b2.pt",
                           "v113_encoder_pre_trace_nograd.pt"}) {
    expect_as_pytorch("v113", file);
  }
}

TEST(Torch2, HandWrittenScaledDotProductAttention) {
  for (const char* kind : {"plain", "causal", "bool_mask", "float_mask", "scale", "gqa"}) {
    expect_as_pytorch("v26", std::string("v26_sdpa_") + kind + ".pt");
  }
  // The bool mask hides keys 6 and 7 from every query.
  const Model model = load_model(kDir + "v26_sdpa_bool_mask.pt");
  const auto sites = capture_attention(model, {tensor_of(expected("v26")["models"]["v26_sdpa_bool_mask.pt"]["input"])});
  ASSERT_EQ(sites.size(), 1u);
  EXPECT_EQ(sites[0].weights.narrow(/*dim=*/3, 6, 2).abs().max().item<float>(), 0.0f);
}

TEST(Torch2, RmsNormLayerAsPyTorchComputesIt) {
  const auto& e = expected("v26")["models"]["v26_rms_norm.pt"];
  const Model model = load_model(kDir + "v26_rms_norm.pt");
  const at::Tensor got = plain_forward(model, {tensor_of(e["input"])}).toTensor();
  EXPECT_TRUE(at::allclose(got, tensor_of(e["output"]), 1e-5, 1e-5));
}

TEST(Torch2, WeightsOnlyFilesReadExactly) {
  const auto& w = expected("v26")["weights"];
  const auto check = [](const Model& model, const nlohmann::json& want) {
    SCOPED_TRACE(model.path);
    std::size_t found = 0;
    for (const auto& t : model.tensors) {
      const std::string name = t.name.rfind("model.", 0) == 0 ? t.name.substr(6) : t.name;
      if (!want.contains(name)) continue;
      ++found;
      const at::Tensor reference = at::tensor(want[name].get<std::vector<float>>());
      EXPECT_TRUE(at::equal(as_float(t.tensor()).flatten(), reference)) << name;
    }
    EXPECT_EQ(found, want.size());
  };
  check(load_model(kDir + "v26_state.pt"), w["state"]);
  const Model checkpoint = load_model(kDir + "v26_checkpoint.pt");
  check(checkpoint, w["checkpoint"]);
  for (const char* dtype : {"float32", "float16", "bfloat16"}) {
    check(load_model(kDir + "v26_" + dtype + ".safetensors"), w["safetensors"][dtype]);
  }
}

TEST(Torch2, AnOperatorNoLibTorchHasIsNamed) {
  try {
    load_model(std::string(PEVIS_TEST_DATA) + "/bad/newer_operator.pt");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(message.find("aten::scaled_dot_product_attention_v9"), std::string::npos) << message;
    EXPECT_NE(message.find("newer PyTorch"), std::string::npos) << message;
    EXPECT_EQ(message.find("damaged"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// The kernel pevis adds, called through the dispatcher as a loaded model calls it.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, c10::optional<at::Tensor> mask,
                double dropout, bool causal, c10::optional<double> scale, bool gqa) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("aten::scaled_dot_product_attention", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                               const c10::optional<at::Tensor>&, double, bool, c10::optional<double>,
                                               bool)>();
  return op.call(q, k, v, mask, dropout, causal, scale, gqa);
}

TEST(Torch2, ScaledDotProductAttentionFollowsPyTorchsDefinition) {
  at::manual_seed(3);  // the same random tensors every run
  const at::Tensor q = at::randn({2, 4, 5, 8}), k = at::randn({2, 4, 6, 8}), v = at::randn({2, 4, 6, 3});
  const at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).div(std::sqrt(8.0));
  EXPECT_TRUE(at::allclose(sdpa(q, k, v, {}, 0, false, {}, false), at::matmul(scores.softmax(-1), v), 1e-6, 1e-6));
  // A custom scale, and a float mask broadcast over batch and heads.
  const at::Tensor bias = at::randn({5, 6});
  EXPECT_TRUE(at::allclose(sdpa(q, k, v, bias, 0, false, 0.5, false),
                           at::matmul((at::matmul(q, k.transpose(-2, -1)).mul(0.5) + bias).softmax(-1), v), 1e-6, 1e-6));
  // A bool mask keeps where true; a row with nothing to keep is zero, not nan.
  at::Tensor keep = at::ones({5, 6}, at::kBool);
  keep[1] = false;
  keep[2][0] = false;
  const at::Tensor masked = sdpa_weights(q, k, keep, false, {}, false);
  EXPECT_EQ(masked.select(2, 1).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(masked.select(2, 2).select(2, 0).abs().max().item<float>(), 0.0f);
  EXPECT_NEAR(masked.select(2, 2).sum(-1).min().item<float>(), 1.0f, 1e-6);
  // Causal: nothing above the diagonal; with an explicit mask too, refused.
  EXPECT_EQ(sdpa_weights(q, k, {}, true, {}, false).triu(1).abs().max().item<float>(), 0.0f);
  EXPECT_THROW(sdpa(q, k, v, keep, 0, true, {}, false), c10::Error);
  // Grouped-query: 2 key/value heads serve 4 query heads, each twice.
  const at::Tensor k2 = at::randn({2, 2, 6, 8}), v2 = at::randn({2, 2, 6, 3});
  const at::Tensor wide = sdpa(q, k2.repeat_interleave(2, 1), v2.repeat_interleave(2, 1), {}, 0, false, {}, false);
  EXPECT_TRUE(at::allclose(sdpa(q, k2, v2, {}, 0, false, {}, true), wide, 1e-6, 1e-6));
  EXPECT_THROW(sdpa(at::randn({2, 3, 5, 8}), k2, v2, {}, 0, false, {}, true), c10::Error);
  // Dropout as PyTorch applies it: everything dropped at p = 1, kept values scaled by 1/(1-p).
  EXPECT_EQ(sdpa(q, k, v, {}, 1.0, false, {}, false).abs().max().item<float>(), 0.0f);
  // With V all ones each output is 2 x (the kept weights of its row), whose
  // expectation is 1: over 64 x 4 x 32 rows the mean is within 0.2 of it by
  // a wide margin (its standard deviation is under 0.01).
  at::manual_seed(7);
  const at::Tensor many_q = at::randn({64, 4, 32, 8}), many_k = at::randn({64, 4, 32, 8});
  const at::Tensor rows = sdpa(many_q, many_k, at::ones({64, 4, 32, 1}), {}, 0.5, false, {}, false);
  EXPECT_FALSE(at::allclose(rows, at::ones_like(rows)));
  EXPECT_NEAR(rows.mean().item<float>(), 1.0f, 0.2f);
}

TEST(Torch2, RmsNormFollowsPyTorchsDefinition) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("aten::rms_norm", "")
          .typed<at::Tensor(const at::Tensor&, at::IntArrayRef, const c10::optional<at::Tensor>&, c10::optional<double>)>();
  const at::Tensor x = at::randn({3, 4, 6}), w = at::randn({4, 6});
  const at::Tensor want = x.div((x.pow(2).mean({1, 2}, true) + 1e-3).sqrt()).mul(w);
  EXPECT_TRUE(at::allclose(op.call(x, {4, 6}, w, 1e-3), want, 1e-5, 1e-5));
  EXPECT_THROW(op.call(x, {5}, {}, {}), c10::Error);
}

TEST(Torch2, OperatorsAreAddedOnlyWhereLibTorchLacksThem) {
  for (const auto& name : added_operators()) {
    EXPECT_TRUE(c10::Dispatcher::singleton().findSchema({name, ""}).has_value()) << name;
  }
  if (libtorch_version().rfind("1.", 0) == 0) {
    EXPECT_EQ(added_operators(), (std::vector<std::string>{"aten::scaled_dot_product_attention", "aten::rms_norm"}));
  }
}

// --layer keeps only what it can match, also for a fused encoder layer whose
// site is named after its self_attn child; what is kept is what a full
// capture gives.
TEST(Torch2, ASiteFilterKeepsOnlyTheSitesItCanMatch) {
  const std::string file = "v113_encoder_post_trace_nograd.pt";
  const Model model = load_model(kDir + file);
  const std::vector<c10::IValue> inputs = {tensor_of(expected("v113")["models"][file]["input"])};
  const auto all = capture_attention(model, inputs);
  ASSERT_EQ(all.size(), 2u);
  const std::string pattern = "layers\\.1\\.self_attn$";
  std::size_t skipped = 0;
  const auto some = capture_attention(model, inputs, nullptr, site_filter(std::regex(pattern), pattern), &skipped);
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(some[0].name, all[1].name);
  EXPECT_TRUE(at::equal(some[0].weights, all[1].weights));
  // A pattern naming a repeat ("#2") cannot be checked against paths: nothing is left out.
  const std::string repeat = "self_attn#2";
  const auto every = capture_attention(model, inputs, nullptr, site_filter(std::regex(repeat), repeat), &skipped);
  EXPECT_EQ(every.size(), 2u);
  EXPECT_EQ(skipped, 0u);
}

// Mult-adds do not depend on which path ran: the fused operators count what
// the explicit operators of the same model count.
TEST(Torch2, SummaryCountsMultAddsInsideFusedOperators) {
  const auto total = [](const std::string& tag, const std::string& file) {
    const Model model = load_model(kDir + file);
    const std::vector<c10::IValue> inputs = {tensor_of(expected(tag)["models"][file]["input"])};
    return summarize(model, &inputs).totals.mult_adds;
  };
  EXPECT_EQ(total("v26", "v26_encoder_post_trace_nograd.pt"), total("v26", "v26_encoder_trace_grad.pt"));
  EXPECT_EQ(total("v26", "v26_vit_trace_nograd.pt"), total("v26", "v26_vit_trace_grad.pt"));
  EXPECT_EQ(total("v113", "v113_vit_trace_nograd_b2.pt"), total("v113", "v113_vit_trace_grad_b2.pt"));
  // Hand count for the SDPA block (batch 2, 8 tokens, 4 heads of 4): four
  // 16x16 projections of 16 token vectors, then QK^T and AV of 2x4x8x8x4 each.
  EXPECT_EQ(total("v26", "v26_sdpa_plain.pt"), 4 * 16 * 16 * 16 + 2 * (2 * 4 * 8 * 8 * 4));
}

// pevis attention draws every kind of fixture, and its numbers are PyTorch's.
TEST(Torch2, AttentionCommandDrawsPyTorch2Models) {
  test::TempDir dir;
  test::write_file(dir / "seq.txt", "3 1 4 1 5 9 2 6");
  const auto gqa = test::run(PEVIS_BINARY,
                             {"attention", kDir + "v26_sdpa_gqa.pt", "--input", "seq.txt", "--layout", "batch-first",
                              "-o", "out"},
                             dir.path());
  ASSERT_EQ(gqa.exit_code, 0) << gqa.err;
  EXPECT_TRUE(test::looks_like(dir / "out/attention/model.png", "png"));
  // The CSV of head 3 holds batch 0's weights of PyTorch's explicit softmax.
  const auto& want = expected("v26")["models"]["v26_sdpa_gqa.pt"]["sites"][""][0][3];
  std::istringstream csv(test::read_file(dir / "out/attention/model.head3.csv"));
  std::string line;
  std::getline(csv, line);  // header: query, then the key tokens
  double worst = 0;
  int rows = 0;
  for (; std::getline(csv, line); ++rows) {
    std::istringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');  // the query's token
    for (int k = 0; std::getline(cells, cell, ','); ++k) {
      worst = std::max(worst, std::fabs(std::stod(cell) - want[rows][k].get<double>()));
    }
  }
  EXPECT_EQ(rows, 8);
  EXPECT_LT(worst, 1e-6);
  const auto vit = test::run(PEVIS_BINARY,
                             {"attention", kDir + "v26_vit_trace_nograd.pt", "--input-shape", "1,3,32,32", "-o", "vit"},
                             dir.path());
  ASSERT_EQ(vit.exit_code, 0) << vit.err;
  EXPECT_TRUE(test::looks_like(dir / "vit/attention/encoder.layers.encoder_layer_1.self_attention.png", "png"));
  EXPECT_TRUE(test::looks_like(dir / "vit/attention/overview.png", "png"));
}

// Every operator the survey found in PyTorch 2.6's files of torch.nn layers
// and torchvision models is one this LibTorch, with pevis's additions, has.
TEST(Torch2, EveryOperatorOfTheSurveyIsKnown) {
  const auto ops = test::survey_operators();
  ASSERT_GT(ops.size(), 150u);
  for (const auto& op : ops) {
    EXPECT_FALSE(torch::jit::getAllOperatorsFor(c10::Symbol::fromQualString(op)).empty()) << op;
  }
}

}  // namespace
}  // namespace pevis
