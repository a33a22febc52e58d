// Weights-only folders built from config.json (architectures/): every
// captured head equals transformers' eager attention weights
// (output_attentions=True), computed by transformers 5.15 on PyTorch 2.6 from
// the same folders (tests/data/architectures/make_architectures.py), with
// random non-zero weights everywhere (norm weights too), at a length where
// Mistral's window of 4 and the llama3 frequency bands change the numbers.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "in_process.h"
#include "pevis/architectures/architectures.h"
#include "pevis/base/archive.h"
#include <torch/csrc/jit/api/module.h>
#include "pevis/attention/attention.h"
#include "pevis/attention/head_stats.h"
#include "pevis/io/load.h"
#include "pevis/io/model_input.h"
#include "test_util.h"

#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <torch/version.h>

namespace pevis {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(PEVIS_TEST_DATA) + "/architectures/";

nlohmann::json expected() {
  std::ifstream file(kDir + "expected.json");
  return nlohmann::json::parse(file);
}

// The largest difference, over every head of every layer, between what pevis
// captures from `model` and transformers' `reference` (a key of expected.json):
// its "attentions", or `attentions` where given.
double worst_difference(const Model& model, const nlohmann::json& reference, const std::string& name,
                        const nlohmann::json* attentions = nullptr, double* mean = nullptr) {
  EXPECT_TRUE(model.runnable()) << name;
  EXPECT_FALSE(model.built.empty()) << name;
  std::vector<c10::IValue> inputs;
  std::int64_t n = 0;
  if (reference.contains("pixels")) {  // an image: its tokens are the patches and the class token
    inputs.emplace_back(at::tensor(reference["pixels"].get<std::vector<float>>(), at::kFloat)
                            .reshape(reference["shape"].get<std::vector<std::int64_t>>()));
    n = reference["attentions"][0][0].size();
  } else {
    const std::vector<std::int64_t> ids = reference["ids"].get<std::vector<std::int64_t>>();
    n = static_cast<std::int64_t>(ids.size());
    inputs.emplace_back(at::tensor(ids, at::TensorOptions().dtype(at::kLong)).reshape({1, n}));
  }
  const auto sites = capture_attention(model, inputs);
  const auto& layers = attentions ? *attentions : reference["attentions"];
  EXPECT_EQ(sites.size(), layers.size()) << name;
  double worst = 0, total = 0;
  std::int64_t count = 0;
  for (std::size_t l = 0; l < std::min(sites.size(), layers.size()); ++l) {
    char site[200];
    std::snprintf(site, sizeof site, reference["site"].get<std::string>().c_str(), static_cast<int>(l));
    EXPECT_EQ(sites[l].name, site) << name;
    const at::Tensor w = sites[l].weights.reshape({-1, n, n});  // [heads, T, T]
    EXPECT_EQ(w.size(0), static_cast<std::int64_t>(layers[l].size())) << name;
    double layer_worst = 0;
    for (std::int64_t h = 0; h < std::min<std::int64_t>(w.size(0), layers[l].size()); ++h) {
      for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          const double d = std::abs(w[h][i][j].item<double>() - layers[l][h][i][j].get<double>());
          layer_worst = std::max(layer_worst, d);
          total += d;
          ++count;
        }
      }
    }
    std::printf("%s layer %zu: worst difference %.2g\n", name.c_str(), l, layer_worst);
    worst = std::max(worst, layer_worst);
  }
  if (mean) *mean = count ? total / static_cast<double>(count) : 0;
  return worst;
}

TEST(Architectures, EveryHeadEqualsTransformersEagerAttention) {
  const nlohmann::json all = expected();
  ASSERT_EQ(all.size(), 19u);
  for (const auto& [name, reference] : all.items()) {
    const Model model = with_forward(load_model(kDir + reference["folder"].get<std::string>()));
    EXPECT_LT(worst_difference(model, reference, name), 1e-5) << name;
  }
}

