// The attention views: batches and windows, what the figures say and hold,
// against the weights PyTorch formed (tests/data/positions/make_positions.py).
#include "pevis/io/load.h"
#include "pevis/attention/attention_views.h"

#include <gtest/gtest.h>

#include <ATen/TensorOperators.h>
#include <ATen/ops/randn.h>
#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <filesystem>

#include "pevis/base/error.h"
#include "in_process.h"
#include "product_util.h"

namespace pevis {
namespace {

using test::figure_named;
using test::matrix_named;
using test::tensor_of;

const std::string kData = PEVIS_TEST_DATA;

struct Swin {
  Model model;
  Model expected;
  std::vector<AttentionSite> sites;
};

Swin swin(const std::string& file) {
  Swin s{load_model(kData + "/positions/" + file), load_model(kData + "/positions/swin_tiny.expected.pt"), {}};
  s.sites = capture_attention(s.model, {tensor_of(s.expected, "input")});
  split_batches(s.sites, s.model, /*input_batch=*/2, /*image_input=*/true);
  return s;
}

TEST(AttentionViews, SwinWindowsAreSplitFromTheBatch) {
  for (const char* file : {"swin_tiny.scripted.pt", "swin_tiny.traced.pt"}) {
    const Swin s = swin(file);
    ASSERT_EQ(s.sites.size(), 4u) << file;
    const bool scripted = std::string(file).find("scripted") != std::string::npos;
    for (const auto& site : s.sites) {
      // The capture holds what PyTorch formed, for both images and every window.
      const at::Tensor want = tensor_of(s.expected, site.path);
      ASSERT_EQ(site.weights.sizes(), want.sizes()) << file << " " << site.name;
      EXPECT_LT((site.weights - want).abs().max().item<double>(), 1e-6) << file << " " << site.name;
      EXPECT_EQ(site.batch, 2) << site.name;
      const bool first_stage = site.path.rfind("features.1.", 0) == 0;
      EXPECT_EQ(site.windows, first_stage ? 16 : 4) << site.name;
      EXPECT_EQ(site.grid_rows, first_stage ? 4 : 2) << site.name;
      EXPECT_EQ(site.grid_cols, site.grid_rows);
      // Odd blocks shift their windows by half a window; a trace forgets the attribute.
      const bool odd = site.path.find(".1.attn") != std::string::npos;
      EXPECT_EQ(site.shift, scripted ? (odd ? 1 : 0) : -1) << file << " " << site.name;
    }
  }
}

TEST(AttentionViews, TheMosaicPutsEachWindowInItsPlace) {
  const Swin s = swin("swin_tiny.scripted.pt");
  const AttentionSite& site = s.sites[0];  // 16 windows of 4 tokens on a 4x4 grid
  const at::Tensor want = tensor_of(s.expected, site.path);
  const at::Tensor mosaic = drawn_weights(site, /*batch_index=*/1);
  ASSERT_EQ(mosaic.sizes(), (std::vector<std::int64_t>{2, 16, 16}));
  for (std::int64_t w = 0; w < 16; ++w) {
    const std::int64_t r = w / 4, c = w % 4;
    const at::Tensor block = mosaic.slice(1, r * 4, r * 4 + 4).slice(2, c * 4, c * 4 + 4);
    // Input 1's windows follow input 0's. The drawing moves values, it
    // computes none: equal to the captured ones bit for bit (the capture
    // itself is checked against PyTorch's numbers above).
    EXPECT_TRUE(block.equal(site.weights[16 + w])) << "window " << w;
  }
  EXPECT_TRUE(drawn_weights(site, 0).slice(1, 0, 4).slice(2, 0, 4).equal(site.weights[0]));
  EXPECT_LT((site.weights - want).abs().max().item<double>(), 1e-6);
}

TEST(AttentionViews, FiguresSayWhichInputAndWindowsTheyShowAndDataHoldsEveryWindow) {
  Swin s = swin("swin_tiny.scripted.pt");
  const at::Tensor want = tensor_of(s.expected, "features.1.1.attn");
  AttentionViewOptions options;
  options.batch_index = 1;
  const auto products = attention_views(s.sites, options);
  const auto& figure = figure_named(products, "attention/features.1.1.attn");
  ASSERT_EQ(figure.notes.size(), 1u);
  EXPECT_EQ(figure.notes[0], "shown: input 1 of 2, 16 windows of 4 tokens on their 4x4 grid, shifted by 1");
  ASSERT_EQ(figure.panels.size(), 3u);  // two heads and their mean
  const auto& data = matrix_named(products, "attention/features.1.1.attn.head1");
  ASSERT_EQ(data.rows, 64u);  // 16 windows x 4 queries
  ASSERT_EQ(data.cols, 4u);
  EXPECT_EQ(data.row_title, "window:query");
  EXPECT_EQ(data.row_labels[13], "3:1");
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(data.at(13, k), want[16 + 3][1][1][k].item<float>());
  // The captured weights are released once drawn.
  for (const auto& site : s.sites) EXPECT_FALSE(site.weights.defined());

  // The overview: a row per site, labelled by what tells the sites apart
  // (the shared rest in the title), nothing where a site has fewer heads.
  const auto& overview = figure_named(products, "attention/overview");
  ASSERT_EQ(overview.columns, 4);
  ASSERT_EQ(overview.panels.size(), 16u);
  EXPECT_EQ(overview.title, "Attention overview of features.*.attn: sites by heads");
  EXPECT_EQ(overview.panels[0].title, "1.0");
  EXPECT_EQ(overview.panels[1].title, "H1");
  EXPECT_EQ(overview.panels[8].title, "3.0");
  for (std::size_t p : {2u, 3u, 6u, 7u}) {
    EXPECT_EQ(std::get<plot::Heatmap>(overview.panels[p].content).matrix.rows, 0u) << "panel " << p;
    EXPECT_TRUE(overview.panels[p].title.empty());
  }
  EXPECT_GT(std::get<plot::Heatmap>(overview.panels[11].content).matrix.rows, 0u);
}

TEST(AttentionViews, RolloutOverWindowsAndInputsOutsideTheBatchAreRefused) {
  const Swin s = swin("swin_tiny.scripted.pt");
  AttentionViewOptions options;
  options.rollout = true;
  try {
    check_attention_views(s.sites, options);
    ADD_FAILURE() << "rollout over windows accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kBadInput);
    EXPECT_NE(std::string(e.what()).find("16 windows"), std::string::npos) << e.what();
  }
  options = {};
  options.batch_index = 2;
  EXPECT_THROW(check_attention_views(s.sites, options), Error);
  options.batch_index = 0;
  options.head = 2;  // the first stage has two heads
  EXPECT_THROW(check_attention_views(s.sites, options), Error);
}

TEST(AttentionViews, ABatchOfTwoImagesWithoutWindows) {
  // ViT-B/16-shaped blocks traced by PyTorch 1.13 with grad at batch 2.
  const Model model = load_model(kData + "/torch2/v113_vit_trace_grad_b2.pt");
  auto sites = capture_attention(model, {at::randn({2, 3, 32, 32})});
  split_batches(sites, model, 2, true);
  ASSERT_FALSE(sites.empty());
  for (const auto& site : sites) {
    EXPECT_EQ(site.batch, 2) << site.name;
    EXPECT_EQ(site.windows, 1) << site.name;
    EXPECT_TRUE(drawn_weights(site, 1).equal(site.weights[1]));
    EXPECT_EQ(element_text(site, 1), "input 1 of 2");
  }
  // One sequence: nothing to say.
  AttentionSite one;
  one.weights = at::randn({1, 2, 3, 3});
  one.heads = 2;
  EXPECT_EQ(element_text(one, 0), "");
}

TEST(AttentionViews, WindowsThatAreNotASquareAreDrawnInOrder) {
  AttentionSite site;
  site.name = "w";
  site.heads = 1;
  site.batch = 1;
  site.windows = 3;
  site.neighbours = true;
  site.weights = at::randn({3, 1, 2, 2});
  const at::Tensor mosaic = drawn_weights(site, 0);  // two to a row: [w0 w1; w2 nan]
  ASSERT_EQ(mosaic.sizes(), (std::vector<std::int64_t>{1, 4, 4}));
  EXPECT_TRUE(mosaic[0].slice(0, 2, 4).slice(1, 0, 2).equal(site.weights[2][0]));
  EXPECT_TRUE(mosaic[0].slice(0, 2, 4).slice(1, 2, 4).isnan().all().item<bool>());
  EXPECT_NE(element_text(site, 0).find("in order, 2 to a row (not a square grid)"), std::string::npos);
  // Groups whose place in the input is not known are not called windows.
  site.neighbours = false;
  EXPECT_EQ(element_text(site, 0),
            "3 groups of 2 tokens attended apart, drawn in their order, 2 to a row (where their tokens lie in the input "
            "is not known)");
}

TEST(AttentionViews, NothingAskedForIsNotPrepared) {
  const Model model = load_model(kData + "/torch2/v113_vit_trace_grad_b2.pt");
  auto sites = capture_attention(model, {at::randn({2, 3, 32, 32})});
  split_batches(sites, model, 2, true);
  ASSERT_FALSE(sites.empty());
  AttentionViewOptions options;
  options.figures = false;
  options.data = false;
  const auto products = attention_views(sites, options);
  ASSERT_FALSE(products.empty());
  for (const auto& p : products) {
    EXPECT_TRUE(p.figure.panels.empty());
    EXPECT_TRUE(p.figure.name.empty());
    EXPECT_TRUE(p.data.empty());
    EXPECT_TRUE(p.tables.empty());
  }
  // Data alone: every head's matrix and the mean, and still no figure.
  auto again = capture_attention(model, {at::randn({2, 3, 32, 32})});
  split_batches(again, model, 2, true);
  options.data = true;
  const auto data_only = attention_views(again, options);
  std::size_t matrices = 0;
  for (const auto& p : data_only) {
    EXPECT_TRUE(p.figure.panels.empty());
    matrices += p.data.size();
  }
  std::size_t expected = 0;
  for (const auto& s : again) expected += static_cast<std::size_t>(s.heads) + 1;
  EXPECT_EQ(matrices, expected);
}

}  // namespace
}  // namespace pevis

