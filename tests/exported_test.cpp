// torch.export programs (.pt2) made by PyTorch 2.6, run by pevis's
// interpreter: outputs, attention, positional tables and parameter counts
// equal PyTorch's (references made by tests/data/torch2/make_exports.py).
#include <gtest/gtest.h>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <ATen/TensorOperators.h>
#include <nlohmann/json.hpp>

#include <functional>

#include "pevis/io/load.h"
#include "pevis/attention/attention.h"
#include "pevis/capture/forward.h"
#include "pevis/encoding/encoding.h"
#include "pevis/base/error.h"
#include "pevis/io/exported_program.h"
#include "pevis/capture/program.h"
#include "pevis/summary/summary.h"
#include "reference.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kDir = std::string(PEVIS_TEST_DATA) + "/torch2/";
const std::string kBad = std::string(PEVIS_TEST_DATA) + "/bad/";

const nlohmann::json& expected() {
  static const nlohmann::json e = nlohmann::json::parse(test::read_file(kDir + "expected_pt2.json"));
  return e["models"];
}

using test::nested_to_tensor;
using test::tensor_of;

std::vector<std::string> files() {
  std::vector<std::string> names;
  for (const auto& [name, value] : expected().items()) names.push_back(name);
  return names;
}

TEST(Exported, EveryProgramRunsToPyTorchsOutputOnItsOwnExample) {
  ASSERT_EQ(files().size(), 7u);
  for (const auto& file : files()) {
    SCOPED_TRACE(file);
    const auto& e = expected()[file];
    const Model model = load_model(kDir + file);
    EXPECT_EQ(model.format, "torch.export program");
    const at::Tensor input = tensor_of(e["input"]);
    const auto examples = exported_example_inputs(model);
    ASSERT_EQ(examples.size(), 1u);
    if (e["example_is_input"].get<bool>()) {
      EXPECT_TRUE(at::equal(examples[0].toTensor(), input.to(examples[0].toTensor().scalar_type())));
    }
    const at::Tensor output = run_exported(model, {input}).toTensor();
    EXPECT_TRUE(at::allclose(output, tensor_of(e["output"]), /*rtol=*/1e-5, /*atol=*/1e-5));
  }
}

TEST(Exported, AttentionEqualsPyTorchsForEveryHead) {
  for (const auto& file : files()) {
    SCOPED_TRACE(file);
    const auto& e = expected()[file];
    const Model model = load_model(kDir + file);
    c10::IValue output;
    const auto sites = capture_attention(model, {tensor_of(e["input"])}, &output);
    EXPECT_TRUE(at::allclose(output.toTensor(), tensor_of(e["output"]), 1e-5, 1e-5));
    test::expect_sites_equal(sites, e["sites"]);
  }
}

TEST(Exported, ThePositionalBufferIsFoundAndSinusoidal) {
  const Model model = load_model(kDir + "pt2_word_lm.pt2");
  const auto candidates = find_positional_tables(model);
  ASSERT_FALSE(candidates.empty());
  const at::Tensor table = positional_table(model, "pos_encoder.pe");
  EXPECT_EQ(table.size(0), 64);
  const SinusoidCheck check = compare_with_sinusoid(table, 10000.0);
  ASSERT_TRUE(check.comparable);
  EXPECT_LT(check.deviation, 1e-6);
}

TEST(Exported, SummaryCountsPyTorchsParametersAndRunsTheGraph) {
  for (const auto& file : files()) {
    SCOPED_TRACE(file);
    const Model model = load_model(kDir + file);
    const std::vector<c10::IValue> inputs = {tensor_of(expected()[file]["input"])};
    const Summary s = summarize(model, &inputs);
    EXPECT_EQ(s.totals.params, expected()[file]["params"].get<std::int64_t>());
    EXPECT_TRUE(s.totals.forward);
    EXPECT_GT(s.totals.mult_adds, 0);
  }
  // Batch norm's running statistics are buffers, not parameters.
  const Model resnet = load_model(kDir + "pt2_resnet.pt2");
  const Summary s = summarize(resnet, nullptr);
  EXPECT_GT(s.totals.buffers, 0);
  // The hand-written block: four 16x16 projections of 8 tokens, QK^T and AV of 4x8x8x4 each.
  const Model sdpa = load_model(kDir + "pt2_sdpa_plain.pt2");
  const auto inputs = exported_example_inputs(sdpa);
  EXPECT_EQ(summarize(sdpa, &inputs).totals.mult_adds, 4 * 8 * 16 * 16 + 2 * (4 * 8 * 8 * 4));
}

