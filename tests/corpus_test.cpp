// Real architectures at a small size, built by library code nobody here wrote
// (torchaudio 2.6's wav2vec2, HuBERT, Conformer and Emformer; torchvision
// 0.21's Swin V2 and MaxViT; GPT-2-, BERT-, OPT- and Llama-style models of
// torch.nn), saved by PyTorch 2.6: pevis reads each as PyTorch computes it.
// The files and PyTorch's values are made by tests/data/corpus/make.sh.
#include <gtest/gtest.h>

#include <ATen/core/Tensor.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "pevis/attention/attention.h"
#include "pevis/attention/attention_views.h"
#include "pevis/base/error.h"
#include "pevis/io/load.h"
#include "pevis/io/model.h"
#include "pevis/encoding/encoding.h"
#include "pevis/encoding/relative_bias.h"
#include "pevis/positional/rope.h"
#include "pevis/summary/summary.h"
#include "in_process.h"
#include "reference.h"
#include "test_util.h"

namespace pevis {
namespace {

const std::string kDir = std::string(PEVIS_TEST_DATA) + "/corpus/";

const nlohmann::json& expected() {
  static const nlohmann::json e = nlohmann::json::parse(test::read_file(kDir + "expected.json"));
  return e;
}

// Every site of the model, head by head, within 1e-5 of PyTorch's weights.
void expect_as_pytorch(const std::string& file) {
  SCOPED_TRACE(file);
  const auto& e = expected()["models"][file];
  ASSERT_FALSE(e.is_null()) << "no reference for " << file;
  const Model model = load_model(kDir + file);
  const auto sites = capture_attention(model, {test::tensor_of(e["input"])});
  test::expect_sites_equal(sites, e["sites"]);
}

// wav2vec2 and HuBERT call scaled_dot_product_attention, Conformer
// nn.MultiheadAttention, Emformer its own softmax over [batch*heads, T, S].
TEST(Corpus, Wav2vec2AttentionEqualsPyTorchs) {
  for (const char* file : {"wav2vec2.pt", "wav2vec2_trace.pt"}) expect_as_pytorch(file);
}

TEST(Corpus, HubertAttentionEqualsPyTorchs) {
  for (const char* file : {"hubert.pt", "hubert_trace.pt"}) expect_as_pytorch(file);
}

TEST(Corpus, ConformerAndEmformerAttentionEqualsPyTorchs) {
  for (const char* file : {"conformer.pt", "conformer_trace.pt", "emformer.pt"}) expect_as_pytorch(file);
}

// Learned queries attending to the tokens (DETR's decoder, Perceiver): queries
// and keys of different lengths, then the queries' own attention.
TEST(Corpus, CrossAttentionOfLearnedQueriesEqualsPyTorchs) { expect_as_pytorch("cross_attention.pt"); }

// Windowed (Swin V2, with its continuous position bias added) and grid
// attention (MaxViT): every window of every head, as torchvision forms it.
TEST(Corpus, VisionWindowAttentionEqualsTorchvisions) {
  for (const char* file : {"swin_v2.pt", "swin_v2_trace.pt", "maxvit_trace.pt"}) expect_as_pytorch(file);
}

// Traced under no_grad by PyTorch 2.6, the Llama's SDPA call has all eight
// arguments (scale=None, enable_gqa=True): its recorder once took values of
// the interpreter's stack that were not its own.
TEST(Corpus, TracedGroupedQueryAttentionEqualsPyTorchs) { expect_as_pytorch("llama_trace.pt"); }

TEST(Corpus, LanguageModelAttentionEqualsPyTorchs) {
  for (const char* file : {"gpt2.pt", "gpt2_dynamic.pt2", "llama.pt", "llama_dynamic.pt2"}) expect_as_pytorch(file);
}

// Hugging Face's Llama 3 vector for every head size from 16: the base is
// found, and where the band is fixed by the values (or by Hugging Face's
// conventions), it is the one the vector was made with.
TEST(Corpus, Llama3FrequenciesFitAtEveryHeadSize) {
  for (const auto& c : expected()["llama3"]) {
    const std::int64_t d_head = c["d_head"];
    const double factor = c["factor"], original = c["original"];
    SCOPED_TRACE("d_head " + std::to_string(d_head) + " factor " + std::to_string(factor));
    const auto values = c["inv_freq"].get<std::vector<double>>();
    const RopeFit fit = fit_inv_freq(values);
    EXPECT_EQ(fit.base, 500000.0);
    EXPECT_EQ(fit.scaling, RopeScaling::kLlama3) << fit.description;
    EXPECT_EQ(fit.factor, factor);
    EXPECT_TRUE(fit.matches) << fit.description << " " << fit.max_relative_deviation;
    ASSERT_TRUE(fit.band_known) << fit.description;
    EXPECT_NEAR(fit.smooth_to, original, 1e-3) << fit.description;
    EXPECT_NEAR(fit.smooth_from, original / 4, 1e-3) << fit.description;
    // What --expect-rope-base checks: the right base passes, a wrong one fails.
    EXPECT_TRUE(fit_inv_freq(values, 500000.0).matches);
    EXPECT_FALSE(fit_inv_freq(values, 499000.0).matches);
  }
}

// With no pair inside the band, nothing fixes it: said, not made up.
TEST(Corpus, ABandNoPairLiesInIsNotClaimed) {
  // Kept below 1000, divided by 8 above 2000: the pairs of base 10000 and
  // head size 16 have wavelengths 6.3, 20, 63, 199, 628, 1987 (kept) and 6283, 19869.
  std::vector<double> values;
  for (int i = 0; i < 8; ++i) {
    const double f = std::pow(10000.0, -2.0 * i / 16);
    values.push_back(2 * M_PI / f > 3000 ? f / 8 : f);
  }
  const RopeFit fit = fit_inv_freq(values);
  EXPECT_EQ(fit.base, 10000.0);
  EXPECT_TRUE(fit.matches) << fit.description;
  EXPECT_FALSE(fit.band_known) << fit.description;
  EXPECT_NE(fit.description.find("too few inside the band"), std::string::npos) << fit.description;
}

// LeakSanitizer's notice that a thread was exiting while it looked for
// leaks (sanitizer builds only; a leak itself changes the exit code).
std::string without_sanitizer_notice(std::string err) {
  for (std::size_t at = err.find("=="); at != std::string::npos; at = err.find("==", at)) {
    const std::size_t end = err.find('\n', at);
    const std::string line = err.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.find("was not suspended. False leaks are possible.") != std::string::npos &&
        (at == 0 || err[at - 1] == '\n')) {
      err.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    } else {
      at += 2;
    }
  }
  return err;
}

// The token files of the wrong-input cases.
struct WrongInputs {
  test::TempDir dir;
  WrongInputs() {
    std::ofstream(dir / "short.txt") << "3\n";
    std::ofstream long_file(dir / "long.txt");
    for (int i = 0; i < 1100; ++i) long_file << (i % 7) << ' ';
    std::ofstream(dir / "oov.txt") << "3 1 4 99999\n";
    std::ofstream(dir / "ids.txt") << "3 1 4 1 5 9 2 6\n";
  }
};

// Each token model with the layout it reads, given ids in the other layout,
// too few tokens, too many, and an id past its vocabulary: exit 0 or 3,
// one line, never an internal error. Run in this process (the command line
// as main runs it), so that 56 cases do not pay LibTorch's start-up each.
void expect_users_errors(const std::vector<std::pair<std::string, std::string>>& models) {
  WrongInputs files;
  for (const auto& [model, layout] : models) {
    const std::string wrong = layout == "seq-first" ? "batch-first" : "seq-first";
    for (const auto& [input, order] : std::vector<std::pair<std::string, std::string>>{
             {"ids.txt", wrong}, {"short.txt", layout}, {"long.txt", layout}, {"oov.txt", layout}}) {
      SCOPED_TRACE(model + " " + input + " " + order);
      const auto r = test::run_in_process({"attention", model, "--input", input, "--layout", order, "--format",
                                           "none", "--data", "none", "-o", "out"}, files.dir.path());
      EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.exit_code << " " << r.err;
      EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
      if (r.exit_code != 0) {
        const std::string err = without_sanitizer_notice(r.err);
        EXPECT_EQ(err.find('\n'), err.size() - 1) << "one line: " << r.err;
      }
      const bool program = model.substr(model.size() - 4) == ".pt2";
      // An id past the vocabulary is named with the table's size.
      if (input == "oov.txt") {
        EXPECT_EQ(r.exit_code, 3);
        const bool named = r.err.find("99999 is outside") != std::string::npos;
        const bool shape = program && r.err.find("as torch.export recorded it") != std::string::npos;
        EXPECT_TRUE(named || shape) << r.err;
      }
      // A program refuses what it was not exported for, naming its shape.
      if (program && input != "oov.txt") {
        EXPECT_EQ(r.exit_code, 3) << r.err;
        EXPECT_NE(r.err.find("as torch.export recorded it"), std::string::npos) << r.err;
      }
    }
  }
}

const std::string kData = PEVIS_TEST_DATA;

// Every way a token input can be wrong for a model fixture ends in exit 0
// (the model computes something with it) or 3, never "internal error";
// where pevis can know better than the model, exit 3 with the reason: token
// models scripted by PyTorch 1.13 ...
TEST(Corpus, WrongTokenInputsOfPyTorch113ScriptsAreTheUsersErrors) {
  expect_users_errors({{kData + "/word_lm.pt", "seq-first"}, {kData + "/attn_transformer.pt", "seq-first"},
                       {kData + "/attn_encoder_batch_first.pt", "batch-first"}});
}

// ... and by PyTorch 2.6 ...
TEST(Corpus, WrongTokenInputsOfPyTorch26ScriptsAreTheUsersErrors) {
  expect_users_errors({{kData + "/torch2/v26_word_lm.pt", "seq-first"},
                       {kData + "/torch2/v26_sdpa_gqa.pt", "batch-first"},
                       {kData + "/torch2/v26_encoder_post.pt", "batch-first"}});
}

TEST(Corpus, WrongTokenInputsOfLanguageModelScriptsAreTheUsersErrors) {
  expect_users_errors({{kDir + "gpt2.pt", "batch-first"}, {kDir + "llama.pt", "batch-first"},
                       {kDir + "llama_trace.pt", "batch-first"}});
}

// ... and torch.export programs.
TEST(Corpus, WrongTokenInputsOfProgramsAreTheUsersErrors) {
  expect_users_errors({{kData + "/torch2/pt2_word_lm.pt2", "seq-first"},
                       {kData + "/torch2/pt2_encoder.pt2", "batch-first"},
                       {kData + "/torch2/pt2_encoder_dynamic.pt2", "batch-first"},
                       {kData + "/torch2/pt2_sdpa_causal.pt2", "batch-first"}});
}

TEST(Corpus, WrongTokenInputsOfLanguageModelProgramsAreTheUsersErrors) {
  expect_users_errors({{kDir + "gpt2_dynamic.pt2", "batch-first"}, {kDir + "llama_dynamic.pt2", "batch-first"}});
}

// What the messages say: a program's range, the other layout, the id and
// its table, the module that failed, a position table's size (in this
// process too; the binary's exit codes are cli_test's).
TEST(Corpus, WrongTokenInputsAreNamedWithWhatWouldFit) {
  WrongInputs files;
  const auto& dir = files.dir;
  const std::string& data = kData;
  // The dynamic program's range, said before anything runs.
  auto r = test::run_in_process({"attention", kDir + "llama_dynamic.pt2", "--input", "short.txt", "--layout",
                                    "batch-first", "-o", "out"}, dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("[1, s0] with s0 from 2 to 1024"), std::string::npos) << r.err;
  r = test::run_in_process({"attention", kDir + "llama_dynamic.pt2", "--input", "long.txt", "--layout",
                               "batch-first", "-o", "out"}, dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("size 1100 of dimension 1 is outside s0's range"), std::string::npos) << r.err;
  // The other layout, said where it would fit.
  r = test::run_in_process({"attention", kDir + "llama_dynamic.pt2", "--input", "ids.txt", "-o", "out"}, dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("--layout batch-first"), std::string::npos) << r.err;
  // A script: the id, the table and its size; past a position table, its size.
  r = test::run_in_process({"attention", kDir + "gpt2.pt", "--input", "oov.txt", "-o", "out"}, dir.path());
  EXPECT_NE(r.err.find("token id 99999 is outside the vocabulary of wte (50 rows: ids 0 to 49)"), std::string::npos)
      << r.err;
  // Where: the module whose code failed, from the interpreter's traceback.
  EXPECT_NE(r.err.find("the forward of module 'wte' failed"), std::string::npos) << r.err;
  r = test::run_in_process({"attention", data + "/word_lm.pt", "--input", "long.txt", "-o", "out"}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;  // 1,100 tokens fit its pe of 5000
  r = test::run_in_process({"summary", kDir + "llama.pt", "--input", "oov.txt", "--layout", "batch-first"}, dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("the forward of module 'embed_tokens' failed on this input: token id 99999"), std::string::npos)
      << r.err;
  r = test::run_in_process({"attention", kDir + "gpt2.pt", "--input", "long.txt", "--layout", "batch-first", "-o",
                               "out"}, dir.path());
  EXPECT_NE(r.err.find("the input has 1100 tokens, but wpe holds 32 positions"), std::string::npos) << r.err;
}

// Parameters and buffers as PyTorch counts them in each saved module.
TEST(Corpus, SummaryTotalsArePyTorchs) {
  std::size_t checked = 0;
  for (const auto& [file, e] : expected()["models"].items()) {
    if (!e.contains("parameters")) continue;
    SCOPED_TRACE(file);
    const Summary s = summarize(load_model(kDir + file), nullptr);
    EXPECT_EQ(s.totals.params, e["parameters"].get<std::int64_t>());
    EXPECT_EQ(s.totals.buffers, e["buffers"].get<std::int64_t>());
    ++checked;
  }
  EXPECT_GE(checked, 12u);
}

// A GPT-2 whose lm_head is tied to wte, with bool causal-mask buffers: as
// PyTorch counts it, from the state_dict, the script and the program.
TEST(Corpus, TiedWeightsCountOnceAndMasksAreNoParameters) {
  const auto& want = expected()["gpt2_state"];
  for (const char* file : {"gpt2_state.pt", "gpt2.pt", "gpt2_dynamic.pt2"}) {
    SCOPED_TRACE(file);
    const Summary s = summarize(load_model(kDir + file), nullptr);
    EXPECT_EQ(s.totals.params, want["parameters"].get<std::int64_t>());
    EXPECT_EQ(s.totals.buffers, want["buffers"].get<std::int64_t>());
    if (std::string(file) == "gpt2_state.pt") {
      ASSERT_EQ(s.shared.size(), 1u);
      EXPECT_EQ(s.shared[0].first, "lm_head.weight");
      EXPECT_EQ(s.shared[0].second, "wte.weight");
    }
  }
  // BERT's int64 position_ids are a buffer, not parameters.
  const Summary bert = summarize(load_model(kDir + "bert_state.pt"), nullptr);
  for (const auto& b : bert.buffers) EXPECT_EQ(b.name, "embeddings.position_ids");
  EXPECT_EQ(bert.totals.buffers, 64);
}

// Learned absolute tables by their role, under any name; a convolution is
// said to be one.
TEST(Corpus, LearnedPositionTablesAreFoundByRole) {
  const auto family_of = [](const std::string& file) {
    std::map<std::string, PositionalCandidate> found;
    for (const auto& c : find_positional_tensors(load_model(kDir + file))) found[c.name] = c;
    return found;
  };
  for (const char* file : {"gpt2.pt", "gpt2_state.pt", "gpt2_dynamic.pt2"}) {
    SCOPED_TRACE(file);
    const auto found = family_of(file);
    ASSERT_EQ(found.size(), 1u);
    ASSERT_TRUE(found.count("wpe.weight"));
    EXPECT_EQ(found.at("wpe.weight").family, PositionalFamily::kTable);
    EXPECT_NE(found.at("wpe.weight").note.find("learned"), std::string::npos);
    // The table as PyTorch holds it.
    const at::Tensor table = positional_table(load_model(kDir + file), "wpe.weight");
    EXPECT_LT((table - test::nested_to_tensor(expected()["tables"]["gpt2"]["wpe"])).abs().max().item<double>(), 1e-7);
  }
  auto found = family_of("bert_state.pt");
  ASSERT_EQ(found.size(), 1u);  // not word_embeddings, not token_type_embeddings
  EXPECT_TRUE(found.count("embeddings.position_embeddings.weight"));
  found = family_of("opt_checkpoint.pt");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.at("model.decoder.embed_positions.weight").offset, 2);
  for (const char* file : {"wav2vec2.pt", "hubert_trace.pt"}) {
    found = family_of(file);
    ASSERT_EQ(found.size(), 1u) << file;
    EXPECT_EQ(found.begin()->second.family, PositionalFamily::kConv);
    EXPECT_EQ(found.begin()->first, "model.encoder.transformer.pos_conv_embed.conv.weight");
  }
  EXPECT_TRUE(family_of("llama.pt").count("layers.0.self_attn.inv_freq"));

  // On the command line: drawn with the similarity figure and compared with
  // a sinusoid; OPT's table from row 2; the convolution refused with why.
  test::TempDir dir;
  auto r = test::run(PEVIS_BINARY, {"encoding", kDir + "gpt2_dynamic.pt2", "--script", "-o", "g"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wpe.weight: largest deviation from the sinusoid"), std::string::npos) << r.out;
  EXPECT_TRUE(test::looks_like(dir / "g/encoding-similarity.png", "png"));
  // A long path in a title gives way to its file name; the numbers stay.
  EXPECT_NE(test::read_file(dir / "g/encoding-similarity.gp").find("wpe.weight of gpt2_dynamic.pt2 (32 positions x 32 dims)"),
            std::string::npos);
  r = test::run(PEVIS_BINARY, {"encoding", kDir + "opt_checkpoint.pt", "--data", "csv", "-o", "o"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("drawn from row 2 as position 0"), std::string::npos) << r.out;
  const std::string csv = test::read_file(dir / "o/encoding.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 49);  // a header and positions 0 to 47
  EXPECT_NE(csv.find("\n47,"), std::string::npos);
  r = test::run(PEVIS_BINARY, {"encoding", kDir + "wav2vec2.pt", "-o", "w"}, dir.path());
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("a convolutional positional embedding"), std::string::npos) << r.err;
}

// MaxViT's window attention takes blocks of neighbouring patches; its grid
// attention gathers strided ones: pevis claims a grid only for the first.
TEST(Corpus, GridAttentionClaimsNoArrangement) {
  const Model model = load_model(kDir + "maxvit_trace.pt");
  auto sites = capture_attention(model, {at::randn({1, 3, 32, 32})});
  split_batches(sites, model, /*input_batch=*/1, /*image_input=*/true);
  ASSERT_EQ(sites.size(), 2u);
  for (const auto& site : sites) {
    SCOPED_TRACE(site.name);
    EXPECT_EQ(site.windows, 4);
    const bool grid = site.path.find("grid_attention") != std::string::npos;
    EXPECT_EQ(site.neighbours, !grid);
    EXPECT_EQ(site.grid_rows, grid ? 0 : 2);
    const std::string text = element_text(site, 0);
    if (grid) {
      EXPECT_EQ(text.find("grid"), std::string::npos) << text;
      EXPECT_NE(text.find("is not known"), std::string::npos) << text;
    } else {
      EXPECT_NE(text.find("4 windows of 16 tokens on their 2x2 grid"), std::string::npos) << text;
    }
  }
}

// Near-uniform weights (MaxViT's grid attention, all near 1/16) are drawn
// over their range, a few large ones over a robust range, and --scale
// chooses; the colour bar keeps true weights and the figure says which.
TEST(Corpus, NearUniformAttentionIsDrawnOverItsRange) {
  const Model model = load_model(kDir + "maxvit_trace.pt");
  auto sites = capture_attention(model, {at::randn({1, 3, 32, 32})});
  split_batches(sites, model, 1, true);
  const AttentionSite* grid = nullptr;
  for (const auto& s : sites) grid = s.path.find("grid_attention") != std::string::npos ? &s : grid;
  ASSERT_TRUE(grid);
  const double lo = grid->weights.min().item<double>(), hi = grid->weights.max().item<double>();
  ASSERT_GT(lo, 0.5 * hi);  // near-uniform: the case
  const auto figure_of = [&](ColourScale scale) {
    std::vector<AttentionSite> one = {*grid};
    AttentionViewOptions options;
    options.data = false;
    options.scale = scale;
    for (auto& p : attention_views(one, options)) {
      if (p.figure.name == "attention/" + site_file_name(grid->name)) return p.figure;
    }
    ADD_FAILURE() << "no figure";
    return plot::Figure{};
  };
  plot::Figure figure = figure_of(ColourScale::kAuto);
  auto heat = std::get<plot::Heatmap>(figure.panels[0].content);
  EXPECT_NEAR(*heat.z_min, lo, 1e-6);
  EXPECT_NEAR(*heat.z_max, hi, 1e-6);
  EXPECT_NE(figure.notes.back().find("colours span the weights' range"), std::string::npos) << figure.notes.back();
  figure = figure_of(ColourScale::kMax);
  heat = std::get<plot::Heatmap>(figure.panels[0].content);
  EXPECT_EQ(*heat.z_min, 0.0);
  EXPECT_NEAR(*heat.z_max, hi, 1e-6);
  figure = figure_of(ColourScale::kLog);
  heat = std::get<plot::Heatmap>(figure.panels[0].content);
  EXPECT_TRUE(heat.log_z);
  EXPECT_NEAR(*heat.z_min, hi / 1e4, 1e-9);

  // A few large weights among many small: 0 to the 99th percentile.
  AttentionSite peaked;
  peaked.name = "peaked";
  peaked.heads = 1;
  peaked.weights = at::full({1, 1, 64, 64}, 0.01f);
  peaked.weights[0][0][0][0] = 0.9f;
  std::vector<AttentionSite> one = {peaked};
  AttentionViewOptions options;
  options.data = false;
  const auto products = attention_views(one, options);
  heat = std::get<plot::Heatmap>(products[0].figure.panels[0].content);
  EXPECT_NEAR(*heat.z_max, 0.01, 1e-6);
  EXPECT_NE(products[0].figure.notes.back().find("99th percentile"), std::string::npos);

  // Sharp heads (each query one key at 0.9, the rest near 0.002): most weights
  // far below the largest, on a log scale.
  AttentionSite sharp;
  sharp.name = "sharp";
  sharp.heads = 1;
  sharp.weights = at::full({1, 1, 64, 64}, 0.1f / 63);
  for (int q = 0; q < 64; ++q) sharp.weights[0][0][q][q] = 0.9f;
  one = {sharp};
  heat = std::get<plot::Heatmap>(attention_views(one, options)[0].figure.panels[0].content);
  EXPECT_TRUE(heat.log_z);
  // A causal mask's zeros do not count as small weights: linear, 0 to the largest.
  AttentionSite causal;
  causal.name = "causal";
  causal.heads = 1;
  causal.weights = at::zeros({1, 1, 8, 8});
  for (int q = 0; q < 8; ++q) {
    for (int k = 0; k <= q; ++k) causal.weights[0][0][q][k] = 1.0f / static_cast<float>(q + 1);
  }
  one = {causal};
  const auto causal_figure = attention_views(one, options)[0].figure;
  heat = std::get<plot::Heatmap>(causal_figure.panels[0].content);
  EXPECT_FALSE(heat.log_z);
  EXPECT_EQ(*heat.z_min, 0.0);
  EXPECT_EQ(*heat.z_max, 1.0);
  EXPECT_TRUE(causal_figure.notes.empty());

  // On the command line, in the script gnuplot runs.
  test::TempDir dir;
  const auto r = test::run(PEVIS_BINARY, {"attention", kDir + "maxvit_trace.pt", "--input-shape", "1,3,32,32", "--scale",
                                          "log", "--script", "--data", "none", "-o", "m"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_file(dir / "m/attention/blocks.0.layers.0.layers.grid_attention.attn_layer.1.gp").find("set logscale cb"),
            std::string::npos);
}

// Swin V2's bias comes from a network: computed from the file's weights
// (scripted or traced), equal to torchvision's get_relative_position_bias.
TEST(Corpus, SwinV2ContinuousPositionBiasIsComputed) {
  for (const char* file : {"swin_v2.pt", "swin_v2_trace.pt"}) {
    SCOPED_TRACE(file);
    const Model model = load_model(kDir + file);
    std::size_t found = 0;
    for (const auto& c : find_positional_tensors(model)) {
      if (c.family != PositionalFamily::kSwinBias) continue;
      ++found;
      const std::string owner = c.name.substr(0, c.name.size() - std::string(".cpb_mlp").size());
      const auto& want = expected()["swin_v2_bias"][owner];
      ASSERT_FALSE(want.is_null()) << owner;
      bool index = false;
      const at::Tensor maps = swin_maps_of(model, c.name, &index);
      EXPECT_TRUE(index);
      const at::Tensor reference = test::nested_to_tensor(want);
      ASSERT_EQ(maps.sizes(), reference.sizes());
      EXPECT_LT((maps - reference).abs().max().item<double>(), 1e-6) << c.name;
    }
    EXPECT_EQ(found, 4u);
  }
  test::TempDir dir;
  const auto r = test::run(PEVIS_BINARY, {"encoding", kDir + "swin_v2_trace.pt", "--tensor", "features.3.0.attn.cpb_mlp",
                                          "-o", "s"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Swin V2 continuous position bias"), std::string::npos) << r.out;
  EXPECT_TRUE(test::looks_like(dir / "s/swin-bias.png", "png"));
}

}  // namespace
}  // namespace pevis