// The same for the padded batch of `batch` (ids, mask, lengths), against
// `attentions` ([input][layer][head][query][key], each cut to its real tokens).
double worst_batch_difference(const Model& model, const nlohmann::json& batch, const nlohmann::json& attentions,
                              const std::string& name) {
    const auto ids = batch["ids"].get<std::vector<std::vector<std::int64_t>>>();
    const auto mask = batch["mask"].get<std::vector<std::vector<std::int64_t>>>();
    const auto s = static_cast<std::int64_t>(ids[0].size());
    std::vector<std::int64_t> flat_ids, flat_mask;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      flat_ids.insert(flat_ids.end(), ids[i].begin(), ids[i].end());
      flat_mask.insert(flat_mask.end(), mask[i].begin(), mask[i].end());
    }
    const std::vector<c10::IValue> inputs = {at::tensor(flat_ids, at::kLong).reshape({2, s}),
                                             at::tensor(flat_mask, at::kLong).reshape({2, s})};
    const auto sites = capture_attention(model, inputs);
    EXPECT_EQ(sites.size(), attentions[0].size()) << name;
    double worst = 0;
    for (std::size_t item = 0; item < 2; ++item) {
      const std::int64_t n = batch["lengths"][item].get<std::int64_t>();
      for (std::size_t l = 0; l < sites.size(); ++l) {
        const at::Tensor w = sites[l].weights.reshape({2, -1, s, s})[static_cast<std::int64_t>(item)];
        const auto& want = attentions[item][l];
        for (std::int64_t h = 0; h < w.size(0); ++h) {
          for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t j = 0; j < n; ++j) {
              worst = std::max(worst, std::abs(w[h][i][j].item<double>() - want[h][i][j].get<double>()));
            }
          }
        }
      }
    }
    std::printf("%s padded batch: worst difference %.2g\n", name.c_str(), worst);
    return worst;
}

// --dtype bfloat16: every head against transformers' run of the folder
// loaded in bfloat16 (from_pretrained(dtype=torch.bfloat16)), one input and
// the padded batch. Both compute in bfloat16 with the same operations in the
// same order, but PyTorch 2.6 and LibTorch 1.13 round bfloat16 matrix
// products differently (both accumulate in float32, in different orders),
// so heads agree to bfloat16's precision, not exactly: the bound is a few
// of bfloat16's steps near 1 (2^-8 = 0.0039), and float32's 1e-5 would fail.
#if TORCH_VERSION_MAJOR >= 2
constexpr double kBfloat16Bound = 0.1, kBfloat16MeanBound = 1e-4;
#else
constexpr double kBfloat16Bound = 0.1, kBfloat16MeanBound = 2e-3;
#endif

TEST(Architectures, InBfloat16EveryHeadIsTransformersBfloat16Attention) {
  const nlohmann::json all = expected();
  int references = 0;
  double worst = 0, worst_float32 = 0;
  for (const auto& [name, reference] : all.items()) {
    if (!reference.contains("bf16")) continue;
    const Model model =
        with_forward(load_model(kDir + reference["folder"].get<std::string>()), /*logits=*/false, at::kBFloat16);
    double mean = 0;
    const double one = worst_difference(model, reference, name + " bf16", &reference["bf16"]["attentions"], &mean);
    std::printf("%s bf16: mean difference %.3g\n", name.c_str(), mean);
    EXPECT_LT(one, kBfloat16Bound) << name;
    EXPECT_LT(mean, kBfloat16MeanBound) << name;
    worst = std::max(worst, one);
    if (reference["bf16"].contains("batch")) {
      const double padded = worst_batch_difference(model, reference["batch"], reference["bf16"]["batch"], name + " bf16");
      EXPECT_LT(padded, kBfloat16Bound) << name;
      worst = std::max(worst, padded);
    }
    // Not float32's numbers: were the model still computing in float32, the
    // float32 reference would be met within 1e-5.
    double mean_float32 = 0;
    worst_float32 = std::max(worst_float32, worst_difference(model, reference, name + " vs float32", nullptr, &mean_float32));
    std::printf("%s bf16 vs float32: mean difference %.3g\n", name.c_str(), mean_float32);
    ++references;
  }
  EXPECT_EQ(references, 16);
  EXPECT_GT(worst_float32, 1e-3) << "the bfloat16 model computed float32's numbers";
  std::printf("bfloat16: worst difference %.3g over %d folders\n", worst, references);
}

