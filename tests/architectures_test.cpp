// Weights-only folders built from config.json (architectures/): every
// captured head equals transformers' eager attention weights
// (output_attentions=True), computed by transformers 5.15 on PyTorch 2.6 from
// the same folders (tests/data/architectures/make_architectures.py), with
// random non-zero weights everywhere (norm weights too), at a length where
// Mistral's window of 4 and the llama3 frequency bands change the numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "in_process.h"
#include "pevis/architectures/architectures.h"
#include "pevis/attention/attention.h"
#include "pevis/io/load.h"
#include "pevis/io/model_input.h"
#include "test_util.h"

#include <ATen/ops/tensor.h>

namespace pevis {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(PEVIS_TEST_DATA) + "/architectures/";

nlohmann::json expected() {
  std::ifstream file(kDir + "expected.json");
  return nlohmann::json::parse(file);
}

TEST(Architectures, EveryHeadEqualsTransformersEagerAttention) {
  const nlohmann::json all = expected();
  ASSERT_EQ(all.size(), 5u);
  for (const auto& [name, reference] : all.items()) {
    const Model model = with_forward(load_model(kDir + name));
    ASSERT_TRUE(model.runnable()) << name;
    EXPECT_FALSE(model.built.empty());
    std::vector<std::int64_t> ids = reference["ids"].get<std::vector<std::int64_t>>();
    const auto n = static_cast<std::int64_t>(ids.size());
    const std::vector<c10::IValue> inputs = {at::tensor(ids, at::TensorOptions().dtype(at::kLong)).reshape({1, n})};
    const auto sites = capture_attention(model, inputs);
    const auto& layers = reference["attentions"];
    ASSERT_EQ(sites.size(), layers.size()) << name;
    for (std::size_t l = 0; l < sites.size(); ++l) {
      EXPECT_EQ(sites[l].name, "model.layers." + std::to_string(l) + ".self_attn") << name;
      const at::Tensor w = sites[l].weights.reshape({-1, n, n});  // [heads, T, T]
      ASSERT_EQ(w.size(0), static_cast<std::int64_t>(layers[l].size())) << name;
      double worst = 0;
      for (std::int64_t h = 0; h < w.size(0); ++h) {
        for (std::int64_t i = 0; i < n; ++i) {
          for (std::int64_t j = 0; j < n; ++j) {
            worst = std::max(worst, std::abs(w[h][i][j].item<double>() - layers[l][h][i][j].get<double>()));
          }
        }
      }
      EXPECT_LT(worst, 1e-5) << name << " layer " << l;
    }
  }
}

TEST(Architectures, TheWindowAndTheBandsChangeTheNumbers) {
  // Mistral's layers see 4 keys: row 11 attends to keys 8..11 only.
  const nlohmann::json all = expected();
  const auto& row = all["mistral"]["attentions"][0][0][11];
  for (int j = 0; j < 8; ++j) EXPECT_EQ(row[j].get<double>(), 0.0) << j;
  EXPECT_GT(row[8].get<double>(), 0.0);
  // Qwen2 keeps its window off unless use_sliding_window: row 11 sees key 0.
  EXPECT_GT(all["qwen2"]["attentions"][0][0][11][0].get<double>(), 0.0);
}

TEST(Architectures, TheCommandLineTakesAFolderOfWeights) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 17 5 29 11 2 40 7 23 31 13 19");
  auto r = test::run_in_process({"attention", kDir + "qwen2", "--input", "ids.txt", "--format", "none", "-o", "out"},
                                dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "out/attention/model.layers.1.self_attn.head3.csv"));
  EXPECT_EQ(r.err.find("1x1"), std::string::npos) << "a built model takes its ids batch-first: " << r.err;
  r = test::run_in_process(
      {"summary", kDir + "llama", "--input", "ids.txt", "--depth", "4", "--format", "none", "--data", "none"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LlamaForCausalLM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("self_attn: Attention"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1, 12, 48]"), std::string::npos) << "the logits' shape: " << r.out;
}

TEST(Architectures, WhatCannotBeBuiltExactlyIsRefusedByName) {
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "1 2 3");
  const auto variant = [&](const std::string& name, const std::function<void(nlohmann::json&)>& change) {
    fs::create_directories(dir / name);
    fs::copy_file(kDir + "llama/model.safetensors", dir / name / "model.safetensors");
    std::ifstream in(kDir + "llama/config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    change(config);
    test::write_file(dir / name / "config.json", config.dump());
    return test::run_in_process({"attention", name, "--input", "ids.txt", "--format", "none", "--data", "none"},
                                dir.path());
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unknown", "pevis does not build model_type 'gpt_neox' (it builds llama, mistral, qwen2)"},
      {"yarn", "rope type 'yarn' is not implemented"},
      {"gelu", "hidden_act 'gelu' is not implemented"},
      {"wide", "model.layers.0.input_layernorm.weight is [32], not the [64] its config.json implies"},
      {"biased", "the weights lack model.layers.0.self_attn.q_proj.bias [32]"},
      {"typed", "a value of the wrong type"},
  };
  for (const auto& [name, says] : cases) {
    const auto r = variant(name, [&](nlohmann::json& c) {
      if (name == "unknown") c["model_type"] = "gpt_neox";
      if (name == "yarn") c["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
      if (name == "gelu") c["hidden_act"] = "gelu";
      if (name == "wide") c["hidden_size"] = 64, c["head_dim"] = 16;
      if (name == "biased") c["attention_bias"] = true;
      if (name == "typed") c["hidden_act"] = 7;
    });
    EXPECT_EQ(r.exit_code, 3) << name << ": " << r.err;
    EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << name << ": " << r.err;
  }
  // v4's layout (rope_theta and rope_scaling at the top) builds the same model.
  const auto r = variant("v4", [](nlohmann::json& c) {
    c["rope_theta"] = c["rope_parameters"]["rope_theta"];
    c.erase("rope_parameters");
  });
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace pevis