TEST(Exported, SymbolicSizesComeFromTheInput) {
  // Exported with the sequence length symbolic (example: 8 tokens); the
  // references are for 12 tokens, so every size is computed in the run.
  const auto& e = expected()["pt2_encoder_dynamic.pt2"];
  EXPECT_EQ(tensor_of(e["input"]).size(1), 12);
  const Model model = load_model(kDir + "pt2_encoder_dynamic.pt2");
  EXPECT_EQ(exported_example_inputs(model)[0].toTensor().size(1), 8);
  const auto sites = capture_attention(model, {tensor_of(e["input"])});
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].weights.size(3), 12);
}

TEST(Exported, AttentionSitesAreNamedAfterTheLayerThatOwnsThem) {
  // export tags the stock encoder's attention with `enc` only; the
  // projections' parameters name the layer.
  const Model model = load_model(kDir + "pt2_encoder.pt2");
  const auto sites = capture_attention(model, exported_example_inputs(model));
  ASSERT_EQ(sites.size(), 2u);
  EXPECT_EQ(sites[0].name, "enc.layers.0.self_attn");
  EXPECT_EQ(sites[1].name, "enc.layers.1.self_attn");
}

TEST(Exported, DamagedProgramsAreRefusedBeforeAnythingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pt2_undefined_value.pt2", "before any defines it"},
      {"pt2_unknown_operator.pt2", "aten::linear_v9"},
      {"pt2_wrong_argument_kind.pt2", "as_string where its schema wants Tensor"},
      {"pt2_schema_version.pt2", "schema version 99"},
      {"pt2_truncated.pt2", "archive"},
  };
  for (const auto& [file, words] : cases) {
    try {
      load_model(kBad + file);
      ADD_FAILURE() << file << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::kBadInput) << file;
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << file << ": " << e.what();
    }
  }
}

TEST(Exported, DeflatedEntriesAreReadAsStoredOnes) {
  // The same archive with every entry deflated (zipfile.ZIP_DEFLATED), which
  // PyTorch loads too: same weights, same output.
  const Model stored = load_model(kDir + "pt2_sdpa_plain.pt2");
  const Model deflated = load_model(kDir + "pt2_sdpa_plain_deflated.pt2");
  ASSERT_EQ(stored.tensors.size(), deflated.tensors.size());
  for (std::size_t i = 0; i < stored.tensors.size(); ++i) {
    EXPECT_TRUE(at::equal(stored.tensors[i].tensor(), deflated.tensors[i].tensor())) << stored.tensors[i].name;
  }
  const auto inputs = exported_example_inputs(stored);
  EXPECT_TRUE(at::equal(run_exported(stored, inputs).toTensor(), run_exported(deflated, inputs).toTensor()));
}

TEST(Exported, WrongInputsAreOneLineErrors) {
  const Model model = load_model(kDir + "pt2_sdpa_plain.pt2");
  try {
    run_exported(model, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("takes 1 input"), std::string::npos) << e.what();
  }
  try {
    run_exported(model, {at::tensor({1.5f, 2.5f})});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("takes tokens of shape [1, 8]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the input is [2]"), std::string::npos) << e.what();
  }
}

TEST(Exported, AttentionCommandNeedsNothingButTheProgram) {
  test::TempDir dir;
  const auto r = test::run(PEVIS_BINARY, {"attention", kDir + "pt2_vit.pt2", "-o", "out"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(test::looks_like(dir / "out/attention/encoder.layers.encoder_layer_0.self_attention.png", "png"));
  EXPECT_TRUE(test::looks_like(dir / "out/attention/overview.png", "png"));
}

}  // namespace
}  // namespace pevis