TEST(Architectures, APaddedBatchShowsEachInputsRealTokensAsTransformersDoes) {
  // Two inputs, the second padded on the right to the first's 12 tokens with
  // an attention mask: each input's heads, cut to its real tokens, equal
  // transformers' (no query sees a padded key; the windows stay finite).
  const nlohmann::json all = expected();
  int batches = 0;
  for (const auto& [name, reference] : all.items()) {
    if (!reference.contains("batch")) continue;
    const Model model = with_forward(load_model(kDir + reference["folder"].get<std::string>()), /*logits=*/false);
    EXPECT_LT(worst_batch_difference(model, reference["batch"], reference["batch"]["attentions"], name), 1e-5) << name;
    ++batches;
  }
  EXPECT_GE(batches, 12);
  // The command line: two lines are a batch; --batch-index 1 shows the second, 7x7.
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 17 5 29 11 2 40 7 23 31 13 19\n3 17 5 29 11 2 40\n");
  const auto r = test::run_in_process({"attention", kDir + "mistral", "--input", "ids.txt", "--batch-index", "1",
                                       "--layer", "layers.1.self_attn", "--format", "none", "-o", "out"},
                                      dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("input 1 of 2 (one per line): its 7 tokens"), std::string::npos) << r.err;
  const std::string csv = test::read_file(dir / "out/attention/model.layers.1.self_attn.head0.csv");
  EXPECT_EQ(test::count_lines(csv), 8) << "a header and 7 queries:\n" << csv;
  const auto bad = test::run_in_process({"attention", kDir + "mistral", "--input", "ids.txt", "--batch-index", "2",
                                         "--format", "none", "--data", "none"},
                                        dir.path());
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("the input has 2 lines"), std::string::npos) << bad.err;
}

TEST(Architectures, SummaryCountsTheParametersAsPyTorchDoes) {
  // sum(p.numel() for p in model.parameters()): a tied head once.
  const nlohmann::json all = expected();
  test::TempDir dir;
  test::write_file(dir / "ids.txt", "3 17 5");
  for (const auto& [name, reference] : all.items()) {
    const bool image = reference.contains("pixels");
    const auto r = test::run_in_process({"summary", kDir + reference["folder"].get<std::string>(),
                                         image ? "--input-shape" : "--input", image ? "1,3,16,16" : "ids.txt",
                                         "--format", "none", "--data", "none"},
                                        dir.path());
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    const auto at = r.out.find("Total params: ");
    ASSERT_NE(at, std::string::npos) << r.out;
    std::string digits;
    for (std::size_t i = at + 14; i < r.out.size() && (std::isdigit(static_cast<unsigned char>(r.out[i])) || r.out[i] == ','); ++i) {
      if (r.out[i] != ',') digits += r.out[i];
    }
    EXPECT_EQ(std::stoll(digits), reference["parameters"].get<std::int64_t>()) << name;
  }
}

