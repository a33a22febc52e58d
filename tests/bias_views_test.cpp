// The bias views: pages, panel titles and the tables behind them.
#include "pevis/bias/bias_views.h"

#include <gtest/gtest.h>

namespace pevis {
namespace {

BiasVector vector(std::string name, std::vector<float> values) { return {std::move(name), std::move(values)}; }

TEST(BiasViews, OneFilePagesScatterAndDistributionsWithDistinctTitles) {
  std::vector<BiasVector> biases;
  for (int i = 0; i < 14; ++i) {
    biases.push_back(vector("model.layers." + std::to_string(i) + ".self_attn.q_proj.bias", {0.1f * i, -0.2f, 0.3f}));
  }
  const BiasViews views = bias_views({"a.pt"}, {biases}, /*per_page=*/12);
  ASSERT_EQ(views.products.size(), 4u);  // bias, bias-2, bias-hist, the data
  const plot::Figure& first = views.products[0].figure;
  EXPECT_EQ(first.name, "bias");
  EXPECT_EQ(first.title, "Bias vectors of a.pt: model.layers.*.self_attn.q_proj.bias (page 1 of 2)");
  ASSERT_EQ(first.panels.size(), 12u);
  EXPECT_EQ(first.panels[11].title, "11 (3)");
  EXPECT_EQ(views.products[1].figure.name, "bias-2");
  EXPECT_EQ(views.products[1].figure.panels.size(), 2u);
  EXPECT_EQ(views.products[2].figure.name, "bias-hist");
  const auto& data = views.products[3].tables;
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].rows.size(), 14u * 3);
  EXPECT_EQ(data[1].name, "bias-stats");
  EXPECT_EQ(views.shown.name, "bias-stats");
  EXPECT_EQ(views.nonfinite, 0u);
  EXPECT_NE(table_text(views.shown).find("model.layers.13.self_attn.q_proj.bias"), std::string::npos);
}

TEST(BiasViews, CheckpointsAreComparedAndFollowed) {
  const std::vector<BiasVector> a = {vector("fc1.bias", {0, 0}), vector("fc2.bias", {1, 1})};
  const std::vector<BiasVector> b = {vector("fc1.bias", {0.5f, 0}), vector("fc2.bias", {1, NAN})};
  const std::vector<BiasVector> c = {vector("module.fc1.bias", {1, 0}), vector("fc2.bias", {1, 2})};
  const BiasViews views = bias_views({"a", "b", "c"}, {a, b, c}, 12);
  ASSERT_GE(views.products.size(), 3u);
  EXPECT_EQ(views.products[0].figure.name, "bias-drift");
  ASSERT_EQ(views.products[0].tables.size(), 1u);
  EXPECT_EQ(views.products[0].tables[0].name, "bias-drift");
  EXPECT_EQ(views.products[0].tables[0].rows.size(), 6u);  // 2 vectors x 3 files: module.fc1 is fc1
  EXPECT_EQ(views.products[1].figure.name, "bias-compare");
  EXPECT_EQ(views.shown.name, "bias-changes");
  EXPECT_EQ(views.nonfinite, 1u);
  EXPECT_EQ(views.nonfinite_layers, (std::vector<std::string>{"b:fc2.bias"}));
  const auto tracks = track_biases({a, b, c});
  ASSERT_EQ(tracks.size(), 2u);
  EXPECT_EQ(tracks[0].stats[2].max, 1.0);
}

TEST(BiasViews, NoFigureIsMadeWhenNoneIsDrawnAndTheDataStaysTheSame) {
  const std::vector<BiasVector> a = {vector("fc1.bias", {0, 0}), vector("fc2.bias", {1, 1})};
  const std::vector<BiasVector> b = {vector("fc1.bias", {0.5f, 0}), vector("fc2.bias", {1, NAN})};
  const std::vector<BiasVector> c = {vector("module.fc1.bias", {1, 0}), vector("fc2.bias", {1, 2})};
  for (const auto& sets : std::vector<std::vector<std::vector<BiasVector>>>{{a}, {a, b}, {a, b, c}}) {
    const std::vector<std::string> labels = {"a", "b", "c"};
    const std::vector<std::string> used(labels.begin(), labels.begin() + static_cast<long>(sets.size()));
    const BiasViews drawn = bias_views(used, sets, 12);
    const BiasViews bare = bias_views(used, sets, 12, /*figures=*/false);
    std::vector<std::string> drawn_tables, bare_tables;
    std::size_t drawn_panels = 0;
    for (const auto& p : drawn.products) {
      drawn_panels += p.figure.panels.size();
      for (const auto& t : p.tables) drawn_tables.push_back(t.name + ":" + std::to_string(t.rows.size()));
    }
    for (const auto& p : bare.products) {
      EXPECT_TRUE(p.figure.panels.empty());
      EXPECT_TRUE(p.figure.name.empty());
      for (const auto& t : p.tables) bare_tables.push_back(t.name + ":" + std::to_string(t.rows.size()));
    }
    EXPECT_GT(drawn_panels, 0u);
    EXPECT_EQ(bare_tables, drawn_tables);
    EXPECT_EQ(bare.shown.name, drawn.shown.name);
    EXPECT_EQ(bare.nonfinite, drawn.nonfinite);
  }
}

}  // namespace
}  // namespace pevis