namespace pevis {
namespace {

namespace fs = std::filesystem;

// A 400-character module name (a valid identifier) gives file names of at
// most 255 bytes, apart for two names that differ only in the middle; the
// run's description says which files a site's are.
TEST(AttentionViews, LongSiteNamesGiveShortUniqueFileNames) {
  const std::string a = std::string(150, 'a') + "x" + std::string(249, 'a');
  const std::string b = std::string(150, 'a') + "y" + std::string(249, 'a');
  EXPECT_LE(site_file_name(a).size(), 200u);
  EXPECT_NE(site_file_name(a), site_file_name(b));
  EXPECT_EQ(site_file_name(a), site_file_name(a));
  EXPECT_EQ(site_file_name("layers.0.self_attn"), "layers.0.self_attn");

  test::TempDir dir;
  torch::jit::Module inner("Inner");
  inner.define("def forward(self, x):\n    return torch.softmax(x, -1)\n");
  torch::jit::Module outer("Outer");
  outer.register_module(a, inner);
  outer.define("def forward(self, x):\n    return self." + a + ".forward(x)\n");
  const auto file = dir / "long.pt";
  outer.save(file.string());
  const auto run = test::run_in_process(
      {"attention", file.string(), "--input-shape", "1,1,4,4", "--format", "png", "--json", "-o", "out"}, dir.path());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto described = nlohmann::json::parse(run.out);
  ASSERT_EQ(described["sites"].size(), 1u);
  EXPECT_EQ(described["sites"][0]["name"], a);
  const std::string files = described["sites"][0]["files"];
  EXPECT_TRUE(test::looks_like(dir / "out" / (files + ".png"), "png"));
  EXPECT_TRUE(fs::exists(dir / "out" / (files + ".head0.csv")));
  for (const auto& entry : fs::directory_iterator(dir / "out" / "attention")) {
    EXPECT_LE(entry.path().filename().string().size(), 255u);
  }
}

}  // namespace
}  // namespace pevis
