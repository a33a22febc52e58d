#include "pevis/plot/figure.h"

#include <gtest/gtest.h>

#include <numeric>

namespace pevis::plot {
namespace {

LabeledMatrix counting(std::size_t rows, std::size_t cols) {
  LabeledMatrix m;
  m.name = "m";
  m.rows = rows;
  m.cols = cols;
  m.row_labels = index_labels(rows);
  m.col_labels = index_labels(cols);
  m.values.resize(rows * cols);
  std::iota(m.values.begin(), m.values.end(), 0.0f);
  return m;
}

TEST(BoxAverage, LeavesAFittingMatrixAlone) {
  const LabeledMatrix m = counting(3, 4);
  const LabeledMatrix out = box_average(m, 3, 4);
  EXPECT_EQ(out.rows, 3u);
  EXPECT_EQ(out.cols, 4u);
  EXPECT_EQ(out.values, m.values);
}

TEST(BoxAverage, AveragesEvenBlocks) {
  // 4x6 counting matrix (value = 6r + c) into 2x3: each 2x2 block's mean.
  const LabeledMatrix out = box_average(counting(4, 6), 2, 3);
  ASSERT_EQ(out.rows, 2u);
  ASSERT_EQ(out.cols, 3u);
  const std::vector<float> expected = {3.5f, 5.5f, 7.5f, 15.5f, 17.5f, 19.5f};
  EXPECT_EQ(out.values, expected);
  EXPECT_EQ(out.row_labels, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(out.col_labels, (std::vector<std::string>{"0", "2", "4"}));
}

TEST(BoxAverage, UnevenBlocksDifferByOne) {
  // 5 rows into 2: blocks [0,2) and [2,5). One column: values 0..4.
  const LabeledMatrix out = box_average(counting(5, 1), 2, 1);
  ASSERT_EQ(out.rows, 2u);
  EXPECT_FLOAT_EQ(out.values[0], 0.5f);
  EXPECT_FLOAT_EQ(out.values[1], 3.0f);
}

TEST(BoxAverage, ReducesOnlyTheAxisThatIsTooLong) {
  const LabeledMatrix out = box_average(counting(1000, 3), 10, 100);
  EXPECT_EQ(out.rows, 10u);
  EXPECT_EQ(out.cols, 3u);
  // Row block 0 holds rows 0..99 of column 0: mean of 3r for r < 100.
  EXPECT_FLOAT_EQ(out.values[0], 3.0f * 49.5f);
}

TEST(BoxAverage, RemovesStripesThatWouldAlias) {
  // Alternating +1/-1 columns, far more than the pixels: the honest picture
  // is 0, where picking every k-th column would show a false stripe pattern.
  LabeledMatrix m = counting(2, 1000);
  for (std::size_t c = 0; c < 1000; ++c) m.values[c] = m.values[1000 + c] = (c % 2 ? -1.0f : 1.0f);
  const LabeledMatrix out = box_average(m, 2, 250);
  for (float v : out.values) EXPECT_FLOAT_EQ(v, 0.0f);
}

TEST(BoxAverage, WholeFactorCopiesAverageEqualBlocks) {
  EXPECT_EQ(whole_factor_side(1024, 460), 512u);  // factor 2
  EXPECT_EQ(whole_factor_side(2048, 460), 512u);  // factor 4
  EXPECT_EQ(whole_factor_side(2000, 460), 500u);  // factor 4, as 2000 / 4 keeps 500 >= 460
  EXPECT_EQ(whole_factor_side(1021, 300), 1021u);  // a prime: no factor
  EXPECT_EQ(whole_factor_side(300, 460), 300u);    // small enough already
  EXPECT_EQ(whole_factor_side(7, 0), 1u);
  // Reducing the copy further averages whole blocks: the same as reducing
  // the matrix with blocks on those boundaries.
  const LabeledMatrix m = counting(12, 12);
  const std::size_t side = whole_factor_side(12, 5);
  ASSERT_EQ(side, 6u);
  const LabeledMatrix twice = box_average(box_average(m, side, side), 3, 3);
  EXPECT_EQ(twice.values, box_average(m, 3, 3).values);
}

TEST(Figure, ParsesNames) {
  EXPECT_EQ(parse_palette("viridis"), Palette::kViridis);
  EXPECT_EQ(parse_palette("magma"), Palette::kMagma);
  EXPECT_EQ(parse_palette("gray"), Palette::kGray);
  EXPECT_EQ(parse_palette("diverging"), Palette::kDiverging);
  EXPECT_FALSE(parse_palette("jet"));
  EXPECT_EQ(parse_format("svg"), Format::kSvg);
  EXPECT_EQ(parse_format("txt"), Format::kText);
  EXPECT_FALSE(parse_format("gif"));
  EXPECT_EQ(extension(Format::kPdf), "pdf");
}

}  // namespace
TEST(DistinctParts, PanelTitlesKeepWhatTellsNamesApart) {
  auto d = distinct_parts({"model.layers.0.self_attn.q_proj.bias", "model.layers.12.self_attn.q_proj.bias"});
  EXPECT_EQ(d.names, (std::vector<std::string>{"0", "12"}));
  EXPECT_EQ(d.pattern, "model.layers.*.self_attn.q_proj.bias");
  d = distinct_parts({"bn1.bias", "layer1.0.bn1.bias", "fc.bias"});
  EXPECT_EQ(d.names, (std::vector<std::string>{"bn1", "layer1.0.bn1", "fc"}));
  EXPECT_EQ(d.pattern, "*.bias");
  d = distinct_parts({"a.x", "b.y"});  // nothing shared
  EXPECT_EQ(d.names, (std::vector<std::string>{"a.x", "b.y"}));
  EXPECT_TRUE(d.pattern.empty());
  d = distinct_parts({"only.one.bias"});
  EXPECT_EQ(d.names[0], "only.one.bias");
  EXPECT_TRUE(d.pattern.empty());
  d = distinct_parts({"enc.bias", "enc.bias"});  // alike names stay whole
  EXPECT_EQ(d.names[0], "enc.bias");
  d = distinct_parts({"layers.0.bias", "layers.0.norm.bias"});  // one part of each is always left
  EXPECT_EQ(d.names, (std::vector<std::string>{"bias", "norm.bias"}));
  EXPECT_EQ(d.pattern, "layers.0.*");
}

}  // namespace pevis::plot
