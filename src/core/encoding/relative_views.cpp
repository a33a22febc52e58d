#include "pevis/encoding/relative_views.h"

#include <ATen/ops/arange.h>

#include <algorithm>
#include <cmath>

#include "pevis/io/model.h"
#include "pevis/encoding/position_views.h"
#include "pevis/encoding/relative_bias.h"

namespace pevis {

std::vector<Product> t5_products(const at::Tensor& table, bool bidirectional, std::int64_t num_buckets,
                                 std::int64_t max_distance, std::int64_t positions, const std::string& name,
                                 bool figures) {
  const std::int64_t heads = table.size(1);
  const at::Tensor values = table.to(at::kFloat).contiguous();
  const float* v = values.data_ptr<float>();
  const std::string mode = bidirectional ? "bidirectional" : "causal";
  std::vector<Product> products;
  {
    // Relative distance key - query over the range a query of `positions` sees.
    const std::int64_t low = -(positions - 1), high = bidirectional ? positions - 1 : 0;
    const at::Tensor relative = at::arange(low, high + 1, at::kLong);
    const at::Tensor bucket = t5_bucket(relative, bidirectional, num_buckets, max_distance).contiguous();
    const std::int64_t* b = bucket.data_ptr<std::int64_t>();
    Table data;
    data.name = "t5-bias";
    data.columns = {"relative", "bucket"};
    for (std::int64_t h = 0; h < heads; ++h) data.columns.push_back("head" + std::to_string(h));
    std::vector<plot::Series> series;
    const auto drawn = heads_to_draw(heads, 12);
    for (std::int64_t h : drawn) {
      series.emplace_back();
      series.back().title = "head " + std::to_string(h);
    }
    for (std::int64_t k = 0; k < relative.size(0); ++k) {
      std::vector<Cell> row = {low + k, b[k]};
      for (std::int64_t h = 0; h < heads; ++h) row.push_back(v[b[k] * heads + h]);
      data.rows.push_back(std::move(row));
      for (std::size_t s = 0; s < drawn.size(); ++s) {
        series[s].x.push_back(static_cast<double>(low + k));
        series[s].y.push_back(v[b[k] * heads + drawn[s]]);
      }
    }
    Product product;
    if (figures) {
      plot::XYPlot xy;
      xy.series = std::move(series);
      product.figure.name = "t5-bias";
      product.figure.title = "T5 relative position bias: " + name;
      product.figure.panels.push_back({mode + ", " + std::to_string(num_buckets) + " buckets, max_distance " +
                                           std::to_string(max_distance) +
                                           (heads > static_cast<std::int64_t>(drawn.size())
                                                ? ", " + std::to_string(drawn.size()) + " of " + std::to_string(heads) + " heads"
                                                : ""),
                                       "relative position (key - query)", "bias", std::move(xy)});
    }
    product.tables.push_back(std::move(data));
    products.push_back(std::move(product));
  }
  {
    const at::Tensor matrix = t5_bias_matrix(table, {bidirectional, num_buckets, max_distance}, positions);
    Product product;
    product.figure.name = "t5-matrix";
    product.figure.title =
        "T5 bias, query x key (" + mode + ", " + std::to_string(positions) + " positions): " + name;
    const auto drawn = heads_to_draw(heads, 4);
    product.figure.columns = plot::square_grid_columns(drawn.size());
    product.figure.palette = plot::Palette::kDiverging;
    const auto labels = index_labels(static_cast<std::size_t>(positions));
    for (std::int64_t h : drawn) {
      LabeledMatrix m = to_matrix(matrix[h], "t5-matrix-head" + std::to_string(h), "query", labels, labels);
      if (figures) {
        product.figure.panels.push_back(map_panel(m, "head " + std::to_string(h), "key position", "query position", "bias"));
      }
      product.data.push_back(std::move(m));
    }
    if (!figures) product.figure = {};
    products.push_back(std::move(product));
  }
  return products;
}

std::vector<Product> swin_products(const at::Tensor& maps, const std::string& name, bool figures, bool continuous) {
  const std::int64_t heads = maps.size(0), n = maps.size(1);
  Product product;
  std::vector<std::string> rows;
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t q = 0; q < n; ++q) rows.push_back(std::to_string(h) + ":" + std::to_string(q));
  }
  const auto window = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  if (figures) {
    product.figure.name = "swin-bias";
    product.figure.title = std::string(continuous ? "Swin V2 continuous position bias, " : "Swin relative position bias, ") +
                           std::to_string(window) + "x" + std::to_string(window) + " window (" + std::to_string(n) +
                           " tokens), per head: " + name;
    product.figure.columns = plot::square_grid_columns(static_cast<std::size_t>(heads));
    // 16 sigmoid(...) is positive: a sequential scale over its range shows it;
    // a learned table's signed bias keeps the diverging one.
    product.figure.palette = continuous ? plot::Palette::kViridis : plot::Palette::kDiverging;
    if (continuous) product.figure.notes.push_back("16 sigmoid of the network's output, from 0 to 16: each head's colours span its own range");
    const int side = product.figure.columns;
    const int rows_of_panels = static_cast<int>((heads + side - 1) / side);
    // Square plot areas: a panel's plot is its cell less 235 pixels of margins
    // and colour bar across and 94 down; wide enough for the whole title.
    product.figure.size = {std::max({900, 440 * side, static_cast<int>(plot::display_width(product.figure.title)) * 12 + 40}),
                           std::max(400, 70 + (continuous ? 330 : 300) * rows_of_panels)};
    const auto labels = index_labels(static_cast<std::size_t>(n));
    for (std::int64_t h = 0; h < heads; ++h) {
      product.figure.panels.push_back(map_panel(to_matrix(maps[h], "swin-bias", "query", labels, labels),
                                                 "head " + std::to_string(h), "key token", "query token", "bias"));
    }
  }
  product.data.push_back(
      to_matrix(maps.reshape({heads * n, n}), "swin-bias", "head:query", rows, index_labels(static_cast<std::size_t>(n))));
  return {std::move(product)};
}

}  // namespace pevis