TEST(Architectures, TheRotaryTablesAreTransformersBuffers) {
  // What `encoding` shows of a folder: the inv_freq its model computes, by
  // the names and with the values of transformers' own (unsaved) buffers.
  const nlohmann::json all = expected();
  int compared = 0;
  for (const auto& [name, reference] : all.items()) {
    std::string why;
    const auto buffers = computed_rotary_buffers(load_model(kDir + reference["folder"].get<std::string>()), &why);
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(buffers.empty(), reference["rotary"].empty()) << name;
    for (const auto& [buffer, values] : reference["rotary"].items()) {
      const NamedTensor* ours = nullptr;
      for (const auto& b : buffers) ours = b.name == buffer ? &b : ours;
      ASSERT_NE(ours, nullptr) << name << " lacks " << buffer;
      const at::Tensor t = ours->tensor();
      ASSERT_EQ(t.numel(), static_cast<std::int64_t>(values.size())) << name;
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double want = values[static_cast<std::size_t>(i)].get<double>();
        EXPECT_NEAR(t[i].item<double>(), want, 1e-7 * std::abs(want)) << name << " " << buffer << "[" << i << "]";
      }
      ++compared;
    }
  }
  EXPECT_GE(compared, 13);
  // The command line: a Gemma 3 folder lists its two tables, and draws the first.
  test::TempDir dir;
  auto r = test::run_in_process({"encoding", kDir + "gemma3", "--list"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("model.rotary_emb.sliding_attention_inv_freq  6  buffer  rope"), std::string::npos)
      << r.out << r.err;
  r = test::run_in_process({"encoding", kDir + "gemma3", "--format", "none", "-o", "out"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("model.rotary_emb.full_attention_inv_freq: base 1000000 (d_head 12), linear scaling x8"),
            std::string::npos)
      << r.out << r.err;
}

TEST(Architectures, TransformersV4ConfigsBuildTheSameModels) {
  // The same weights, with config.json written as transformers v4 wrote it:
  // rope settings at the top (Phi-3's "su" name for LongRoPE, Gemma 3's
  // rope_local_base_freq and sliding_window_pattern instead of layer_types).
  const nlohmann::json all = expected();
  test::TempDir dir;
  const auto v4 = [&](const std::string& name, const std::function<void(nlohmann::json&)>& change) {
    fs::create_directories(dir / name);
    fs::copy_file(kDir + name + "/model.safetensors", dir / name / "model.safetensors");
    std::ifstream in(kDir + name + "/config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    change(config);
    test::write_file(dir / name / "config.json", config.dump());
    return with_forward(load_model((dir / name).string()));
  };
  const Model phi3 = v4("phi3", [](nlohmann::json& c) {
    nlohmann::json rope = c["rope_parameters"];
    c.erase("rope_parameters");
    c["rope_theta"] = rope["rope_theta"];
    c["rope_scaling"] = {{"type", "su"}, {"short_factor", rope["short_factor"]}, {"long_factor", rope["long_factor"]}};
  });
  EXPECT_LT(worst_difference(phi3, all["phi3"], "phi3 v4"), 1e-5);
  EXPECT_LT(worst_difference(phi3, all["phi3_6"], "phi3 v4"), 1e-5);
  const Model gemma3 = v4("gemma3", [](nlohmann::json& c) {
    const nlohmann::json rope = c["rope_parameters"];
    c.erase("rope_parameters");
    c.erase("layer_types");
    c["rope_theta"] = rope["full_attention"]["rope_theta"];
    c["rope_local_base_freq"] = rope["sliding_attention"]["rope_theta"];
    c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", rope["full_attention"]["factor"]}};
  });
  EXPECT_LT(worst_difference(gemma3, all["gemma3"], "gemma3 v4"), 1e-5);
}

TEST(Architectures, AModelHoldsNoWeightsAndReadsEachWhereALayerUsesIt) {
  const Model loaded = load_model(kDir + "llama");
  const std::uint64_t before = tensor_bytes_read();
  const Model model = with_forward(loaded, /*logits=*/false);
  EXPECT_EQ(tensor_bytes_read(), before) << "building reads no weight";
  std::int64_t held = 0;
  for (const auto& p : model.module->parameters()) held += static_cast<std::int64_t>(p.storage().nbytes());
  EXPECT_LE(held, 16 * 64) << "each parameter stands for its tensor with one element of storage";
  // One forward reads every tensor once, except the output head (no logits asked for).
  std::uint64_t expected_bytes = 0;
  for (const auto& t : model.tensors) {
    if (t.name != "lm_head.weight") expected_bytes += t.nbytes();
  }
  const std::vector<c10::IValue> inputs = {at::tensor(std::vector<std::int64_t>{3, 17, 5}, at::kLong).reshape({1, 3})};
  const auto sites = capture_attention(model, inputs);
  EXPECT_EQ(sites.size(), 2u);
  EXPECT_EQ(tensor_bytes_read() - before, expected_bytes);
  for (const auto& t : model.tensors) EXPECT_FALSE(t.loaded()) << t.name << " is let go after use";
}

TEST(Architectures, ADeepShardedBfloat16FolderBuildsAndRunsInMoments) {
  // 32 layers in bf16, in two shards by an index, weights as holes (zeros).
  // The layers share one class: with one class per layer, LibTorch's alias
  // analysis of the forward needed 24 GB at 4 layers (bad_alloc, or killed).
  test::TempDir dir;
  const int layers = 32;
  const std::int64_t d = 16, inter = 32, vocab = 40;
  std::vector<test::SafetensorsEntry> first = {{"model.embed_tokens.weight", "BF16", {vocab, d}, ""}}, second;
  nlohmann::json map;
  for (int i = 0; i < layers; ++i) {
    auto& shard = i < layers / 2 ? first : second;
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const auto& [name, shape] : std::vector<std::pair<std::string, std::vector<std::int64_t>>>{
             {"input_layernorm.weight", {d}}, {"post_attention_layernorm.weight", {d}},
             {"self_attn.q_proj.weight", {d, d}}, {"self_attn.k_proj.weight", {d / 2, d}},
             {"self_attn.v_proj.weight", {d / 2, d}}, {"self_attn.o_proj.weight", {d, d}},
             {"mlp.gate_proj.weight", {inter, d}}, {"mlp.up_proj.weight", {inter, d}},
             {"mlp.down_proj.weight", {d, inter}}}) {
      shard.push_back({p + name, "BF16", shape, ""});
    }
  }
  second.push_back({"model.norm.weight", "BF16", {d}, ""});
  second.push_back({"lm_head.weight", "BF16", {vocab, d}, ""});
  fs::create_directories(dir / "deep");
  test::write_safetensors(dir / "deep/model-00001-of-00002.safetensors", first);
  test::write_safetensors(dir / "deep/model-00002-of-00002.safetensors", second);
  for (const auto& e : first) map[e.name] = "model-00001-of-00002.safetensors";
  for (const auto& e : second) map[e.name] = "model-00002-of-00002.safetensors";
  test::write_file(dir / "deep/model.safetensors.index.json", nlohmann::json{{"weight_map", map}}.dump());
  test::write_file(dir / "deep/config.json",
                   nlohmann::json{{"model_type", "llama"}, {"hidden_size", d}, {"intermediate_size", inter},
                                  {"num_hidden_layers", layers}, {"num_attention_heads", 4},
                                  {"num_key_value_heads", 2}, {"vocab_size", vocab}, {"dtype", "bfloat16"}}
                       .dump());
  const Model model = with_forward(load_model((dir / "deep").string()), /*logits=*/false);
  const std::vector<c10::IValue> inputs = {at::tensor(std::vector<std::int64_t>{3, 17, 5, 9}, at::kLong).reshape({1, 4})};
  const auto sites = capture_attention(model, inputs);
  ASSERT_EQ(sites.size(), static_cast<std::size_t>(layers));
  EXPECT_EQ(sites[31].name, "model.layers.31.self_attn");
  // Zero weights: every query spreads evenly over the keys it sees.
  EXPECT_NEAR(sites[31].weights.reshape({-1, 4, 4})[0][3][0].item<double>(), 0.25, 1e-6);
}

TEST(Architectures, Gpt2AsTheHubKeepsItWithoutPrefixAndWithMaskBuffers) {
  // The Hub's gpt2 checkpoints name tensors without `transformer.` and hold
  // each block's causal mask as `h.N.attn.bias` [1, 1, P, P]: the same model.
  const nlohmann::json all = expected();
  const Model stock = load_model(kDir + "gpt2");
  test::TempDir dir;
  std::vector<test::SafetensorsEntry> entries;
  for (const auto& t : stock.tensors) {
    const at::Tensor v = t.tensor().contiguous();
    const std::string name = t.name.rfind("transformer.", 0) == 0 ? t.name.substr(12) : t.name;
    entries.push_back({name, "F32", t.shape(),
                       test::float_bytes(std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel()))});
  }
  for (int i = 0; i < 2; ++i) entries.push_back({"h." + std::to_string(i) + ".attn.bias", "F32", {1, 1, 64, 64}, ""});
  fs::create_directories(dir / "hub");
  test::write_safetensors(dir / "hub/model.safetensors", entries);
  fs::copy_file(kDir + "gpt2/config.json", dir / "hub/config.json");
  const Model hub = with_forward(load_model((dir / "hub").string()));
  EXPECT_LT(worst_difference(hub, all["gpt2"], "gpt2 as on the Hub"), 1e-5);
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
  EXPECT_NE(r.out.find("self_attn: LlamaAttention"), std::string::npos) << r.out;  // transformers' class names
  EXPECT_NE(r.out.find("0: LlamaDecoderLayer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1, 12, 48]"), std::string::npos) << "the logits' shape: " << r.out;
  // Without an input: the built tree all the same, without shapes.
  r = test::run_in_process({"summary", kDir + "gemma3", "--depth", "3", "--format", "none", "--data", "none"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model: Gemma3TextModel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Total params: 29,672"), std::string::npos) << r.out;
  // --dtype bfloat16: other numbers than float32's, said in the summary; a program is refused it.
  r = test::run_in_process({"attention", kDir + "qwen2", "--input", "ids.txt", "--dtype", "bfloat16", "--format",
                            "none", "-o", "bf16", "--json"},
                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"dtype\":\"bfloat16\""), std::string::npos) << r.out;
  const std::string float32 = test::read_file(dir / "out/attention/model.layers.1.self_attn.head3.csv");
  const std::string bfloat16 = test::read_file(dir / "bf16/attention/model.layers.1.self_attn.head3.csv");
  EXPECT_EQ(test::count_lines(bfloat16), test::count_lines(float32));
  EXPECT_NE(bfloat16, float32);
  r = test::run_in_process({"attention", std::string(PEVIS_TEST_DATA) + "/attn_encoder_causal.pt", "--input",
                            "ids.txt", "--dtype", "bfloat16", "--format", "none", "--data", "none"},
                           dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--dtype bfloat16 : it applies to the Hugging Face folders pevis builds"), std::string::npos)
      << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
}

// Text in: --text through a tokenizer.json (here a tiny byte-level BPE whose
// ids the test folders' vocabulary of 48 holds); two texts are a padded
// batch; the labels are the text each token stands for.
TEST(Architectures, TextGoesInThroughATokenizer) {
  test::TempDir dir;
  test::write_file(dir / "tokenizer.json", test::tiny_tokenizer());
  auto r = test::run_in_process({"attention", kDir + "llama", "--tokenizer", "tokenizer.json", "--text", "ab ab a",
                                 "--text", "ab", "--batch-index", "0", "--format", "none", "-o", "out"},
                                dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("input 0 of 2"), std::string::npos) << r.err;
  const std::string csv = test::read_file(dir / "out/attention/model.layers.0.self_attn.head0.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\r')), "query,<s>,ab,\xe2\x90\xa3" "ab,\xe2\x90\xa3" "a") << csv;
  // A text file read by the tokenizer named, one input per line.
  test::write_file(dir / "text.txt", "ab ab a\n");
  r = test::run_in_process({"attention", kDir + "llama", "--tokenizer", "tokenizer.json", "--input", "text.txt",
                            "--format", "none", "-o", "file"},
                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir / "file/attention/model.layers.0.self_attn.head0.csv"), csv);
  // No tokenizer to read a text with: a usage error naming --tokenizer.
  r = test::run_in_process({"attention", kDir + "llama", "--text", "ab", "--format", "none", "--data", "none"},
                           dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
}

// Head statistics (heads.csv), from their definitions: on transformers' own
// weights (expected.json) pevis's numbers equal numpy's (head_stats.json,
// made by head_stats.py) within 1e-6, each input read as a block repeated
// (P = T/2) for the induction score; on the weights pevis captures itself
// (7.6e-6 from transformers' at most), within 1e-5.
TEST(HeadStatistics, EqualNumpyOnTransformersOwnWeights) {
  std::ifstream file(kDir + "head_stats.json");
  const nlohmann::json refs = nlohmann::json::parse(file), all = expected();
  double worst = 0, captured_worst = 0;
  int heads = 0;
  const auto compare = [&](const std::vector<HeadStatistics>& got, const nlohmann::json& want, const std::string& where,
                           double& into) {
    ASSERT_EQ(got.size(), want.size()) << where;
    for (std::size_t h = 0; h < got.size(); ++h) {
      const HeadStatistics& g = got[h];
      const std::pair<const char*, double> values[] = {{"entropy", g.entropy}, {"distance", g.distance}, {"sink", g.sink},
                                                       {"self", g.self},       {"prev", g.prev},         {"induction", g.induction}};
      for (const auto& [key, value] : values) {
        if (!want[h].contains(key)) {
          EXPECT_TRUE(std::isnan(value)) << where << " head " << h << " " << key;
          continue;
        }
        const double d = std::abs(value - want[h][key].get<double>());
        EXPECT_TRUE(std::isfinite(d)) << where << " head " << h << " " << key;
        into = std::max(into, d);
      }
    }
  };
  for (const auto& [name, ref] : refs.items()) {
    const nlohmann::json& entry = all[name];
    StatisticsContext context;
    context.image = ref["image"].get<bool>();
    for (std::size_t l = 0; l < ref["layers"].size(); ++l) {
      const nlohmann::json& layer = entry["attentions"][l];
      const auto h = static_cast<std::int64_t>(layer.size()), t = static_cast<std::int64_t>(layer[0].size());
      std::vector<double> values;
      for (const auto& head : layer) {
        for (const auto& row : head) {
          for (const auto& v : row) values.push_back(v.get<double>());
        }
      }
      const at::Tensor maps = at::tensor(values, at::kDouble).reshape({1, h, t, -1});
      context.repeat = t % 2 == 0 ? std::optional<RepeatedBlock>(RepeatedBlock{0, t / 2}) : std::nullopt;
      compare(head_statistics(maps, context), ref["layers"][l], name + " layer " + std::to_string(l), worst);
      heads += static_cast<int>(h);
    }
  }
  // The same on pevis's own weights, captured from the folders.
  for (const std::string name : {"llama", "gpt2", "bert", "vit", "gemma3"}) {
    const nlohmann::json& entry = all[name];
    std::vector<c10::IValue> inputs;
    if (entry.contains("pixels")) {
      inputs.emplace_back(at::tensor(entry["pixels"].get<std::vector<float>>(), at::kFloat)
                              .reshape(entry["shape"].get<std::vector<std::int64_t>>()));
    } else {
      const auto ids = entry["ids"].get<std::vector<std::int64_t>>();
      inputs.emplace_back(at::tensor(ids, at::TensorOptions().dtype(at::kLong)).reshape({1, -1}));
    }
    const auto sites = capture_attention(with_forward(load_model(kDir + entry["folder"].get<std::string>())), inputs);
    ASSERT_EQ(sites.size(), refs[name]["layers"].size()) << name;
    for (std::size_t l = 0; l < sites.size(); ++l) {
      StatisticsContext context;
      context.image = entry.contains("pixels");
      const std::int64_t t = sites[l].weights.size(-1);
      context.repeat = t % 2 == 0 ? std::optional<RepeatedBlock>(RepeatedBlock{0, t / 2}) : std::nullopt;
      compare(head_statistics(sites[l].weights, context), refs[name]["layers"][l], name + " captured layer " + std::to_string(l),
              captured_worst);
    }
  }
  std::printf("%d heads: worst difference from numpy %.2g on transformers' weights, %.2g on pevis's\n", heads, worst,
              captured_worst);
  EXPECT_GE(heads, 19 * 2 * 4);
  EXPECT_LT(worst, 1e-6);
  EXPECT_LT(captured_worst, 1e-5);
}

TEST(HeadStatistics, DefinitionsOnMapsWorkedByHand) {
  // Two queries over two keys: [[1, 0], [0.5, 0.5]].
  const at::Tensor maps = at::tensor(std::vector<double>{1, 0, 0.5, 0.5}, at::kDouble).reshape({1, 1, 2, 2});
  const HeadStatistics s = head_statistics(maps, {})[0];
  EXPECT_NEAR(s.entropy, std::log(2.0) / 2, 1e-12);  // 0 ln 0 counts 0
  EXPECT_NEAR(s.distance, 0.25, 1e-12);              // (0 + 0.5 * 1) / 2
  EXPECT_NEAR(s.sink, 0.75, 1e-12);
  EXPECT_NEAR(s.self, 0.75, 1e-12);
  EXPECT_NEAR(s.prev, 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(s.induction));  // no repeated block
  // A repeated block after a first token: ids 9 1 2 3 1 2 3; P = 3.
  const auto block = repeated_block({9, 1, 2, 3, 1, 2, 3});
  ASSERT_TRUE(block);
  EXPECT_EQ(block->first, 1);
  EXPECT_EQ(block->period, 3);
  EXPECT_FALSE(repeated_block({1, 2, 3, 1, 2, 4}));
  EXPECT_FALSE(repeated_block({1, 1}));  // a block of one token is no block
  // A head that attends to the token after the previous occurrence: induction 1.
  at::Tensor induction = at::zeros({1, 1, 7, 7}, at::kDouble);
  for (std::int64_t q = 0; q < 4; ++q) induction[0][0][q][0] = 1;
  for (std::int64_t q = 4; q < 7; ++q) induction[0][0][q][q - 3 + 1] = 1;
  EXPECT_NEAR(head_statistics(induction, {false, *block})[0].induction, 1.0, 1e-12);
  // On an image of one class token and a 2x2 grid, distances are in patches, the class token left out.
  at::Tensor image = at::zeros({1, 1, 5, 5}, at::kDouble);
  for (std::int64_t q = 0; q < 5; ++q) image[0][0][q][4] = 1;  // every query looks at the last patch (1, 1)
  EXPECT_NEAR(head_statistics(image, {true, std::nullopt})[0].distance, (std::sqrt(2.0) + 1 + 1 + 0) / 4, 1e-12);
}

TEST(HeadStatistics, TheCommandLineWritesHeadsCsvAndRepeatsARandomBlock) {
  test::TempDir dir;
  auto r = test::run_in_process({"attention", kDir + "gpt2", "--repeat-random", "6", "--seed", "5", "--format", "none",
                                 "-o", "a"},
                                dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("repeats a block of 6 tokens"), std::string::npos) << r.err;
  const std::string csv = test::read_file(dir / "a/attention/heads.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\r')), "site,head,entropy,distance,sink,self,prev,induction") << csv;
  EXPECT_EQ(test::count_lines(csv), 1 + 2 * 4) << csv;
  EXPECT_EQ(csv.find(",\r"), std::string::npos) << "an empty induction cell: " << csv;
  // The same seed is the same block; the labels are its ids, twice.
  r = test::run_in_process({"attention", kDir + "gpt2", "--repeat-random", "6", "--seed", "5", "--format", "none", "-o", "b"},
                           dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir / "b/attention/heads.csv"), csv);
  const std::string map = test::read_file(dir / "a/attention/transformer.h.0.attn.head0.csv");
  const std::string header = map.substr(0, map.find('\r'));
  const std::string labels = header.substr(header.find(',') + 1);
  const std::string first = labels.substr(0, labels.find(',', labels.find(',', labels.find(',') + 1) + 1));
  EXPECT_NE(labels.find(first, first.size()), std::string::npos) << header;
  // A block that is not 2 to 4096 tokens (a negative one, one whose double overflows): refused, exit 3.
  for (const std::string bad : {"-3", "1", "4097", "9000000000000000000"}) {
    r = test::run_in_process({"attention", kDir + "gpt2", "--repeat-random", bad, "--format", "none", "--data", "none"},
                             dir.path());
    EXPECT_EQ(r.exit_code, 3) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("a block must be 2 to 4096 tokens"), std::string::npos) << r.err;
  }
  // No vocabulary size (a TorchScript program, no --vocab): a usage error.
  r = test::run_in_process({"attention", std::string(PEVIS_TEST_DATA) + "/attn_encoder_causal.pt", "--repeat-random", "4",
                            "--format", "none", "--data", "none"},
                           dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--vocab"), std::string::npos) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1) << r.err;
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
      {"unknown", "pevis does not build model_type 'gpt_neox' (it builds llama, mistral, qwen2, gemma, gemma2, "
                  "gemma3_text, phi3, gpt2, bert, roberta, vit)"},
      {"proportional", "rope type 'proportional' is not implemented"},
      {"quick_gelu", "hidden_act 'quick_gelu' is not implemented"},
      {"experts", "mixture of experts is not implemented"},
      {"wide", "model.layers.0.input_layernorm.weight is [32], not the [64] its config.json implies"},
      {"biased", "the weights lack model.layers.0.self_attn.q_proj.bias [32]"},
      {"typed", "'hidden_act' is not a string"},
      {"theta", "'rope_theta' is -1.000000: it must be above 0"},
      {"bands", "llama3's high_freq_factor equals its low_freq_factor"},
  };
  for (const auto& [name, says] : cases) {
    const auto r = variant(name, [&](nlohmann::json& c) {
      if (name == "unknown") c["model_type"] = "gpt_neox";
      if (name == "proportional") c["rope_parameters"] = {{"rope_type", "proportional"}, {"rope_theta", 10000.0}};
      if (name == "quick_gelu") c["hidden_act"] = "quick_gelu";
      if (name == "experts") c["num_local_experts"] = 8;
      if (name == "wide") c["hidden_size"] = 64, c["head_dim"] = 16;
      if (name == "biased") c["attention_bias"] = true;
      if (name == "typed") c["hidden_act"] = 7;
      if (name == "theta") c["rope_parameters"]["rope_theta"] = -1.0;
      if (name == "bands") {
        c["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                                {"low_freq_factor", 2.0}, {"high_freq_factor", 2.0},
                                {"original_max_position_embeddings", 8192}};
      }
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
